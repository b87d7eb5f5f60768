//! The record batch codec: Kafka's RecordBatch v2 (magic 2).
//!
//! This is the byte format of every record Stratus stores, and it is forever:
//! stored batches are served to Kafka clients as they are, so the format is
//! Kafka's and nothing here may add to it.
//!
//! - [`encode_batch`] turns what a producer hands us into one batch with base
//!   offset 0, dense offset deltas `0..n`, CreateTime timestamps and no producer
//!   id. Encoding goes through the `kafka-protocol` crate so the bytes are what
//!   every Kafka client expects; we only supply the zstd step so the level is
//!   ours.
//! - Kafka clients' own batches are stored as they were sent, with whichever
//!   codec the client chose: none, gzip, snappy, lz4 or zstd.
//!   [`check_client_batch`] validates one before it is stored; the readers
//!   decompress all five, each bounded by [`MAX_BATCH_UNCOMPRESSED_BYTES`].
//! - A *chunk* is a run of batches of one partition, each stored with base offset
//!   0. The real base offset of batch `i` is the chunk's base offset (kept in
//!   metadata) plus the record counts of the batches before it; offsets are never
//!   in the stored bytes. [`patch_base_offset`] and [`rebase_chunk`] write them in
//!   when serving raw batches; the CRC does not cover that field.
//! - [`batch_infos`] walks a chunk reading only the 61-byte headers;
//!   [`decode_chunk`] and [`decode_chunk_from`] verify CRC-32C, decompress and
//!   return records whose keys and values are slices of one buffer per batch.
//!
//! Decoding is our own code rather than `kafka-protocol`'s decoder: that decoder
//! adds the base offset (which the CRC does not protect) with unchecked
//! arithmetic, reserves memory for whatever record and header counts a batch
//! claims, and decompresses without a size limit. Bytes read back from object
//! storage must never be able to panic or exhaust memory, so every count and
//! length here is checked against the bytes that are actually present.
//!
//! Nothing in this module does I/O.

mod client;
mod compression;
mod decode;
mod encode;
mod header;

use bytes::Bytes;

pub use client::{CheckedBatch, check_client_batch};
pub use compression::Codec;
pub use decode::{
    DecodedChunk, Offsets, decode_chunk, decode_chunk_from, decode_records, decode_segment_chunk,
    decode_segment_chunk_from,
};
pub use encode::{BatchCodec, encode_batch, encode_batch_at_offsets, encode_batch_with};
pub use header::{
    batch_infos, patch_base_offset, rebase_chunk, segment_batch_infos, stamp_producer,
};

/// Bytes of a v2 batch header, up to and including the record count.
pub const BATCH_HEADER_LEN: usize = 61;

pub use crate::limits::MAX_BATCH_UNCOMPRESSED_BYTES;

/// One record header. Kafka header keys are strings; values are bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub key: String,
    pub value: Bytes,
}

/// A record as a producer hands it to us, before it has an offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordInput {
    pub key: Option<Bytes>,
    /// `None` is Kafka's null value: a tombstone, which key compaction uses
    /// to delete a key.
    pub value: Option<Bytes>,
    pub headers: Vec<Header>,
    pub timestamp_ms: i64,
}

/// A record as a reader gets it back, with its absolute offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    pub offset: i64,
    pub timestamp_ms: i64,
    pub key: Option<Bytes>,
    /// `None` is a null value: a tombstone.
    pub value: Option<Bytes>,
    pub headers: Vec<Header>,
}

impl StoredRecord {
    /// Bytes this record counts against a fetch's `max_bytes`: key, value and
    /// header keys and values, without framing.
    pub fn payload_len(&self) -> usize {
        payload_len(self.key.as_ref(), self.value.as_ref(), &self.headers)
    }
}

impl RecordInput {
    /// Key, value and header bytes, without framing; the same measure as
    /// [`StoredRecord::payload_len`].
    pub fn payload_len(&self) -> usize {
        payload_len(self.key.as_ref(), self.value.as_ref(), &self.headers)
    }
}

