//! Ordered produce streams: gRPC `ProduceStream`, and QUIC's produce
//! streams through it. Requests are admitted in arrival order (waiting for
//! in-flight budget stops reading, which holds the client back through flow
//! control), prepared a few at a time, handed to the batcher strictly in
//! arrival order, and answered in that order, one response per request with
//! errors inside it. So a producer's batches of one partition reach the
//! sequence check in the order it sent them, with several in flight.

use std::pin::Pin;

use futures::Stream;
use stratus_proto::v1::{ErrorDetail, ProduceRequest, ProduceResponse};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;
use tonic::metadata::MetadataMap;
use tracing::Instrument as _;

use super::convert;
use crate::core::GatewayCore;
use crate::error::GatewayError;
use crate::limits::MAX_CONCURRENT_PREPARES;
use crate::produce::{Admission, PendingProduce, Prepared};
use crate::telemetry::{produce_span, record_produce};

pub(crate) type ResponseStream =
    Pin<Box<dyn Stream<Item = Result<ProduceResponse, Status>> + Send>>;

/// One request on its way through the pipeline.
struct InFlight<T> {
    started: Instant,
    span: tracing::Span,
    correlation_id: u64,
    stage: Result<T, GatewayError>,
}

/// Serves an ordered produce stream until `requests` ends or yields an
/// error; the answers come in the returned stream.
pub(crate) fn ordered<S>(
    core: &GatewayCore,
    metadata: MetadataMap,
    mut requests: S,
) -> ResponseStream
where
    S: Stream<Item = Result<ProduceRequest, Status>> + Send + Unpin + 'static,
{
    let depth = core.max_pipelined_requests();
    let (preparing, mut prepared) = mpsc::channel::<
        InFlight<JoinHandle<Result<Prepared, GatewayError>>>,
    >(MAX_CONCURRENT_PREPARES);
    let (pipeline, mut in_order) = mpsc::channel::<InFlight<PendingProduce>>(depth);
    let (responses, output) = mpsc::channel(depth);

    // Reader: admits each request before any work on it, then prepares it
    // (encoding is the costly part) in its own task, a few at once.
    let path = core.produce().clone();
    tokio::spawn(async move {
        while let Some(next) = requests.next().await {
            let Ok(request) = next else { break };
            let started = Instant::now();
            let span = produce_span(&request, &metadata);
            let correlation_id = request.correlation_id;
            let admitted = async {
                let produce = convert::produce(request)?;
                let admitted = path.admit(&produce, Admission::Wait).await?;
                Ok((produce, admitted))
            }
            .instrument(span.clone())
            .await;
            let stage = admitted.map(|(produce, admitted)| {
                let path = path.clone();
                let prepare = async move { path.prepare(produce, admitted).await };
                tokio::spawn(prepare.instrument(span.clone()))
            });
            let next = InFlight {
                started,
                span,
                correlation_id,
                stage,
            };
            if preparing.send(next).await.is_err() {
                break;
            }
        }
    });

    // Submitter: queues prepared calls strictly in arrival order, so a
    // producer's batches of one partition get offsets in the order it sent
    // them.
    let path = core.produce().clone();
    tokio::spawn(async move {
        while let Some(next) = prepared.recv().await {
            let stage = match next.stage {
                Ok(task) => match task.await {
                    // In the request's span: the flush span links to it.
                    Ok(Ok(prepared)) => next.span.in_scope(|| path.enqueue(prepared)),
                    Ok(Err(e)) => Err(e),
                    // Cancelled (the runtime is stopping) or a panic, logged.
                    Err(e) => {
                        tracing::error!(error = %e, "produce request task failed");
                        Err(GatewayError::ShuttingDown)
                    }
                },
                Err(e) => Err(e),
            };
            let next = InFlight {
                started: next.started,
                span: next.span,
                correlation_id: next.correlation_id,
                stage,
            };
            if pipeline.send(next).await.is_err() {
                break;
            }
        }
    });

    // Responder: answers in the same order, one response per request.
    tokio::spawn(async move {
        while let Some(next) = in_order.recv().await {
            let acks = match next.stage {
                Ok(pending) => pending.acknowledged().instrument(next.span).await,
                Err(e) => Err(e),
            };
            let response = match acks {
                Ok(acks) => ProduceResponse {
                    partitions: convert::wire_acks(acks),
                    correlation_id: next.correlation_id,
                    error: None,
                },
                Err(e) => {
                    let status = Status::from(e);
                    ProduceResponse {
                        partitions: Vec::new(),
                        correlation_id: next.correlation_id,
                        error: Some(ErrorDetail {
                            code: status.code() as i32,
                            message: status.message().to_owned(),
                        }),
                    }
                }
            };
            let response = Ok(response);
            record_produce(next.started, &response);
            if responses.send(response).await.is_err() {
                break;
            }
        }
    });
    Box::pin(ReceiverStream::new(output))
}
