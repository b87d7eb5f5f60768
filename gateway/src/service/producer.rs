use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use stratus_proto::v1::producer_server::Producer;
use stratus_proto::v1::{
    ErrorDetail, InitProducerIdRequest, InitProducerIdResponse, PartitionAck, ProduceRequest,
    ProduceResponse,
};
use stratus_storage::log::LogError;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};
use tracing::Instrument as _;

use super::Shared;
use crate::batcher::{Admission, Ticket};
use crate::error::GatewayError;
use crate::produce::{encode, idempotence, route};
use crate::telemetry::{kind, outcome, server_span};

/// Requests of one ProduceStream submitted but not yet answered. Past it the
/// stream stops reading, and HTTP/2 flow control holds the client back.
const MAX_PIPELINED_REQUESTS: usize = 256;

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

impl ProducerService {
    /// Validates, routes and encodes a call, and queues it for the next flush.
    async fn submit(
        shared: &Shared,
        request: ProduceRequest,
        admission: Admission,
    ) -> Result<Submitted, GatewayError> {
        let topic = shared.topics.get(&shared.log, &request.topic).await?;
        let correlation_id = request.correlation_id;
        let idempotence = idempotence(&request)?;
        let routed = route(&topic, request, &shared.keyless)?;
        let counts = routed
            .iter()
            .map(|(partition, records)| (*partition, records.len() as u32))
            .collect();
        let batches = encode(
            &topic,
            routed,
            shared.config.zstd_level,
            idempotence.as_ref(),
        )?;
        let ticket = shared.batcher.submit(batches, admission).await?;
        Ok(Submitted {
            topic: topic.name.clone(),
            correlation_id,
            counts,
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

/// The server span of one produce request.
fn produce_span(topic: &str, metadata: &tonic::metadata::MetadataMap) -> tracing::Span {
    server_span(
        tracing::info_span!("produce", otel.kind = "server", topic),
        metadata,
    )
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

type ResponseStream = Pin<Box<dyn Stream<Item = Result<ProduceResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Producer for ProducerService {
    async fn produce(
        &self,
        request: Request<ProduceRequest>,
    ) -> Result<Response<ProduceResponse>, Status> {
        let started = Instant::now();
        let span = produce_span(&request.get_ref().topic, request.metadata());
        let shared = &self.0;
        let result = async move {
            let submitted = Self::submit(shared, request.into_inner(), Admission::Reject).await?;
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
        let mut requests = request.into_inner();
        let (pipeline, mut in_order) = mpsc::channel::<(
            Instant,
            tracing::Span,
            Result<Submitted, (u64, GatewayError)>,
        )>(MAX_PIPELINED_REQUESTS);
        let (responses, output) = mpsc::channel(MAX_PIPELINED_REQUESTS);

        // Reader: submits calls in arrival order, so their offsets follow it.
        let shared = Arc::clone(&self.0);
        tokio::spawn(async move {
            while let Some(next) = requests.next().await {
                let Ok(request) = next else { break };
                let started = Instant::now();
                let span = produce_span(&request.topic, &metadata);
                let correlation_id = request.correlation_id;
                let submitted = Self::submit(&shared, request, Admission::Wait)
                    .instrument(span.clone())
                    .await
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
        Ok(Response::new(Box::pin(ReceiverStream::new(output))))
    }
}
