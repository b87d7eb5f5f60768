//! The WAL object format: one object per gateway flush, holding a chunk of
//! record batches for each partition written in that flush.
//!
//! This layout is persisted forever: every magic number, field, width and
//! order below must stay readable by every later version. Integers are
//! big-endian.
//!
//! | offset            | size | field                                        |
//! |------------------:|-----:|----------------------------------------------|
//! | 0                 |    4 | magic `b"STRW"`                              |
//! | 4                 |    2 | format version, u16 = 1                      |
//! | 6                 |    2 | reserved, u16 = 0                            |
//! | 8                 |    … | chunks: per partition, its batches back to back |
//! | F                 |    4 | footer: chunk count N, u32                   |
//! | F + 4 + 56·i      |   16 | chunk i: topic id, u128                      |
//! | … + 16            |    4 | chunk i: partition, u32                      |
//! | … + 20            |    8 | chunk i: byte offset from object start, u64  |
//! | … + 28            |    4 | chunk i: byte length, u32                    |
//! | … + 32            |    4 | chunk i: record count, u32                   |
//! | … + 36            |    4 | chunk i: batch count, u32                    |
//! | … + 40            |    8 | chunk i: first timestamp (ms), i64           |
//! | … + 48            |    8 | chunk i: max timestamp (ms), i64             |
//! | F + 4 + 56·N      |    8 | trailer: footer offset F, u64                |
//! | … + 8             |    4 | trailer: footer length 4 + 56·N, u32         |
//! | … + 12            |    4 | trailer: CRC-32C (Castagnoli) of the footer  |
//! | … + 16            |    4 | trailer: magic `b"STRW"`                     |
//!
//! Chunks hold [RecordBatch v2](crate::batch) bytes with base offset 0; their
//! real offsets live in metadata. The first timestamp is the base timestamp of
//! the chunk's first batch, the max timestamp the largest over its batches.
//!
//! Readers fetch the fixed-size trailer with a ranged read, then the footer,
//! then only the chunks they need; a reader that never sees the header learns
//! the footer layout from the trailer magic alone. So a future version that
//! changes the footer or trailer layout must also change the trailer magic
//! (Parquet's convention); one that only changes chunk contents bumps the
//! header version.
//!
//! This module does no I/O and never panics on bytes it is given: every
//! offset, length and count is checked before use.

mod decode;

use std::collections::HashSet;
use std::ops::Range;

use bytes::{BufMut, Bytes, BytesMut};

use crate::batch::{self, BatchError};

pub use decode::{chunk_bytes, decode_footer, decode_footer_bytes, decode_header, decode_trailer};

/// Opens every WAL object and closes its trailer.
pub const MAGIC: [u8; 4] = *b"STRW";
/// The header version this build writes and reads.
pub const FORMAT_VERSION: u16 = 1;
/// Magic, version and reserved field.
pub const HEADER_LEN: usize = 8;
/// Bytes of one footer entry.
pub const FOOTER_ENTRY_LEN: usize = 56;
/// Footer offset, footer length, footer CRC and magic.
pub const TRAILER_LEN: usize = 20;
/// A header, an empty footer and a trailer.
pub const MIN_OBJECT_LEN: usize = HEADER_LEN + 4 + TRAILER_LEN;
/// Most chunks one object can index: the footer length is a u32.
pub const MAX_CHUNKS: usize = (u32::MAX as usize - 4) / FOOTER_ENTRY_LEN;

/// One footer entry: where a partition's chunk is and what it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChunkEntry {
    pub topic_id: u128,
    pub partition: u32,
    /// Byte offset of the chunk from the start of the object.
    pub offset: u64,
    pub len: u32,
    pub record_count: u32,
    pub batch_count: u32,
    pub first_timestamp_ms: i64,
    pub max_timestamp_ms: i64,
}

impl ChunkEntry {
    /// The chunk's bytes within the object, for a ranged read.
    pub fn byte_range(&self) -> Range<u64> {
        self.offset..self.offset.saturating_add(u64::from(self.len))
    }
}

/// Where [`WalObjectBuilder::add_chunk`] put a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkLocation {
    pub offset: u64,
    pub len: u32,
}

/// The fixed-size end of an object: where the footer is and its checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trailer {
    pub footer_offset: u64,
    pub footer_len: u32,
    pub footer_crc: u32,
}

impl Trailer {
    /// The footer's bytes within the object, for a ranged read.
    pub fn footer_range(&self) -> Range<u64> {
        self.footer_offset
            ..self
                .footer_offset
                .saturating_add(u64::from(self.footer_len))
    }
}

