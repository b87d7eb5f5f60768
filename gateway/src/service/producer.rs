use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use stratus_proto::trace_context::span_context_from;
use stratus_proto::v1::producer_server::Producer;
use stratus_proto::v1::{
    ErrorDetail, InitProducerIdRequest, InitProducerIdResponse, PartitionAck, ProduceRequest,
    ProduceResponse,
};
use stratus_storage::log::{AppendBatch, LogError};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status, Streaming};
use tracing::Instrument as _;

use super::Shared;
use crate::batcher::{Admission, Ticket};
use crate::error::GatewayError;
use crate::produce::{encode, idempotence, route};
use crate::produce_batch::{check_batches, take_batches};
use crate::telemetry::{kind, outcome, server_span, server_span_from};

/// Requests of one ProduceStream submitted but not yet answered. Past it the
/// stream stops reading, and HTTP/2 flow control holds the client back.
const MAX_PIPELINED_REQUESTS: usize = 256;

/// Requests of one ProduceStream validated and encoded at once. Encoding is
/// CPU-bound; a few in parallel keep the cores busy without letting one
/// stream hold many decoded requests in memory.
const MAX_CONCURRENT_PREPARES: usize = 4;

#[derive(Debug)]
pub(crate) struct ProducerService(pub(crate) Arc<Shared>);

/// A submitted call: its ticket and the records it sent to each partition.
#[derive(Debug)]
struct Submitted {
    topic: String,
    correlation_id: u64,
    counts: Vec<(u32, u32)>,
    ticket: Ticket,
}

/// A validated, encoded call, ready for the batcher.
#[derive(Debug)]
struct Prepared {
    topic: String,
    correlation_id: u64,
    counts: Vec<(u32, u32)>,
    batches: Vec<AppendBatch>,
}

impl ProducerService {
    /// Serves an ordered produce stream (gRPC `ProduceStream`, or a QUIC
    /// stream of `ProduceStreamRequest` frames): requests are prepared a few
    /// at a time, handed to the batcher strictly in arrival order, and
    /// answered in that order, one response per request, errors inside it.
    /// The stream ends when `requests` ends or yields an error.
    pub(crate) fn ordered<S>(&self, metadata: MetadataMap, mut requests: S) -> ResponseStream
    where
        S: Stream<Item = Result<ProduceRequest, Status>> + Send + Unpin + 'static,
    {
        let (pipeline, mut in_order) = mpsc::channel::<(
            Instant,
            tracing::Span,
            Result<Submitted, (u64, GatewayError)>,
        )>(MAX_PIPELINED_REQUESTS);
        let (responses, output) = mpsc::channel(MAX_PIPELINED_REQUESTS);

        // Reader: prepares calls concurrently (encoding is the costly part),
        // up to MAX_CONCURRENT_PREPARES at once, in arrival order.
        let (preparing, mut prepared) = mpsc::channel(MAX_CONCURRENT_PREPARES);
        let shared = Arc::clone(&self.0);
        tokio::spawn(async move {
            while let Some(next) = requests.next().await {
                let Ok(request) = next else { break };
                let started = Instant::now();
                let span = produce_span(&request, &metadata);
                let correlation_id = request.correlation_id;
                let task = tokio::spawn({
                    let shared = Arc::clone(&shared);
                    async move { Self::prepare(&shared, request).await }.instrument(span.clone())
                });
                if preparing
                    .send((started, span, correlation_id, task))
                    .await
                    .is_err()
                {
                    break;
                }
            }
        });

        // Submitter: hands prepared calls to the batcher strictly in arrival
        // order, so a producer's batches of one partition reach the sequence
        // check (and get offsets) in the order it sent them.
        let shared = Arc::clone(&self.0);
        tokio::spawn(async move {
            while let Some((started, span, correlation_id, task)) = prepared.recv().await {
                let submitted = match task.await {
                    Ok(Ok(prepared)) => {
                        Self::enqueue(&shared, prepared, Admission::Wait)
                            .instrument(span.clone())
                            .await
                    }
                    Ok(Err(e)) => Err(e),
                    // Cancelled (the runtime is stopping) or a panic, logged.
                    Err(e) => {
                        tracing::error!(error = %e, "produce request task failed");
                        Err(GatewayError::ShuttingDown)
                    }
                }
                .map_err(|e| (correlation_id, e));
                if pipeline.send((started, span, submitted)).await.is_err() {
                    break;
                }
            }
        });

        // Responder: answers in the same order, one response per request.
        let shared = Arc::clone(&self.0);
        tokio::spawn(async move {
            while let Some((started, span, submitted)) = in_order.recv().await {
                let (correlation_id, result) = match submitted {
                    Ok(s) => (
                        s.correlation_id,
                        Self::answer(&shared, s).instrument(span).await,
                    ),
                    Err((correlation_id, e)) => (correlation_id, Err(e)),
                };
                let response = result.unwrap_or_else(|e| {
                    let status = Status::from(e);
                    ProduceResponse {
                        partitions: Vec::new(),
                        correlation_id,
                        error: Some(ErrorDetail {
                            code: status.code() as i32,
                            message: status.message().to_owned(),
                        }),
                    }
                });
                let response = Ok(response);
                record_produce(started, &response);
                if responses.send(response).await.is_err() {
                    break;
                }
            }
        });
        Box::pin(ReceiverStream::new(output))
    }

