//! Static membership on Kafka's consumer protocol (KIP-848), with the Java
//! client as separate processes: a member with `group.instance.id` that
//! closes keeps its partitions for its instance; a new process of the same
//! instance gets exactly them back with no rebalance of the others; a
//! second process of an instance still in use is refused
//! (UNRELEASED_INSTANCE_ID) and changes nothing; once the departed
//! member's session runs out, the others take its partitions.

use std::collections::BTreeSet;
use std::time::Duration;

use stratus_sdk::{Client, TopicConfig};

use crate::common::DevServer;
use crate::common::reporting_member::{ReportingMember, java_group_member, wait_for};

const PARTITIONS: u32 = 6;
/// Long enough for a new JVM to start and join before the departed
/// member's session ends.
const SESSION: Duration = Duration::from_secs(20);

fn member(kafka: &str, name: &str, instance: Option<&str>) -> ReportingMember {
    let mut args = vec![
        "--member",
        name,
        "--bootstrap",
        kafka,
        "--topic",
        "static",
        "--group",
        "static-group",
        "--assignor",
        "uniform",
        "--protocol",
        "consumer",
    ];
    if let Some(instance) = instance {
        args.extend(["--instance", instance]);
    }
    ReportingMember::start(java_group_member(&args))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kip848_static_member_gets_its_partitions_back_without_a_rebalance() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start_with_env(
        dir.path(),
        &[("STRATUS_GATEWAY__GROUPS__DEFAULT_SESSION_TIMEOUT", "20s")],
    );
    let kafka = server.kafka_bootstrap();
    let client = Client::connect(&server.url).await.unwrap();
    client
        .admin()
        .create_topic("static", PARTITIONS, TopicConfig::default())
        .await
        .unwrap();

    let mut first = member(&kafka, "first", Some("instance-a"));
    let other = member(&kafka, "other", None);
    let half = PARTITIONS as usize / 2;
    wait_for("both members to own half", Duration::from_secs(60), || {
        first.owned().len() == half && other.owned().len() == half
    });
    let theirs = first.owned();
    let others = other.owned();
    assert!(theirs.is_disjoint(&others));
    let changes = other.ownership_changes().len();

    // The static member closes (member epoch -2): its partitions wait for it.
    first.terminate();
    assert!(first.exited_within(Duration::from_secs(30)).is_some());
    std::thread::sleep(SESSION / 4);
    assert_eq!(
        other.owned(),
        others,
        "nobody takes a departed instance's partitions"
    );

    // A new process of the instance takes them over, and nothing else moves.
    let second = member(&kafka, "second", Some("instance-a"));
    wait_for("the instance's partitions to come back", SESSION, || {
        second.owned() == theirs
    });
    assert_eq!(
        other.ownership_changes().len(),
        changes,
        "the other member saw no rebalance: {:?}",
        other.ownership_changes()
    );

    // A second process of an instance in use is refused and moves nothing.
    let mut intruder = member(&kafka, "intruder", Some("instance-a"));
    let status = intruder
        .exited_within(Duration::from_secs(30))
        .expect("the intruder is refused");
    assert!(!status.success());
    let failure = intruder
        .json_lines()
        .into_iter()
        .find(|e| e["ev"] == "failed")
        .expect("the intruder reports why it failed");
    assert!(
        failure["error"]
            .as_str()
            .unwrap()
            .contains("UnreleasedInstanceId"),
        "{failure}"
    );
    assert_eq!(second.owned(), theirs);
    assert_eq!(other.ownership_changes().len(), changes);

    // Closed for longer than its session, the instance loses its partitions.
    second.terminate();
    let all: BTreeSet<u64> = (0..u64::from(PARTITIONS)).collect();
    wait_for(
        "the other member to take the expired instance's partitions",
        SESSION * 3,
        || other.owned() == all,
    );
}
