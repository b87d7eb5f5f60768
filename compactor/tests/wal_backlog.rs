//! A backlog of small WAL chunks, more than one index swap may replace (its
//! transaction would exceed the metadata store's size limit), is compacted in
//! several swaps instead of failing on every pass.

mod common;

use std::time::Duration;

use common::{Fixture, record};
use stratus_compactor::CompactorConfig;
use stratus_compactor::clock::Clock;
use stratus_storage::log::TierKind;
use stratus_storage::topic::TopicConfig;

/// About 390 bytes of swap transaction each: 30,000 of them is over the
/// 10 MB limit in one swap.
const CHUNKS: i64 = 30_000;

#[tokio::test]
async fn a_backlog_of_small_wal_chunks_is_compacted_in_bounded_swaps() {
    let f = Fixture::new();
    let topic = f.topic("t", 1, TopicConfig::default()).await;
    let now = f.clock.now_ms();
    for i in 0..CHUNKS {
        f.produce(&topic, &[(0, vec![record("k", Some("v"), now + i)])])
            .await;
    }
    f.clock.advance_ms(60_000);
    let config = CompactorConfig {
        wal_max_age: Duration::ZERO,
        ..CompactorConfig::default()
    };
    let report = f.compactor(config).run_pass().await.unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert!(report.wal_rewrites >= 3, "{report:?}");
    let entries = f.log.index_entries(topic.id, 0, 1_000_000).await.unwrap();
    assert!(entries.iter().all(|e| e.tier == TierKind::Segment));
    assert_eq!(entries.last().unwrap().end_offset(), CHUNKS);
}
