//! `stratus produce` reports every record it got acknowledged, also when a
//! later one fails: a user who sends again what was not reported must not
//! write anything twice. Before, acknowledgements merged into a run still
//! waiting to be printed were dropped when a later delivery failed.

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::common::DevServer;

fn stratus(server: &DevServer, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stratus"))
        .args(args)
        .env("STRATUS_SERVER", &server.url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn stratus");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin.as_bytes()).expect("write stdin");
    drop(input);
    child.wait_with_output().expect("wait")
}

/// Offsets of partition 0 named by `topic/0@N` and `topic/0@A..=B` lines.
fn acknowledged(stdout: &str) -> BTreeSet<i64> {
    let mut offsets = BTreeSet::new();
    for line in stdout.lines() {
        let (_, range) = line
            .split_once("/0@")
            .unwrap_or_else(|| panic!("not an acknowledgement line: {line:?}"));
        let (first, last) = range.split_once("..=").unwrap_or((range, range));
        offsets.extend(first.parse::<i64>().unwrap()..=last.parse::<i64>().unwrap());
    }
    offsets
}

#[test]
fn every_acknowledged_record_is_printed_before_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let created = stratus(
        &server,
        &["topic", "create", "acks", "-c", "max.message.bytes=1000"],
        "",
    );
    assert!(created.status.success(), "{created:?}");

    // Many small lines, sent in small batches and acknowledged while later
    // ones are still queued for the printer, then one the topic refuses.
    let mut input = String::new();
    for i in 0..400 {
        input.push_str(&format!("small record {i}\n"));
    }
    let refused_line = 401;
    input.push_str(&"x".repeat(2_000));
    input.push('\n');
    for i in 0..50 {
        input.push_str(&format!("after {i}\n"));
    }
    let produced = stratus(
        &server,
        &["produce", "acks", "-p", "0", "--batch-bytes", "512"],
        &input,
    );
    let stdout = String::from_utf8(produced.stdout).unwrap();
    let stderr = String::from_utf8(produced.stderr).unwrap();
    assert!(
        !produced.status.success(),
        "a refused record must fail the command: {stderr}"
    );
    assert!(
        stderr.contains(&format!("line {refused_line} was not acknowledged"))
            && stderr.contains("max.message.bytes"),
        "stderr must name the refused line and why: {stderr}"
    );
    let printed = acknowledged(&stdout);
    assert!(
        printed.len() >= 300,
        "the lines before the refused one were acknowledged: {} printed\n{stderr}",
        printed.len()
    );

    // Every record in the topic was reported on stdout, and nothing else.
    let consumed = stratus(&server, &["consume", "acks", "--format", "json"], "");
    assert!(consumed.status.success(), "{consumed:?}");
    let stored: BTreeSet<i64> = String::from_utf8(consumed.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let record: serde_json::Value = serde_json::from_str(line).unwrap();
            record["offset"].as_i64().unwrap()
        })
        .collect();
    let unreported: Vec<_> = stored.difference(&printed).collect();
    assert!(
        unreported.is_empty(),
        "{} records were written but never reported (sending the unreported lines again \
         writes them twice): {:?}",
        unreported.len(),
        unreported.iter().take(10).collect::<Vec<_>>()
    );
    assert!(
        printed.is_subset(&stored),
        "reported records must be in the topic"
    );
}

#[test]
fn produce_help_describes_the_acknowledgement_output() {
    let help = Command::new(env!("CARGO_BIN_EXE_stratus"))
        .args(["produce", "--help"])
        .output()
        .expect("run stratus produce --help");
    assert!(help.status.success());
    let help = String::from_utf8(help.stdout).unwrap();
    for needle in [
        "TOPIC/PARTITION@OFFSET",
        "TOPIC/PARTITION@FIRST..=LAST",
        "was not acknowledged",
        "exits with status 1",
    ] {
        assert!(help.contains(needle), "--help lacks {needle:?}:\n{help}");
    }
}
