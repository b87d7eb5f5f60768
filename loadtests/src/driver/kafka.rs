//! Any Kafka broker through librdkafka (the `rdkafka` crate): Stratus's
//! Kafka listener, Apache Kafka, Tansu. One driver for all of them, so what
//! differs between their figures is the broker, not the client.
//!
//! Producers: acks=all, idempotence as the workload says, and the batching
//! of [`ProducerSettings`] written as librdkafka settings (the full list goes
//! into the report). Records are routed here, not by librdkafka's
//! partitioner: keyed records by murmur2 as Stratus and the Java client route
//! them, keyless ones stuck to one partition for a batch's worth of bytes as
//! the SDK does, so every driver spreads a workload the same way.
//!
//! Consumers are assigned partitions (`assign`, no group.id): Stratus's Kafka
//! listener has no group coordinator, and a benchmark reader needs none.
//! librdkafka calls block, so metadata and flush calls run on the blocking
//! pool; producing and consuming go through its own threads.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use async_trait::async_trait;
use bytes::Bytes;
use futures::FutureExt;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer as _, StreamConsumer};
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Message as _};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};
use rdkafka::{Offset, TopicPartitionList};
use stratus_proto::partitioner::partition_for_key;

use super::{Ack, Consumer, Driver, Producer, ProducerSettings};

/// How long admin calls, metadata waits and a final flush may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// The SDK's default delivery timeout, so a stalled broker fails records at
/// the same moment whichever client sends them.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(120);
/// The SDK's default producer buffer (queue.buffering.max.kbytes).
const BUFFER_KIB: usize = 32 * 1024;
/// Largest produce request; Stratus's listener takes up to 16 MiB frames,
/// Apache Kafka 100 MiB (socket.request.max.bytes).
const MAX_REQUEST_BYTES: usize = 8 << 20;
/// Back-off while librdkafka's queue is full.
const QUEUE_FULL_BACKOFF: Duration = Duration::from_millis(1);
/// Records one `poll` hands back at most.
const POLL_BATCH: usize = 1024;

/// One Kafka broker (or cluster) reached at `bootstrap` (`host:port`).
pub struct KafkaDriver {
    bootstrap: String,
    broker: String,
    durability: String,
    settings: ProducerSettings,
    admin: Arc<AdminClient<DefaultClientContext>>,
}

impl std::fmt::Debug for KafkaDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaDriver")
            .field("bootstrap", &self.bootstrap)
            .field("broker", &self.broker)
            .finish_non_exhaustive()
    }
}

impl KafkaDriver {
    /// `broker` names what is measured (e.g. `apache-kafka 4.4.0`);
    /// `durability` says when it acknowledges, for the report.
    pub async fn connect(
        bootstrap: &str,
        broker: &str,
        durability: String,
        settings: ProducerSettings,
    ) -> anyhow::Result<Self> {
        let bootstrap = bootstrap.trim_start_matches("kafka://").to_owned();
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .create()
            .context("creating a Kafka admin client")?;
        let admin = Arc::new(admin);
        let probe = admin.clone();
        blocking(move || probe.inner().fetch_metadata(None, CALL_TIMEOUT))
            .await?
            .with_context(|| format!("cannot connect to Kafka at {bootstrap}"))?;
        Ok(Self {
            bootstrap,
            broker: broker.to_owned(),
            durability,
            settings,
            admin,
        })
    }

