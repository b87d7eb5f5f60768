//! The kinds of object-store request the tier wrappers count and fault.
//!
//! One enum shared by [`super::counting`] and [`super::faults`], so a fault
//! spec and a request report name operations the same way.

use std::fmt;
use std::str::FromStr;

/// One kind of object-store request.
///
/// `Head` is a [`object_store::GetOptions`] with `head: true` (that is how
/// `ObjectStoreExt::head` reaches a store in object_store 0.14), so it is told
/// apart from `Get` by the options, not by the method called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// `put_opts`: a single-request upload.
    Put,
    /// `get_opts` (and every range a `get_ranges` fetches).
    Get,
    /// `get_opts` with `head: true`.
    Head,
    /// One location of a `delete_stream`.
    Delete,
    /// `list`, `list_with_offset` and `list_with_delimiter`.
    List,
    /// `copy_opts`.
    Copy,
    /// `rename_opts`.
    Rename,
    /// `put_multipart_opts` and the parts, completion and abort of its upload.
    Multipart,
}

impl Operation {
    /// Every operation, in declaration order.
    pub const ALL: [Self; 8] = [
        Self::Put,
        Self::Get,
        Self::Head,
        Self::Delete,
        Self::List,
        Self::Copy,
        Self::Rename,
        Self::Multipart,
    ];

    /// The lowercase name used in fault specs, logs and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Put => "put",
            Self::Get => "get",
            Self::Head => "head",
            Self::Delete => "delete",
            Self::List => "list",
            Self::Copy => "copy",
            Self::Rename => "rename",
            Self::Multipart => "multipart",
        }
    }

    /// Position in [`Operation::ALL`], for array-backed tables.
    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// `Head` when the options ask for no body, `Get` otherwise.
    pub(crate) fn of_get(options: &object_store::GetOptions) -> Self {
        if options.head { Self::Head } else { Self::Get }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An operation name that is not one of [`Operation::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown object-store operation {0:?}; use one of put, get, head, delete, list, copy, rename, multipart"
)]
pub struct UnknownOperation(pub String);

impl FromStr for Operation {
    type Err = UnknownOperation;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownOperation(s.to_owned()))
    }
}
