//! The services other transports (the Kafka listener) call, through
//! `GatewayHandle::core`: the same produce path, fetch path and topic
//! administration gRPC uses, without any wire message.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use stratus_format::batch::{RecordInput, encode_batch, stamp_producer};
use stratus_gateway::{
    Admission, Fetch, FetchPartition, Gateway, GatewayConfig, GatewayCore, GatewayError,
    GatewayHandle, PartitionData, PartitionProduce, Produce, ProduceRecord, ProducerFields,
    QuicConfig,
};
use stratus_meta::memory::MemoryMetaStore;
use stratus_storage::log::{Log, LogConfig, LogError};
use stratus_storage::topic::TopicConfig;

/// A gateway with a topic "events" of `partitions` partitions, and its core.
async fn start_with_events(partitions: u32) -> (GatewayHandle, GatewayCore) {
    let gateway = start().await;
    let core = gateway.core().clone();
    core.topics()
        .create("events", partitions, TopicConfig::default())
        .await
        .unwrap();
    (gateway, core)
}

async fn start() -> GatewayHandle {
    let config = GatewayConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        quic: QuicConfig {
            enabled: false,
            ..QuicConfig::default()
        },
        ..GatewayConfig::default()
    };
    let wal = stratus_tier::open_tier("memory://").unwrap();
    let log = Log::new(Arc::new(MemoryMetaStore::new()), wal, &LogConfig::default());
    Gateway::start(config, Arc::new(log)).await.unwrap()
}

/// A batch as a Kafka producer builds it: base offset 0, its producer
/// fields in the header.
fn kafka_batch(values: &[&str], producer: Option<(i64, i16, i32)>) -> Bytes {
    let records: Vec<RecordInput> = values
        .iter()
        .map(|v| RecordInput {
            key: None,
            value: Some(Bytes::copy_from_slice(v.as_bytes())),
            headers: Vec::new(),
            timestamp_ms: 1_700_000_000_000,
        })
        .collect();
    let mut bytes = BytesMut::from(&encode_batch(&records, 1).unwrap()[..]);
    if let Some((id, epoch, sequence)) = producer {
        stamp_producer(&mut bytes, id, epoch, sequence).unwrap();
    }
    bytes.freeze()
}

/// A fetch of `partitions` with the gateway's byte caps.
fn fetch_of(partitions: Vec<FetchPartition>, max_wait: Duration) -> Fetch {
    Fetch {
        partitions,
        max_bytes: 0,
        min_bytes: 0,
        max_wait,
    }
}

fn batch_call(partition: u32, bytes: Bytes) -> Produce {
    Produce {
        topic: "events".into(),
        partitions: vec![PartitionProduce {
            partition,
            data: PartitionData::Batch(bytes),
            base_sequence: None,
        }],
        unrouted: Vec::new(),
        producer: ProducerFields::BatchHeaders,
    }
}

#[tokio::test]
async fn batches_as_sent_are_acknowledged_with_offsets_and_deduplicated() {
    let (gateway, core) = start_with_events(2).await;
    let (id, epoch) = core.produce().init_producer_id(None).await.unwrap();

    let first = kafka_batch(&["a", "b"], Some((id, epoch, 0)));
    let pending = core
        .produce()
        .submit(batch_call(1, first.clone()), Admission::Wait)
        .await
        .unwrap();
    let acks = pending.acknowledged().await.unwrap();
    assert_eq!((acks[0].partition, acks[0].base_offset), (1, 0));
    assert_eq!(acks[0].record_count, 2);

    // A retry of the same batch gets the same offsets, not a second copy.
    let retry = core
        .produce()
        .submit(batch_call(1, first), Admission::Wait)
        .await
        .unwrap();
    assert_eq!(retry.acknowledged().await.unwrap()[0].base_offset, 0);
    let next = kafka_batch(&["c"], Some((id, epoch, 2)));
    let pending = core
        .produce()
        .submit(batch_call(1, next), Admission::Reject)
        .await
        .unwrap();
    assert_eq!(pending.acknowledged().await.unwrap()[0].base_offset, 2);

    // Records the gateway routes and encodes go through the same path.
    let routed = Produce {
        topic: "events".into(),
        unrouted: vec![ProduceRecord {
            key: Some(Bytes::from_static(b"k")),
            value: Some(Bytes::from_static(b"v")),
            ..ProduceRecord::default()
        }],
        ..Produce::default()
    };
    let pending = core.produce().submit(routed, Admission::Reject).await;
    assert_eq!(pending.unwrap().acknowledged().await.unwrap().len(), 1);
    gateway.shutdown().await;
}

