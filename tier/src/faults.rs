//! Seeded fault injection for any [`ObjectStore`], for tests, simulations and
//! load runs.
//!
//! [`FaultStore`] delays calls and makes them fail or hang according to
//! [`FaultRule`]s. Every random draw comes from one `StdRng` seeded with
//! [`FaultConfig::seed`], so the same seed and the same sequence of calls give
//! the same faults. Concurrent callers make the sequence depend on
//! scheduling; a deterministic test issues its calls in a fixed order.
//!
//! For each call, every rule whose operations and path prefix match applies,
//! in order: the latencies of all of them add up, and the first rule that
//! draws a fault decides it:
//! - **error**: the inner store is not called; the caller gets
//!   `object_store::Error::Generic { store: "fault-injector", .. }`.
//! - **hang** (`timeout` rate): the call sleeps [`FaultRule::hang`] so the
//!   caller's own timeout fires, then fails like an error. With
//!   [`FaultRule::lost_ack`] the inner call runs to completion first, so its
//!   effect lands and only the answer is lost: the case a create-only PUT
//!   retry has to resolve.
//!
//! Matching uses the destination path: the object for PUT/GET/HEAD/DELETE,
//! `to` for copy and rename, the prefix (empty when none) for lists. A path
//! prefix is a plain string prefix (`wal/` matches `wal/x`, not `walrus`).
//! `get_ranges` goes through `get_opts` (the trait default), so each ranged
//! GET draws its own fault. Multipart uploads draw a fault when they start;
//! their parts are forwarded untouched. Deletes are faulted one location at a
//! time, so a `delete_stream` is run sequentially.
//!
//! It must never be in a production tier unless an operator asked for it: it
//! exists to break things.
//!
//! # Spec strings
//!
//! [`FaultConfig`] parses from (and prints as) a compact spec for CLI flags
//! and environment variables:
//!
//! ```text
//! spec     = item *(";" item)               blank items are ignored
//! item     = "seed=" u64 | rule              seed defaults to 0
//! rule     = ops ["@" prefix] ":" [setting *("," setting)]
//! ops      = "*" | op *("|" op)              op: put get head delete list copy rename multipart
//! setting  = "error=" p | "timeout=" p       probabilities in 0..=1, error + timeout <= 1
//!          | "hang=" duration                how long a hang lasts (default 300s)
//!          | "lost_ack"                      a hung call's effect lands first
//!          | "limit=" u64                    at most this many faults from this rule
//!          | "latency=" latency
//! latency  = duration | "uniform(" duration "," duration ")"
//!          | "spike(" base "," spike "," p ")"   spike instead of base with probability p
//! duration = number unit                     unit: ns us ms s m h; e.g. 5ms, 1.5s
//! ```
//!
//! For example `seed=7;put@wal/:error=0.05,timeout=0.01,lost_ack;get|head:latency=spike(5ms,2s,0.01)`.
//! The prefix may not contain `;`.

mod spec;

use std::collections::BTreeSet;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::{self, BoxStream};
use object_store::path::Path;
use object_store::{
    CopyOptions, Error, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub use self::spec::FaultSpecError;
use super::operation::Operation;

/// The `store` name on injected errors.
pub const FAULT_STORE_NAME: &str = "fault-injector";

/// How long a hang lasts unless a rule says otherwise: far beyond any sane
/// call timeout, so the caller's timeout is what ends it.
pub use super::limits::DEFAULT_HANG;

/// The faults to inject and the seed that makes them reproducible.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultConfig {
    pub seed: u64,
    pub rules: Vec<FaultRule>,
}

/// Faults for calls of some operations under some path prefix.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRule {
    /// The operations this rule applies to.
    pub operations: BTreeSet<Operation>,
    /// Only paths starting with this string; `None` matches every path.
    pub path_prefix: Option<String>,
    /// Probability that a call fails without reaching the inner store.
    pub error_rate: f64,
    /// Probability that a call hangs for [`FaultRule::hang`].
    pub timeout_rate: f64,
    /// How long a hang lasts before the call fails.
    pub hang: Duration,
    /// Run the inner call before hanging, so its effect lands but the answer
    /// is lost.
    pub lost_ack: bool,
    /// Delay added to every matching call, faulted or not.
    pub latency: Latency,
    /// Stop injecting errors and hangs after this many (latency continues).
    pub limit: Option<u64>,
}

impl Default for FaultRule {
    fn default() -> Self {
        Self {
            operations: Operation::ALL.into_iter().collect(),
            path_prefix: None,
            error_rate: 0.0,
            timeout_rate: 0.0,
            hang: DEFAULT_HANG,
            lost_ack: false,
            latency: Latency::None,
            limit: None,
        }
    }
}

