//! Every bound of the metadata store, in one table.
//!
//! FoundationDB's limits come first: every backend enforces them, so code that
//! works on the embedded store does not fail on FoundationDB. The rest bound
//! the memory and the waiting of the backends themselves. None of them is an
//! operator setting: the FoundationDB limits are the cluster's, the others are
//! sized against them, and a caller that wants another retry policy passes its
//! own [`crate::RetryPolicy`] (the defaults below are what its `default`
//! gives). The tests at the bottom check how the bounds relate. This module
//! imports nothing of the crate, so every other module may import it.

use std::time::Duration;

// FoundationDB's limits, enforced by every backend.

/// Largest key, in bytes.
pub const MAX_KEY_BYTES: usize = 10_000;
/// Largest value, in bytes.
pub const MAX_VALUE_BYTES: usize = 100_000;
/// Largest transaction (keys + values written, plus conflict ranges), in bytes.
pub const MAX_TRANSACTION_BYTES: usize = 10_000_000;
/// Oldest read version a transaction may commit with, in milliseconds
/// (FoundationDB's MVCC window).
pub const MAX_TRANSACTION_AGE_MS: u64 = 5_000;
/// [`MAX_TRANSACTION_AGE_MS`] as a duration: no transaction older than this
/// reads or commits.
pub const MAX_TRANSACTION_AGE: Duration = Duration::from_millis(MAX_TRANSACTION_AGE_MS);
/// Versionstamped writes in one transaction: the 2-byte order within a
/// versionstamp tells this many apart.
pub const MAX_VERSIONSTAMPS: u32 = 1 << 16;
/// Outstanding watches FoundationDB allows per database handle before it
/// answers `too_many_watches` (its `max_watches` default).
pub const FDB_MAX_WATCHES: usize = 10_000;

// Retries of `run` (`RetryPolicy::default`).

/// Attempts [`crate::run`] makes by default, the first included.
pub const DEFAULT_RETRY_ATTEMPTS: u32 = 20;
/// Backoff before the first retry: about one embedded commit, so two
/// conflicting transactions usually succeed on the next try.
pub const DEFAULT_RETRY_INITIAL_BACKOFF: Duration = Duration::from_millis(1);
/// Longest backoff between attempts. With [`DEFAULT_RETRY_ATTEMPTS`] that is
/// about two seconds of contention before giving up, short enough for a
/// produce call still to answer within its client's timeout.
pub const DEFAULT_RETRY_MAX_BACKOFF: Duration = Duration::from_millis(200);
/// Pause before retrying a transaction whose read version was too old or
/// ahead of the replicas: FoundationDB's `FUTURE_VERSION_RETRY_DELAY`.
pub const RETRY_VERSION_PAUSE: Duration = Duration::from_millis(10);
/// First pause after the store said it is busy (throttling, overloaded,
/// locked): FoundationDB's `DEFAULT_BACKOFF`.
pub const RETRY_BUSY_INITIAL_BACKOFF: Duration = Duration::from_millis(10);
/// Longest pause while the store stays busy. FoundationDB's own loop goes
/// to 1 s; half that keeps [`crate::RetryPolicy::longest_run`] within the
/// two minutes the broker allows a WAL object to commit in.
pub const DEFAULT_RETRY_BUSY_MAX_BACKOFF: Duration = Duration::from_millis(500);
/// How long a FoundationDB transaction may live before FoundationDB cancels
/// it (its `timeout` option, set on every transaction that reads or writes):
/// its MVCC window, so an attempt also ends on time while waiting for a read
/// version from an unreachable cluster.
#[cfg_attr(not(feature = "fdb"), allow(dead_code))]
pub(crate) const FDB_TRANSACTION_TIMEOUT: Duration = MAX_TRANSACTION_AGE;

// The embedded backends.

/// Page cache of a redb store opened with `RedbMetaStore::open` (redb's own
/// default of 1 GiB would let metadata alone outgrow a small gateway).
pub const DEFAULT_REDB_CACHE_BYTES: usize = 64 * 1024 * 1024;
/// Bytes of recent commits' write sets kept for conflict checks. Under a
/// write burst above this, the oldest entries go early and transactions that
/// read before them fail with the retryable `TransactionTooOld` instead of
/// memory growing.
pub(crate) const MAX_COMMIT_LOG_BYTES: usize = 128 * 1024 * 1024;
/// Below this many watched keys the watch map is never pruned; above it, it
/// is pruned whenever it doubles, so it stays within twice the live watchers.
pub(crate) const WATCH_MAP_MIN_PRUNE_AT: usize = 1024;

// The FoundationDB backend (feature `fdb`).

/// Outstanding FoundationDB watches per store. A watch's slot is freed on
/// FoundationDB's side only after the cancel reaches the network thread,
/// hence the headroom below [`FDB_MAX_WATCHES`].
#[cfg_attr(not(feature = "fdb"), allow(dead_code))]
pub(crate) const MAX_FDB_WATCHES: usize = 9_000;
/// Past [`MAX_FDB_WATCHES`], a watch is a timer: it wakes its waiter after
/// this long, who re-reads (a spurious wakeup, which the trait allows). Costs
/// one read per waiter per interval, but only while that many waiters exist.
#[cfg_attr(not(feature = "fdb"), allow(dead_code))]
pub(crate) const FALLBACK_WATCH_INTERVAL: Duration = Duration::from_millis(100);
/// How old a cached read version may be to serve as a watch's base. Reading
/// at it must succeed within [`MAX_TRANSACTION_AGE`], with margin for the read
/// itself.
#[cfg_attr(not(feature = "fdb"), allow(dead_code))]
pub(crate) const MAX_WATCH_BASE_AGE: Duration = Duration::from_secs(3);

