//! Producer settings and the record type users send.

use std::time::Duration;

use bytes::Bytes;
use stratus_proto::v1::{Header, Record};

use super::Compression;
use crate::error::{Error, Result};
use crate::limits::{self, MAX_IN_FLIGHT_IDEMPOTENT};

/// How a [`Producer`](super::Producer) batches, buffers and retries.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProducerConfig {
    /// How long a partition's first buffered record waits for company before
    /// its batch is sent (default 5 ms).
    pub linger: Duration,
    /// A partition's batch is sent once it holds this many bytes (default 1 MiB).
    pub batch_bytes: usize,
    /// Bytes of records buffered or in flight, over all partitions; `send`
    /// waits while they are spent (default 32 MiB).
    pub buffer_bytes: usize,
    /// Produce requests in flight per partition (default 5, Kafka's; at most
    /// 5 with idempotence: the gateway remembers a producer's last 5 batches
    /// per partition to recognise retries, so no batch more than 5 after the
    /// oldest unacknowledged one is sent). They travel in order on
    /// long-lived streams (gRPC `ProduceStream`, QUIC produce streams); 5
    /// doubles throughput over 1. With several gateway URLs an idempotent
    /// producer keeps 1.
    pub max_in_flight_per_partition: usize,
    /// First wait before a retry; doubled per attempt up to `retry_backoff_max`
    /// (defaults 50 ms and 2 s), with jitter.
    pub retry_backoff: Duration,
    pub retry_backoff_max: Duration,
    /// How long a record may take from `send` to acknowledgement, retries
    /// included, before its delivery fails (default 2 min).
    pub delivery_timeout: Duration,
    /// Producer id, epoch and sequence numbers, so retries never write twice
    /// (default on).
    pub idempotence: bool,
    /// How the producer compresses the batches it builds (default zstd); the
    /// gateway stores them as they are.
    pub compression: Compression,
    /// When keyless records move on to the next partition (default: once
    /// their partition's batch is sealed).
    pub sticky: StickyPartitioning,
}

/// When keyless records, which stick to one partition so they fill batches
/// instead of spreading thin, move on to the next partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum StickyPartitioning {
    /// Once the partition's batch is sealed, by linger or `batch_bytes`
    /// (Kafka's sticky partitioner, KIP-480): every batch goes to the next
    /// partition, so a busy producer's batches spread over every
    /// partition's in-flight slots.
    #[default]
    PerBatch,
    /// Once `batch_bytes` of records went to the partition, however many
    /// batches linger sealed them into: a producer whose batches linger out
    /// before they fill keeps several in one partition, where they queue
    /// behind its in-flight limit while other partitions sit idle.
    PerBatchBytes,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        Self {
            linger: limits::DEFAULT_LINGER,
            batch_bytes: limits::DEFAULT_BATCH_BYTES,
            buffer_bytes: limits::DEFAULT_BUFFER_BYTES,
            max_in_flight_per_partition: MAX_IN_FLIGHT_IDEMPOTENT,
            retry_backoff: limits::DEFAULT_RETRY_BACKOFF,
            retry_backoff_max: limits::DEFAULT_RETRY_BACKOFF_MAX,
            delivery_timeout: limits::DEFAULT_DELIVERY_TIMEOUT,
            idempotence: true,
            compression: Compression::Zstd,
            sticky: StickyPartitioning::PerBatch,
        }
    }
}

