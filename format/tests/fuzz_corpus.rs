//! Replays the fuzz corpora (fuzz/corpus/<target>/: seeds and committed
//! crashes) through the fuzz targets' own checks, which live in
//! fuzz/src/lib.rs and are included here, so the ordinary suite runs every
//! file, and every prefix of it, without cargo-fuzz.
//!
//! `write_seed_corpus` (ignored) rewrites the generated seeds.

mod codec_support;

#[allow(dead_code, unreachable_pub)]
#[path = "../fuzz/src/lib.rs"]
mod checks;

use std::path::PathBuf;

use bytes::Bytes;
use codec_support::{concat, kafka_batch, kafka_records, raw_batch};
use kafka_protocol::records::Compression;
use prost::Message;
use stratus_format::batch::{
    BatchCodec, Header, RecordInput, encode_batch, encode_batch_at_offsets, encode_batch_with,
};
use stratus_format::segment::SegmentBuilder;
use stratus_format::trigger::wire::spec_to_wire;
use stratus_format::trigger::{StartPosition, Target, TriggerSpec};
use stratus_format::wal_object::WalObjectBuilder;

/// A fuzz target's check.
type Check = fn(&[u8]);

/// Each target, its check, and the fewest corpus files it should have.
const TARGETS: [(&str, Check, usize); 4] = [
    ("batch_decode", checks::batch_decode, 12),
    ("wal_object_decode", checks::wal_object_decode, 4),
    ("segment_decode", checks::segment_decode, 4),
    ("trigger_decode", checks::trigger_decode, 6),
];

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

#[test]
fn corpora_replay_without_panics() {
    for (target, check, at_least) in TARGETS {
        let dir = corpus_dir(target);
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).expect("corpus directory") {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            check(&bytes);
            // Every prefix too: truncation anywhere must be a clean error.
            for cut in 0..bytes.len() {
                check(&bytes[..cut]);
            }
            seen += 1;
        }
        assert!(
            seen >= at_least,
            "only {seen} corpus files in {}",
            dir.display()
        );
    }
}

/// Batch seeds start with the target's flags byte (bit 0: fix CRCs; bits
/// 4-7: the offset to read from) and budget byte (times 16 bytes; 255:
/// unbounded).
fn batch_seed(flags: u8, budget: u8, chunk: &[u8]) -> Vec<u8> {
    let mut seed = vec![flags, budget];
    seed.extend_from_slice(chunk);
    seed
}

fn records(n: usize) -> Vec<RecordInput> {
    (0..n)
        .map(|i| RecordInput {
            key: (i % 2 == 0).then(|| Bytes::from(format!("key-{i}"))),
            value: (i != 2).then(|| Bytes::from(format!("value {i} ").repeat(3))),
            headers: vec![Header {
                key: "h".into(),
                value: Bytes::from_static(b"v"),
            }],
            timestamp_ms: 1_700_000_000_000 + (i as i64 % 3) * 10 - 5,
        })
        .collect()
}

/// Snappy framed as the Java client frames it (xerial), in two blocks.
fn xerial(raw: &[u8]) -> Vec<u8> {
    let mut framed = b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01".to_vec();
    for half in raw.chunks(raw.len().div_ceil(2)) {
        let block = snap::raw::Encoder::new().compress_vec(half).unwrap();
        framed.extend_from_slice(&(block.len() as u32).to_be_bytes());
        framed.extend_from_slice(&block);
    }
    framed
}

