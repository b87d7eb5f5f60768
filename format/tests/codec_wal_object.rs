//! Round trips and rejected inputs of the WAL object format.

mod codec_support;

use bytes::{BufMut, Bytes};
use codec_support::{concat, config, records};
use proptest::prelude::*;
use stratus_format::batch::{RecordInput, batch_infos, decode_chunk, encode_batch};
use stratus_format::wal_object::{
    ChunkEntry, TRAILER_LEN, WalObjectBuilder, WalObjectError, chunk_bytes, decode_footer,
    decode_footer_bytes, decode_trailer,
};

const REGRESSIONS: &str = "testdata/proptest-regressions/codec_wal_object.txt";

/// Chunks for distinct partitions, each a list of encoded batches.
fn chunks() -> impl Strategy<Value = Vec<(u128, u32, Vec<Bytes>)>> {
    let batches = prop::collection::vec(records(4), 1..4).prop_map(|b| {
        b.iter()
            .map(|r| encode_batch(r, 1).unwrap())
            .collect::<Vec<_>>()
    });
    prop::collection::vec((any::<u128>(), any::<u32>(), batches), 0..6).prop_map(|mut chunks| {
        let mut seen = std::collections::HashSet::new();
        chunks.retain(|(topic, partition, _)| seen.insert((*topic, *partition)));
        chunks
    })
}

fn build(chunks: &[(u128, u32, Vec<Bytes>)]) -> (Bytes, Vec<ChunkEntry>) {
    let mut builder = WalObjectBuilder::new();
    for (topic, partition, batches) in chunks {
        builder.add_chunk(*topic, *partition, batches).unwrap();
    }
    builder.finish()
}

proptest! {
    #![proptest_config(config(64, REGRESSIONS))]

    #[test]
    fn objects_round_trip(chunks in chunks()) {
        let (object, entries) = build(&chunks);
        prop_assert_eq!(&decode_footer(&object).unwrap(), &entries);

        // The ranged-read path: trailer, then footer, then chunks.
        let len = object.len() as u64;
        let trailer = decode_trailer(&object[object.len() - TRAILER_LEN..], len).unwrap();
        let range = trailer.footer_range();
        let footer = &object[range.start as usize..range.end as usize];
        prop_assert_eq!(&decode_footer_bytes(footer, &trailer).unwrap(), &entries);

        for ((topic, partition, batches), entry) in chunks.iter().zip(&entries) {
            let chunk = chunk_bytes(&object, entry).unwrap();
            prop_assert_eq!(&chunk, &concat(batches));
            prop_assert_eq!((entry.topic_id, entry.partition), (*topic, *partition));
            let infos = batch_infos(&chunk).unwrap();
            prop_assert_eq!(entry.batch_count as usize, infos.len());
            prop_assert_eq!(entry.record_count, infos.iter().map(|i| i.record_count).sum::<u32>());
            prop_assert_eq!(entry.first_timestamp_ms, infos[0].first_timestamp_ms);
            prop_assert_eq!(entry.max_timestamp_ms, infos.iter().map(|i| i.max_timestamp_ms).max().unwrap());
            prop_assert_eq!(decode_chunk(&chunk, 0).unwrap().len(), entry.record_count as usize);
        }
    }
}

fn batch(value: &str, timestamp_ms: i64) -> Bytes {
    let record = RecordInput {
        key: None,
        value: Some(Bytes::copy_from_slice(value.as_bytes())),
        headers: Vec::new(),
        timestamp_ms,
    };
    encode_batch(&[record], 1).unwrap()
}

#[test]
fn builder_refuses_bad_chunks_and_stays_usable() {
    let mut builder = WalObjectBuilder::new();
    let first = builder.add_chunk(1, 0, [batch("a", 1)]).unwrap();
    assert_eq!(first.offset, 8);
    let len = builder.len();

    let dup = builder.add_chunk(1, 0, [batch("b", 2)]).unwrap_err();
    assert!(
        matches!(
            dup,
            WalObjectError::DuplicateChunk {
                topic_id: 1,
                partition: 0
            }
        ),
        "{dup}"
    );
    let empty = builder.add_chunk(1, 1, Vec::<Bytes>::new()).unwrap_err();
    assert!(
        matches!(empty, WalObjectError::EmptyChunk { .. }),
        "{empty}"
    );
    // A good batch followed by garbage: nothing of the chunk may remain.
    let bad = builder
        .add_chunk(1, 2, [batch("c", 3), Bytes::from_static(b"junk")])
        .unwrap_err();
    assert!(
        matches!(bad, WalObjectError::InvalidBatches { partition: 2, .. }),
        "{bad}"
    );
    assert_eq!(builder.len(), len);
    assert_eq!(builder.chunk_count(), 1);

    builder.add_chunk(1, 2, [batch("d", 4)]).unwrap();
    let (object, entries) = builder.finish();
    assert_eq!(decode_footer(&object).unwrap(), entries);
    assert_eq!(entries.len(), 2);
}

