//! The one error type of the metadata store.
//!
//! Callers mostly need two answers from an error: "may I run the transaction
//! again?" ([`MetaError::is_retryable`], what [`super::run`] uses) and "did it
//! perhaps commit anyway?" ([`MetaError::maybe_committed`]). The variants name
//! the precise cause for logs.

use super::limits;
use super::retry::Pause;

/// Why a metadata operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetaError {
    /// A transaction that committed after this one's read version wrote a key
    /// this one read. Retryable.
    #[error("transaction conflicted with a concurrent commit; run it again (meta::run retries it)")]
    Conflict,

    /// The transaction's read version is too old to be checked for conflicts or
    /// to read from. Retryable.
    #[error(
        "transaction is older than {} ms; run it again and keep transactions short",
        limits::MAX_TRANSACTION_AGE_MS
    )]
    TransactionTooOld,

    /// The transaction's read version is ahead of what the replicas it read
    /// from have applied (FoundationDB's `future_version`). Nothing was
    /// committed. Retryable after a short pause.
    #[error(
        "the metadata store's replicas have not caught up with this transaction's read version; \
         run it again shortly (meta::run retries it)"
    )]
    FutureVersion,

    /// The backend refused the transaction for now because it is throttling,
    /// overloaded or locked (FoundationDB's `process_behind`, `tag_throttled`,
    /// `database_locked`, the proxies' memory limits). Nothing was committed.
    /// Retryable after a longer, growing pause.
    #[error(
        "metadata store is busy ({reason}); run the transaction again after a pause (meta::run backs off and retries it)"
    )]
    Busy {
        /// What the backend said, with its error code.
        reason: String,
    },

    /// The commit may or may not have happened (FoundationDB's
    /// `commit_unknown_result`). Not retryable blindly: make the transaction
    /// idempotent (for example by reading a marker it writes) before running
    /// it again.
    #[error(
        "commit outcome unknown: the transaction may or may not have committed; \
         check for its effects before running it again"
    )]
    CommitUnknownResult,

    /// A key longer than [`limits::MAX_KEY_BYTES`].
    #[error(
        "key of {len} bytes exceeds the {} byte limit; use a shorter key",
        limits::MAX_KEY_BYTES
    )]
    KeyTooLarge {
        /// The key's length in bytes.
        len: usize,
    },

    /// A value longer than [`limits::MAX_VALUE_BYTES`].
    #[error(
        "value of {len} bytes exceeds the {} byte limit; split it or store it as an object",
        limits::MAX_VALUE_BYTES
    )]
    ValueTooLarge {
        /// The value's length in bytes.
        len: usize,
    },

    /// The transaction's writes and conflict ranges exceed
    /// [`limits::MAX_TRANSACTION_BYTES`]. Nothing was written.
    #[error(
        "transaction of {bytes} bytes exceeds the {} byte limit; split it into smaller transactions",
        limits::MAX_TRANSACTION_BYTES
    )]
    TransactionTooLarge {
        /// The transaction's size in bytes (writes plus conflict ranges).
        bytes: usize,
    },

    /// A read or atomic add touched a key this transaction wrote with a
    /// versionstamp, whose value is unknown until commit.
    #[error(
        "key was written with a versionstamp in this transaction and cannot be read or \
         atomically added to before commit; read it in a later transaction"
    )]
    VersionstampedKeyRead,

    /// More versionstamped writes than the 2-byte order in a versionstamp can
    /// tell apart.
    #[error(
        "more than {} versionstamped writes in one transaction; split it into smaller transactions",
        limits::MAX_VERSIONSTAMPS
    )]
    TooManyVersionstamps,

    /// `clear_range` with `begin > end`, almost always a bug in key construction.
    #[error("inverted range: begin sorts after end; check how the range bounds are built")]
    InvertedRange,

    /// The local file behind the store could not be read or written.
    #[error("metadata store i/o failed: {0}")]
    Io(#[from] std::io::Error),

    /// The embedded redb database failed.
    #[error("embedded metadata database (redb) failed: {0}")]
    Redb(#[from] redb::Error),

    /// Any other backend failure, or a value the caller could not decode.
    #[error("metadata backend failed: {0}")]
    Backend(String),

    /// The store is shutting down or unusable; no further transactions run.
    #[error("metadata store is closed; restart the process")]
    Closed,
}

impl MetaError {
    /// Whether running the same transaction again from the start may succeed
    /// (FoundationDB's retryable errors, without `commit_unknown_result`).
    pub fn is_retryable(&self) -> bool {
        self.retry_pause().is_some()
    }

    /// How [`super::run`] pauses before running the transaction again, or
    /// `None` if running it again would not help (or, for an unknown commit
    /// outcome, might apply it twice).
    pub(crate) fn retry_pause(&self) -> Option<Pause> {
        match self {
            Self::Conflict => Some(Pause::Contention),
            Self::TransactionTooOld | Self::FutureVersion => Some(Pause::Version),
            Self::Busy { .. } => Some(Pause::Busy),
            _ => None,
        }
    }

    /// Whether the transaction may have committed despite the error.
    pub fn maybe_committed(&self) -> bool {
        matches!(self, Self::CommitUnknownResult)
    }
}

/// Converts any redb error into a [`MetaError`]; redb has one error type per
/// operation, all of which convert into `redb::Error`.
pub(crate) fn redb_error(error: impl Into<redb::Error>) -> MetaError {
    MetaError::Redb(error.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        assert!(MetaError::Conflict.is_retryable());
        assert!(MetaError::TransactionTooOld.is_retryable());
        assert!(!MetaError::CommitUnknownResult.is_retryable());
        assert!(MetaError::CommitUnknownResult.maybe_committed());
        assert!(!MetaError::Conflict.maybe_committed());
        assert!(!MetaError::KeyTooLarge { len: 1 }.is_retryable());
        assert_eq!(MetaError::Conflict.retry_pause(), Some(Pause::Contention));
        assert_eq!(MetaError::FutureVersion.retry_pause(), Some(Pause::Version));
        let busy = MetaError::Busy {
            reason: "throttled".into(),
        };
        assert_eq!(busy.retry_pause(), Some(Pause::Busy));
        assert!(!busy.maybe_committed() && !MetaError::FutureVersion.maybe_committed());
        assert_eq!(MetaError::CommitUnknownResult.retry_pause(), None);
    }

    #[test]
    fn messages_are_lowercase_and_prescriptive() {
        let message = MetaError::KeyTooLarge { len: 20_000 }.to_string();
        assert_eq!(
            message,
            "key of 20000 bytes exceeds the 10000 byte limit; use a shorter key"
        );
        assert!(
            MetaError::TooManyVersionstamps
                .to_string()
                .contains("65536")
        );
    }
}
