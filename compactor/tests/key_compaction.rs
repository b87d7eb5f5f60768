//! Key compaction of a `cleanup.policy=compact` topic: the latest record per
//! key survives at its original offset, reads skip what was removed,
//! tombstones live for `delete.retention.ms`, and a duplicate key lives no
//! longer than `max.compaction.lag.ms`.
//!
//! # How long a duplicate lives
//!
//! A partition is due for cleaning once its oldest uncleaned record is
//! `max.compaction.lag.ms` old (or its uncleaned bytes reach half of it), and
//! a compactor checks every `interval`. So a duplicate that arrives at `T` is
//! gone at the latest by `T + max.compaction.lag.ms + interval` plus the
//! duration of the pass that cleans it. With a pass run at exactly the right
//! moment the bound is sharp: the duplicate survives a pass at
//! `T + lag - 1` and not one at `T + lag`, which is what this test checks.

mod common;

use bytes::Bytes;
use common::{Fixture, eager_config, noise, record, settle};
use stratus_compactor::clock::Clock;
use stratus_format::batch::StoredRecord;
use stratus_storage::log::OffsetQuery;
use stratus_storage::topic::{CleanupPolicy, TopicConfig, TopicRecord};

const LAG_MS: i64 = 1_000;
const DELETE_RETENTION_MS: i64 = 5_000;
const FILLERS: i64 = 20;

/// `(offset, key, value)` of every record from the log start.
async fn contents(fx: &Fixture, topic: &TopicRecord) -> Vec<(i64, String, Option<String>)> {
    fx.read_all(topic, 0).await.iter().map(triple).collect()
}

fn triple(r: &StoredRecord) -> (i64, String, Option<String>) {
    let text = |b: &Bytes| String::from_utf8(b.to_vec()).unwrap();
    (
        r.offset,
        text(r.key.as_ref().unwrap()),
        r.value.as_ref().map(text),
    )
}

fn keyed<'a>(
    records: &'a [(i64, String, Option<String>)],
    key: &str,
) -> Vec<&'a (i64, String, Option<String>)> {
    records.iter().filter(|r| r.1 == key).collect()
}

fn v(s: &str) -> Option<String> {
    Some(s.to_owned())
}