#[test]
fn empty_objects_are_valid() {
    let (object, entries) = WalObjectBuilder::new().finish();
    assert!(entries.is_empty());
    assert_eq!(object.len(), 8 + 4 + TRAILER_LEN);
    assert!(decode_footer(&object).unwrap().is_empty());
}

/// An object whose footer lists `entries` over a chunk area of `area` zero
/// bytes, with a correct CRC, so the entry checks themselves are exercised.
fn object_with_footer(area: usize, entries: &[ChunkEntry]) -> Vec<u8> {
    let mut out = b"STRW\0\x01\0\0".to_vec();
    out.resize(8 + area, 0);
    let footer_offset = out.len();
    out.put_u32(entries.len() as u32);
    for e in entries {
        out.put_u128(e.topic_id);
        out.put_u32(e.partition);
        out.put_u64(e.offset);
        out.put_u32(e.len);
        out.put_u32(e.record_count);
        out.put_u32(e.batch_count);
        out.put_i64(e.first_timestamp_ms);
        out.put_i64(e.max_timestamp_ms);
    }
    let crc = crc32c::crc32c(&out[footer_offset..]);
    let footer_len = (out.len() - footer_offset) as u32;
    out.put_u64(footer_offset as u64);
    out.put_u32(footer_len);
    out.put_u32(crc);
    out.put_slice(b"STRW");
    out
}

fn entry(partition: u32, offset: u64, len: u32) -> ChunkEntry {
    ChunkEntry {
        topic_id: 9,
        partition,
        offset,
        len,
        record_count: 1,
        batch_count: 1,
        first_timestamp_ms: 0,
        max_timestamp_ms: 0,
    }
}

fn footer_error(area: usize, entries: &[ChunkEntry]) -> String {
    decode_footer(&object_with_footer(area, entries))
        .unwrap_err()
        .to_string()
}

#[test]
fn decoder_names_what_is_wrong() {
    assert_eq!(
        decode_footer(&[0; 12]).unwrap_err().to_string(),
        "wal object is truncated: 12 bytes, the smallest wal object is 32"
    );
    assert_eq!(
        decode_trailer(&[0; 12], 100).unwrap_err().to_string(),
        "wal object is truncated: 12 bytes, a trailer needs 20"
    );
    let good = object_with_footer(61, &[entry(0, 8, 61)]);
    assert!(decode_footer(&good).is_ok());

    let mut bad_magic = good.clone();
    bad_magic[0] = b'X';
    assert!(
        decode_footer(&bad_magic)
            .unwrap_err()
            .to_string()
            .contains("header magic is \"XTRW\"")
    );
    let mut version = good.clone();
    version[5] = 2;
    assert!(
        decode_footer(&version)
            .unwrap_err()
            .to_string()
            .contains("version 2 is not supported")
    );
    let mut footer_byte = good.clone();
    footer_byte[8 + 61 + 5] ^= 1;
    assert!(
        decode_footer(&footer_byte)
            .unwrap_err()
            .to_string()
            .contains("crc-32c")
    );
    let mut trailer_offset = good.clone();
    let at = good.len() - TRAILER_LEN + 7;
    trailer_offset[at] ^= 1;
    assert!(
        decode_footer(&trailer_offset)
            .unwrap_err()
            .to_string()
            .contains("out of bounds")
    );

    assert!(footer_error(61, &[entry(0, 8, 62)]).contains("outside the chunk area 8..69"));
    assert!(footer_error(61, &[entry(0, 0, 61)]).contains("outside the chunk area"));
    assert!(footer_error(61, &[entry(0, u64::MAX, 61)]).contains("outside the chunk area"));
    assert!(footer_error(200, &[entry(0, 8, 61), entry(1, 68, 61)]).contains("overlap"));
    assert!(
        footer_error(200, &[entry(0, 8, 61), entry(0, 69, 61)]).contains("more than one chunk")
    );
    let mut no_batches = entry(0, 8, 61);
    no_batches.batch_count = 0;
    assert!(footer_error(61, &[no_batches]).contains("no batches"));
    let mut too_many = entry(0, 8, 61);
    (too_many.record_count, too_many.batch_count) = (2, 2);
    assert!(footer_error(61, &[too_many]).contains("2 batches in 61 bytes"));
}

#[test]
fn footer_count_must_match_its_length() {
    // Claim a billion entries in a footer of one: must not allocate for them.
    let mut object = object_with_footer(61, &[entry(0, 8, 61)]);
    let footer = 8 + 61;
    object[footer..footer + 4].copy_from_slice(&1_000_000_000u32.to_be_bytes());
    let crc = crc32c::crc32c(&object[footer..object.len() - TRAILER_LEN]);
    let at = object.len() - 8;
    object[at..at + 4].copy_from_slice(&crc.to_be_bytes());
    let err = decode_footer(&object).unwrap_err();
    assert!(
        matches!(
            err,
            WalObjectError::ChunkCountMismatch {
                count: 1_000_000_000,
                ..
            }
        ),
        "{err}"
    );
}
