//! Checking a record batch a producer built itself, before it is stored as
//! it came: the gateway then neither re-encodes nor recompresses it.
//!
//! The bytes are untrusted. A batch is accepted only if it is exactly one
//! RecordBatch v2 that the reader will later serve without error: its CRC-32C
//! matches, its codec is one Kafka defines (none, gzip, snappy, lz4 or zstd;
//! the stored bytes keep the producer's compression), it decompresses to at
//! most [`MAX_BATCH_UNCOMPRESSED_BYTES`] (checked while decompressing, so a
//! small hostile batch cannot exhaust memory), its records parse with dense offset
//! deltas `0..n` and nothing trails them, and it is neither transactional
//! nor a control batch nor stamped with LogAppendTime (offsets and append
//! times are the broker's to assign). Nothing here does I/O.
//!
//! [`MAX_BATCH_UNCOMPRESSED_BYTES`]: super::MAX_BATCH_UNCOMPRESSED_BYTES

use bytes::Bytes;

use super::header::{ATTR_CONTROL, ATTR_LOG_APPEND_TIME, Gaps, parse_header};
use super::{BatchError, BatchInfo, Offsets, StoredRecord, decode_records};

/// The transactional bit of the batch attributes.
const ATTR_TRANSACTIONAL: i16 = 1 << 4;

/// A producer-built batch that passed every check.
#[derive(Debug, Clone)]
pub struct CheckedBatch {
    /// The header, as the batch will be stored; `info.codec` is the
    /// producer's compression.
    pub info: BatchInfo,
    /// Its records, decoded (offsets `0..n`), for per-record policy checks
    /// such as sizes and keys.
    pub records: Vec<StoredRecord>,
}

/// Checks that `batch` is one well-formed RecordBatch v2 (see the module
/// docs); returns its header and records.
pub fn check_client_batch(batch: &Bytes) -> Result<CheckedBatch, BatchError> {
    let header = parse_header(batch, 0, Gaps::Forbidden)?;
    if header.info.byte_len != batch.len() {
        return Err(BatchError::MalformedBatch {
            at: 0,
            problem: format!(
                "{} bytes follow the batch; send exactly one batch per partition",
                batch.len() - header.info.byte_len
            ),
        });
    }
    if header.info.base_offset != 0 {
        return Err(BatchError::MalformedBatch {
            at: 0,
            problem: format!(
                "base offset {} is set; a produced batch has base offset 0 (the broker assigns offsets)",
                header.info.base_offset
            ),
        });
    }
    let refused = [
        (
            ATTR_TRANSACTIONAL,
            "transactional (transactions are not supported yet)",
        ),
        (
            ATTR_CONTROL,
            "a control batch (only the broker writes those)",
        ),
        (
            ATTR_LOG_APPEND_TIME,
            "stamped with LogAppendTime (use CreateTime)",
        ),
    ];
    for (bit, what) in refused {
        if header.attributes & bit != 0 {
            return Err(BatchError::MalformedBatch {
                at: 0,
                problem: format!("it is {what}"),
            });
        }
    }
    // Verifies the CRC, decompresses with the size bound and parses every
    // record, exactly as a reader will.
    let records = decode_records(batch, Offsets::Dense(0), 0, usize::MAX)?.records;
    if records.len() != header.info.record_count as usize {
        return Err(BatchError::MalformedBatch {
            at: 0,
            problem: format!(
                "it claims {} records and holds {}",
                header.info.record_count,
                records.len()
            ),
        });
    }
    Ok(CheckedBatch {
        info: header.info,
        records,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::header::CRC_AT;
    use crate::batch::{RecordInput, encode_batch, stamp_producer};

    fn batch(n: usize) -> Bytes {
        let records: Vec<RecordInput> = (0..n)
            .map(|i| RecordInput {
                key: Some(Bytes::from(format!("k{i}"))),
                value: Some(Bytes::from(vec![b'v'; 100])),
                headers: Vec::new(),
                timestamp_ms: 1_700_000_000_000 + i as i64,
            })
            .collect();
        encode_batch(&records, 1).unwrap()
    }

    #[test]
    fn a_well_formed_batch_passes_with_its_records() {
        let b = batch(3);
        let checked = check_client_batch(&b).unwrap();
        assert_eq!(checked.info.record_count, 3);
        assert_eq!(checked.records.len(), 3);
        assert_eq!(checked.records[2].key.as_deref(), Some(&b"k2"[..]));
        let mut stamped = bytes::BytesMut::from(&b[..]);
        stamp_producer(&mut stamped, 7, 1, 40).unwrap();
        let info = check_client_batch(&stamped.freeze()).unwrap().info;
        assert_eq!(
            (info.producer_id, info.producer_epoch, info.base_sequence),
            (7, 1, 40)
        );
    }

    #[test]
    fn corrupt_trailing_or_truncated_bytes_are_refused() {
        let b = batch(2);
        let mut flipped = b.to_vec();
        let last = flipped.len() - 1;
        flipped[last] ^= 0xff;
        let err = check_client_batch(&Bytes::from(flipped)).unwrap_err();
        assert!(matches!(err, BatchError::CrcMismatch { .. }), "{err}");

        let mut two = b.to_vec();
        two.extend_from_slice(&b);
        let err = check_client_batch(&Bytes::from(two)).unwrap_err();
        assert!(err.to_string().contains("exactly one batch"), "{err}");

        let err = check_client_batch(&b.slice(..b.len() - 1)).unwrap_err();
        assert!(matches!(err, BatchError::Truncated { .. }), "{err}");
        assert!(check_client_batch(&Bytes::new()).is_err());
    }

    #[test]
    fn broker_only_attributes_and_offsets_are_refused() {
        let b = batch(1);
        let mut control = b.to_vec();
        control[22] |= ATTR_CONTROL as u8;
        let crc = crc32c::crc32c(&control[21..]);
        control[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
        let err = check_client_batch(&Bytes::from(control)).unwrap_err();
        assert!(err.to_string().contains("control batch"), "{err}");

        let mut based = b.to_vec();
        based[7] = 9;
        let err = check_client_batch(&Bytes::from(based)).unwrap_err();
        assert!(err.to_string().contains("base offset 9"), "{err}");
    }

    #[test]
    fn a_decompression_bomb_is_refused_by_its_size() {
        // 65 MiB of zeros compresses to a few kB; the bound stops it.
        let raw = vec![0u8; crate::batch::MAX_BATCH_UNCOMPRESSED_BYTES + 1024 * 1024];
        let compressed = zstd::bulk::compress(&raw, 1).unwrap();
        let mut b = batch(1).to_vec();
        b.truncate(crate::batch::BATCH_HEADER_LEN);
        b.extend_from_slice(&compressed);
        let length = (b.len() - 12) as i32;
        b[8..12].copy_from_slice(&length.to_be_bytes());
        let crc = crc32c::crc32c(&b[21..]);
        b[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
        let err = check_client_batch(&Bytes::from(b)).unwrap_err();
        assert!(
            matches!(err, BatchError::DecompressedTooLarge { .. }),
            "{err}"
        );
    }
}
