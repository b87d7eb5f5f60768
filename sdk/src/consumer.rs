//! The [`Consumer`]: reads assigned partitions of one topic from chosen
//! positions, as batches ([`Consumer::poll`]) or as a `Stream` of records.
//!
//! Each assigned partition has at most one fetch in flight, so records of a
//! partition arrive in offset order; partitions are fetched concurrently and
//! whichever answers first is returned first. (Consumer groups with committed
//! offsets come later; this is manual assignment.)

use std::collections::{BTreeMap, VecDeque};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::{BoxStream, FuturesUnordered};
use futures::{Stream, StreamExt};
use stratus_proto::v1::{
    DescribeTopicRequest, FetchRequest, FetchResponse, Header, ListOffsetsRequest, OffsetSpec,
};

use crate::error::{Error, Result, is_retryable};
use crate::limits::{DEFAULT_FETCH_MAX_BYTES, DEFAULT_FETCH_WAIT, fetch_retry_backoff};
use crate::transport::Transport;

/// Where to start (or move) reading a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offset {
    /// The first record still kept.
    Earliest,
    /// The end: only records produced from now on.
    Latest,
    /// This offset.
    At(i64),
    /// The first record whose timestamp is at or after these milliseconds
    /// since the Unix epoch (the end if there is none).
    Timestamp(i64),
}

/// A record read from a partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerRecord {
    pub topic: String,
    pub partition: u32,
    pub offset: i64,
    pub timestamp_ms: i64,
    pub key: Option<Bytes>,
    /// `None` for a tombstone.
    pub value: Option<Bytes>,
    pub headers: Vec<Header>,
}

type Fetching =
    Pin<Box<dyn Future<Output = (u32, u64, Result<FetchResponse, tonic::Status>)> + Send>>;

#[derive(Debug, Clone, Copy)]
struct Position {
    offset: i64,
    /// Bumped by every seek, so an answer to a fetch from before it is dropped.
    generation: u64,
    fetching: bool,
    /// Consecutive retryable failures, for backoff.
    failures: u32,
}

/// Reads records of one topic from the partitions assigned to it.
pub struct Consumer {
    transport: Arc<dyn Transport>,
    topic: String,
    positions: BTreeMap<u32, Position>,
    in_flight: FuturesUnordered<Fetching>,
    max_bytes: u32,
    max_wait: Duration,
    generation: u64,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("topic", &self.topic)
            .field("positions", &self.positions)
            .finish_non_exhaustive()
    }
}

impl Consumer {
    pub(crate) fn new(transport: Arc<dyn Transport>, topic: &str) -> Self {
        Self {
            transport,
            topic: topic.to_owned(),
            positions: BTreeMap::new(),
            in_flight: FuturesUnordered::new(),
            max_bytes: DEFAULT_FETCH_MAX_BYTES,
            max_wait: DEFAULT_FETCH_WAIT,
            generation: 0,
        }
    }

    /// Soft limit on the record bytes one fetch returns (default 1 MiB).
    pub fn max_bytes(mut self, bytes: u32) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// How long a fetch at the end of a partition waits for new records
    /// (default 500 ms).
    pub fn max_wait(mut self, wait: Duration) -> Self {
        self.max_wait = wait;
        self
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The topic's partition numbers.
    pub async fn partitions(&self) -> Result<Vec<u32>> {
        let topic = self
            .transport
            .describe_topic(DescribeTopicRequest {
                name: self.topic.clone(),
            })
            .await?
            .topic
            .ok_or(Error::Protocol("a topic description"))?;
        Ok(topic.partitions.iter().map(|p| p.partition).collect())
    }

    /// Reads `partitions` (replacing any earlier assignment), each from `start`.
    pub async fn assign(&mut self, partitions: &[u32], start: Offset) -> Result<()> {
        let offsets = self.resolve(partitions, start).await?;
        self.positions.clear();
        for (partition, offset) in offsets {
            self.place(partition, offset);
        }
        Ok(())
    }

    /// Adds a partition to the assignment (or moves it, if assigned), read from `start`.
    pub async fn add(&mut self, partition: u32, start: Offset) -> Result<()> {
        let offsets = self.resolve(&[partition], start).await?;
        for (partition, offset) in offsets {
            self.place(partition, offset);
        }
        Ok(())
    }

    /// Reads every partition of the topic from `start`.
    pub async fn assign_all(&mut self, start: Offset) -> Result<()> {
        let partitions = self.partitions().await?;
        self.assign(&partitions, start).await
    }

    /// Moves an assigned partition's position; records already returned are
    /// not returned again unless the new position is before them.
    pub async fn seek(&mut self, partition: u32, to: Offset) -> Result<()> {
        if !self.positions.contains_key(&partition) {
            return Err(Error::Config(format!(
                "partition {partition} of {:?} is not assigned; assign it before seeking",
                self.topic
            )));
        }
        let offsets = self.resolve(&[partition], to).await?;
        for (partition, offset) in offsets {
            self.place(partition, offset);
        }
        Ok(())
    }

    /// The next offset to read per assigned partition.
    pub fn positions(&self) -> BTreeMap<u32, i64> {
        self.positions
            .iter()
            .map(|(p, pos)| (*p, pos.offset))
            .collect()
    }

    /// The next offset each assigned partition will give a record (the
    /// high-water marks).
    pub async fn end_offsets(&self) -> Result<BTreeMap<u32, i64>> {
        let partitions: Vec<u32> = self.positions.keys().copied().collect();
        self.resolve(&partitions, Offset::Latest).await
    }

    fn place(&mut self, partition: u32, offset: i64) {
        self.generation += 1;
        self.positions.insert(
            partition,
            Position {
                offset,
                generation: self.generation,
                fetching: false,
                failures: 0,
            },
        );
    }

    /// Borrows nothing across an await (it clones the transport), so the
    /// futures of `assign`, `seek` and friends are `Send` although the
    /// consumer is not `Sync`: callers can run them in spawned tasks.
    fn resolve(
        &self,
        partitions: &[u32],
        to: Offset,
    ) -> impl Future<Output = Result<BTreeMap<u32, i64>>> + Send + 'static {
        Self::resolve_offsets(
            self.transport.clone(),
            self.topic.clone(),
            partitions.to_vec(),
            to,
        )
    }

