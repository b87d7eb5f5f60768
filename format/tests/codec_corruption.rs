//! The decoders never panic, whatever the bytes: arbitrary input, truncation,
//! single-byte corruption, and crafted batches whose CRC is valid so the
//! record parser itself is exercised. Errors are fine; corruption that the
//! checksums cover must be an error.

mod codec_support;

use bytes::Bytes;
use codec_support::{concat, config, fix_crc, kafka_batch, kafka_record, raw_batch, records};
use kafka_protocol::records::Compression;
use proptest::prelude::*;
use stratus_format::batch::{batch_infos, decode_chunk, decode_chunk_from, encode_batch};
use stratus_format::wal_object::{
    Trailer, WalObjectBuilder, decode_footer, decode_footer_bytes, decode_header, decode_trailer,
};

const REGRESSIONS: &str = "testdata/proptest-regressions/codec_corruption.txt";

/// Runs every decoder over `bytes`; only panics matter.
fn decode_everything(bytes: &[u8]) {
    let shared = Bytes::copy_from_slice(bytes);
    let _ = batch_infos(bytes);
    let _ = decode_chunk(&shared, 0);
    let _ = decode_chunk_from(&shared, i64::MAX - 3, i64::MAX - 1, 10);
    let _ = decode_footer(bytes);
    let _ = decode_header(bytes);
    let _ = decode_trailer(bytes, bytes.len() as u64);
    let trailer = Trailer {
        footer_offset: 8,
        footer_len: bytes.len() as u32,
        footer_crc: crc32c::crc32c(bytes),
    };
    let _ = decode_footer_bytes(bytes, &trailer);
}

/// A small valid object with two chunks, and each chunk's byte range.
fn sample_object(batches: &[Vec<stratus_format::batch::RecordInput>]) -> Bytes {
    let encoded: Vec<Bytes> = batches
        .iter()
        .map(|r| encode_batch(r, 1).unwrap())
        .collect();
    let mut builder = WalObjectBuilder::new();
    let (left, right) = encoded.split_at(encoded.len() / 2);
    builder.add_chunk(1, 0, left).unwrap();
    builder.add_chunk(1, 1, right).unwrap();
    builder.finish().0
}

