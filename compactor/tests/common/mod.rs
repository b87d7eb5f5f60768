//! Shared fixtures: a log over an in-memory metadata store and in-memory
//! tiers, producing, reading everything back, and checking the invariants a
//! compactor must keep.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use stratus_compactor::clock::ManualClock;
use stratus_compactor::{Compactor, CompactorConfig};
use stratus_format::batch::{Header, RecordInput, StoredRecord, encode_batch};
use stratus_meta::memory::MemoryMetaStore;
use stratus_storage::log::{AppendBatch, IndexEntry, Log, LogConfig};
use stratus_storage::topic::{TopicConfig, TopicRecord};

pub struct Fixture {
    pub log: Arc<Log>,
    pub wal: Arc<dyn ObjectStore>,
    pub segments: Arc<dyn ObjectStore>,
    pub clock: ManualClock,
}

impl Fixture {
    /// Separate WAL and segment tiers, as in AWS (S3 Express and S3 Standard).
    pub fn new() -> Self {
        let wal: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let segments: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let log = Log::new(
            Arc::new(MemoryMetaStore::new()),
            wal.clone(),
            &LogConfig {
                cluster: "test".into(),
                chunk_cache_bytes: 1024 * 1024,
                max_chunks_per_read: 1_000_000,
            },
        )
        .with_segment_tier(segments.clone());
        Self {
            log: Arc::new(log),
            wal,
            segments,
            clock: ManualClock::new(stratus_storage::log::now_ms()),
        }
    }

    /// A fixture over the given WAL and segment tiers (for instance
    /// in-memory tiers behind a latency wrapper, so jobs overlap).
    pub fn with_tiers(wal: Arc<dyn ObjectStore>, segments: Arc<dyn ObjectStore>) -> Self {
        let log = Log::new(
            Arc::new(MemoryMetaStore::new()),
            wal.clone(),
            &LogConfig {
                cluster: "test".into(),
                chunk_cache_bytes: 1024 * 1024,
                max_chunks_per_read: 1_000_000,
            },
        )
        .with_segment_tier(segments.clone());
        Self {
            log: Arc::new(log),
            wal,
            segments,
            clock: ManualClock::new(stratus_storage::log::now_ms()),
        }
    }

    pub fn compactor(&self, config: CompactorConfig) -> Compactor {
        Compactor::with_clock(self.log.clone(), config, Arc::new(self.clock.clone()))
    }

    pub async fn topic(&self, name: &str, partitions: u32, config: TopicConfig) -> TopicRecord {
        self.log
            .create_topic(name, partitions, config)
            .await
            .unwrap()
    }

    /// Appends one WAL object holding one batch per `(partition, records)`.
    pub async fn produce(&self, topic: &TopicRecord, batches: &[(u32, Vec<RecordInput>)]) {
        let appends: Vec<AppendBatch> = batches
            .iter()
            .map(|(partition, records)| AppendBatch {
                topic_id: topic.id,
                partition: *partition,
                batch: encode_batch(records, 1).unwrap(),
                record_count: records.len() as u32,
                first_timestamp_ms: records.iter().map(|r| r.timestamp_ms).min().unwrap(),
                max_timestamp_ms: records.iter().map(|r| r.timestamp_ms).max().unwrap(),
                producer: None,
            })
            .collect();
        for outcome in self.log.append(&appends).await.unwrap() {
            outcome.unwrap();
        }
    }

    /// Like [`Fixture::produce`], returning the base offset the log acked for
    /// each batch, in input order.
    pub async fn produce_acked(
        &self,
        topic: &TopicRecord,
        batches: &[(u32, Vec<RecordInput>)],
    ) -> Vec<i64> {
        let appends: Vec<AppendBatch> = batches
            .iter()
            .map(|(partition, records)| AppendBatch {
                topic_id: topic.id,
                partition: *partition,
                batch: encode_batch(records, 1).unwrap(),
                record_count: records.len() as u32,
                first_timestamp_ms: records.iter().map(|r| r.timestamp_ms).min().unwrap(),
                max_timestamp_ms: records.iter().map(|r| r.timestamp_ms).max().unwrap(),
                producer: None,
            })
            .collect();
        self.log
            .append(&appends)
            .await
            .unwrap()
            .into_iter()
            .map(Result::unwrap)
            .collect()
    }

