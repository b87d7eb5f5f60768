//! Request and byte accounting for any [`ObjectStore`].
//!
//! [`CountingStore`] counts, per [`Operation`], the requests it forwards, the
//! ones that failed and the payload bytes moved. The counters live in an
//! `Arc<Counters>` that the caller keeps after the store is boxed into an
//! `Arc<dyn ObjectStore>`, so the load tool, metrics and the cost report read
//! the same numbers. It never changes a request or its result.
//!
//! What counts as one request, and why:
//! - `put_opts`, `copy_opts`, `rename_opts`, `list_with_delimiter`: one each.
//!   PUT bytes are the payload length, counted when the request is sent (a
//!   failed upload still moved them).
//! - `get_opts`: one GET, or one HEAD when `options.head` is set. Bytes of a
//!   streamed body are counted as the caller consumes it, so a body dropped
//!   half-read counts half; a stream error counts as a GET error. A local-file
//!   payload (`GetResultPayload::File`) cannot be observed, so its returned
//!   range length is counted up front.
//! - `get_ranges` is not forwarded as a whole: the trait's default splits it
//!   into coalesced ranged GETs through this store's `get_opts`, which is
//!   exactly the request pattern S3 sees, so each of those is counted.
//! - `list`/`list_with_offset`: one LIST per call, whatever the page count
//!   (object_store does not expose pages); bytes stay 0.
//! - `delete_stream`: one DELETE per location sent to the inner store.
//! - multipart: one request each for the start, every part (with its bytes),
//!   completion and abort.
//!
//! `errors` also counts requests the caller abandoned before they answered
//! (a timeout in a wrapper above, usually): they did not succeed, and whether
//! they took effect is unknown.
//!
//! Counters use relaxed atomics: each is exact, but a [`Counters::snapshot`]
//! taken while requests run is not one atomic cut across all of them.

use std::fmt;
use std::future::Future;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
    UploadPart,
};

use super::operation::Operation;

/// Totals for one [`Operation`] at the time of a snapshot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct OpStats {
    /// Requests sent to the inner store, failed ones included.
    pub requests: u64,
    /// Requests that returned an error (or whose body stream did).
    pub errors: u64,
    /// Payload bytes sent (PUT, parts) or received (GET bodies).
    pub bytes: u64,
}

impl OpStats {
    fn saturating_sub(self, earlier: Self) -> Self {
        Self {
            requests: self.requests.saturating_sub(earlier.requests),
            errors: self.errors.saturating_sub(earlier.errors),
            bytes: self.bytes.saturating_sub(earlier.bytes),
        }
    }
}

/// A plain copy of every counter, for reports and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct OpCounts {
    pub put: OpStats,
    pub get: OpStats,
    pub head: OpStats,
    pub delete: OpStats,
    pub list: OpStats,
    pub copy: OpStats,
    pub rename: OpStats,
    pub multipart: OpStats,
}

impl OpCounts {
    /// The totals for `op`.
    pub fn get(&self, op: Operation) -> OpStats {
        match op {
            Operation::Put => self.put,
            Operation::Get => self.get,
            Operation::Head => self.head,
            Operation::Delete => self.delete,
            Operation::List => self.list,
            Operation::Copy => self.copy,
            Operation::Rename => self.rename,
            Operation::Multipart => self.multipart,
        }
    }

    fn get_mut(&mut self, op: Operation) -> &mut OpStats {
        match op {
            Operation::Put => &mut self.put,
            Operation::Get => &mut self.get,
            Operation::Head => &mut self.head,
            Operation::Delete => &mut self.delete,
            Operation::List => &mut self.list,
            Operation::Copy => &mut self.copy,
            Operation::Rename => &mut self.rename,
            Operation::Multipart => &mut self.multipart,
        }
    }

    /// Sum over every operation.
    pub fn total(&self) -> OpStats {
        Operation::ALL
            .into_iter()
            .map(|op| self.get(op))
            .fold(OpStats::default(), |acc, s| OpStats {
                requests: acc.requests + s.requests,
                errors: acc.errors + s.errors,
                bytes: acc.bytes + s.bytes,
            })
    }

    /// What happened between `earlier` and `self` (two snapshots of the same
    /// counters); saturates rather than wrapping if they are swapped.
    pub fn since(&self, earlier: &Self) -> Self {
        let mut out = Self::default();
        for op in Operation::ALL {
            *out.get_mut(op) = self.get(op).saturating_sub(earlier.get(op));
        }
        out
    }
}

