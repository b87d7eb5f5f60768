//! Running a transaction to completion: begin, run the body, commit, and on a
//! retryable error start over after a jittered, growing backoff, as
//! FoundationDB's `run` / `on_error` loop does.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;

use super::limits::{
    DEFAULT_RETRY_ATTEMPTS, DEFAULT_RETRY_BUSY_MAX_BACKOFF, DEFAULT_RETRY_INITIAL_BACKOFF,
    DEFAULT_RETRY_MAX_BACKOFF, MAX_TRANSACTION_AGE, RETRY_BUSY_INITIAL_BACKOFF,
    RETRY_VERSION_PAUSE,
};
use super::{CommitInfo, MetaError, MetaStore, Transaction};

/// How often and how patiently [`run`] retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included; at least one is always made.
    pub max_attempts: u32,
    /// Backoff before the first retry after a conflict.
    pub initial_backoff: Duration,
    /// Longest backoff between two attempts after a conflict, and longest
    /// pause after a stale or future read version.
    pub max_backoff: Duration,
    /// Longest backoff after the store said it is busy ([`MetaError::Busy`]):
    /// those pauses start at [`RETRY_BUSY_INITIAL_BACKOFF`] and double up to
    /// this.
    pub busy_max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// 20 attempts, backoff doubling from 1 ms up to 200 ms after conflicts
    /// (about two seconds of contention before giving up) and from 10 ms up
    /// to 500 ms while the store is busy (see [`crate::limits`]).
    fn default() -> Self {
        Self {
            max_attempts: DEFAULT_RETRY_ATTEMPTS,
            initial_backoff: DEFAULT_RETRY_INITIAL_BACKOFF,
            max_backoff: DEFAULT_RETRY_MAX_BACKOFF,
            busy_max_backoff: DEFAULT_RETRY_BUSY_MAX_BACKOFF,
        }
    }
}

/// What [`run`] waits for before the next attempt, by what went wrong, after
/// FoundationDB's own `on_error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pause {
    /// Another transaction won: a jittered backoff growing from
    /// `initial_backoff` to `max_backoff`, so contenders spread out.
    Contention,
    /// The read version was too old, or ahead of the replicas: a fresh one
    /// after a short fixed pause ([`RETRY_VERSION_PAUSE`], at most
    /// `max_backoff`), as FoundationDB's `FUTURE_VERSION_RETRY_DELAY`.
    Version,
    /// The store is throttling or overloaded: a jittered backoff growing from
    /// [`RETRY_BUSY_INITIAL_BACKOFF`] to `busy_max_backoff`, so the load it
    /// sheds does not come straight back.
    Busy,
}

impl RetryPolicy {
    /// The longest [`run`] under this policy takes to succeed or give up, for
    /// a body that only touches the store: every attempt ends within
    /// [`MAX_TRANSACTION_AGE`] (its reads and its commit fail past it; on
    /// FoundationDB its timeout cancels it, waiting for a read version
    /// included), and every pause is at most the longer of `max_backoff` and
    /// `busy_max_backoff`.
    pub fn longest_run(&self) -> Duration {
        let attempts = self.max_attempts.max(1);
        let longest_pause = self.max_backoff.max(self.busy_max_backoff);
        MAX_TRANSACTION_AGE * attempts + longest_pause * (attempts - 1)
    }

    /// The pause after failed attempt number `attempt` (1-based) lost to a
    /// conflict: exponential growth capped at `max_backoff`, then a random
    /// point in its upper half so contending transactions spread out instead
    /// of colliding again.
    pub fn backoff(&self, attempt: u32) -> Duration {
        jittered(self.initial_backoff, self.max_backoff, attempt)
    }