impl FaultRule {
    /// A rule for `operations` that injects nothing until its fields are set.
    pub fn for_ops(operations: impl IntoIterator<Item = Operation>) -> Self {
        Self {
            operations: operations.into_iter().collect(),
            ..Self::default()
        }
    }

    fn matches(&self, op: Operation, path: &str) -> bool {
        self.operations.contains(&op)
            && self
                .path_prefix
                .as_deref()
                .is_none_or(|prefix| path.starts_with(prefix))
    }
}

/// A distribution of added delay.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Latency {
    #[default]
    None,
    Fixed(Duration),
    /// Uniform between `min` and `max`, both included.
    Uniform {
        min: Duration,
        max: Duration,
    },
    /// `base`, except `spike` with the given probability: a tail-latency model.
    Spike {
        base: Duration,
        spike: Duration,
        probability: f64,
    },
}

impl Latency {
    fn sample(&self, rng: &mut StdRng) -> Duration {
        match *self {
            Self::None => Duration::ZERO,
            Self::Fixed(d) => d,
            Self::Uniform { min, max } if min < max => rng.random_range(min..=max),
            Self::Uniform { min, .. } => min,
            Self::Spike {
                base,
                spike,
                probability,
            } => {
                if rng.random::<f64>() < probability {
                    spike
                } else {
                    base
                }
            }
        }
    }
}

/// Counts of what a [`FaultStore`] has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct FaultStats {
    /// Calls that were checked against the rules.
    pub calls: u64,
    /// Injected errors.
    pub errors: u64,
    /// Injected hangs.
    pub hangs: u64,
}

/// The error inside every injected `Error::Generic`.
#[derive(Debug, thiserror::Error)]
#[error(
    "injected {kind} for {operation} of {location:?} by fault rule {rule}; this failure is simulated by the fault injector, not a real store failure"
)]
pub struct InjectedFault {
    pub kind: &'static str,
    pub operation: Operation,
    pub location: String,
    /// Index of the rule in [`FaultConfig::rules`].
    pub rule: usize,
}

/// An [`ObjectStore`] wrapper that injects seeded faults; see the module docs.
#[derive(Debug)]
pub struct FaultStore<S> {
    inner: Arc<S>,
    injector: Arc<Injector>,
}

impl<S: ObjectStore> FaultStore<S> {
    /// Wraps `inner`. The config is used as given; [`FaultConfig::validate`]
    /// checks one built in code (parsing validates already).
    pub fn new(inner: S, config: FaultConfig) -> Self {
        let state = State {
            rng: StdRng::seed_from_u64(config.seed),
            fired: vec![0; config.rules.len()],
        };
        Self {
            inner: Arc::new(inner),
            injector: Arc::new(Injector {
                config,
                state: Mutex::new(state),
                calls: AtomicU64::new(0),
                errors: AtomicU64::new(0),
                hangs: AtomicU64::new(0),
            }),
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &FaultConfig {
        &self.injector.config
    }

    /// What has been injected so far.
    pub fn stats(&self) -> FaultStats {
        let i = &self.injector;
        FaultStats {
            calls: i.calls.load(Ordering::Relaxed),
            errors: i.errors.load(Ordering::Relaxed),
            hangs: i.hangs.load(Ordering::Relaxed),
        }
    }
}

impl<S: ObjectStore> fmt::Display for FaultStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FaultStore({}, {})", self.injector.config, self.inner)
    }
}

#[async_trait]
impl<S: ObjectStore> ObjectStore for FaultStore<S> {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        let call = self.inner.put_opts(location, payload, opts);
        self.injector
            .apply(Operation::Put, location.as_ref(), call)
            .await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        let call = self.inner.put_multipart_opts(location, opts);
        self.injector
            .apply(Operation::Multipart, location.as_ref(), call)
            .await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let op = Operation::of_get(&options);
        let call = self.inner.get_opts(location, options);
        self.injector.apply(op, location.as_ref(), call).await
    }

    // `get_ranges` deliberately uses the trait default: see the module docs.

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        let inner = Arc::clone(&self.inner);
        let injector = Arc::clone(&self.injector);
        locations
            .then(move |location| {
                let inner = Arc::clone(&inner);
                let injector = Arc::clone(&injector);
                async move {
                    let location = location?;
                    let single = stream::iter([Ok(location.clone())]).boxed();
                    let call = async {
                        let mut out = inner.delete_stream(single);
                        out.next().await.unwrap_or_else(|| Ok(location.clone()))
                    };
                    injector
                        .apply(Operation::Delete, location.as_ref(), call)
                        .await
                }
            })
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        let label = prefix.map(Path::to_string).unwrap_or_default();
        let decision = self.injector.decide(Operation::List, &label);
        let inner = self.inner.list(prefix);
        self.injector.apply_stream(decision, label, inner)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        let label = prefix.map(Path::to_string).unwrap_or_default();
        let decision = self.injector.decide(Operation::List, &label);
        let inner = self.inner.list_with_offset(prefix, offset);
        self.injector.apply_stream(decision, label, inner)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        let label = prefix.map(Path::as_ref).unwrap_or_default();
        let call = self.inner.list_with_delimiter(prefix);
        self.injector.apply(Operation::List, label, call).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        let call = self.inner.copy_opts(from, to, options);
        self.injector
            .apply(Operation::Copy, to.as_ref(), call)
            .await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        let call = self.inner.rename_opts(from, to, options);
        self.injector
            .apply(Operation::Rename, to.as_ref(), call)
            .await
    }
}

