//! The ordered produce path: produce requests sent over a few long-lived
//! ordered streams (gRPC `ProduceStream` calls, or QUIC streams of
//! `ProduceStreamRequest` frames), so that requests for one partition reach
//! the gateway in the order they were handed over.
//!
//! Why: an idempotent producer keeps several batches per partition in flight.
//! Sent as separate unary calls they race (HTTP/2 streams are independent,
//! and the gateway serves each call on its own task), and a batch that
//! overtakes an earlier one is refused as out of order and must be resent.
//! On one `ProduceStream` the gateway submits requests to its batcher
//! strictly in arrival order, so batches of a partition reach the sequence
//! check in order and none is refused for overtaking.
//!
//! Requests are spread over [`ORDERED_STREAMS`] streams by a key (the partition), so
//! one partition always uses the same stream while the gateway encodes the
//! streams' requests in parallel. [`OrderedProducer::send`] enqueues the
//! request before it returns: the order of `send` calls is the wire order.
//!
//! A stream that breaks (gateway restart, connection loss) or stays silent for
//! the request timeout fails every request still waiting on it as
//! UNAVAILABLE; the next request opens a new stream. Whether those requests
//! were written is unknown, which the producer's sequence numbers resolve on
//! retry (a written batch is answered as a duplicate with its offsets).

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use futures::stream::BoxStream;
use stratus_proto::v1::{ProduceRequest, ProduceResponse};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tonic::{Code, Status};

use crate::error::is_retryable;
use crate::limits::{ORDERED_STREAM_IDLE_CLOSE, ORDERED_STREAMS};

/// The answer to one request sent on the ordered path.
pub(crate) type ProduceFuture =
    Pin<Box<dyn Future<Output = Result<ProduceResponse, Status>> + Send + 'static>>;

/// The requests of one stream, in the order they are sent.
pub(crate) struct OutgoingRequests(mpsc::UnboundedReceiver<ProduceRequest>);

impl futures::Stream for OutgoingRequests {
    type Item = ProduceRequest;

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<ProduceRequest>> {
        self.0.poll_recv(cx)
    }
}

/// The answers of one ordered stream, in request order; an error ends it.
pub(crate) type Answers = BoxStream<'static, Result<ProduceResponse, Status>>;

/// Opens one ordered stream carrying `requests` (gRPC `ProduceStream`, or a
/// QUIC stream of `ProduceStreamRequest` frames).
pub(crate) type Opener = Arc<
    dyn Fn(
            OutgoingRequests,
        ) -> Pin<Box<dyn Future<Output = Result<Answers, Status>> + Send + 'static>>
        + Send
        + Sync,
>;

/// One request waiting to be sent, and where its answer goes.
struct Call {
    request: ProduceRequest,
    reply: oneshot::Sender<Result<ProduceResponse, Status>>,
}

/// Sends produce requests over [`ORDERED_STREAMS`] ordered streams.
pub(crate) struct OrderedProducer {
    shards: Vec<mpsc::UnboundedSender<Call>>,
}

impl std::fmt::Debug for OrderedProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrderedProducer")
            .field("shards", &self.shards.len())
            .finish()
    }
}

impl OrderedProducer {
    /// Starts the shard tasks; each opens its stream on its first request.
    /// Must be called inside a Tokio runtime.
    pub(crate) fn start(open: &Opener, request_timeout: Duration) -> Self {
        let shards = (0..ORDERED_STREAMS)
            .map(|_| {
                let (tx, rx) = mpsc::unbounded_channel();
                tokio::spawn(run_shard(Arc::clone(open), rx, request_timeout));
                tx
            })
            .collect();
        Self { shards }
    }

    /// Queues `request` on the stream of `key` now, and returns its answer.
    /// Requests with the same key reach the gateway in the order of these
    /// calls. The queue is unbounded in requests; callers bound it in bytes
    /// (the producer's buffer).
    pub(crate) fn send(&self, key: u32, request: ProduceRequest) -> ProduceFuture {
        let (reply, answer) = oneshot::channel();
        let shard = &self.shards[key as usize % self.shards.len()];
        let queued = shard.send(Call { request, reply }).is_ok();
        Box::pin(async move {
            if !queued {
                return Err(Status::unavailable("the SDK transport is shut down"));
            }
            answer.await.unwrap_or_else(|_| {
                Err(Status::unavailable(
                    "the produce stream ended before answering; the request is retried",
                ))
            })
        })
    }
}

/// A request sent on the current stream, waiting for its answer.
struct Waiting {
    correlation_id: u64,
    sent: Instant,
    reply: oneshot::Sender<Result<ProduceResponse, Status>>,
}

