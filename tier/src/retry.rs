//! Retries with backoff and a per-attempt timeout for any [`ObjectStore`].
//!
//! [`RetryStore`] retries failures that may be transient (see
//! [`is_retryable`]) with exponential backoff and full jitter, and bounds every
//! attempt with [`RetryConfig::call_timeout`], turning a hung call into a
//! retryable error. It must never turn one logical write into two different
//! outcomes, so conditional writes get special care:
//!
//! - **Create-only PUT** (`PutMode::Create`, how WAL objects are written): if
//!   an attempt failed or timed out, it may still have landed, and the retry
//!   then gets `AlreadyExists`. That is resolved by reading the object back:
//!   our exact bytes → success (the `PutResult` carries the stored e-tag and
//!   version); other bytes → `AlreadyExists`, a genuine conflict. A first
//!   attempt's `AlreadyExists` is returned as-is, without reading.
//!   `PutMode::Update` is resolved the same way when a retry gets
//!   `Precondition`. Equal bytes are indistinguishable from our own write, so
//!   a caller that must tell writers apart puts a writer id in the bytes.
//! - **Create-only copy** is resolved the same way, comparing source and
//!   destination bytes.
//! - **Delete** that gets `NotFound` on a retry counts as done: the earlier
//!   attempt deleted it. Deletes are retried one location at a time, with up
//!   to [`DELETE_CONCURRENCY`] in flight, so a store's batched delete is not
//!   used; deletes are garbage collection, not a latency path.
//!
//! An abandoned attempt can still land after its retry (a blocking file write
//! cannot be cancelled; an HTTP request may already be on the wire). For
//! create-only and conditional writes that is harmless, the store rejects the
//! late one; an *overwriting* PUT to a key that is rewritten could be
//! reordered, which is one more reason Stratus keys are immutable.
//!
//! What is *not* retried, and why:
//! - `get_opts` is retried until the store answers with a body stream; an
//!   error while the caller reads the body is returned to the caller, since
//!   restarting would silently re-deliver bytes it already consumed.
//! - `list`/`list_with_offset` are retried until the first entry (or the end)
//!   arrives; after that, listing order is not guaranteed across stores, so a
//!   restart could duplicate or skip entries.
//! - `put_multipart_opts` is forwarded untouched, without timeout: a streaming
//!   upload cannot be replayed from here. Callers that need retries for large
//!   objects retry the whole upload.
//! - `rename_opts` gets the timeout but no retry: a retry after an unknown
//!   outcome sees the source gone and cannot tell why.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{self, BoxStream};
use futures::{FutureExt, StreamExt};
use object_store::path::Path;
use object_store::{
    CopyMode, CopyOptions, Error, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, PutMode, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions,
    Result,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::limits;

/// The `store` name on errors this wrapper creates.
const STORE: &str = "RetryStore";

/// How many deletes of one `delete_stream` run at once.
pub use super::limits::DELETE_CONCURRENCY;

/// How hard [`RetryStore`] tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryConfig {
    /// Attempts per call, the first included; 0 is treated as 1.
    pub max_attempts: u32,
    /// Upper bound of the first backoff; doubles per retry.
    pub initial_backoff: Duration,
    /// Cap on any single backoff.
    pub max_backoff: Duration,
    /// Bound on each attempt; an attempt that takes longer is abandoned and
    /// counts as a retryable failure whose effect is unknown.
    pub call_timeout: Duration,
}

impl Default for RetryConfig {
    /// The defaults in [`crate::limits`].
    fn default() -> Self {
        Self {
            max_attempts: limits::DEFAULT_MAX_ATTEMPTS,
            initial_backoff: limits::DEFAULT_INITIAL_BACKOFF,
            max_backoff: limits::DEFAULT_MAX_BACKOFF,
            call_timeout: limits::DEFAULT_CALL_TIMEOUT,
        }
    }
}

impl RetryConfig {
    /// The longest one call through a [`RetryStore`] with this config takes
    /// to succeed or give up: every attempt is cut off at `call_timeout`,
    /// and every backoff is at most `max_backoff`. (A body read after
    /// `get_opts` returned, and multipart uploads, are outside it.)
    pub fn longest_call(&self) -> Duration {
        let attempts = self.max_attempts.max(1);
        self.call_timeout * attempts + self.max_backoff * (attempts - 1)
    }
}

