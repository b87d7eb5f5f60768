//! The gRPC `Producer` service: a thin adapter that translates messages
//! (`convert`) and calls the produce path. Unary calls are refused when the
//! in-flight budget is spent; ordered streams wait (`produce_stream`).
//! Nothing here validates, encodes or acknowledges: that is `crate::produce`.

use stratus_proto::v1::producer_server::Producer;
use stratus_proto::v1::{
    InitProducerIdRequest, InitProducerIdResponse, ProduceRequest, ProduceResponse,
};
use tokio::time::Instant;
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status, Streaming};
use tracing::Instrument as _;

use super::convert;
use super::produce_stream::{ResponseStream, ordered};
use crate::core::GatewayCore;
use crate::error::GatewayError;
use crate::produce::Admission;
use crate::telemetry::{produce_span, record_produce};

#[derive(Debug)]
pub(crate) struct ProducerService(pub(crate) GatewayCore);

impl ProducerService {
    /// Serves an ordered produce stream (gRPC `ProduceStream`, or a QUIC
    /// stream of `ProduceStreamRequest` frames).
    pub(crate) fn ordered<S>(&self, metadata: MetadataMap, requests: S) -> ResponseStream
    where
        S: futures::Stream<Item = Result<ProduceRequest, Status>> + Send + Unpin + 'static,
    {
        ordered(&self.0, metadata, requests)
    }
}

#[tonic::async_trait]
impl Producer for ProducerService {
    async fn produce(
        &self,
        request: Request<ProduceRequest>,
    ) -> Result<Response<ProduceResponse>, Status> {
        let started = Instant::now();
        let span = produce_span(request.get_ref(), request.metadata());
        let path = self.0.produce();
        let result = async move {
            let request = request.into_inner();
            let correlation_id = request.correlation_id;
            let produce = convert::produce(request)?;
            let pending = path.submit(produce, Admission::Reject).await?;
            Ok::<_, GatewayError>(ProduceResponse {
                partitions: convert::wire_acks(pending.acknowledged().await?),
                correlation_id,
                error: None,
            })
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
            Some(id) => Some((
                id,
                convert::epoch(request.producer_epoch, "pass the epoch last returned")?,
            )),
        };
        let (producer_id, epoch) = self.0.produce().init_producer_id(previous).await?;
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
