//! Bad input gets a clear error that names the problem, and changes nothing.

use crate::common::{DevServer, create_topic};
use bytes::Bytes;
use stratus_proto::v1::{
    CreateTopicRequest, DescribeTopicRequest, FetchRequest, ListTopicsRequest, PartitionRecords,
    ProduceRequest, Record, TopicConfig,
};
use tonic::Code;

fn records(sizes: &[usize]) -> Vec<Record> {
    sizes
        .iter()
        .map(|n| Record {
            key: None,
            value: Some(Bytes::from(vec![b'x'; *n])),
            headers: vec![],
            timestamp_ms: None,
        })
        .collect()
}

fn to_partition(topic: &str, partition: u32, sizes: &[usize]) -> ProduceRequest {
    ProduceRequest {
        topic: topic.into(),
        partitions: vec![PartitionRecords {
            base_sequence: None,
            partition,
            records: records(sizes),
            record_batch: Default::default(),
        }],
        ..ProduceRequest::default()
    }
}

async fn next_offsets(server: &DevServer, topic: &str) -> Vec<i64> {
    server
        .admin()
        .await
        .describe_topic(DescribeTopicRequest { name: topic.into() })
        .await
        .unwrap()
        .into_inner()
        .topic
        .unwrap()
        .partitions
        .iter()
        .map(|p| p.next_offset)
        .collect()
}

fn assert_status(
    result: Result<impl std::fmt::Debug, tonic::Status>,
    code: Code,
    needles: &[&str],
) {
    let status = result.expect_err("the call should have failed");
    assert_eq!(status.code(), code, "{}", status.message());
    for needle in needles {
        assert!(
            status.message().contains(needle),
            "error {:?} should mention {needle:?}",
            status.message()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_fail_clearly_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let config = TopicConfig {
        max_message_bytes: Some(100),
        ..TopicConfig::default()
    };
    create_topic(&server, "small", 2, Some(config)).await;
    let mut producer = server.producer().await;
    let mut admin = server.admin().await;
    let mut consumer = server.consumer().await;
    producer
        .produce(to_partition("small", 0, &[10, 20]))
        .await
        .unwrap();

    // Unknown topic.
    assert_status(
        producer.produce(to_partition("nope", 0, &[1])).await,
        Code::NotFound,
        &["\"nope\"", "stratus topic create nope"],
    );
    // Partition out of range, on produce and fetch.
    assert_status(
        producer.produce(to_partition("small", 5, &[1])).await,
        Code::NotFound,
        &["partition 5", "0..2"],
    );
    let fetch = |partition, offset| FetchRequest {
        topic: "small".into(),
        partition,
        offset,
        max_bytes: 0,
        max_wait_ms: 0,
    };
    assert_status(
        consumer.fetch(fetch(9, 0)).await,
        Code::NotFound,
        &["partition 9"],
    );
    // A record over max.message.bytes: the whole request is refused.
    assert_status(
        producer.produce(to_partition("small", 0, &[5, 101])).await,
        Code::InvalidArgument,
        &["101 bytes", "max.message.bytes", "100"],
    );
    assert_eq!(
        next_offsets(&server, "small").await,
        vec![2, 0],
        "a refused produce wrote records"
    );
    // Invalid topic names.
    for (name, needle) in [("bad name", "' '"), ("", "empty"), ("..", "reserved")] {
        assert_status(
            admin
                .create_topic(CreateTopicRequest {
                    name: name.into(),
                    partitions: 1,
                    config: None,
                })
                .await,
            Code::InvalidArgument,
            &[needle],
        );
    }
    // Invalid partition counts and settings.
    assert_status(
        admin
            .create_topic(CreateTopicRequest {
                name: "zero".into(),
                partitions: 0,
                config: None,
            })
            .await,
        Code::InvalidArgument,
        &["partitions"],
    );
    assert_status(
        admin
            .create_topic(CreateTopicRequest {
                name: "neg".into(),
                partitions: 1,
                config: Some(TopicConfig {
                    retention_ms: Some(-5),
                    ..TopicConfig::default()
                }),
            })
            .await,
        Code::InvalidArgument,
        &["retention.ms"],
    );
    // Duplicate CreateTopic keeps the original.
    assert_status(
        admin
            .create_topic(CreateTopicRequest {
                name: "small".into(),
                partitions: 5,
                config: None,
            })
            .await,
        Code::AlreadyExists,
        &["\"small\" already exists"],
    );
    assert_eq!(next_offsets(&server, "small").await, vec![2, 0]);
    let topics = admin
        .list_topics(ListTopicsRequest {})
        .await
        .unwrap()
        .into_inner()
        .topics;
    let names: Vec<_> = topics.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        vec!["small"],
        "failed creates must not leave topics behind"
    );
    // Fetch beyond the end names the valid range.
    assert_status(
        consumer.fetch(fetch(0, 3)).await,
        Code::OutOfRange,
        &["offset 3", "valid offsets are 0..=2"],
    );
    // An empty produce.
    assert_status(
        producer
            .produce(ProduceRequest {
                topic: "small".into(),
                ..ProduceRequest::default()
            })
            .await,
        Code::InvalidArgument,
        &["no records"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_wal_object_is_reported_not_served() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    create_topic(&server, "fragile", 1, None).await;
    let mut producer = server.producer().await;
    producer
        .produce(to_partition("fragile", 0, &[50, 60, 70]))
        .await
        .unwrap();
    server.terminate();

    // Flip bytes in the middle of the only WAL object (inside the record batch).
    let wal_dir = dir.path().join("wal").join("wal");
    let object = std::fs::read_dir(&wal_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "wal"))
        .expect("a wal object");
    let mut bytes = std::fs::read(&object).unwrap();
    let middle = bytes.len() / 3;
    for b in &mut bytes[middle..middle + 8] {
        *b ^= 0xff;
    }
    std::fs::write(&object, bytes).unwrap();

    let server = DevServer::start(dir.path());
    let mut consumer = server.consumer().await;
    let result = consumer
        .fetch(FetchRequest {
            topic: "fragile".into(),
            partition: 0,
            offset: 0,
            max_bytes: 0,
            max_wait_ms: 0,
        })
        .await;
    let object_name = object.file_name().unwrap().to_string_lossy().into_owned();
    assert_status(result, Code::DataLoss, &["corrupt", &object_name]);
}
