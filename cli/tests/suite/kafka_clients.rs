//! Unmodified Kafka clients from other ecosystems against `stratus dev`'s
//! Kafka listener, as separate processes: each creates a topic, produces
//! keyed records with headers (idempotent, acks=all) and reads them back,
//! checking offsets are dense, records identical and keys where murmur2 puts
//! them (testkit/kafka/). Then an idempotent producer runs while the gateway
//! is SIGKILLed and restarted under it, and every record it was told is
//! delivered must be in the log exactly once, in send order per partition,
//! read back over gRPC (one log, two protocols).
//!
//! Each client produces 100,000 records into 8 partitions; confluent-kafka
//! runs once per codec (none, gzip, snappy, lz4, zstd), so every codec Kafka
//! clients send is stored and served. The clients are installed by
//! `scripts/install-kafka-clients`; a missing one fails the test with that
//! instruction. Every client reads back twice: assigning partitions itself,
//! and subscribed in a consumer group (the classic protocol, with its
//! offset commits); kafkajs, which only consumes in a group, reads only so.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::{DevServer, create_topic, free_port, read_all};

/// The clients whose scenario assigns partitions without a group.
const CLIENTS: &str = "confluent,kcat,kafka-python,aiokafka,java,franz-go";
/// The clients whose scenario consumes in a consumer group (kcat's
/// scenario assigns only).
const GROUP_CLIENTS: &str = "kafkajs,confluent,kafka-python,aiokafka,java,franz-go";
/// The codecs confluent-kafka produces with, one run each.
const CODECS: &str = "none,gzip,snappy,lz4,zstd";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn venv_python() -> PathBuf {
    let python = root().join("target/py-venv/kafka/bin/python");
    assert!(
        python.exists(),
        "{} is missing; install the Kafka clients with scripts/install-kafka-clients",
        python.display()
    );
    python
}

/// Runs `testkit/kafka/run-all.py` against `kafka` and checks that it
/// passed, with `runs` ok lines besides the placement check.
fn run_all(kafka: &str, mode: &str, clients: &str, codecs: &str, runs: usize) {
    let output = Command::new("python3")
        .arg(root().join("testkit/kafka/run-all.py"))
        .args(["--bootstrap", kafka, "--modes", mode, "--clients", clients])
        .args(["--codecs", codecs, "--prefix", mode])
        .args(["--count", "100000", "--partitions", "8", "--timeout", "240"])
        .output()
        .expect("run testkit/kafka/run-all.py (python3 must be on PATH)");
    let report = String::from_utf8_lossy(&output.stdout);
    eprintln!("{report}{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        output.status.success(),
        "a Kafka client failed against stratus (install missing ones with \
         scripts/install-kafka-clients):\n{report}"
    );
    assert_eq!(
        report.lines().filter(|l| l.starts_with("ok ")).count(),
        runs + 1,
        "every client and the placement check pass:\n{report}"
    );
}

#[test]
fn kafka_clients_produce_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let kafka = server.kafka_bootstrap();
    // confluent once per codec, every other client once.
    let assigning = CLIENTS.split(',').count() - 1 + CODECS.split(',').count();
    run_all(&kafka, "assign", CLIENTS, CODECS, assigning);
    run_all(
        &kafka,
        "group",
        GROUP_CLIENTS,
        "none",
        GROUP_CLIENTS.split(',').count(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotent_producer_loses_and_duplicates_nothing_through_gateway_kills() {
    const COUNT: usize = 3_000;
    const PARTITIONS: u32 = 4;
    let dir = tempfile::tempdir().unwrap();
    // The producer keeps its bootstrap address: it must survive restarts.
    let listen = format!("127.0.0.1:{}", free_port());
    let start = || DevServer::start_with(dir.path(), &["--kafka-listen", &listen]);
    let server = start();
    create_topic(&server, "crash", PARTITIONS, None).await;
    let producer = Command::new(venv_python())
        .arg(root().join("testkit/kafka/python/produce_through_crashes.py"))
        .args(["--bootstrap", &listen, "--topic", "crash"])
        .args(["--count", &COUNT.to_string(), "--pace-ms", "2"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the confluent-kafka producer");
    let mut server = Some(server);
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        server.take().unwrap().kill();
        tokio::time::sleep(Duration::from_millis(300)).await;
        server = Some(start());
    }
    let output = tokio::task::spawn_blocking(move || producer.wait_with_output())
        .await
        .unwrap()
        .expect("producer output");
    assert!(output.status.success(), "the producer failed");
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("the producer prints one JSON line");
    assert_eq!(report["undelivered"], 0, "records left unsent: {report}");
    let delivered: Vec<(usize, u32, i64)> = report["delivered"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d[0].as_u64().unwrap() as usize,
                d[1].as_u64().unwrap() as u32,
                d[2].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(
        delivered.len() * 10 >= COUNT * 9,
        "most records are delivered through three kills: {} of {COUNT} ({:?})",
        delivered.len(),
        report["errors"]
    );

    let server = server.unwrap();
    let mut consumer = server.consumer().await;
    let mut log: BTreeMap<(u32, i64), String> = BTreeMap::new();
    let mut values_seen = HashSet::new();
    for partition in 0..PARTITIONS {
        let records = read_all(&mut consumer, "crash", partition).await;
        for (expected, record) in (0_i64..).zip(&records) {
            assert_eq!(
                record.offset, expected,
                "offsets are dense in partition {partition}"
            );
            let value = String::from_utf8(record.value.clone().unwrap().to_vec()).unwrap();
            assert!(
                values_seen.insert(value.clone()),
                "{value} is in the log twice: an idempotent retry was written again"
            );
            log.insert((partition, record.offset), value);
        }
    }
    for (i, partition, offset) in &delivered {
        assert_eq!(
            log.get(&(*partition, *offset)).map(String::as_str),
            Some(format!("v{i}").as_str()),
            "record {i} was acknowledged at {partition}/{offset} but is not there"
        );
    }
    // Send order per partition: a record sent later sits at a higher offset.
    let mut by_partition: BTreeMap<u32, Vec<(usize, i64)>> = BTreeMap::new();
    for (i, partition, offset) in delivered {
        by_partition.entry(partition).or_default().push((i, offset));
    }
    for (partition, mut sent) in by_partition {
        sent.sort_unstable();
        assert!(
            sent.windows(2).all(|w| w[0].1 < w[1].1),
            "partition {partition} holds records out of send order"
        );
    }
}