fn batch_seeds() -> Vec<(String, Vec<u8>)> {
    let three = records(3);
    let mut seeds = Vec::new();
    let codecs = [
        ("none", Compression::None),
        ("gzip", Compression::Gzip),
        ("snappy", Compression::Snappy),
        ("lz4", Compression::Lz4),
        ("zstd", Compression::Zstd),
    ];
    for (name, compression) in codecs {
        let batch = kafka_batch(&kafka_records(&three), compression);
        seeds.push((format!("kafka-{name}"), batch_seed(0, 255, &batch)));
    }
    // The records of the uncompressed batch, framed the xerial way.
    let plain = kafka_batch(&kafka_records(&three), Compression::None);
    let payload = xerial(&plain[61..]);
    let xerial_batch = raw_batch(2, 3, 1_699_999_999_995, 1_700_000_000_005, &payload);
    seeds.push((
        "kafka-snappy-xerial".into(),
        batch_seed(0, 255, &xerial_batch),
    ));
    let ours = encode_batch(&three, 1).unwrap();
    let plain = encode_batch_with(&records(1), BatchCodec::None).unwrap();
    seeds.push(("stratus-zstd".into(), batch_seed(0, 255, &ours)));
    seeds.push(("stratus-none".into(), batch_seed(0, 255, &plain)));
    // A WAL chunk of two batches read from offset 2 with a small budget.
    seeds.push((
        "chunk-from-2-small-budget".into(),
        batch_seed(0x20, 1, &concat(&[ours, plain.clone()])),
    ));
    let compacted: Vec<(i64, RecordInput)> = [5, 7, 10].into_iter().zip(records(3)).collect();
    let segment_batch = encode_batch_at_offsets(&compacted, 1).unwrap();
    seeds.push(("segment-gaps".into(), batch_seed(0, 255, &segment_batch)));
    // Attributes a producer may not set (control, LogAppendTime), CRC fixed.
    let mut control = plain.to_vec();
    control[22] |= 1 << 5;
    seeds.push(("control-crc-fixed".into(), batch_seed(1, 255, &control)));
    let mut append_time = plain.to_vec();
    append_time[22] |= 1 << 3;
    seeds.push((
        "log-append-time-crc-fixed".into(),
        batch_seed(1, 255, &append_time),
    ));
    // Claims that must be refused before anything is allocated.
    let snappy_claim = raw_batch(2, 1, 0, 0, &[0xff, 0xff, 0xff, 0xff, 0x0f]);
    seeds.push((
        "snappy-claims-4gib".into(),
        batch_seed(0, 255, &snappy_claim),
    ));
    let mut zstd_claim = zstd::bulk::compress(&[0u8; 64], 1).unwrap();
    zstd_claim[5] |= 0xff;
    let zstd_claim = raw_batch(4, 1, 0, 0, &zstd_claim);
    seeds.push(("zstd-bad-frame".into(), batch_seed(1, 255, &zstd_claim)));
    let many = raw_batch(0, i32::MAX, 0, 0, &[0; 8]);
    seeds.push(("count-i32-max".into(), batch_seed(0, 255, &many)));
    seeds.push((
        "magic-1".into(),
        batch_seed(0, 255, &{
            let mut b = plain.to_vec();
            b[16] = 1;
            b
        }),
    ));
    seeds
}

fn wal_object_seeds() -> Vec<(String, Vec<u8>)> {
    let ours = encode_batch(&records(2), 1).unwrap();
    let gzip = kafka_batch(&kafka_records(&records(2)), Compression::Gzip);
    let mut builder = WalObjectBuilder::new();
    builder.add_chunk(7, 0, [&ours, &ours]).unwrap();
    builder.add_chunk(7, 1, [&gzip]).unwrap();
    builder.add_chunk(u128::MAX, u32::MAX, [&ours]).unwrap();
    let (three, _) = builder.finish();
    let (empty, _) = WalObjectBuilder::new().finish();
    let mut hostile = empty.to_vec();
    let len = hostile.len();
    hostile[len - 12..len - 8].copy_from_slice(&u32::MAX.to_be_bytes());
    let mut count = empty.to_vec();
    count[8..12].copy_from_slice(&u32::MAX.to_be_bytes());
    vec![
        ("three-chunks".into(), three.to_vec()),
        ("empty".into(), empty.to_vec()),
        ("footer-len-u32-max".into(), hostile),
        ("chunk-count-u32-max".into(), count),
    ]
}