    /// Validates, routes and encodes a call (the CPU-heavy part of a produce).
    async fn prepare(shared: &Shared, request: ProduceRequest) -> Result<Prepared, GatewayError> {
        let topic = shared.topics.get(&shared.log, &request.topic).await?;
        let correlation_id = request.correlation_id;
        let idempotence = idempotence(&request)?;
        let mut request = request;
        let client_batches = take_batches(&mut request)?;
        let mut batches = check_batches(&topic, client_batches, idempotence.as_ref())?;
        // A request may carry only producer-built batches.
        if !batches.is_empty() && request.partitions.is_empty() && request.records.is_empty() {
            // Nothing left to route.
        } else {
            let routed = route(&topic, request, &shared.keyless)?;
            if let Some(twice) = batches.iter().find(|b| routed.contains_key(&b.partition)) {
                return Err(GatewayError::InvalidArgument(format!(
                    "partition {} gets both a record_batch and records in one request;                      send one entry per partition",
                    twice.partition
                )));
            }
            batches.extend(encode(
                &topic,
                routed,
                shared.config.zstd_level,
                idempotence.as_ref(),
            )?);
            batches.sort_by_key(|b| b.partition);
        }
        let counts = batches
            .iter()
            .map(|b| (b.partition, b.record_count))
            .collect();
        Ok(Prepared {
            topic: topic.name.clone(),
            correlation_id,
            counts,
            batches,
        })
    }

    /// Queues a prepared call for the next flush.
    async fn enqueue(
        shared: &Shared,
        prepared: Prepared,
        admission: Admission,
    ) -> Result<Submitted, GatewayError> {
        let ticket = shared.batcher.submit(prepared.batches, admission).await?;
        Ok(Submitted {
            topic: prepared.topic,
            correlation_id: prepared.correlation_id,
            counts: prepared.counts,
            ticket,
        })
    }

    /// Waits for a submitted call's flush and builds its answer.
    async fn answer(
        shared: &Shared,
        submitted: Submitted,
    ) -> Result<ProduceResponse, GatewayError> {
        let outcomes = submitted.ticket.outcome().await?;
        let mut partitions = Vec::with_capacity(outcomes.len());
        for ((partition, record_count), outcome) in submitted.counts.into_iter().zip(outcomes) {
            match outcome {
                Ok(base_offset) => partitions.push(PartitionAck {
                    partition,
                    base_offset,
                    record_count,
                }),
                Err(LogError::TopicNotFound { .. }) => {
                    shared.topics.forget(&submitted.topic);
                    return Err(LogError::TopicNotFound {
                        name: submitted.topic,
                    }
                    .into());
                }
                Err(other) => return Err(other.into()),
            }
        }
        Ok(ProduceResponse {
            partitions,
            correlation_id: submitted.correlation_id,
            error: None,
        })
    }
}

/// The server span of one produce request: the child of the client span
/// named in the request, else of the one in the call's metadata.
fn produce_span(
    request: &ProduceRequest,
    metadata: &tonic::metadata::MetadataMap,
) -> tracing::Span {
    let span = tracing::info_span!("produce", otel.kind = "server", topic = %request.topic);
    match span_context_from(&request.traceparent, &request.tracestate) {
        Some(parent) => server_span_from(span, Some(parent)),
        None => server_span(span, metadata),
    }
}

/// Counts one answered produce request; `started` is when it was received.
fn record_produce(started: Instant, result: &Result<ProduceResponse, Status>) {
    let metrics = stratus_telemetry::metrics();
    match result {
        Ok(response) if response.error.is_none() => {
            metrics.produce_requests.add(1, &outcome(true));
            metrics
                .produce_ack_seconds
                .record(started.elapsed().as_secs_f64(), &[]);
        }
        Ok(response) => {
            let code = response.error.as_ref().map_or(0, |e| e.code);
            metrics.produce_requests.add(1, &outcome(false));
            metrics
                .produce_errors
                .add(1, &kind(tonic::Code::from_i32(code)));
        }
        Err(status) => {
            metrics.produce_requests.add(1, &outcome(false));
            metrics.produce_errors.add(1, &kind(status.code()));
        }
    }
}

pub(crate) type ResponseStream =
    Pin<Box<dyn Stream<Item = Result<ProduceResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Producer for ProducerService {
    async fn produce(
        &self,
        request: Request<ProduceRequest>,
    ) -> Result<Response<ProduceResponse>, Status> {
        let started = Instant::now();
        let span = produce_span(request.get_ref(), request.metadata());
        let shared = &self.0;
        let result = async move {
            let prepared = Self::prepare(shared, request.into_inner()).await?;
            let submitted = Self::enqueue(shared, prepared, Admission::Reject).await?;
            Self::answer(shared, submitted).await
        }
        .instrument(span)
        .await
        .map_err(Status::from);
        record_produce(started, &result);
        Ok(Response::new(result?))
    }

    type ProduceStreamStream = ResponseStream;

    async fn init_producer_id(
        &self,
        request: Request<InitProducerIdRequest>,
    ) -> Result<Response<InitProducerIdResponse>, Status> {
        let request = request.into_inner();
        let previous = match request.producer_id {
            None => None,
            Some(id) => {
                let epoch = i16::try_from(request.producer_epoch).map_err(|_| {
                    GatewayError::InvalidArgument(format!(
                        "producer_epoch {} is out of range 0..={}; pass the epoch last returned",
                        request.producer_epoch,
                        i16::MAX
                    ))
                })?;
                Some((id, epoch))
            }
        };
        let (producer_id, epoch) = self
            .0
            .log
            .init_producer_id(previous)
            .await
            .map_err(GatewayError::from)?;
        Ok(Response::new(InitProducerIdResponse {
            producer_id,
            producer_epoch: i32::from(epoch),
        }))
    }

    async fn produce_stream(
        &self,
        request: Request<Streaming<ProduceRequest>>,
    ) -> Result<Response<Self::ProduceStreamStream>, Status> {
        let metadata = request.metadata().clone();
        Ok(Response::new(self.ordered(metadata, request.into_inner())))
    }
}
