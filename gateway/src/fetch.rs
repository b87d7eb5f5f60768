//! The one fetch path, shared by gRPC, QUIC and the Kafka listener: reads
//! committed data from many partitions at once and, when there is not yet
//! enough to return, long-polls on the commit watch of each partition still
//! empty (a metadata watch of its next-offset key, not polling) until data
//! arrives, `max_wait` passes or the gateway shuts down. Data comes as
//! decoded records ([`FetchPath::fetch`]: gRPC, QUIC) or as stored batches
//! with base offsets patched ([`FetchPath::fetch_batches`]: Kafka clients,
//! which decode RecordBatch v2 themselves).
//!
//! Only committed data is ever returned (the log guarantees it). This
//! module never writes and never shapes a wire response.

use std::sync::Arc;
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt as _, select_all};
use stratus_format::batch::{StoredRecord, batch_infos};
use stratus_storage::log::{BatchRead, Log, LogError, ReadResult};
use stratus_storage::topic::TopicRecord;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::error::GatewayError;
use crate::topics::TopicCache;

/// A read of many partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetch {
    /// Partitions to read, answered in this order.
    pub partitions: Vec<FetchPartition>,
    /// Most bytes in total (of records: key, value and headers; of batches:
    /// as stored); 0 means the gateway's `max_fetch_bytes`, which also caps
    /// any other value. The first partition with data returns at least one
    /// record or batch, however large.
    pub max_bytes: u32,
    /// Bytes that end the wait early; 0 means any record does.
    pub min_bytes: u32,
    /// Longest wait for `min_bytes`, capped by the gateway's
    /// `max_fetch_wait`; zero answers at once.
    pub max_wait: Duration,
}

/// One partition of a [`Fetch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchPartition {
    pub topic: String,
    pub partition: u32,
    /// First offset wanted.
    pub offset: i64,
    /// Most bytes from this partition; 0 means no limit of its own.
    pub max_bytes: u32,
}

/// What a fetch read from one partition: records ([`ReadResult`]: the
/// records, the offset to read next and the partition's range) or stored
/// batches ([`BatchRead`]).
#[derive(Debug, Clone)]
pub struct Fetched<R = ReadResult> {
    pub topic: Arc<TopicRecord>,
    pub partition: u32,
    pub read: R,
}

/// What a batch fetch read from one partition.
pub type FetchedBatches = Fetched<BatchRead>;

/// Where a fetch reads one partition, and how much.
#[derive(Clone, Copy)]
struct ReadAt<'a> {
    log: &'a Log,
    topic: &'a TopicRecord,
    partition: u32,
    offset: i64,
    budget: usize,
}

/// A form in which a fetch reads a partition.
trait PartitionRead: Sized + Send + Sync + 'static {
    /// Reads about `at.budget` bytes from `at.offset`.
    fn read(at: ReadAt<'_>) -> BoxFuture<'_, Result<Self, LogError>>;
    /// Bytes counted against `max_bytes` and `min_bytes`.
    fn bytes(&self) -> usize;
    /// Records read, for the fetch counters.
    fn records(&self) -> usize;
    fn is_empty(&self) -> bool;
}