/// What is wrong with a WAL object being built or read.
#[derive(Debug, thiserror::Error)]
pub enum WalObjectError {
    #[error("wal object is truncated: {len} bytes, the smallest wal object is {needed}")]
    Truncated { len: u64, needed: u64 },
    #[error("wal object is truncated: {len} bytes, a trailer needs {TRAILER_LEN}")]
    TrailerTruncated { len: usize },
    #[error(
        "wal object {place} magic is \"{found}\", expected \"STRW\": this is not a stratus wal \
         object, or it is corrupt"
    )]
    BadMagic { place: &'static str, found: String },
    #[error(
        "wal object format version {version} is not supported; this build reads version \
         {FORMAT_VERSION}: upgrade stratus"
    )]
    UnsupportedVersion { version: u16 },
    #[error(
        "wal object header has reserved field {value:#06x} where this build expects 0: upgrade stratus"
    )]
    ReservedNotZero { value: u16 },
    #[error(
        "wal object footer is out of bounds: the trailer puts {footer_len} footer bytes at byte \
         {footer_offset} of a {object_len}-byte object"
    )]
    FooterOutOfBounds {
        footer_offset: u64,
        footer_len: u32,
        object_len: u64,
    },
    #[error("wal object footer is {actual} bytes but the trailer says {expected}")]
    FooterLenMismatch { expected: u32, actual: usize },
    #[error(
        "wal object footer fails its crc-32c check (stored {stored:#010x}, computed \
         {computed:#010x}); the object is corrupt"
    )]
    FooterCrcMismatch { stored: u32, computed: u32 },
    #[error("wal object footer claims {count} chunks, which does not match its {footer_len} bytes")]
    ChunkCountMismatch { count: u32, footer_len: u32 },
    #[error(
        "wal object chunk for topic {topic_id:032x} partition {partition} at bytes {range:?} lies \
         outside the chunk area {HEADER_LEN}..{limit}"
    )]
    ChunkOutOfBounds {
        topic_id: u128,
        partition: u32,
        range: Range<u64>,
        limit: u64,
    },
    #[error(
        "wal object chunks for topic {topic_id:032x} partition {partition} and the chunk at byte \
         {other_offset} overlap"
    )]
    ChunkOverlap {
        topic_id: u128,
        partition: u32,
        other_offset: u64,
    },
    #[error(
        "wal object has more than one chunk for topic {topic_id:032x} partition {partition}; \
         each partition gets one chunk per object"
    )]
    DuplicateChunk { topic_id: u128, partition: u32 },
    #[error(
        "wal object chunk for topic {topic_id:032x} partition {partition} has impossible counts: \
         {problem}"
    )]
    BadChunkCounts {
        topic_id: u128,
        partition: u32,
        problem: String,
    },
    #[error(
        "chunk for topic {topic_id:032x} partition {partition} is not a run of record batches: \
         {source}"
    )]
    InvalidBatches {
        topic_id: u128,
        partition: u32,
        source: BatchError,
    },
    #[error(
        "chunk for topic {topic_id:032x} partition {partition} has no batches; add at least one"
    )]
    EmptyChunk { topic_id: u128, partition: u32 },
    #[error(
        "chunk for topic {topic_id:032x} partition {partition} would hold more than {max} \
         {what}; flush sooner"
    )]
    ChunkTooLarge {
        topic_id: u128,
        partition: u32,
        what: &'static str,
        max: u32,
    },
    #[error("wal object already holds {MAX_CHUNKS} chunks; flush it and start another")]
    TooManyChunks,
}

/// Builds one WAL object in a single buffer: each batch is copied exactly
/// once, into its final place.
#[derive(Debug)]
pub struct WalObjectBuilder {
    buf: BytesMut,
    entries: Vec<ChunkEntry>,
    partitions: HashSet<(u128, u32)>,
}

impl Default for WalObjectBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl WalObjectBuilder {
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// Reserves room for `batch_bytes` of chunks up front, so a flush of known
    /// size never reallocates.
    pub fn with_capacity(batch_bytes: usize) -> Self {
        let mut buf = BytesMut::with_capacity(batch_bytes.saturating_add(MIN_OBJECT_LEN));
        buf.put_slice(&MAGIC);
        buf.put_u16(FORMAT_VERSION);
        buf.put_u16(0);
        Self {
            buf,
            entries: Vec::new(),
            partitions: HashSet::new(),
        }
    }

