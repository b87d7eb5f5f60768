//! The Rust SDK against a real `stratus dev`: admin, an idempotent producer
//! with many requests in flight, and a consumer that reads everything back
//! identical and in order per partition, and seeks.

use std::time::Duration;

use crate::common::DevServer;
use crate::common::sdk::{assert_exactly_once, produce_keyed, read_topic};
use futures::StreamExt;
use stratus_proto::partitioner::partition_for_key;
use stratus_sdk::{Client, Error, Offset, ProducerConfig, ProducerRecord, TopicConfig};

const PARTITIONS: u32 = 4;
const KEYS: usize = 37;

#[tokio::test]
async fn keyed_records_round_trip_in_order_with_many_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let client = Client::connect(&server.url).await.unwrap();
    let admin = client.admin();
    admin
        .create_topic("sdk-e2e", PARTITIONS, TopicConfig::default())
        .await
        .unwrap();
    assert!(
        admin
            .list_topics()
            .await
            .unwrap()
            .iter()
            .any(|t| t.name == "sdk-e2e" && t.partitions == PARTITIONS)
    );

    // Small batches and a short linger: hundreds of requests, several in
    // flight per partition at once.
    let config = ProducerConfig::default()
        .linger(Duration::from_millis(1))
        .batch_bytes(2048);
    let producer = client.producer(config).await.unwrap();
    assert!(producer.identity().is_some(), "idempotent by default");
    let count = 20_000;
    let deliveries = produce_keyed(&producer, "sdk-e2e", count, KEYS).await;
    producer.close().await.unwrap();

    for (i, delivery) in deliveries.iter().enumerate() {
        let key = format!("key-{}", i % KEYS);
        assert_eq!(
            delivery.partition,
            partition_for_key(key.as_bytes(), PARTITIONS),
            "record {i} went to the wrong partition"
        );
    }
    let held = read_topic(&client, "sdk-e2e").await;
    assert_exactly_once(&held, count, KEYS, PARTITIONS);
    // Every delivery names the offset its record was written at.
    for (i, delivery) in deliveries.iter().enumerate() {
        let (offset, value) = &held[&delivery.partition][delivery.offset as usize];
        assert_eq!(
            (*offset, value.as_str()),
            (delivery.offset, format!("value-{i:06}").as_str())
        );
    }
    let described = admin.describe_topic("sdk-e2e").await.unwrap();
    let total: i64 = described.partitions.iter().map(|p| p.next_offset).sum();
    assert_eq!(total, count as i64);
}

#[tokio::test]
async fn consumer_seeks_and_streams() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let client = Client::connect(&server.url).await.unwrap();
    client
        .admin()
        .create_topic("seeks", 1, TopicConfig::default())
        .await
        .unwrap();
    let producer = client.producer(ProducerConfig::default()).await.unwrap();
    let mut futures = Vec::new();
    for i in 0..10i64 {
        let record = ProducerRecord::new("seeks", format!("r{i}")).timestamp_ms(1_000 * (i + 1));
        futures.push(producer.send(record).await.unwrap());
    }
    for f in futures {
        f.await.unwrap();
    }

    let mut consumer = client.consumer("seeks").max_wait(Duration::from_millis(50));
    consumer.assign(&[0], Offset::At(3)).await.unwrap();
    assert_eq!(consumer.poll().await.unwrap()[0].offset, 3);
    consumer.seek(0, Offset::Timestamp(5_500)).await.unwrap();
    assert_eq!(consumer.positions()[&0], 5);
    consumer.seek(0, Offset::Earliest).await.unwrap();
    assert_eq!(consumer.positions()[&0], 0);
    consumer.seek(0, Offset::Latest).await.unwrap();
    assert_eq!(consumer.positions()[&0], 10);
    // Past every timestamp: the end.
    consumer.seek(0, Offset::Timestamp(99_000)).await.unwrap();
    assert_eq!(consumer.positions()[&0], 10);

    // The stream tails: a record produced after it started arrives.
    let tail = tokio::spawn(async move {
        let mut stream = consumer.into_stream();
        stream.next().await.unwrap().unwrap()
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    producer
        .send(ProducerRecord::new("seeks", "late"))
        .await
        .unwrap()
        .await
        .unwrap();
    let record = tokio::time::timeout(Duration::from_secs(10), tail)
        .await
        .expect("tailing stream delivered the new record")
        .unwrap();
    assert_eq!(
        (record.offset, record.value.as_deref()),
        (10, Some(&b"late"[..]))
    );

    let err = client.consumer("seeks").poll().await.unwrap_err();
    assert!(err.to_string().contains("call assign first"), "{err}");
}

#[tokio::test]
async fn bad_input_gets_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let client = Client::connect(&server.url).await.unwrap();
    let producer = client.producer(ProducerConfig::default()).await.unwrap();
    let err = producer
        .send(ProducerRecord::new("no-such-topic", "x"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("stratus topic create"), "{err}");
    client
        .admin()
        .create_topic("small", 2, TopicConfig::default())
        .await
        .unwrap();
    let err = producer
        .send(ProducerRecord::new("small", "x").partition(7))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UnknownPartition { .. }), "{err}");
    let err = client
        .producer(ProducerConfig::default().max_in_flight_per_partition(6))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("max_in_flight_per_partition"),
        "{err}"
    );
    let err = Client::connect("ftp://127.0.0.1:1").await.unwrap_err();
    assert!(
        err.to_string().contains("use grpc://, grpcs:// or quic://"),
        "{err}"
    );
    let err = Client::connect("grpc://127.0.0.1:1").await.unwrap_err();
    assert!(err.to_string().contains("cannot reach a gateway"), "{err}");
}

