//! Several WAL objects committed in one transaction get offsets in the order
//! given, densely, as if committed one by one.

use std::sync::Arc;

use bytes::Bytes;
use stratus_format::batch::{RecordInput, encode_batch};
use stratus_meta::memory::MemoryMetaStore;
use stratus_storage::log::{AppendBatch, Log, LogConfig};
use stratus_storage::topic::TopicConfig;
use stratus_tier::open_tier;

fn batch(topic_id: u128, partition: u32, values: &[&str]) -> AppendBatch {
    let records: Vec<RecordInput> = values
        .iter()
        .map(|v| RecordInput {
            key: None,
            value: Some(Bytes::copy_from_slice(v.as_bytes())),
            headers: vec![],
            timestamp_ms: 1,
        })
        .collect();
    AppendBatch {
        topic_id,
        partition,
        batch: encode_batch(&records, 1).unwrap(),
        record_count: records.len() as u32,
        first_timestamp_ms: 1,
        max_timestamp_ms: 1,
        producer: None,
    }
}

#[tokio::test]
async fn group_commit_assigns_dense_offsets_in_order() {
    let log = Log::new(
        Arc::new(MemoryMetaStore::new()),
        open_tier("memory://").unwrap(),
        &LogConfig::default(),
    );
    let topic = log
        .create_topic("t", 2, TopicConfig::default())
        .await
        .unwrap();
    let first = vec![batch(topic.id, 0, &["a", "b"]), batch(topic.id, 1, &["x"])];
    let second = vec![batch(topic.id, 0, &["c"])];
    let third = vec![batch(topic.id, 1, &["y", "z"]), batch(topic.id, 0, &["d"])];
    let mut objects = Vec::new();
    for batches in [&first, &second, &third] {
        objects.push((batches.as_slice(), log.write_object(batches).await.unwrap()));
    }
    let outcomes = log.commit_objects(objects).await.unwrap();
    let bases: Vec<Vec<i64>> = outcomes
        .into_iter()
        .map(|o| o.into_iter().map(Result::unwrap).collect())
        .collect();
    assert_eq!(bases, vec![vec![0, 0], vec![2], vec![1, 3]]);

    let read = log.read(&topic, 0, 0, usize::MAX).await.unwrap();
    let values: Vec<&[u8]> = read
        .records
        .iter()
        .map(|r| r.value.as_deref().unwrap_or_default())
        .collect();
    assert_eq!(values, vec![&b"a"[..], b"b", b"c", b"d"]);
    let offsets: Vec<i64> = read.records.iter().map(|r| r.offset).collect();
    assert_eq!(offsets, vec![0, 1, 2, 3]);
    let read = log.read(&topic, 1, 0, usize::MAX).await.unwrap();
    let values: Vec<&[u8]> = read
        .records
        .iter()
        .map(|r| r.value.as_deref().unwrap_or_default())
        .collect();
    assert_eq!(values, vec![&b"x"[..], b"y", b"z"]);
}
