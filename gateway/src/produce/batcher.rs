//! The cross-partition batcher: collects produce calls for every partition and
//! flushes them as one WAL object and one metadata transaction, when `linger`
//! has passed since the oldest waiting call or `flush_bytes` are waiting.
//!
//! Up to `max_concurrent_flushes` WAL objects are written at once, but their
//! metadata commits run strictly in the order the flushes were cut, so the
//! offsets of a producer's successive calls to one partition follow the order
//! it sent them. Calls that arrive while flushes are busy go out together in
//! the next one, and flushes whose objects became durable while an earlier
//! commit ran commit together, up to `max_flushes_per_commit` in one
//! transaction (group commit): the busier the gateway, the larger and
//! cheaper each flush and each commit, and a slow commit is paid once by
//! the flushes behind it rather than once each.
//!
//! A call is acknowledged in exactly one place, [`acknowledge`], and only
//! with the outcome of a flush whose WAL object was durable before its
//! transaction committed. The batcher takes calls already admitted and
//! encoded; it never validates or counts budget itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use stratus_storage::log::{AppendBatch, AppendOutcome, Log, LogError, WrittenObject};
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::time::Instant;
use tracing::Instrument as _;

use super::admit::Admitted;
use crate::error::GatewayError;

/// One produce call waiting for its flush.
#[derive(Debug)]
struct Pending {
    batches: Vec<AppendBatch>,
    /// Encoded bytes: what the call adds to its flush's WAL object.
    bytes: u64,
    received: Instant,
    /// The caller's span: the flush span links to it (or is its child).
    span: tracing::Span,
    reply: oneshot::Sender<Result<Vec<AppendOutcome>, GatewayError>>,
    /// Returned to the in-flight budget once the call is answered.
    admitted: Admitted,
}

/// Counters describing what the batcher did.
#[derive(Debug, Default)]
pub struct BatcherStats {
    pub flushes: AtomicU64,
    pub flushed_bytes: AtomicU64,
    pub flushed_calls: AtomicU64,
    /// Metadata transactions run, each committing one or more flushes.
    pub commits: AtomicU64,
}

/// Handle to submit produce calls; cheap to clone. The flush task ends once
/// [`Batcher::close`] is called or every handle is dropped, after answering
/// the calls already submitted.
#[derive(Debug, Clone)]
pub struct Batcher {
    // Unbounded because every call in it holds in-flight budget: the budget
    // is the bound.
    sender: mpsc::UnboundedSender<Pending>,
    closing: Arc<Notify>,
    stats: Arc<BatcherStats>,
}

/// Tuning of the flush loop.
#[derive(Debug, Clone, Copy)]
pub struct BatcherSettings {
    pub linger: Duration,
    pub flush_bytes: u64,
    /// Flushes whose WAL objects may be written at once; commits stay in order.
    pub max_concurrent_flushes: usize,
    /// Durable flushes committed in one metadata transaction at most.
    pub max_flushes_per_commit: usize,
}

impl Batcher {
    /// Starts the flush task; returns the handle and the task to await on shutdown.
    pub fn start(log: Arc<Log>, settings: BatcherSettings) -> (Self, tokio::task::JoinHandle<()>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let stats = Arc::new(BatcherStats::default());
        let closing = Arc::new(Notify::new());
        let batcher = Self {
            sender,
            closing: Arc::clone(&closing),
            stats: Arc::clone(&stats),
        };
        let task = tokio::spawn(flush_loop(log, receiver, closing, settings, stats));
        (batcher, task)
    }

    pub fn stats(&self) -> &BatcherStats {
        &self.stats
    }

    /// Queues an admitted call's batches for the next flush. Calls are
    /// flushed, and their offsets assigned, in the order this returns.
    pub fn submit(
        &self,
        batches: Vec<AppendBatch>,
        admitted: Admitted,
    ) -> Result<Ticket, GatewayError> {
        let bytes = batches.iter().map(|b| b.batch.len() as u64).sum::<u64>();
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            batches,
            bytes: bytes.max(1),
            received: Instant::now(),
            span: tracing::Span::current(),
            reply,
            admitted,
        };
        self.sender
            .send(pending)
            .map_err(|_| GatewayError::ShuttingDown)?;
        Ok(Ticket { answer })
    }

    /// Stops taking calls: later submits fail with UNAVAILABLE (nothing of
    /// them was written), and the flush task ends once the calls already
    /// queued are answered.
    pub fn close(&self) {
        self.closing.notify_one();
    }
}

