//! How the suite's checks drive a store that may inject faults: every
//! transaction a check needs to succeed goes through [`crate::run`] and,
//! where its effect must happen once, an idempotency record, exactly as
//! broker code does; a transaction a check holds open across another's
//! commit is reopened until its reads succeed. On a plain store none of this
//! changes what is asserted: no attempt may fail.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;

use crate::faulty::{FaultConfig, FaultCounts, Faults, FaultyMetaStore};
use crate::{
    CommitInfo, MetaError, MetaStore, RangeOptions, RetryPolicy, Transaction, run_with_info,
};

// A body run in a transaction, possibly several times, is an
// `impl for<'t> Fn(&'t mut dyn Transaction) -> BoxFuture<'t, Result<T, MetaError>>`:
// it may capture only owned or `'static` data (the suite's keys are literals).
// Spelled out at each helper so closures passed to them get their signature.

/// How often an unknown outcome is re-checked, as the broker's offset
/// transaction does (`storage`'s `MAX_UNKNOWN_RESULT_RECHECKS`).
const MAX_RECHECKS: usize = 5;

/// Retries enough that injected faults never exhaust them.
fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 1_000,
        ..RetryPolicy::default()
    }
}

/// The faults every suite check runs under when wrapped: each kind often
/// enough that most checks meet several, rarely enough that interleavings
/// still complete in a few rounds.
pub(crate) fn faults(test: &str) -> FaultConfig {
    FaultConfig {
        conflict: 0.1,
        unknown_committed: 0.05,
        unknown_not_committed: 0.05,
        transient: 0.05,
        delay: 0.2,
        max_delay: Duration::from_millis(2),
        ..FaultConfig::none(seed(test))
    }
}

/// `STRATUS_META_FAULT_SEED` if set, otherwise a hash of the test's name,
/// so every run of a test draws the same faults unless asked otherwise.
fn seed(test: &str) -> u64 {
    let seed = std::env::var("STRATUS_META_FAULT_SEED")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| {
            // FNV-1a: stable across runs and platforms, unlike `RandomState`.
            test.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
                (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
            })
        });
    println!("fault seed {seed} (set STRATUS_META_FAULT_SEED to replay another)");
    seed
}

/// The store a check runs against, and the faults it injects, if any.
pub(crate) struct Subject<'a> {
    pub(super) store: &'a dyn MetaStore,
    faults: Option<&'a Faults>,
}

impl<'a> Subject<'a> {
    pub(crate) fn plain(store: &'a dyn MetaStore) -> Self {
        Self {
            store,
            faults: None,
        }
    }

    pub(crate) fn faulty<S: MetaStore>(store: &'a FaultyMetaStore<S>) -> Self {
        Self {
            store,
            faults: Some(store.faults()),
        }
    }

    /// Failures injected so far (0 on a plain store).
    pub(super) fn injected(&self) -> u64 {
        self.faults.map_or(0, |faults| faults.counts().injected())
    }

    /// What was injected so far, on a wrapped store.
    pub(super) fn fault_counts(&self) -> Option<FaultCounts> {
        self.faults.map(Faults::counts)
    }

    fn is_faulty(&self) -> bool {
        self.faults.is_some()
    }
}

/// Commits `body` through [`run`](crate::run), running it again after an
/// unknown outcome: for bodies whose effect is the same however often they
/// commit (plain sets and clears). Returns the last commit's outcome.
pub(super) async fn try_commit<T>(
    s: &Subject<'_>,
    body: impl for<'t> Fn(&'t mut dyn Transaction) -> BoxFuture<'t, Result<T, MetaError>> + Send + Sync,
) -> Result<(T, CommitInfo), MetaError> {
    try_commit_with(s, |tx| body(tx)).await
}

/// [`try_commit`], which must succeed.
pub(super) async fn commit<T>(
    s: &Subject<'_>,
    body: impl for<'t> Fn(&'t mut dyn Transaction) -> BoxFuture<'t, Result<T, MetaError>> + Send + Sync,
) -> (T, CommitInfo) {
    try_commit(s, body)
        .await
        .expect("commit through the retry loop")
}