fn payload_len(key: Option<&Bytes>, value: Option<&Bytes>, headers: &[Header]) -> usize {
    let headers: usize = headers.iter().map(|h| h.key.len() + h.value.len()).sum();
    key.map_or(0, Bytes::len) + value.map_or(0, Bytes::len) + headers
}

/// What one batch header says, read without decompressing anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchInfo {
    /// The base offset field as stored: 0 for batches in WAL chunks.
    pub base_offset: i64,
    pub record_count: u32,
    /// The batch's base timestamp; our encoder sets it to the smallest record
    /// timestamp, Kafka producers to the first record's.
    pub first_timestamp_ms: i64,
    pub max_timestamp_ms: i64,
    /// Bytes of the whole batch, header included.
    pub byte_len: usize,
    /// -1 when the producer is not idempotent.
    pub producer_id: i64,
    pub producer_epoch: i16,
    /// -1 when the producer is not idempotent.
    pub base_sequence: i32,
    /// The last record's offset minus the base offset: `record_count - 1`
    /// unless key compaction left gaps.
    pub last_offset_delta: i32,
    /// How the records are compressed, as the producer sent them.
    pub codec: Codec,
}

impl BatchInfo {
    /// Offsets the batch spans, gaps included.
    pub fn offset_span(&self) -> i64 {
        i64::from(self.last_offset_delta) + 1
    }
}

/// What went wrong encoding or decoding record batches. Positions are byte
/// offsets of the batch within the chunk that was being read.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("cannot encode an empty record batch: pass at least one record")]
    EmptyBatch,
    #[error("cannot encode {count} records in one batch: a batch holds at most {max}")]
    TooManyRecords { count: usize, max: usize },
    #[error(
        "record {index} has header key {key:?} more than once; a batch keeps one value per \
         header key, so encoding it would silently drop a value: merge the values or rename a key"
    )]
    DuplicateHeaderKey { index: usize, key: String },
    #[error(
        "record timestamps {min_ms} and {max_ms} are too far apart to share a batch; \
         put them in separate batches"
    )]
    TimestampSpread { min_ms: i64, max_ms: i64 },
    #[error(
        "record batch is {bytes} bytes before compression, over the {max}-byte limit; \
         split the records into smaller batches"
    )]
    TooLarge { bytes: usize, max: usize },
    #[error("kafka record batch encoding failed: {reason}")]
    Encode { reason: String },
    #[error("zstd compression at level {level} failed: {source}")]
    Compress { level: i32, source: std::io::Error },
    #[error("record batch at byte {at} is truncated: it needs {needed} bytes, {available} remain")]
    Truncated {
        at: usize,
        needed: usize,
        available: usize,
    },
    #[error(
        "record batch at byte {at} has magic {magic}; only record batch v2 (magic 2) is supported"
    )]
    UnsupportedMagic { at: usize, magic: i8 },
    #[error("record batch at byte {at} is malformed: {problem}")]
    MalformedBatch { at: usize, problem: String },
    #[error(
        "record batch at byte {at} fails its crc-32c check (stored {stored:#010x}, computed \
         {computed:#010x}); the bytes are corrupt"
    )]
    CrcMismatch {
        at: usize,
        stored: u32,
        computed: u32,
    },
    /// Attribute bits 0-2 hold 5, 6 or 7, which name no codec.
    #[error(
        "record batch at byte {at} names compression codec {codec}, which kafka does not \
         define; a producer must use none (0), gzip (1), snappy (2), lz4 (3) or zstd (4)"
    )]
    UnsupportedCompression { at: usize, codec: u8 },
    #[error("record batch at byte {at} does not decompress: {source}")]
    Decompress { at: usize, source: std::io::Error },
    #[error(
        "record batch at byte {at} decompresses to more than {max} bytes, the most a batch \
         may hold; the batch is corrupt or hostile"
    )]
    DecompressedTooLarge { at: usize, max: usize },
    #[error("record {index} of the record batch at byte {at} is malformed: {problem}")]
    MalformedRecord {
        at: usize,
        index: u32,
        problem: String,
    },
    #[error(
        "offsets out of range: base offset {base_offset} is negative or its records pass i64::MAX"
    )]
    OffsetOverflow { base_offset: i64 },
}
