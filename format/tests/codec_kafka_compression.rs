//! Batches as Kafka clients send them, with every codec a client may choose
//! (none, gzip, snappy, lz4, zstd), encoded by kafka-protocol's own
//! `RecordBatchEncoder`: they pass `check_client_batch` untouched and read
//! back record for record; corrupt, truncated or hostile ones are errors,
//! never panics, and decompression bombs stop at the batch size limit.

mod codec_support;

use std::io::Write;

use bytes::Bytes;
use codec_support::{concat, config, expected, fix_crc, kafka_batch, kafka_records, records};
use kafka_protocol::records::Compression;
use proptest::prelude::*;
use stratus_format::batch::{
    BATCH_HEADER_LEN, BatchError, Codec, Header, MAX_BATCH_UNCOMPRESSED_BYTES, RecordInput,
    batch_infos, check_client_batch, decode_chunk, decode_chunk_from, decode_segment_chunk,
    encode_batch, patch_base_offset,
};

const REGRESSIONS: &str = "testdata/proptest-regressions/codec_kafka_compression.txt";

/// Every codec, as kafka-protocol names it and as we report it.
const CODECS: [(Compression, Codec); 5] = [
    (Compression::None, Codec::None),
    (Compression::Gzip, Codec::Gzip),
    (Compression::Snappy, Codec::Snappy),
    (Compression::Lz4, Codec::Lz4),
    (Compression::Zstd, Codec::Zstd),
];

fn codec() -> impl Strategy<Value = (Compression, Codec)> {
    prop::sample::select(&CODECS[..])
}

/// `batch`'s header around a different payload, with its length and CRC
/// fixed so the decoder gets as far as decompressing.
fn with_payload(batch: &[u8], payload: &[u8]) -> Bytes {
    let mut b = batch[..BATCH_HEADER_LEN].to_vec();
    b.extend_from_slice(payload);
    let length = (b.len() - 12) as i32;
    b[8..12].copy_from_slice(&length.to_be_bytes());
    fix_crc(&mut b);
    Bytes::from(b)
}

/// A one-record batch header with codec `id` around `payload`.
fn batch_of(id: u8, payload: &[u8]) -> Bytes {
    Bytes::from(codec_support::raw_batch(i16::from(id), 1, 0, 0, payload))
}

/// Runs every reader over `batch`; only panics matter.
fn read_everything(batch: &Bytes) {
    let _ = check_client_batch(batch);
    let _ = batch_infos(batch);
    let _ = decode_chunk(batch, 0);
    let _ = decode_chunk_from(batch, 0, 1, 10);
    let _ = decode_segment_chunk(batch);
}

