//! Two `stratus dev` processes sharing one PostgreSQL metadata store and one
//! `file://` WAL tier: the multi-gateway deployment, on one machine. Each
//! test starts its own PostgreSQL server (scripts/install-postgres installs
//! it; without it the test fails naming that script).
//!
//! Both gateways produce at once into the same partitions, so offsets are
//! assigned by metadata transactions from two processes that conflict and
//! retry against each other; every acknowledged record must be read back
//! exactly once, at the offset it was acknowledged with, through either
//! gateway, and a gateway killed with SIGKILL mid-produce must lose none.
//! A Kafka consumer group spread over both must converge when its
//! coordinator gateway is SIGKILLed in the middle of a rebalance.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::common::{DevServer, create_topic, read_all};
use stratus_proto::v1::producer_client::ProducerClient;
use stratus_proto::v1::{PartitionRecords, ProduceRequest, Record};
use stratus_testkit::PostgresServer;
use tokio::sync::watch;
use tonic::transport::Channel;

const TOPIC: &str = "payments";
const PARTITIONS: u32 = 4;
const RECORDS_PER_PARTITION: usize = 3;

/// Where an acknowledged record must be: (partition, offset) -> value.
type Acked = BTreeMap<(u32, i64), String>;

/// A gateway process on the shared store and tier, with its own data dir
/// (which holds nothing that matters: only QUIC's self-signed certificate).
fn gateway(root: &Path, name: &str, postgres: &PostgresServer) -> DevServer {
    let wal = format!("file://{}", root.join("wal").display());
    std::fs::create_dir_all(root.join("wal")).expect("create wal dir");
    let url = postgres.url();
    DevServer::start_with_env(
        &root.join(name),
        &[
            ("STRATUS_METADATA", url.as_str()),
            ("STRATUS_WAL", wal.as_str()),
        ],
    )
}

/// Produces to every partition until `stop` is set or a produce fails (the
/// gateway died); returns what was acknowledged. A failed produce's records
/// may or may not have landed, so they are not expected, only allowed.
async fn produce_until(
    mut producer: ProducerClient<Channel>,
    name: &'static str,
    stop: watch::Receiver<bool>,
    max_rounds: usize,
) -> Acked {
    let mut acked = Acked::new();
    for round in 0..max_rounds {
        if *stop.borrow() {
            break;
        }
        let value = |partition: u32, i: usize| format!("{name}-{round}-{partition}-{i}");
        let partitions = (0..PARTITIONS)
            .map(|partition| PartitionRecords {
                partition,
                base_sequence: None,
                record_batch: Default::default(),
                records: (0..RECORDS_PER_PARTITION)
                    .map(|i| Record {
                        value: Some(value(partition, i).into_bytes().into()),
                        ..Record::default()
                    })
                    .collect(),
            })
            .collect();
        let request = ProduceRequest {
            topic: TOPIC.to_owned(),
            partitions,
            ..ProduceRequest::default()
        };
        let Ok(response) = producer.produce(request).await else {
            break;
        };
        for ack in response.into_inner().partitions {
            assert_eq!(ack.record_count as usize, RECORDS_PER_PARTITION);
            for i in 0..RECORDS_PER_PARTITION {
                let offset = ack.base_offset + i as i64;
                let previous = acked.insert((ack.partition, offset), value(ack.partition, i));
                assert!(previous.is_none(), "offset {offset} acknowledged twice");
            }
        }
    }
    acked
}

/// Reads every partition through `server` and checks offsets are dense from
/// 0, every acknowledged record sits at its acknowledged offset, and no
/// value appears twice. Returns how many records the topic holds.
async fn check_log(server: &DevServer, acked: &Acked) -> usize {
    let mut consumer = server.consumer().await;
    let mut total = 0;
    let mut values = BTreeMap::new();
    for partition in 0..PARTITIONS {
        let records = read_all(&mut consumer, TOPIC, partition).await;
        for (index, record) in records.iter().enumerate() {
            assert_eq!(
                record.offset, index as i64,
                "partition {partition}: offsets are dense from 0"
            );
            let value = String::from_utf8(record.value.clone().expect("value").to_vec())
                .expect("utf-8 value");
            if let Some(previous) = values.insert(value.clone(), (partition, record.offset)) {
                panic!(
                    "{value} stored twice: at {previous:?} and {partition}/{}",
                    record.offset
                );
            }
            if let Some(expected) = acked.get(&(partition, record.offset)) {
                assert_eq!(
                    &value, expected,
                    "partition {partition} offset {}",
                    record.offset
                );
            }
        }
        total += records.len();
    }
    for ((partition, offset), value) in acked {
        assert_eq!(
            values.get(value),
            Some(&(*partition, *offset)),
            "acknowledged {value} is not at {partition}/{offset}"
        );
    }
    total
}

