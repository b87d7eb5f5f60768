//! The fixed 61-byte header of a v2 record batch (big-endian):
//!
//! | offset | size | field                  | notes                                  |
//! |-------:|-----:|------------------------|----------------------------------------|
//! |      0 |    8 | base offset            | 0 in storage; not covered by the CRC   |
//! |      8 |    4 | batch length           | bytes after this field                 |
//! |     12 |    4 | partition leader epoch | not covered by the CRC                 |
//! |     16 |    1 | magic                  | 2                                      |
//! |     17 |    4 | crc                    | CRC-32C of bytes 21..end               |
//! |     21 |    2 | attributes             | bits 0-2 codec, 3 log-append time, 4 transactional, 5 control |
//! |     23 |    4 | last offset delta      |                                        |
//! |     27 |    8 | base timestamp         |                                        |
//! |     35 |    8 | max timestamp          |                                        |
//! |     43 |    8 | producer id            |                                        |
//! |     51 |    2 | producer epoch         |                                        |
//! |     53 |    4 | base sequence          |                                        |
//! |     57 |    4 | record count           |                                        |
//! |     61 |    … | records                | compressed as a whole per the codec    |

use super::{BATCH_HEADER_LEN, BatchError, BatchInfo, Codec};

const LENGTH_AT: usize = 8;
const MAGIC_AT: usize = 16;
pub(super) const CRC_AT: usize = 17;
/// The CRC covers everything from the attributes to the end of the batch.
pub(super) const CRC_COVERS_FROM: usize = 21;
const ATTRIBUTES_AT: usize = 21;
const LAST_OFFSET_DELTA_AT: usize = 23;
const BASE_TIMESTAMP_AT: usize = 27;
const MAX_TIMESTAMP_AT: usize = 35;
const PRODUCER_ID_AT: usize = 43;
const PRODUCER_EPOCH_AT: usize = 51;
const BASE_SEQUENCE_AT: usize = 53;
const RECORD_COUNT_AT: usize = 57;
/// The batch length counts from the partition leader epoch onwards.
const LENGTH_COUNTS_FROM: usize = 12;

pub(super) const ATTR_CODEC_MASK: i16 = 0x7;
pub(super) const ATTR_LOG_APPEND_TIME: i16 = 1 << 3;
pub(super) const ATTR_CONTROL: i16 = 1 << 5;

/// A parsed and bounds-checked batch header.
#[derive(Debug, Clone, Copy)]
pub(super) struct RawHeader {
    pub(super) info: BatchInfo,
    pub(super) attributes: i16,
    pub(super) crc: u32,
}

/// Whether a batch's offsets may have gaps (see [`parse_header`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Gaps {
    /// WAL chunks: deltas are exactly `0..record_count`.
    Forbidden,
    /// Segments written by key compaction: deltas increase, with gaps.
    Allowed,
}

/// Reads the header of the batch starting at `at`, checking that the whole
/// batch lies within `chunk`, that its counts agree with each other and that
/// its codec is one Kafka defines.
pub(super) fn parse_header(chunk: &[u8], at: usize, gaps: Gaps) -> Result<RawHeader, BatchError> {
    let bytes = chunk.get(at..).unwrap_or_default();
    let Some(head) = bytes.first_chunk::<BATCH_HEADER_LEN>() else {
        return Err(BatchError::Truncated {
            at,
            needed: BATCH_HEADER_LEN,
            available: bytes.len(),
        });
    };
    // Check the magic before the length: a wrong magic means "not a batch at
    // all", which says more than whatever its length field happens to hold.
    let magic = head[MAGIC_AT] as i8;
    if magic != 2 {
        return Err(BatchError::UnsupportedMagic { at, magic });
    }
    let declared = i32_at(head, LENGTH_AT);
    let min_declared = BATCH_HEADER_LEN - LENGTH_COUNTS_FROM;
    let byte_len = usize::try_from(declared)
        .ok()
        .filter(|len| *len >= min_declared)
        .map(|len| len + LENGTH_COUNTS_FROM)
        .ok_or_else(|| BatchError::MalformedBatch {
            at,
            problem: format!("batch length {declared} is below the {min_declared}-byte minimum"),
        })?;
    if byte_len > bytes.len() {
        return Err(BatchError::Truncated {
            at,
            needed: byte_len,
            available: bytes.len(),
        });
    }
    let attributes = i16::from_be_bytes([head[ATTRIBUTES_AT], head[ATTRIBUTES_AT + 1]]);
    // Masked to three bits, so the cast is exact.
    let codec_id = (attributes & ATTR_CODEC_MASK) as u8;
    let codec = Codec::from_id(codec_id).ok_or(BatchError::UnsupportedCompression {
        at,
        codec: codec_id,
    })?;
    let count = i32_at(head, RECORD_COUNT_AT);
    let last_offset_delta = i32_at(head, LAST_OFFSET_DELTA_AT);
    // WAL chunks take exactly `record_count` offsets (deltas 0..n, no gaps):
    // their offsets are positions assigned in metadata. Segment batches written
    // by key compaction keep their real offsets and may have gaps, as Kafka's
    // cleaned batches do: at most `last_offset_delta + 1` records.
    let dense_ok = |n: u32| i64::from(n) == i64::from(last_offset_delta) + 1;
    let sparse_ok = |n: u32| i64::from(n) <= i64::from(last_offset_delta) + 1;
    let record_count = u32::try_from(count)
        .ok()
        .filter(|n| {
            *n > 0
                && if gaps == Gaps::Allowed {
                    sparse_ok(*n)
                } else {
                    dense_ok(*n)
                }
        })
        .ok_or_else(|| BatchError::MalformedBatch {
            at,
            problem: format!(
                "record count {count} does not match last offset delta {last_offset_delta}; \
                 stored batches need dense offsets and at least one record"
            ),
        })?;
    Ok(RawHeader {
        info: BatchInfo {
            base_offset: i64_at(head, 0),
            record_count,
            first_timestamp_ms: i64_at(head, BASE_TIMESTAMP_AT),
            max_timestamp_ms: i64_at(head, MAX_TIMESTAMP_AT),
            byte_len,
            producer_id: i64_at(head, PRODUCER_ID_AT),
            producer_epoch: i16::from_be_bytes([
                head[PRODUCER_EPOCH_AT],
                head[PRODUCER_EPOCH_AT + 1],
            ]),
            base_sequence: i32_at(head, BASE_SEQUENCE_AT),
            last_offset_delta,
            codec,
        },
        attributes,
        crc: u32::from_be_bytes(four(head, CRC_AT)),
    })
}

