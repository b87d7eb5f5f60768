//! A compactor that dies at any failpoint loses nothing: every record reads
//! back the same, no index entry points at a missing object, and a fresh
//! compactor run collects whatever the crashed one left behind.
//!
//! Failpoints are process-global, so one test visits them all in turn.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{Fixture, assert_same_records, eager_config, noise, read_everything, record, settle};
use stratus_compactor::clock::Clock;
use stratus_compactor::failpoint;
use stratus_storage::topic::{TopicConfig, TopicRecord};

const PARTITIONS: u32 = 3;

/// `flushes` WAL objects, each with a batch of three records for every
/// partition.
async fn produce(fx: &Fixture, topic: &TopicRecord, flushes: usize, seed: usize) {
    for flush in 0..flushes {
        let now = fx.clock.now_ms();
        let batches: Vec<_> = (0..PARTITIONS)
            .map(|p| {
                let records = (0..3)
                    .map(|i| {
                        let n = (seed + flush) * 100 + p as usize * 10 + i;
                        record(&format!("k{n}"), Some(&noise(n as u64, 200)), now)
                    })
                    .collect();
                (p, records)
            })
            .collect();
        fx.produce(topic, &batches).await;
    }
}

#[test]
fn a_crash_at_any_failpoint_loses_nothing_and_leaks_nothing() {
    let scenario = fail::FailScenario::setup();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for name in failpoint::ALL {
        runtime.block_on(crash_at(name));
    }
    scenario.teardown();
}

async fn crash_at(name: &'static str) {
    let fx = Fixture::new();
    fx.run_ahead_of_wall_clock();
    let topic = fx.topic("t", PARTITIONS, TopicConfig::default()).await;
    let config = eager_config();

    // A first pass turns WAL chunks into segments and leaves the WAL objects
    // as garbage, due a millisecond later: the delete failpoints need some.
    produce(&fx, &topic, 4, 0).await;
    fx.clock.advance_ms(1);
    let first = fx.compactor(config.clone()).run_pass().await.unwrap();
    assert!(first.errors.is_empty(), "{:?}", first.errors);
    assert!(first.wal_rewrites > 0, "{first:?}");
    // More data, so the crashing pass has WAL chunks to rewrite and small
    // segments to merge.
    produce(&fx, &topic, 4, 10).await;
    let before = read_everything(&fx, &topic).await;

    fx.clock.advance_ms(1);
    fail::cfg(name, "return").unwrap();
    let crashed = fx.compactor(config.clone()).run_pass().await;
    fail::remove(name);
    // Jobs and garbage collection report failures instead of failing the
    // whole pass.
    let crashed = crashed.unwrap();
    let fired = format!("failpoint {name} fired");
    assert!(
        crashed.errors.iter().any(|e| e.contains(&fired)),
        "{name} did not fire: {crashed:?}"
    );
    // Even before recovery, reads are whole.
    assert_same_records(&read_everything(&fx, &topic).await, &before);
    fx.assert_index_sound(&topic).await;
    // The crash left objects behind: an orphan segment, or garbage it did
    // not get to delete.
    let left_behind = unreferenced(&fx, &topic).await;
    assert!(!left_behind.is_empty(), "{name}: nothing to recover from");

    // A fresh compactor run, once what the crash left is past every grace
    // period (orphan_grace is an hour; leases have long expired).
    assert_eq!(config.orphan_grace, Duration::from_secs(3600));
    fx.clock.advance_ms(2 * 60 * 60 * 1000);
    let fresh = fx.compactor(config);
    let reports = settle(&fx, &fresh).await;
    if name == failpoint::AFTER_SEGMENT_PUT {
        let orphans: u64 = reports.iter().map(|r| r.orphans_deleted).sum();
        assert!(
            orphans > 0,
            "the crashed run's segments are orphans to collect"
        );
    }

    assert_same_records(&read_everything(&fx, &topic).await, &before);
    fx.assert_index_sound(&topic).await;
    fx.assert_no_leaks(&[&topic]).await;
    let objects = fx.object_keys().await;
    assert!(left_behind.iter().all(|key| !objects.contains(key)));
}

/// Objects that no index entry of `topic` references.
async fn unreferenced(fx: &Fixture, topic: &TopicRecord) -> BTreeSet<String> {
    let mut objects = fx.object_keys().await;
    for partition in 0..topic.partitions {
        for entry in fx.entries(topic, partition).await {
            objects.remove(&entry.object_key);
        }
    }
    objects
}
