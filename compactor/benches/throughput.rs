//! Compaction throughput: WAL objects (as gateways write them: 16 partitions
//! per object, 1 KiB records) into segments, on the durable file tier with
//! the embedded metadata store, next to a baseline in the same run: copying
//! the same objects with one GET and one PUT each, which is the floor any
//! compactor pays.
//!
//! `cargo bench -p stratus-compactor --bench throughput [-- MIB]` (default 256).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use stratus_compactor::{Compactor, CompactorConfig};
use stratus_format::batch::{RecordInput, encode_batch};
use stratus_meta::redb_store::RedbMetaStore;
use stratus_storage::log::{AppendBatch, Log, LogConfig};
use stratus_storage::topic::TopicConfig;
use stratus_tier::{OpCounts, Operation, RetryConfig, file_url, layer, open_tier};

const PARTITIONS: u32 = 16;
const RECORD_BYTES: usize = 1024;
/// Records per partition per WAL object: 16 × 256 × 1 KiB = 4 MiB objects,
/// the gateway's default flush size.
const RECORDS_PER_CHUNK: usize = 256;

fn main() {
    let mib: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(256);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(mib));
}

async fn run(mib: usize) {
    let dir = tempfile::tempdir().unwrap();
    let base = open_tier(&file_url(&dir.path().join("tier"))).unwrap();
    let tier = layer(base, RetryConfig::default());
    let meta = Arc::new(RedbMetaStore::open(&dir.path().join("meta.redb")).unwrap());
    let log = Arc::new(Log::new(meta, tier.store.clone(), &LogConfig::default()));
    let topic = log
        .create_topic("bench", PARTITIONS, TopicConfig::default())
        .await
        .unwrap();

    let objects = mib * 1024 * 1024 / (PARTITIONS as usize * RECORDS_PER_CHUNK * RECORD_BYTES);
    let now = stratus_storage::log::now_ms();
    // Half random, half repetitive: about 50% compressible, like the load tests.
    let records: Vec<RecordInput> = (0..RECORDS_PER_CHUNK)
        .map(|i| RecordInput {
            key: Some(Bytes::from(format!("key-{i}"))),
            value: Some(Bytes::from(
                (0..RECORD_BYTES)
                    .map(|j| {
                        if j < RECORD_BYTES / 2 {
                            rand::random()
                        } else {
                            b'x'
                        }
                    })
                    .collect::<Vec<u8>>(),
            )),
            headers: Vec::new(),
            timestamp_ms: now,
        })
        .collect();
    let batch = encode_batch(&records, 1).unwrap();
    let appends: Vec<AppendBatch> = (0..PARTITIONS)
        .map(|partition| AppendBatch {
            topic_id: topic.id,
            partition,
            batch: batch.clone(),
            record_count: RECORDS_PER_CHUNK as u32,
            first_timestamp_ms: now,
            max_timestamp_ms: now,
            producer: None,
        })
        .collect();
    for _ in 0..objects {
        log.append(&appends).await.unwrap();
    }
    let wal_keys: Vec<Path> = tier
        .store
        .list(Some(&Path::from("wal/")))
        .map_ok(|m| m.location)
        .try_collect()
        .await
        .unwrap();
    let stored = (wal_keys.len() * batch.len() * PARTITIONS as usize) as f64;
    let raw = (objects * PARTITIONS as usize * RECORDS_PER_CHUNK * RECORD_BYTES) as f64;
    println!(
        "{objects} WAL objects, {:.0} MiB of records ({:.0} MiB stored, zstd level 1)",
        raw / 1048576.0,
        stored / 1048576.0
    );

    let started = Instant::now();
    for key in &wal_keys {
        let bytes = tier.store.get(key).await.unwrap().bytes().await.unwrap();
        let copy = Path::from(format!("copy/{key}"));
        tier.store
            .put(&copy, PutPayload::from(bytes))
            .await
            .unwrap();
    }
    report(
        "baseline: GET + PUT each WAL object",
        raw,
        stored,
        started.elapsed(),
    );

    let before = tier.counters.snapshot();
    let compactor = Compactor::new(
        log.clone(),
        CompactorConfig {
            wal_max_age: Duration::ZERO,
            object_grace: Duration::ZERO,
            ..CompactorConfig::default()
        },
    );
    let started = Instant::now();
    let mut passes = 0;
    loop {
        passes += 1;
        let pass = compactor.run_pass().await.unwrap();
        assert!(pass.errors.is_empty(), "{:?}", pass.errors);
        if pass.wal_rewrites + pass.merges == 0 {
            break;
        }
    }
    let took = started.elapsed();
    report("compactor: WAL objects into segments", raw, stored, took);
    let after = tier.counters.snapshot();
    println!(
        "  {passes} passes; object-store requests during compaction: {}",
        serde_json::to_string(&diff(&before, &after)).unwrap()
    );
}

fn report(what: &str, raw_bytes: f64, stored_bytes: f64, took: Duration) {
    let secs = took.as_secs_f64();
    println!(
        "{what:<40} {:>7.1} MB/s of records, {:>7.1} MB/s stored  ({secs:.2} s)",
        raw_bytes / 1e6 / secs,
        stored_bytes / 1e6 / secs,
    );
}

fn diff(before: &OpCounts, after: &OpCounts) -> BTreeMap<&'static str, u64> {
    Operation::ALL
        .into_iter()
        .map(|op| {
            (
                op.as_str(),
                after.get(op).requests - before.get(op).requests,
            )
        })
        .filter(|(_, n)| *n > 0)
        .collect()
}
