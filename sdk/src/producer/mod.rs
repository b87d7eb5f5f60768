//! The batching, idempotent [`Producer`].
//!
//! `send` routes a record to its partition (explicit, murmur2 of the key, or a
//! sticky partition for keyless records), waits for room in the bounded
//! buffer, and hands it to that partition's [`pipeline`], which batches,
//! numbers and retries. The returned [`DeliveryFuture`] resolves with the
//! record's partition and offset once the gateway has made it durable.

mod batch;
mod config;
mod pipeline;
mod stats;
#[cfg(test)]
mod sticky_tests;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use stratus_proto::partitioner::partition_for_key;
use stratus_proto::v1::{DescribeTopicRequest, InitProducerIdRequest};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::time::Instant;

pub use batch::Compression;
pub use config::{ProducerConfig, ProducerRecord, StickyPartitioning};
use pipeline::{Msg, Pending, Pipeline};
pub use stats::{ProducerStatsSnapshot, STAGE_BUCKET_BOUNDS, StageSnapshot};

use crate::error::{Error, Result};
use crate::transport::Transport;

/// Where an acknowledged record landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Delivery {
    pub partition: u32,
    pub offset: i64,
}

/// Resolves when the gateway acknowledges the record (durable and
/// committed), or fails once retries are exhausted.
#[derive(Debug)]
#[must_use = "a delivery future tells whether the record was written"]
pub struct DeliveryFuture {
    rx: oneshot::Receiver<Result<Delivery>>,
}

impl Future for DeliveryFuture {
    type Output = Result<Delivery>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.rx)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(Error::Closed)))
    }
}

/// The producer id and epoch the gateway gave this producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerIdentity {
    pub producer_id: i64,
    pub epoch: i32,
}

/// State every partition pipeline of one producer shares.
#[derive(Debug)]
pub(crate) struct Shared {
    transport: Arc<dyn Transport>,
    config: ProducerConfig,
    identity: Option<ProducerIdentity>,
    /// Set once the producer can write no more (fenced, or an outcome unknown).
    fatal: Mutex<Option<Error>>,
    outstanding: AtomicUsize,
    idle: Notify,
    stats: stats::ProducerStats,
}

impl Shared {
    fn fatal(&self) -> Option<Error> {
        self.fatal.lock().expect("not poisoned").clone()
    }

    fn set_fatal(&self, error: Error) {
        self.fatal
            .lock()
            .expect("not poisoned")
            .get_or_insert(error);
    }
}

/// Counts the batches one partition's pipeline seals, for the sticky
/// partitioner of keyless records.
#[derive(Debug)]
pub(crate) struct SealCounter {
    seals: Arc<[AtomicU64]>,
    partition: usize,
}

impl SealCounter {
    pub(crate) fn sealed(&self) {
        self.seals[self.partition].fetch_add(1, Ordering::Relaxed);
    }
}

/// A record's claim on the buffer and on the producer's count of unanswered
/// records; released when the record is answered.
#[derive(Debug)]
pub(crate) struct Held {
    _permit: OwnedSemaphorePermit,
    shared: Arc<Shared>,
}

impl Drop for Held {
    fn drop(&mut self) {
        if self.shared.outstanding.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.idle.notify_waiters();
        }
    }
}

#[derive(Debug)]
struct TopicInfo {
    partitions: u32,
    /// The partition keyless records stick to, until its batch is sealed
    /// or it took `batch_bytes` ([`StickyPartitioning`]).
    sticky: AtomicU32,
    sticky_bytes: AtomicUsize,
    /// Batches each partition's pipeline has sealed, and how many the
    /// sticky partition had sealed when it was chosen.
    seals: Arc<[AtomicU64]>,
    sticky_seals: AtomicU64,
}

/// Sends records to Stratus in batches; idempotent by default. Cheap to
/// share behind an `Arc`; every method takes `&self`.
#[derive(Debug)]
pub struct Producer {
    shared: Arc<Shared>,
    buffer: Arc<Semaphore>,
    topics: tokio::sync::Mutex<HashMap<String, Arc<TopicInfo>>>,
    pipelines: Mutex<HashMap<(String, u32), mpsc::UnboundedSender<Msg>>>,
}

impl Producer {
    pub(crate) async fn start(
        transport: Arc<dyn Transport>,
        config: ProducerConfig,
    ) -> Result<Self> {
        config.validate()?;
        let identity = if config.idempotence {
            let response = transport
                .init_producer_id(InitProducerIdRequest::default())
                .await?;
            Some(ProducerIdentity {
                producer_id: response.producer_id,
                epoch: response.producer_epoch,
            })
        } else {
            None
        };
        Ok(Self {
            buffer: Arc::new(Semaphore::new(config.buffer_bytes)),
            shared: Arc::new(Shared {
                transport,
                config,
                identity,
                fatal: Mutex::new(None),
                outstanding: AtomicUsize::new(0),
                idle: Notify::new(),
                stats: stats::ProducerStats::default(),
            }),
            topics: tokio::sync::Mutex::new(HashMap::new()),
            pipelines: Mutex::new(HashMap::new()),
        })
    }

    /// The producer id and epoch, when idempotent.
    pub fn identity(&self) -> Option<ProducerIdentity> {
        self.shared.identity
    }

