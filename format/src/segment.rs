//! The segment format: one object per partition and compaction job, written by
//! the compactor, holding record batches with their real offsets.
//!
//! This layout is persisted forever: every magic number, field, width and
//! order below must stay readable by every later version. Integers are
//! big-endian.
//!
//! | offset            | size | field                                          |
//! |------------------:|-----:|------------------------------------------------|
//! | 0                 |    4 | magic `b"STRS"`                                |
//! | 4                 |    2 | format version, u16 = 1                        |
//! | 6                 |    2 | reserved, u16 = 0                              |
//! | 8                 |    … | blocks: record batches back to back            |
//! | F                 |   16 | footer: topic id, u128                         |
//! | F + 16            |    4 | footer: partition, u32                         |
//! | F + 20            |    4 | footer: block count N, u32                     |
//! | F + 24 + 48·i     |    8 | block i: base offset, i64                      |
//! | … + 8             |    8 | block i: end offset (exclusive), i64           |
//! | … + 16            |    8 | block i: byte offset from object start, u64    |
//! | … + 24            |    4 | block i: byte length, u32                      |
//! | … + 28            |    4 | block i: record count, u32                     |
//! | … + 32            |    8 | block i: first timestamp (ms), i64             |
//! | … + 40            |    8 | block i: max timestamp (ms), i64               |
//! | F + 24 + 48·N     |    8 | trailer: footer offset F, u64                  |
//! | … + 8             |    4 | trailer: footer length 24 + 48·N, u32          |
//! | … + 12            |    4 | trailer: CRC-32C (Castagnoli) of the footer    |
//! | … + 16            |    4 | trailer: magic `b"STRS"`                       |
//!
//! Batches are [RecordBatch v2](crate::batch) with their real base offsets and
//! record offset deltas, so they can be served to Kafka clients as they are.
//! Key compaction leaves gaps in offsets, inside batches (as Kafka's cleaner
//! does) and between them.
//!
//! Blocks tile the offsets the segment covers: block `i + 1` starts where
//! block `i` ends, and a block may hold no bytes at all when compaction removed
//! every record in its range. The footer is the segment's sparse offset and
//! timestamp index; the metadata index holds one entry per block, so readers
//! go straight from an offset to one ranged GET without reading the footer.
//!
//! Like the WAL object, a reader that never sees the header learns the footer
//! layout from the trailer magic alone, so a future version that changes the
//! footer or trailer must also change that magic.
//!
//! This module does no I/O and never panics on bytes it is given.

mod decode;

use std::ops::Range;

use bytes::{BufMut, Bytes, BytesMut};

use crate::batch::{self, BatchError};

pub use decode::{decode_segment, decode_segment_trailer};

/// Opens every segment and closes its trailer.
pub const MAGIC: [u8; 4] = *b"STRS";
/// The header version this build writes and reads.
pub const FORMAT_VERSION: u16 = 1;
/// Magic, version and reserved field.
pub const HEADER_LEN: usize = 8;
/// Topic id, partition and block count.
pub const FOOTER_FIXED_LEN: usize = 24;
/// Bytes of one footer entry.
pub const BLOCK_ENTRY_LEN: usize = 48;
/// Footer offset, footer length, CRC and magic.
pub const TRAILER_LEN: usize = 20;

/// One block of a segment: the offsets `[base_offset, end_offset)` it covers
/// and where its batches are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockEntry {
    pub base_offset: i64,
    pub end_offset: i64,
    pub byte_offset: u64,
    pub byte_len: u32,
    /// Records actually present (fewer than the offsets covered after key
    /// compaction).
    pub record_count: u32,
    /// Smallest batch base timestamp; `i64::MAX` for an empty block.
    pub first_timestamp_ms: i64,
    /// Largest record timestamp; `i64::MIN` for an empty block.
    pub max_timestamp_ms: i64,
}

impl BlockEntry {
    pub fn byte_range(&self) -> Range<u64> {
        self.byte_offset..self.byte_offset + u64::from(self.byte_len)
    }
}

/// What a segment says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentFooter {
    pub topic_id: u128,
    pub partition: u32,
    pub blocks: Vec<BlockEntry>,
}