/// The pending answer to a submitted call: one outcome per batch.
#[derive(Debug)]
pub struct Ticket {
    answer: oneshot::Receiver<Result<Vec<AppendOutcome>, GatewayError>>,
}

impl Ticket {
    pub async fn outcome(self) -> Result<Vec<AppendOutcome>, GatewayError> {
        // A dropped reply means the flush task died; nothing was acknowledged.
        self.answer.await.map_err(|_| GatewayError::ShuttingDown)?
    }
}

/// A WAL object write: what it wrote, and when it became durable (the
/// start of its wait for the commits before it).
type ObjectWrite = tokio::task::JoinHandle<(Result<WrittenObject, LogError>, Instant)>;

/// A flush whose WAL object is being written; it commits when its turn comes.
#[derive(Debug)]
struct InFlightFlush {
    span: tracing::Span,
    batches: Arc<Vec<AppendBatch>>,
    write: ObjectWrite,
    replies: Vec<Reply>,
}

/// How to answer one call of a flush. Dropping the admission returns the
/// call's bytes to the in-flight budget.
#[derive(Debug)]
struct Reply {
    batch_count: usize,
    sender: oneshot::Sender<Result<Vec<AppendOutcome>, GatewayError>>,
    admitted: Admitted,
    /// When the call entered the batcher, for its time in it.
    received: Instant,
}

async fn flush_loop(
    log: Arc<Log>,
    mut receiver: mpsc::UnboundedReceiver<Pending>,
    closing: Arc<Notify>,
    settings: BatcherSettings,
    stats: Arc<BatcherStats>,
) {
    // The channel's capacity bounds how many flushes write at once.
    let (to_committer, committer_queue) = mpsc::channel(settings.max_concurrent_flushes.max(1));
    let committer = tokio::spawn(commit_in_order(
        Arc::clone(&log),
        committer_queue,
        settings.max_flushes_per_commit.max(1),
        Arc::clone(&stats),
    ));
    let mut closed = false;
    loop {
        let first = tokio::select! {
            // Calls already queued go out before a close takes effect.
            biased;
            next = receiver.recv() => match next {
                Some(first) => first,
                None => break,
            },
            () = closing.notified(), if !closed => {
                // Later sends fail; what is queued still drains.
                receiver.close();
                closed = true;
                continue;
            }
        };
        let deadline = first.received + settings.linger;
        let mut waiting = first.bytes;
        let mut flush = vec![first];
        while waiting < settings.flush_bytes {
            // Biased: calls already queued (say, while the pipeline was full)
            // always join this flush before an expired linger cuts it, so a
            // backlog becomes a few large flushes, not many small ones.
            let next = tokio::select! {
                biased;
                next = receiver.recv() => next,
                () = tokio::time::sleep_until(deadline) => break,
            };
            let Some(next) = next else { break };
            waiting += next.bytes;
            flush.push(next);
        }
        stats.flushes.fetch_add(1, Ordering::Relaxed);
        stats.flushed_bytes.fetch_add(waiting, Ordering::Relaxed);
        stats
            .flushed_calls
            .fetch_add(flush.len() as u64, Ordering::Relaxed);
        let span = flush_span(&flush, waiting);

        let metrics = stratus_telemetry::metrics();
        let mut batches = Vec::with_capacity(flush.iter().map(|p| p.batches.len()).sum());
        let mut replies = Vec::with_capacity(flush.len());
        for pending in flush {
            metrics
                .produce_queue_seconds
                .record(pending.received.elapsed().as_secs_f64(), &[]);
            replies.push(Reply {
                batch_count: pending.batches.len(),
                sender: pending.reply,
                admitted: pending.admitted,
                received: pending.received,
            });
            batches.extend(pending.batches);
        }
        let batches = Arc::new(batches);
        let write = tokio::spawn({
            let (log, batches) = (Arc::clone(&log), Arc::clone(&batches));
            let put = tracing::info_span!(parent: &span, "wal.put", otel.kind = "client");
            async move {
                let started = Instant::now();
                let written = log.write_object(&batches).await;
                let durable = Instant::now();
                let metrics = stratus_telemetry::metrics();
                metrics
                    .wal_put_seconds
                    .record((durable - started).as_secs_f64(), &[]);
                (written, durable)
            }
            .instrument(put)
        });
        let in_flight = InFlightFlush {
            span,
            batches,
            write,
            replies,
        };
        if to_committer.send(in_flight).await.is_err() {
            break;
        }
    }
    drop(to_committer);
    if let Err(e) = committer.await {
        tracing::error!(error = %e, "flush committer failed");
    }
}

