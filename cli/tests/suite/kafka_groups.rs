//! Kafka consumer groups (the classic protocol) on `stratus dev`'s Kafka
//! listener, with real clients as separate processes: three confluent-kafka
//! consumers (librdkafka) in one group on a 12-partition topic under
//! produce, once per assignor (range, roundrobin, cooperative-sticky; the
//! assignment is the clients' own, the gateway stores and hands out their
//! bytes). Every delivered record must be consumed, every partition owned
//! by exactly one live member in steady state, and a SIGKILLed member's
//! partitions must move to the others within the session timeout plus one
//! rebalance (`testkit/kafka/python/group_members_confluent.py`). The
//! committed offsets are the group's Stratus offsets: the CLI describes them.

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

fn three_members(server: &DevServer, kafka: &str, assignor: &str) {
    let topic = format!("members-{assignor}");
    let output = Command::new(venv_python())
        .arg(root().join("testkit/kafka/python/group_members_confluent.py"))
        .args([
            "--bootstrap",
            kafka,
            "--topic",
            &topic,
            "--assignor",
            assignor,
        ])
        .args([
            "--partitions",
            "12",
            "--members",
            "3",
            "--session-ms",
            "6000",
        ])
        .args(["--timeout", "90"])
        .output()
        .expect("run group_members_confluent.py");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary = stdout
        .lines()
        .rfind(|l| l.starts_with('{'))
        .unwrap_or_else(|| {
            panic!(
                "{assignor}: no summary; stderr:\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
    eprintln!("{assignor}: {summary}");
    let summary: serde_json::Value = serde_json::from_str(summary).unwrap();
    assert!(
        output.status.success() && summary["ok"] == true,
        "{assignor}: {summary}"
    );
    assert_eq!(summary["missing"], 0, "{assignor}: {summary}");
    assert!(summary["produced"].as_u64().unwrap() > 0);
    // The group's commits are the same committed offsets Stratus groups
    // use: `stratus group describe` shows them.
    let describe = Command::new(env!("CARGO_BIN_EXE_stratus"))
        .args(["group", "describe", &format!("{topic}-group")])
        .args(["--server", &server.url])
        .output()
        .expect("run stratus group describe");
    let shown = String::from_utf8_lossy(&describe.stdout);
    assert!(
        describe.status.success() && shown.contains(&topic),
        "{assignor}: the CLI does not show the group's committed offsets:\n{shown}{}",
        String::from_utf8_lossy(&describe.stderr)
    );
}

#[test]
fn three_confluent_consumers_share_partitions_and_take_over_a_killed_one() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let kafka = server
        .kafka
        .clone()
        .expect("stratus dev printed no kafka address");
    for assignor in ["range", "roundrobin", "cooperative-sticky"] {
        three_members(&server, &kafka, assignor);
    }
}
