//! `stratus group list` and `describe` show Kafka classic-protocol groups
//! beside server-assigned ones: two Java client consumers (classic
//! protocol, range assignor, separate processes) in one group are listed
//! with their assignor and member count, and described with Kafka's state,
//! both members and every partition's committed offset and lag.

use std::process::Command;
use std::time::Duration;

use stratus_sdk::{Client, ProducerConfig, TopicConfig};

use crate::common::DevServer;
use crate::common::reporting_member::{ReportingMember, java_group_member, wait_for};
use crate::common::sdk::produce_keyed;

const RECORDS: usize = 200;

fn stratus(server: &DevServer, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_stratus"))
        .args(args)
        .args(["--server", &server.url])
        .output()
        .expect("run stratus");
    assert!(
        output.status.success(),
        "stratus {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn kafka_classic_groups_are_listed_and_described_with_their_lag() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let kafka = server.kafka_bootstrap();
    let client = Client::connect(&server.url).await.unwrap();
    client
        .admin()
        .create_topic("shown", 4, TopicConfig::default())
        .await
        .unwrap();
    let producer = client.producer(ProducerConfig::default()).await.unwrap();
    produce_keyed(&producer, "shown", RECORDS, 20).await;

    let member = |name: &str| {
        ReportingMember::start(java_group_member(&[
            "--member",
            name,
            "--bootstrap",
            &kafka,
            "--topic",
            "shown",
            "--group",
            "shown-group",
            "--assignor",
            "range",
        ]))
    };
    let (first, second) = (member("first"), member("second"));
    wait_for(
        "both members to own two partitions and read everything",
        Duration::from_secs(90),
        || {
            first.owned().len() == 2
                && second.owned().len() == 2
                && first.read().len() + second.read().len() >= RECORDS
        },
    );
    // Commits follow each reported batch; let the last ones land.
    std::thread::sleep(Duration::from_secs(2));

    let listed = stratus(&server, &["group", "list"]);
    let line = listed
        .lines()
        .find(|l| l.starts_with("shown-group "))
        .unwrap_or_else(|| panic!("the group is not listed:\n{listed}"));
    let columns: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(columns[1], "2", "two members: {line}");
    assert!(line.contains("kafka classic (range)"), "{line}");
    assert!(line.ends_with("shown"), "its topic: {line}");

    let described = stratus(&server, &["group", "describe", "shown-group"]);
    assert!(described.contains("state Stable"), "{described}");
    assert!(
        described.contains("assignment kafka classic (range)"),
        "{described}"
    );
    for client_id in ["first", "second"] {
        assert!(
            described
                .lines()
                .any(|l| l.split_whitespace().nth(1) == Some(client_id)),
            "member {client_id} not shown:\n{described}"
        );
    }
    let partitions: Vec<Vec<&str>> = described
        .lines()
        .filter(|l| l.starts_with("shown "))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(partitions.len(), 4, "{described}");
    for row in &partitions {
        // TOPIC PARTITION COMMITTED LOG-START END LAG MEMBER
        assert_eq!(row[2], row[4], "everything read is committed: {row:?}");
        assert_eq!(row[5], "0", "{row:?}");
    }
}