/// Whether `err` may go away on retry. Definitive answers (not found, already
/// exists, precondition, not modified, not implemented or supported, denied,
/// bad path or configuration) are not retried, and neither are error kinds
/// added to object_store after 0.14: retrying an unknown kind could repeat a
/// write that did take effect.
pub fn is_retryable(err: &Error) -> bool {
    matches!(err, Error::Generic { .. } | Error::JoinError { .. })
}

/// An attempt that outlived [`RetryConfig::call_timeout`].
#[derive(Debug, thiserror::Error)]
#[error(
    "object store {operation} of {location:?} did not answer within {after:?}; it may still take effect"
)]
pub struct CallTimedOut {
    pub operation: &'static str,
    pub location: String,
    pub after: Duration,
}

/// A call that failed on every attempt.
#[derive(Debug, thiserror::Error)]
#[error(
    "object store {operation} of {location:?} failed {attempts} times, last with: {last}; check that the object store is reachable and healthy"
)]
pub struct RetriesExhausted {
    pub operation: &'static str,
    pub location: String,
    pub attempts: u32,
    #[source]
    pub last: Error,
}

/// A conditional write whose retry hit a conflict that could not be checked.
#[derive(Debug, thiserror::Error)]
#[error(
    "{operation} of {location:?} may or may not have taken effect: a retry found a conflicting object ({conflict}) but reading it back failed: {read}"
)]
pub struct OutcomeUnknown {
    pub operation: &'static str,
    pub location: String,
    pub conflict: String,
    #[source]
    pub read: Error,
}

/// An [`ObjectStore`] wrapper that retries transient failures; see the
/// module docs for exactly what is retried.
#[derive(Debug)]
pub struct RetryStore<S> {
    inner: Arc<S>,
    policy: Arc<Policy>,
}

impl<S: ObjectStore> RetryStore<S> {
    /// Wraps `inner`; backoff jitter is seeded from the OS.
    pub fn new(inner: S, config: RetryConfig) -> Self {
        Self::with_rng(inner, config, StdRng::from_os_rng())
    }

    /// Wraps `inner` with jitter drawn from `seed`, for reproducible runs.
    pub fn with_seed(inner: S, config: RetryConfig, seed: u64) -> Self {
        Self::with_rng(inner, config, StdRng::seed_from_u64(seed))
    }

    fn with_rng(inner: S, config: RetryConfig, rng: StdRng) -> Self {
        Self {
            inner: Arc::new(inner),
            policy: Arc::new(Policy {
                config,
                rng: Mutex::new(rng),
            }),
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> RetryConfig {
        self.policy.config
    }

    /// Reads back an object a conditional write may have created, and answers
    /// with our success if it holds `payload`, with `conflict` otherwise.
    async fn resolve_put(
        &self,
        location: &Path,
        payload: &PutPayload,
        conflict: Error,
    ) -> Result<PutResult> {
        let (read, _) = self
            .policy
            .run("get", location.as_ref(), || {
                read_all(&*self.inner, location)
            })
            .await;
        match read {
            Ok((meta, stored)) if payload_eq(payload, &stored) => {
                tracing::info!(%location, "a retried conditional put had landed; our bytes are in place");
                Ok(PutResult {
                    e_tag: meta.e_tag,
                    version: meta.version,
                    extensions: Default::default(),
                })
            }
            Ok(_) => Err(conflict),
            Err(read) => Err(unknown("put", location, &conflict, read)),
        }
    }

    async fn resolve_copy(&self, from: &Path, to: &Path, conflict: Error) -> Result<()> {
        let read = |p: &'static str, l: &Path| {
            let l = l.clone();
            let inner = Arc::clone(&self.inner);
            let policy = Arc::clone(&self.policy);
            async move { policy.run(p, l.as_ref(), || read_all(&*inner, &l)).await.0 }
        };
        match (read("get", from).await, read("get", to).await) {
            (Ok((_, a)), Ok((_, b))) if a == b => Ok(()),
            (Ok(_), Ok(_)) => Err(conflict),
            (Err(e), _) | (_, Err(e)) => Err(unknown("copy", to, &conflict, e)),
        }
    }
}

impl<S: ObjectStore> fmt::Display for RetryStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RetryStore({})", self.inner)
    }
}

