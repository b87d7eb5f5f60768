//! Running a transaction to completion: begin, run the body, commit, and on a
//! retryable error start over after a jittered, growing backoff, as
//! FoundationDB's `run` / `on_error` loop does.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;

use super::limits::{
    DEFAULT_RETRY_ATTEMPTS, DEFAULT_RETRY_INITIAL_BACKOFF, DEFAULT_RETRY_MAX_BACKOFF,
    MAX_TRANSACTION_AGE,
};
use super::{CommitInfo, MetaError, MetaStore, Transaction};

/// How often and how patiently [`run`] retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included; at least one is always made.
    pub max_attempts: u32,
    /// Backoff before the first retry.
    pub initial_backoff: Duration,
    /// Longest backoff between two attempts.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// 20 attempts, backoff doubling from 1 ms up to 200 ms: about two
    /// seconds of contention before giving up (see [`crate::limits`]).
    fn default() -> Self {
        Self {
            max_attempts: DEFAULT_RETRY_ATTEMPTS,
            initial_backoff: DEFAULT_RETRY_INITIAL_BACKOFF,
            max_backoff: DEFAULT_RETRY_MAX_BACKOFF,
        }
    }
}

impl RetryPolicy {
    /// The longest [`run`] under this policy takes to succeed or give up, for
    /// a body that only touches the store: every attempt ends within
    /// [`MAX_TRANSACTION_AGE`] (its reads and its commit fail past it), and
    /// every backoff is at most `max_backoff`. Not a bound on waiting for a
    /// read version from an unreachable FoundationDB cluster.
    pub fn longest_run(&self) -> Duration {
        let attempts = self.max_attempts.max(1);
        MAX_TRANSACTION_AGE * attempts + self.max_backoff * (attempts - 1)
    }

    /// The pause after failed attempt number `attempt` (1-based): exponential
    /// growth capped at `max_backoff`, then a random point in its upper half
    /// so contending transactions spread out instead of colliding again.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(31);
        let ceiling = self
            .initial_backoff
            .saturating_mul(1 << exponent)
            .min(self.max_backoff);
        let half = ceiling / 2;
        let nanos = u64::try_from((ceiling - half).as_nanos()).unwrap_or(u64::MAX);
        half + Duration::from_nanos(random_u64() % nanos.max(1))
    }
}

/// A fresh random number per call: each `RandomState` is seeded differently,
/// which is randomness enough for jitter without another dependency.
fn random_u64() -> u64 {
    RandomState::new().hash_one(0u8)
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
                let backoff = policy.backoff(attempt);
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
        // 20 attempts of at most 5 s with 19 backoffs of at most 200 ms.
        assert_eq!(
            policy.longest_run(),
            MAX_TRANSACTION_AGE * 20 + Duration::from_millis(200) * 19
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
}