proptest! {
    #![proptest_config(config(64, REGRESSIONS))]

    /// A client's batch passes the produce check as it is, reports its codec,
    /// and reads back the same over every read path.
    #[test]
    fn kafka_batches_pass_the_check_and_read_back(
        records in records(20),
        (compression, codec) in codec(),
        base in 0i64..1 << 50,
    ) {
        let batch = kafka_batch(&kafka_records(&records), compression);
        let checked = check_client_batch(&batch).unwrap();
        prop_assert_eq!(checked.info.codec, codec);
        prop_assert_eq!(checked.info.byte_len, batch.len());
        prop_assert_eq!(checked.info.record_count as usize, records.len());
        prop_assert_eq!(&checked.records, &expected(&records, 0));
        prop_assert_eq!(batch_infos(&batch).unwrap()[0].codec, codec);
        prop_assert_eq!(decode_chunk(&batch, base).unwrap(), expected(&records, base));

        // As a segment stores it: the real base offset in the header.
        let mut placed = batch.to_vec();
        patch_base_offset(&mut placed, base).unwrap();
        prop_assert_eq!(decode_segment_chunk(&Bytes::from(placed)).unwrap(), expected(&records, base));
    }

    /// One log, two protocols: a chunk mixing client batches of every codec
    /// with our own zstd batches reads back in order with dense offsets.
    #[test]
    fn chunks_mixing_codecs_read_back(
        batches in prop::collection::vec((records(6), prop::option::of(codec())), 1..6),
        base in 0i64..1 << 40,
    ) {
        let encoded: Vec<Bytes> = batches
            .iter()
            .map(|(records, codec)| match codec {
                Some((compression, _)) => kafka_batch(&kafka_records(records), *compression),
                None => encode_batch(records, 1).unwrap(),
            })
            .collect();
        let all: Vec<RecordInput> = batches.iter().flat_map(|(r, _)| r.clone()).collect();
        prop_assert_eq!(decode_chunk(&concat(&encoded), base).unwrap(), expected(&all, base));
    }

    /// Any flipped byte of the compressed records fails the CRC, whatever the
    /// codec; a flipped header byte the CRC covers is an error too.
    #[test]
    fn flipped_bytes_fail_the_crc(
        records in records(8),
        (compression, _) in codec(),
        at in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let batch = kafka_batch(&kafka_records(&records), compression);
        let at = 21 + at.index(batch.len() - 21);
        let mut corrupt = batch.to_vec();
        corrupt[at] ^= flip;
        let corrupt = Bytes::from(corrupt);
        let checked = check_client_batch(&corrupt);
        let decoded = decode_chunk(&corrupt, 0);
        if at >= BATCH_HEADER_LEN {
            prop_assert!(matches!(checked, Err(BatchError::CrcMismatch { .. })), "{:?}", checked);
            prop_assert!(matches!(decoded, Err(BatchError::CrcMismatch { .. })), "{:?}", decoded);
        } else {
            prop_assert!(checked.is_err() && decoded.is_err());
        }
    }

    /// A compressed payload cut short, behind a valid length and CRC, is an
    /// error, not a panic and not fewer records.
    #[test]
    fn truncated_payloads_are_errors(
        records in records(8),
        (compression, _) in codec(),
        cut in any::<prop::sample::Index>(),
    ) {
        let batch = kafka_batch(&kafka_records(&records), compression);
        let payload = &batch[BATCH_HEADER_LEN..];
        let truncated = with_payload(&batch, &payload[..cut.index(payload.len())]);
        prop_assert!(check_client_batch(&truncated).is_err());
        prop_assert!(decode_chunk(&truncated, 0).is_err());
    }

    /// librdkafka writes snappy raw, without xerial framing: the same records
    /// in one raw snappy stream read back the same.
    #[test]
    fn raw_snappy_batches_read_back(records in records(12)) {
        let plain = kafka_batch(&kafka_records(&records), Compression::None);
        let raw = snap::raw::Encoder::new().compress_vec(&plain[BATCH_HEADER_LEN..]).unwrap();
        let mut header = plain[..BATCH_HEADER_LEN].to_vec();
        header[22] |= Codec::Snappy.id();
        let batch = with_payload(&header, &raw);
        let checked = check_client_batch(&batch).unwrap();
        prop_assert_eq!(checked.info.codec, Codec::Snappy);
        prop_assert_eq!(checked.records, expected(&records, 0));
    }

    /// Random bytes after a valid header, with the CRC fixed so they reach the
    /// decompressor of every codec id (and the undefined ones).
    #[test]
    fn random_payloads_never_panic(
        id in 0u8..8,
        body in prop::collection::vec(any::<u8>(), 0..400),
        xerial in any::<bool>(),
    ) {
        let mut payload = Vec::new();
        // Snappy's framed form, so its block parser sees random blocks.
        if xerial && id == 2 {
            payload.extend_from_slice(b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01");
        }
        payload.extend_from_slice(&body);
        read_everything(&batch_of(id, &payload));
    }

    /// A valid compressed payload with one byte changed or random bytes
    /// appended, behind a fixed CRC: deeper into each decompressor than random
    /// bytes get.
    #[test]
    fn mutated_payloads_never_panic(
        records in records(6),
        (compression, _) in codec(),
        at in any::<prop::sample::Index>(),
        to in any::<u8>(),
        tail in prop::collection::vec(any::<u8>(), 0..16),
    ) {
        let batch = kafka_batch(&kafka_records(&records), compression);
        let mut payload = batch[BATCH_HEADER_LEN..].to_vec();
        let at = at.index(payload.len());
        payload[at] = to;
        read_everything(&with_payload(&batch, &payload));
        payload.extend_from_slice(&tail);
        read_everything(&with_payload(&batch, &payload));
    }
}

/// Records large enough that snappy (32 KiB xerial blocks), lz4 (64 KiB
/// frame blocks) and gzip span many blocks.
#[test]
fn large_batches_span_several_blocks() {
    let value = |seed: u32| -> Bytes {
        (0..300_000u32)
            .map(|i| (i.wrapping_mul(seed) >> 7) as u8)
            .collect::<Vec<u8>>()
            .into()
    };
    let records: Vec<RecordInput> = (1..4u32)
        .map(|seed| RecordInput {
            key: Some(Bytes::from(format!("k{seed}"))),
            value: Some(value(seed.wrapping_mul(2_654_435_761))),
            headers: vec![Header {
                key: "h".into(),
                value: Bytes::from_static(b"v"),
            }],
            timestamp_ms: 1_700_000_000_000 + i64::from(seed),
        })
        .collect();
    for (compression, codec) in CODECS {
        let batch = kafka_batch(&kafka_records(&records), compression);
        let checked = check_client_batch(&batch).unwrap();
        assert_eq!(checked.info.codec, codec);
        assert_eq!(checked.records, expected(&records, 0), "{codec}");
    }
}

/// Bytes a bomb decompresses to: past the limit by a MiB.
const BOMB_BYTES: usize = MAX_BATCH_UNCOMPRESSED_BYTES + (1 << 20);
/// Bombs are written a MiB at a time, so building one is cheap too.
static STEP: [u8; 1 << 20] = [0; 1 << 20];

/// Writes `BOMB_BYTES` of zeros through a streaming compressor.
fn write_zeros(mut w: impl Write) {
    for _ in 0..BOMB_BYTES / STEP.len() {
        w.write_all(&STEP).unwrap();
    }
}

/// The bomb is small, and both the produce check and the reader refuse it by
/// its size.
fn assert_refused(id: u8, payload: &[u8]) {
    assert!(payload.len() < 4 << 20, "a {}-byte bomb", payload.len());
    let batch = batch_of(id, payload);
    for err in [
        check_client_batch(&batch).unwrap_err(),
        decode_chunk(&batch, 0).unwrap_err(),
    ] {
        assert!(
            matches!(
                err,
                BatchError::DecompressedTooLarge {
                    max: MAX_BATCH_UNCOMPRESSED_BYTES,
                    ..
                }
            ),
            "codec {id}: {err}"
        );
    }
}

#[test]
fn gzip_bombs_are_refused() {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    write_zeros(&mut e);
    assert_refused(1, &e.finish().unwrap());
}

/// xerial framing (the Java client's): many small blocks that only add up
/// past the limit.
#[test]
fn framed_snappy_bombs_are_refused() {
    let block = snap::raw::Encoder::new()
        .compress_vec(&STEP[..32 * 1024])
        .unwrap();
    let mut framed = b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01".to_vec();
    for _ in 0..BOMB_BYTES / (32 * 1024) {
        framed.extend_from_slice(&(block.len() as u32).to_be_bytes());
        framed.extend_from_slice(&block);
    }
    assert_refused(2, &framed);
}

/// Raw snappy (librdkafka's) of `len` zeros, written by hand so no `len`-byte
/// input is needed: one literal zero, then copies of 64 bytes at distance 1.
fn raw_snappy_zeros(len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut n = len;
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out.extend_from_slice(&[0x00, 0x00]); // literal of length 1: a zero
    let mut left = len - 1;
    while left > 0 {
        let copy = left.min(64);
        // A copy with a 2-byte offset: tag (length - 1) << 2 | 0b10, offset 1.
        out.extend_from_slice(&[((copy - 1) as u8) << 2 | 0b10, 1, 0]);
        left -= copy;
    }
    out
}

/// librdkafka's raw snappy declares its size up front; the declaration alone
/// is refused, before anything that size is allocated.
#[test]
fn raw_snappy_bombs_are_refused() {
    // The hand-built stream is valid snappy.
    let small = raw_snappy_zeros(1000);
    assert_eq!(
        snap::raw::Decoder::new().decompress_vec(&small).unwrap(),
        vec![0; 1000]
    );
    assert_refused(2, &raw_snappy_zeros(BOMB_BYTES));
}

#[test]
fn lz4_bombs_are_refused() {
    let mut e = lz4::EncoderBuilder::new().build(Vec::new()).unwrap();
    write_zeros(&mut e);
    let (payload, result) = e.finish();
    result.unwrap();
    assert_refused(3, &payload);
}

/// Streamed zstd (as Kafka clients write it) does not declare its size; the
/// cap applies while reading.
#[test]
fn streamed_zstd_bombs_are_refused() {
    let mut e = zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap();
    write_zeros(&mut e);
    assert_refused(4, &e.finish().unwrap());
}
