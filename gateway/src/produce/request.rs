//! What a transport hands the produce path and what it gets back, in
//! Stratus terms: no protobuf or Kafka message appears here, so gRPC, QUIC
//! and the Kafka listener translate into the same values. Plain data; no
//! checks (those are `validate`'s) and no I/O.

use bytes::Bytes;
use stratus_format::batch::{Header, RecordInput};

/// One produce call for one topic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Produce {
    pub topic: String,
    /// Entries for partitions the producer chose, in the order it sent them.
    pub partitions: Vec<PartitionProduce>,
    /// Records the gateway routes itself: by key with Kafka's murmur2
    /// partitioner, keyless ones all to one partition per call.
    pub unrouted: Vec<ProduceRecord>,
    /// Whose records these are, for idempotence.
    pub producer: ProducerFields,
}

/// The records of one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionProduce {
    pub partition: u32,
    pub data: PartitionData,
    /// With [`ProducerFields::Request`]: the sequence number of the entry's
    /// first record. Must be unset otherwise.
    pub base_sequence: Option<i32>,
}

/// A partition's records, as the producer sent them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionData {
    /// Records the gateway encodes into one zstd RecordBatch v2.
    Records(Vec<ProduceRecord>),
    /// One RecordBatch v2 the producer built, bytes as sent (base offset 0,
    /// zstd or uncompressed). Checked as untrusted bytes and stored as it is.
    Batch(Bytes),
}

/// One record to produce.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProduceRecord {
    pub key: Option<Bytes>,
    /// `None` is a tombstone.
    pub value: Option<Bytes>,
    pub headers: Vec<Header>,
    /// Producer-set time (ms); `None` lets the gateway stamp it.
    pub timestamp_ms: Option<i64>,
}

impl ProduceRecord {
    /// The record as the encoder takes it, stamped with `now_ms` if the
    /// producer set no time.
    pub(crate) fn into_input(self, now_ms: i64) -> RecordInput {
        RecordInput {
            key: self.key,
            value: self.value,
            headers: self.headers,
            timestamp_ms: self.timestamp_ms.unwrap_or(now_ms),
        }
    }

    /// Key, value and header bytes: what the record costs in memory before
    /// it is encoded (the measure `RecordInput::payload_len` also uses).
    pub(crate) fn payload_len(&self) -> usize {
        let headers: usize = self
            .headers
            .iter()
            .map(|h| h.key.len() + h.value.len())
            .sum();
        self.key.as_ref().map_or(0, Bytes::len)
            + self.value.as_ref().map_or(0, Bytes::len)
            + headers
    }
}

/// Which producer a call's records belong to, and where its idempotence
/// fields come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProducerFields {
    /// Not idempotent: client-built batches must carry producer id -1.
    #[default]
    None,
    /// An idempotent producer named by the request (gRPC, QUIC): every entry
    /// carries its `base_sequence`, and client-built batches must carry the
    /// same id, epoch and sequence in their headers.
    Request { producer_id: i64, epoch: i16 },
    /// Each client-built batch names its producer in its own header (the
    /// Kafka protocol); a batch with producer id -1 is not idempotent.
    BatchHeaders,
}

/// What one partition of an acknowledged call got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionAck {
    pub partition: u32,
    /// Offset of the entry's first record.
    pub base_offset: i64,
    pub record_count: u32,
}