proptest! {
    #![proptest_config(config(256, REGRESSIONS))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        decode_everything(&bytes);
    }

    /// Bytes that start like a batch or an object get further into the
    /// decoders than random ones.
    #[test]
    fn plausible_prefixes_never_panic(tail in prop::collection::vec(any::<u8>(), 0..200), object in any::<bool>()) {
        let mut bytes = if object { b"STRW\0\x01\0\0".to_vec() } else { raw_batch(0, 1, 0, 0, &[]) };
        bytes.truncate(if object { 8 } else { 17 });
        bytes.extend_from_slice(&tail);
        decode_everything(&bytes);
    }

    #[test]
    fn truncated_objects_are_errors(batches in prop::collection::vec(records(4), 2..5), cut in any::<prop::sample::Index>()) {
        let object = sample_object(&batches);
        let len = cut.index(object.len());
        prop_assert!(decode_footer(&object[..len]).is_err());
        decode_everything(&object[..len]);
    }

    #[test]
    fn truncated_chunks_are_errors(batches in prop::collection::vec(records(4), 1..4), cut in any::<prop::sample::Index>()) {
        let chunk = concat(&batches.iter().map(|r| encode_batch(r, 1).unwrap()).collect::<Vec<_>>());
        let len = cut.index(chunk.len());
        prop_assert!(batch_infos(&chunk[..len]).is_err() || len == 0 || batch_boundary(&chunk, len));
        prop_assert!(decode_chunk(&chunk.slice(..len), 0).is_err() || batch_boundary(&chunk, len));
    }

    /// A flipped byte in the header, footer or trailer fails decode_footer; in
    /// a chunk it fails decode_chunk unless it hit one of the two header fields
    /// the batch CRC does not cover (base offset, partition leader epoch).
    #[test]
    fn corrupted_bytes_are_caught(
        batches in prop::collection::vec(records(4), 2..5),
        at in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let object = sample_object(&batches);
        let entries = decode_footer(&object).unwrap();
        let at = at.index(object.len());
        let mut corrupt = object.to_vec();
        corrupt[at] ^= flip;
        decode_everything(&corrupt);
        let in_chunk = entries.iter().find(|e| e.byte_range().contains(&(at as u64)));
        match in_chunk {
            None => prop_assert!(decode_footer(&corrupt).is_err()),
            Some(entry) => {
                prop_assert_eq!(decode_footer(&corrupt).unwrap(), entries.clone());
                let range = entry.offset as usize..entry.byte_range().end as usize;
                let chunk = Bytes::copy_from_slice(&corrupt[range.clone()]);
                let pos = at - range.start;
                let original = object.slice(range);
                if uncovered_field(&original, pos) {
                    prop_assert_eq!(decode_chunk(&chunk, 0).unwrap(), decode_chunk(&original, 0).unwrap());
                } else {
                    prop_assert!(decode_chunk(&chunk, 0).is_err());
                }
            }
        }
    }

    /// Arbitrary record bytes behind a valid CRC, uncompressed or zstd: the
    /// record parser and the decompressor must cope on their own.
    #[test]
    fn crafted_batches_never_panic(
        body in prop::collection::vec(any::<u8>(), 0..120),
        count in prop_oneof![1..4i32, Just(i32::MAX)],
        zstd in any::<bool>(),
        first_ms in prop_oneof![Just(i64::MAX), Just(i64::MIN), any::<i64>()],
        log_append in any::<bool>(),
    ) {
        let (attributes, payload) = if zstd {
            (4, zstd::bulk::compress(&body, 1).unwrap())
        } else {
            (0, body)
        };
        let attributes = attributes | if log_append { 8 } else { 0 };
        let batch = raw_batch(attributes, count, first_ms, first_ms, &payload);
        let _ = decode_chunk(&Bytes::from(batch), 0);
    }

    /// A valid Kafka batch with one record byte changed and the CRC fixed up.
    #[test]
    fn mutated_records_behind_valid_crc_never_panic(at in any::<prop::sample::Index>(), to in any::<u8>()) {
        let records = [
            kafka_record(0, 1_000, Some("key"), Some("value")),
            kafka_record(1, 2_000, None, Some("")),
        ];
        let mut batch = kafka_batch(&records, Compression::None).to_vec();
        let at = 61 + at.index(batch.len() - 61);
        batch[at] = to;
        fix_crc(&mut batch);
        let _ = decode_chunk(&Bytes::from(batch), 0);
    }
}

#[test]
fn zstd_bombs_are_refused() {
    // 100 MiB of zeros compress to a few kilobytes; the frame declares its size.
    let zeros = vec![0u8; 100 << 20];
    let sized = zstd::bulk::compress(&zeros, 1).unwrap();
    let batch = raw_batch(4, 1, 0, 0, &sized);
    let err = decode_chunk(&Bytes::from(batch), 0).unwrap_err();
    assert!(
        err.to_string().contains("decompresses to more than"),
        "{err}"
    );

    // A streamed frame does not declare its size, so the cap applies while reading.
    let streamed = zstd::stream::encode_all(&zeros[..], 1).unwrap();
    let batch = raw_batch(4, 1, 0, 0, &streamed);
    let err = decode_chunk(&Bytes::from(batch), 0).unwrap_err();
    assert!(
        err.to_string().contains("decompresses to more than"),
        "{err}"
    );
}

/// Whether `len` falls exactly between two batches of `chunk`.
fn batch_boundary(chunk: &[u8], len: usize) -> bool {
    let mut at = 0;
    for info in batch_infos(chunk).unwrap() {
        if at == len {
            return true;
        }
        at += info.byte_len;
    }
    at == len
}

/// Whether `pos` lies in the base offset or partition leader epoch of one of
/// `chunk`'s batches.
fn uncovered_field(chunk: &[u8], pos: usize) -> bool {
    let mut at = 0;
    for info in batch_infos(chunk).unwrap() {
        if (at..at + 8).contains(&pos) || (at + 12..at + 16).contains(&pos) {
            return true;
        }
        at += info.byte_len;
    }
    false
}
