//! One consumer group, two protocols: a confluent-kafka consumer, and then a
//! Java client consumer, with `group.protocol=consumer` (KIP-848, through
//! the Kafka listener) and a
//! `stratus consume --group` member (the Stratus SDK over gRPC) share a
//! topic's partitions. Both are separate processes. Once each owns half,
//! records are produced; each is read exactly once, by the member that owns
//! its partition, and no partition is read by both. A Kafka admin client
//! describes the group with both members (ConsumerGroupDescribe).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use stratus_sdk::{Client, ProducerConfig, TopicConfig};

use crate::common::DevServer;
use crate::common::reporting_member::{ReportingMember as Member, java_group_member, wait_for};
use crate::common::sdk::produce_keyed;

const PARTITIONS: u32 = 6;
const RECORDS: usize = 600;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// (partition, offset) of every record `stratus consume --format json` printed.
fn sdk_read(member: &Member) -> Vec<(u64, u64)> {
    member
        .json_lines()
        .iter()
        .map(|r| {
            (
                r["partition"].as_u64().unwrap(),
                r["offset"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kip848_consumer_and_a_stratus_member_share_one_group() {
    share_one_group("confluent").await;
}

/// The same with the Java client (kafka-clients 4.4) as the KIP-848 member.
#[tokio::test(flavor = "multi_thread")]
async fn a_java_kip848_consumer_and_a_stratus_member_share_one_group() {
    share_one_group("java").await;
}

/// The KIP-848 member's command: `client` is confluent or java, both
/// reporting as `testkit/kafka/python/group_members.py` describes.
fn kip848_member(client: &str, kafka: &str) -> Command {
    let member_args = [
        "--member",
        "kip848",
        "--bootstrap",
        kafka,
        "--topic",
        "mixed",
        "--group",
        "mixed-group",
        "--assignor",
        "uniform",
        "--protocol",
        "consumer",
        "--session-ms",
        "6000",
    ];
    if client == "java" {
        return java_group_member(&member_args);
    }
    let python = root().join("target/py-venv/kafka/bin/python");
    assert!(
        python.exists(),
        "{} is missing; install the Kafka clients with scripts/install-kafka-clients",
        python.display()
    );
    let mut command = Command::new(python);
    command
        .arg(root().join("testkit/kafka/python/group_members.py"))
        .args(member_args);
    command
}

async fn share_one_group(kafka_client: &str) {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start_with_env(
        dir.path(),
        &[("STRATUS_GATEWAY__GROUPS__DEFAULT_SESSION_TIMEOUT", "6s")],
    );
    let kafka = server.kafka_bootstrap();
    let client = Client::connect(&server.url).await.unwrap();
    client
        .admin()
        .create_topic("mixed", PARTITIONS, TopicConfig::default())
        .await
        .unwrap();

    let kafka_member = Member::start(kip848_member(kafka_client, &kafka));
    let mut command = Command::new(env!("CARGO_BIN_EXE_stratus"));
    command
        .args([
            "consume",
            "mixed",
            "--group",
            "mixed-group",
            "--format",
            "json",
        ])
        .args(["--server", &server.url]);
    let sdk_member = Member::start(command);

    // Both protocols' members in one generation, half each (sticky).
    wait_for(
        "the KIP-848 member to own half the partitions",
        Duration::from_secs(60),
        || kafka_member.owned().len() == PARTITIONS as usize / 2,
    );

    // A Kafka admin client sees one consumer-protocol group of both
    // members (ConsumerGroupDescribe), their assignments disjoint and whole.
    let described = Command::new(root().join("target/py-venv/kafka/bin/python"))
        .arg(root().join("testkit/kafka/python/describe_group_confluent.py"))
        .args(["--bootstrap", &kafka, "--group", "mixed-group"])
        .output()
        .unwrap();
    let described: serde_json::Value = serde_json::from_slice(&described.stdout)
        .unwrap_or_else(|e| panic!("describe_group_confluent.py: {e}: {described:?}"));
    let members = described["members"].as_array().unwrap();
    assert_eq!(members.len(), 2, "{described}");
    let clients: BTreeSet<&str> = members
        .iter()
        .map(|m| m["client_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        clients,
        BTreeSet::from(["kip848", "stratus-cli"]),
        "{described}"
    );
    let held: Vec<u64> = members
        .iter()
        .flat_map(|m| m["partitions"].as_array().unwrap().clone())
        .map(|tp| tp[1].as_u64().unwrap())
        .collect();
    let distinct: BTreeSet<u64> = held.iter().copied().collect();
    assert_eq!(
        (held.len(), distinct.len()),
        (PARTITIONS as usize, PARTITIONS as usize),
        "{described}"
    );

    let producer = client.producer(ProducerConfig::default()).await.unwrap();
    produce_keyed(&producer, "mixed", RECORDS, 60).await;
    wait_for("every record to be read", Duration::from_secs(60), || {
        kafka_member.read().len() + sdk_read(&sdk_member).len() >= RECORDS
    });
    // A moment for any read twice to show.
    std::thread::sleep(Duration::from_secs(1));

    let (by_kafka, by_sdk) = (kafka_member.read(), sdk_read(&sdk_member));
    let kafka_parts: BTreeSet<u64> = by_kafka.iter().map(|(p, _)| *p).collect();
    let sdk_parts: BTreeSet<u64> = by_sdk.iter().map(|(p, _)| *p).collect();
    assert!(
        kafka_parts.is_disjoint(&sdk_parts),
        "a partition was read by both members: Kafka {kafka_parts:?}, SDK {sdk_parts:?}"
    );
    assert_eq!(kafka_parts, kafka_member.owned(), "read what it owns");
    assert_eq!(kafka_parts.len() + sdk_parts.len(), PARTITIONS as usize);
    let mut seen: BTreeMap<(u64, u64), usize> = BTreeMap::new();
    for record in by_kafka.iter().chain(&by_sdk) {
        *seen.entry(*record).or_default() += 1;
    }
    assert_eq!(seen.len(), RECORDS, "every record read");
    assert!(seen.values().all(|n| *n == 1), "no record read twice");
}