    /// Bytes written so far, header and chunks, without footer and trailer.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether no chunk has been added.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn chunk_count(&self) -> usize {
        self.entries.len()
    }

    /// Appends the chunk of one partition: its batches in offset order, each a
    /// run of one or more RecordBatch v2 with base offset 0. Counts and
    /// timestamps for the footer come from the batch headers, so they always
    /// agree with the bytes. On error the builder is unchanged.
    pub fn add_chunk<I, B>(
        &mut self,
        topic_id: u128,
        partition: u32,
        batches: I,
    ) -> Result<ChunkLocation, WalObjectError>
    where
        I: IntoIterator<Item = B>,
        B: AsRef<[u8]>,
    {
        if self.partitions.contains(&(topic_id, partition)) {
            return Err(WalObjectError::DuplicateChunk {
                topic_id,
                partition,
            });
        }
        if self.entries.len() >= MAX_CHUNKS {
            return Err(WalObjectError::TooManyChunks);
        }
        let start = self.buf.len();
        match self.append_batches(topic_id, partition, batches) {
            Ok(entry) => {
                self.partitions.insert((topic_id, partition));
                self.entries.push(entry);
                Ok(ChunkLocation {
                    offset: entry.offset,
                    len: entry.len,
                })
            }
            Err(error) => {
                self.buf.truncate(start);
                Err(error)
            }
        }
    }

    fn append_batches<I, B>(
        &mut self,
        topic_id: u128,
        partition: u32,
        batches: I,
    ) -> Result<ChunkEntry, WalObjectError>
    where
        I: IntoIterator<Item = B>,
        B: AsRef<[u8]>,
    {
        let start = self.buf.len();
        let too_large = |what| WalObjectError::ChunkTooLarge {
            topic_id,
            partition,
            what,
            max: u32::MAX,
        };
        let mut totals = ChunkTotals::default();
        for batch in batches {
            let batch = batch.as_ref();
            let infos =
                batch::batch_infos(batch).map_err(|source| WalObjectError::InvalidBatches {
                    topic_id,
                    partition,
                    source,
                })?;
            for info in infos {
                totals.add(
                    info.record_count,
                    info.first_timestamp_ms,
                    info.max_timestamp_ms,
                );
            }
            if self.buf.len() - start + batch.len() > u32::MAX as usize {
                return Err(too_large("bytes"));
            }
            self.buf.extend_from_slice(batch);
        }
        let Some(first_timestamp_ms) = totals.first_timestamp_ms else {
            return Err(WalObjectError::EmptyChunk {
                topic_id,
                partition,
            });
        };
        Ok(ChunkEntry {
            topic_id,
            partition,
            offset: start as u64,
            len: u32::try_from(self.buf.len() - start).map_err(|_| too_large("bytes"))?,
            record_count: u32::try_from(totals.records).map_err(|_| too_large("records"))?,
            batch_count: u32::try_from(totals.batches).map_err(|_| too_large("batches"))?,
            first_timestamp_ms,
            max_timestamp_ms: totals.max_timestamp_ms,
        })
    }

    /// Writes the footer and trailer. Returns the object and its footer
    /// entries, in the order the chunks were added.
    pub fn finish(mut self) -> (Bytes, Vec<ChunkEntry>) {
        let footer_offset = self.buf.len();
        let footer_len = 4 + self.entries.len() * FOOTER_ENTRY_LEN;
        self.buf.reserve(footer_len + TRAILER_LEN);
        // add_chunk keeps the count at most MAX_CHUNKS, so it and the footer
        // length fit in u32.
        self.buf.put_u32(self.entries.len() as u32);
        for e in &self.entries {
            self.buf.put_u128(e.topic_id);
            self.buf.put_u32(e.partition);
            self.buf.put_u64(e.offset);
            self.buf.put_u32(e.len);
            self.buf.put_u32(e.record_count);
            self.buf.put_u32(e.batch_count);
            self.buf.put_i64(e.first_timestamp_ms);
            self.buf.put_i64(e.max_timestamp_ms);
        }
        let crc = crc32c::crc32c(self.buf.get(footer_offset..).unwrap_or_default());
        self.buf.put_u64(footer_offset as u64);
        self.buf.put_u32(footer_len as u32);
        self.buf.put_u32(crc);
        self.buf.put_slice(&MAGIC);
        (self.buf.freeze(), self.entries)
    }
}

/// Running totals over a chunk's batches, in u64 so overflow shows up when
/// narrowing rather than wrapping.
#[derive(Debug, Default)]
struct ChunkTotals {
    records: u64,
    batches: u64,
    first_timestamp_ms: Option<i64>,
    max_timestamp_ms: i64,
}

impl ChunkTotals {
    fn add(&mut self, records: u32, first_timestamp_ms: i64, max_timestamp_ms: i64) {
        self.records += u64::from(records);
        self.batches += 1;
        match self.first_timestamp_ms {
            None => {
                self.first_timestamp_ms = Some(first_timestamp_ms);
                self.max_timestamp_ms = max_timestamp_ms;
            }
            Some(_) => self.max_timestamp_ms = self.max_timestamp_ms.max(max_timestamp_ms),
        }
    }
}