    /// WAL object keys carry the wall-clock time of their PUT, and the
    /// compactor ages WAL chunks by comparing that with its own clock. A
    /// fixture clock that falls behind the wall clock (it moves only when
    /// told) makes fresh WAL objects look written in the future, so
    /// `wal_max_age` never comes due. This moves the fixture's clock a minute
    /// ahead, so every WAL object written in the next minute is in its past.
    pub fn run_ahead_of_wall_clock(&self) {
        self.clock.set_ms(stratus_storage::log::now_ms() + 60_000);
    }

    /// Keys of the objects in the WAL tier.
    pub async fn wal_objects(&self) -> Vec<String> {
        let listed: Vec<_> = self.wal.list(None).try_collect().await.unwrap();
        listed.into_iter().map(|m| m.location.to_string()).collect()
    }

    /// Keys of the objects in the segment tier.
    pub async fn segment_objects(&self) -> BTreeSet<String> {
        let listed: Vec<_> = self.segments.list(None).try_collect().await.unwrap();
        listed.into_iter().map(|m| m.location.to_string()).collect()
    }

    /// Every record of a partition from its log start, read in small fetches
    /// so reads cross chunk, block and segment boundaries.
    pub async fn read_all(&self, topic: &TopicRecord, partition: u32) -> Vec<StoredRecord> {
        let state = self.log.partition_state(topic, partition).await.unwrap();
        self.read_from(topic, partition, state.log_start_offset)
            .await
    }

    pub async fn read_from(
        &self,
        topic: &TopicRecord,
        partition: u32,
        mut offset: i64,
    ) -> Vec<StoredRecord> {
        let mut out = Vec::new();
        loop {
            let read = self.log.read(topic, partition, offset, 700).await.unwrap();
            out.extend(read.records);
            if read.next_offset >= read.state.high_watermark {
                return out;
            }
            assert!(
                read.next_offset > offset,
                "a read made no progress at {offset}"
            );
            offset = read.next_offset;
        }
    }

    pub async fn entries(&self, topic: &TopicRecord, partition: u32) -> Vec<IndexEntry> {
        self.log
            .index_entries(topic.id, partition, usize::MAX)
            .await
            .unwrap()
    }

    pub async fn object_keys(&self) -> BTreeSet<String> {
        let mut keys = BTreeSet::new();
        for store in [&self.wal, &self.segments] {
            let listed: Vec<_> = store.list(None).try_collect().await.unwrap();
            keys.extend(listed.into_iter().map(|m| m.location.to_string()));
        }
        keys
    }

    /// Index entries tile `[log start, head)` and every one points at bytes
    /// that exist.
    pub async fn assert_index_sound(&self, topic: &TopicRecord) {
        let objects = self.object_keys().await;
        for partition in 0..topic.partitions {
            let state = self.log.partition_state(topic, partition).await.unwrap();
            let entries = self.entries(topic, partition).await;
            let mut at = state.log_start_offset;
            for entry in &entries {
                assert_eq!(
                    entry.base_offset, at,
                    "partition {partition}: index entries must tile the log: {entries:#?}"
                );
                at = entry.end_offset();
                assert!(
                    objects.contains(&entry.object_key),
                    "partition {partition}: index entry points to missing object {}",
                    entry.object_key
                );
                if entry.byte_len > 0 {
                    let store = self.log.tier(entry.tier);
                    let head = store
                        .head(&Path::from(entry.object_key.as_str()))
                        .await
                        .unwrap();
                    assert!(entry.byte_offset + u64::from(entry.byte_len) <= head.size);
                }
            }
            assert_eq!(
                at, state.high_watermark,
                "partition {partition}: index ends early"
            );
        }
    }

    /// Every stored object is referenced by some index entry of `topics`.
    pub async fn assert_no_leaks(&self, topics: &[&TopicRecord]) {
        let mut referenced = BTreeSet::new();
        for topic in topics {
            for partition in 0..topic.partitions {
                for entry in self.entries(topic, partition).await {
                    referenced.insert(entry.object_key);
                }
            }
        }
        let objects = self.object_keys().await;
        let leaked: Vec<_> = objects.difference(&referenced).collect();
        assert!(leaked.is_empty(), "objects nothing references: {leaked:?}");
    }

