//! Changes to a topic after its creation: more partitions, another
//! configuration, a log start moved by DeleteRecords, and the record with
//! the largest timestamp, over the in-memory metadata store.

use std::sync::Arc;

use bytes::Bytes;
use stratus_format::batch::{RecordInput, encode_batch};
use stratus_meta::memory::MemoryMetaStore;
use stratus_storage::log::{AppendBatch, DeleteRecordsTo, Log, LogConfig, LogError, OffsetQuery};
use stratus_storage::topic::{MAX_PARTITIONS, TopicConfig, TopicRecord, TopicSpecError};
use stratus_tier::open_tier;

fn log() -> Log {
    Log::new(
        Arc::new(MemoryMetaStore::new()),
        open_tier("memory://").unwrap(),
        &LogConfig::default(),
    )
}

/// One batch of records with these timestamps, values `"{partition}-{ts}"`.
fn batch(topic: &TopicRecord, partition: u32, timestamps: &[i64]) -> AppendBatch {
    let records: Vec<RecordInput> = timestamps
        .iter()
        .map(|ts| RecordInput {
            key: None,
            value: Some(Bytes::from(format!("{partition}-{ts}"))),
            headers: vec![],
            timestamp_ms: *ts,
        })
        .collect();
    AppendBatch {
        topic_id: topic.id,
        partition,
        batch: encode_batch(&records, 1).unwrap(),
        record_count: records.len() as u32,
        first_timestamp_ms: timestamps[0],
        max_timestamp_ms: *timestamps.iter().max().unwrap(),
        producer: None,
    }
}

/// Appends each batch as its own WAL object, so each is one chunk.
async fn append(log: &Log, topic: &TopicRecord, partition: u32, chunks: &[&[i64]]) {
    for timestamps in chunks {
        let outcome = log
            .append(&[batch(topic, partition, timestamps)])
            .await
            .unwrap();
        outcome[0].as_ref().unwrap();
    }
}

async fn values(log: &Log, topic: &TopicRecord, partition: u32, from: i64) -> Vec<String> {
    let read = log.read(topic, partition, from, usize::MAX).await.unwrap();
    read.records
        .iter()
        .map(|r| String::from_utf8(r.value.clone().unwrap().to_vec()).unwrap())
        .collect()
}

#[tokio::test]
async fn partitions_grow_and_existing_data_stays() {
    let log = log();
    let topic = log
        .create_topic("t", 2, TopicConfig::default())
        .await
        .unwrap();
    append(&log, &topic, 1, &[&[10, 11]]).await;

    let checked = log.create_partitions("t", 5, true).await.unwrap();
    assert_eq!(checked.partitions, 5);
    assert_eq!(log.topic("t").await.unwrap().partitions, 2, "validate_only");

    let grown = log.create_partitions("t", 5, false).await.unwrap();
    assert_eq!(
        (grown.id, grown.partitions, grown.created_at_ms),
        (topic.id, 5, topic.created_at_ms)
    );
    assert_eq!(log.topic("t").await.unwrap(), grown);
    let offsets = log.partition_offsets(&grown).await.unwrap();
    let next: Vec<i64> = offsets.iter().map(|p| p.next_offset).collect();
    assert_eq!(next, [0, 2, 0, 0, 0]);
    assert_eq!(values(&log, &grown, 1, 0).await, ["1-10", "1-11"]);

    // A new partition takes appends and reads like any other.
    append(&log, &grown, 4, &[&[20]]).await;
    assert_eq!(values(&log, &grown, 4, 0).await, ["4-20"]);
}

