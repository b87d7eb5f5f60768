//! Retention: `retention.ms` and `retention.bytes` move the log start over
//! whole chunks, reads below it fail with the earliest offset named, and the
//! dropped objects are deleted.

mod common;

use common::{Fixture, eager_config, noise, record, settle, summary};
use stratus_compactor::clock::Clock;
use stratus_format::batch::RecordInput;
use stratus_storage::log::{DeleteRecordsTo, LogError, OffsetQuery, TierKind};
use stratus_storage::topic::{CleanupPolicy, TopicConfig, TopicRecord};

const RETENTION_MS: i64 = 60_000;

/// `flushes` WAL objects of `per_flush` records each (about 250 bytes
/// apiece), stamped from `timestamp_ms` on, into `partition`.
async fn produce_flushes(
    fx: &Fixture,
    topic: &TopicRecord,
    partition: u32,
    flushes: usize,
    per_flush: usize,
    timestamp_ms: i64,
) {
    for flush in 0..flushes {
        let records: Vec<RecordInput> = (0..per_flush)
            .map(|i| {
                let n = (flush * per_flush + i) as i64;
                let value = noise((timestamp_ms + n) as u64, 250);
                record(&format!("k{n}"), Some(&value), timestamp_ms + n)
            })
            .collect();
        fx.produce(topic, &[(partition, records)]).await;
    }
}

#[tokio::test]
async fn retention_ms_drops_old_chunks_and_moves_the_log_start() {
    let fx = Fixture::new();
    fx.run_ahead_of_wall_clock();
    let config = TopicConfig {
        retention_ms: RETENTION_MS,
        ..TopicConfig::default()
    };
    let topic = fx.topic("aging", 1, config).await;
    let compactor = fx.compactor(eager_config());
    let t0 = fx.clock.now_ms();

    produce_flushes(&fx, &topic, 0, 6, 4, t0).await;
    settle(&fx, &compactor).await;
    let old_entries = fx.entries(&topic, 0).await;
    assert!(
        old_entries.iter().all(|e| e.tier == TierKind::Segment),
        "the old records should be in segments before they age out"
    );
    let old_segments: Vec<String> = old_entries.iter().map(|e| e.object_key.clone()).collect();

    // Newer records, half a retention period later.
    fx.clock.set_ms(t0 + RETENTION_MS / 2);
    let first_newer = fx
        .log
        .partition_state(&topic, 0)
        .await
        .unwrap()
        .high_watermark;
    produce_flushes(&fx, &topic, 0, 3, 4, t0 + RETENTION_MS / 2).await;
    let newer = summary(&fx.read_from(&topic, 0, first_newer).await);
    assert_eq!(newer.len(), 12);

    // Past retention for the old records (stamped t0..t0+24) only.
    fx.clock.set_ms(t0 + RETENTION_MS + 10_000);
    let trim_pass = compactor.run_pass().await.unwrap();
    assert!(trim_pass.errors.is_empty(), "{:?}", trim_pass.errors);
    assert!(trim_pass.retention_trims > 0, "{trim_pass:?}");

    let state = fx.log.partition_state(&topic, 0).await.unwrap();
    assert_eq!(
        state.log_start_offset, first_newer,
        "the log start must move to the first newer chunk, exactly"
    );
    for below in [0, first_newer - 1] {
        match fx.log.read(&topic, 0, below, 1024).await {
            Err(e @ LogError::OffsetOutOfRange { log_start, .. }) => {
                assert_eq!(log_start, first_newer);
                let message = e.to_string();
                assert!(
                    message.contains(&format!("valid offsets are {first_newer}..=")),
                    "the error should name the earliest offset: {message}"
                );
            }
            other => panic!("reading offset {below} below the log start: {other:?}"),
        }
    }
    assert_eq!(
        fx.log
            .resolve_offset(&topic, 0, OffsetQuery::Earliest)
            .await
            .unwrap(),
        Some((first_newer, None))
    );
    assert_eq!(summary(&fx.read_all(&topic, 0).await), newer);

    let reports = settle(&fx, &compactor).await;
    let deleted: u64 = std::iter::once(&trim_pass)
        .chain(&reports)
        .map(|r| r.objects_deleted)
        .sum();
    assert!(deleted > 0, "dropped objects must be deleted");
    let remaining = fx.object_keys().await;
    for key in &old_segments {
        assert!(
            !remaining.contains(key),
            "segment {key} holds only expired records and should be deleted"
        );
    }
    assert_eq!(summary(&fx.read_all(&topic, 0).await), newer);
    fx.assert_index_sound(&topic).await;
    fx.assert_no_leaks(&[&topic]).await;
}