impl PartitionRead for ReadResult {
    fn read(at: ReadAt<'_>) -> BoxFuture<'_, Result<Self, LogError>> {
        at.log
            .read(at.topic, at.partition, at.offset, at.budget)
            .boxed()
    }

    fn bytes(&self) -> usize {
        self.records.iter().map(StoredRecord::payload_len).sum()
    }

    fn records(&self) -> usize {
        self.records.len()
    }

    fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

impl PartitionRead for BatchRead {
    fn read(at: ReadAt<'_>) -> BoxFuture<'_, Result<Self, LogError>> {
        at.log
            .read_batches(at.topic, at.partition, at.offset, at.budget)
            .boxed()
    }

    fn bytes(&self) -> usize {
        self.batches.iter().map(|b| b.len()).sum()
    }

    fn records(&self) -> usize {
        // Header reads only: the log checked these batches when it stored them.
        let infos = self.batches.iter().filter_map(|b| batch_infos(b).ok());
        infos.flatten().map(|info| info.record_count as usize).sum()
    }

    fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }
}

/// The gateway's one fetch path; cheap to clone.
#[derive(Debug, Clone)]
pub struct FetchPath {
    log: Arc<Log>,
    topics: Arc<TopicCache>,
    max_fetch_bytes: u32,
    max_fetch_wait: Duration,
    /// Flips to `true` when the gateway shuts down; long polls end early.
    shutdown: watch::Receiver<bool>,
}

/// A partition's commit watch, resolving when its next offset moves.
type Commit = BoxFuture<'static, ()>;

impl FetchPath {
    pub(crate) fn new(
        log: Arc<Log>,
        topics: Arc<TopicCache>,
        max_fetch_bytes: u32,
        max_fetch_wait: Duration,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        Self {
            log,
            topics,
            max_fetch_bytes,
            max_fetch_wait,
            shutdown,
        }
    }

    /// Reads one partition: `fetch` with a single partition whose error is
    /// the call's.
    pub async fn fetch_one(
        &self,
        partition: FetchPartition,
        max_wait: Duration,
    ) -> Result<Fetched, GatewayError> {
        let max_bytes = partition.max_bytes;
        let fetch = Fetch {
            partitions: vec![partition],
            max_bytes,
            min_bytes: 0,
            max_wait,
        };
        let mut answers = self.fetch(fetch).await?;
        answers.pop().expect("one answer per partition")
    }

    /// Reads every partition of `fetch` as records; waits (see the module
    /// docs) until `min_bytes` are there, a partition fails, or the wait
    /// ends. Returns one answer per partition, in order; `Err` only when the
    /// gateway shuts down meanwhile.
    pub async fn fetch(
        &self,
        fetch: Fetch,
    ) -> Result<Vec<Result<Fetched, GatewayError>>, GatewayError> {
        self.fetch_as(fetch).await
    }

    /// [`FetchPath::fetch`], reading stored batches as the producers sent
    /// them (any codec), base offsets patched; nothing is decompressed.
    pub async fn fetch_batches(
        &self,
        fetch: Fetch,
    ) -> Result<Vec<Result<FetchedBatches, GatewayError>>, GatewayError> {
        self.fetch_as(fetch).await
    }

    async fn fetch_as<R: PartitionRead>(
        &self,
        fetch: Fetch,
    ) -> Result<Vec<Result<Fetched<R>, GatewayError>>, GatewayError> {
        let total = match fetch.max_bytes {
            0 => self.max_fetch_bytes,
            n => n.min(self.max_fetch_bytes),
        } as usize;
        let deadline = Instant::now() + fetch.max_wait.min(self.max_fetch_wait);
        let mut answers = Vec::with_capacity(fetch.partitions.len());
        let mut totals = Totals::default();
        let mut commits = Vec::new();
        for p in &fetch.partitions {
            let answer = match self.topics.get(&self.log, &p.topic).await {
                Ok(topic) => {
                    let budget = totals.budget(p, total);
                    self.read(topic, p, budget, &mut commits).await
                }
                Err(e) => Err(e.into()),
            };
            totals.add(&answer);
            answers.push(answer);
        }
        loop {
            let enough = totals.data && totals.bytes >= fetch.min_bytes as usize;
            let full = totals.bytes >= total;
            let waited = Instant::now() >= deadline;
            if enough || full || totals.failed || commits.is_empty() || waited {
                totals.record();
                return Ok(answers);
            }
            let mut shutdown = self.shutdown.clone();
            tokio::select! {
                _ = select_all(commits.drain(..)) => {}
                () = tokio::time::sleep_until(deadline) => {}
                // An error means the sender is gone, which also means shutdown.
                _ = shutdown.wait_for(|stopping| *stopping) => {}
            }
            if *self.shutdown.borrow() {
                return Err(GatewayError::ShuttingDown);
            }
            for (answer, p) in answers.iter_mut().zip(&fetch.partitions) {
                let topic = match answer {
                    Ok(empty) if empty.read.is_empty() => Arc::clone(&empty.topic),
                    _ => continue,
                };
                let budget = totals.budget(p, total);
                *answer = self.read(topic, p, budget, &mut commits).await;
                totals.add(answer);
            }
        }
    }

    /// Reads one partition from its offset. When nothing is there yet, its
    /// commit watch joins `commits`; the watch is taken before the read, so a
    /// commit between the read and the wait still wakes the fetch.
    async fn read<R: PartitionRead>(
        &self,
        topic: Arc<TopicRecord>,
        p: &FetchPartition,
        budget: usize,
        commits: &mut Vec<Commit>,
    ) -> Result<Fetched<R>, GatewayError> {
        let head = self.log.head_key(topic.id, p.partition);
        let watch = self.log.meta().watch(&head);
        let at = ReadAt {
            log: &self.log,
            topic: &topic,
            partition: p.partition,
            offset: p.offset,
            budget,
        };
        let read = R::read(at).await?;
        if read.is_empty() {
            commits.push(watch.changed().boxed());
        }
        Ok(Fetched {
            topic,
            partition: p.partition,
            read,
        })
    }
}

/// What the answers so far hold.
#[derive(Debug, Default)]
struct Totals {
    /// Bytes as [`PartitionRead::bytes`] counts them.
    bytes: usize,
    records: usize,
    /// A partition returned data.
    data: bool,
    failed: bool,
}

impl Totals {
    fn add<R: PartitionRead>(&mut self, answer: &Result<Fetched<R>, GatewayError>) {
        match answer {
            Ok(fetched) => {
                self.bytes += fetched.read.bytes();
                self.records += fetched.read.records();
                self.data |= !fetched.read.is_empty();
            }
            Err(_) => self.failed = true,
        }
    }

    /// What partition `p` may still return: its own limit, within what is
    /// left of `total`.
    fn budget(&self, p: &FetchPartition, total: usize) -> usize {
        let own = match p.max_bytes {
            0 => total,
            n => (n as usize).min(total),
        };
        own.min(total.saturating_sub(self.bytes))
    }

    /// Counts records returned to consumers (a counter add, no logging).
    fn record(&self) {
        if self.records == 0 {
            return;
        }
        let metrics = stratus_telemetry::metrics();
        metrics.fetch_records.add(self.records as u64, &[]);
        metrics.fetch_bytes.add(self.bytes as u64, &[]);
    }
}
