//! `stratus status --gateways` against two `stratus dev` processes on one
//! PostgreSQL metadata store (scripts/install-postgres; without it the test
//! fails naming that script): both are listed with their ids, advertised
//! Kafka addresses, zones and live leases; one SIGKILLed drops out once its
//! lease runs out and the other evicts it.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::common::DevServer;
use stratus_testkit::PostgresServer;

/// How long a gateway's registration lives without renewal (the Kafka
/// listener's lease), plus time for the survivor's next renewal to evict it.
const LEASE_AND_RENEWAL: Duration = Duration::from_secs(10 + 3);

fn gateway(root: &Path, name: &str, postgres: &PostgresServer, zone: &str) -> DevServer {
    let wal = format!("file://{}", root.join("wal").display());
    std::fs::create_dir_all(root.join("wal")).expect("create wal dir");
    let url = postgres.url();
    DevServer::start_with_env(
        &root.join(name),
        &[
            ("STRATUS_METADATA", url.as_str()),
            ("STRATUS_WAL", wal.as_str()),
            ("STRATUS_KAFKA__ZONE", zone),
        ],
    )
}

fn status(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stratus"))
        .arg("status")
        .args(args)
        .env_remove("STRATUS_METADATA")
        .env_remove("STRATUS_GATEWAY__CLUSTER")
        .output()
        .expect("run stratus status")
}

fn gateways_json(postgres: &PostgresServer) -> serde_json::Value {
    let url = postgres.url();
    let output = status(&["--gateways", "--metadata", &url, "--json"]);
    assert!(
        output.status.success(),
        "stratus status --gateways failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("--json prints one JSON object")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_lists_the_gateways_of_a_shared_postgres_store() {
    let postgres = PostgresServer::start();
    let root = tempfile::tempdir().expect("temp dir");
    let a = gateway(root.path(), "a", &postgres, "zone-a");
    let b = gateway(root.path(), "b", &postgres, "zone-b");

    let view = gateways_json(&postgres);
    assert_eq!(view["cluster"], "default");
    assert!(view["generation"].as_i64().unwrap() >= 2, "{view}");
    let listed = view["gateways"].as_array().expect("gateways");
    assert_eq!(listed.len(), 2, "{view}");
    let mut seen: Vec<(String, String)> = listed
        .iter()
        .map(|g| {
            let remaining = g["lease_remaining_ms"].as_i64().unwrap();
            assert!(
                remaining > 0 && remaining <= 10_000,
                "a live gateway's lease ends within 10 s: {g}"
            );
            assert!(g["grpc"].as_str().is_some_and(|s| !s.is_empty()), "{g}");
            (
                g["kafka"].as_str().unwrap().to_owned(),
                g["zone"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    seen.sort();
    let mut expected = vec![
        (a.kafka_bootstrap(), "zone-a".to_owned()),
        (b.kafka_bootstrap(), "zone-b".to_owned()),
    ];
    expected.sort();
    assert_eq!(seen, expected);
    let ids: Vec<u64> = listed.iter().map(|g| g["id"].as_u64().unwrap()).collect();
    assert_ne!(ids[0], ids[1], "gateway ids are unique");

    // The table has a row per gateway, under a header.
    let url = postgres.url();
    let table = status(&["--gateways", "--metadata", &url]);
    assert!(table.status.success());
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(table.starts_with("cluster default  generation "), "{table}");
    assert!(table.contains("2 gateways"), "{table}");
    assert!(
        table.contains(&a.kafka_bootstrap()) && table.contains("zone-b"),
        "{table}"
    );
    assert!(
        table.contains("LEASE UNTIL") && table.contains("(in "),
        "{table}"
    );

    // Another cluster name in the same store has no gateways.
    let other = status(&["--gateways", "--metadata", &url, "--cluster", "other"]);
    assert!(
        String::from_utf8_lossy(&other.stdout).contains("no gateway is registered"),
        "{other:?}"
    );

    // SIGKILL: a deregisters nothing; its lease runs out and b evicts it.
    let b_kafka = b.kafka_bootstrap();
    a.kill();
    let deadline = Instant::now() + LEASE_AND_RENEWAL + Duration::from_secs(10);
    loop {
        let view = gateways_json(&postgres);
        let listed = view["gateways"].as_array().unwrap();
        if listed.len() == 1 {
            assert_eq!(listed[0]["kafka"], b_kafka.as_str(), "{view}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the killed gateway is still registered: {view}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[test]
fn status_gateways_without_a_shared_store_says_what_to_pass() {
    let missing = status(&["--gateways"]);
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("--metadata"), "{stderr}");

    let private = status(&["--gateways", "--metadata", "embedded"]);
    assert!(!private.status.success());
    let stderr = String::from_utf8_lossy(&private.stderr);
    assert!(stderr.contains("private to one process"), "{stderr}");
}