impl ProducerConfig {
    pub fn linger(mut self, linger: Duration) -> Self {
        self.linger = linger;
        self
    }
    pub fn batch_bytes(mut self, bytes: usize) -> Self {
        self.batch_bytes = bytes;
        self
    }
    pub fn buffer_bytes(mut self, bytes: usize) -> Self {
        self.buffer_bytes = bytes;
        self
    }
    pub fn max_in_flight_per_partition(mut self, requests: usize) -> Self {
        self.max_in_flight_per_partition = requests;
        self
    }
    pub fn retry_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.retry_backoff = first;
        self.retry_backoff_max = max;
        self
    }
    pub fn delivery_timeout(mut self, timeout: Duration) -> Self {
        self.delivery_timeout = timeout;
        self
    }
    pub fn idempotence(mut self, on: bool) -> Self {
        self.idempotence = on;
        self
    }
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }
    pub fn sticky(mut self, sticky: StickyPartitioning) -> Self {
        self.sticky = sticky;
        self
    }

    pub(crate) fn validate(&self) -> Result<()> {
        let bad = |what: String| Err(Error::Config(what));
        if self.batch_bytes == 0 || self.batch_bytes > self.buffer_bytes {
            return bad(format!(
                "batch_bytes {} must be between 1 and buffer_bytes ({})",
                self.batch_bytes, self.buffer_bytes
            ));
        }
        if self.buffer_bytes > limits::MAX_BUFFER_BYTES {
            return bad(format!(
                "buffer_bytes {} is over the limit of 4 GiB",
                self.buffer_bytes
            ));
        }
        let max_in_flight = if self.idempotence {
            MAX_IN_FLIGHT_IDEMPOTENT
        } else {
            limits::MAX_IN_FLIGHT_WITHOUT_IDEMPOTENCE
        };
        if self.max_in_flight_per_partition == 0 || self.max_in_flight_per_partition > max_in_flight
        {
            return bad(format!(
                "max_in_flight_per_partition {} must be between 1 and {max_in_flight}{}",
                self.max_in_flight_per_partition,
                if self.idempotence {
                    " with idempotence on"
                } else {
                    ""
                }
            ));
        }
        if self.retry_backoff.is_zero() || self.retry_backoff > self.retry_backoff_max {
            return bad("retry_backoff must be above zero and at most retry_backoff_max".into());
        }
        if self.delivery_timeout.is_zero() {
            return bad("delivery_timeout must be above zero".into());
        }
        Ok(())
    }
}

/// A record to send: a value (or none, a tombstone), an optional key that
/// picks the partition, headers and a timestamp.
#[derive(Debug, Clone)]
pub struct ProducerRecord {
    pub(crate) topic: String,
    pub(crate) partition: Option<u32>,
    pub(crate) record: Record,
}

impl ProducerRecord {
    /// A record for `topic` with `value`, no key, no headers, stamped by the gateway.
    pub fn new(topic: impl Into<String>, value: impl Into<Bytes>) -> Self {
        Self {
            topic: topic.into(),
            partition: None,
            record: Record {
                key: None,
                value: Some(value.into()),
                headers: Vec::new(),
                timestamp_ms: None,
            },
        }
    }

    /// A tombstone for `key`: a null value, which deletes the key from
    /// compacted topics.
    pub fn tombstone(topic: impl Into<String>, key: impl Into<Bytes>) -> Self {
        let mut record = Self::new(topic, Bytes::new());
        record.record.value = None;
        record.key(key)
    }

    /// Replaces the value; `None` is a tombstone.
    pub fn value(mut self, value: Option<Bytes>) -> Self {
        self.record.value = value;
        self
    }

    /// The key; without an explicit partition it picks one as Kafka's
    /// partitioner would (murmur2).
    pub fn key(mut self, key: impl Into<Bytes>) -> Self {
        self.record.key = Some(key.into());
        self
    }

    /// Sends to this partition, whatever the key.
    pub fn partition(mut self, partition: u32) -> Self {
        self.partition = Some(partition);
        self
    }

    pub fn header(mut self, key: impl Into<String>, value: impl Into<Bytes>) -> Self {
        self.record.headers.push(Header {
            key: key.into(),
            value: value.into(),
        });
        self
    }

    /// Milliseconds since the Unix epoch; unset, the gateway stamps the record.
    pub fn timestamp_ms(mut self, timestamp_ms: i64) -> Self {
        self.record.timestamp_ms = Some(timestamp_ms);
        self
    }

    /// Bytes this record holds in the buffer: its payload plus a fixed
    /// allowance for framing.
    pub(crate) fn buffered_size(&self) -> usize {
        let r = &self.record;
        limits::RECORD_FRAMING_BYTES
            + r.key.as_ref().map_or(0, Bytes::len)
            + r.value.as_ref().map_or(0, Bytes::len)
            + r.headers
                .iter()
                .map(|h| h.key.len() + h.value.len() + limits::HEADER_FRAMING_BYTES)
                .sum::<usize>()
    }
}
