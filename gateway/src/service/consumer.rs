use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use stratus_proto::v1::consumer_server::Consumer;
use stratus_proto::v1::{
    FetchRequest, FetchResponse, ListOffsetsRequest, ListOffsetsResponse, OffsetSpec,
    PartitionOffset, SubscribeRequest,
};
use stratus_storage::log::OffsetQuery;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};
use tracing::Instrument as _;

use super::Shared;
use super::convert::consumed;
use crate::error::GatewayError;
use crate::telemetry::{kind, outcome, server_span};

/// How long one wait of a subscription lasts before it re-checks its client.
const SUBSCRIBE_POLL: Duration = Duration::from_secs(5);
/// Responses a subscription buffers for a slow client.
const SUBSCRIBE_BUFFER: usize = 4;

#[derive(Debug)]
pub(crate) struct ConsumerService(pub(crate) Arc<Shared>);

impl ConsumerService {
    /// Reads from `offset`; at the end of the log waits for a commit to the
    /// partition (a watch, not polling) until `max_wait` passes.
    async fn fetch_once(
        shared: &Shared,
        topic_name: &str,
        partition: u32,
        offset: i64,
        max_bytes: u32,
        max_wait: Duration,
    ) -> Result<FetchResponse, GatewayError> {
        let topic = shared.topics.get(&shared.log, topic_name).await?;
        let max_bytes = match max_bytes {
            0 => shared.config.max_fetch_bytes,
            n => n.min(shared.config.max_fetch_bytes),
        } as usize;
        let deadline = Instant::now() + max_wait.min(shared.config.max_fetch_wait);
        loop {
            // Watch before reading, so a commit between the read and the wait wakes us.
            let watch = shared
                .log
                .meta()
                .watch(&shared.log.head_key(topic.id, partition));
            let read = shared
                .log
                .read(&topic, partition, offset, max_bytes)
                .await?;
            let done = !read.records.is_empty() || Instant::now() >= deadline;
            if done {
                record_fetched(&read.records);
                return Ok(FetchResponse {
                    topic: topic.name.clone(),
                    partition,
                    next_fetch_offset: read.next_offset,
                    high_watermark: read.state.high_watermark,
                    log_start_offset: read.state.log_start_offset,
                    records: read.records.into_iter().map(consumed).collect(),
                });
            }
            tokio::select! {
                () = watch.changed() => {}
                () = tokio::time::sleep_until(deadline) => {}
                () = shared.shutting_down() => {}
            }
            if *shared.shutdown.borrow() {
                return Err(GatewayError::ShuttingDown);
            }
        }
    }
}

/// Counts records returned to a consumer (one pass over lengths, no logging).
fn record_fetched(records: &[stratus_format::batch::StoredRecord]) {
    if records.is_empty() {
        return;
    }
    let bytes: usize = records.iter().map(|r| r.payload_len()).sum();
    let metrics = stratus_telemetry::metrics();
    metrics.fetch_records.add(records.len() as u64, &[]);
    metrics.fetch_bytes.add(bytes as u64, &[]);
}

/// Counts one answered Fetch (or the opening of a Subscribe).
fn record_fetch<T>(result: &Result<T, Status>) {
    let metrics = stratus_telemetry::metrics();
    metrics.fetch_requests.add(1, &outcome(result.is_ok()));
    if let Err(status) = result {
        metrics.fetch_errors.add(1, &kind(status.code()));
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
        let result = Self::fetch_once(
            &self.0,
            &r.topic,
            r.partition,
            r.offset,
            r.max_bytes,
            Duration::from_millis(u64::from(r.max_wait_ms)),
        )
        .instrument(span)
        .await
        .map_err(Status::from);
        record_fetch(&result);
        Ok(Response::new(result?))
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
        let first = Self::fetch_once(
            &self.0,
            &r.topic,
            r.partition,
            r.offset,
            r.max_bytes_per_message,
            Duration::ZERO,
        )
        .instrument(span)
        .await
        .map_err(Status::from);
        record_fetch(&first);
        let first = first?;
        let (sender, receiver) = mpsc::channel(SUBSCRIBE_BUFFER);
        let shared = Arc::clone(&self.0);
        tokio::spawn(async move {
            let mut offset = first.next_fetch_offset;
            if !first.records.is_empty() && sender.send(Ok(first)).await.is_err() {
                return;
            }
            loop {
                let next = Self::fetch_once(
                    &shared,
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
        let topic = self
            .0
            .topics
            .get(&self.0.log, &r.topic)
            .await
            .map_err(GatewayError::from)?;
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
        let partitions = if r.partitions.is_empty() {
            (0..topic.partitions).collect()
        } else {
            r.partitions
        };
        let mut out = Vec::with_capacity(partitions.len());
        for partition in partitions {
            let found = self
                .0
                .log
                .resolve_offset(&topic, partition, query)
                .await
                .map_err(GatewayError::from)?;
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
