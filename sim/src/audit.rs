//! The final audit: once the run is over, reads the raw stores (no faults,
//! no links) for what is really there: every partition's records, its index
//! entries and whether each one's object exists, and the group's committed
//! offsets.

use std::collections::BTreeMap;
use std::sync::Arc;

use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use stratus_storage::group::{GroupLimits, Groups};
use stratus_storage::log::{Log, LogConfig};
use stratus_storage::topic::TopicRecord;

use crate::member::GROUP;
use crate::stores::Stores;

/// Most index entries of one partition the audit lists.
const MAX_ENTRIES: usize = 1 << 20;

/// One partition as the stores hold it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartitionLog {
    pub log_start: i64,
    pub high_watermark: i64,
    /// Every readable record: (offset, value).
    pub records: Vec<(i64, String)>,
}

/// What the stores hold at the end of a run.
#[derive(Debug, Clone, Default)]
pub struct FinalState {
    pub partitions: BTreeMap<u32, PartitionLog>,
    /// The group's committed offset per partition.
    pub committed: BTreeMap<u32, i64>,
    /// Index entries naming objects the tier does not have; reads that fail.
    pub problems: Vec<String>,
}

pub async fn audit(stores: &Stores, topic: &TopicRecord) -> FinalState {
    let meta = Arc::new(stores.raw_meta.clone());
    let log = Log::new(
        meta.clone(),
        Arc::clone(&stores.raw_tier),
        &LogConfig::default(),
    );
    let mut state = FinalState::default();
    for partition in 0..topic.partitions {
        let mut part = PartitionLog::default();
        match log.partition_state(topic, partition).await {
            Ok(s) => {
                part.log_start = s.log_start_offset;
                part.high_watermark = s.high_watermark;
            }
            Err(e) => state
                .problems
                .push(format!("partition {partition}: cannot read its state: {e}")),
        }
        let mut at = part.log_start;
        while at < part.high_watermark {
            match log.read(topic, partition, at, 1 << 20).await {
                Ok(read) => {
                    for r in &read.records {
                        let value = r
                            .value
                            .as_ref()
                            .map(|v| String::from_utf8_lossy(v).into_owned())
                            .unwrap_or_default();
                        part.records.push((r.offset, value));
                    }
                    if read.next_offset <= at {
                        state.problems.push(format!(
                            "partition {partition}: a read at {at} made no progress"
                        ));
                        break;
                    }
                    at = read.next_offset;
                }
                Err(e) => {
                    state.problems.push(format!(
                        "partition {partition}: the committed offset {at} is unreadable: {e}"
                    ));
                    break;
                }
            }
        }
        check_index(stores.raw_tier.as_ref(), &log, topic, partition, &mut state).await;
        state.partitions.insert(partition, part);
    }
    let groups = Groups::new(meta, log.keys().clone(), GroupLimits::default());
    match groups
        .committed(GROUP, std::slice::from_ref(&topic.name))
        .await
    {
        Ok(all) => {
            for c in all {
                state.committed.insert(c.partition, c.record.offset);
            }
        }
        Err(e) => state
            .problems
            .push(format!("cannot read the group's committed offsets: {e}")),
    }
    state
}

/// No index entry outlives its object, and the entries tile the offsets.
async fn check_index(
    tier: &dyn ObjectStore,
    log: &Log,
    topic: &TopicRecord,
    partition: u32,
    state: &mut FinalState,
) {
    let entries = match log.index_entries(topic.id, partition, MAX_ENTRIES).await {
        Ok(entries) => entries,
        Err(e) => {
            state
                .problems
                .push(format!("partition {partition}: cannot list its index: {e}"));
            return;
        }
    };
    for pair in entries.windows(2) {
        if pair[0].end_offset() != pair[1].base_offset {
            state.problems.push(format!(
                "partition {partition}: index entries leave a gap or overlap: one ends at {}, the next starts at {}",
                pair[0].end_offset(),
                pair[1].base_offset
            ));
        }
    }
    for entry in &entries {
        if tier
            .head(&Path::from(entry.object_key.as_str()))
            .await
            .is_err()
        {
            state.problems.push(format!(
                "partition {partition}: the index entry for offsets {}..{} names {:?}, which the object store does not have",
                entry.base_offset,
                entry.end_offset(),
                entry.object_key
            ));
        }
    }
}