#[tokio::test]
async fn retention_bytes_keeps_at_least_the_limit_and_no_whole_chunk_more() {
    const RETENTION_BYTES: i64 = 3_000;
    let fx = Fixture::new();
    fx.run_ahead_of_wall_clock();
    let config = TopicConfig {
        retention_bytes: RETENTION_BYTES,
        ..TopicConfig::default()
    };
    let topic = fx.topic("sized", 1, config).await;
    let compactor = fx.compactor(eager_config());
    let t0 = fx.clock.now_ms();

    // About 12 × 2 × 250 bytes: twice the limit and more.
    produce_flushes(&fx, &topic, 0, 12, 2, t0).await;
    let produced = summary(&fx.read_all(&topic, 0).await);
    settle(&fx, &compactor).await;

    let entries = fx.entries(&topic, 0).await;
    let retained: u64 = entries.iter().map(|e| u64::from(e.byte_len)).sum();
    let limit = RETENTION_BYTES as u64;
    assert!(
        retained >= limit,
        "retention.bytes must keep at least {limit} bytes, kept {retained}"
    );
    assert!(
        retained - u64::from(entries[0].byte_len) < limit,
        "dropping the first chunk would still leave {limit} bytes: {retained} retained, \
         first chunk {} bytes",
        entries[0].byte_len
    );
    let state = fx.log.partition_state(&topic, 0).await.unwrap();
    assert!(state.log_start_offset > 0, "nothing was dropped");
    assert_eq!(state.log_start_offset, entries[0].base_offset);

    // What remains is exactly the produced suffix.
    let suffix: Vec<_> = produced
        .into_iter()
        .filter(|r| r.0 >= state.log_start_offset)
        .collect();
    assert_eq!(summary(&fx.read_all(&topic, 0).await), suffix);
    fx.assert_index_sound(&topic).await;
    fx.assert_no_leaks(&[&topic]).await;
}