    /// The pause after attempt number `attempt` (1-based) failed with
    /// `error`: [`Self::backoff`] after a conflict, a short fixed pause after
    /// a stale or future read version, a longer growing one while the store
    /// is busy; zero for an error [`run`] does not retry.
    pub fn pause_after(&self, error: &MetaError, attempt: u32) -> Duration {
        match error.retry_pause() {
            Some(Pause::Contention) => self.backoff(attempt),
            Some(Pause::Version) => RETRY_VERSION_PAUSE.min(self.max_backoff),
            Some(Pause::Busy) => jittered(
                RETRY_BUSY_INITIAL_BACKOFF.min(self.busy_max_backoff),
                self.busy_max_backoff,
                attempt,
            ),
            None => Duration::ZERO,
        }
    }
}

/// `initial` doubled per attempt after the first, capped at `cap`, then a
/// random point in its upper half.
fn jittered(initial: Duration, cap: Duration, attempt: u32) -> Duration {
    let exponent = attempt.saturating_sub(1).min(31);
    let ceiling = initial.saturating_mul(1 << exponent).min(cap);
    let half = ceiling / 2;
    let nanos = u64::try_from((ceiling - half).as_nanos()).unwrap_or(u64::MAX);
    half + Duration::from_nanos(random_u64() % nanos.max(1))
}

/// A fresh random number per call: each `RandomState` is seeded differently,
/// which is randomness enough for jitter without another dependency.
/// A simulation seeds it instead ([`crate::faulty::seed_retry_jitter`]).
fn random_u64() -> u64 {
    #[cfg(any(test, feature = "faults"))]
    if let Some(draw) = crate::faulty::seeded_jitter() {
        return draw;
    }
    RandomState::new().hash_one(0u8)
}

/// Transactions retried after a retryable failure (a conflict, usually),
/// process-wide, for the metadata retry metric.
static RETRIES: AtomicU64 = AtomicU64::new(0);
/// Retryable failures that were conflicts (`MetaError::is_conflict`).
static CONFLICTS: AtomicU64 = AtomicU64::new(0);

/// Retries and conflicts since the process started: (retries, conflicts).
pub fn retry_counts() -> (u64, u64) {
    (
        RETRIES.load(Ordering::Relaxed),
        CONFLICTS.load(Ordering::Relaxed),
    )
}

/// Runs `body` in a transaction and commits it, retrying from a fresh
/// transaction while the error is retryable ([`MetaError::is_retryable`]).
///
/// `body` may run several times, so it must not have effects outside the
/// transaction it is given. Errors from `body` end the loop unless retryable.
/// A [`MetaError::CommitUnknownResult`] is returned to the caller, who knows
/// whether running the body again is safe.
///
/// The body returns a boxed future borrowing the transaction; it may also
/// borrow from the caller's scope (that is what the `'a` lifetime allows):
///
/// ```
/// use stratus_meta::{MetaError, MetaStore, RetryPolicy, run};
///
/// async fn increment(store: &dyn MetaStore, key: &[u8]) -> Result<i64, MetaError> {
///     run(store, &RetryPolicy::default(), |tx| {
///         Box::pin(async move {
///             let current = match tx.get(key).await? {
///                 Some(bytes) => i64::from_le_bytes(
///                     bytes[..].try_into().map_err(|_| MetaError::Backend("bad counter".into()))?,
///                 ),
///                 None => 0,
///             };
///             tx.set(key, &(current + 1).to_le_bytes())?;
///             Ok(current + 1)
///         })
///     })
///     .await
/// }
/// ```
pub async fn run<'a, T, F>(
    store: &dyn MetaStore,
    policy: &RetryPolicy,
    body: F,
) -> Result<T, MetaError>
where
    F: for<'t> FnMut(&'t mut (dyn Transaction + 'a)) -> BoxFuture<'t, Result<T, MetaError>>,
{
    run_with_info(store, policy, body)
        .await
        .map(|(value, _)| value)
}

/// [`run`], also returning the successful commit's [`CommitInfo`] (its
/// version, for example to relate it to versionstamps it wrote).
pub async fn run_with_info<'a, T, F>(
    store: &dyn MetaStore,
    policy: &RetryPolicy,
    mut body: F,
) -> Result<(T, CommitInfo), MetaError>
where
    F: for<'t> FnMut(&'t mut (dyn Transaction + 'a)) -> BoxFuture<'t, Result<T, MetaError>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match attempt_once(store, &mut body).await {
            Err(error) if error.is_retryable() && attempt < policy.max_attempts => {
                RETRIES.fetch_add(1, Ordering::Relaxed);
                if matches!(error, MetaError::Conflict) {
                    CONFLICTS.fetch_add(1, Ordering::Relaxed);
                }
                let backoff = policy.pause_after(&error, attempt);
                tracing::debug!(%error, attempt, ?backoff, "retrying metadata transaction");
                tokio::time::sleep(backoff).await;
            }
            outcome => return outcome,
        }
    }
}

