//! Generators and helpers shared by the `codec_*` tests.
#![allow(dead_code, unreachable_pub)]

use bytes::{Bytes, BytesMut};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, NO_PARTITION_LEADER_EPOCH, NO_PRODUCER_EPOCH, NO_PRODUCER_ID, NO_SEQUENCE, Record,
    RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use stratus_format::batch::{Header, RecordInput, StoredRecord};

/// Proptest settings with failures persisted under testdata/, where they are
/// committed as regression cases.
pub fn config(cases: u32, regressions: &'static str) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(regressions))),
        ..ProptestConfig::default()
    }
}

pub fn bytes(max: usize) -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..max).prop_map(Bytes::from)
}

/// Values are mostly small and random, sometimes large and compressible so
/// zstd spans several blocks.
pub fn value() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        9 => bytes(200),
        1 => prop::collection::vec(0..4u8, 0..20_000).prop_map(Bytes::from),
    ]
}

/// Headers with distinct keys (including empty and non-ASCII ones), in
/// generated order.
pub fn headers() -> impl Strategy<Value = Vec<Header>> {
    prop::collection::vec(("\\PC{0,8}", bytes(16)), 0..5).prop_map(|pairs| {
        let mut headers: Vec<Header> = Vec::new();
        for (key, value) in pairs {
            if headers.iter().all(|h| h.key != key) {
                headers.push(Header { key, value });
            }
        }
        headers
    })
}

/// One batch worth of records; timestamps scatter around a base, so deltas
/// from the first record are negative as often as positive.
pub fn records(max: usize) -> impl Strategy<Value = Vec<RecordInput>> {
    let base = -1_000i64..4_000_000_000_000;
    let one = (
        prop::option::of(bytes(24)),
        prop::option::weighted(0.95, value()),
        headers(),
        -100_000i64..100_000,
    );
    (base, prop::collection::vec(one, 1..max)).prop_map(|(base, items)| {
        items
            .into_iter()
            .map(|(key, value, headers, delta)| RecordInput {
                key,
                value,
                headers,
                timestamp_ms: base + delta,
            })
            .collect()
    })
}

/// What decoding `records` stored at `base_offset` must give back.
pub fn expected(records: &[RecordInput], base_offset: i64) -> Vec<StoredRecord> {
    records
        .iter()
        .zip(base_offset..)
        .map(|(r, offset)| StoredRecord {
            offset,
            timestamp_ms: r.timestamp_ms,
            key: r.key.clone(),
            value: r.value.clone(),
            headers: r.headers.clone(),
        })
        .collect()
}

pub fn concat(batches: &[Bytes]) -> Bytes {
    let mut out = BytesMut::new();
    for batch in batches {
        out.extend_from_slice(batch);
    }
    out.freeze()
}

/// A kafka-protocol record with offset `offset`, for batches built the way a
/// Kafka client would.
pub fn kafka_record(offset: i64, timestamp: i64, key: Option<&str>, value: Option<&str>) -> Record {
    Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: NO_PARTITION_LEADER_EPOCH,
        producer_id: NO_PRODUCER_ID,
        producer_epoch: NO_PRODUCER_EPOCH,
        timestamp_type: TimestampType::Creation,
        offset,
        sequence: offset as i32,
        timestamp,
        key: key.map(|k| Bytes::copy_from_slice(k.as_bytes())),
        value: value.map(|v| Bytes::copy_from_slice(v.as_bytes())),
        headers: Default::default(),
    }
}

/// `records` as a Kafka client would send them: offsets `0..n`, CreateTime,
/// no producer id. The sequence keeps `offset - sequence` constant, so
/// kafka-protocol writes one batch (with base sequence -1).
pub fn kafka_records(records: &[RecordInput]) -> Vec<Record> {
    records
        .iter()
        .zip(0i64..)
        .map(|(r, offset)| Record {
            sequence: NO_SEQUENCE.wrapping_add(offset as i32),
            timestamp: r.timestamp_ms,
            key: r.key.clone(),
            value: r.value.clone(),
            headers: r
                .headers
                .iter()
                .map(|h| (StrBytes::from_string(h.key.clone()), Some(h.value.clone())))
                .collect(),
            ..kafka_record(offset, 0, None, None)
        })
        .collect()
}

/// Encodes with kafka-protocol's own codecs.
pub fn kafka_batch(records: &[Record], compression: Compression) -> Bytes {
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression,
    };
    RecordBatchEncoder::encode(&mut buf, records, &options).expect("kafka-protocol encodes");
    buf.freeze()
}

/// Recomputes the CRC of the batch at the start of `batch`, so tests can feed
/// the decoder bytes that get past the checksum.
pub fn fix_crc(batch: &mut [u8]) {
    let crc = crc32c::crc32c(&batch[21..]);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
}

/// A v2 batch header with a correct CRC around `records` (already compressed
/// per `attributes`), with the given count and timestamps.
pub fn raw_batch(
    attributes: i16,
    count: i32,
    first_ms: i64,
    max_ms: i64,
    records: &[u8],
) -> Vec<u8> {
    let mut b = Vec::with_capacity(61 + records.len());
    b.extend_from_slice(&0i64.to_be_bytes());
    b.extend_from_slice(&((49 + records.len()) as i32).to_be_bytes());
    b.extend_from_slice(&(-1i32).to_be_bytes());
    b.push(2);
    b.extend_from_slice(&[0; 4]);
    b.extend_from_slice(&attributes.to_be_bytes());
    b.extend_from_slice(&(count - 1).to_be_bytes());
    b.extend_from_slice(&first_ms.to_be_bytes());
    b.extend_from_slice(&max_ms.to_be_bytes());
    b.extend_from_slice(&(-1i64).to_be_bytes());
    b.extend_from_slice(&(-1i16).to_be_bytes());
    b.extend_from_slice(&(-1i32).to_be_bytes());
    b.extend_from_slice(&count.to_be_bytes());
    b.extend_from_slice(records);
    fix_crc(&mut b);
    b
}
