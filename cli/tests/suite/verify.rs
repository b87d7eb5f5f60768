//! `stratus verify`: clean against a running `stratus dev`, clean across
//! SIGKILLs of its own `--dev` child, and failing when acknowledged records
//! are gone (deleted below an offset, then checked against the first run's
//! acknowledgements).

use std::process::{Command, Output};

use serde_json::Value;

use crate::common::DevServer;

fn verify(args: &[&str]) -> (Output, Value) {
    let output = Command::new(env!("CARGO_BIN_EXE_stratus"))
        .arg("verify")
        .args(args)
        .arg("--json")
        .env_remove("STRATUS_SERVER")
        .output()
        .expect("run stratus verify");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report = serde_json::from_str(stdout.trim()).unwrap_or(Value::Null);
    (output, report)
}

fn explain(output: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn assert_clean(reader: &Value, records: u64) {
    assert_eq!(reader["read"], records, "{reader}");
    for figure in ["lost", "duplicated", "reordered", "gaps", "misplaced"] {
        assert_eq!(reader[figure], 0, "{figure} in {reader}");
    }
    assert_eq!(reader["timed_out"], false, "{reader}");
}

#[test]
fn a_dev_server_loses_nothing_for_plain_and_group_readers() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let (output, report) = verify(&[
        "--server",
        &server.url,
        "--topic",
        "verified",
        "--partitions",
        "3",
        "--producers",
        "3",
        "--records",
        "2000",
        "--group",
        "verifier",
    ]);
    assert!(output.status.success(), "{}", explain(&output));
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["sent"], 6000, "{report}");
    assert_eq!(report["acknowledged"], 6000, "{report}");
    assert_eq!(report["failed"], 0, "{report}");
    assert_eq!(report["partitions"], 3, "{report}");
    assert_clean(&report["plain"], 6000);
    assert_clean(&report["group"], 6000);
    assert_eq!(report["plain"]["unacknowledged_present"], 0, "{report}");

    // A second run on the same topic checks only its own records.
    let (output, report) = verify(&[
        "--server",
        &server.url,
        "--topic",
        "verified",
        "--producers",
        "2",
        "--records",
        "500",
    ]);
    assert!(output.status.success(), "{}", explain(&output));
    assert_clean(&report["plain"], 1000);
    assert_eq!(report["plain"]["foreign"], 0, "{report}");
}

#[test]
fn its_own_dev_child_sigkilled_every_two_seconds_loses_nothing() {
    let (output, report) = verify(&[
        "--dev",
        "--kill-every",
        "2s",
        "--duration",
        "10s",
        "--topic",
        "killed",
        "--producers",
        "2",
    ]);
    assert!(output.status.success(), "{}", explain(&output));
    assert!(report["kills"].as_u64().unwrap() >= 2, "{report}");
    let acknowledged = report["acknowledged"].as_u64().unwrap();
    assert!(acknowledged > 0, "{report}");
    assert_eq!(report["failed"], 0, "{report}");
    assert_clean(&report["plain"], acknowledged);
}

#[test]
fn deleted_acknowledged_records_fail_the_check() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let acks = dir.path().join("acks.json");
    let acks = acks.to_str().unwrap();
    let base = ["--server", &server.url, "--topic", "truncated"];
    let (output, report) = verify(
        &[
            &base[..],
            &["--partitions", "2", "--producers", "2", "--records", "300"],
            &["--acks", acks],
        ]
        .concat(),
    );
    assert!(output.status.success(), "{}", explain(&output));
    assert_eq!(report["acknowledged"], 600, "{report}");

    let deleted = Command::new(env!("CARGO_BIN_EXE_stratus"))
        .args(["topic", "delete-records", "truncated", "--partition", "0"])
        .args(["--before", "100", "--server", &server.url])
        .output()
        .unwrap();
    assert!(deleted.status.success(), "{}", explain(&deleted));

    let (output, report) = verify(&[&base[..], &["--check-only", "--acks", acks]].concat());
    assert_eq!(output.status.code(), Some(1), "{}", explain(&output));
    assert_eq!(report["ok"], false, "{report}");
    assert_eq!(report["plain"]["lost"], 100, "{report}");
    assert_eq!(report["plain"]["read"], 500, "{report}");
    assert_eq!(report["plain"]["gaps"], 0, "{report}");
}

#[test]
fn bad_arguments_exit_2() {
    for args in [
        &["--topic", "t", "--kill-every", "2s"][..],
        &["--topic", "t", "--check-only"][..],
        &["--topic", "t", "--records", "5", "--duration", "1s"][..],
        &["--topic", "t", "--dev", "--kill-every", "1ms"][..],
    ] {
        let (output, _) = verify(args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            explain(&output)
        );
    }
}
