//! The checks after the run: the log as a gateway serves it, and the
//! metadata index against the objects in the bucket.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use stratus_meta::RangeOptions;
use stratus_meta::postgres_store::PostgresMetaStore;
use stratus_proto::v1::consumer_client::ConsumerClient;
use stratus_storage::log::{IndexEntry, Log, LogConfig, TierKind};
use tonic::transport::Channel;

use crate::common::read_all;

/// What the log holds, against what was acknowledged.
#[derive(Debug, Default)]
pub(super) struct LogFigures {
    pub(super) stored: usize,
    /// Stored records no producer saw acknowledged (their call failed).
    pub(super) unacknowledged_stored: usize,
}

/// Reads every partition from offset 0: offsets must be dense, every
/// acknowledged record must be stored exactly once, at its acknowledged
/// offset, and no value may be stored twice.
pub(super) async fn check_log(
    consumer: &mut ConsumerClient<Channel>,
    topic: &str,
    partitions: u32,
    acked: &BTreeMap<(u32, i64), String>,
) -> LogFigures {
    let mut figures = LogFigures::default();
    let mut at: BTreeMap<String, (u32, i64)> = BTreeMap::new();
    for partition in 0..partitions {
        for (i, record) in read_all(consumer, topic, partition)
            .await
            .into_iter()
            .enumerate()
        {
            assert_eq!(
                record.offset, i as i64,
                "offsets of partition {partition} are not dense"
            );
            let value =
                String::from_utf8(record.value.unwrap_or_default().to_vec()).expect("utf-8 values");
            if let Some(first) = at.insert(value.clone(), (partition, record.offset)) {
                panic!(
                    "{value} is stored twice: at {first:?} and {partition}/{}",
                    record.offset
                );
            }
            figures.stored += 1;
            match acked.get(&(partition, record.offset)) {
                Some(expected) => assert_eq!(
                    expected, &value,
                    "partition {partition} offset {} holds another record than acknowledged",
                    record.offset
                ),
                None => figures.unacknowledged_stored += 1,
            }
        }
    }
    for ((partition, offset), value) in acked {
        assert_eq!(
            at.get(value),
            Some(&(*partition, *offset)),
            "acknowledged {value} is not at {partition}/{offset}"
        );
    }
    figures
}

/// Every index entry of every partition of `topic`, read from PostgreSQL in
/// one transaction; each entry's object must be in `listing` (the bucket's
/// keys) under the prefix of its tier. Returns how many entries of each
/// tier were checked.
pub(super) async fn check_index_objects(
    postgres_url: &str,
    topic: &str,
    partitions: u32,
    tier_prefix: impl Fn(TierKind) -> String,
    listing: &BTreeSet<String>,
) -> BTreeMap<&'static str, usize> {
    let meta = Arc::new(
        PostgresMetaStore::open(postgres_url)
            .await
            .expect("open the PostgreSQL metadata"),
    );
    // The log only resolves the topic's id here; it reads no object.
    let log = Log::new(
        meta.clone(),
        Arc::new(object_store::memory::InMemory::new()),
        &LogConfig::default(),
    );
    let id = log.topic(topic).await.expect("topic in metadata").id;
    let mut tx = stratus_meta::MetaStore::begin(meta.as_ref())
        .await
        .expect("begin");
    let mut counts = BTreeMap::new();
    let mut missing = Vec::new();
    for partition in 0..partitions {
        let (begin, end) = log.keys().index_range(id, partition);
        let pairs = tx
            .get_range(&begin, &end, RangeOptions::default())
            .await
            .expect("read the index");
        for (_, value) in pairs {
            let entry = IndexEntry::decode(&value).expect("index entry decodes");
            let (tier, name) = match entry.tier {
                TierKind::Wal => (TierKind::Wal, "wal"),
                TierKind::Segment => (TierKind::Segment, "segment"),
            };
            *counts.entry(name).or_default() += 1;
            let key = format!("{}{}", tier_prefix(tier), entry.object_key);
            if !listing.contains(&key) {
                missing.push(format!(
                    "partition {partition} offsets {}..{} -> {key}",
                    entry.base_offset,
                    entry.end_offset()
                ));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "index entries whose object is not in the bucket:\n  {}",
        missing.join("\n  ")
    );
    counts
}
