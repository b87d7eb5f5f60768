//! The brokers a workload can run against, behind one small interface:
//! create topics, send records and learn of their acknowledgement, read
//! records back.

pub mod kafka;
pub mod nats;
pub mod stratus;

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::future::BoxFuture;

use crate::CompressionArg;

/// How producers batch, compress and pipeline, the same for every driver
/// that has the setting (the SDK's and librdkafka's), so brokers compare
/// with equal clients.
#[derive(Debug, Clone, Copy)]
pub struct ProducerSettings {
    /// How long a partition's first record waits for a batch to fill.
    pub linger: Duration,
    /// A partition's batch is sent once it holds this many bytes.
    pub batch_bytes: usize,
    pub compression: CompressionArg,
    /// Produce requests in flight: per partition for the SDK, per broker
    /// connection for librdkafka (Kafka's `max.in.flight.requests.per.connection`).
    pub max_in_flight: usize,
    /// Producer ids and sequence numbers, so retries never write twice.
    pub idempotent: bool,
    /// When the SDK's keyless records move to the next partition.
    pub sticky: StickyArg,
}

/// When the SDK's keyless records move to the next partition (`--sticky`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StickyArg {
    /// Once their partition's batch is sealed (the SDK's default).
    Batch,
    /// Once `batch_bytes` went to the partition, however many batches
    /// linger cut (the SDK's behaviour before per-batch switching).
    BatchBytes,
}

impl ProducerSettings {
    pub fn compression_name(&self) -> &'static str {
        match self.compression {
            CompressionArg::Zstd => "zstd",
            CompressionArg::None => "none",
        }
    }
}

/// Resolves when the broker has acknowledged one record.
pub type Ack = BoxFuture<'static, anyhow::Result<()>>;

/// A broker connection that makes producers and consumers.
#[async_trait]
pub trait Driver: Send + Sync {
    /// What is measured, e.g. `stratus grpc://127.0.0.1:7400`.
    fn name(&self) -> String;
    /// When the broker acknowledges a write, in words, for the report.
    fn durability(&self) -> String;
    /// How the driver's clients are configured, for the report.
    fn client_settings(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    async fn create_topic(&self, topic: &str, partitions: u32) -> anyhow::Result<()>;
    async fn delete_topic(&self, topic: &str) -> anyhow::Result<()>;
    async fn producer(&self, topic: &str, partitions: u32) -> anyhow::Result<Box<dyn Producer>>;
    /// A reader of `partitions` of `topic` from their start; `subscription`
    /// names an independent reader (every subscription sees every record).
    async fn consumer(
        &self,
        topic: &str,
        partitions: Vec<u32>,
        subscription: &str,
    ) -> anyhow::Result<Box<dyn Consumer>>;
}

#[async_trait]
pub trait Producer: Send + Sync {
    /// Hands a record to the client; waits only while the client's buffer is
    /// full. The returned future resolves on acknowledgement.
    async fn send(&self, key: Option<Bytes>, payload: Bytes) -> anyhow::Result<Ack>;
    /// Waits for every record sent so far to be answered.
    async fn flush(&self) -> anyhow::Result<()>;
    /// Where the client's records have waited so far, when the client
    /// keeps such counts (the Stratus SDK does).
    fn stages(&self) -> Option<crate::stages::Snapshot> {
        None
    }
}

#[async_trait]
pub trait Consumer: Send {
    /// The payloads of the next records, waiting up to about half a second;
    /// empty when none arrived.
    async fn poll(&mut self) -> anyhow::Result<Vec<Bytes>>;
}
