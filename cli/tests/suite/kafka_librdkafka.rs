//! librdkafka's own test suite against `stratus dev`'s Kafka listener: the
//! tests of `testkit/kafka/librdkafka/allowlist.txt`, from the source of the
//! librdkafka Debian ships, each in a test-runner process of its own
//! (`testkit/kafka/librdkafka/run.py`). They exercise librdkafka's producer
//! (acks, batching, compression, headers, timestamps, idempotence, message
//! sizes, partitioners, retries over stalled sockets), its consumers (simple,
//! assigning, and in groups: subscriptions, rebalances, offset commits),
//! fetch limits and its admin client against a broker written to Kafka's
//! specification rather than against Kafka;
//! `testkit/kafka/librdkafka/findings.md` says why each test left out fails.
//!
//! The suite's default scenario is a broker that creates topics on first use
//! with 4 partitions, so the gateway does too; the tests of its
//! "noautocreate" scenario (`allowlist-noautocreate.txt`) run against a
//! gateway that does not. The runner is built by
//! `scripts/install-librdkafka-tests`; without it the tests fail saying so.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::DevServer;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The test runner scripts/install-librdkafka-tests builds.
fn runner() -> PathBuf {
    let dir = root().join("target/librdkafka-tests");
    let found = std::fs::read_dir(&dir).ok().and_then(|entries| {
        entries
            .filter_map(Result::ok)
            .map(|e| e.path().join("tests/test-runner"))
            .find(|p| p.exists())
    });
    found.unwrap_or_else(|| {
        panic!(
            "librdkafka's test runner is missing under {}; build it with \
             scripts/install-librdkafka-tests",
            dir.display()
        )
    })
}

/// Runs the tests of `list` (in `testkit/kafka/librdkafka/`) against a
/// fresh `stratus dev` started with `env`, in the suite's `scenario`.
fn run_allowlist(list: &str, scenario: &str, env: &[(&str, &str)]) {
    let runner = runner();
    let allowlist = root().join("testkit/kafka/librdkafka").join(list);
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start_with_env(dir.path(), env);
    let kafka = server
        .kafka
        .clone()
        .expect("stratus dev printed no kafka address");
    let output = Command::new("python3")
        .arg(root().join("testkit/kafka/librdkafka/run.py"))
        .args(["--bootstrap", &kafka, "--scenario", scenario])
        .arg("--tests")
        .arg(&allowlist)
        // Most of these tests wait on timers (message timeouts, stalled
        // sockets, idle connections, group rebalance delays), so four at
        // once take a quarter of the time without starving the two cores.
        .args(["--jobs", "4", "--timeout", "120", "--verbose"])
        .output()
        .expect("run testkit/kafka/librdkafka/run.py (python3 must be on PATH)");
    let report = String::from_utf8_lossy(&output.stdout);
    eprintln!("{report}{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        output.status.success(),
        "an allowlisted librdkafka test ({list}) failed against stratus ({}):\n{report}",
        runner.display()
    );
    let listed = std::fs::read_to_string(&allowlist)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .count();
    assert_eq!(
        report.lines().filter(|l| l.starts_with("pass ")).count(),
        listed,
        "every test of {list} ran and passed (none skipped):\n{report}"
    );
}

#[test]
fn librdkafka_tests_pass_with_topics_created_on_first_use() {
    // The suite's default scenario: a broker that creates a topic with 4
    // partitions when a client first names it.
    run_allowlist(
        "allowlist.txt",
        "default",
        &[
            ("STRATUS_KAFKA__AUTO_CREATE_TOPICS", "true"),
            ("STRATUS_KAFKA__DEFAULT_PARTITIONS", "4"),
        ],
    );
}

#[test]
fn librdkafka_tests_pass_without_auto_creation() {
    // The "noautocreate" scenario is the gateway's own default.
    run_allowlist(
        "allowlist-noautocreate.txt",
        "noautocreate",
        &[("STRATUS_KAFKA__DEFAULT_PARTITIONS", "4")],
    );
}