    fn config(&self, entries: Vec<(&'static str, String)>) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.bootstrap);
        for (key, value) in entries {
            config.set(key, value);
        }
        config
    }

    /// Waits until the broker reports `partitions` partitions of `topic`,
    /// each with a leader: Apache Kafka elects leaders a moment after
    /// CreateTopics answers, and a producer started earlier would count the
    /// wait as latency.
    async fn await_leaders(&self, topic: &str, partitions: u32) -> anyhow::Result<()> {
        let deadline = Instant::now() + CALL_TIMEOUT;
        loop {
            let admin = self.admin.clone();
            let name = topic.to_owned();
            let ready = blocking(move || {
                let metadata = admin
                    .inner()
                    .fetch_metadata(Some(&name), Duration::from_secs(5))?;
                Ok::<_, KafkaError>(metadata.topics().iter().any(|t| {
                    t.name() == name
                        && t.error().is_none()
                        && t.partitions().len() == partitions as usize
                        && t.partitions().iter().all(|p| p.leader() >= 0)
                }))
            })
            .await?;
            match ready {
                Ok(true) => return Ok(()),
                Ok(false) | Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Ok(false) => anyhow::bail!(
                    "topic {topic} has no leader for every partition after {CALL_TIMEOUT:?}"
                ),
                Err(e) => return Err(e).context(format!("reading metadata of topic {topic}")),
            }
        }
    }
}

/// The producer configuration, as librdkafka names it; every entry but
/// the address goes into the report.
fn producer_config(s: &ProducerSettings) -> Vec<(&'static str, String)> {
    vec![
        ("acks", "all".into()),
        ("enable.idempotence", s.idempotent.to_string()),
        ("linger.ms", format!("{}", s.linger.as_secs_f64() * 1e3)),
        ("batch.size", s.batch_bytes.to_string()),
        ("compression.type", s.compression_name().into()),
        (
            "max.in.flight.requests.per.connection",
            s.max_in_flight.to_string(),
        ),
        ("queue.buffering.max.kbytes", BUFFER_KIB.to_string()),
        ("message.max.bytes", MAX_REQUEST_BYTES.to_string()),
        (
            "message.timeout.ms",
            DELIVERY_TIMEOUT.as_millis().to_string(),
        ),
        // The SDK's retry back-off: 50 ms doubling up to 2 s.
        ("retry.backoff.ms", "50".into()),
        ("retry.backoff.max.ms", "2000".into()),
    ]
}

/// The consumer configuration: librdkafka's fetch defaults, written out.
fn consumer_config() -> Vec<(&'static str, String)> {
    vec![
        ("enable.auto.commit", "false".into()),
        ("enable.auto.offset.store", "false".into()),
        ("auto.offset.reset", "earliest".into()),
        ("fetch.wait.max.ms", "500".into()),
        ("fetch.min.bytes", "1".into()),
        ("fetch.max.bytes", (50 << 20).to_string()),
        ("max.partition.fetch.bytes", (1 << 20).to_string()),
    ]
}

/// Runs a blocking librdkafka call on tokio's blocking pool.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .context("a blocking Kafka client call panicked")
}

/// Version of the librdkafka linked in, e.g. `2.12.1`.
pub fn librdkafka_version() -> String {
    rdkafka::util::get_rdkafka_version().1
}

#[async_trait]
impl Driver for KafkaDriver {
    fn name(&self) -> String {
        format!(
            "{} kafka://{} (librdkafka {}, {}, {} in flight)",
            self.broker,
            self.bootstrap,
            librdkafka_version(),
            self.settings.compression_name(),
            self.settings.max_in_flight
        )
    }

    fn durability(&self) -> String {
        self.durability.clone()
    }

    fn client_settings(&self) -> Vec<(String, String)> {
        let mut out = vec![(
            "client".to_owned(),
            format!("librdkafka {}", librdkafka_version()),
        )];
        let producer = producer_config(&self.settings).into_iter();
        let consumer = consumer_config().into_iter();
        out.extend(producer.map(|(k, v)| (format!("producer {k}"), v)));
        out.extend(consumer.map(|(k, v)| (format!("consumer {k}"), v)));
        out
    }

    async fn create_topic(&self, topic: &str, partitions: u32) -> anyhow::Result<()> {
        let partitions_i32 = i32::try_from(partitions).context("partition count")?;
        let new = NewTopic::new(topic, partitions_i32, TopicReplication::Fixed(1));
        let options = AdminOptions::new().operation_timeout(Some(CALL_TIMEOUT));
        let results = self
            .admin
            .create_topics([&new], &options)
            .await
            .with_context(|| format!("creating Kafka topic {topic}"))?;
        for result in results {
            if let Err((name, code)) = result {
                anyhow::bail!("creating Kafka topic {name}: {code}");
            }
        }
        self.await_leaders(topic, partitions).await
    }