#[tokio::test]
async fn only_the_latest_record_per_key_survives_within_the_lag() {
    let fx = Fixture::new();
    // WAL object keys carry the wall-clock time and a chunk counts as
    // written at the earlier of that and its first timestamp. An hour behind
    // the wall clock, the lag is measured from record timestamps alone, so
    // the test decides exactly when a record arrived. (WAL chunks then never
    // look old enough for `wal_max_age`; cleaning moves them to segments.)
    fx.clock
        .set_ms(stratus_storage::log::now_ms() - 60 * 60 * 1000);
    let config = TopicConfig {
        cleanup_policy: CleanupPolicy::Compact,
        max_compaction_lag_ms: LAG_MS,
        delete_retention_ms: DELETE_RETENTION_MS,
        ..TopicConfig::default()
    };
    let topic = fx.topic("kv", 1, config).await;
    let compactor = fx.compactor(eager_config());
    let t0 = fx.clock.now_ms();

    // Offsets 0..5, each stamped t0 + offset, over four flushes; then unique
    // filler keys at 5..25 so the cleaned part of the log outweighs one
    // small duplicate (the dirty ratio stays below one half).
    fx.produce(&topic, &[(0, vec![record("k1", Some("v1"), t0)])])
        .await;
    fx.produce(
        &topic,
        &[(
            0,
            vec![
                record("k2", Some("v1"), t0 + 1),
                record("k1", Some("v2"), t0 + 2),
            ],
        )],
    )
    .await;
    fx.produce(&topic, &[(0, vec![record("k2", None, t0 + 3)])])
        .await;
    fx.produce(&topic, &[(0, vec![record("k3", Some("v1"), t0 + 4)])])
        .await;
    let fillers = (0..FILLERS)
        .map(|i| {
            let value = noise(i as u64, 100);
            record(&format!("f{i:02}"), Some(&value), t0 + 5 + i)
        })
        .collect();
    fx.produce(&topic, &[(0, fillers)]).await;
    let tombstone_ms = t0 + 3;

    // A never-cleaned partition is all dirty, so it is cleaned at once.
    let reports = settle(&fx, &compactor).await;
    assert!(reports.iter().any(|r| r.cleanings > 0), "{reports:?}");
    let cleaned = contents(&fx, &topic).await;
    assert_eq!(
        cleaned[..3],
        [
            (2, "k1".to_owned(), v("v2")),
            (3, "k2".to_owned(), None),
            (4, "k3".to_owned(), v("v1")),
        ],
        "the latest record per key, at its original offset, tombstone included"
    );
    assert_eq!(cleaned.len(), 3 + FILLERS as usize);
    assert!(cleaned[3..].iter().zip(5..).all(|(r, o)| r.0 == o));
    // Reading where records were removed returns the next survivor.
    let from_zero = fx.log.read(&topic, 0, 0, 1 << 20).await.unwrap();
    assert_eq!(from_zero.records.first().map(|r| r.offset), Some(2));
    assert_eq!(
        fx.read_from(&topic, 0, 1).await.first().map(|r| r.offset),
        Some(2)
    );
    fx.assert_index_sound(&topic).await;

    // One small duplicate of k3 at T (later than every earlier timestamp):
    // kept through a pass at T + lag - 1.
    let t = t0 + 100;
    fx.clock.set_ms(t);
    let duplicate_offset = fx
        .log
        .partition_state(&topic, 0)
        .await
        .unwrap()
        .high_watermark;
    fx.produce(&topic, &[(0, vec![record("k3", Some("v2"), t)])])
        .await;
    fx.clock.set_ms(t + LAG_MS - 1);
    let early = compactor.run_pass().await.unwrap();
    assert!(early.errors.is_empty(), "{:?}", early.errors);
    assert_eq!(early.cleanings, 0, "cleaned before the lag: {early:?}");
    let before_lag = contents(&fx, &topic).await;
    assert_eq!(
        keyed(&before_lag, "k3"),
        [
            &(4, "k3".to_owned(), v("v1")),
            &(duplicate_offset, "k3".to_owned(), v("v2")),
        ]
    );

    // Gone after the first pass at T + lag.
    fx.clock.set_ms(t + LAG_MS);
    let due = compactor.run_pass().await.unwrap();
    assert!(due.errors.is_empty(), "{:?}", due.errors);
    assert_eq!(due.cleanings, 1, "{due:?}");
    let after_lag = contents(&fx, &topic).await;
    assert_eq!(
        keyed(&after_lag, "k3"),
        [&(duplicate_offset, "k3".to_owned(), v("v2"))]
    );
    assert_eq!(keyed(&after_lag, "k1"), [&(2, "k1".to_owned(), v("v2"))]);
    assert_eq!(
        keyed(&after_lag, "k2"),
        [&(3, "k2".to_owned(), None)],
        "the tombstone is younger than delete.retention.ms and must stay"
    );
    assert_eq!(
        fx.read_from(&topic, 0, 4).await.first().map(|r| r.offset),
        Some(5)
    );
    fx.assert_index_sound(&topic).await;

    // ListOffsets by timestamp still answers: a survivor's own timestamp
    // finds it, and a removed record's timestamp finds the next survivor.
    let by_time = |ms| fx.log.resolve_offset(&topic, 0, OffsetQuery::Timestamp(ms));
    assert_eq!(by_time(t0 + 2).await.unwrap(), Some((2, Some(t0 + 2))));
    assert_eq!(by_time(t0).await.unwrap(), Some((2, Some(t0 + 2))));
    assert_eq!(by_time(t0 + 4).await.unwrap(), Some((5, Some(t0 + 5))));
    assert_eq!(by_time(t).await.unwrap(), Some((duplicate_offset, Some(t))));

    // The tombstone lives exactly delete.retention.ms past its timestamp.
    fx.clock.set_ms(tombstone_ms + DELETE_RETENTION_MS - 1);
    let kept = compactor.run_pass().await.unwrap();
    assert!(kept.errors.is_empty(), "{:?}", kept.errors);
    assert_eq!(keyed(&contents(&fx, &topic).await, "k2").len(), 1);
    fx.clock.set_ms(tombstone_ms + DELETE_RETENTION_MS);
    let dropped = compactor.run_pass().await.unwrap();
    assert!(dropped.errors.is_empty(), "{:?}", dropped.errors);
    assert_eq!(
        dropped.cleanings, 1,
        "one cleaning drops a tombstone that has come due: {dropped:?}"
    );
    let final_records = contents(&fx, &topic).await;
    assert!(
        keyed(&final_records, "k2").is_empty(),
        "the tombstone outlived delete.retention.ms"
    );
    assert_eq!(final_records.first().map(|r| r.0), Some(2));
    assert_eq!(
        fx.read_from(&topic, 0, 3).await.first().map(|r| r.offset),
        Some(5)
    );
    assert_eq!(
        fx.log
            .partition_state(&topic, 0)
            .await
            .unwrap()
            .high_watermark,
        duplicate_offset + 1,
        "cleaning never moves the head"
    );

    settle(&fx, &compactor).await;
    assert_eq!(contents(&fx, &topic).await, final_records);
    fx.assert_index_sound(&topic).await;
    fx.assert_no_leaks(&[&topic]).await;
}