/// The rules, the seeded randomness and the tallies, shared with `'static`
/// streams.
#[derive(Debug)]
struct Injector {
    config: FaultConfig,
    state: Mutex<State>,
    calls: AtomicU64,
    errors: AtomicU64,
    hangs: AtomicU64,
}

#[derive(Debug)]
struct State {
    rng: StdRng,
    /// Faults injected per rule, for [`FaultRule::limit`].
    fired: Vec<u64>,
}

/// What to do to one call, drawn before the call starts.
#[derive(Debug, Clone, Copy)]
struct Decision {
    op: Operation,
    delay: Duration,
    fault: Option<Fault>,
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    Error {
        rule: usize,
    },
    Hang {
        rule: usize,
        hang: Duration,
        lost_ack: bool,
    },
}

impl Injector {
    fn decide(&self, op: Operation, path: &str) -> Decision {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let mut delay = Duration::ZERO;
        let mut fault = None;
        let mut guard = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let State { rng, fired } = &mut *guard;
        for (i, rule) in self.config.rules.iter().enumerate() {
            if !rule.matches(op, path) {
                continue;
            }
            delay = delay.saturating_add(rule.latency.sample(rng));
            // Drawn even when unused, so one rule's outcome does not shift the
            // draws of the others.
            let roll: f64 = rng.random();
            let spent = fired.get(i).copied().unwrap_or(0);
            if fault.is_some() || rule.limit.is_some_and(|limit| spent >= limit) {
                continue;
            }
            if roll < rule.error_rate {
                fault = Some(Fault::Error { rule: i });
            } else if roll < rule.error_rate + rule.timeout_rate {
                fault = Some(Fault::Hang {
                    rule: i,
                    hang: rule.hang,
                    lost_ack: rule.lost_ack,
                });
            }
            if fault.is_some()
                && let Some(n) = fired.get_mut(i)
            {
                *n += 1;
            }
        }
        match fault {
            Some(Fault::Error { .. }) => self.errors.fetch_add(1, Ordering::Relaxed),
            Some(Fault::Hang { .. }) => self.hangs.fetch_add(1, Ordering::Relaxed),
            None => 0,
        };
        Decision { op, delay, fault }
    }

    /// Decides, delays, then runs `call` or injects the fault.
    async fn apply<T>(
        &self,
        op: Operation,
        path: &str,
        call: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let decision = self.decide(op, path);
        sleep(decision.delay).await;
        match decision.fault {
            None => call.await,
            Some(Fault::Error { rule }) => Err(injected("error", op, path, rule)),
            Some(Fault::Hang {
                rule,
                hang,
                lost_ack,
            }) => {
                if lost_ack {
                    // The effect lands; its answer is what we lose.
                    let _ = call.await;
                }
                sleep(hang).await;
                Err(injected("hang", op, path, rule))
            }
        }
    }

    /// Like [`Injector::apply`] for a list stream; the decision was drawn when
    /// the list was requested, so the draw order is the call order.
    fn apply_stream<T: Send + 'static>(
        &self,
        decision: Decision,
        path: String,
        inner: BoxStream<'static, Result<T>>,
    ) -> BoxStream<'static, Result<T>> {
        stream::once(async move {
            sleep(decision.delay).await;
            let (kind, rule, hang) = match decision.fault {
                None => return inner,
                Some(Fault::Error { rule }) => ("error", rule, Duration::ZERO),
                Some(Fault::Hang { rule, hang, .. }) => ("hang", rule, hang),
            };
            sleep(hang).await;
            let err = injected(kind, decision.op, &path, rule);
            stream::iter([Err(err)]).boxed()
        })
        .flatten()
        .boxed()
    }
}

async fn sleep(d: Duration) {
    if !d.is_zero() {
        tokio::time::sleep(d).await;
    }
}

fn injected(kind: &'static str, operation: Operation, location: &str, rule: usize) -> Error {
    Error::Generic {
        store: FAULT_STORE_NAME,
        source: Box::new(InjectedFault {
            kind,
            operation,
            location: location.to_owned(),
            rule,
        }),
    }
}