/// Walks a run of concatenated batches reading only their headers: no CRC
/// check, no decompression. Errors on anything that is not a whole number of
/// well-formed batch headers with their declared lengths present.
pub fn batch_infos(chunk: &[u8]) -> Result<Vec<BatchInfo>, BatchError> {
    let mut infos = Vec::new();
    let mut at = 0;
    while at < chunk.len() {
        let header = parse_header(chunk, at, Gaps::Forbidden)?;
        infos.push(header.info);
        at += header.info.byte_len;
    }
    Ok(infos)
}

/// As [`batch_infos`] for segment bytes, whose batches keep real base offsets
/// and may have offset gaps left by key compaction.
pub fn segment_batch_infos(chunk: &[u8]) -> Result<Vec<BatchInfo>, BatchError> {
    let mut infos = Vec::new();
    let mut at = 0;
    while at < chunk.len() {
        let header = parse_header(chunk, at, Gaps::Allowed)?;
        infos.push(header.info);
        at += header.info.byte_len;
    }
    Ok(infos)
}

/// Rewrites the base offset of the batch at the start of `batch`. Kafka's CRC
/// does not cover this field, so the batch stays valid.
pub fn patch_base_offset(batch: &mut [u8], base_offset: i64) -> Result<(), BatchError> {
    let available = batch.len();
    match batch.first_chunk_mut::<BATCH_HEADER_LEN>() {
        Some(head) => {
            head[..8].copy_from_slice(&base_offset.to_be_bytes());
            Ok(())
        }
        None => Err(BatchError::Truncated {
            at: 0,
            needed: BATCH_HEADER_LEN,
            available,
        }),
    }
}

/// Writes an idempotent producer's id, epoch and base sequence into a
/// single encoded batch's header and recomputes its CRC (which covers them).
pub fn stamp_producer(
    batch: &mut [u8],
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
) -> Result<(), BatchError> {
    let available = batch.len();
    if available < BATCH_HEADER_LEN {
        return Err(BatchError::Truncated {
            at: 0,
            needed: BATCH_HEADER_LEN,
            available,
        });
    }
    batch[PRODUCER_ID_AT..PRODUCER_ID_AT + 8].copy_from_slice(&producer_id.to_be_bytes());
    batch[PRODUCER_EPOCH_AT..PRODUCER_EPOCH_AT + 2].copy_from_slice(&producer_epoch.to_be_bytes());
    batch[BASE_SEQUENCE_AT..BASE_SEQUENCE_AT + 4].copy_from_slice(&base_sequence.to_be_bytes());
    let crc = crc32c::crc32c(&batch[CRC_COVERS_FROM..]);
    batch[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
    Ok(())
}

/// Writes real base offsets into every batch of a stored chunk, so it can be
/// served to Kafka clients as is: batch `i` gets `chunk_base_offset` plus the
/// record counts of the batches before it. Checks the whole chunk before
/// changing anything, so on error `chunk` is untouched.
pub fn rebase_chunk(chunk: &mut [u8], chunk_base_offset: i64) -> Result<(), BatchError> {
    let infos = batch_infos(chunk)?;
    let total: i64 = infos.iter().map(|i| i64::from(i.record_count)).sum();
    if chunk_base_offset.checked_add(total).is_none() {
        return Err(BatchError::OffsetOverflow {
            base_offset: chunk_base_offset,
        });
    }
    let mut at = 0;
    let mut base = chunk_base_offset;
    for info in infos {
        // In bounds: batch_infos checked every batch lies within the chunk.
        let batch = chunk.get_mut(at..).unwrap_or_default();
        patch_base_offset(batch, base)?;
        at += info.byte_len;
        base += i64::from(info.record_count);
    }
    Ok(())
}

fn four(head: &[u8; BATCH_HEADER_LEN], at: usize) -> [u8; 4] {
    [head[at], head[at + 1], head[at + 2], head[at + 3]]
}

fn i32_at(head: &[u8; BATCH_HEADER_LEN], at: usize) -> i32 {
    i32::from_be_bytes(four(head, at))
}

fn i64_at(head: &[u8; BATCH_HEADER_LEN], at: usize) -> i64 {
    let (hi, lo) = (four(head, at), four(head, at + 4));
    i64::from_be_bytes([hi[0], hi[1], hi[2], hi[3], lo[0], lo[1], lo[2], lo[3]])
}
