//! Seeded fault injection for any [`MetaStore`], for tests and simulations
//! (feature `faults`; always built for this crate's own tests).
//!
//! [`FaultyMetaStore`] wraps a store and, from one `StdRng` seeded with
//! [`FaultConfig::seed`], makes its transactions fail the ways a networked
//! backend does, through the same [`MetaError`]s, so callers exercise the
//! logic they rely on in production: [`crate::run`]'s retries and the
//! idempotency records that resolve an unknown commit outcome.
//!
//! - **Conflicts**: a commit of a transaction that wrote fails with
//!   [`MetaError::Conflict`] without reaching the store.
//! - **Unknown outcome, committed**: the commit reaches the store and
//!   succeeds, and the caller is told [`MetaError::CommitUnknownResult`] (a
//!   lost answer). If the store refuses the commit, its own error is passed
//!   on: a fault never makes a failed commit look like anything else.
//! - **Unknown outcome, not committed**: the caller is told
//!   [`MetaError::CommitUnknownResult`] and nothing reached the store.
//! - **Transient errors**: `begin`, a read, or a commit fails with a
//!   retryable [`MetaError::TransactionTooOld`], [`MetaError::FutureVersion`]
//!   or [`MetaError::Busy`] (one drawn at random), and nothing was committed.
//! - **Latency**: `begin`, a read, or a commit first sleeps up to
//!   [`FaultConfig::max_delay`] with `tokio::time::sleep`, so under paused
//!   time it costs nothing and stays deterministic.
//!
//! Read-only commits (nothing written) and watches pass through untouched:
//! FoundationDB answers the first locally, and a watch may already fire
//! spuriously. [`Faults`] counts every fault injected, so a test can prove
//! its run really met each kind.
//!
//! The same seed and the same sequence of calls give the same faults (see
//! [`Faults::fingerprint`]); concurrent callers make the sequence depend on
//! scheduling, so a deterministic test issues its calls from one task, under
//! paused time. It must never wrap a production store: it exists to break
//! things.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::{CommitInfo, MetaError, MetaStore, RangeOptions, Transaction, Watch};

mod jitter;
pub(crate) use jitter::next as seeded_jitter;
pub use jitter::{JitterGuard, seed_retry_jitter};

/// What to inject, and how often. Rates are probabilities in `0..=1`.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultConfig {
    /// Seeds every random draw.
    pub seed: u64,
    /// Of commits that wrote: the share that fail with a conflict.
    pub conflict: f64,
    /// Of commits that wrote: the share applied but answered "unknown".
    pub unknown_committed: f64,
    /// Of commits that wrote: the share not applied and answered "unknown".
    pub unknown_not_committed: f64,
    /// Of begins, reads and commits that wrote: the share that fail with a
    /// transient, retryable error.
    pub transient: f64,
    /// Of begins, reads and commits: the share delayed first.
    pub delay: f64,
    /// Longest delay; each is drawn uniformly up to it.
    pub max_delay: Duration,
}

impl FaultConfig {
    /// No faults at all: a starting point for `..` updates.
    pub fn none(seed: u64) -> Self {
        Self {
            seed,
            conflict: 0.0,
            unknown_committed: 0.0,
            unknown_not_committed: 0.0,
            transient: 0.0,
            delay: 0.0,
            max_delay: Duration::ZERO,
        }
    }

    /// Checks that every rate is a probability and that the commit outcomes
    /// (conflict, the two unknowns, transient) add up to at most 1.
    pub fn validate(&self) -> Result<(), String> {
        let rates = [
            ("conflict", self.conflict),
            ("unknown_committed", self.unknown_committed),
            ("unknown_not_committed", self.unknown_not_committed),
            ("transient", self.transient),
            ("delay", self.delay),
        ];
        for (name, rate) in rates {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("fault rate {name} = {rate} is not in 0..=1"));
            }
        }
        let commit =
            self.conflict + self.unknown_committed + self.unknown_not_committed + self.transient;
        if commit > 1.0 {
            return Err(format!(
                "commit fault rates add up to {commit}, more than 1; lower conflict, \
                 unknown_committed, unknown_not_committed or transient"
            ));
        }
        Ok(())
    }
}

/// The faults one [`FaultyMetaStore`] injected so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Commits failed with an injected conflict.
    pub conflicts: u64,
    /// Commits applied and answered "unknown".
    pub unknown_committed: u64,
    /// Commits not applied and answered "unknown".
    pub unknown_not_committed: u64,
    /// Begins, reads and commits failed with a transient error.
    pub transient: u64,
    /// Begins, reads and commits delayed.
    pub delays: u64,
    /// Commits that wrote and were passed to the store with a true answer.
    pub passed: u64,
}

impl FaultCounts {
    /// Failures injected (every kind but delays).
    pub fn injected(&self) -> u64 {
        self.conflicts + self.unknown_committed + self.unknown_not_committed + self.transient
    }

