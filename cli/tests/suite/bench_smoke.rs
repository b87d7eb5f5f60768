//! `stratus bench` end to end on the smoke workload: it starts its own
//! `stratus dev` (and `nats-server`, when installed), reached over gRPC or
//! over its Kafka listener through librdkafka, runs a few seconds of
//! keyed produce with two subscriptions, and writes results. Asserts only
//! that results exist and are consistent: every acknowledged record received
//! exactly once by each subscription, no errors. Never a timing assertion.

use std::path::Path;
use std::process::Command;

fn workload() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../loadtests/workloads/smoke.yaml")
        .display()
        .to_string()
}

fn bench(driver: &str) -> serde_json::Value {
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_stratus"))
        .args(["bench", &workload(), "--driver", driver, "--json", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "stratus bench failed:\n{stderr}");
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("results.json")).unwrap()).unwrap();
    assert_eq!(printed, written, "stdout and results.json differ");
    assert!(
        out.path().join("run0-phase0.png").exists() || stderr.contains("no plots"),
        "neither a plot nor a reason for its absence:\n{stderr}"
    );
    written
}

fn check_consistent(report: &serde_json::Value) {
    let run = &report["runs"][0];
    let acked = run["records_acknowledged"].as_u64().unwrap();
    assert!(acked > 0, "nothing acknowledged: {run}");
    let received: Vec<u64> = run["records_received_per_subscription"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(
        received,
        vec![acked, acked],
        "each subscription gets every record once"
    );
    assert_eq!(run["consistent"], true);
    let phase = &run["phases"][0];
    assert_eq!(phase["errors"], 0);
    assert!(phase["ack"]["count"].as_u64().unwrap() > 0);
    assert!(phase["ack"]["p50_ms"].as_f64().unwrap() <= phase["ack"]["p99_ms"].as_f64().unwrap());
}

#[test]
fn stratus_smoke_workload_is_consistent_and_counts_requests() {
    let report = bench("stratus");
    check_consistent(&report);
    let run = &report["runs"][0];
    assert!(
        run["object_store_requests"]["put"].as_u64().unwrap() > 0,
        "{run}"
    );
    assert!(
        run["broker"]["peak_rss_bytes"].as_u64().unwrap() > 0,
        "{run}"
    );
    assert_eq!(run["costs"].as_array().unwrap().len(), 2);
}

#[test]
fn stratus_kafka_smoke_workload_is_consistent() {
    let report = bench("stratus-kafka");
    check_consistent(&report);
    let run = &report["runs"][0];
    assert_eq!(run["client_settings"]["producer acks"], "all", "{run}");
    assert!(
        run["driver"].as_str().unwrap().starts_with("stratus-kafka"),
        "{run}"
    );
}

#[test]
fn nats_smoke_workload_is_consistent() {
    if Command::new("nats-server")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!(
            "SKIPPED: nats-server is not installed; scripts/install-bench-peers installs it \
             (scripts/test runs that)"
        );
        return;
    }
    check_consistent(&bench("nats"));
}

#[test]
fn a_bad_workload_is_refused_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(
        &path,
        "name: bad\npartitions_per_topic: 0\nmessage_size: 1024\nwarmup_duration: 1s\ntest_duration: 1s\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_stratus"))
        .args(["bench"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("partitions_per_topic"), "{stderr}");
}
