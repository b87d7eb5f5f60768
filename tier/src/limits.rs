//! Every bound of the object-store tiers, in one table.
//!
//! The retry defaults are what [`crate::RetryConfig::default`] gives;
//! operators set their own through the `wal_retry` settings, which map onto
//! [`crate::RetryConfig`] field by field. The tests at the bottom check how
//! the bounds relate (and `retry`'s, how the default config and its
//! `longest_call` follow from them). This module imports nothing of the
//! crate, so every other module may import it.

use std::time::Duration;

// Retries (`RetryConfig::default`).

/// Attempts per call, the first included: a store that fails five times in a
/// row is down, not flaky.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;
/// Upper bound of the first backoff, doubling per retry: a blip of an S3
/// front end clears within tens of milliseconds.
pub const DEFAULT_INITIAL_BACKOFF: Duration = Duration::from_millis(10);
/// Cap on any single backoff.
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(1);
/// Bound on each attempt: a healthy PUT of a WAL object answers in tens of
/// milliseconds, so ten seconds is a hung connection, not a slow store.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Deletes of one `delete_stream` run at once: deletes are garbage
/// collection, not a latency path, and must not crowd out produce PUTs.
pub const DELETE_CONCURRENCY: usize = 8;
/// Retries the S3 client makes itself: none, because retries belong to
/// `RetryStore`, one policy with a per-call timeout; the client's own (10
/// attempts over up to 3 minutes) would hide a failing store behind minutes
/// of silence.
pub const S3_CLIENT_MAX_RETRIES: usize = 0;

// Fault injection (feature `faults`).

/// How long an injected hang lasts unless a rule says otherwise: far beyond
/// any sane call timeout, so the caller's timeout is what ends it.
#[cfg(feature = "faults")]
pub const DEFAULT_HANG: Duration = Duration::from_secs(300);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_retries_are_bounded_and_grow() {
        const { assert!(DEFAULT_MAX_ATTEMPTS >= 1) };
        assert!(!DEFAULT_INITIAL_BACKOFF.is_zero());
        assert!(DEFAULT_MAX_BACKOFF >= DEFAULT_INITIAL_BACKOFF);
        assert!(!DEFAULT_CALL_TIMEOUT.is_zero());
    }

    #[cfg(feature = "faults")]
    #[test]
    fn an_injected_hang_outlasts_an_attempt() {
        // So the caller's timeout is what ends it (`retry`'s tests check it
        // outlasts a whole retried call too).
        assert!(DEFAULT_HANG > DEFAULT_CALL_TIMEOUT);
    }

    #[test]
    fn concurrency_and_client_retries() {
        const { assert!(DELETE_CONCURRENCY > 0) };
        // Any client retry would run inside one `call_timeout` unseen.
        const { assert!(S3_CLIENT_MAX_RETRIES == 0) };
    }
}