// The PostgreSQL backend (feature `postgres`).

/// Connections a PostgreSQL store opens at most. Each open transaction holds
/// one for at most [`MAX_TRANSACTION_AGE`], so this bounds how many run at
/// once per process; the watch listener has one more of its own.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) const PG_POOL_MAX_CONNECTIONS: usize = 32;
/// How long `begin` waits for a free connection (or a new one to connect)
/// before failing.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) const PG_POOL_WAIT: Duration = Duration::from_secs(5);
/// Connect timeout when the URL sets none.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) const PG_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a commit waits for the version row's lock, which every commit
/// takes in turn, before failing as a retryable conflict.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) const PG_LOCK_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a commit's write set stays in `stratus_meta_commits`. A
/// transaction reads for at most [`MAX_TRANSACTION_AGE`] and then waits at
/// most [`PG_LOCK_TIMEOUT`] to commit, so this keeps every write set a
/// conflict check can need (a check that finds one pruned fails as too old).
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) const PG_COMMIT_LOG_RETENTION: Duration = Duration::from_secs(15);
/// Every this many versions, a commit also prunes the commit log.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) const PG_PRUNE_EVERY: u64 = 64;
/// How often the watch listener reads the commit log even without a
/// notification, so a lost one delays a watch by at most this long.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) const PG_WATCH_RECHECK_INTERVAL: Duration = Duration::from_secs(1);
/// Commit log rows the watch listener reads per query.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) const PG_WATCH_BATCH: i64 = 1_000;
/// Pause before the watch listener reconnects after losing its connection.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) const PG_LISTEN_RECONNECT_BACKOFF: Duration = Duration::from_millis(500);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_limits_nest() {
        // One largest pair fits in a transaction, with room for many more.
        const { assert!(MAX_KEY_BYTES < MAX_VALUE_BYTES) };
        const { assert!(MAX_KEY_BYTES + MAX_VALUE_BYTES <= MAX_TRANSACTION_BYTES / 10) };
        assert_eq!(
            MAX_TRANSACTION_AGE.as_millis(),
            u128::from(MAX_TRANSACTION_AGE_MS)
        );
        // The order field of a versionstamp is a u16.
        assert_eq!(MAX_VERSIONSTAMPS, u32::from(u16::MAX) + 1);
    }

    #[test]
    fn default_retries_back_off_sanely() {
        const { assert!(DEFAULT_RETRY_ATTEMPTS >= 1) };
        assert!(!DEFAULT_RETRY_INITIAL_BACKOFF.is_zero());
        assert!(DEFAULT_RETRY_MAX_BACKOFF >= DEFAULT_RETRY_INITIAL_BACKOFF);
        // The backoff doubles from the first to the cap within the attempts.
        let doublings = (DEFAULT_RETRY_MAX_BACKOFF.as_nanos()
            / DEFAULT_RETRY_INITIAL_BACKOFF.as_nanos())
        .ilog2();
        assert!(doublings < DEFAULT_RETRY_ATTEMPTS);
        let busy_doublings = (DEFAULT_RETRY_BUSY_MAX_BACKOFF.as_nanos()
            / RETRY_BUSY_INITIAL_BACKOFF.as_nanos())
        .ilog2();
        assert!(busy_doublings < DEFAULT_RETRY_ATTEMPTS);
        assert!(RETRY_VERSION_PAUSE <= DEFAULT_RETRY_MAX_BACKOFF);
        // A FoundationDB transaction is cancelled no later than the window
        // every attempt is assumed to end in.
        assert!(FDB_TRANSACTION_TIMEOUT <= MAX_TRANSACTION_AGE);
        assert!(i32::try_from(FDB_TRANSACTION_TIMEOUT.as_millis()).is_ok());
    }

    #[test]
    fn embedded_bounds_hold_what_they_must() {
        const { assert!(DEFAULT_REDB_CACHE_BYTES > 0) };
        // Several largest transactions fit in the commit log, so one big
        // commit does not by itself expire every reader's window.
        const { assert!(MAX_COMMIT_LOG_BYTES >= 8 * MAX_TRANSACTION_BYTES) };
        const { assert!(WATCH_MAP_MIN_PRUNE_AT > 0) };
    }

    #[test]
    fn fdb_watch_bounds_stay_inside_foundationdb_limits() {
        const { assert!(MAX_FDB_WATCHES < FDB_MAX_WATCHES) };
        assert!(
            !FALLBACK_WATCH_INTERVAL.is_zero(),
            "a zero interval would spin"
        );
        assert!(MAX_WATCH_BASE_AGE < MAX_TRANSACTION_AGE);
    }

    #[test]
    fn postgres_bounds_keep_what_conflict_checks_need() {
        const { assert!(PG_POOL_MAX_CONNECTIONS > 0) };
        const { assert!(PG_PRUNE_EVERY > 0) };
        const { assert!(PG_WATCH_BATCH > 0) };
        // A transaction at the age limit that waited the whole lock timeout
        // still finds every write set since its read version.
        assert!(PG_COMMIT_LOG_RETENTION > MAX_TRANSACTION_AGE + PG_LOCK_TIMEOUT);
        assert!(
            !PG_WATCH_RECHECK_INTERVAL.is_zero(),
            "a zero interval would spin"
        );
        assert!(PG_WATCH_RECHECK_INTERVAL < PG_COMMIT_LOG_RETENTION);
        assert!(!PG_LISTEN_RECONNECT_BACKOFF.is_zero());
    }
}
