//! What FoundationDB's error codes mean to a caller of [`crate::MetaStore`]:
//! a table from code to [`MetaError`], which decides whether [`crate::run`]
//! retries and how long it pauses first.
//!
//! It is pure and compiled without the `fdb` feature, so its tests run where
//! the FoundationDB client library is not installed (the `foundationdb`
//! crate's `is_retryable` and friends call into libfdb_c). It follows
//! libfdb_c 7.3's `fdb_error_predicate` and its client's `on_error`:
//! - `not_committed` is a conflict; `transaction_too_old` and
//!   `future_version` need a fresh read version after a short pause;
//! - the throttling and overload codes (`process_behind`, `database_locked`,
//!   the proxies' memory limits, batch, tag and proxy tag throttling, hot
//!   shards) committed nothing and are retried after a longer, growing pause;
//! - `commit_unknown_result` and `cluster_version_changed` may have
//!   committed: never retried blindly, the caller resolves them (the broker's
//!   transactions read their own commit record first);
//! - `transaction_timed_out`, the timeout the backend sets on every
//!   transaction, ends an attempt that outlived the MVCC window like
//!   `transaction_too_old`, except during a commit, whose outcome it leaves
//!   unknown. FoundationDB's `on_error` does not retry it; here the timeout
//!   bounds one attempt, and [`crate::RetryPolicy`] bounds the attempts.
//!
//! A code this table does not know is left to libfdb_c's predicates by the
//! backend, so a code added in a later FoundationDB is still classified.

use crate::MetaError;

/// FoundationDB error codes (`flow/error_definitions.h`).
#[cfg_attr(not(feature = "fdb"), allow(dead_code))]
pub(crate) mod code {
    pub(crate) const TRANSACTION_TOO_OLD: i32 = 1007;
    pub(crate) const FUTURE_VERSION: i32 = 1009;
    pub(crate) const NOT_COMMITTED: i32 = 1020;
    pub(crate) const COMMIT_UNKNOWN_RESULT: i32 = 1021;
    pub(crate) const COMMIT_UNKNOWN_RESULT_FATAL: i32 = 1022;
    pub(crate) const TRANSACTION_TIMED_OUT: i32 = 1031;
    pub(crate) const ACCESSED_UNREADABLE: i32 = 1036;
    pub(crate) const CLUSTER_VERSION_CHANGED: i32 = 1039;
    pub(crate) const INVERTED_RANGE: i32 = 2005;
    pub(crate) const TRANSACTION_TOO_LARGE: i32 = 2101;
    pub(crate) const KEY_TOO_LARGE: i32 = 2102;
    pub(crate) const VALUE_TOO_LARGE: i32 = 2103;
}

/// The codes meaning "busy, nothing committed, retry after backing off",
/// with their names for the error message.
const BUSY: &[(i32, &str)] = &[
    (1037, "process_behind"),
    (1038, "database_locked"),
    (1042, "commit_proxy_memory_limit_exceeded"),
    (1051, "batch_transaction_throttled"),
    (1078, "grv_proxy_memory_limit_exceeded"),
    (1213, "tag_throttled"),
    (1223, "proxy_tag_throttled"),
    (1235, "transaction_throttled_hot_shard"),
];

/// Where in a transaction an error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(feature = "fdb"), allow(dead_code))]
pub(crate) enum Phase {
    /// Getting a read version, reading, or setting up: nothing was sent to
    /// be committed.
    Read,
    /// The commit itself: an error that does not prove otherwise leaves the
    /// outcome unknown.
    Commit,
}

