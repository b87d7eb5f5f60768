//! Building a partition's batch on the client: one Kafka RecordBatch v2,
//! zstd-compressed (or not), which the gateway checks and stores as it is,
//! so gateways spend no CPU compressing (`PartitionRecords.record_batch`).
//!
//! The layout is `stratus-format`'s, the same code the gateway encodes with:
//! base offset 0, offset deltas `0..n`, CreateTime timestamps (a record
//! without one gets the time it is batched, as Kafka producers do), and the
//! producer id, epoch and base sequence stamped into the header.

use bytes::{Bytes, BytesMut};
use stratus_format::batch::{self as format, BatchCodec, RecordInput};
use stratus_proto::v1::Record;

use crate::limits::ZSTD_LEVEL;

/// How the producer compresses the batches it builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Compression {
    /// zstd at level 1, the fastest (default): about a third of the bytes on
    /// the wire and in storage for typical payloads.
    #[default]
    Zstd,
    /// Uncompressed batches: no CPU spent compressing, on either side, at the
    /// price of more bytes sent and stored.
    None,
}

/// Encodes `records` as one batch, with producer fields to be stamped by
/// [`stamp`]. `None` when the records cannot share one batch the way the
/// gateway would store them (a header key repeated within a record,
/// timestamps too far apart): the caller then sends them as plain records
/// and the gateway answers with its precise error.
pub(crate) fn encode(records: &[Record], compression: Compression, now_ms: i64) -> Option<Bytes> {
    let inputs: Vec<RecordInput> = records.iter().map(|r| to_input(r, now_ms)).collect();
    let codec = match compression {
        Compression::Zstd => BatchCodec::Zstd { level: ZSTD_LEVEL },
        Compression::None => BatchCodec::None,
    };
    format::encode_batch_with(&inputs, codec).ok()
}

/// Writes the producer id, epoch and base sequence into a batch's header and
/// recomputes its CRC-32C (which covers them). Renumbering a batch after an
/// earlier one was refused goes through here too.
pub(crate) fn stamp(batch: &Bytes, producer_id: i64, epoch: i16, base_sequence: i32) -> Bytes {
    let mut b = BytesMut::from(&batch[..]);
    // Only batches built by `encode` are stamped, and those have a header.
    format::stamp_producer(&mut b, producer_id, epoch, base_sequence)
        .expect("an encoded batch has a full header");
    b.freeze()
}

fn to_input(record: &Record, now_ms: i64) -> RecordInput {
    RecordInput {
        key: record.key.clone(),
        value: record.value.clone(),
        headers: record
            .headers
            .iter()
            .map(|h| format::Header {
                key: h.key.clone(),
                value: h.value.clone(),
            })
            .collect(),
        timestamp_ms: record.timestamp_ms.unwrap_or(now_ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stratus_proto::v1::Header;

    fn record(i: usize) -> Record {
        Record {
            key: Some(Bytes::from(format!("key-{i}"))),
            value: Some(Bytes::from(vec![b'x'; 200])),
            headers: vec![Header {
                key: "h".into(),
                value: Bytes::from_static(b"v"),
            }],
            timestamp_ms: i.is_multiple_of(2).then_some(1_700_000_000_000),
        }
    }

    #[test]
    fn one_batch_with_stamped_producer_fields_and_a_valid_crc() {
        let records: Vec<Record> = (0..10).map(record).collect();
        for compression in [Compression::Zstd, Compression::None] {
            let batch = encode(&records, compression, 1_700_000_000_500).unwrap();
            let batch = stamp(&batch, 42, 3, 1000);
            let checked = format::check_client_batch(&batch).expect("a valid batch");
            assert_eq!(checked.info.producer_id, 42);
            assert_eq!(checked.info.producer_epoch, 3);
            assert_eq!(checked.info.base_sequence, 1000);
            assert_eq!(checked.info.record_count, 10);
            assert_eq!(checked.info.byte_len, batch.len(), "exactly one batch");
            let codec = batch[22] & 0x7;
            let expected = if compression == Compression::Zstd {
                4
            } else {
                0
            };
            assert_eq!(codec, expected);
        }
    }

    #[test]
    fn repeated_header_keys_fall_back_to_plain_records() {
        let mut r = record(0);
        r.headers.push(r.headers[0].clone());
        assert!(encode(&[r], Compression::Zstd, 0).is_none());
    }
}