#[tokio::test]
async fn partitions_never_shrink_or_pass_the_limit() {
    let log = log();
    log.create_topic("t", 3, TopicConfig::default())
        .await
        .unwrap();
    for requested in [3, 2] {
        let err = log
            .create_partitions("t", requested, false)
            .await
            .unwrap_err();
        let LogError::InvalidSpec(TopicSpecError::PartitionsNotIncreased {
            current,
            requested: asked,
            ..
        }) = &err
        else {
            panic!("{err:?}");
        };
        assert_eq!((*current, *asked), (3, requested));
        assert!(err.to_string().contains("never removed"), "{err}");
    }
    assert!(matches!(
        log.create_partitions("t", MAX_PARTITIONS + 1, true).await,
        Err(LogError::InvalidSpec(TopicSpecError::PartitionCount(_)))
    ));
    assert!(matches!(
        log.create_partitions("gone", 4, false).await,
        Err(LogError::TopicNotFound { .. })
    ));
    assert_eq!(log.topic("t").await.unwrap().partitions, 3);
}

#[tokio::test]
async fn configs_change_under_the_create_path_checks() {
    let log = log();
    let topic = log
        .create_topic("t", 1, TopicConfig::default())
        .await
        .unwrap();
    let shorter = |c: &TopicConfig| {
        Ok::<_, String>(TopicConfig {
            retention_ms: 60_000,
            ..c.clone()
        })
    };
    let checked = log.alter_topic_config("t", true, &shorter).await.unwrap();
    assert_eq!(checked.unwrap().config.retention_ms, 60_000);
    assert_eq!(log.topic("t").await.unwrap(), topic, "validate_only");

    let changed = log
        .alter_topic_config("t", false, &shorter)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(log.topic("t").await.unwrap(), changed);
    assert_eq!(
        (changed.id, changed.partitions, changed.config.retention_ms),
        (topic.id, 1, 60_000)
    );

    // The create path's validator refuses what it would refuse at creation.
    let invalid = |c: &TopicConfig| {
        Ok::<_, String>(TopicConfig {
            max_message_bytes: 0,
            ..c.clone()
        })
    };
    let err = log
        .alter_topic_config("t", false, &invalid)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("max.message.bytes"), "{err}");
    // A refusal of the edit itself is passed back as it was.
    let refuse = |_: &TopicConfig| Err::<TopicConfig, _>("no".to_owned());
    let refused = log.alter_topic_config("t", false, &refuse).await.unwrap();
    assert_eq!(refused, Err("no".to_owned()));
    assert_eq!(log.topic("t").await.unwrap(), changed);
    assert!(matches!(
        log.alter_topic_config("gone", false, &shorter).await,
        Err(LogError::TopicNotFound { .. })
    ));
}

#[tokio::test]
async fn concurrent_changes_of_one_topic_all_apply() {
    let log = log();
    log.create_topic("t", 1, TopicConfig::default())
        .await
        .unwrap();
    let retention = |c: &TopicConfig| {
        Ok::<_, String>(TopicConfig {
            retention_ms: 60_000,
            ..c.clone()
        })
    };
    let size = |c: &TopicConfig| {
        Ok::<_, String>(TopicConfig {
            retention_bytes: 4096,
            ..c.clone()
        })
    };
    let (a, b, c) = tokio::join!(
        log.alter_topic_config("t", false, &retention),
        log.alter_topic_config("t", false, &size),
        log.create_partitions("t", 4, false),
    );
    a.unwrap().unwrap();
    b.unwrap().unwrap();
    c.unwrap();
    let topic = log.topic("t").await.unwrap();
    assert_eq!(
        (
            topic.partitions,
            topic.config.retention_ms,
            topic.config.retention_bytes
        ),
        (4, 60_000, 4096)
    );
}