    /// Whether at least one fault of every kind, delays included, was injected.
    pub fn every_kind(&self) -> bool {
        [
            self.conflicts,
            self.unknown_committed,
            self.unknown_not_committed,
            self.transient,
            self.delays,
        ]
        .iter()
        .all(|&count| count > 0)
    }
}

/// The counters of a [`FaultyMetaStore`], shared with its transactions.
#[derive(Debug, Default)]
pub struct Faults {
    conflicts: AtomicU64,
    unknown_committed: AtomicU64,
    unknown_not_committed: AtomicU64,
    transient: AtomicU64,
    delays: AtomicU64,
    passed: AtomicU64,
    fingerprint: AtomicU64,
}

impl Faults {
    /// The counts so far.
    pub fn counts(&self) -> FaultCounts {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        FaultCounts {
            conflicts: load(&self.conflicts),
            unknown_committed: load(&self.unknown_committed),
            unknown_not_committed: load(&self.unknown_not_committed),
            transient: load(&self.transient),
            delays: load(&self.delays),
            passed: load(&self.passed),
        }
    }

    /// A hash of every decision taken so far, in order (which operation,
    /// which fault, how long a delay): equal for two runs exactly when they
    /// drew the same faults for the same operations.
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint.load(Ordering::Relaxed)
    }

    fn count(&self, counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Where in a transaction a draw happens, for the fingerprint.
#[derive(Debug, Clone, Copy)]
enum Site {
    Begin = 1,
    Read = 2,
    Commit = 3,
}

/// What a commit that wrote does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CommitFault {
    Pass,
    Conflict,
    UnknownCommitted,
    UnknownNotCommitted,
    Transient,
}

/// The configuration, the seeded randomness and the counters.
#[derive(Debug)]
struct Injector {
    config: FaultConfig,
    rng: Mutex<StdRng>,
    faults: Faults,
}

impl Injector {
    /// Draws under the lock; never held across an await.
    fn draw<T>(&self, site: Site, decide: impl FnOnce(&mut StdRng) -> (T, u64)) -> T {
        let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
        let (decision, code) = decide(&mut rng);
        let step = ((site as u64) << 56) ^ code;
        let previous = self.faults.fingerprint.load(Ordering::Relaxed);
        let next = mix(previous ^ step);
        self.faults.fingerprint.store(next, Ordering::Relaxed);
        decision
    }

    /// Sleeps if a delay is drawn, then fails if a transient error is.
    async fn before(&self, site: Site, transient_allowed: bool) -> Result<(), MetaError> {
        let config = &self.config;
        let (delay, transient) = self.draw(site, |rng| {
            let delay = (rng.random::<f64>() < config.delay)
                .then(|| rng.random_range(Duration::ZERO..=config.max_delay));
            let transient = (transient_allowed && rng.random::<f64>() < config.transient)
                .then(|| transient_error(rng));
            let code = delay.map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
            let kind = transient.as_ref().map_or(0, transient_code);
            ((delay, transient), (code << 4) | kind)
        });
        if let Some(delay) = delay {
            self.faults.count(&self.faults.delays);
            tokio::time::sleep(delay).await;
        }
        match transient {
            Some(error) => {
                self.faults.count(&self.faults.transient);
                Err(error)
            }
            None => Ok(()),
        }
    }

    fn commit_fault(&self) -> CommitFault {
        let config = &self.config;
        self.draw(Site::Commit, |rng| {
            let roll = rng.random::<f64>();
            let thresholds = [
                (config.conflict, CommitFault::Conflict),
                (config.unknown_committed, CommitFault::UnknownCommitted),
                (
                    config.unknown_not_committed,
                    CommitFault::UnknownNotCommitted,
                ),
                (config.transient, CommitFault::Transient),
            ];
            let mut below = 0.0;
            for (index, (rate, fault)) in thresholds.into_iter().enumerate() {
                below += rate;
                if roll < below {
                    return (fault, index as u64 + 1);
                }
            }
            (CommitFault::Pass, 0)
        })
    }
}

fn transient_error(rng: &mut StdRng) -> MetaError {
    match rng.random_range(0..3u8) {
        0 => MetaError::TransactionTooOld,
        1 => MetaError::FutureVersion,
        _ => MetaError::Busy {
            reason: "injected fault".into(),
        },
    }
}

fn transient_code(error: &MetaError) -> u64 {
    match error {
        MetaError::TransactionTooOld => 1,
        MetaError::FutureVersion => 2,
        _ => 3,
    }
}

/// SplitMix64's finaliser: spreads every input bit over the output.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A [`MetaStore`] that injects faults into `S`'s transactions; see the
/// module documentation.
#[derive(Debug)]
pub struct FaultyMetaStore<S> {
    inner: S,
    injector: Arc<Injector>,
}

