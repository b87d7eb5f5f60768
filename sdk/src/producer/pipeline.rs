//! One partition's send pipeline: it batches records (linger, batch bytes),
//! numbers batches with sequence numbers, keeps up to
//! `max_in_flight_per_partition` produce requests in flight, and retries.
//!
//! Order is kept by one rule: a batch is (re)sent only when every batch before
//! it is in flight or acknowledged, and sent on the transport's ordered path
//! (`ProduceStream` over gRPC), where requests of one partition reach the
//! gateway's batcher in the order they were sent. The gateway accepts a
//! producer's batches for a partition only in sequence order; a batch that
//! still overtakes an earlier one (the stream broke and the earlier one is
//! being retried) is refused as out of order and sent again in turn; a batch
//! whose acknowledgement was lost is recognised by its sequence and answered
//! with its original offsets. Retries never renumber a batch that may have
//! been written. A transport without an ordered path (the multi-gateway
//! failover transport, whose connection changes under it) keeps one
//! idempotent batch in flight per partition, since with more nearly every
//! later batch would overtake and be refused.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use stratus_proto::v1::{PartitionRecords, ProduceRequest, ProduceResponse, Record};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::{Delivery, Shared, batch};
use crate::error::{Error, Result, is_retryable};
use crate::limits::{RETRY_BACKOFF_MAX_DOUBLINGS, RETRY_JITTER_MIN};
use crate::trace::{BatchSpan, Origin};

/// What the producer hands a partition's pipeline.
#[derive(Debug)]
pub(crate) enum Msg {
    Record(Pending),
    /// Send what is buffered now, without waiting for the linger.
    Flush,
}

/// A record waiting for its acknowledgement. Holding it holds its share of the
/// producer's buffer; dropping it gives the share back.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) record: Record,
    pub(crate) size: usize,
    pub(crate) enqueued: Instant,
    /// The application's span at `send`, which the batch's span continues.
    pub(crate) origin: Origin,
    pub(crate) done: oneshot::Sender<Result<Delivery>>,
    pub(crate) _held: super::Held,
}

/// A sealed batch: its request is built once, so every retry carries the same
/// records and the same sequence numbers.
#[derive(Debug)]
struct Batch {
    id: u64,
    request: ProduceRequest,
    waiters: Vec<(oneshot::Sender<Result<Delivery>>, super::Held)>,
    /// When its oldest record was handed to `send`.
    enqueued: Instant,
    /// When it was sealed, until its first send.
    sealed: Option<Instant>,
    /// When its current attempt was sent.
    sent: Instant,
    attempts: u32,
    in_flight: bool,
    /// Whether every earlier batch was acknowledged when this attempt was
    /// sent: only then does an out-of-order answer mean a real gap.
    sent_as_front: bool,
    /// It overtook an earlier batch: resend only once every earlier one is
    /// acknowledged, so it cannot overtake again.
    await_earlier: bool,
    retry_at: Option<Instant>,
    /// Its client span, ended when the batch is answered.
    span: BatchSpan,
}

impl Batch {
    fn base_sequence(&self) -> Option<i32> {
        self.request.partitions[0].base_sequence
    }

    fn set_base_sequence(&mut self, seq: i32) {
        let entry = &mut self.request.partitions[0];
        entry.base_sequence = Some(seq);
        if !entry.record_batch.is_empty() {
            let producer_id = self.request.producer_id.unwrap_or(-1);
            let epoch = self.request.producer_epoch as i16;
            entry.record_batch = batch::stamp(&entry.record_batch, producer_id, epoch, seq);
        }
    }

    fn len(&self) -> usize {
        self.waiters.len()
    }

    fn fail(self, error: &Error) {
        self.span.failed(error, self.attempts);
        for (done, _held) in self.waiters {
            let _ = done.send(Err(error.clone()));
        }
    }
}

type Attempt = Pin<Box<dyn Future<Output = (u64, Result<ProduceResponse, tonic::Status>)> + Send>>;

/// Sequence numbers wrap to 0 after `i32::MAX`, as Kafka's do.
pub(crate) fn seq_add(seq: i32, n: usize) -> i32 {
    ((i64::from(seq) + n as i64) % (i64::from(i32::MAX) + 1)) as i32
}