    async fn resolve_offsets(
        transport: Arc<dyn Transport>,
        topic: String,
        partitions: Vec<u32>,
        to: Offset,
    ) -> Result<BTreeMap<u32, i64>> {
        let (spec, timestamp_ms) = match to {
            Offset::At(offset) => return Ok(partitions.iter().map(|p| (*p, offset)).collect()),
            Offset::Earliest => (OffsetSpec::Earliest, 0),
            Offset::Latest => (OffsetSpec::Latest, 0),
            Offset::Timestamp(ms) => (OffsetSpec::Timestamp, ms),
        };
        let request = ListOffsetsRequest {
            topic,
            partitions: partitions.clone(),
            spec: spec as i32,
            timestamp_ms,
        };
        let response = transport.list_offsets(request.clone()).await?;
        let mut offsets = BTreeMap::new();
        let mut past_end = Vec::new();
        for p in response.partitions {
            if p.offset < 0 {
                past_end.push(p.partition);
            } else {
                offsets.insert(p.partition, p.offset);
            }
        }
        // No record at or after the timestamp: start at the end.
        if !past_end.is_empty() {
            let latest = transport
                .list_offsets(ListOffsetsRequest {
                    partitions: past_end,
                    spec: OffsetSpec::Latest as i32,
                    ..request
                })
                .await?;
            offsets.extend(latest.partitions.iter().map(|p| (p.partition, p.offset)));
        }
        Ok(offsets)
    }

    /// Waits for records from any assigned partition and returns those of one
    /// fetch, in offset order. Fails on errors a retry cannot fix (such as a
    /// position outside the log); the partition can then be seeked.
    pub async fn poll(&mut self) -> Result<Vec<ConsumerRecord>> {
        if self.positions.is_empty() {
            return Err(Error::Config(format!(
                "no partition of {:?} is assigned; call assign first",
                self.topic
            )));
        }
        loop {
            self.start_fetches();
            let Some((partition, generation, result)) = self.in_flight.next().await else {
                continue;
            };
            let Some(position) = self.positions.get_mut(&partition) else {
                continue;
            };
            if position.generation != generation {
                continue;
            }
            position.fetching = false;
            match result {
                Ok(response) => {
                    position.failures = 0;
                    position.offset = response.next_fetch_offset.max(position.offset);
                    if !response.records.is_empty() {
                        return Ok(into_records(&self.topic, partition, response));
                    }
                }
                Err(status) if is_retryable(&status) => position.failures += 1,
                Err(status) => return Err(status.into()),
            }
        }
    }

    fn start_fetches(&mut self) {
        for (partition, position) in &mut self.positions {
            if position.fetching {
                continue;
            }
            position.fetching = true;
            let transport = self.transport.clone();
            let request = FetchRequest {
                topic: self.topic.clone(),
                partition: *partition,
                offset: position.offset,
                max_bytes: self.max_bytes,
                max_wait_ms: self.max_wait.as_millis() as u32,
            };
            let (partition, generation) = (*partition, position.generation);
            let backoff = fetch_retry_backoff(position.failures);
            self.in_flight.push(Box::pin(async move {
                tokio::time::sleep(backoff).await;
                (partition, generation, transport.fetch(request).await)
            }));
        }
    }

    /// The records of the assigned partitions, endlessly (it waits at the end
    /// of the log for more). Errors are yielded, and the stream goes on.
    pub fn stream(&mut self) -> BoxStream<'_, Result<ConsumerRecord>> {
        Box::pin(records(self))
    }

    /// [`Consumer::stream`], owning the consumer.
    pub fn into_stream(self) -> BoxStream<'static, Result<ConsumerRecord>> {
        Box::pin(records(Box::new(self)))
    }
}

fn records<C>(consumer: C) -> impl Stream<Item = Result<ConsumerRecord>> + Send
where
    C: std::ops::DerefMut<Target = Consumer> + Send,
{
    futures::stream::unfold(
        (consumer, VecDeque::new()),
        |(mut consumer, mut buffered)| async move {
            loop {
                if let Some(record) = buffered.pop_front() {
                    return Some((Ok(record), (consumer, buffered)));
                }
                match consumer.poll().await {
                    Ok(batch) => buffered.extend(batch),
                    Err(error) => return Some((Err(error), (consumer, buffered))),
                }
            }
        },
    )
}

pub(crate) fn into_records(
    topic: &str,
    partition: u32,
    response: FetchResponse,
) -> Vec<ConsumerRecord> {
    response
        .records
        .into_iter()
        .map(|r| ConsumerRecord {
            topic: topic.to_owned(),
            partition,
            offset: r.offset,
            timestamp_ms: r.timestamp_ms,
            key: r.key,
            value: r.value,
            headers: r.headers,
        })
        .collect()
}
