//! Byte snapshots of the persisted formats. Bytes already written to object
//! storage must stay readable forever, so these tests fail on any change to
//! the record encoding, the batch header or the WAL object layout.
//!
//! Snapshots live in `testdata/*.hex`. A missing snapshot is written on a
//! local run (and fails under `CI`); `STRATUS_BLESS=1` rewrites existing ones,
//! which is only right for a format nothing has been written in yet.
//!
//! zstd's output may change between library versions without the format
//! changing, so the batch test compares header fields and the decompressed
//! records, not compressed bytes; the WAL object test builds from the
//! committed batch bytes, so it pins every byte.

mod codec_support;

use std::io::Write;
use std::path::PathBuf;
use std::{env, fs};

use bytes::Bytes;
use codec_support::expected;
use stratus_format::batch::{Header, RecordInput, decode_chunk, encode_batch};
use stratus_format::wal_object::{ChunkEntry, WalObjectBuilder, decode_footer};

const NEVER_CHANGE: &str = "persisted formats must not change: bytes already in object storage \
    must stay readable. A deliberate change needs a new format version (see docs/formats.md)";

fn fixed_records() -> Vec<RecordInput> {
    let header = |key: &str, value: &'static [u8]| Header {
        key: key.into(),
        value: Bytes::from_static(value),
    };
    vec![
        RecordInput {
            key: Some(Bytes::from_static(b"order-1")),
            value: Some(Bytes::from_static(br#"{"qty":1}"#)),
            headers: vec![header("trace", b"abc"), header("\u{fc}-key", b"")],
            timestamp_ms: 1_700_000_000_000,
        },
        RecordInput {
            key: None,
            value: Some(Bytes::new()),
            headers: Vec::new(),
            timestamp_ms: 1_699_999_999_000,
        },
        RecordInput {
            key: Some(Bytes::new()),
            value: Some(Bytes::from_static(b"third")),
            headers: vec![header("h", &[0, 1, 2])],
            timestamp_ms: 1_700_000_000_500,
        },
    ]
}

#[test]
fn record_batch_format_is_pinned() {
    let records = fixed_records();
    let fresh = encode_batch(&records, 1).unwrap();
    let committed = snapshot(
        "batch_v2_zstd_level1.hex",
        "one encode_batch(level 1) of the fixed records",
        &fresh,
    );

    // What was written once must read back the same forever.
    assert_eq!(
        decode_chunk(&committed, 0).unwrap(),
        expected(&records, 0),
        "{NEVER_CHANGE}"
    );

    // Header fields, spelled out, except length and CRC (they depend on zstd's output).
    let head = &fresh[..61];
    assert_eq!(&head[0..8], &0i64.to_be_bytes(), "base offset");
    assert_eq!(
        &head[12..16],
        &(-1i32).to_be_bytes(),
        "partition leader epoch"
    );
    assert_eq!(head[16], 2, "magic");
    assert_eq!(
        &head[21..23],
        &4i16.to_be_bytes(),
        "attributes: zstd, create time"
    );
    assert_eq!(&head[23..27], &2i32.to_be_bytes(), "last offset delta");
    assert_eq!(
        &head[27..35],
        &1_699_999_999_000i64.to_be_bytes(),
        "base timestamp"
    );
    assert_eq!(
        &head[35..43],
        &1_700_000_000_500i64.to_be_bytes(),
        "max timestamp"
    );
    assert_eq!(
        &head[43..57],
        &[0xff; 14],
        "producer id, epoch, base sequence: none"
    );
    assert_eq!(&head[57..61], &3i32.to_be_bytes(), "record count");
    for (range, what) in [
        (0..8, "base offset"),
        (12..17, "epoch and magic"),
        (21..61, "header fields"),
    ] {
        assert_eq!(
            fresh[range.clone()],
            committed[range],
            "batch {what} changed: {NEVER_CHANGE}"
        );
    }
    // The records themselves, uncompressed, byte for byte.
    let inflate = |batch: &[u8]| zstd::bulk::decompress(&batch[61..], 1 << 20).unwrap();
    assert_eq!(
        inflate(&fresh),
        inflate(&committed),
        "record encoding changed: {NEVER_CHANGE}"
    );
}

#[test]
fn wal_object_format_is_pinned() {
    let batch = snapshot(
        "batch_v2_zstd_level1.hex",
        "one encode_batch(level 1) of the fixed records",
        &encode_batch(&fixed_records(), 1).unwrap(),
    );
    let topic_a = 0x0011_2233_4455_6677_8899_aabb_ccdd_eeff;
    let mut builder = WalObjectBuilder::new();
    builder.add_chunk(topic_a, 3, [&batch, &batch]).unwrap();
    builder.add_chunk(1, 0, [&batch]).unwrap();
    let (fresh, entries) = builder.finish();
    let committed = snapshot(
        "wal_object_v1.hex",
        "a wal object: topic 00112233..eeff partition 3 with the fixed batch twice, \
         then topic 1 partition 0 with it once",
        &fresh,
    );
    if let Some(at) = fresh.iter().zip(committed.iter()).position(|(a, b)| a != b) {
        panic!("wal object differs from its snapshot at byte {at}: {NEVER_CHANGE}");
    }
    assert_eq!(
        fresh.len(),
        committed.len(),
        "wal object length changed: {NEVER_CHANGE}"
    );

    let len = batch.len() as u64;
    let chunk = |topic_id, partition, offset, batches: u32| ChunkEntry {
        topic_id,
        partition,
        offset,
        len: (len * u64::from(batches)) as u32,
        record_count: 3 * batches,
        batch_count: batches,
        first_timestamp_ms: 1_699_999_999_000,
        max_timestamp_ms: 1_700_000_000_500,
    };
    let want = vec![chunk(topic_a, 3, 8, 2), chunk(1, 0, 8 + 2 * len, 1)];
    assert_eq!(entries, want);
    assert_eq!(decode_footer(&committed).unwrap(), want, "{NEVER_CHANGE}");
    let tail = &committed[committed.len() - 20..];
    assert_eq!(
        &tail[0..8],
        &(8 + 3 * len).to_be_bytes(),
        "trailer footer offset"
    );
    assert_eq!(
        &tail[8..12],
        &(4u32 + 2 * 56).to_be_bytes(),
        "trailer footer length"
    );
    assert_eq!(&tail[16..], b"STRW", "trailer magic");
    assert_eq!(&committed[..8], b"STRW\x00\x01\x00\x00", "header");
}

/// The committed snapshot `name`, written from `actual` when missing (or when
/// blessing). Under `CI` a missing snapshot is a failure.
fn snapshot(name: &str, what: &str, actual: &[u8]) -> Bytes {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(name);
    let bless = env::var("STRATUS_BLESS").is_ok_and(|v| v == "1");
    if !bless && let Ok(text) = fs::read_to_string(&path) {
        return Bytes::from(parse_hex(&text, &path));
    }
    assert!(
        bless || env::var_os("CI").is_none(),
        "snapshot {} is missing; persisted formats must be pinned: run \
         `STRATUS_BLESS=1 cargo test -p stratus-format --test codec_snapshot` and commit it",
        path.display()
    );
    // Both tests may write the batch snapshot at once: write whole files only.
    let mut file = tempfile::NamedTempFile::new_in(path.parent().unwrap()).unwrap();
    file.write_all(to_hex(what, actual).as_bytes()).unwrap();
    file.persist(&path).unwrap();
    eprintln!("wrote snapshot {}", path.display());
    Bytes::copy_from_slice(actual)
}

fn to_hex(what: &str, bytes: &[u8]) -> String {
    let mut out = format!(
        "# {what}\n# persisted format snapshot: never edit; see format/tests/codec_snapshot.rs\n"
    );
    for (i, line) in bytes.chunks(16).enumerate() {
        let hex: Vec<String> = line.iter().map(|b| format!("{b:02x}")).collect();
        out.push_str(&format!("{:08x}: {}\n", i * 16, hex.join(" ")));
    }
    out
}

fn parse_hex(text: &str, path: &std::path::Path) -> Vec<u8> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or_default();
        let data = line.split_once(':').map_or(line, |(_, data)| data);
        for pair in data.split_whitespace() {
            let byte = u8::from_str_radix(pair, 16);
            out.push(byte.unwrap_or_else(|_| panic!("bad hex {pair:?} in {}", path.display())));
        }
    }
    out
}