    /// Puts an object in the WAL tier that no metadata knows about, as a
    /// gateway killed between its PUT and its commit leaves behind.
    pub async fn put_orphan(&self, written_ms: u64) -> String {
        let key = format!("wal/{}.wal", ulid::Ulid::from_parts(written_ms, 7));
        self.wal
            .put(
                &Path::from(key.as_str()),
                Bytes::from_static(b"orphan").into(),
            )
            .await
            .unwrap();
        key
    }
}

pub fn record(key: &str, value: Option<&str>, timestamp_ms: i64) -> RecordInput {
    RecordInput {
        key: Some(Bytes::copy_from_slice(key.as_bytes())),
        value: value.map(|v| Bytes::copy_from_slice(v.as_bytes())),
        headers: vec![Header {
            key: "h".into(),
            value: Bytes::copy_from_slice(key.as_bytes()),
        }],
        timestamp_ms,
    }
}

/// Settings that make everything due at once: tiny segments and blocks, no
/// waiting for WAL chunks to age, no grace periods.
pub fn eager_config() -> CompactorConfig {
    CompactorConfig {
        segment_bytes: 4 * 1024,
        block_bytes: 1024,
        wal_max_age: std::time::Duration::ZERO,
        merge_fanin: 3,
        object_grace: std::time::Duration::ZERO,
        orphan_grace: std::time::Duration::from_secs(3600),
        orphan_scan_interval: std::time::Duration::ZERO,
        lease_shards: 4,
        ..CompactorConfig::default()
    }
}

/// Records as (offset, key, value, timestamp, headers), for comparison.
pub fn summary(records: &[StoredRecord]) -> Vec<RecordSummary> {
    records
        .iter()
        .map(|r| {
            (
                r.offset,
                r.key.clone(),
                r.value.clone(),
                r.timestamp_ms,
                r.headers.clone(),
            )
        })
        .collect()
}

/// Runs passes (a millisecond apart, so garbage comes due) until one finds
/// nothing to do. Panics if compaction does not settle.
pub async fn settle(fx: &Fixture, compactor: &Compactor) -> Vec<stratus_compactor::PassReport> {
    let mut reports = Vec::new();
    for _ in 0..50 {
        fx.clock.advance_ms(1);
        let report = compactor.run_pass().await.unwrap();
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        let busy = report.wal_rewrites
            + report.merges
            + report.cleanings
            + report.retention_trims
            + report.objects_deleted
            + report.orphans_deleted;
        reports.push(report);
        if busy == 0 {
            return reports;
        }
    }
    panic!(
        "compaction did not settle in 50 passes: {:?}",
        reports.last()
    );
}

/// One record as [`summary`] gives it.
pub type RecordSummary = (i64, Option<Bytes>, Option<Bytes>, i64, Vec<Header>);

/// Every record of every partition of `topic`, summarized, by partition.
pub async fn read_everything(fx: &Fixture, topic: &TopicRecord) -> Vec<Vec<RecordSummary>> {
    let mut out = Vec::new();
    for partition in 0..topic.partitions {
        out.push(summary(&fx.read_all(topic, partition).await));
    }
    out
}

/// Compares partition by partition and names the first difference (records
/// are too long to print whole).
pub fn assert_same_records(after: &[Vec<RecordSummary>], before: &[Vec<RecordSummary>]) {
    assert_eq!(after.len(), before.len(), "partition count changed");
    for (partition, (a, b)) in after.iter().zip(before).enumerate() {
        assert_eq!(
            a.len(),
            b.len(),
            "partition {partition}: record count changed"
        );
        for (x, y) in a.iter().zip(b) {
            assert!(
                x == y,
                "partition {partition}: record at offset {} changed",
                y.0
            );
        }
    }
}

/// A value of `len` bytes that zstd cannot shrink much (hex of an LCG), so
/// sizes in tests stay what they say.
pub fn noise(seed: u64, len: usize) -> String {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    let mut out = String::with_capacity(len);
    while out.len() < len {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        out.push_str(&format!("{:016x}", state >> 1));
    }
    out.truncate(len);
    out
}