/// A damaged batch is refused as corrupt (Kafka answers CORRUPT_MESSAGE,
/// which clients retry), a malformed one as invalid; neither is written.
#[tokio::test]
async fn a_batch_failing_its_checksum_is_corrupt_not_merely_invalid() {
    let (gateway, core) = start_with_events(1).await;
    let mut damaged = BytesMut::from(&kafka_batch(&["a", "b"], None)[..]);
    let last = damaged.len() - 1;
    damaged[last] ^= 0xff;
    let refused = core
        .produce()
        .submit(batch_call(0, damaged.freeze()), Admission::Reject)
        .await
        .expect_err("a batch with a bad checksum");
    assert!(
        matches!(refused, GatewayError::CorruptBatch { partition: 0, .. }),
        "{refused:?}"
    );
    assert!(refused.to_string().contains("crc-32c"), "{refused}");

    let mut truncated = kafka_batch(&["a"], None);
    truncated.truncate(truncated.len() - 1);
    let refused = core
        .produce()
        .submit(batch_call(0, truncated), Admission::Reject)
        .await
        .expect_err("a truncated batch");
    assert!(
        matches!(refused, GatewayError::InvalidArgument(_)),
        "{refused:?}"
    );
    let state = core.topics().describe("events").await.unwrap();
    let states = core.topics().partition_states(&state).await.unwrap();
    assert_eq!(states[0].1.high_watermark, 0, "nothing was written");
    gateway.shutdown().await;
}

#[tokio::test]
async fn a_fetch_of_many_partitions_waits_for_the_first_commit() {
    let (gateway, core) = start_with_events(2).await;
    let wanted = |partition| FetchPartition {
        topic: "events".into(),
        partition,
        offset: 0,
        max_bytes: 0,
    };
    let fetch = fetch_of(vec![wanted(0), wanted(1)], Duration::from_secs(20));
    let waiting = tokio::spawn({
        let core = core.clone();
        async move { core.fetch().fetch(fetch).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !waiting.is_finished(),
        "both partitions are empty: it waits"
    );
    let pending = core
        .produce()
        .submit(batch_call(1, kafka_batch(&["x"], None)), Admission::Wait)
        .await
        .unwrap();
    pending.acknowledged().await.unwrap();
    let answers = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the commit wakes the fetch")
        .unwrap()
        .unwrap();
    let empty = answers[0].as_ref().unwrap();
    assert!(empty.read.records.is_empty());
    let woken = answers[1].as_ref().unwrap();
    assert_eq!(woken.read.records[0].value.as_deref(), Some(&b"x"[..]));
    assert_eq!(woken.read.state.high_watermark, 1);

    // Kafka clients read the batches as sent, base offsets written in.
    let second = kafka_batch(&["y", "z"], None);
    let pending = core
        .produce()
        .submit(batch_call(1, second.clone()), Admission::Wait)
        .await
        .unwrap();
    assert_eq!(pending.acknowledged().await.unwrap()[0].base_offset, 1);
    let from_one = FetchPartition {
        offset: 1,
        ..wanted(1)
    };
    let batches = fetch_of(vec![from_one], Duration::ZERO);
    let answers = core.fetch().fetch_batches(batches).await.unwrap();
    let read = &answers[0].as_ref().unwrap().read;
    assert_eq!(read.batches.len(), 1, "the batch holding offset 1");
    assert_eq!(read.batches[0][..8], 1i64.to_be_bytes());
    assert_eq!(read.batches[0][8..], second[8..], "otherwise as sent");
    assert_eq!(read.state.high_watermark, 3);

    // One partition's error is its own answer, returned at once.
    let missing = fetch_of(vec![wanted(0), wanted(7)], Duration::from_secs(20));
    let answers = tokio::time::timeout(Duration::from_secs(5), core.fetch().fetch(missing))
        .await
        .unwrap()
        .unwrap();
    assert!(answers[0].is_ok());
    assert!(matches!(
        answers[1],
        Err(GatewayError::Log(LogError::PartitionNotFound { .. }))
    ));
    gateway.shutdown().await;
}

#[tokio::test]
async fn after_shutdown_other_transports_are_told_to_go_elsewhere() {
    let (gateway, core) = start_with_events(1).await;
    gateway.shutdown().await;
    let refused = core
        .produce()
        .submit(batch_call(0, kafka_batch(&["late"], None)), Admission::Wait)
        .await
        .unwrap_err();
    assert!(matches!(refused, GatewayError::ShuttingDown), "{refused}");
}
