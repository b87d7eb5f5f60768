//! The same Kafka client operations against Apache Kafka and against
//! `stratus dev`, compared by what the client observes
//! (`testkit/kafka/diff/`): produce with each acks setting, idempotent
//! produce, fetches at the end, past it, below the log start and inside a
//! batch, ListOffsets by timestamp and max timestamp, configs (describe with
//! defaults and sources, create with, alter, delete), topics and partitions
//! (create, validate-only, invalid, existing, grow, shrink, delete),
//! DeleteRecords, the errors for unknown topics and oversized batches, and
//! consumer groups (through the client, and in raw frames the refusals of
//! the classic protocol: stale generations, unknown members, mismatched
//! protocols).
//! Every step must agree, or be listed in
//! `testkit/kafka/diff/known-differences.json` with its reason (see
//! docs/kafka.md); a listed step that agrees fails the test too, so the list
//! stays true.
//!
//! Apache Kafka 4.x is installed by `scripts/install-apache-kafka` and run
//! by `scripts/apache-kafka`; the client by `scripts/install-kafka-clients`.
//! A missing one fails the test with that instruction.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::DevServer;
use crate::common::apache_kafka::ApacheKafka;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn stratus_and_apache_kafka_look_the_same_to_a_client() {
    let kafka = ApacheKafka::start();
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let stratus = server
        .kafka
        .clone()
        .expect("stratus dev printed no kafka address");
    let output = Command::new("python3")
        .arg(root().join("testkit/kafka/diff/compare.py"))
        .args(["--reference", &kafka.bootstrap, "--subject", &stratus])
        .output()
        .expect("run testkit/kafka/diff/compare.py (python3 must be on PATH)");
    let report = String::from_utf8_lossy(&output.stdout);
    eprintln!("{report}{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        output.status.success(),
        "Stratus and Apache Kafka differ where no known difference says why:\n{report}"
    );
    assert!(
        report.contains(" 0 unexplained or stale"),
        "the comparison ran to its verdict:\n{report}"
    );
}