#[derive(Debug, Default)]
struct OpCounter {
    requests: AtomicU64,
    errors: AtomicU64,
    bytes: AtomicU64,
}

/// Live counters shared by a [`CountingStore`] and whoever reads them.
#[derive(Debug, Default)]
pub struct Counters {
    ops: [OpCounter; Operation::ALL.len()],
}

impl Counters {
    /// Fresh counters, all zero.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// A copy of every counter now.
    pub fn snapshot(&self) -> OpCounts {
        let mut out = OpCounts::default();
        for op in Operation::ALL {
            let c = &self.ops[op.index()];
            *out.get_mut(op) = OpStats {
                requests: c.requests.load(Ordering::Relaxed),
                errors: c.errors.load(Ordering::Relaxed),
                bytes: c.bytes.load(Ordering::Relaxed),
            };
        }
        out
    }

    fn request(&self, op: Operation) {
        self.ops[op.index()]
            .requests
            .fetch_add(1, Ordering::Relaxed);
    }

    fn error(&self, op: Operation) {
        self.ops[op.index()].errors.fetch_add(1, Ordering::Relaxed);
    }

    fn bytes(&self, op: Operation, n: u64) {
        self.ops[op.index()].bytes.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts an error if `result` is one, and passes it on.
    fn outcome<T>(&self, op: Operation, result: Result<T>) -> Result<T> {
        if result.is_err() {
            self.error(op);
        }
        result
    }

    /// Counts one request of `op` and its outcome. A caller that drops the
    /// request before it answers (a timeout, usually) gets it counted as an
    /// error: it did not succeed, and its effect is unknown.
    async fn track<T>(&self, op: Operation, call: impl Future<Output = Result<T>>) -> Result<T> {
        self.request(op);
        let mut pending = Pending {
            counters: self,
            op,
            answered: false,
        };
        let result = call.await;
        pending.answered = true;
        self.outcome(op, result)
    }
}

/// Counts a request abandoned before it answered as an error.
struct Pending<'a> {
    counters: &'a Counters,
    op: Operation,
    answered: bool,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if !self.answered {
            self.counters.error(self.op);
        }
    }
}

/// An [`ObjectStore`] wrapper that counts requests, errors and bytes.
#[derive(Debug)]
pub struct CountingStore<S> {
    inner: S,
    counters: Arc<Counters>,
}

impl<S: ObjectStore> CountingStore<S> {
    /// Wraps `inner` with fresh counters; take a handle with
    /// [`CountingStore::counters`] before boxing the store.
    pub fn new(inner: S) -> Self {
        Self::with_counters(inner, Counters::new())
    }

    /// Wraps `inner`, adding to existing `counters` (e.g. one set for
    /// several stores of a tier).
    pub fn with_counters(inner: S, counters: Arc<Counters>) -> Self {
        Self { inner, counters }
    }

    /// A handle on the live counters that outlives any boxing of the store.
    pub fn counters(&self) -> Arc<Counters> {
        Arc::clone(&self.counters)
    }

    /// A copy of every counter now.
    pub fn snapshot(&self) -> OpCounts {
        self.counters.snapshot()
    }
}

impl<S: ObjectStore> fmt::Display for CountingStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CountingStore({})", self.inner)
    }
}