/// Serves one shard: opens a stream for the first request, forwards requests
/// and matches answers (which come in request order) until the stream breaks,
/// then starts over with the next request.
async fn run_shard(
    open: Opener,
    mut calls: mpsc::UnboundedReceiver<Call>,
    request_timeout: Duration,
) {
    let mut next_correlation = 0u64;
    while let Some(first) = calls.recv().await {
        let (to_stream, from_producer) = mpsc::unbounded_channel::<ProduceRequest>();
        let outgoing = OutgoingRequests(from_producer);
        let mut waiting = VecDeque::new();
        let mut forward = |call: Call, waiting: &mut VecDeque<Waiting>| {
            let mut request = call.request;
            next_correlation += 1;
            request.correlation_id = next_correlation;
            waiting.push_back(Waiting {
                correlation_id: next_correlation,
                sent: Instant::now(),
                reply: call.reply,
            });
            // The receiver lives as long as the stream; a send error means it
            // broke, which reading answers reports.
            let _ = to_stream.send(request);
        };
        forward(first, &mut waiting);
        let responses = match open(outgoing).await {
            Ok(responses) => responses,
            Err(status) => {
                // The first request may have gone out before the call
                // failed, so it may have been written: never a refusal.
                fail_all(&mut waiting, &unavailable(status));
                continue;
            }
        };
        let ended = serve_stream(
            responses,
            &mut calls,
            &mut waiting,
            forward,
            request_timeout,
        )
        .await;
        fail_all(&mut waiting, &ended);
    }
}

/// Forwards calls and answers until the stream breaks; returns why.
async fn serve_stream(
    mut responses: Answers,
    calls: &mut mpsc::UnboundedReceiver<Call>,
    waiting: &mut VecDeque<Waiting>,
    mut forward: impl FnMut(Call, &mut VecDeque<Waiting>),
    request_timeout: Duration,
) -> Status {
    let mut producer_gone = false;
    let mut last_call = Instant::now();
    loop {
        let deadline = waiting.front().map(|w| w.sent + request_timeout);
        if producer_gone && waiting.is_empty() {
            return Status::cancelled("the producer is gone");
        }
        // An idle stream is closed, so a gateway shutting down gracefully
        // (which waits for open calls) is not held up by a quiet producer.
        let idle_at = waiting
            .is_empty()
            .then(|| last_call + ORDERED_STREAM_IDLE_CLOSE);
        tokio::select! {
            call = calls.recv(), if !producer_gone => match call {
                Some(call) => {
                    last_call = Instant::now();
                    forward(call, waiting);
                }
                None => producer_gone = true,
            },
            () = sleep_until(idle_at), if idle_at.is_some() => {
                return Status::cancelled("the produce stream was idle");
            }
            message = responses.next() => match message {
                Some(Ok(response)) => {
                    if let Err(status) = answer(waiting, response) {
                        return status;
                    }
                }
                None => {
                    return Status::unavailable(
                        "the gateway closed the produce stream; the request is retried",
                    );
                }
                Some(Err(status)) => return unavailable(status),
            },
            () = sleep_until(deadline), if deadline.is_some() => {
                return Status::deadline_exceeded(format!(
                    "no answer on the produce stream within {request_timeout:?}; \
                     the stream is replaced and the request retried"
                ));
            }
        }
    }
}

/// Hands `response` to the oldest waiting request, which it must answer.
fn answer(waiting: &mut VecDeque<Waiting>, response: ProduceResponse) -> Result<(), Status> {
    let Some(front) = waiting.pop_front() else {
        return Err(Status::internal(
            "the gateway answered a produce request that was never sent",
        ));
    };
    if front.correlation_id != response.correlation_id {
        let status = Status::internal(format!(
            "the gateway answered produce request {} while {} was next; \
             answers on a produce stream must come in request order",
            response.correlation_id, front.correlation_id
        ));
        let _ = front.reply.send(Err(status.clone()));
        return Err(status);
    }
    let result = match response.error {
        Some(error) => Err(Status::new(Code::from_i32(error.code), error.message)),
        None => Ok(response),
    };
    let _ = front.reply.send(result);
    Ok(())
}

/// Per-request errors come inside responses; a status ending the stream is
/// about the stream. HTTP/2 and connection failures (INTERNAL, or any code
/// with a transport error as its source) would read as a refusal, which tells
/// the producer the requests were not written: they are a broken connection,
/// so retryable. Other codes the gateway sent (say, UNAUTHENTICATED) are
/// kept, so the producer fails instead of retrying.
fn unavailable(status: Status) -> Status {
    let from_transport = std::error::Error::source(&status).is_some();
    if status.code() == Code::Internal || (from_transport && !is_retryable(&status)) {
        return Status::unavailable(format!(
            "the produce stream broke: {}; the request is retried",
            status.message()
        ));
    }
    status
}

fn fail_all(waiting: &mut VecDeque<Waiting>, status: &Status) {
    for w in waiting.drain(..) {
        let _ = w.reply.send(Err(status.clone()));
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => futures::future::pending().await,
    }
}