/// An idempotent producer idle for longer than `producer_expiration` loses
/// its epoch and sequence state (Kafka's `transactional.id.expiration.ms`);
/// one active within it keeps them.
#[tokio::test]
async fn idle_idempotent_producers_expire_after_producer_expiration() {
    use stratus_format::batch::{encode_batch, stamp_producer};
    use stratus_storage::log::{AppendBatch, ProducerBatch};

    const DAY_MS: i64 = 24 * 60 * 60 * 1000;
    let fx = Fixture::new();
    fx.run_ahead_of_wall_clock();
    let keep_forever = TopicConfig {
        retention_ms: -1,
        ..TopicConfig::default()
    };
    let topic = fx.topic("producers", 2, keep_forever).await;
    let (producer_id, epoch) = fx.log.init_producer_id(None).await.unwrap();
    let t0 = fx.clock.now_ms();
    let batch = |partition: u32, base_sequence: i32| {
        let records = vec![record("k", Some("v"), t0)];
        let mut bytes = bytes::BytesMut::from(&encode_batch(&records, 1).unwrap()[..]);
        stamp_producer(&mut bytes, producer_id, epoch, base_sequence).unwrap();
        AppendBatch {
            topic_id: topic.id,
            partition,
            batch: bytes.freeze(),
            record_count: 1,
            first_timestamp_ms: t0,
            max_timestamp_ms: t0,
            producer: Some(ProducerBatch {
                producer_id,
                epoch,
                base_sequence,
            }),
        }
    };
    let written = fx.log.append(&[batch(0, 0), batch(1, 0)]).await.unwrap();
    assert!(written.iter().all(Result::is_ok), "{written:?}");

    let config = stratus_compactor::CompactorConfig {
        producer_expiration: std::time::Duration::from_millis(7 * DAY_MS as u64),
        ..eager_config()
    };
    let compactor = fx.compactor(config);

    // A day later the producer is still known: a retry of its first batch
    // is answered as a duplicate with its original offset.
    fx.clock.advance_ms(DAY_MS);
    let pass = compactor.run_pass().await.unwrap();
    assert_eq!(pass.producers_expired, 0, "{pass:?}");
    let retry = fx.log.append(&[batch(0, 0)]).await.unwrap();
    assert_eq!(retry[0].as_ref().ok(), Some(&0));

    // Past the expiration: its epoch and both partitions' state go.
    fx.clock.advance_ms(7 * DAY_MS);
    let pass = compactor.run_pass().await.unwrap();
    assert!(pass.errors.is_empty(), "{:?}", pass.errors);
    assert_eq!(
        (pass.producers_expired, pass.producer_states_expired),
        (1, 2),
        "{pass:?}"
    );
    let after = fx.log.append(&[batch(0, 1)]).await.unwrap();
    assert!(
        matches!(after[0], Err(LogError::ProducerFenced { .. })),
        "an expired producer's batches are refused as fenced: {after:?}"
    );
    let again = compactor.run_pass().await.unwrap();
    assert_eq!(again.producers_expired, 0, "nothing is left to expire");

    // The records it wrote stay, and a new producer writes as usual.
    assert_eq!(fx.read_all(&topic, 0).await.len(), 1);
    let (fresh, _) = fx.log.init_producer_id(None).await.unwrap();
    assert_ne!(fresh, producer_id, "producer ids are never reused");
}

/// DeleteRecords raises the log start without touching the index: the
/// compactor drops the entries wholly below it (and then their objects)
/// instead of copying unreadable records into segments, whatever the
/// cleanup policy and however long the retention.
#[tokio::test]
async fn entries_below_a_deleted_records_log_start_are_dropped() {
    for policy in [CleanupPolicy::Delete, CleanupPolicy::Compact] {
        let fx = Fixture::new();
        fx.run_ahead_of_wall_clock();
        let config = TopicConfig {
            retention_ms: -1,
            retention_bytes: -1,
            cleanup_policy: policy,
            ..TopicConfig::default()
        };
        let topic = fx.topic("deleted", 1, config).await;
        let compactor = fx.compactor(eager_config());
        let t0 = fx.clock.now_ms();
        // Six WAL chunks of 4 records: offsets 0..24, distinct keys.
        produce_flushes(&fx, &topic, 0, 6, 4, t0).await;
        let before = summary(&fx.read_all(&topic, 0).await);
        let dropped_objects: Vec<String> = fx.entries(&topic, 0).await[..3]
            .iter()
            .map(|e| e.object_key.clone())
            .collect();

        let low = fx
            .log
            .delete_records(&topic, 0, DeleteRecordsTo::Offset(12))
            .await
            .unwrap();
        assert_eq!(low, 12);
        let reports = settle(&fx, &compactor).await;
        assert!(
            reports.iter().all(|r| r.errors.is_empty()),
            "{policy:?}: {reports:?}"
        );

        let entries = fx.entries(&topic, 0).await;
        assert!(
            entries.iter().all(|e| e.base_offset >= 12),
            "{policy:?}: entries below the log start survived: {entries:?}"
        );
        assert_eq!(
            summary(&fx.read_all(&topic, 0).await),
            before[12..].to_vec(),
            "{policy:?}"
        );
        let remaining = fx.object_keys().await;
        for key in &dropped_objects {
            assert!(
                !remaining.contains(key),
                "{policy:?}: {key} holds only deleted records and should be deleted"
            );
        }
        fx.assert_index_sound(&topic).await;
        fx.assert_no_leaks(&[&topic]).await;
    }
}