#[async_trait]
impl<S: ObjectStore> ObjectStore for CountingStore<S> {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        let c = &self.counters;
        c.bytes(Operation::Put, payload.content_length() as u64);
        c.track(Operation::Put, self.inner.put_opts(location, payload, opts))
            .await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        let c = &self.counters;
        let upload = c
            .track(
                Operation::Multipart,
                self.inner.put_multipart_opts(location, opts),
            )
            .await?;
        Ok(Box::new(CountingUpload {
            upload,
            counters: Arc::clone(c),
        }))
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let op = Operation::of_get(&options);
        let c = &self.counters;
        let result = c.track(op, self.inner.get_opts(location, options)).await?;
        Ok(count_body(result, op, Arc::clone(c)))
    }

    // `get_ranges` deliberately uses the trait default: see the module docs.

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        let tally = Arc::new(DeleteTally::default());
        let (sent, counters) = (Arc::clone(&tally), Arc::clone(&self.counters));
        let locations = locations
            .inspect(move |l| match l {
                Ok(_) => {
                    counters.request(Operation::Delete);
                    sent.unanswered.fetch_add(1, Ordering::Relaxed);
                }
                Err(_) => {
                    sent.caller_errors.fetch_add(1, Ordering::Relaxed);
                }
            })
            .boxed();
        // Moved into the closure, so it is dropped with the output stream.
        let guard = AbandonedDeletes {
            counters: Arc::clone(&self.counters),
            tally,
        };
        self.inner
            .delete_stream(locations)
            .map(move |r| {
                let tally = &guard.tally;
                match &r {
                    Ok(_) => {
                        decrement(&tally.unanswered);
                    }
                    // The caller's own input error, passed through: no request.
                    Err(_) if decrement(&tally.caller_errors) => {}
                    Err(_) => {
                        decrement(&tally.unanswered);
                        guard.counters.error(Operation::Delete);
                    }
                }
                r
            })
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.counters.request(Operation::List);
        count_stream_errors(self.inner.list(prefix), Arc::clone(&self.counters))
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.counters.request(Operation::List);
        let inner = self.inner.list_with_offset(prefix, offset);
        count_stream_errors(inner, Arc::clone(&self.counters))
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        let call = self.inner.list_with_delimiter(prefix);
        self.counters.track(Operation::List, call).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        let call = self.inner.copy_opts(from, to, options);
        self.counters.track(Operation::Copy, call).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        let call = self.inner.rename_opts(from, to, options);
        self.counters.track(Operation::Rename, call).await
    }
}

/// Deletes of one `delete_stream` sent but not yet answered, and input
/// errors the inner store will pass through.
#[derive(Debug, Default)]
struct DeleteTally {
    unanswered: AtomicU64,
    caller_errors: AtomicU64,
}

/// Counts the deletes still unanswered when the output stream is dropped as
/// errors, like [`Pending`] does for single requests.
struct AbandonedDeletes {
    counters: Arc<Counters>,
    tally: Arc<DeleteTally>,
}

impl Drop for AbandonedDeletes {
    fn drop(&mut self) {
        let n = self.tally.unanswered.swap(0, Ordering::Relaxed);
        self.counters.ops[Operation::Delete.index()]
            .errors
            .fetch_add(n, Ordering::Relaxed);
    }
}

/// Subtracts one unless zero; whether it did.
fn decrement(n: &AtomicU64) -> bool {
    n.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| v.checked_sub(1))
        .is_ok()
}

/// Counts GET body bytes as they are delivered (see the module docs).
fn count_body(result: GetResult, op: Operation, counters: Arc<Counters>) -> GetResult {
    match result.payload {
        GetResultPayload::Stream(stream) => {
            let stream = stream
                .inspect(move |chunk| match chunk {
                    Ok(bytes) => counters.bytes(op, bytes.len() as u64),
                    Err(_) => counters.error(op),
                })
                .boxed();
            GetResult {
                payload: GetResultPayload::Stream(stream),
                ..result
            }
        }
        GetResultPayload::File(file, path) => {
            let Range { start, end } = result.range;
            counters.bytes(op, end.saturating_sub(start));
            GetResult {
                payload: GetResultPayload::File(file, path),
                ..result
            }
        }
    }
}

fn count_stream_errors(
    stream: BoxStream<'static, Result<ObjectMeta>>,
    counters: Arc<Counters>,
) -> BoxStream<'static, Result<ObjectMeta>> {
    stream
        .inspect(move |r| {
            if r.is_err() {
                counters.error(Operation::List);
            }
        })
        .boxed()
}

/// Counts the requests of one multipart upload.
#[derive(Debug)]
struct CountingUpload {
    upload: Box<dyn MultipartUpload>,
    counters: Arc<Counters>,
}

#[async_trait]
impl MultipartUpload for CountingUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        let c = Arc::clone(&self.counters);
        c.bytes(Operation::Multipart, data.content_length() as u64);
        let part = self.upload.put_part(data);
        Box::pin(async move { c.track(Operation::Multipart, part).await })
    }

    async fn complete(&mut self) -> Result<PutResult> {
        let call = self.upload.complete();
        self.counters.track(Operation::Multipart, call).await
    }

    async fn abort(&mut self) -> Result<()> {
        let call = self.upload.abort();
        self.counters.track(Operation::Multipart, call).await
    }
}
