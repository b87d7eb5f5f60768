//! Building a partition's batch on the client: one Kafka RecordBatch v2,
//! zstd-compressed (or not), which the gateway checks and stores as it is,
//! so gateways spend no CPU compressing (`PartitionRecords.record_batch`).
//!
//! The format is the one every stored batch has (see the storage crate's
//! batch codec): base offset 0, offset deltas `0..n`, CreateTime timestamps
//! (a record without one gets the time it is batched, as Kafka producers
//! do), and the producer id, epoch and base sequence in the header.

use std::cell::RefCell;
use std::io;

use bytes::{Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression as KafkaCompression, NO_PARTITION_LEADER_EPOCH, NO_PRODUCER_EPOCH, NO_PRODUCER_ID,
    NO_SEQUENCE, Record as KafkaRecord, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use stratus_proto::v1::Record;
use zstd::bulk::Compressor;

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

/// zstd level for client batches: level 1 compresses several times faster
/// than zstd's default and loses little ratio on record data.
const ZSTD_LEVEL: i32 = 1;

/// Header bytes of a v2 batch, up to and including the record count.
const HEADER_LEN: usize = 61;
const CRC_AT: usize = 17;
const CRC_COVERS_FROM: usize = 21;
const PRODUCER_ID_AT: usize = 43;
const PRODUCER_EPOCH_AT: usize = 51;
const BASE_SEQUENCE_AT: usize = 53;

thread_local! {
    /// A zstd context costs far more to set up than a small batch costs to
    /// compress; one per thread keeps that off the batching path.
    static COMPRESSOR: RefCell<Option<Compressor<'static>>> = const { RefCell::new(None) };
}

/// Encodes `records` as one batch, with producer fields to be stamped by
/// [`stamp`]. `None` when the records cannot share one batch the way the
/// gateway would store them (a header key repeated within a record,
/// timestamps too far apart): the caller then sends them as plain records
/// and the gateway answers with its precise error.
pub(crate) fn encode(records: &[Record], compression: Compression, now_ms: i64) -> Option<Bytes> {
    let kafka: Vec<KafkaRecord> = records
        .iter()
        .enumerate()
        .map(|(i, r)| to_kafka(i, r, now_ms))
        .collect::<Option<_>>()?;
    let (min, max) = kafka.iter().fold((i64::MAX, i64::MIN), |(lo, hi), r| {
        (lo.min(r.timestamp), hi.max(r.timestamp))
    });
    max.checked_sub(min)?;
    let raw: usize = records.iter().map(|r| record_bytes(r) + 64).sum();
    let mut out = BytesMut::with_capacity(HEADER_LEN + raw / 2);
    let options = RecordEncodeOptions {
        version: 2,
        compression: match compression {
            Compression::Zstd => KafkaCompression::Zstd,
            Compression::None => KafkaCompression::None,
        },
    };
    RecordBatchEncoder::encode_with_custom_compression(
        &mut out,
        &kafka,
        &options,
        // kafka-protocol calls this for every codec, `None` included.
        Some(
            |raw: &mut BytesMut, out: &mut BytesMut, codec: KafkaCompression| match codec {
                KafkaCompression::None => {
                    out.extend_from_slice(raw);
                    Ok(())
                }
                _ => compress(raw, out).map_err(Into::into),
            },
        ),
    )
    .ok()?;
    Some(out.freeze())
}

/// Writes the producer id, epoch and base sequence into a batch's header and
/// recomputes its CRC-32C (which covers them). Renumbering a batch after an
/// earlier one was refused goes through here too.
pub(crate) fn stamp(batch: &Bytes, producer_id: i64, epoch: i16, base_sequence: i32) -> Bytes {
    let mut b = BytesMut::from(&batch[..]);
    b[PRODUCER_ID_AT..PRODUCER_ID_AT + 8].copy_from_slice(&producer_id.to_be_bytes());
    b[PRODUCER_EPOCH_AT..PRODUCER_EPOCH_AT + 2].copy_from_slice(&epoch.to_be_bytes());
    b[BASE_SEQUENCE_AT..BASE_SEQUENCE_AT + 4].copy_from_slice(&base_sequence.to_be_bytes());
    let crc = crc32c::crc32c(&b[CRC_COVERS_FROM..]);
    b[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
    b.freeze()
}

fn record_bytes(r: &Record) -> usize {
    r.key.as_ref().map_or(0, Bytes::len)
        + r.value.as_ref().map_or(0, Bytes::len)
        + r.headers
            .iter()
            .map(|h| h.key.len() + h.value.len())
            .sum::<usize>()
}

fn to_kafka(index: usize, record: &Record, now_ms: i64) -> Option<KafkaRecord> {
    let headers: IndexMap<StrBytes, Option<Bytes>> = record
        .headers
        .iter()
        .map(|h| (StrBytes::from_string(h.key.clone()), Some(h.value.clone())))
        .collect();
    // The map keeps one value per key; the gateway refuses repeats with a
    // clear error, so let it see them.
    if headers.len() != record.headers.len() {
        return None;
    }
    let delta = i32::try_from(index).ok()?;
    Some(KafkaRecord {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: NO_PARTITION_LEADER_EPOCH,
        producer_id: NO_PRODUCER_ID,
        producer_epoch: NO_PRODUCER_EPOCH,
        timestamp_type: TimestampType::Creation,
        offset: i64::from(delta),
        // kafka-protocol starts a new batch wherever `offset - sequence`
        // changes; this keeps one batch (base sequence stamped afterwards).
        sequence: NO_SEQUENCE.wrapping_add(delta),
        timestamp: record.timestamp_ms.unwrap_or(now_ms),
        key: record.key.clone(),
        value: record.value.clone(),
        headers,
    })
}

fn compress(raw: &[u8], out: &mut BytesMut) -> io::Result<()> {
    let start = out.len();
    out.resize(start + zstd::zstd_safe::compress_bound(raw.len()), 0);
    let written = COMPRESSOR.with(|cell| {
        let mut slot = cell.try_borrow_mut().map_err(io::Error::other)?;
        let compressor = match slot.as_mut() {
            Some(c) => c,
            None => slot.insert(Compressor::new(ZSTD_LEVEL)?),
        };
        compressor.compress_to_buffer(raw, &mut out[start..])
    });
    match written {
        Ok(n) => {
            out.truncate(start + n);
            Ok(())
        }
        Err(e) => {
            out.truncate(start);
            Err(e)
        }
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
            assert_eq!(
                &batch[PRODUCER_ID_AT..PRODUCER_ID_AT + 8],
                &42i64.to_be_bytes()
            );
            assert_eq!(
                &batch[BASE_SEQUENCE_AT..BASE_SEQUENCE_AT + 4],
                &1000i32.to_be_bytes()
            );
            let crc = u32::from_be_bytes(batch[CRC_AT..CRC_AT + 4].try_into().unwrap());
            assert_eq!(crc, crc32c::crc32c(&batch[CRC_COVERS_FROM..]));
            let length = i32::from_be_bytes(batch[8..12].try_into().unwrap()) as usize;
            assert_eq!(length + 12, batch.len(), "exactly one batch");
            let codec = batch[22] & 0x7;
            assert_eq!(
                codec,
                if compression == Compression::Zstd {
                    4
                } else {
                    0
                }
            );
        }
    }

    #[test]
    fn repeated_header_keys_fall_back_to_plain_records() {
        let mut r = record(0);
        r.headers.push(r.headers[0].clone());
        assert!(encode(&[r], Compression::Zstd, 0).is_none());
    }
}