    /// Where this producer's batches have waited since it started: filling,
    /// queued for an in-flight slot, and in their requests.
    pub fn stats(&self) -> ProducerStatsSnapshot {
        self.shared.stats.snapshot()
    }

    /// Buffers `record` for sending and returns the future of its
    /// acknowledgement. Waits while the buffer is full (backpressure). Records
    /// sent to one partition are written in the order of their `send` calls.
    pub async fn send(&self, record: ProducerRecord) -> Result<DeliveryFuture> {
        if let Some(error) = self.shared.fatal() {
            return Err(error);
        }
        let size = record.buffered_size();
        let limit = self.shared.config.buffer_bytes;
        if size > limit {
            return Err(Error::RecordTooLarge { size, limit });
        }
        let topic = self.topic(&record.topic).await?;
        let partition = self.partition_for(&record, &topic, size)?;
        let permit = self
            .buffer
            .clone()
            .acquire_many_owned(size as u32)
            .await
            .map_err(|_| Error::Closed)?;
        self.shared.outstanding.fetch_add(1, Ordering::AcqRel);
        let held = Held {
            _permit: permit,
            shared: self.shared.clone(),
        };
        let (done, rx) = oneshot::channel();
        let pending = Pending {
            record: record.record,
            size,
            enqueued: Instant::now(),
            origin: crate::trace::Origin::capture(),
            done,
            _held: held,
        };
        self.pipeline(&record.topic, partition, &topic)
            .send(Msg::Record(pending))
            .map_err(|_| Error::Closed)?;
        Ok(DeliveryFuture { rx })
    }

    /// Sends everything buffered now and waits until every record sent so far
    /// is answered.
    pub async fn flush(&self) {
        for pipeline in self.pipelines.lock().expect("not poisoned").values() {
            let _ = pipeline.send(Msg::Flush);
        }
        loop {
            let idle = self.shared.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if self.shared.outstanding.load(Ordering::Acquire) == 0 {
                return;
            }
            idle.await;
        }
    }

    /// Flushes, then stops the partition pipelines. Fails if the producer was
    /// fenced or gave up on a record whose outcome is unknown.
    pub async fn close(self) -> Result<()> {
        self.flush().await;
        match self.shared.fatal() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    async fn topic(&self, name: &str) -> Result<Arc<TopicInfo>> {
        let mut topics = self.topics.lock().await;
        if let Some(info) = topics.get(name) {
            return Ok(info.clone());
        }
        let described = self
            .shared
            .transport
            .describe_topic(DescribeTopicRequest {
                name: name.to_owned(),
            })
            .await?
            .topic
            .ok_or(Error::Protocol("a topic description"))?;
        let partitions = described.partitions.len() as u32;
        let info = Arc::new(TopicInfo {
            partitions,
            sticky: AtomicU32::new(rand::random_range(0..partitions.max(1))),
            sticky_bytes: AtomicUsize::new(0),
            seals: (0..partitions.max(1)).map(|_| AtomicU64::new(0)).collect(),
            sticky_seals: AtomicU64::new(0),
        });
        topics.insert(name.to_owned(), info.clone());
        Ok(info)
    }

    fn partition_for(
        &self,
        record: &ProducerRecord,
        topic: &TopicInfo,
        size: usize,
    ) -> Result<u32> {
        if let Some(partition) = record.partition {
            if partition >= topic.partitions {
                return Err(Error::UnknownPartition {
                    topic: record.topic.clone(),
                    partition,
                    partitions: topic.partitions,
                });
            }
            return Ok(partition);
        }
        if let Some(key) = &record.record.key {
            return Ok(partition_for_key(key, topic.partitions));
        }
        let sticky = topic.sticky.load(Ordering::Relaxed);
        let sealed = self.shared.config.sticky == StickyPartitioning::PerBatch
            && topic.seals[sticky as usize].load(Ordering::Relaxed)
                != topic.sticky_seals.load(Ordering::Relaxed);
        let filled = topic.sticky_bytes.fetch_add(size, Ordering::Relaxed) + size;
        if sealed || filled > self.shared.config.batch_bytes {
            let next = (sticky + 1) % topic.partitions.max(1);
            topic.sticky.store(next, Ordering::Relaxed);
            topic.sticky_bytes.store(size, Ordering::Relaxed);
            let seals = topic.seals[next as usize].load(Ordering::Relaxed);
            topic.sticky_seals.store(seals, Ordering::Relaxed);
            return Ok(next);
        }
        Ok(sticky)
    }

    fn pipeline(
        &self,
        topic: &str,
        partition: u32,
        info: &TopicInfo,
    ) -> mpsc::UnboundedSender<Msg> {
        let mut pipelines = self.pipelines.lock().expect("not poisoned");
        let key = (topic.to_owned(), partition);
        if let Some(tx) = pipelines.get(&key) {
            return tx.clone();
        }
        // Unbounded in messages, bounded in bytes: every record in it holds
        // its share of the buffer.
        let (tx, rx) = mpsc::unbounded_channel();
        let seals = SealCounter {
            seals: Arc::clone(&info.seals),
            partition: partition as usize,
        };
        let pipeline = Pipeline::new(self.shared.clone(), topic.to_owned(), partition, seals);
        tokio::spawn(pipeline.run(rx));
        pipelines.insert(key, tx.clone());
        tx
    }
}