/// What is wrong with a segment being built or read.
#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    #[error("segment is truncated: {len} bytes, the smallest segment is {needed}")]
    Truncated { len: u64, needed: u64 },
    #[error(
        "segment {place} magic is \"{found}\", expected \"STRS\": this is not a stratus segment, \
         or it is corrupt"
    )]
    BadMagic { place: &'static str, found: String },
    #[error(
        "segment format version {version} is not supported; this build reads version \
         {FORMAT_VERSION}: upgrade stratus"
    )]
    UnsupportedVersion { version: u16 },
    #[error("segment footer is malformed: {problem}")]
    BadFooter { problem: String },
    #[error(
        "segment footer fails its crc-32c check (stored {stored:#010x}, computed \
         {computed:#010x}); the segment is corrupt"
    )]
    FooterCrcMismatch { stored: u32, computed: u32 },
    #[error("batch does not belong in this segment: {problem}")]
    BatchOutOfOrder { problem: String },
    #[error("segment batch is not a valid record batch: {0}")]
    InvalidBatch(#[from] BatchError),
    #[error("segment would pass {max} bytes in one block; use a smaller block size")]
    BlockTooLarge { max: u64 },
}

/// Builds one segment in memory. Batches go in offset order; blocks are cut
/// once they reach the block size.
#[derive(Debug)]
pub struct SegmentBuilder {
    buf: BytesMut,
    topic_id: u128,
    partition: u32,
    block_bytes: usize,
    blocks: Vec<BlockEntry>,
    open: Option<BlockEntry>,
    /// The offset the next batch may start at, at the earliest.
    next_offset: i64,
}

impl SegmentBuilder {
    /// A segment covering offsets from `start_offset`, cutting blocks at about
    /// `block_bytes`.
    pub fn new(topic_id: u128, partition: u32, start_offset: i64, block_bytes: usize) -> Self {
        let mut buf = BytesMut::with_capacity(block_bytes.min(64 * 1024 * 1024));
        buf.put_slice(&MAGIC);
        buf.put_u16(FORMAT_VERSION);
        buf.put_u16(0);
        Self {
            buf,
            topic_id,
            partition,
            block_bytes: block_bytes.max(1),
            blocks: Vec::new(),
            open: None,
            next_offset: start_offset,
        }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.len() == HEADER_LEN
    }

    /// Appends one batch that carries its real base offset, which must not
    /// be below the end of the previous batch.
    pub fn push_batch(&mut self, batch: &[u8]) -> Result<(), SegmentError> {
        let infos = batch::segment_batch_infos(batch)?;
        let [info] = infos.as_slice() else {
            return Err(SegmentError::BatchOutOfOrder {
                problem: format!("expected exactly one batch, got {}", infos.len()),
            });
        };
        if info.base_offset < self.next_offset {
            return Err(SegmentError::BatchOutOfOrder {
                problem: format!(
                    "batch starts at offset {} but the segment is already at {}",
                    info.base_offset, self.next_offset
                ),
            });
        }
        // Refused as the decoders refuse it: a batch whose offsets pass
        // i64::MAX would end a block where it starts.
        let end =
            info.base_offset
                .checked_add(info.offset_span())
                .ok_or(BatchError::OffsetOverflow {
                    base_offset: info.base_offset,
                })?;
        let byte_offset = self.buf.len() as u64;
        let block = self.open.get_or_insert(BlockEntry {
            base_offset: self.next_offset,
            end_offset: self.next_offset,
            byte_offset,
            byte_len: 0,
            record_count: 0,
            first_timestamp_ms: i64::MAX,
            max_timestamp_ms: i64::MIN,
        });
        let byte_len = u64::from(block.byte_len) + batch.len() as u64;
        block.byte_len = u32::try_from(byte_len).map_err(|_| SegmentError::BlockTooLarge {
            max: u64::from(u32::MAX),
        })?;
        block.end_offset = end;
        block.record_count = block.record_count.saturating_add(info.record_count);
        block.first_timestamp_ms = block.first_timestamp_ms.min(info.first_timestamp_ms);
        block.max_timestamp_ms = block.max_timestamp_ms.max(info.max_timestamp_ms);
        self.buf.put_slice(batch);
        self.next_offset = end;
        if block.byte_len as usize >= self.block_bytes {
            self.close_block();
        }
        Ok(())
    }

    fn close_block(&mut self) {
        if let Some(block) = self.open.take() {
            self.blocks.push(block);
        }
    }