/// `compression = none` sends uncompressed client-built batches, which the
/// gateway stores as they are; a record the SDK cannot put in a batch (a
/// header key twice) goes as plain records and gets the gateway's error.
#[tokio::test]
async fn uncompressed_batches_round_trip_and_unbatchable_records_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let client = Client::connect(&server.url).await.unwrap();
    client
        .admin()
        .create_topic("plain", PARTITIONS, TopicConfig::default())
        .await
        .unwrap();
    let config = ProducerConfig::default()
        .compression(stratus_sdk::Compression::None)
        .linger(Duration::from_millis(1))
        .batch_bytes(2048);
    let producer = client.producer(config).await.unwrap();
    let count = 2_000;
    produce_keyed(&producer, "plain", count, KEYS).await;
    let held = read_topic(&client, "plain").await;
    assert_exactly_once(&held, count, KEYS, PARTITIONS);

    let repeated = ProducerRecord::new("plain", "x")
        .partition(0)
        .header("h", "1")
        .header("h", "2");
    let err = producer.send(repeated).await.unwrap().await.unwrap_err();
    assert!(err.to_string().contains("more than once"), "{err}");
}

/// Consumes as a group member until `want` distinct values were seen by
/// all members together, committing after every batch; returns
/// `(partition, offset, value)` in the order this member saw them.
async fn consume_as_member(
    mut member: stratus_sdk::GroupConsumer,
    seen: std::sync::Arc<std::sync::Mutex<std::collections::BTreeSet<String>>>,
    want: usize,
) -> (stratus_sdk::GroupConsumer, Vec<(u32, i64, String)>) {
    let mut mine = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while seen.lock().unwrap().len() < want {
        assert!(
            tokio::time::Instant::now() < deadline,
            "group did not consume everything"
        );
        let event = tokio::time::timeout(Duration::from_millis(300), member.poll()).await;
        let Ok(event) = event else { continue };
        if let stratus_sdk::GroupEvent::Records(records) = event.expect("poll") {
            for r in &records {
                let value = String::from_utf8(r.value.clone().unwrap().to_vec()).unwrap();
                mine.push((r.partition, r.offset, value.clone()));
                seen.lock().unwrap().insert(value);
            }
            member.commit().await.expect("commit");
        }
    }
    (member, mine)
}