fn merge(a: Acked, b: Acked) -> Acked {
    let mut all = a;
    for (at, value) in b {
        let previous = all.insert(at, value);
        assert!(
            previous.is_none(),
            "two gateways acknowledged the same offset {at:?}"
        );
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_on_one_postgres_assign_dense_offsets() {
    let postgres = PostgresServer::start();
    let root = tempfile::tempdir().expect("temp dir");
    let a = gateway(root.path(), "a", &postgres);
    let b = gateway(root.path(), "b", &postgres);
    create_topic(&a, TOPIC, PARTITIONS, None).await;

    let (_keep, running) = watch::channel(false);
    let (from_a, from_b) = tokio::join!(
        produce_until(a.producer().await, "a", running.clone(), 40),
        produce_until(b.producer().await, "b", running.clone(), 40),
    );
    assert_eq!(
        from_a.len(),
        40 * PARTITIONS as usize * RECORDS_PER_PARTITION
    );
    assert_eq!(from_b.len(), from_a.len());
    let acked = merge(from_a, from_b);
    // Every produce was acknowledged, so the log holds exactly those records.
    assert_eq!(check_log(&a, &acked).await, acked.len());
    assert_eq!(check_log(&b, &acked).await, acked.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_killed_mid_produce_loses_no_acknowledged_record() {
    let postgres = PostgresServer::start();
    let root = tempfile::tempdir().expect("temp dir");
    let a = gateway(root.path(), "a", &postgres);
    let b = gateway(root.path(), "b", &postgres);
    create_topic(&b, TOPIC, PARTITIONS, None).await;

    let (stop, running) = watch::channel(false);
    let producing_a = tokio::spawn(produce_until(
        a.producer().await,
        "a",
        running.clone(),
        usize::MAX,
    ));
    let producing_b = tokio::spawn(produce_until(
        b.producer().await,
        "b",
        running.clone(),
        usize::MAX,
    ));
    tokio::time::sleep(Duration::from_secs(2)).await;
    // SIGKILL: whatever gateway a was committing is cut off mid-flight.
    a.kill();
    let from_a = producing_a.await.expect("producer a");
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.send(true).expect("stop producer b");
    let from_b = producing_b.await.expect("producer b");
    assert!(
        !from_a.is_empty(),
        "gateway a acknowledged nothing before the kill"
    );
    assert!(!from_b.is_empty());
    let acked = merge(from_a, from_b);
    let stored = check_log(&b, &acked).await;
    assert!(stored >= acked.len());
    // A gateway started again on the same store and tier sees the same log.
    let again = gateway(root.path(), "a-again", &postgres);
    assert_eq!(check_log(&again, &acked).await, stored);
}

/// Three confluent-kafka members in one classic group, their connections
/// spread over both gateways (Metadata lists both; partition leaders and the
/// coordinator are spread by rendezvous). A fourth member joins and, once the
/// rebalance it starts has begun, the group's coordinator gateway is
/// SIGKILLed: the group must converge on the other gateway, one owner per
/// partition among the four, then survive a member's SIGKILL too, with every
/// delivered record consumed (`testkit/kafka/python/group_members.py`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kafka_group_converges_when_its_coordinator_gateway_is_killed_mid_rebalance() {
    use crate::common::group_members::{PausingScript, Step};
    use std::process::Command;

    let postgres = PostgresServer::start();
    let root = tempfile::tempdir().expect("temp dir");
    let mut gateways = [
        Some(gateway(root.path(), "a", &postgres)),
        Some(gateway(root.path(), "b", &postgres)),
    ];
    let bootstrap = gateways
        .iter()
        .map(|g| g.as_ref().unwrap().kafka_bootstrap())
        .collect::<Vec<_>>()
        .join(",");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = repo.join("target/py-venv/kafka/bin/python");
    assert!(
        python.exists(),
        "{} is missing; install the Kafka clients with scripts/install-kafka-clients",
        python.display()
    );
    let mut command = Command::new(python);
    command
        .arg(repo.join("testkit/kafka/python/group_members.py"))
        .args(["--bootstrap", &bootstrap, "--topic", "rebalancing"])
        .args(["--assignor", "cooperative-sticky", "--partitions", "12"])
        .args(["--session-ms", "6000", "--timeout", "120"])
        .arg("--pause-in-rebalance");
    let mut script = PausingScript::start(command);
    let summary = loop {
        match script.next() {
            Step::Pause(event) => {
                let address = event["coordinator_address"].as_str().unwrap();
                let at = gateways
                    .iter()
                    .position(|g| g.as_ref().is_some_and(|g| g.kafka_bootstrap() == address))
                    .unwrap_or_else(|| panic!("no gateway listens at {address}"));
                gateways[at].take().unwrap().kill();
                script.go();
            }
            Step::Done(summary) => break summary,
        }
    };
    assert!(
        summary
            .get("steady_after_coordinator_killed_in_rebalance")
            .is_some(),
        "{summary}"
    );
    assert_eq!(
        gateways.iter().flatten().count(),
        1,
        "the coordinator was killed"
    );
}