    /// Writes the footer and trailer. The last block is stretched to end at
    /// `end_offset` (records at the end may have been compacted away); a
    /// segment with no batches gets one empty block covering everything.
    pub fn finish(mut self, end_offset: i64) -> Result<(Bytes, Vec<BlockEntry>), SegmentError> {
        self.close_block();
        if end_offset < self.next_offset {
            return Err(SegmentError::BatchOutOfOrder {
                problem: format!(
                    "segment must end at or after offset {}, not {end_offset}",
                    self.next_offset
                ),
            });
        }
        let byte_offset = self.buf.len() as u64;
        match self.blocks.last_mut() {
            Some(last) => last.end_offset = end_offset,
            None => self.blocks.push(BlockEntry {
                base_offset: self.next_offset,
                end_offset,
                byte_offset,
                byte_len: 0,
                record_count: 0,
                first_timestamp_ms: i64::MAX,
                max_timestamp_ms: i64::MIN,
            }),
        }
        let footer_offset = self.buf.len() as u64;
        let footer_len = FOOTER_FIXED_LEN + BLOCK_ENTRY_LEN * self.blocks.len();
        let footer_start = self.buf.len();
        self.buf.put_u128(self.topic_id);
        self.buf.put_u32(self.partition);
        self.buf.put_u32(self.blocks.len() as u32);
        for block in &self.blocks {
            self.buf.put_i64(block.base_offset);
            self.buf.put_i64(block.end_offset);
            self.buf.put_u64(block.byte_offset);
            self.buf.put_u32(block.byte_len);
            self.buf.put_u32(block.record_count);
            self.buf.put_i64(block.first_timestamp_ms);
            self.buf.put_i64(block.max_timestamp_ms);
        }
        let crc = crc32c::crc32c(&self.buf[footer_start..]);
        self.buf.put_u64(footer_offset);
        self.buf.put_u32(footer_len as u32);
        self.buf.put_u32(crc);
        self.buf.put_slice(&MAGIC);
        Ok((self.buf.freeze(), self.blocks))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{RecordInput, encode_batch_at_offsets};

    fn batch_at(offsets: &[i64]) -> Bytes {
        let records: Vec<(i64, RecordInput)> = offsets
            .iter()
            .map(|o| {
                (
                    *o,
                    RecordInput {
                        key: Some(Bytes::from(format!("k{o}"))),
                        value: Some(Bytes::from(format!("v{o}"))),
                        headers: Vec::new(),
                        timestamp_ms: 1_000 + o,
                    },
                )
            })
            .collect();
        encode_batch_at_offsets(&records, 1).unwrap()
    }

    #[test]
    fn blocks_tile_the_covered_offsets() {
        let mut builder = SegmentBuilder::new(7, 3, 10, 1);
        builder.push_batch(&batch_at(&[10, 11])).unwrap();
        builder.push_batch(&batch_at(&[14, 16])).unwrap();
        let (bytes, blocks) = builder.finish(20).unwrap();
        assert_eq!(blocks.len(), 2);
        assert_eq!((blocks[0].base_offset, blocks[0].end_offset), (10, 12));
        assert_eq!((blocks[1].base_offset, blocks[1].end_offset), (12, 20));
        let footer = decode_segment(&bytes).unwrap();
        assert_eq!(footer.blocks, blocks);
        assert_eq!((footer.topic_id, footer.partition), (7, 3));
    }

    #[test]
    fn an_empty_segment_has_one_empty_block() {
        let (bytes, blocks) = SegmentBuilder::new(1, 0, 5, 1024).finish(9).unwrap();
        assert_eq!(blocks.len(), 1);
        assert_eq!((blocks[0].base_offset, blocks[0].end_offset), (5, 9));
        assert_eq!(blocks[0].byte_len, 0);
        assert_eq!(decode_segment(&bytes).unwrap().blocks, blocks);
    }

    #[test]
    fn batches_must_go_forward() {
        let mut builder = SegmentBuilder::new(1, 0, 10, 1024);
        builder.push_batch(&batch_at(&[10, 11])).unwrap();
        assert!(builder.push_batch(&batch_at(&[11])).is_err());
        assert!(
            SegmentBuilder::new(1, 0, 10, 1024)
                .push_batch(&batch_at(&[9]))
                .is_err()
        );
    }

    #[test]
    fn offsets_past_i64_max_are_refused() {
        // Offsets i64::MAX - 1 and i64::MAX: the end offset would be one past.
        let mut batch = batch_at(&[0, 1]).to_vec();
        crate::batch::patch_base_offset(&mut batch, i64::MAX - 1).unwrap();
        let mut builder = SegmentBuilder::new(1, 0, 0, 1);
        let err = builder.push_batch(&batch).unwrap_err();
        assert!(
            matches!(
                err,
                SegmentError::InvalidBatch(BatchError::OffsetOverflow { .. })
            ),
            "{err}"
        );
        assert!(builder.is_empty());
    }

    #[test]
    fn corrupt_segments_are_errors_not_panics() {
        let mut builder = SegmentBuilder::new(1, 0, 0, 1024);
        builder.push_batch(&batch_at(&[0, 1, 2])).unwrap();
        let (bytes, _) = builder.finish(3).unwrap();
        for cut in 0..bytes.len() {
            assert!(decode_segment(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        for i in 0..bytes.len() {
            let mut flipped = bytes.to_vec();
            flipped[i] ^= 0x40;
            // Either an error or (a flip inside a batch) a still-valid footer.
            let _ = decode_segment(&flipped);
        }
    }
}
