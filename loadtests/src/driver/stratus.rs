//! Stratus through its Rust SDK, over gRPC or QUIC (the URL's scheme picks).

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::FutureExt;
use stratus_sdk::{
    Client, Compression, Offset, ProducerConfig, ProducerRecord, STAGE_BUCKET_BOUNDS,
    StickyPartitioning, TopicConfig,
};

use super::{Ack, Consumer, Driver, Producer, ProducerSettings, StickyArg};
use crate::CompressionArg;
use crate::stages::Snapshot;

/// Stratus at `url` (`grpc://`, `grpcs://` or `quic://`).
#[derive(Debug)]
pub struct StratusDriver {
    url: String,
    client: Client,
    settings: ProducerSettings,
}

impl StratusDriver {
    pub async fn connect(url: &str, settings: ProducerSettings) -> anyhow::Result<Self> {
        let client = Client::connect(url)
            .await
            .map_err(|e| anyhow::anyhow!("cannot connect to Stratus at {url}: {e}"))?;
        Ok(Self {
            url: url.to_owned(),
            client,
            settings,
        })
    }
}

#[async_trait]
impl Driver for StratusDriver {
    fn name(&self) -> String {
        let s = &self.settings;
        format!(
            "stratus {} ({}, {} in flight)",
            self.url,
            s.compression_name(),
            s.max_in_flight
        )
    }

    fn durability(&self) -> String {
        format!(
            "acknowledged after the WAL object is durable in the WAL tier (file://: fsync of file \
             and directory) and the offset transaction committed (redb: fsync); {} producer",
            if self.settings.idempotent {
                "idempotent"
            } else {
                "non-idempotent"
            }
        )
    }

    fn client_settings(&self) -> Vec<(String, String)> {
        let s = &self.settings;
        [
            ("client", "stratus-sdk".to_owned()),
            ("linger", format!("{:?}", s.linger)),
            ("batch_bytes", s.batch_bytes.to_string()),
            ("compression", s.compression_name().to_owned()),
            ("max_in_flight_per_partition", s.max_in_flight.to_string()),
            ("idempotence", s.idempotent.to_string()),
            (
                "sticky",
                match s.sticky {
                    StickyArg::Batch => "per batch",
                    StickyArg::BatchBytes => "per batch_bytes",
                }
                .to_owned(),
            ),
            ("acks", "after durable WAL PUT and offset commit".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    async fn create_topic(&self, topic: &str, partitions: u32) -> anyhow::Result<()> {
        self.client
            .admin()
            .create_topic(topic, partitions, TopicConfig::default())
            .await?;
        Ok(())
    }

    async fn delete_topic(&self, topic: &str) -> anyhow::Result<()> {
        self.client.admin().delete_topic(topic).await?;
        Ok(())
    }

    async fn producer(&self, topic: &str, _partitions: u32) -> anyhow::Result<Box<dyn Producer>> {
        let producer = self
            .client
            .producer(
                ProducerConfig::default()
                    .linger(self.settings.linger)
                    .batch_bytes(self.settings.batch_bytes)
                    .compression(match self.settings.compression {
                        CompressionArg::Zstd => Compression::Zstd,
                        CompressionArg::None => Compression::None,
                    })
                    .max_in_flight_per_partition(self.settings.max_in_flight)
                    .idempotence(self.settings.idempotent)
                    .sticky(match self.settings.sticky {
                        StickyArg::Batch => StickyPartitioning::PerBatch,
                        StickyArg::BatchBytes => StickyPartitioning::PerBatchBytes,
                    }),
            )
            .await?;
        Ok(Box::new(StratusProducer {
            topic: topic.to_owned(),
            producer,
        }))
    }

    async fn consumer(
        &self,
        topic: &str,
        partitions: Vec<u32>,
        _subscription: &str,
    ) -> anyhow::Result<Box<dyn Consumer>> {
        let mut consumer = self.client.consumer(topic);
        consumer.assign(&partitions, Offset::Earliest).await?;
        Ok(Box::new(StratusConsumer(consumer)))
    }
}

struct StratusProducer {
    topic: String,
    producer: stratus_sdk::Producer,
}

#[async_trait]
impl Producer for StratusProducer {
    async fn send(&self, key: Option<Bytes>, payload: Bytes) -> anyhow::Result<Ack> {
        let mut record = ProducerRecord::new(self.topic.clone(), payload);
        if let Some(key) = key {
            record = record.key(key);
        }
        let delivery = self.producer.send(record).await?;
        Ok(async move { delivery.await.map(|_| ()).map_err(Into::into) }.boxed())
    }

    async fn flush(&self) -> anyhow::Result<()> {
        self.producer.flush().await;
        Ok(())
    }

    fn stages(&self) -> Option<Snapshot> {
        let stats = self.producer.stats();
        let mut snapshot = Snapshot::new("client");
        let stages = [
            (
                "sdk_filling",
                "SDK: a batch's oldest record until the batch is sealed (linger, once an in-flight slot is free, or batch_bytes), per batch",
                &stats.filling,
            ),
            (
                "sdk_queued",
                "SDK: sealed until sent, waiting for an in-flight slot of its partition, per batch",
                &stats.queued,
            ),
            (
                "sdk_request",
                "SDK: request sent until answered, the gateway included, per attempt",
                &stats.request,
            ),
        ];
        for (name, what, stage) in stages {
            snapshot.add(
                name,
                what,
                STAGE_BUCKET_BOUNDS,
                &stage.counts,
                stage.sum_seconds,
            );
        }
        Some(snapshot)
    }
}

struct StratusConsumer(stratus_sdk::Consumer);

#[async_trait]
impl Consumer for StratusConsumer {
    async fn poll(&mut self) -> anyhow::Result<Vec<Bytes>> {
        match tokio::time::timeout(Duration::from_millis(500), self.0.poll()).await {
            Err(_elapsed) => Ok(Vec::new()),
            Ok(records) => Ok(records?
                .into_iter()
                .filter_map(|record| record.value)
                .collect()),
        }
    }
}