/// Commits flushes strictly in the order they were cut, each after its WAL
/// object is durable, so offsets follow arrival order even though objects
/// are written concurrently; then answers the flushes' calls. A flush whose
/// object is durable when the flush before it is about to commit joins that
/// commit, up to `max_group` flushes a transaction.
async fn commit_in_order(
    log: Arc<Log>,
    mut queue: mpsc::Receiver<InFlightFlush>,
    max_group: usize,
    stats: Arc<BatcherStats>,
) {
    let mut next: Option<InFlightFlush> = None;
    loop {
        let first = match next.take() {
            Some(flush) => flush,
            None => match queue.recv().await {
                Some(flush) => flush,
                None => return,
            },
        };
        let mut group = vec![durable(first).await];
        // Only flushes already durable join: waiting for a PUT still
        // running would hold back the ready flushes cut before it. A failed
        // PUT ends the group, which commits without it.
        while group.len() < max_group && group.iter().all(|f| f.written.is_ok()) {
            let Ok(candidate) = queue.try_recv() else {
                break;
            };
            if !candidate.write.is_finished() {
                next = Some(candidate);
                break;
            }
            group.push(durable(candidate).await);
        }
        commit_group(&log, group, &stats).await;
    }
}

/// A flush whose WAL PUT has ended, well or not.
struct DurableFlush {
    span: tracing::Span,
    batches: Arc<Vec<AppendBatch>>,
    written: Result<WrittenObject, LogError>,
    durable: Instant,
    replies: Vec<Reply>,
}

/// Waits for the flush's WAL PUT.
async fn durable(flush: InFlightFlush) -> DurableFlush {
    let (written, durable) = match flush.write.await {
        Ok(written) => written,
        Err(e) => (
            Err(LogError::CorruptMetadata {
                reason: format!("wal object writer failed: {e}"),
            }),
            Instant::now(),
        ),
    };
    DurableFlush {
        span: flush.span,
        batches: flush.batches,
        written,
        durable,
        replies: flush.replies,
    }
}