/// [`try_commit`] for a body that borrows from its caller, as with `run`.
async fn try_commit_with<'a, T, F>(
    s: &Subject<'_>,
    mut body: F,
) -> Result<(T, CommitInfo), MetaError>
where
    F: for<'t> FnMut(&'t mut (dyn Transaction + 'a)) -> BoxFuture<'t, Result<T, MetaError>>,
{
    let mut rechecks = 0;
    loop {
        let outcome = run_with_info(s.store, &policy(), |tx| body(tx)).await;
        match outcome {
            Err(error) if error.maybe_committed() && rechecks < MAX_RECHECKS => rechecks += 1,
            other => return other,
        }
    }
}

/// Commits `body` once in effect, however often it runs: the transaction
/// first reads an idempotency record at `marker` and writes it with its
/// effects, so running it again after an unknown outcome finds the earlier
/// commit (as the broker's offset transaction finds its commit record).
/// `Some` with the body's value when this call's attempt committed it,
/// `None` when an earlier attempt had.
pub(super) async fn exactly_once<T: Send>(
    s: &Subject<'_>,
    marker: &[u8],
    body: impl for<'t> Fn(&'t mut dyn Transaction) -> BoxFuture<'t, Result<T, MetaError>> + Send + Sync,
) -> Option<T> {
    let body = &body;
    let (value, _) = try_commit_with(s, |tx| {
        Box::pin(async move {
            if tx.get(marker).await?.is_some() {
                return Ok(None);
            }
            let value = body(tx).await?;
            tx.set(marker, b"done")?;
            Ok(Some(value))
        })
    })
    .await
    .expect("commit once through the retry loop and the idempotency record");
    value
}

/// Commits `body` once in effect (an idempotency record at `marker`), with
/// `between` (which commits other transactions) run after the body and
/// before the commit, and asserts the commit was not refused: every failed
/// attempt is accounted for by a fault injected meanwhile, so on a plain
/// store the first attempt commits.
pub(super) async fn commits_despite<'b>(
    s: &Subject<'_>,
    what: &str,
    marker: &[u8],
    body: impl for<'t> Fn(&'t mut dyn Transaction) -> BoxFuture<'t, Result<(), MetaError>> + Send + Sync,
    between: impl Fn() -> BoxFuture<'b, ()> + Sync,
) {
    let attempts = AtomicU64::new(0);
    let injected_before = s.injected();
    let (body, between, attempts_ref) = (&body, &between, &attempts);
    try_commit_with(s, |tx| {
        attempts_ref.fetch_add(1, Ordering::Relaxed);
        Box::pin(async move {
            if tx.get(marker).await?.is_some() {
                return Ok(());
            }
            body(tx).await?;
            between().await;
            tx.set(marker, b"done")?;
            Ok(())
        })
    })
    .await
    .unwrap_or_else(|error| panic!("{what}: {error}"));
    let attempts = attempts.load(Ordering::Relaxed);
    let injected = s.injected() - injected_before;
    assert!(
        attempts <= 1 + injected,
        "{what}: {attempts} attempts with {injected} faults injected meanwhile"
    );
}

/// Begins a transaction and runs `body` in it, beginning again while that
/// fails retryably, and returns it open (for a check that commits others
/// before it).
pub(super) async fn open(
    s: &Subject<'_>,
    body: impl for<'t> Fn(&'t mut dyn Transaction) -> BoxFuture<'t, Result<(), MetaError>> + Send + Sync,
) -> Box<dyn Transaction> {
    for _ in 0..policy().max_attempts {
        let mut tx = match s.store.begin().await {
            Ok(tx) => tx,
            Err(error) if error.is_retryable() => continue,
            Err(error) => panic!("begin: {error}"),
        };
        match body(&mut *tx).await {
            Ok(()) => return tx,
            Err(error) if error.is_retryable() => {}
            Err(error) => panic!("open transaction: {error}"),
        }
    }
    panic!("could not open a transaction through the faults")
}

