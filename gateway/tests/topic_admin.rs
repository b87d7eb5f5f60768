//! Topic changes through `GatewayCore::topics`, the one admin path every
//! transport calls: the gateway that makes a change uses it at once; another
//! gateway's topic cache catches up within `topic_cache_ttl`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use stratus_gateway::{
    Admission, Fetch, FetchPartition, Gateway, GatewayConfig, GatewayCore, GatewayError,
    GatewayHandle, PartitionData, PartitionProduce, Produce, ProduceRecord, QuicConfig,
};
use stratus_meta::memory::MemoryMetaStore;
use stratus_storage::log::{DeleteRecordsTo, Log, LogConfig, LogError, OffsetQuery};
use stratus_storage::topic::{TopicConfig, TopicSpecError};

const TTL: Duration = Duration::from_millis(300);

async fn start(log: &Arc<Log>) -> (GatewayHandle, GatewayCore) {
    let config = GatewayConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        quic: QuicConfig {
            enabled: false,
            ..QuicConfig::default()
        },
        topic_cache_ttl: TTL,
        ..GatewayConfig::default()
    };
    let gateway = Gateway::start(config, Arc::clone(log)).await.unwrap();
    let core = gateway.core().clone();
    (gateway, core)
}

fn shared_log() -> Arc<Log> {
    let wal = stratus_tier::open_tier("memory://").unwrap();
    Arc::new(Log::new(
        Arc::new(MemoryMetaStore::new()),
        wal,
        &LogConfig::default(),
    ))
}

async fn produce(core: &GatewayCore, partition: u32, value: &[u8]) -> Result<i64, GatewayError> {
    let call = Produce {
        topic: "events".into(),
        partitions: vec![PartitionProduce {
            partition,
            data: PartitionData::Records(vec![ProduceRecord {
                value: Some(Bytes::copy_from_slice(value)),
                ..ProduceRecord::default()
            }]),
            base_sequence: None,
        }],
        ..Produce::default()
    };
    let pending = core.produce().submit(call, Admission::Wait).await?;
    Ok(pending.acknowledged().await?[0].base_offset)
}

async fn fetch_from(
    core: &GatewayCore,
    partition: u32,
    offset: i64,
) -> Result<Vec<Bytes>, GatewayError> {
    let fetch = Fetch {
        partitions: vec![FetchPartition {
            topic: "events".into(),
            partition,
            offset,
            max_bytes: 0,
        }],
        max_bytes: 0,
        min_bytes: 0,
        max_wait: Duration::ZERO,
    };
    let mut answers = core.fetch().fetch(fetch).await?;
    let read = answers.remove(0)?.read;
    Ok(read.records.into_iter().filter_map(|r| r.value).collect())
}

#[tokio::test]
async fn added_partitions_are_used_here_at_once_and_elsewhere_within_the_ttl() {
    let log = shared_log();
    let (a_handle, a) = start(&log).await;
    let (b_handle, b) = start(&log).await;
    a.topics()
        .create("events", 2, TopicConfig::default())
        .await
        .unwrap();
    assert_eq!(produce(&a, 1, b"before").await.unwrap(), 0);
    // B caches the two-partition topic.
    assert_eq!(produce(&b, 1, b"b").await.unwrap(), 1);

    let checked = a
        .topics()
        .create_partitions("events", 4, true)
        .await
        .unwrap();
    assert_eq!(checked.partitions, 4);
    assert!(
        produce(&a, 3, b"no").await.is_err(),
        "validate_only adds nothing"
    );
    let grown = a
        .topics()
        .create_partitions("events", 4, false)
        .await
        .unwrap();
    assert_eq!(grown.partitions, 4);
    assert_eq!(produce(&a, 3, b"new").await.unwrap(), 0);
    assert_eq!(fetch_from(&a, 3, 0).await.unwrap(), [&b"new"[..]]);
    assert_eq!(fetch_from(&a, 1, 0).await.unwrap(), [&b"before"[..], b"b"]);

    // B's cached record is at most one TTL old.
    let stale = produce(&b, 3, b"stale").await.unwrap_err();
    assert!(
        matches!(
            stale,
            GatewayError::Log(LogError::PartitionNotFound { partitions: 2, .. })
        ),
        "{stale}"
    );
    tokio::time::sleep(TTL + Duration::from_millis(50)).await;
    assert_eq!(produce(&b, 3, b"fresh").await.unwrap(), 1);

    let err = a
        .topics()
        .create_partitions("events", 3, false)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            GatewayError::Log(LogError::InvalidSpec(
                TopicSpecError::PartitionsNotIncreased { current: 4, .. }
            ))
        ),
        "{err}"
    );
    a_handle.shutdown().await;
    b_handle.shutdown().await;
}

#[tokio::test]
async fn config_changes_and_deleted_records_apply_at_once() {
    let log = shared_log();
    let (handle, core) = start(&log).await;
    core.topics()
        .create("events", 1, TopicConfig::default())
        .await
        .unwrap();
    produce(&core, 0, &[7; 200]).await.unwrap();
    let small = |c: &TopicConfig| {
        Ok::<_, String>(TopicConfig {
            max_message_bytes: 100,
            ..c.clone()
        })
    };
    let topic = core
        .topics()
        .alter_config("events", false, &small)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(topic.config.max_message_bytes, 100);
    let refused = produce(&core, 0, &[7; 200]).await.unwrap_err();
    assert!(
        matches!(refused, GatewayError::RecordTooLarge { .. }),
        "{refused}"
    );
    for value in [b"a", b"b", b"c"] {
        produce(&core, 0, value).await.unwrap();
    }

    let log_start = core
        .topics()
        .delete_records(&topic, 0, DeleteRecordsTo::Offset(2))
        .await
        .unwrap();
    assert_eq!(log_start, 2);
    assert!(matches!(
        fetch_from(&core, 0, 0).await,
        Err(GatewayError::Log(LogError::OffsetOutOfRange {
            log_start: 2,
            ..
        }))
    ));
    assert_eq!(fetch_from(&core, 0, 2).await.unwrap(), [&b"b"[..], b"c"]);
    let earliest = core
        .topics()
        .resolve_offset(&topic, 0, OffsetQuery::Earliest)
        .await
        .unwrap();
    assert_eq!(earliest, Some((2, None)));
    handle.shutdown().await;
}