/// The [`MetaError`] for a FoundationDB error code, or `None` for a code
/// the table does not know. The size codes (2101-2103) are here without
/// their sizes; the backend fills those in where it knows them.
#[cfg_attr(not(feature = "fdb"), allow(dead_code))]
pub(crate) fn classify(code: i32, phase: Phase) -> Option<MetaError> {
    let error = match code {
        code::NOT_COMMITTED => MetaError::Conflict,
        code::TRANSACTION_TOO_OLD => MetaError::TransactionTooOld,
        code::FUTURE_VERSION => MetaError::FutureVersion,
        code::COMMIT_UNKNOWN_RESULT
        | code::COMMIT_UNKNOWN_RESULT_FATAL
        | code::CLUSTER_VERSION_CHANGED => MetaError::CommitUnknownResult,
        code::TRANSACTION_TIMED_OUT => match phase {
            Phase::Read => MetaError::TransactionTooOld,
            Phase::Commit => MetaError::CommitUnknownResult,
        },
        code::ACCESSED_UNREADABLE => MetaError::VersionstampedKeyRead,
        code::INVERTED_RANGE => MetaError::InvertedRange,
        code::TRANSACTION_TOO_LARGE => MetaError::TransactionTooLarge { bytes: 0 },
        code::KEY_TOO_LARGE => MetaError::KeyTooLarge { len: 0 },
        code::VALUE_TOO_LARGE => MetaError::ValueTooLarge { len: 0 },
        _ => {
            let (code, name) = BUSY.iter().find(|(busy, _)| *busy == code)?;
            MetaError::Busy {
                reason: format!("FoundationDB error {code} {name}"),
            }
        }
    };
    Some(error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retry::Pause;

    /// The decision [`crate::run`] and its callers take on each code.
    #[derive(Debug, PartialEq, Eq)]
    enum Decision {
        Retry(Pause),
        /// Resolve by reading what the transaction would have written.
        Unknown,
        Fail,
    }

    fn decide(code: i32, phase: Phase) -> Option<Decision> {
        classify(code, phase).map(|error| match error.retry_pause() {
            Some(pause) => {
                assert!(!error.maybe_committed(), "{code}");
                Decision::Retry(pause)
            }
            None if error.maybe_committed() => Decision::Unknown,
            None => Decision::Fail,
        })
    }

    #[test]
    fn every_code_maps_to_its_retry_decision() {
        use Decision::{Fail, Retry, Unknown};
        let table = [
            (1007, Retry(Pause::Version)),
            (1009, Retry(Pause::Version)),
            (1020, Retry(Pause::Contention)),
            (1021, Unknown),
            (1022, Unknown),
            (1036, Fail),
            (1037, Retry(Pause::Busy)),
            (1038, Retry(Pause::Busy)),
            (1039, Unknown),
            (1042, Retry(Pause::Busy)),
            (1051, Retry(Pause::Busy)),
            (1078, Retry(Pause::Busy)),
            (1213, Retry(Pause::Busy)),
            (1223, Retry(Pause::Busy)),
            (1235, Retry(Pause::Busy)),
            (2005, Fail),
            (2101, Fail),
            (2102, Fail),
            (2103, Fail),
        ];
        for (code, decision) in table {
            for phase in [Phase::Read, Phase::Commit] {
                assert_eq!(decide(code, phase).as_ref(), Some(&decision), "{code}");
            }
        }
    }

    #[test]
    fn a_timeout_is_an_old_transaction_unless_it_cut_a_commit_short() {
        assert!(matches!(
            classify(code::TRANSACTION_TIMED_OUT, Phase::Read),
            Some(MetaError::TransactionTooOld)
        ));
        assert!(matches!(
            classify(code::TRANSACTION_TIMED_OUT, Phase::Commit),
            Some(MetaError::CommitUnknownResult)
        ));
    }

    #[test]
    fn unknown_codes_are_left_to_libfdb_c() {
        // operation_failed, timed_out, broken_promise, an unknown error.
        for code in [1000, 1004, 1100, 4000] {
            assert!(classify(code, Phase::Commit).is_none(), "{code}");
        }
    }

    #[test]
    fn busy_errors_name_their_code() {
        let error = classify(1213, Phase::Read).expect("known");
        assert_eq!(
            error.to_string(),
            "metadata store is busy (FoundationDB error 1213 tag_throttled); run the transaction \
             again after a pause (meta::run backs off and retries it)"
        );
    }
}
