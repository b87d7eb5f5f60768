//! Round trips and edge cases of the record batch codec.

mod codec_support;

use bytes::{Bytes, BytesMut};
use codec_support::{concat, config, expected, kafka_batch, kafka_record, records};
use kafka_protocol::records::{Compression, RecordBatchDecoder};
use proptest::prelude::*;
use stratus_format::batch::{
    BatchError, Header, RecordInput, StoredRecord, batch_infos, decode_chunk, decode_chunk_from,
    encode_batch, patch_base_offset, rebase_chunk,
};

const REGRESSIONS: &str = "testdata/proptest-regressions/codec_batch.txt";

fn record(value: &str, timestamp_ms: i64) -> RecordInput {
    RecordInput {
        key: None,
        value: Some(Bytes::copy_from_slice(value.as_bytes())),
        headers: Vec::new(),
        timestamp_ms,
    }
}

proptest! {
    #![proptest_config(config(128, REGRESSIONS))]

    #[test]
    fn one_batch_round_trips(
        records in records(20),
        level in prop_oneof![Just(1), Just(3), Just(-1)],
        base in 0i64..1 << 50,
    ) {
        let batch = encode_batch(&records, level).unwrap();
        prop_assert_eq!(decode_chunk(&batch, base).unwrap(), expected(&records, base));

        let infos = batch_infos(&batch).unwrap();
        prop_assert_eq!(infos.len(), 1);
        let info = infos[0];
        prop_assert_eq!(info.base_offset, 0);
        prop_assert_eq!(info.record_count as usize, records.len());
        prop_assert_eq!(info.byte_len, batch.len());
        prop_assert_eq!(info.first_timestamp_ms, records.iter().map(|r| r.timestamp_ms).min().unwrap());
        prop_assert_eq!(info.max_timestamp_ms, records.iter().map(|r| r.timestamp_ms).max().unwrap());
        prop_assert_eq!((info.producer_id, info.producer_epoch, info.base_sequence), (-1, -1, -1));
    }

    #[test]
    fn chunks_of_several_batches_round_trip(
        batches in prop::collection::vec(records(8), 1..6),
        base in 0i64..1 << 50,
    ) {
        let encoded: Vec<Bytes> = batches.iter().map(|r| encode_batch(r, 1).unwrap()).collect();
        let chunk = concat(&encoded);
        let all: Vec<RecordInput> = batches.concat();
        prop_assert_eq!(decode_chunk(&chunk, base).unwrap(), expected(&all, base));

        let infos = batch_infos(&chunk).unwrap();
        prop_assert_eq!(infos.len(), batches.len());
        for ((info, records), bytes) in infos.iter().zip(&batches).zip(&encoded) {
            prop_assert_eq!(info.record_count as usize, records.len());
            prop_assert_eq!(info.byte_len, bytes.len());
        }
    }

    /// decode_chunk_from is decode_chunk filtered: from the first offset at or
    /// after `from`, as many records as fit in `max_bytes`, but at least one.
    #[test]
    fn decode_from_skips_and_stops(
        batches in prop::collection::vec(records(8), 1..5),
        base in 0i64..1000,
        from in 0i64..1040,
        max_bytes in 0usize..2000,
    ) {
        let chunk = concat(&batches.iter().map(|r| encode_batch(r, 1).unwrap()).collect::<Vec<_>>());
        let mut want: Vec<StoredRecord> = Vec::new();
        let mut used = 0;
        for r in decode_chunk(&chunk, base).unwrap().into_iter().filter(|r| r.offset >= from) {
            if !want.is_empty() && used + r.payload_len() > max_bytes {
                break;
            }
            used += r.payload_len();
            want.push(r);
        }
        prop_assert_eq!(decode_chunk_from(&chunk, base, from, max_bytes).unwrap(), want);
    }

    /// Our batches read back through kafka-protocol's decoder (what a Kafka
    /// client sees) with the same contents, and after rebasing, the same
    /// absolute offsets.
    #[test]
    fn kafka_protocol_reads_our_batches(batches in prop::collection::vec(records(6), 1..4), base in 0i64..1 << 40) {
        let chunk = concat(&batches.iter().map(|r| encode_batch(r, 1).unwrap()).collect::<Vec<_>>());
        let mut rebased = BytesMut::from(&chunk[..]);
        rebase_chunk(&mut rebased, base).unwrap();
        let ours = decode_chunk(&rebased.clone().freeze(), base).unwrap();

        let sets = RecordBatchDecoder::decode_all(&mut rebased.freeze()).unwrap();
        let theirs: Vec<_> = sets.into_iter().flat_map(|s| s.records).collect();
        prop_assert_eq!(theirs.len(), ours.len());
        for (k, o) in theirs.iter().zip(&ours) {
            prop_assert_eq!(k.offset, o.offset);
            prop_assert_eq!(k.timestamp, o.timestamp_ms);
            prop_assert_eq!(&k.key, &o.key);
            prop_assert_eq!(k.value.as_ref(), o.value.as_ref());
            let headers: Vec<Header> = k.headers.iter().map(|(key, value)| Header {
                key: key.to_string(),
                value: value.clone().unwrap_or_default(),
            }).collect();
            prop_assert_eq!(&headers, &o.headers);
        }
    }

    /// Timestamps anywhere in i64 either round trip or are refused, never
    /// overflow.
    #[test]
    fn extreme_timestamps_round_trip_or_are_refused(a in any::<i64>(), b in any::<i64>()) {
        let records = vec![record("a", a), record("b", b)];
        match encode_batch(&records, 1) {
            Ok(batch) => prop_assert_eq!(decode_chunk(&batch, 0).unwrap(), expected(&records, 0)),
            Err(BatchError::TimestampSpread { .. }) => prop_assert!(a.max(b).checked_sub(a.min(b)).is_none()),
            Err(other) => prop_assert!(false, "unexpected error {other}"),
        }
    }
}