/// Two group members (one connected through a gateway list whose first
/// entry is down) share a topic's partitions, commit, report lag, and a
/// later member resumes from the committed offsets; over gRPC and QUIC.
async fn group_members_share_and_resume(url: &str, topic: &str) {
    use std::collections::BTreeSet;
    use std::sync::{Arc, Mutex};
    use stratus_sdk::{GroupConfig, GroupEvent, TopicPartition};

    let client = Client::connect(url).await.unwrap();
    client
        .admin()
        .create_topic(topic, 6, TopicConfig::default())
        .await
        .unwrap();
    let config = || {
        let mut config = GroupConfig::new("sdk-group", [topic]);
        config.auto_commit = None;
        config.session_timeout = Some(Duration::from_secs(3));
        config.fetch_wait = Duration::from_millis(100);
        config
    };
    let mut first = client.group_consumer(config()).await.unwrap();
    match first.poll().await.unwrap() {
        GroupEvent::Assigned(tps) => assert_eq!(tps.len(), 6, "{tps:?}"),
        other => panic!("expected the first assignment, got {other:?}"),
    }
    // A dead gateway first in the list: the client fails over to the live one.
    let via_failover = Client::connect(&format!("{},{url}", dead_gateway(url)))
        .await
        .unwrap();
    let mut second = via_failover.group_consumer(config()).await.unwrap();
    // The group settles: the first member releases half to the second.
    let settle = tokio::time::Instant::now() + Duration::from_secs(30);
    while first.assignment().len() != 3 || second.assignment().len() != 3 {
        assert!(
            tokio::time::Instant::now() < settle,
            "the group never settled"
        );
        tokio::select! {
            event = first.poll() => { event.unwrap(); }
            event = second.poll() => { event.unwrap(); }
            () = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
    let producer = client.producer(ProducerConfig::default()).await.unwrap();
    produce_keyed(&producer, topic, 600, KEYS).await;

    let seen = Arc::new(Mutex::new(BTreeSet::new()));
    let a = tokio::spawn(consume_as_member(first, seen.clone(), 600));
    let b = tokio::spawn(consume_as_member(second, seen.clone(), 600));
    let (first, from_first) = a.await.unwrap();
    let (second, from_second) = b.await.unwrap();
    assert_eq!(seen.lock().unwrap().len(), 600);
    assert_eq!(
        from_first.len() + from_second.len(),
        600,
        "a settled group delivers every record to exactly one member"
    );
    for mine in [&from_first, &from_second] {
        for pair in mine.windows(2) {
            if pair[0].0 == pair[1].0 {
                assert!(pair[0].1 < pair[1].1, "out of order: {pair:?}");
            }
        }
    }
    // The two members ended with disjoint partitions covering the topic.
    let (mine_a, mine_b) = (first.assignment(), second.assignment());
    assert!(
        mine_a.iter().all(|tp| !mine_b.contains(tp)),
        "{mine_a:?} {mine_b:?}"
    );
    assert!(!mine_b.is_empty(), "the second member got no partitions");

    // Everything read was committed: no lag.
    for lag in first.lag().await.unwrap() {
        assert_eq!(lag.lag, 0, "{lag:?}");
        assert_eq!(lag.committed, Some(lag.end_offset), "{lag:?}");
    }
    // A commit for a partition the member does not hold is refused.
    let foreign = mine_b[0].clone();
    let err = first.commit_offsets(&[(foreign, 0)]).await.unwrap_err();
    assert!(err.to_string().contains("rejoin"), "{err}");

    first.close().await.unwrap();
    second.close().await.unwrap();

    // A new member starts from the committed offsets: only new records.
    for i in 0..10 {
        producer
            .send(ProducerRecord::new(topic, format!("late-{i}")).key(format!("k{i}")))
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let mut third = client.group_consumer(config()).await.unwrap();
    let mut late = BTreeSet::new();
    while late.len() < 10 {
        if let GroupEvent::Records(records) = third.poll().await.unwrap() {
            for r in records {
                let value = String::from_utf8(r.value.unwrap().to_vec()).unwrap();
                assert!(
                    value.starts_with("late-"),
                    "re-read a committed record: {value}"
                );
                late.insert(value);
            }
        }
    }
    let lost = TopicPartition::new(topic, 99);
    assert!(third.seek(&lost, 0).is_err());
    third.close().await.unwrap();
    producer.close().await.unwrap();
}

/// A URL of the same transport on which nothing listens.
fn dead_gateway(url: &str) -> String {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = socket.local_addr().unwrap().port();
    drop(socket);
    let scheme = url.split("://").next().unwrap();
    let query = url
        .split_once('?')
        .map(|(_, q)| format!("?{q}"))
        .unwrap_or_default();
    format!("{scheme}://127.0.0.1:{port}{query}")
}

#[tokio::test]
async fn group_members_share_and_resume_over_grpc() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    group_members_share_and_resume(&server.url, "group-grpc").await;
}

#[tokio::test]
async fn group_members_share_and_resume_over_quic() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let url = server.quic_url.clone().expect("stratus dev serves QUIC");
    group_members_share_and_resume(&url, "group-quic").await;
}
