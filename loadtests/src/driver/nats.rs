//! NATS JetStream, the peer a user could pick instead: one file-backed stream
//! per topic, one subject per partition (`<topic>.<partition>`), keyed
//! records routed by murmur2 as Stratus routes them.
//!
//! Durability, stated because it decides what a comparison means: JetStream
//! acknowledges a publish once the message is in its file store, which it
//! fsyncs on a timer (`sync_interval`, 2 minutes by default; nats-server
//! 2.10+ can be told `sync_interval: always`, the 2.9 server Debian ships
//! cannot). So a JetStream acknowledgement here is weaker than a Stratus one.

use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::SelectAll;
use futures::{FutureExt, StreamExt};
use stratus_proto::partitioner::partition_for_key;

use super::{Ack, Consumer, Driver, Producer};

#[derive(Debug)]
pub struct NatsDriver {
    url: String,
    js: jetstream::Context,
    server_version: String,
}

impl NatsDriver {
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let client = async_nats::connect(url)
            .await
            .map_err(|e| anyhow::anyhow!("cannot connect to NATS at {url}: {e}"))?;
        let server_version = client.server_info().version;
        Ok(Self {
            url: url.to_owned(),
            js: jetstream::new(client),
            server_version,
        })
    }
}

/// JetStream stream names may not contain `.`.
fn stream_name(topic: &str) -> String {
    topic.replace('.', "_")
}

#[async_trait]
impl Driver for NatsDriver {
    fn name(&self) -> String {
        format!(
            "nats-jetstream {} (server {})",
            self.url, self.server_version
        )
    }

    fn durability(&self) -> String {
        "acknowledged once in JetStream's file store (R1); fsync on the server's sync_interval \
         timer (default 2 min; not settable to `always` before nats-server 2.10)"
            .into()
    }

    async fn create_topic(&self, topic: &str, _partitions: u32) -> anyhow::Result<()> {
        self.js
            .create_stream(stream::Config {
                name: stream_name(topic),
                subjects: vec![format!("{topic}.*")],
                storage: stream::StorageType::File,
                num_replicas: 1,
                ..Default::default()
            })
            .await
            .map_err(|e| anyhow::anyhow!("creating JetStream stream for {topic}: {e}"))?;
        Ok(())
    }

    async fn delete_topic(&self, topic: &str) -> anyhow::Result<()> {
        self.js
            .delete_stream(stream_name(topic))
            .await
            .map_err(|e| anyhow::anyhow!("deleting JetStream stream for {topic}: {e}"))?;
        Ok(())
    }

    async fn producer(&self, topic: &str, partitions: u32) -> anyhow::Result<Box<dyn Producer>> {
        Ok(Box::new(NatsProducer {
            js: self.js.clone(),
            topic: topic.to_owned(),
            partitions,
            next: std::sync::atomic::AtomicU32::new(0),
        }))
    }

    async fn consumer(
        &self,
        topic: &str,
        partitions: Vec<u32>,
        _subscription: &str,
    ) -> anyhow::Result<Box<dyn Consumer>> {
        let stream = self
            .js
            .get_stream(stream_name(topic))
            .await
            .map_err(|e| anyhow::anyhow!("opening JetStream stream for {topic}: {e}"))?;
        // One ephemeral pull consumer per partition: nats-server 2.9 filters
        // on one subject per consumer.
        let mut messages = SelectAll::new();
        for partition in partitions {
            let consumer = stream
                .create_consumer(consumer::pull::Config {
                    filter_subject: format!("{topic}.{partition}"),
                    ack_policy: consumer::AckPolicy::None,
                    deliver_policy: consumer::DeliverPolicy::All,
                    inactive_threshold: Duration::from_secs(60),
                    ..Default::default()
                })
                .await
                .map_err(|e| anyhow::anyhow!("creating JetStream consumer: {e}"))?;
            let stream = consumer
                .messages()
                .await
                .map_err(|e| anyhow::anyhow!("reading JetStream consumer: {e}"))?;
            messages.push(stream.map(|m| m.map(|m| m.payload.clone())).boxed());
        }
        Ok(Box::new(NatsConsumer { messages }))
    }
}

struct NatsProducer {
    js: jetstream::Context,
    topic: String,
    partitions: u32,
    next: std::sync::atomic::AtomicU32,
}

#[async_trait]
impl Producer for NatsProducer {
    async fn send(&self, key: Option<Bytes>, payload: Bytes) -> anyhow::Result<Ack> {
        let partition = match &key {
            Some(key) => partition_for_key(key, self.partitions),
            None => self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % self.partitions,
        };
        let subject = format!("{}.{partition}", self.topic);
        let ack = self
            .js
            .publish(subject, payload)
            .await
            .map_err(|e| anyhow::anyhow!("JetStream publish: {e}"))?;
        Ok(async move {
            ack.await
                .map(|_| ())
                .map_err(|e| anyhow::anyhow!("JetStream publish ack: {e}"))
        }
        .boxed())
    }

    async fn flush(&self) -> anyhow::Result<()> {
        Ok(())
    }
}

type Payloads = futures::stream::BoxStream<
    'static,
    Result<Bytes, async_nats::error::Error<consumer::pull::MessagesErrorKind>>,
>;

struct NatsConsumer {
    messages: SelectAll<Payloads>,
}

#[async_trait]
impl Consumer for NatsConsumer {
    async fn poll(&mut self) -> anyhow::Result<Vec<Bytes>> {
        let first = match tokio::time::timeout(Duration::from_millis(500), self.messages.next())
            .await
        {
            Err(_) | Ok(None) => return Ok(Vec::new()),
            Ok(Some(message)) => message.map_err(|e| anyhow::anyhow!("JetStream consumer: {e}"))?,
        };
        let mut out = vec![first];
        // Take what is already here without waiting again.
        while out.len() < 1024 {
            match self.messages.next().now_or_never() {
                Some(Some(Ok(payload))) => out.push(payload),
                Some(Some(Err(e))) => return Err(anyhow::anyhow!("JetStream consumer: {e}")),
                _ => break,
            }
        }
        Ok(out)
    }
}