async fn attempt_once<'a, T, F>(
    store: &dyn MetaStore,
    body: &mut F,
) -> Result<(T, CommitInfo), MetaError>
where
    F: for<'t> FnMut(&'t mut (dyn Transaction + 'a)) -> BoxFuture<'t, Result<T, MetaError>>,
{
    let mut tx = store.begin().await?;
    let value = body(&mut *tx).await?;
    let info = tx.commit().await?;
    Ok((value, info))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_is_the_limits_table() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.max_attempts, DEFAULT_RETRY_ATTEMPTS);
        assert_eq!(policy.initial_backoff, DEFAULT_RETRY_INITIAL_BACKOFF);
        assert_eq!(policy.max_backoff, DEFAULT_RETRY_MAX_BACKOFF);
        assert_eq!(policy.busy_max_backoff, DEFAULT_RETRY_BUSY_MAX_BACKOFF);
        // 20 attempts of at most 5 s with 19 pauses of at most 500 ms.
        assert_eq!(
            policy.longest_run(),
            MAX_TRANSACTION_AGE * 20 + Duration::from_millis(500) * 19
        );
    }

    #[test]
    fn backoff_grows_jitters_and_caps() {
        let policy = RetryPolicy::default();
        for attempt in 1..40 {
            let backoff = policy.backoff(attempt);
            assert!(
                backoff <= policy.max_backoff,
                "attempt {attempt}: {backoff:?}"
            );
        }
        let first = policy.backoff(1);
        assert!(first >= Duration::from_micros(500) && first <= Duration::from_millis(1));
        assert!(policy.backoff(30) >= policy.max_backoff / 2);
        let samples: std::collections::HashSet<_> = (0..16).map(|_| policy.backoff(5)).collect();
        assert!(samples.len() > 1, "backoff is jittered");
    }

    #[test]
    fn each_kind_of_retryable_error_has_its_pause() {
        let policy = RetryPolicy::default();
        let busy = MetaError::Busy {
            reason: "tag throttled".into(),
        };
        for attempt in 1..40 {
            let conflict = policy.pause_after(&MetaError::Conflict, attempt);
            assert!(conflict <= policy.max_backoff);
            for stale in [MetaError::TransactionTooOld, MetaError::FutureVersion] {
                assert_eq!(policy.pause_after(&stale, attempt), RETRY_VERSION_PAUSE);
            }
            let pause = policy.pause_after(&busy, attempt);
            assert!(pause >= RETRY_BUSY_INITIAL_BACKOFF / 2 && pause <= policy.busy_max_backoff);
        }
        assert!(policy.pause_after(&busy, 30) >= policy.busy_max_backoff / 2);
        assert_eq!(
            policy.pause_after(&MetaError::CommitUnknownResult, 1),
            Duration::ZERO
        );
        let tight = RetryPolicy {
            max_backoff: Duration::from_millis(2),
            busy_max_backoff: Duration::from_millis(3),
            ..RetryPolicy::default()
        };
        assert_eq!(
            tight.pause_after(&MetaError::FutureVersion, 1),
            Duration::from_millis(2)
        );
        assert!(tight.pause_after(&busy, 1) <= Duration::from_millis(3));
    }
}