impl<S: MetaStore> FaultyMetaStore<S> {
    /// Wraps `inner`.
    ///
    /// # Panics
    ///
    /// If `config` is invalid ([`FaultConfig::validate`]): it is a test
    /// tool, and a wrong rate is a bug in the test.
    pub fn new(inner: S, config: FaultConfig) -> Self {
        if let Err(message) = config.validate() {
            panic!("invalid fault configuration: {message}");
        }
        let rng = Mutex::new(StdRng::seed_from_u64(config.seed));
        Self {
            inner,
            injector: Arc::new(Injector {
                config,
                rng,
                faults: Faults::default(),
            }),
        }
    }

    /// What was injected so far.
    pub fn faults(&self) -> &Faults {
        &self.injector.faults
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

#[async_trait]
impl<S: MetaStore> MetaStore for FaultyMetaStore<S> {
    async fn begin(&self) -> Result<Box<dyn Transaction>, MetaError> {
        self.injector.before(Site::Begin, true).await?;
        Ok(Box::new(FaultyTransaction {
            inner: self.inner.begin().await?,
            injector: Arc::clone(&self.injector),
            wrote: false,
        }))
    }

    fn watch(&self, key: &[u8]) -> Watch {
        self.inner.watch(key)
    }

    fn backend_name(&self) -> &'static str {
        self.inner.backend_name()
    }
}

struct FaultyTransaction {
    inner: Box<dyn Transaction>,
    injector: Arc<Injector>,
    /// Whether anything was written: only those commits get commit faults.
    wrote: bool,
}

impl FaultyTransaction {
    fn wrote(&mut self, outcome: Result<(), MetaError>) -> Result<(), MetaError> {
        self.wrote |= outcome.is_ok();
        outcome
    }
}

#[async_trait]
impl Transaction for FaultyTransaction {
    fn read_version(&self) -> u64 {
        self.inner.read_version()
    }

    async fn get(&mut self, key: &[u8]) -> Result<Option<Bytes>, MetaError> {
        self.injector.before(Site::Read, true).await?;
        self.inner.get(key).await
    }

    async fn snapshot_get(&mut self, key: &[u8]) -> Result<Option<Bytes>, MetaError> {
        self.injector.before(Site::Read, true).await?;
        self.inner.snapshot_get(key).await
    }

    async fn get_range(
        &mut self,
        begin: &[u8],
        end: &[u8],
        options: RangeOptions,
    ) -> Result<Vec<(Bytes, Bytes)>, MetaError> {
        self.injector.before(Site::Read, true).await?;
        self.inner.get_range(begin, end, options).await
    }

    fn set(&mut self, key: &[u8], value: &[u8]) -> Result<(), MetaError> {
        let outcome = self.inner.set(key, value);
        self.wrote(outcome)
    }

    fn clear(&mut self, key: &[u8]) -> Result<(), MetaError> {
        let outcome = self.inner.clear(key);
        self.wrote(outcome)
    }

    fn clear_range(&mut self, begin: &[u8], end: &[u8]) -> Result<(), MetaError> {
        let outcome = self.inner.clear_range(begin, end);
        self.wrote(outcome)
    }

    fn atomic_add(&mut self, key: &[u8], delta: i64) -> Result<(), MetaError> {
        let outcome = self.inner.atomic_add(key, delta);
        self.wrote(outcome)
    }

    fn set_versionstamped_value(
        &mut self,
        key: &[u8],
        value_prefix: &[u8],
    ) -> Result<(), MetaError> {
        let outcome = self.inner.set_versionstamped_value(key, value_prefix);
        self.wrote(outcome)
    }

    fn add_read_conflict_key(&mut self, key: &[u8]) -> Result<(), MetaError> {
        self.inner.add_read_conflict_key(key)
    }

    async fn commit(self: Box<Self>) -> Result<CommitInfo, MetaError> {
        let Self {
            inner,
            injector,
            wrote,
        } = *self;
        if !wrote {
            return inner.commit().await;
        }
        // The transient draw happens in `commit_fault`, with the others.
        injector.before(Site::Commit, false).await?;
        let faults = &injector.faults;
        match injector.commit_fault() {
            CommitFault::Pass => {
                let outcome = inner.commit().await;
                if outcome.is_ok() {
                    faults.count(&faults.passed);
                }
                outcome
            }
            CommitFault::Conflict => {
                faults.count(&faults.conflicts);
                Err(MetaError::Conflict)
            }
            CommitFault::UnknownCommitted => {
                inner.commit().await?;
                faults.count(&faults.unknown_committed);
                Err(MetaError::CommitUnknownResult)
            }
            CommitFault::UnknownNotCommitted => {
                faults.count(&faults.unknown_not_committed);
                Err(MetaError::CommitUnknownResult)
            }
            CommitFault::Transient => {
                let error = injector.draw(Site::Commit, |rng| {
                    let error = transient_error(rng);
                    let code = transient_code(&error);
                    (error, code)
                });
                faults.count(&faults.transient);
                Err(error)
            }
        }
    }
}

#[cfg(test)]
mod tests;
