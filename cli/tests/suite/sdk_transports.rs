//! The SDK end to end against a real `stratus dev`, over gRPC and over QUIC:
//! keyed records with headers from concurrent idempotent producers, read back
//! complete, in order per partition, where murmur2 puts them. And the QUIC
//! transport replacing a lost connection after the gateway restarts.

use std::collections::BTreeMap;

use crate::common::DevServer;
use stratus_proto::partitioner::partition_for_key;
use stratus_sdk::{Client, ConsumerRecord, Offset, ProducerConfig, ProducerRecord, TopicConfig};

const PARTITIONS: u32 = 8;
const PRODUCERS: u64 = 4;
const PER_PRODUCER: u64 = 5_000;

/// Batches in flight per partition: 1 tests the transports' single calls,
/// 5 (the default) their ordered produce streams.
async fn round_trip(url: &str, in_flight: usize) {
    let client = Client::connect(url).await.expect("connect");
    client
        .admin()
        .create_topic("e2e", PARTITIONS, TopicConfig::default())
        .await
        .expect("create topic");
    let mut tasks = Vec::new();
    for p in 0..PRODUCERS {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let config = ProducerConfig::default().max_in_flight_per_partition(in_flight);
            let producer = client.producer(config).await.expect("producer");
            let mut deliveries = Vec::new();
            for i in 0..PER_PRODUCER {
                let record = ProducerRecord::new("e2e", format!("p{p}-{i}"))
                    .key(format!("key-{}", (p * PER_PRODUCER + i) % 97))
                    .header("producer", p.to_string());
                deliveries.push(producer.send(record).await.expect("send"));
            }
            for delivery in deliveries {
                delivery.await.expect("acknowledged");
            }
            producer.close().await.expect("close");
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }

    let mut consumer = client.consumer("e2e");
    consumer.assign_all(Offset::Earliest).await.expect("assign");
    let ends = consumer.end_offsets().await.expect("end offsets");
    let total: i64 = ends.values().sum();
    assert_eq!(total, (PRODUCERS * PER_PRODUCER) as i64);
    let mut records: Vec<ConsumerRecord> = Vec::new();
    while records.len() < total as usize {
        records.extend(consumer.poll().await.expect("poll"));
    }
    assert_eq!(records.len(), total as usize, "no record twice");

    // Per partition: dense offsets; per producer and partition: send order.
    let mut next: BTreeMap<u32, i64> = BTreeMap::new();
    let mut last: BTreeMap<(u32, String), u64> = BTreeMap::new();
    for record in &records {
        let key = record.key.as_ref().expect("keyed");
        assert_eq!(record.partition, partition_for_key(key, PARTITIONS));
        let expected = next.entry(record.partition).or_insert(0);
        assert_eq!(record.offset, *expected, "dense offsets");
        *expected += 1;
        let value = String::from_utf8(record.value.clone().unwrap().to_vec()).unwrap();
        let (producer, seq) = value.split_once('-').unwrap();
        assert_eq!(record.headers[0].value.as_ref(), &producer.as_bytes()[1..]);
        let seq: u64 = seq.parse().unwrap();
        if let Some(previous) = last.insert((record.partition, producer.to_owned()), seq) {
            assert!(previous < seq, "{producer}: {previous} before {seq}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_to_end_over_grpc() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    round_trip(&server.url.replace("http://", "grpc://"), 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_to_end_over_quic() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let url = server.quic_url.clone().expect("stratus dev serves QUIC");
    assert!(url.starts_with("quic://127.0.0.1:"), "{url}");
    round_trip(&url, 1).await;
}

/// Idempotent batches pipelined on QUIC's ordered produce streams.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_to_end_over_quic_with_5_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let url = server.quic_url.clone().expect("stratus dev serves QUIC");
    round_trip(&url, 5).await;
}

/// The client keeps its transport across a gateway restart: the first call
/// after it fails retryably or succeeds, and later calls go through a new
/// connection, trusting the certificate `stratus dev` kept in its data dir.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quic_reconnects_after_the_gateway_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let listen = crate::common::fixed_quic_listen();
    let env = [("STRATUS_GATEWAY__QUIC__LISTEN", listen.as_str())];
    let server = DevServer::start_with_env(dir.path(), &env);
    let url = server.quic_url.clone().unwrap();
    let client = Client::connect(&url).await.unwrap();
    client
        .admin()
        .create_topic("restart", 1, TopicConfig::default())
        .await
        .unwrap();
    server.terminate();

    // Pinning the certificate works as well as trusting it as a CA.
    let cert = url.split_once("?ca=").unwrap().1.to_owned();
    let pinned = Client::connect(&format!("quic://{listen}?pin={cert}")).await;
    assert!(pinned.is_err(), "no gateway is running");

    let _server = DevServer::start_with_env(dir.path(), &env);
    let mut listed = None;
    for _ in 0..50 {
        match client.admin().list_topics().await {
            Ok(topics) => {
                listed = Some(topics);
                break;
            }
            Err(e) => {
                let message = e.to_string();
                assert!(
                    message.contains("QUIC") || message.contains("retry"),
                    "{message}"
                );
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
    let topics = listed.expect("the client reconnected");
    assert_eq!(topics.len(), 1);
    let pinned = Client::connect(&format!("quic://{listen}?pin={cert}"))
        .await
        .expect("pinned certificate");
    assert_eq!(pinned.admin().list_topics().await.unwrap().len(), 1);
}
