//! The batcher over an in-memory log: flushes whose objects are durable
//! together commit together, and offsets still follow the order calls were
//! submitted in.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use stratus_format::batch::{RecordInput, encode_batch};
use stratus_meta::memory::MemoryMetaStore;
use stratus_storage::log::{AppendBatch, Log, LogConfig};
use stratus_storage::topic::TopicConfig;
use stratus_tier::open_tier;

use super::{Batcher, BatcherSettings};
use crate::produce::admit::{Admission, InflightBudget};

/// `len` bytes zstd cannot shrink much (xorshift), different per `seed`.
fn noise(seed: u64, len: usize) -> Bytes {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

fn batch(topic_id: u128, value: Bytes) -> AppendBatch {
    let records = vec![RecordInput {
        key: None,
        value: Some(value),
        headers: vec![],
        timestamp_ms: 1,
    }];
    AppendBatch {
        topic_id,
        partition: 0,
        batch: encode_batch(&records, 1).unwrap(),
        record_count: 1,
        first_timestamp_ms: 1,
        max_timestamp_ms: 1,
        producer: None,
    }
}

/// Submits 10 one-record calls to partition 0, each its own flush (a
/// flush is cut at 1 KiB; each call is over that), and returns the base
/// offsets in submit order and the batcher's flush and commit counts.
async fn ten_flushes(max_flushes_per_commit: usize) -> (Vec<i64>, u64, u64) {
    let log = Arc::new(Log::new(
        Arc::new(MemoryMetaStore::new()),
        open_tier("memory://").unwrap(),
        &LogConfig::default(),
    ));
    let topic = log
        .create_topic("t", 1, TopicConfig::default())
        .await
        .unwrap();
    let (batcher, task) = Batcher::start(
        Arc::clone(&log),
        BatcherSettings {
            linger: Duration::from_secs(5),
            flush_bytes: 1024,
            max_concurrent_flushes: 16,
            max_flushes_per_commit,
        },
    );
    let budget = InflightBudget::new(1 << 20);
    let mut tickets = Vec::new();
    for i in 0..10u64 {
        let admitted = budget.admit(1, Admission::Wait).await.unwrap();
        let call = vec![batch(topic.id, noise(i, 2048))];
        tickets.push(batcher.submit(call, admitted).unwrap());
    }
    let mut bases = Vec::new();
    for ticket in tickets {
        let outcomes = ticket.outcome().await.unwrap();
        bases.push(*outcomes[0].as_ref().unwrap());
    }
    let stats = batcher.stats();
    let counts = (
        stats.flushes.load(Ordering::Relaxed),
        stats.commits.load(Ordering::Relaxed),
    );
    batcher.close();
    drop(batcher);
    task.await.unwrap();
    (bases, counts.0, counts.1)
}

#[tokio::test]
async fn durable_flushes_commit_together_in_the_order_they_were_cut() {
    let (bases, flushes, commits) = ten_flushes(16).await;
    assert_eq!(bases, (0..10).collect::<Vec<i64>>());
    assert_eq!(flushes, 10);
    // The writes of an in-memory tier are done by the time the committer
    // looks, so the flushes behind the first share transactions.
    assert!(commits < flushes, "{commits} commits for {flushes} flushes");
}

#[tokio::test]
async fn one_flush_per_commit_when_told() {
    let (bases, flushes, commits) = ten_flushes(1).await;
    assert_eq!(bases, (0..10).collect::<Vec<i64>>());
    assert_eq!((flushes, commits), (10, 10));
}
