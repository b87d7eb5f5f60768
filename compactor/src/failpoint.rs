//! Failpoints at the steps a crash must be survivable: with the `failpoints`
//! feature, `fail::cfg(name, "return")` makes the step return
//! [`CompactError::Failpoint`](crate::CompactError::Failpoint) as if the
//! process died there (nothing after it runs); without it they compile to
//! nothing.

/// Names of every failpoint, for tests that visit them all.
pub const ALL: &[&str] = &[
    AFTER_SEGMENT_PUT,
    AFTER_INDEX_SWAP,
    BEFORE_OBJECT_DELETE,
    AFTER_OBJECT_DELETE,
];

pub const AFTER_SEGMENT_PUT: &str = "compactor::after_segment_put";
pub const AFTER_INDEX_SWAP: &str = "compactor::after_index_swap";
pub const BEFORE_OBJECT_DELETE: &str = "compactor::before_object_delete";
pub const AFTER_OBJECT_DELETE: &str = "compactor::after_object_delete";

/// Returns `Err(CompactError::Failpoint(name))` from the enclosing function
/// when the failpoint `name` is configured to `return`.
macro_rules! failpoint {
    ($name:expr) => {
        #[cfg(feature = "failpoints")]
        {
            fail::fail_point!($name, |_| Err($crate::CompactError::Failpoint($name)));
        }
        #[cfg(not(feature = "failpoints"))]
        {
            let _: &str = $name;
        }
    };
}

pub(crate) use failpoint;
