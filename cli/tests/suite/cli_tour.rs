//! The README's one-minute tour, run through the `stratus` binary itself.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::common::DevServer;

fn stratus(server: &DevServer, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stratus"))
        .args(args)
        .env("STRATUS_SERVER", &server.url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn stratus");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(stdin.unwrap_or("").as_bytes())
        .expect("write stdin");
    drop(input);
    child.wait_with_output().expect("wait")
}

fn ok(output: Output) -> String {
    assert!(
        output.status.success(),
        "stratus failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn topic_produce_consume_describe_delete() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());

    let created = ok(stratus(
        &server,
        &[
            "topic",
            "create",
            "greetings",
            "-p",
            "3",
            "-c",
            "retention.ms=3600000",
        ],
        None,
    ));
    assert!(
        created.contains("created topic greetings with 3 partitions"),
        "{created}"
    );

    let produced = ok(stratus(
        &server,
        &["produce", "greetings", "-K", ":", "-H", "source=tour"],
        Some("alice:hello\nbob:hi there\nalice:bye\n"),
    ));
    // alice's two records share a partition: one ack line covers both or they
    // arrive as separate calls; either way three records are acknowledged.
    assert!(produced.contains("greetings/"), "{produced}");

    let kv = ok(stratus(
        &server,
        &["consume", "greetings", "--format", "kv"],
        None,
    ));
    let mut lines: Vec<&str> = kv.lines().collect();
    lines.sort();
    assert_eq!(lines, vec!["alice\tbye", "alice\thello", "bob\thi there"]);

    let json = ok(stratus(
        &server,
        &["consume", "greetings", "--format", "json", "-n", "1"],
        None,
    ));
    let record: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(record["headers"]["source"], "tour");
    assert!(record["offset"].is_i64());

    let described = ok(stratus(&server, &["topic", "describe", "greetings"], None));
    assert!(
        described.contains("retention.ms       3600000"),
        "{described}"
    );
    let next_offsets: i64 = described
        .lines()
        .skip_while(|l| !l.contains("NEXT-OFFSET"))
        .skip(1)
        .map(|l| l.split_whitespace().last().unwrap().parse::<i64>().unwrap())
        .sum();
    assert_eq!(next_offsets, 3);

    let listed = ok(stratus(&server, &["topic", "list"], None));
    assert!(listed.contains("greetings"));
    ok(stratus(&server, &["topic", "delete", "greetings"], None));

    let missing = stratus(&server, &["consume", "greetings"], None);
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("stratus topic create greetings"),
        "{stderr}"
    );
}