#[derive(Debug)]
pub(crate) struct Pipeline {
    shared: Arc<Shared>,
    topic: String,
    partition: u32,
    open: Vec<Pending>,
    open_bytes: usize,
    open_since: Option<Instant>,
    next_seq: i32,
    next_id: u64,
    /// Sealed, unacknowledged batches in sequence order.
    batches: VecDeque<Batch>,
    in_flight: usize,
    /// Requests in flight allowed: the configured number, or 1 for an
    /// idempotent producer on a transport without an ordered path.
    max_in_flight: usize,
    /// A batch before these was refused for good: the later ones were never
    /// written (the gateway refuses gaps), so once none is in flight they are
    /// renumbered from this sequence.
    renumber_from: Option<i32>,
    /// Told of every seal, so keyless records move to the next partition.
    seals: super::SealCounter,
}

impl Pipeline {
    pub(crate) fn new(
        shared: Arc<Shared>,
        topic: String,
        partition: u32,
        seals: super::SealCounter,
    ) -> Self {
        let ordered = shared.transport.ordered_produce().is_some();
        let max_in_flight = if ordered || shared.identity.is_none() {
            shared.config.max_in_flight_per_partition
        } else {
            1
        };
        Self {
            max_in_flight,
            shared,
            topic,
            partition,
            open: Vec::new(),
            open_bytes: 0,
            open_since: None,
            next_seq: 0,
            next_id: 0,
            batches: VecDeque::new(),
            in_flight: 0,
            renumber_from: None,
            seals,
        }
    }

    /// Runs until the producer is gone and everything buffered is answered.
    pub(crate) async fn run(mut self, mut inbox: mpsc::UnboundedReceiver<Msg>) {
        let mut attempts: FuturesUnordered<Attempt> = FuturesUnordered::new();
        let mut closed = false;
        loop {
            self.dispatch(&mut attempts);
            if closed && self.open.is_empty() && self.batches.is_empty() {
                return;
            }
            // A lingered batch is sealed only when it could be sent at once:
            // while every in-flight slot is taken it keeps filling (up to
            // `batch_bytes`), so a backlog becomes a few full batches rather
            // than a queue of small ones, each a request of its own.
            let linger_at = self
                .open_since
                .filter(|_| self.could_send_another())
                .map(|t| t + self.shared.config.linger);
            let retry_at = self.next_retry();
            tokio::select! {
                msg = inbox.recv(), if !closed => match msg {
                    Some(Msg::Record(pending)) => self.add(pending),
                    Some(Msg::Flush) => self.seal(),
                    None => {
                        closed = true;
                        self.seal();
                    }
                },
                Some((id, result)) = attempts.next(), if !attempts.is_empty() => {
                    self.complete(id, result);
                }
                () = sleep_until(linger_at), if linger_at.is_some() => self.seal(),
                () = sleep_until(retry_at), if retry_at.is_some() => {}
            }
        }
    }

    fn add(&mut self, pending: Pending) {
        if let Some(error) = self.shared.fatal() {
            let _ = pending.done.send(Err(error));
            return;
        }
        self.open_since.get_or_insert(pending.enqueued);
        self.open_bytes += pending.size;
        self.open.push(pending);
        if self.open_bytes >= self.shared.config.batch_bytes {
            self.seal();
        }
    }