    async fn delete_topic(&self, topic: &str) -> anyhow::Result<()> {
        let options = AdminOptions::new().operation_timeout(Some(CALL_TIMEOUT));
        let results = self
            .admin
            .delete_topics(&[topic], &options)
            .await
            .with_context(|| format!("deleting Kafka topic {topic}"))?;
        for result in results {
            if let Err((name, code)) = result {
                anyhow::bail!("deleting Kafka topic {name}: {code}");
            }
        }
        Ok(())
    }

    async fn producer(&self, topic: &str, partitions: u32) -> anyhow::Result<Box<dyn Producer>> {
        let producer: FutureProducer = self
            .config(producer_config(&self.settings))
            .create()
            .context("creating a Kafka producer")?;
        Ok(Box::new(KafkaProducer {
            producer,
            topic: topic.to_owned(),
            partitions,
            batch_bytes: self.settings.batch_bytes,
            sticky: AtomicU32::new(rand::random_range(0..partitions.max(1))),
            sticky_bytes: AtomicUsize::new(0),
        }))
    }

    async fn consumer(
        &self,
        topic: &str,
        partitions: Vec<u32>,
        subscription: &str,
    ) -> anyhow::Result<Box<dyn Consumer>> {
        // librdkafka assigns partitions only to a consumer with a group.id,
        // but nothing here uses the group: no join (assign, not subscribe),
        // no commits (explicit start offsets), so no coordinator is needed.
        let mut config = self.config(consumer_config());
        config.set(
            "group.id",
            format!("stratus-bench-{subscription}-{:08x}", rand::random::<u32>()),
        );
        let consumer: StreamConsumer = config.create().context("creating a Kafka consumer")?;
        let mut assignment = TopicPartitionList::new();
        for partition in partitions {
            assignment.add_partition_offset(topic, partition as i32, Offset::Beginning)?;
        }
        consumer
            .assign(&assignment)
            .with_context(|| format!("assigning partitions of {topic}"))?;
        Ok(Box::new(KafkaConsumer(consumer)))
    }
}

struct KafkaProducer {
    producer: FutureProducer,
    topic: String,
    partitions: u32,
    batch_bytes: usize,
    /// Keyless records' partition, and the bytes sent to it so far.
    sticky: AtomicU32,
    sticky_bytes: AtomicUsize,
}

impl KafkaProducer {
    /// Murmur2 of the key, or a sticky partition for a batch's worth of
    /// bytes (the SDK's `StickyPartitioning::PerBatchBytes`: the tool does
    /// not see when librdkafka seals a batch).
    fn partition(&self, key: Option<&Bytes>, size: usize) -> u32 {
        if let Some(key) = key {
            return partition_for_key(key, self.partitions);
        }
        let filled = self.sticky_bytes.fetch_add(size, Ordering::Relaxed) + size;
        if filled >= self.batch_bytes {
            self.sticky_bytes.store(0, Ordering::Relaxed);
            let next = (self.sticky.load(Ordering::Relaxed) + 1) % self.partitions.max(1);
            self.sticky.store(next, Ordering::Relaxed);
        }
        self.sticky.load(Ordering::Relaxed)
    }
}

