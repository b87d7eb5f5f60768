//! The gRPC `Consumer` service: fetch, subscribe and list offsets, over the
//! fetch path and topic lookups of `crate::core`. Translation only: how a
//! read waits and what it may return are the fetch path's.

use std::pin::Pin;
use std::time::Duration;

use futures::Stream;
use stratus_proto::v1::consumer_server::Consumer;
use stratus_proto::v1::{
    FetchRequest, FetchResponse, ListOffsetsRequest, ListOffsetsResponse, OffsetSpec,
    PartitionOffset, SubscribeRequest,
};
use stratus_storage::log::OffsetQuery;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};
use tracing::Instrument as _;

use super::convert::{consumed, partitions_or_all};
use crate::core::GatewayCore;
use crate::error::GatewayError;
use crate::fetch::{FetchPartition, Fetched};
use crate::limits::{SUBSCRIBE_BUFFER, SUBSCRIBE_POLL};
use crate::telemetry::{kind, outcome, server_span};

#[derive(Debug)]
pub(crate) struct ConsumerService(pub(crate) GatewayCore);

impl ConsumerService {
    /// One answered Fetch (or the opening of a Subscribe): `fetch_once` in
    /// the call's server span, counted by outcome. `wanted` is the
    /// partition, offset and byte limit.
    async fn counted(
        &self,
        span: tracing::Span,
        topic: &str,
        (partition, offset, max_bytes): (u32, i64, u32),
        max_wait: Duration,
    ) -> Result<FetchResponse, Status> {
        let result = Self::fetch_once(&self.0, topic, partition, offset, max_bytes, max_wait)
            .instrument(span)
            .await
            .map_err(Status::from);
        let metrics = stratus_telemetry::metrics();
        metrics.fetch_requests.add(1, &outcome(result.is_ok()));
        if let Err(status) = &result {
            metrics.fetch_errors.add(1, &kind(status.code()));
        }
        result
    }

    /// Reads from `offset`; at the end of the log waits for a commit to the
    /// partition until `max_wait` passes.
    async fn fetch_once(
        core: &GatewayCore,
        topic: &str,
        partition: u32,
        offset: i64,
        max_bytes: u32,
        max_wait: Duration,
    ) -> Result<FetchResponse, GatewayError> {
        let wanted = FetchPartition {
            topic: topic.to_owned(),
            partition,
            offset,
            max_bytes,
        };
        let Fetched {
            topic,
            partition,
            read,
        } = core.fetch().fetch_one(wanted, max_wait).await?;
        Ok(FetchResponse {
            topic: topic.name.clone(),
            partition,
            next_fetch_offset: read.next_offset,
            high_watermark: read.state.high_watermark,
            log_start_offset: read.state.log_start_offset,
            records: read.records.into_iter().map(consumed).collect(),
        })
    }
}

type SubscribeStream = Pin<Box<dyn Stream<Item = Result<FetchResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Consumer for ConsumerService {
    async fn fetch(
        &self,
        request: Request<FetchRequest>,
    ) -> Result<Response<FetchResponse>, Status> {
        let span = server_span(
            tracing::info_span!("fetch", otel.kind = "server", topic = %request.get_ref().topic),
            request.metadata(),
        );
        let r = request.into_inner();
        let wanted = (r.partition, r.offset, r.max_bytes);
        let max_wait = Duration::from_millis(u64::from(r.max_wait_ms));
        let fetched = self.counted(span, &r.topic, wanted, max_wait).await?;
        Ok(Response::new(fetched))
    }

    type SubscribeStream = SubscribeStream;

    async fn subscribe(
        &self,
        request: Request<SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let span = server_span(
            tracing::info_span!("subscribe", otel.kind = "server", topic = %request.get_ref().topic),
            request.metadata(),
        );
        let r = request.into_inner();
        // Fail fast on a bad topic, partition or offset instead of in the stream.
        let wanted = (r.partition, r.offset, r.max_bytes_per_message);
        let first = self.counted(span, &r.topic, wanted, Duration::ZERO).await?;
        let (sender, receiver) = mpsc::channel(SUBSCRIBE_BUFFER);
        let core = self.0.clone();
        tokio::spawn(async move {
            let mut offset = first.next_fetch_offset;
            if !first.records.is_empty() && sender.send(Ok(first)).await.is_err() {
                return;
            }
            loop {
                let next = Self::fetch_once(
                    &core,
                    &r.topic,
                    r.partition,
                    offset,
                    r.max_bytes_per_message,
                    SUBSCRIBE_POLL,
                )
                .await;
                match next {
                    Ok(response) if response.records.is_empty() => {
                        if sender.is_closed() {
                            return;
                        }
                    }
                    Ok(response) => {
                        offset = response.next_fetch_offset;
                        if sender.send(Ok(response)).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        let _ = sender.send(Err(Status::from(e))).await;
                        return;
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }

    async fn list_offsets(
        &self,
        request: Request<ListOffsetsRequest>,
    ) -> Result<Response<ListOffsetsResponse>, Status> {
        let r = request.into_inner();
        let topics = self.0.topics();
        let topic = topics.cached(&r.topic).await?;
        let query = match OffsetSpec::try_from(r.spec) {
            Ok(OffsetSpec::Earliest) => OffsetQuery::Earliest,
            Ok(OffsetSpec::Latest) => OffsetQuery::Latest,
            Ok(OffsetSpec::Timestamp) => OffsetQuery::Timestamp(r.timestamp_ms),
            _ => {
                return Err(GatewayError::InvalidArgument(format!(
                    "offset spec {} is not one of EARLIEST, LATEST or TIMESTAMP; set `spec`",
                    r.spec
                ))
                .into());
            }
        };
        let partitions = partitions_or_all(r.partitions, topic.partitions);
        let mut out = Vec::with_capacity(partitions.len());
        for partition in partitions {
            let found = topics.resolve_offset(&topic, partition, query).await?;
            let (offset, timestamp_ms) = found.map_or((-1, -1), |(o, t)| (o, t.unwrap_or(-1)));
            out.push(PartitionOffset {
                partition,
                offset,
                timestamp_ms,
            });
        }
        Ok(Response::new(ListOffsetsResponse { partitions: out }))
    }
}