/// Commits `tx`, which a concurrent commit must have made conflict: on a
/// plain store exactly [`MetaError::Conflict`]; under faults any failure a
/// caller would retry or resolve, never success. Whether its writes stayed
/// out is for the caller to check.
pub(super) async fn must_conflict(s: &Subject<'_>, tx: Box<dyn Transaction>, what: &str) {
    match tx.commit().await {
        Err(MetaError::Conflict) => {}
        Err(error) if s.is_faulty() && (error.is_retryable() || error.maybe_committed()) => {}
        other => panic!("{what}: expected a conflict, got {other:?}"),
    }
}

/// Opens a transaction with `body`, runs `between` (which commits others),
/// then asserts the transaction conflicts ([`must_conflict`]).
pub(super) async fn must_conflict_after<'b>(
    s: &Subject<'_>,
    what: &str,
    body: impl for<'t> Fn(&'t mut dyn Transaction) -> BoxFuture<'t, Result<(), MetaError>> + Send + Sync,
    between: impl Fn() -> BoxFuture<'b, ()>,
) {
    let tx = open(s, body).await;
    between().await;
    must_conflict(s, tx, what).await;
}

/// A read the check expects refused with `expected`; an injected transient
/// failure instead is passed on for the retry loop.
pub(super) fn refused<T: std::fmt::Debug>(
    outcome: Result<T, MetaError>,
    expected: fn(&MetaError) -> bool,
) -> Result<(), MetaError> {
    match outcome {
        Err(error) if expected(&error) => Ok(()),
        Err(error) if error.is_retryable() => Err(error),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// Writes the pairs in one transaction; returns its commit version.
pub(super) async fn set_all(
    s: &Subject<'_>,
    pairs: &'static [(&'static [u8], &'static [u8])],
) -> u64 {
    let (_, info) = commit(s, move |tx| {
        Box::pin(async move {
            for (key, value) in pairs {
                tx.set(key, value)?;
            }
            Ok(())
        })
    })
    .await;
    info.version
}

/// Writes one pair; returns the commit version.
pub(super) async fn set(s: &Subject<'_>, key: &'static [u8], value: &'static [u8]) -> u64 {
    let (_, info) = commit(s, move |tx| {
        Box::pin(async move {
            tx.set(key, value)?;
            Ok(())
        })
    })
    .await;
    info.version
}

/// A `between` for [`commits_despite`]: writes one pair.
pub(super) fn setting<'b>(
    s: &'b Subject<'_>,
    key: &'static [u8],
    value: &'static [u8],
) -> impl Fn() -> BoxFuture<'b, ()> + Sync + 'b {
    move || {
        Box::pin(async move {
            set(s, key, value).await;
        })
    }
}

/// A `between` for [`commits_despite`] and [`must_conflict_after`]:
/// commits `body` ([`commit`]).
pub(super) fn committing<'b>(
    s: &'b Subject<'_>,
    body: impl for<'t> Fn(&'t mut dyn Transaction) -> BoxFuture<'t, Result<(), MetaError>>
    + Send
    + Sync
    + 'b,
) -> impl Fn() -> BoxFuture<'b, ()> + Sync + 'b {
    let body = std::sync::Arc::new(body);
    move || {
        let body = std::sync::Arc::clone(&body);
        Box::pin(async move {
            commit(s, move |tx| body(tx)).await;
        })
    }
}

/// Reads one key in a transaction of its own.
pub(super) async fn get(s: &Subject<'_>, key: &[u8]) -> Option<Bytes> {
    let key = Bytes::copy_from_slice(key);
    let (value, _) = commit(s, move |tx| {
        let key = key.clone();
        Box::pin(async move { tx.get(&key).await })
    })
    .await;
    value
}

/// Reads a range in a transaction of its own, rendered `key=value`.
pub(super) async fn range(
    s: &Subject<'_>,
    begin: &'static [u8],
    end: &'static [u8],
    options: RangeOptions,
) -> Vec<String> {
    let (pairs, _) = commit(s, move |tx| {
        Box::pin(async move { tx.get_range(begin, end, options).await })
    })
    .await;
    render(&pairs)
}

pub(super) fn render(pairs: &[(Bytes, Bytes)]) -> Vec<String> {
    let text = |b: &Bytes| String::from_utf8_lossy(b).into_owned();
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", text(k), text(v)))
        .collect()
}