#[async_trait]
impl Producer for KafkaProducer {
    async fn send(&self, key: Option<Bytes>, payload: Bytes) -> anyhow::Result<Ack> {
        let partition = self.partition(key.as_ref(), payload.len()) as i32;
        loop {
            let mut record = FutureRecord::<[u8], [u8]>::to(&self.topic)
                .payload(&payload[..])
                .partition(partition);
            if let Some(key) = &key {
                record = record.key(&key[..]);
            }
            // The record goes back with a full queue; wait outside the match
            // so nothing of it is held across the sleep.
            let queue_full = match self.producer.send_result(record) {
                Ok(delivery) => {
                    return Ok(async move {
                        match delivery.await {
                            Ok(Ok(_)) => Ok(()),
                            Ok(Err((e, _))) => Err(anyhow::anyhow!("Kafka delivery: {e}")),
                            Err(_) => Err(anyhow::anyhow!(
                                "the Kafka producer stopped before the record was answered"
                            )),
                        }
                    }
                    .boxed());
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => true,
                Err((e, _)) => return Err(anyhow::anyhow!("Kafka produce: {e}")),
            };
            if queue_full {
                tokio::time::sleep(QUEUE_FULL_BACKOFF).await;
            }
        }
    }

    async fn flush(&self) -> anyhow::Result<()> {
        let producer = self.producer.clone();
        blocking(move || producer.flush(DELIVERY_TIMEOUT))
            .await?
            .context("flushing the Kafka producer")
    }
}

struct KafkaConsumer(StreamConsumer);

/// Errors librdkafka reports on the consumer queue and recovers from by
/// itself (it refreshes metadata and retries the fetch).
fn transient(e: &KafkaError) -> bool {
    matches!(
        e,
        KafkaError::MessageConsumption(
            RDKafkaErrorCode::UnknownTopicOrPartition
                | RDKafkaErrorCode::LeaderNotAvailable
                | RDKafkaErrorCode::NotLeaderForPartition
                | RDKafkaErrorCode::BrokerTransportFailure
                | RDKafkaErrorCode::RequestTimedOut
        )
    )
}

fn take(message: KafkaResult<BorrowedMessage<'_>>, out: &mut Vec<Bytes>) -> anyhow::Result<()> {
    match message {
        Ok(m) => out.push(Bytes::copy_from_slice(m.payload().unwrap_or_default())),
        Err(e) if transient(&e) => {}
        Err(e) => return Err(anyhow::anyhow!("Kafka consumer: {e}")),
    }
    Ok(())
}

#[async_trait]
impl Consumer for KafkaConsumer {
    async fn poll(&mut self) -> anyhow::Result<Vec<Bytes>> {
        let first = match tokio::time::timeout(Duration::from_millis(500), self.0.recv()).await {
            Err(_elapsed) => return Ok(Vec::new()),
            Ok(message) => message,
        };
        let mut out = Vec::new();
        take(first, &mut out)?;
        // Take what has already arrived without waiting again.
        while out.len() < POLL_BATCH {
            match self.0.recv().now_or_never() {
                Some(message) => take(message, &mut out)?,
                None => break,
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CompressionArg;

    fn settings() -> ProducerSettings {
        ProducerSettings {
            linger: Duration::from_millis(5),
            batch_bytes: 1 << 20,
            compression: CompressionArg::Zstd,
            max_in_flight: 5,
            idempotent: true,
            sticky: crate::driver::StickyArg::Batch,
        }
    }

    // A StreamConsumer starts a task, so this needs a runtime.
    #[tokio::test]
    async fn producer_settings_are_written_as_librdkafka_accepts_them() {
        let entries = producer_config(&settings());
        let get = |k: &str| entries.iter().find(|(key, _)| *key == k).unwrap().1.clone();
        assert_eq!(get("linger.ms"), "5");
        assert_eq!(get("acks"), "all");
        assert_eq!(get("batch.size"), "1048576");
        assert_eq!(get("compression.type"), "zstd");
        // librdkafka checks every setting when a client is created; no
        // broker is needed for that.
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", "127.0.0.1:1");
        for (k, v) in entries {
            config.set(k, v);
        }
        let _producer: FutureProducer = config.create().expect("librdkafka accepts the settings");
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", "127.0.0.1:1");
        for (k, v) in consumer_config() {
            config.set(k, v);
        }
        let _consumer: StreamConsumer = config.create().expect("librdkafka accepts the settings");
    }

    #[test]
    fn keyless_records_stick_to_a_partition_for_a_batch() {
        let producer = KafkaProducer {
            producer: {
                let mut config = ClientConfig::new();
                config.set("bootstrap.servers", "127.0.0.1:1");
                config.create().unwrap()
            },
            topic: "t".into(),
            partitions: 4,
            batch_bytes: 1000,
            sticky: AtomicU32::new(3),
            sticky_bytes: AtomicUsize::new(0),
        };
        let first: Vec<u32> = (0..4).map(|_| producer.partition(None, 300)).collect();
        assert_eq!(first, vec![3, 3, 3, 0], "the fourth record fills the batch");
        let key = Bytes::from_static(b"key-1");
        assert_eq!(
            producer.partition(Some(&key), 300),
            partition_for_key(&key, 4)
        );
    }
}