#[async_trait]
impl<S: ObjectStore> ObjectStore for RetryStore<S> {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        let (result, attempts) = self
            .policy
            .run("put", location.as_ref(), || {
                self.inner.put_opts(location, payload.clone(), opts.clone())
            })
            .await;
        // Only after an attempt whose outcome is unknown can a conflict be our own write.
        let ambiguous = attempts > 1;
        match (result, &opts.mode) {
            (Err(e @ Error::AlreadyExists { .. }), PutMode::Create)
            | (Err(e @ Error::Precondition { .. }), PutMode::Update(_))
                if ambiguous =>
            {
                self.resolve_put(location, &payload, e).await
            }
            (result, _) => result,
        }
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let op = if options.head { "head" } else { "get" };
        self.policy
            .run(op, location.as_ref(), || {
                self.inner.get_opts(location, options.clone())
            })
            .await
            .0
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[std::ops::Range<u64>],
    ) -> Result<Vec<Bytes>> {
        // The whole answer is buffered, so a retry re-delivers nothing.
        self.policy
            .run("get_ranges", location.as_ref(), || {
                self.inner.get_ranges(location, ranges)
            })
            .await
            .0
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        let inner = Arc::clone(&self.inner);
        let policy = Arc::clone(&self.policy);
        locations
            .map(move |location| {
                let inner = Arc::clone(&inner);
                let policy = Arc::clone(&policy);
                async move { delete_one(&*inner, &policy, location?).await }
            })
            .buffered(DELETE_CONCURRENCY)
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        let inner = Arc::clone(&self.inner);
        let prefix = prefix.cloned();
        let label = prefix.as_ref().map(Path::to_string).unwrap_or_default();
        retry_first(Arc::clone(&self.policy), label, move || {
            inner.list(prefix.as_ref())
        })
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        let inner = Arc::clone(&self.inner);
        let (prefix, offset) = (prefix.cloned(), offset.clone());
        let label = prefix.as_ref().map(Path::to_string).unwrap_or_default();
        retry_first(Arc::clone(&self.policy), label, move || {
            inner.list_with_offset(prefix.as_ref(), &offset)
        })
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        let label = prefix.map(Path::as_ref).unwrap_or_default();
        self.policy
            .run("list", label, || self.inner.list_with_delimiter(prefix))
            .await
            .0
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        let (result, attempts) = self
            .policy
            .run("copy", to.as_ref(), || {
                self.inner.copy_opts(from, to, options.clone())
            })
            .await;
        match result {
            Err(e @ Error::AlreadyExists { .. })
                if options.mode == CopyMode::Create && attempts > 1 =>
            {
                self.resolve_copy(from, to, e).await
            }
            result => result,
        }
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.policy
            .attempt(
                "rename",
                to.as_ref(),
                self.inner.rename_opts(from, to, options),
            )
            .await
    }
}

/// The retry schedule and its jitter source, shared with `'static` streams.
#[derive(Debug)]
struct Policy {
    config: RetryConfig,
    rng: Mutex<StdRng>,
}

impl Policy {
    /// Full jitter: uniform in `[0, min(max_backoff, initial * 2^(retry-1))]`,
    /// so clients that failed together do not retry together.
    fn backoff(&self, retry: u32) -> Duration {
        let factor = 1u32
            .checked_shl(retry.saturating_sub(1))
            .unwrap_or(u32::MAX);
        let cap = self
            .config
            .initial_backoff
            .saturating_mul(factor)
            .min(self.config.max_backoff);
        let cap_nanos = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
        let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
        Duration::from_nanos(rng.random_range(0..=cap_nanos))
    }

    /// One attempt, bounded by the call timeout.
    async fn attempt<T>(
        &self,
        operation: &'static str,
        location: &str,
        call: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let after = self.config.call_timeout;
        tokio::time::timeout(after, call).await.unwrap_or_else(|_| {
            Err(Error::Generic {
                store: STORE,
                source: Box::new(CallTimedOut {
                    operation,
                    location: location.to_owned(),
                    after,
                }),
            })
        })
    }