    /// Closes the open batch and queues it for sending.
    fn seal(&mut self) {
        if self.open.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.open);
        let enqueued = self.open_since.take().unwrap_or_else(Instant::now);
        self.open_bytes = 0;
        let span = BatchSpan::start(
            &self.topic,
            self.partition,
            pending.len(),
            pending.iter().map(|p| &p.origin),
        );
        let mut records = Vec::with_capacity(pending.len());
        let mut waiters = Vec::with_capacity(pending.len());
        for p in pending {
            records.push(p.record);
            waiters.push((p.done, p._held));
        }
        let identity = self.shared.identity;
        let base_sequence = identity.map(|_| self.next_seq);
        if identity.is_some() {
            self.next_seq = seq_add(self.next_seq, records.len());
        }
        let entry = self.entry(records, base_sequence);
        let mut request = ProduceRequest {
            topic: self.topic.clone(),
            partitions: vec![entry],
            producer_id: identity.map(|i| i.producer_id),
            producer_epoch: identity.map_or(0, |i| i.epoch),
            ..ProduceRequest::default()
        };
        span.stamp(&mut request);
        let sealed = Instant::now();
        self.shared.stats.filling.record(sealed - enqueued);
        self.seals.sealed();
        self.next_id += 1;
        self.batches.push_back(Batch {
            id: self.next_id,
            request,
            waiters,
            enqueued,
            sealed: Some(sealed),
            sent: sealed,
            attempts: 0,
            in_flight: false,
            sent_as_front: false,
            await_earlier: false,
            retry_at: None,
            span,
        });
    }

    /// The partition's entry of a request: a batch built here (so the gateway
    /// stores it without recompressing), or the plain records when they
    /// cannot form one batch (the gateway then says why).
    fn entry(&self, records: Vec<Record>, base_sequence: Option<i32>) -> PartitionRecords {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let built = batch::encode(&records, self.shared.config.compression, now_ms);
        let Some(mut record_batch) = built else {
            return PartitionRecords {
                partition: self.partition,
                records,
                base_sequence,
                record_batch: Bytes::new(),
            };
        };
        if let (Some(identity), Some(seq)) = (self.shared.identity, base_sequence) {
            record_batch = batch::stamp(
                &record_batch,
                identity.producer_id,
                identity.epoch as i16,
                seq,
            );
        }
        PartitionRecords {
            partition: self.partition,
            records: Vec::new(),
            base_sequence,
            record_batch,
        }
    }

    /// Starts every batch the ordering rule and the in-flight limit allow.
    fn dispatch(&mut self, attempts: &mut FuturesUnordered<Attempt>) {
        if let Some(from) = self.renumber_from {
            if self.in_flight > 0 {
                return;
            }
            let mut seq = from;
            for batch in &mut self.batches {
                batch.set_base_sequence(seq);
                seq = seq_add(seq, batch.len());
            }
            self.next_seq = seq;
            self.renumber_from = None;
        }
        let now = Instant::now();
        let max = self.max_in_flight;
        // Batch ids count every batch sealed, acknowledged ones included.
        let oldest = self.batches.front().map_or(0, |b| b.id);
        for (index, batch) in self.batches.iter_mut().enumerate() {
            // Only batches within `max` of the oldest unacknowledged one may
            // be out, counting those acknowledged in between: later batches
            // can be acknowledged while an earlier one is being retried, and
            // sending further would let the gateway write more batches after
            // it than its dedup window remembers. Its retry would then be
            // refused as out of order although it was written.
            if self.in_flight >= max || batch.id - oldest >= max as u64 {
                break;
            }
            if batch.in_flight {
                continue;
            }
            // A waiting batch holds back every later one.
            if batch.retry_at.is_some_and(|at| at > now) || (batch.await_earlier && index > 0) {
                break;
            }
            batch.in_flight = true;
            batch.sent = now;
            match batch.sealed.take() {
                Some(sealed) => self.shared.stats.queued.record(now - sealed),
                None => {
                    self.shared.stats.retries.fetch_add(1, Ordering::Relaxed);
                }
            }
            batch.sent_as_front = index == 0;
            batch.await_earlier = false;
            batch.retry_at = None;
            self.in_flight += 1;
            let request = batch.request.clone();
            let id = batch.id;
            // Queued on the ordered path here, in batch order, not when the
            // attempt is first polled.
            let answer = match self.shared.transport.ordered_produce() {
                Some(ordered) => ordered.send(self.partition, request),
                None => {
                    let transport = self.shared.transport.clone();
                    Box::pin(async move { transport.produce(request).await })
                }
            };
            attempts.push(Box::pin(async move { (id, answer.await) }));
        }
    }

    /// Whether a batch sealed now would go out at once: a slot is free and
    /// within the window of the oldest unacknowledged batch, and no sealed
    /// batch is waiting before it.
    fn could_send_another(&self) -> bool {
        let max = self.max_in_flight as u64;
        self.in_flight < self.max_in_flight
            && self.renumber_from.is_none()
            && self.batches.iter().all(|b| b.in_flight)
            && self
                .batches
                .front()
                .is_none_or(|oldest| self.next_id + 1 - oldest.id < max)
    }

    fn next_retry(&self) -> Option<Instant> {
        self.batches
            .iter()
            .find(|b| !b.in_flight)
            .and_then(|b| b.retry_at)
    }

    fn complete(&mut self, id: u64, result: Result<ProduceResponse, tonic::Status>) {
        self.in_flight -= 1;
        let Some(index) = self.batches.iter().position(|b| b.id == id) else {
            return;
        };
        let batch = &mut self.batches[index];
        batch.in_flight = false;
        batch.attempts += 1;
        self.shared.stats.request.record(batch.sent.elapsed());
        match result {
            Ok(response) => self.acknowledged(index, &response),
            Err(status) => self.failed(index, status),
        }
    }

    fn acknowledged(&mut self, index: usize, response: &ProduceResponse) {
        let batch = self.batches.remove(index).expect("index is in range");
        let Some(ack) = response
            .partitions
            .iter()
            .find(|a| a.partition == self.partition)
        else {
            batch.fail(&Error::Protocol(
                "an acknowledgement for the partition sent",
            ));
            return;
        };
        batch.span.acknowledged(ack.base_offset, batch.attempts);
        for (i, (done, _held)) in batch.waiters.into_iter().enumerate() {
            let _ = done.send(Ok(Delivery {
                partition: self.partition,
                offset: ack.base_offset + i as i64,
            }));
        }
    }

    fn failed(&mut self, index: usize, status: tonic::Status) {
        let idempotent = self.shared.identity.is_some();
        // An idempotent batch is given up (and later batches renumbered)
        // only when the gateway refused it before writing. Any other outcome
        // (INTERNAL, DATA_LOSS) may have written it; renumbering would then
        // give a later batch its sequence numbers, and that batch would be
        // answered as its duplicate without being written. A retry is safe:
        // if it was written, the retry is answered with its offsets.
        let retryable =
            is_retryable(&status) || (idempotent && !refused_before_writing(status.code()));
        let error = Error::from(status);
        match &error {
            Error::Fenced(_) => return self.fail_everything(&error),
            // Refused for a gap while an earlier batch was unanswered: this
            // one overtook it, and goes again in turn.
            Error::OutOfOrderSequence(_) if !self.batches[index].sent_as_front => {
                self.batches[index].await_earlier = true;
                return;
            }
            _ => {}
        }
        if retryable {
            let batch = &self.batches[index];
            if batch.enqueued.elapsed() < self.shared.config.delivery_timeout {
                return self.retry_later(index, &error);
            }
            let timed_out = Error::DeliveryTimeout {
                topic: self.topic.clone(),
                partition: self.partition,
                attempts: batch.attempts,
                last_error: error.to_string(),
            };
            if idempotent {
                // Whether it was written is unknown, so no later batch may
                // take its sequence numbers: this producer is done.
                return self.fail_everything(&timed_out);
            }
            let batch = self.batches.remove(index).expect("index is in range");
            return batch.fail(&timed_out);
        }
        // Refused for good, so not written: later batches take its numbers.
        let batch = self.batches.remove(index).expect("index is in range");
        tracing::warn!(
            topic = %self.topic, partition = self.partition,
            base_sequence = ?batch.base_sequence(), attempts = batch.attempts,
            sent_as_front = batch.sent_as_front, %error,
            "produce refused; the batch's records fail and later batches are renumbered"
        );
        if let Some(seq) = batch.base_sequence() {
            self.renumber_from = Some(self.renumber_from.map_or(seq, |s| s.min(seq)));
        }
        batch.fail(&error);
    }

    fn retry_later(&mut self, index: usize, error: &Error) {
        let config = &self.shared.config;
        let batch = &mut self.batches[index];
        let exponent = batch
            .attempts
            .saturating_sub(1)
            .min(RETRY_BACKOFF_MAX_DOUBLINGS);
        let backoff = config
            .retry_backoff
            .saturating_mul(1 << exponent)
            .min(config.retry_backoff_max);
        let jitter = rand::random_range(RETRY_JITTER_MIN..=1.0);
        tracing::debug!(
            topic = %self.topic, partition = self.partition, attempts = batch.attempts,
            %error, "produce failed; retrying"
        );
        batch.retry_at = Some(Instant::now() + backoff.mul_f64(jitter));
    }

    /// Fails every buffered record and marks the producer unusable.
    fn fail_everything(&mut self, error: &Error) {
        self.shared.set_fatal(error.clone());
        for batch in self.batches.drain(..) {
            batch.fail(error);
        }
        for pending in self.open.drain(..) {
            let _ = pending.done.send(Err(error.clone()));
        }
        self.open_bytes = 0;
        self.open_since = None;
    }
}

/// Codes with which the gateway refuses a produce request before writing
/// any of it.
fn refused_before_writing(code: tonic::Code) -> bool {
    use tonic::Code::*;
    matches!(
        code,
        InvalidArgument
            | NotFound
            | AlreadyExists
            | PermissionDenied
            | FailedPrecondition
            | OutOfRange
            | Unimplemented
            | Unauthenticated
    )
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => futures::future::pending().await,
    }
}
