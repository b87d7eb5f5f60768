//! Kafka's own command-line tools for consumer groups
//! (`kafka-consumer-groups`, `ConsumerGroupCommand` from kafka-tools 4.4) and
//! topics (`kafka-topics`) against Apache Kafka and against `stratus dev`:
//! list, describe with lag, reset offsets (to latest, earliest, an offset,
//! a shift, a datetime, past the end, a dry run), delete one partition's
//! offset and the group, refused for a live group
//! (`testkit/kafka/diff/group_tools.py`). What the tools report must be the
//! same, step by step.
//!
//! The tools and the reference broker come from
//! `scripts/install-apache-kafka`, the client from
//! `scripts/install-kafka-clients`; a missing one fails the test with that
//! instruction.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::DevServer;
use crate::common::apache_kafka::ApacheKafka;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// What the tools reported against `bootstrap`: step -> observation.
fn observe(bootstrap: &str) -> serde_json::Map<String, serde_json::Value> {
    let python = root().join("target/py-venv/kafka/bin/python");
    assert!(
        python.exists(),
        "{} is missing; install the Kafka clients with scripts/install-kafka-clients",
        python.display()
    );
    let output = Command::new(python)
        .arg(root().join("testkit/kafka/diff/group_tools.py"))
        .args(["--bootstrap", bootstrap])
        .output()
        .expect("run testkit/kafka/diff/group_tools.py");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "group_tools.py against {bootstrap} failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    match serde_json::from_str(stdout.trim()) {
        Ok(serde_json::Value::Object(steps)) => steps,
        other => panic!("group_tools.py printed no observations ({other:?}): {stdout}"),
    }
}

#[test]
fn kafkas_group_tools_report_the_same_on_stratus_and_apache_kafka() {
    let reference = {
        let kafka = ApacheKafka::start();
        observe(&kafka.bootstrap)
    };
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let stratus = observe(&server.kafka_bootstrap());

    let mut differences = Vec::new();
    for (step, expected) in &reference {
        let got = stratus.get(step);
        eprintln!("{step}: {expected}");
        if got != Some(expected) {
            differences.push(format!(
                "{step}:\n  kafka:   {expected}\n  stratus: {}",
                got.map_or("(missing)".to_owned(), ToString::to_string)
            ));
        }
    }
    assert_eq!(reference.len(), stratus.len(), "the same steps ran");
    assert!(reference.len() >= 15, "every step ran: {reference:?}");
    assert!(
        differences.is_empty(),
        "Kafka's tools report differently:\n{}",
        differences.join("\n")
    );
}
