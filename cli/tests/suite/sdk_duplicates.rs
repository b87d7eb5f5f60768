//! Lost acknowledgements never duplicate records: the SDK's idempotent
//! producer retries, and the gateway recognises batches already written.
//! Faults: a proxy that drops connections after the gateway answered
//! (committed, reply lost), and a gateway killed with SIGKILL mid-stream and
//! restarted on the same data.

use std::time::Duration;

use crate::common::DevServer;
use crate::common::proxy::LossyProxy;
use crate::common::sdk::{assert_exactly_once, produce_keyed, read_topic};
use stratus_sdk::{Client, ProducerConfig, TopicConfig};

const PARTITIONS: u32 = 3;
const KEYS: usize = 11;

/// The producer's defaults (5 batches in flight per partition, on ordered
/// streams) with fast retries: the pipelined path is the one whose retries
/// must not duplicate or be refused.
fn config() -> ProducerConfig {
    ProducerConfig::default()
        .linger(Duration::from_millis(1))
        .batch_bytes(1024)
        .retry_backoff(Duration::from_millis(5), Duration::from_millis(200))
}

/// Waits until the partitions of `topic` hold more than `records` records.
async fn wait_until_written(watcher: &Client, topic: &str, records: i64) {
    loop {
        let described = watcher.admin().describe_topic(topic).await.unwrap();
        if described
            .partitions
            .iter()
            .map(|p| p.next_offset)
            .sum::<i64>()
            > records
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Every one of the `count` records `sending` produces is acknowledged (the
/// producer retries across the restart), and the restarted gateway at
/// `url` holds each exactly once.
async fn every_record_once_after_restart(
    sending: tokio::task::JoinHandle<Vec<stratus_sdk::Delivery>>,
    url: &str,
    topic: &str,
    count: usize,
) {
    let deliveries = tokio::time::timeout(Duration::from_secs(120), sending)
        .await
        .expect("every record acknowledged after the restart")
        .unwrap();
    assert_eq!(deliveries.len(), count);
    let direct = Client::connect(url).await.unwrap();
    let held = read_topic(&direct, topic).await;
    assert_exactly_once(&held, count, KEYS, PARTITIONS);
}

fn host_port(url: &str) -> &str {
    url.trim_start_matches("http://")
}

#[tokio::test]
async fn lost_replies_leave_exactly_one_copy() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let direct = Client::connect(&server.url).await.unwrap();
    direct
        .admin()
        .create_topic("lossy", PARTITIONS, TopicConfig::default())
        .await
        .unwrap();
    let proxy = LossyProxy::start(host_port(&server.url), 4).await;
    let client = Client::connect(&proxy.url()).await.unwrap();
    let producer = client.producer(config()).await.unwrap();
    let count = 4_000;
    produce_keyed(&producer, "lossy", count, KEYS).await;
    producer.close().await.unwrap();
    assert!(
        proxy.dropped() >= 5,
        "the proxy lost only {} replies; the test exercised nothing",
        proxy.dropped()
    );
    let held = read_topic(&direct, "lossy").await;
    assert_exactly_once(&held, count, KEYS, PARTITIONS);
}

#[tokio::test]
async fn gateway_killed_mid_stream_leaves_exactly_one_copy() {
    let dir = tempfile::tempdir().unwrap();
    let first = DevServer::start(dir.path());
    Client::connect(&first.url)
        .await
        .unwrap()
        .admin()
        .create_topic("killed", PARTITIONS, TopicConfig::default())
        .await
        .unwrap();
    let proxy = LossyProxy::start(host_port(&first.url), 0).await;
    let client = Client::connect(&proxy.url()).await.unwrap();
    let producer = std::sync::Arc::new(client.producer(config()).await.unwrap());
    let count = 6_000;
    let sending = {
        let producer = producer.clone();
        tokio::spawn(async move { produce_keyed(&producer, "killed", count, KEYS).await })
    };
    // Kill while requests are in flight: some committed, their replies never sent.
    let watcher = Client::connect(&first.url).await.unwrap();
    wait_until_written(&watcher, "killed", 1_000).await;
    first.kill();
    let second = DevServer::start(dir.path());
    proxy.switch(host_port(&second.url));
    every_record_once_after_restart(sending, &second.url, "killed", count).await;
}

/// The same over QUIC, whose ordered produce streams carry 5 batches per
/// partition: the gateway is SIGKILLed while they are in flight and
/// restarted on the same UDP port and data; the SDK reconnects and retries,
/// and every record is there exactly once.
#[tokio::test]
async fn quic_gateway_killed_mid_stream_leaves_exactly_one_copy() {
    let dir = tempfile::tempdir().unwrap();
    let listen = crate::common::fixed_quic_listen();
    let env = [("STRATUS_GATEWAY__QUIC__LISTEN", listen.as_str())];
    let first = DevServer::start_with_env(dir.path(), &env);
    Client::connect(&first.url)
        .await
        .unwrap()
        .admin()
        .create_topic("killed-quic", PARTITIONS, TopicConfig::default())
        .await
        .unwrap();
    let url = first.quic_url.clone().expect("stratus dev serves QUIC");
    let client = Client::connect(&url).await.unwrap();
    let pipelined = config().max_in_flight_per_partition(5);
    let producer = std::sync::Arc::new(client.producer(pipelined).await.unwrap());
    let count = 6_000;
    let sending = {
        let producer = producer.clone();
        tokio::spawn(async move { produce_keyed(&producer, "killed-quic", count, KEYS).await })
    };
    let watcher = Client::connect(&first.url).await.unwrap();
    wait_until_written(&watcher, "killed-quic", 1_000).await;
    first.kill();
    let second = DevServer::start_with_env(dir.path(), &env);
    every_record_once_after_restart(sending, &second.url, "killed-quic", count).await;
}
