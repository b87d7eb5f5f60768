//! Encoding producer records into one v2 batch, zstd-compressed or not. The
//! gateway and the SDK both encode here, so the stored layout is written once.

use std::cell::{Cell, RefCell};
use std::io;

use bytes::{Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, NO_PARTITION_LEADER_EPOCH, NO_PRODUCER_EPOCH, NO_PRODUCER_ID, NO_SEQUENCE, Record,
    RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use zstd::bulk::Compressor;

use super::header::{Gaps, parse_header, patch_base_offset};
use super::{BATCH_HEADER_LEN, BatchError, MAX_BATCH_UNCOMPRESSED_BYTES, RecordInput};

/// Most framing bytes kafka-protocol writes around one record: varints for
/// length, timestamp delta, offset delta, key and value lengths and header
/// count, plus the attributes byte. Only used to size the output buffer.
const MAX_RECORD_FRAMING: usize = 5 + 1 + 10 + 5 + 5 + 5 + 5;
/// Most framing bytes around one header: key and value length varints.
const MAX_HEADER_FRAMING: usize = 10;

thread_local! {
    /// Setting up a zstd context costs far more than compressing a small batch;
    /// one per thread keeps that off the per-batch path.
    static COMPRESSOR: RefCell<Option<Compressor<'static>>> = const { RefCell::new(None) };
}

/// Encodes `records` as one RecordBatch v2: base offset 0, offset deltas
/// `0..n`, CreateTime timestamps, no producer id, zstd at `zstd_level` (1 is
/// fastest; 0 means zstd's default).
///
/// Errors on an empty slice, a header key repeated within a record, timestamps
/// too far apart for deltas, or more than [`MAX_BATCH_UNCOMPRESSED_BYTES`] of
/// records.
///
/// [`MAX_BATCH_UNCOMPRESSED_BYTES`]: super::MAX_BATCH_UNCOMPRESSED_BYTES
pub fn encode_batch(records: &[RecordInput], zstd_level: i32) -> Result<Bytes, BatchError> {
    encode_batch_with(records, BatchCodec::Zstd { level: zstd_level })
}

/// How [`encode_batch_with`] compresses a batch's records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchCodec {
    /// Records stored as they are: no CPU spent on either side.
    None,
    /// zstd at `level` (1 is fastest; 0 means zstd's default).
    Zstd { level: i32 },
}

/// [`encode_batch`] with the codec chosen by the caller: the SDK builds
/// uncompressed batches when asked to.
pub fn encode_batch_with(records: &[RecordInput], codec: BatchCodec) -> Result<Bytes, BatchError> {
    validate(records)?;
    let kafka_records = records
        .iter()
        .enumerate()
        .map(|(index, record)| to_kafka(index, i64::try_from(index).unwrap_or(i64::MAX), record))
        .collect::<Result<Vec<_>, _>>()?;
    encode_kafka(records, &kafka_records, codec, Gaps::Forbidden)
}

/// Encodes records that keep the offsets they were given, as key compaction
/// writes them: base offset = the first record's offset, deltas with gaps.
/// Offsets must increase and span less than `i32::MAX`.
pub fn encode_batch_at_offsets(
    records: &[(i64, RecordInput)],
    zstd_level: i32,
) -> Result<Bytes, BatchError> {
    let inputs: Vec<RecordInput> = records.iter().map(|(_, r)| r.clone()).collect();
    validate(&inputs)?;
    let base = records.first().map_or(0, |(offset, _)| *offset);
    let mut previous = None;
    let mut kafka_records = Vec::with_capacity(records.len());
    for (index, (offset, record)) in records.iter().enumerate() {
        let delta = offset
            .checked_sub(base)
            .filter(|d| (0..i64::from(i32::MAX)).contains(d))
            .filter(|_| previous.is_none_or(|p| *offset > p))
            .ok_or_else(|| BatchError::Encode {
                reason: format!(
                    "record offsets must increase within {} of the first; {offset} follows {previous:?}",
                    i32::MAX
                ),
            })?;
        previous = Some(*offset);
        kafka_records.push(to_kafka(index, delta, record)?);
    }
    let codec = BatchCodec::Zstd { level: zstd_level };
    let batch = encode_kafka(&inputs, &kafka_records, codec, Gaps::Allowed)?;
    let mut bytes = BytesMut::from(&batch[..]);
    patch_base_offset(&mut bytes, base)?;
    Ok(bytes.freeze())
}

fn encode_kafka(
    records: &[RecordInput],
    kafka_records: &[Record],
    codec: BatchCodec,
    gaps: Gaps,
) -> Result<Bytes, BatchError> {
    let raw_estimate: usize = records
        .iter()
        .map(|r| r.payload_len() + MAX_RECORD_FRAMING + r.headers.len() * MAX_HEADER_FRAMING)
        .sum();
    let mut out = BytesMut::with_capacity(
        BATCH_HEADER_LEN
            + zstd::zstd_safe::compress_bound(raw_estimate.min(MAX_BATCH_UNCOMPRESSED_BYTES)),
    );
    // kafka-protocol's callback can only return its own error type, so the
    // precise error waits here and replaces the generic one afterwards.
    let failure = Cell::new(None);
    let options = RecordEncodeOptions {
        version: 2,
        compression: match codec {
            BatchCodec::None => Compression::None,
            BatchCodec::Zstd { .. } => Compression::Zstd,
        },
    };
    let encoded = RecordBatchEncoder::encode_with_custom_compression(
        &mut out,
        kafka_records,
        &options,
        // kafka-protocol calls this for every codec, `None` included.
        Some(|raw: &mut BytesMut, out: &mut BytesMut, _: Compression| {
            compress_records(raw, codec, out).map_err(|error| {
                failure.set(Some(error));
                io::Error::other("compression failed").into()
            })
        }),
    );
    if let Err(error) = encoded {
        return Err(failure.take().unwrap_or_else(|| BatchError::Encode {
            reason: format!("{error:#}"),
        }));
    }
    check_single_batch(&out, records.len(), gaps)?;
    Ok(out.freeze())
}

