//! Topic administration over the Kafka protocol with a real client:
//! confluent-kafka's AdminClient (testkit/kafka/python/admin_confluent.py)
//! against `stratus dev` adds partitions (and produces to and reads from
//! them, keys hashed over the new count), alters topic configs (SET,
//! DELETE, validate_only, refusals; max.message.bytes then applies to
//! produce, and a shortened retention.ms is applied by the in-process
//! compactor), deletes records (the low watermark, fetches and ListOffsets
//! follow) and lists offsets by max timestamp. Then a consumer group's
//! offsets, administered as `kafka-consumer-groups` does.
//!
//! The client is installed by `scripts/install-kafka-clients`; a missing one
//! fails the test with that instruction.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::DevServer;

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

#[test]
fn admin_client_changes_topics_and_their_records() {
    let python = venv_python();
    let dir = tempfile::tempdir().unwrap();
    // A short compactor interval, so the retention change is applied soon.
    let server = DevServer::start_with_env(dir.path(), &[("STRATUS_COMPACTOR__INTERVAL", "1s")]);
    let kafka = server.kafka_bootstrap();
    let output = Command::new(python)
        .arg(root().join("testkit/kafka/python/admin_confluent.py"))
        .args(["--bootstrap", &kafka, "--broker", "stratus", "--retention"])
        .args(["--topic", "admin", "--timeout", "60"])
        .output()
        .expect("run testkit/kafka/python/admin_confluent.py");
    let report = String::from_utf8_lossy(&output.stdout);
    eprintln!("{report}{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        output.status.success(),
        "an admin check failed against stratus (a missing confluent-kafka is installed by \
         scripts/install-kafka-clients):\n{report}"
    );
    for check in [
        "grow to 4",
        "a new partition reads back",
        "max.message.bytes applies",
        "broker configs refused",
        "delete records before 4",
        "max timestamp among what is left",
        "the compactor applies the new retention",
    ] {
        assert!(
            report.lines().any(|l| l == format!("ok {check}")),
            "{check:?} did not run:\n{report}"
        );
    }
}

/// What `kafka-consumer-groups` does, through Kafka admin clients
/// (testkit/kafka/python/group_admin_confluent.py): list, describe, list
/// committed offsets, reset to an offset (and a restarted member resumes
/// there), delete one partition's offset (refused with
/// GROUP_SUBSCRIBED_TO_TOPIC while a member subscribes), delete the group.
#[test]
fn admin_clients_manage_a_groups_offsets() {
    let python = venv_python();
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let kafka = server.kafka_bootstrap();
    let output = Command::new(python)
        .arg(root().join("testkit/kafka/python/group_admin_confluent.py"))
        .args(["--bootstrap", &kafka, "--topic", "group-admin"])
        .output()
        .expect("run testkit/kafka/python/group_admin_confluent.py");
    let report = String::from_utf8_lossy(&output.stdout);
    eprintln!("{report}{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        output.status.success(),
        "a group admin check failed against stratus:\n{report}"
    );
    for check in [
        "delete offsets of a subscribed topic is refused",
        "reset to an offset",
        "consumption resumes at the reset offset",
        "only that offset is gone",
        "delete the group",
    ] {
        assert!(
            report.lines().any(|l| l == format!("ok {check}")),
            "{check:?} did not run:\n{report}"
        );
    }
}