#[test]
fn duplicate_header_keys_are_refused_by_name() {
    let mut r = record("v", 0);
    r.headers = vec![
        Header {
            key: "trace".into(),
            value: Bytes::from_static(b"1"),
        },
        Header {
            key: "other".into(),
            value: Bytes::new(),
        },
        Header {
            key: "trace".into(),
            value: Bytes::from_static(b"2"),
        },
    ];
    let err = encode_batch(&[record("ok", 0), r], 1).unwrap_err();
    assert!(
        matches!(&err, BatchError::DuplicateHeaderKey { index: 1, key } if key == "trace"),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("\"trace\"") && message.contains("drop"),
        "{message}"
    );
}

#[test]
fn empty_batches_are_refused() {
    assert!(matches!(encode_batch(&[], 1), Err(BatchError::EmptyBatch)));
}

#[test]
fn patch_base_offset_rewrites_only_the_offset_field() {
    let batch = encode_batch(&[record("a", 5), record("b", 6)], 1).unwrap();
    let mut patched = batch.to_vec();
    patch_base_offset(&mut patched, 0x0102_0304_0506_0708).unwrap();
    assert_eq!(&patched[..8], &[1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(&patched[8..], &batch[8..]);
    assert_eq!(
        batch_infos(&patched).unwrap()[0].base_offset,
        0x0102_0304_0506_0708
    );
    // The CRC does not cover the field, so the batch still verifies.
    let records = decode_chunk(&Bytes::from(patched), 100).unwrap();
    assert_eq!(
        records.iter().map(|r| r.offset).collect::<Vec<_>>(),
        [100, 101]
    );

    let mut short = [0u8; 8];
    assert!(matches!(
        patch_base_offset(&mut short, 1),
        Err(BatchError::Truncated { available: 8, .. })
    ));
}

#[test]
fn rebase_chunk_numbers_batches_consecutively() {
    let chunk = concat(&[
        encode_batch(&[record("a", 1), record("b", 2)], 1).unwrap(),
        encode_batch(&[record("c", 3)], 1).unwrap(),
        encode_batch(&[record("d", 4), record("e", 5), record("f", 6)], 1).unwrap(),
    ]);
    let mut bytes = chunk.to_vec();
    rebase_chunk(&mut bytes, 40).unwrap();
    let bases: Vec<i64> = batch_infos(&bytes)
        .unwrap()
        .iter()
        .map(|i| i.base_offset)
        .collect();
    assert_eq!(bases, [40, 42, 43]);
    assert!(matches!(
        rebase_chunk(&mut bytes, i64::MAX - 2),
        Err(BatchError::OffsetOverflow { .. })
    ));
    assert!(matches!(
        decode_chunk(&chunk, i64::MAX - 2),
        Err(BatchError::OffsetOverflow { .. })
    ));
}

/// Batches a Kafka client could send: uncompressed, null values, and every
/// codec a client may choose.
#[test]
fn reads_kafka_client_batches() {
    let records = [
        kafka_record(0, 1_000, Some("k"), Some("v")),
        kafka_record(1, 999, None, None),
    ];
    let plain = kafka_batch(&records, Compression::None);
    let decoded = decode_chunk(&plain, 7).unwrap();
    assert_eq!(decoded.len(), 2);
    assert_eq!((decoded[0].offset, decoded[0].timestamp_ms), (7, 1_000));
    assert_eq!(decoded[0].key.as_deref(), Some(&b"k"[..]));
    // A tombstone's null value reads back as null.
    assert_eq!((decoded[1].offset, decoded[1].timestamp_ms), (8, 999));
    assert!(decoded[1].key.is_none() && decoded[1].value.is_none());

    for compression in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let batch = kafka_batch(&records, compression);
        assert_eq!(decode_chunk(&batch, 7).unwrap(), decoded, "{compression:?}");
    }
}

/// Codecs 5 to 7 do not exist: refused from the header, naming the valid ones.
#[test]
fn undefined_codecs_are_refused() {
    let plain = kafka_batch(&[kafka_record(0, 1, None, Some("v"))], Compression::None);
    for id in 5..=7u8 {
        let mut batch = plain.to_vec();
        batch[22] |= id;
        codec_support::fix_crc(&mut batch);
        let batch = Bytes::from(batch);
        for err in [
            decode_chunk(&batch, 0).unwrap_err(),
            batch_infos(&batch).unwrap_err(),
        ] {
            assert!(
                matches!(err, BatchError::UnsupportedCompression { codec, .. } if codec == id),
                "{err}"
            );
            assert!(
                err.to_string()
                    .contains("gzip (1), snappy (2), lz4 (3) or zstd (4)"),
                "{err}"
            );
        }
    }
}

/// Control batches (transaction markers) take offsets but are not records.
#[test]
fn control_batches_take_offsets_but_are_hidden() {
    let mut marker = kafka_record(0, 5, Some("\0\0\0\0"), Some("\0\0\0\0\0\0"));
    marker.control = true;
    let chunk = concat(&[
        encode_batch(&[record("a", 1), record("b", 2)], 1).unwrap(),
        kafka_batch(&[marker], Compression::None),
        encode_batch(&[record("c", 3)], 1).unwrap(),
    ]);
    let offsets: Vec<i64> = decode_chunk(&chunk, 10)
        .unwrap()
        .iter()
        .map(|r| r.offset)
        .collect();
    assert_eq!(offsets, [10, 11, 13]);
}

#[test]
fn decode_from_returns_one_oversized_record() {
    let big = RecordInput {
        value: Some(Bytes::from(vec![7; 5000])),
        ..record("", 0)
    };
    let chunk = encode_batch(&[record("a", 0), big, record("c", 0)], 1).unwrap();
    let got = decode_chunk_from(&chunk, 0, 1, 10).unwrap();
    assert_eq!(got.iter().map(|r| r.offset).collect::<Vec<_>>(), [1]);
    assert!(decode_chunk_from(&chunk, 0, 3, 10).unwrap().is_empty());
}