#[tokio::test]
async fn delete_records_moves_the_log_start_forward_only() {
    let log = log();
    let topic = log
        .create_topic("t", 2, TopicConfig::default())
        .await
        .unwrap();
    append(&log, &topic, 0, &[&[1, 2, 3], &[4, 5, 6], &[7, 8, 9, 10]]).await;

    // Inside a chunk: the records below go, the rest of the chunk stays.
    let start = log
        .delete_records(&topic, 0, DeleteRecordsTo::Offset(4))
        .await
        .unwrap();
    assert_eq!(start, 4);
    assert_eq!(
        values(&log, &topic, 0, 4).await,
        ["0-5", "0-6", "0-7", "0-8", "0-9", "0-10"]
    );
    assert!(matches!(
        log.read(&topic, 0, 3, usize::MAX).await,
        Err(LogError::OffsetOutOfRange { log_start: 4, .. })
    ));
    let earliest = log
        .resolve_offset(&topic, 0, OffsetQuery::Earliest)
        .await
        .unwrap();
    assert_eq!(earliest, Some((4, None)));
    let by_time = log
        .resolve_offset(&topic, 0, OffsetQuery::Timestamp(0))
        .await
        .unwrap();
    assert_eq!(by_time, Some((4, Some(5))));

    // Never backwards; past the high-water mark is out of range.
    let start = log
        .delete_records(&topic, 0, DeleteRecordsTo::Offset(2))
        .await
        .unwrap();
    assert_eq!(start, 4);
    let err = log
        .delete_records(&topic, 0, DeleteRecordsTo::Offset(11))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            LogError::OffsetOutOfRange {
                offset: 11,
                log_start: 4,
                next_offset: 10,
                ..
            }
        ),
        "{err:?}"
    );
    let start = log
        .delete_records(&topic, 0, DeleteRecordsTo::HighWatermark)
        .await
        .unwrap();
    assert_eq!(start, 10);
    assert!(values(&log, &topic, 0, 10).await.is_empty());
    let state = log.partition_state(&topic, 0).await.unwrap();
    assert_eq!((state.log_start_offset, state.high_watermark), (10, 10));

    // Other partitions are untouched; unknown partitions and topics are errors.
    assert_eq!(
        log.partition_state(&topic, 1)
            .await
            .unwrap()
            .log_start_offset,
        0
    );
    assert!(matches!(
        log.delete_records(&topic, 2, DeleteRecordsTo::HighWatermark)
            .await,
        Err(LogError::PartitionNotFound { .. })
    ));
    log.delete_topic("t").await.unwrap();
    assert!(matches!(
        log.delete_records(&topic, 0, DeleteRecordsTo::HighWatermark)
            .await,
        Err(LogError::TopicNotFound { .. })
    ));
}

#[tokio::test]
async fn max_timestamp_is_the_first_record_holding_it() {
    let log = log();
    let topic = log
        .create_topic("t", 2, TopicConfig::default())
        .await
        .unwrap();
    let max = async |log: &Log| {
        log.resolve_offset(&topic, 0, OffsetQuery::MaxTimestamp)
            .await
            .unwrap()
    };
    assert_eq!(max(&log).await, None, "an empty partition has none");
    // Offsets 0..3, 3..5 and 5..6; timestamp 9 twice, first at offset 1.
    append(&log, &topic, 0, &[&[5, 9, 3], &[7, 9], &[2]]).await;
    assert_eq!(max(&log).await, Some((1, Some(9))));

    // Deleted below the log start: the next record holding 9 answers,
    // though the time index still names the first chunk.
    log.delete_records(&topic, 0, DeleteRecordsTo::Offset(2))
        .await
        .unwrap();
    assert_eq!(max(&log).await, Some((4, Some(9))));
    log.delete_records(&topic, 0, DeleteRecordsTo::Offset(5))
        .await
        .unwrap();
    assert_eq!(max(&log).await, Some((5, Some(2))));
    log.delete_records(&topic, 0, DeleteRecordsTo::HighWatermark)
        .await
        .unwrap();
    assert_eq!(max(&log).await, None, "nothing readable");

    // Timestamps that go back: the largest is not the last record.
    append(&log, &topic, 1, &[&[100], &[300, 200], &[50]]).await;
    let max1 = log
        .resolve_offset(&topic, 1, OffsetQuery::MaxTimestamp)
        .await
        .unwrap();
    assert_eq!(max1, Some((1, Some(300))));
    // The chunk the time index names is gone entirely: the rest is scanned.
    log.delete_records(&topic, 1, DeleteRecordsTo::Offset(3))
        .await
        .unwrap();
    let max1 = log
        .resolve_offset(&topic, 1, OffsetQuery::MaxTimestamp)
        .await
        .unwrap();
    assert_eq!(max1, Some((3, Some(50))));
}