/// Rejects what kafka-protocol would either refuse with a vague message or,
/// for timestamps, overflow on.
fn validate(records: &[RecordInput]) -> Result<(), BatchError> {
    let max_count = i32::MAX as usize;
    if records.is_empty() {
        return Err(BatchError::EmptyBatch);
    }
    if records.len() > max_count {
        return Err(BatchError::TooManyRecords {
            count: records.len(),
            max: max_count,
        });
    }
    let (min_ms, max_ms) = records.iter().fold((i64::MAX, i64::MIN), |(lo, hi), r| {
        (lo.min(r.timestamp_ms), hi.max(r.timestamp_ms))
    });
    // Timestamps are stored as varlong deltas from the smallest one.
    if max_ms.checked_sub(min_ms).is_none() {
        return Err(BatchError::TimestampSpread { min_ms, max_ms });
    }
    // A cheap lower bound; the exact size is checked once it is known.
    let payload: usize = records.iter().map(RecordInput::payload_len).sum();
    if payload > MAX_BATCH_UNCOMPRESSED_BYTES {
        return Err(BatchError::TooLarge {
            bytes: payload,
            max: MAX_BATCH_UNCOMPRESSED_BYTES,
        });
    }
    Ok(())
}

fn to_kafka(index: usize, offset_delta: i64, record: &RecordInput) -> Result<Record, BatchError> {
    let headers: IndexMap<StrBytes, Option<Bytes>> = record
        .headers
        .iter()
        .map(|h| (StrBytes::from_string(h.key.clone()), Some(h.value.clone())))
        .collect();
    // The map would keep only the last value of a repeated key; refuse rather
    // than drop a header the producer sent.
    if headers.len() != record.headers.len() {
        return Err(duplicate_header(index, record));
    }
    // Validated: the delta fits in i32 (record count or checked span).
    let delta = i32::try_from(offset_delta).unwrap_or(i32::MAX);
    Ok(Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: NO_PARTITION_LEADER_EPOCH,
        producer_id: NO_PRODUCER_ID,
        producer_epoch: NO_PRODUCER_EPOCH,
        timestamp_type: TimestampType::Creation,
        offset: i64::from(delta),
        // kafka-protocol starts a new batch wherever `offset - sequence`
        // changes, and derives the base sequence from the first record; this
        // keeps one batch with base sequence NO_SEQUENCE (-1).
        sequence: NO_SEQUENCE.wrapping_add(delta),
        timestamp: record.timestamp_ms,
        key: record.key.clone(),
        value: record.value.clone(),
        headers,
    })
}

fn duplicate_header(index: usize, record: &RecordInput) -> BatchError {
    let key = record
        .headers
        .iter()
        .enumerate()
        .find(|(i, h)| {
            record.headers[..*i]
                .iter()
                .any(|earlier| earlier.key == h.key)
        })
        .map(|(_, h)| h.key.clone())
        .unwrap_or_default();
    BatchError::DuplicateHeaderKey { index, key }
}

fn compress_records(raw: &[u8], codec: BatchCodec, out: &mut BytesMut) -> Result<(), BatchError> {
    if raw.len() > MAX_BATCH_UNCOMPRESSED_BYTES {
        return Err(BatchError::TooLarge {
            bytes: raw.len(),
            max: MAX_BATCH_UNCOMPRESSED_BYTES,
        });
    }
    let BatchCodec::Zstd { level } = codec else {
        out.extend_from_slice(raw);
        return Ok(());
    };
    let start = out.len();
    out.resize(start + zstd::zstd_safe::compress_bound(raw.len()), 0);
    let written = compress_to(raw, level, &mut out[start..]);
    match written {
        Ok(written) => {
            out.truncate(start + written);
            Ok(())
        }
        Err(source) => {
            out.truncate(start);
            Err(BatchError::Compress { level, source })
        }
    }
}

fn compress_to(raw: &[u8], level: i32, dst: &mut [u8]) -> io::Result<usize> {
    COMPRESSOR
        .try_with(|cell| match cell.try_borrow_mut() {
            Ok(mut slot) => compress_with(&mut slot, raw, level, dst),
            // Only if compression re-entered itself: use a one-off context.
            Err(_) => compress_with(&mut None, raw, level, dst),
        })
        .map_err(io::Error::other)?
}

fn compress_with(
    slot: &mut Option<Compressor<'static>>,
    raw: &[u8],
    level: i32,
    dst: &mut [u8],
) -> io::Result<usize> {
    let mut compressor = match slot.take() {
        Some(compressor) => compressor,
        None => Compressor::new(level)?,
    };
    compressor.set_compression_level(level)?;
    let written = compressor.compress_to_buffer(raw, dst);
    *slot = Some(compressor);
    written
}

/// kafka-protocol silently splits records into several batches when their
/// batch-level fields differ; ours never do, but a chunk's offsets depend on
/// it, so check.
fn check_single_batch(out: &[u8], count: usize, gaps: Gaps) -> Result<(), BatchError> {
    let header = parse_header(out, 0, gaps)?;
    if header.info.byte_len != out.len() || header.info.record_count as usize != count {
        return Err(BatchError::Encode {
            reason: format!(
                "expected one batch of {count} records in {} bytes, got a first batch of {} \
                 records in {} bytes",
                out.len(),
                header.info.record_count,
                header.info.byte_len
            ),
        });
    }
    Ok(())
}