/// Runs the one transaction that assigns the offsets of every durable flush
/// of `group`, in order, then answers their calls. A flush whose PUT failed
/// (only ever the last of a group) is answered with that failure; an `Err`
/// of the transaction means nothing of the group is visible (a written,
/// uncommitted object is garbage collected).
async fn commit_group(log: &Log, group: Vec<DurableFlush>, stats: &BatcherStats) {
    let metrics = stratus_telemetry::metrics();
    let started = Instant::now();
    let mut objects = Vec::with_capacity(group.len());
    let mut committing = Vec::with_capacity(group.len());
    let mut failed = Vec::new();
    let mut empty = Vec::new();
    for flush in group {
        match flush.written {
            // Nothing to commit (`commit_objects` skips it too).
            Ok(_) if flush.batches.is_empty() => empty.push(flush.replies),
            Ok(written) => {
                metrics
                    .flush_commit_wait_seconds
                    .record((started - flush.durable).as_secs_f64(), &[]);
                objects.push(written);
                committing.push((flush.span, flush.batches, flush.replies));
            }
            Err(e) => failed.push((flush.batches, flush.replies, e)),
        }
    }
    if let Some((first_span, _, _)) = committing.first() {
        // A child of the first flush's span, linked from the others'.
        let commit = tracing::info_span!(
            parent: first_span,
            "metadata.commit",
            flushes = committing.len()
        );
        for (span, _, _) in &committing[1..] {
            commit.follows_from(span);
        }
        let objects: Vec<(&[AppendBatch], WrittenObject)> = committing
            .iter()
            .map(|(_, batches, _)| batches.as_slice())
            .zip(objects)
            .collect();
        stats.commits.fetch_add(1, Ordering::Relaxed);
        let committed = log.commit_objects(objects).instrument(commit).await;
        metrics
            .metadata_commit_seconds
            .record(started.elapsed().as_secs_f64(), &[]);
        match committed {
            Ok(all) => {
                for ((_, batches, replies), outcomes) in committing.into_iter().zip(all) {
                    record_flush(&batches, Some(&outcomes));
                    acknowledge(replies, Ok(outcomes));
                }
            }
            Err(e) => {
                let message = e.to_string();
                for (_, batches, replies) in committing {
                    record_flush(&batches, None);
                    acknowledge(replies, Err(&message));
                }
            }
        }
    }
    for replies in empty {
        acknowledge(replies, Ok(Vec::new()));
    }
    for (batches, replies, e) in failed {
        record_flush(&batches, None);
        acknowledge(replies, Err(&e.to_string()));
    }
}

/// The span of one flush: a child of its first call's span (so a traced
/// produce shows the WAL PUT and commit that made it durable), linked to the
/// spans of the other calls it carries. Also records the flush's shape.
fn flush_span(flush: &[Pending], bytes: u64) -> tracing::Span {
    let metrics = stratus_telemetry::metrics();
    metrics.flush_bytes.record(bytes as f64, &[]);
    metrics.flush_calls.record(flush.len() as f64, &[]);
    let Some(first) = flush.first() else {
        return tracing::Span::none();
    };
    metrics
        .flush_linger_seconds
        .record(first.received.elapsed().as_secs_f64(), &[]);
    let span = tracing::info_span!(parent: &first.span, "flush", calls = flush.len(), bytes);
    for pending in &flush[1..] {
        span.follows_from(&pending.span);
    }
    span
}

/// Counts what a flush acknowledged, or that it failed (`None`).
fn record_flush(batches: &[AppendBatch], outcomes: Option<&[AppendOutcome]>) {
    let metrics = stratus_telemetry::metrics();
    let Some(outcomes) = outcomes else {
        metrics.flush_errors.add(1, &[]);
        return;
    };
    let (mut records, mut bytes) = (0u64, 0u64);
    for (batch, outcome) in batches.iter().zip(outcomes) {
        if outcome.is_ok() {
            records += u64::from(batch.record_count);
            bytes += batch.batch.len() as u64;
        }
    }
    metrics.produce_records.add(records, &[]);
    metrics.produce_bytes.add(bytes, &[]);
}

/// Answers every call of one flush. This is the one place a produce is
/// acknowledged: `result` is `Ok` only after the flush's WAL object was
/// durable and the transaction assigning its offsets committed; an `Err`
/// says why nothing of the flush was.
fn acknowledge(replies: Vec<Reply>, result: Result<Vec<AppendOutcome>, &str>) {
    let in_batcher = &stratus_telemetry::metrics().produce_batcher_seconds;
    match result {
        Ok(outcomes) => {
            let mut outcomes = outcomes.into_iter();
            for reply in replies {
                let answer: Vec<AppendOutcome> =
                    outcomes.by_ref().take(reply.batch_count).collect();
                let _ = reply.sender.send(Ok(answer));
                in_batcher.record(reply.received.elapsed().as_secs_f64(), &[]);
                // Answered: the call's bytes go back to the in-flight budget.
                drop(reply.admitted);
            }
        }
        Err(message) => {
            tracing::warn!(error = %message, calls = replies.len(), "flush failed; failing its produce calls");
            for reply in replies {
                let _ = reply
                    .sender
                    .send(Err(GatewayError::FlushFailed(message.to_owned())));
                drop(reply.admitted);
            }
        }
    }
}

#[cfg(test)]
mod tests;