fn segment_seeds() -> Vec<(String, Vec<u8>)> {
    let at = |offsets: &[i64]| {
        let placed: Vec<(i64, RecordInput)> = offsets
            .iter()
            .copied()
            .zip(records(offsets.len()))
            .collect();
        encode_batch_at_offsets(&placed, 1).unwrap()
    };
    let build = |block_bytes: usize, batches: &[Bytes], end: i64| {
        let mut builder = SegmentBuilder::new(9, 4, 100, block_bytes);
        for batch in batches {
            builder.push_batch(batch).unwrap();
        }
        builder.finish(end).unwrap().0.to_vec()
    };
    let batches = [at(&[100, 101]), at(&[103, 106]), at(&[110])];
    let mut offset_max = build(1, &batches[..1], 102);
    let len = offset_max.len();
    offset_max[len - 20..len - 12].copy_from_slice(&u64::MAX.to_be_bytes());
    vec![
        ("block-per-batch".into(), build(1, &batches, 120)),
        ("one-block".into(), build(1 << 20, &batches, 111)),
        ("empty".into(), build(1, &[], 150)),
        ("footer-offset-u64-max".into(), offset_max),
    ]
}

fn trigger_specs() -> Vec<TriggerSpec> {
    let spec = |name: &str, target| TriggerSpec {
        name: name.into(),
        topic: "orders".into(),
        partitions: vec![0, 2],
        target,
        batch_size: 100,
        max_batch_bytes: 1 << 20,
        batching_window_ms: 500,
        start: StartPosition::Earliest,
        max_retries: 3,
        max_record_age_ms: 60_000,
        bisect_on_error: true,
        on_failure_topic: Some("orders-failed".into()),
        created_at_ms: 1_700_000_000_000,
    };
    let lambda = Target::Lambda {
        function_arn: "arn:aws:lambda:us-east-1:123456789012:function:f:live".into(),
        timeout_ms: 30_000,
        endpoint: Some("http://127.0.0.1:4566".into()),
    };
    let local = Target::Local {
        listen: "127.0.0.1:9001".into(),
        timeout_ms: 1_000,
    };
    let webhook = Target::Webhook {
        url: "https://example.com/hook".into(),
        timeout_ms: 5_000,
    };
    let mut forever = spec("forever", local);
    forever.max_retries = -1;
    forever.on_failure_topic = None;
    forever.max_record_age_ms = 0;
    forever.start = StartPosition::Latest;
    let mut invalid = spec("bad batch", webhook.clone());
    invalid.batch_size = 0;
    vec![
        spec("to-lambda", lambda),
        forever,
        spec("hook", webhook),
        invalid,
    ]
}

fn trigger_seeds() -> Vec<(String, Vec<u8>)> {
    let mut seeds = Vec::new();
    for spec in trigger_specs() {
        let name = spec.name.replace(' ', "-");
        let mut json = vec![0];
        json.extend_from_slice(&serde_json::to_vec(&spec).unwrap());
        seeds.push((format!("json-{name}"), json));
        let mut wire = vec![1];
        wire.extend_from_slice(&spec_to_wire(&spec).encode_to_vec());
        seeds.push((format!("wire-{name}"), wire));
    }
    // A message without a target.
    let mut no_target = spec_to_wire(&trigger_specs()[0]);
    no_target.target = None;
    let mut wire = vec![1];
    wire.extend_from_slice(&no_target.encode_to_vec());
    seeds.push(("wire-no-target".into(), wire));
    seeds
}

#[test]
#[ignore = "rewrites fuzz/corpus/*; run when the seeds should change"]
fn write_seed_corpus() {
    let all = [
        ("batch_decode", batch_seeds()),
        ("wal_object_decode", wal_object_seeds()),
        ("segment_decode", segment_seeds()),
        ("trigger_decode", trigger_seeds()),
    ];
    for (target, seeds) in all {
        let dir = corpus_dir(target);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in seeds {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
}