    /// Calls until success, a definitive error, or the last attempt; returns
    /// the outcome and how many attempts were made (every one before the last
    /// ended in a retryable error, so its effect is unknown).
    async fn run<T, F, Fut>(
        &self,
        operation: &'static str,
        location: &str,
        mut call: F,
    ) -> (Result<T>, u32)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let max = self.config.max_attempts.max(1);
        let mut attempt = 1;
        loop {
            match self.attempt(operation, location, call()).await {
                Err(last) if is_retryable(&last) && attempt >= max => {
                    let location = location.to_owned();
                    let source = Box::new(RetriesExhausted {
                        operation,
                        location,
                        attempts: attempt,
                        last,
                    });
                    return (
                        Err(Error::Generic {
                            store: STORE,
                            source,
                        }),
                        attempt,
                    );
                }
                Err(err) if is_retryable(&err) => {
                    let wait = self.backoff(attempt);
                    tracing::debug!(operation, location, attempt, ?wait, error = %err, "retrying object store call");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                outcome => return (outcome, attempt),
            }
        }
    }
}

async fn delete_one<S: ObjectStore>(inner: &S, policy: &Policy, location: Path) -> Result<Path> {
    let (result, attempts) = policy
        .run("delete", location.as_ref(), || {
            let single = stream::once(std::future::ready(Ok(location.clone()))).boxed();
            inner
                .delete_stream(single)
                .into_future()
                .map(|(first, _)| first.unwrap_or_else(|| Ok(location.clone())))
        })
        .await;
    match result {
        // An earlier attempt whose answer we lost already deleted it.
        Err(Error::NotFound { .. }) if attempts > 1 => Ok(location),
        result => result,
    }
}

/// Retries opening a stream until its first item (or its end) arrives.
fn retry_first<T, F>(policy: Arc<Policy>, label: String, open: F) -> BoxStream<'static, Result<T>>
where
    T: Send + 'static,
    F: Fn() -> BoxStream<'static, Result<T>> + Send + Sync + 'static,
{
    stream::once(async move {
        let first = policy
            .run("list", &label, || {
                open().into_future().map(|(first, rest)| match first {
                    None => Ok(None),
                    Some(Ok(item)) => Ok(Some((item, rest))),
                    Some(Err(e)) => Err(e),
                })
            })
            .await
            .0;
        match first {
            Ok(None) => stream::empty().boxed(),
            Ok(Some((item, rest))) => stream::once(std::future::ready(Ok(item)))
                .chain(rest)
                .boxed(),
            Err(e) => stream::once(std::future::ready(Err(e))).boxed(),
        }
    })
    .flatten()
    .boxed()
}

/// Reads a whole object with its metadata.
async fn read_all<S: ObjectStore + ?Sized>(
    store: &S,
    location: &Path,
) -> Result<(ObjectMeta, Bytes)> {
    let got = store.get_opts(location, GetOptions::default()).await?;
    let meta = got.meta.clone();
    Ok((meta, got.bytes().await?))
}

/// Whether `stored` holds exactly the bytes of `payload`.
fn payload_eq(payload: &PutPayload, stored: &[u8]) -> bool {
    if payload.content_length() != stored.len() {
        return false;
    }
    let mut rest = stored;
    for chunk in payload.iter() {
        match rest.split_at_checked(chunk.len()) {
            Some((head, tail)) if head == &chunk[..] => rest = tail,
            _ => return false,
        }
    }
    rest.is_empty()
}

fn unknown(operation: &'static str, location: &Path, conflict: &Error, read: Error) -> Error {
    Error::Generic {
        store: STORE,
        source: Box::new(OutcomeUnknown {
            operation,
            location: location.to_string(),
            conflict: conflict.to_string(),
            read,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_retries_are_bounded_and_grow() {
        let config = RetryConfig::default();
        assert_eq!(config.max_attempts, limits::DEFAULT_MAX_ATTEMPTS);
        assert_eq!(config.initial_backoff, limits::DEFAULT_INITIAL_BACKOFF);
        assert_eq!(config.max_backoff, limits::DEFAULT_MAX_BACKOFF);
        assert_eq!(config.call_timeout, limits::DEFAULT_CALL_TIMEOUT);
        assert!(config.max_attempts >= 1);
        assert!(!config.initial_backoff.is_zero());
        assert!(config.max_backoff >= config.initial_backoff);
        assert!(!config.call_timeout.is_zero());
        // 5 attempts of 10 s with 4 backoffs of at most 1 s.
        assert_eq!(config.longest_call(), Duration::from_secs(54));
    }

    #[cfg(feature = "faults")]
    #[test]
    fn an_injected_hang_outlasts_every_attempt() {
        let config = RetryConfig::default();
        assert!(limits::DEFAULT_HANG > config.call_timeout);
        // Even a whole call's retries end before one hang does.
        assert!(limits::DEFAULT_HANG > config.longest_call());
    }
}
