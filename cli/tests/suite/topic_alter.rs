//! Growing topics, changing their settings and deleting records through
//! Stratus's own API: `stratus topic alter|delete-records` over gRPC, and
//! the SDK's admin calls over QUIC, which reach the same topic
//! administration as Kafka's CreatePartitions, IncrementalAlterConfigs and
//! DeleteRecords.

use std::process::{Command, Output, Stdio};

use stratus_proto::v1::FetchRequest;
use stratus_sdk::{Client, TopicConfig};

use crate::common::DevServer;

fn stratus(server: &DevServer, args: &[&str], stdin: &str) -> Output {
    use std::io::Write as _;
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

fn ok(server: &DevServer, args: &[&str]) -> String {
    let output = stratus(server, args, "");
    assert!(
        output.status.success(),
        "stratus {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The error `stratus` printed, after checking it failed.
fn refused(server: &DevServer, args: &[&str]) -> String {
    let output = stratus(server, args, "");
    assert!(
        !output.status.success(),
        "stratus {args:?} should have failed: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8(output.stderr).unwrap()
}

/// The partition rows of `stratus topic describe`.
fn partitions(described: &str) -> usize {
    described
        .lines()
        .skip_while(|l| !l.contains("PARTITION"))
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .count()
}

fn setting<'a>(described: &'a str, name: &str) -> &'a str {
    described
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .map(str::trim)
        .unwrap_or_else(|| panic!("{name} is not described:\n{described}"))
}

#[test]
fn alter_checks_every_change_before_making_any() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    ok(
        &server,
        &[
            "topic",
            "create",
            "orders",
            "-p",
            "2",
            "-c",
            "retention.ms=3600000",
        ],
    );

    // A refused setting leaves the partitions as they were too.
    let error = refused(
        &server,
        &[
            "topic",
            "alter",
            "orders",
            "-p",
            "4",
            "-c",
            "retention.ms=0",
        ],
    );
    assert!(error.contains("retention.ms"), "{error}");
    let error = refused(
        &server,
        &["topic", "alter", "orders", "--reset", "retention"],
    );
    assert!(
        error.contains("\"retention\"") && error.contains("retention.ms"),
        "the error should name the setting and the valid ones: {error}"
    );
    let error = refused(&server, &["topic", "alter", "orders", "-p", "1"]);
    assert!(error.contains('2') && error.contains('1'), "{error}");
    let error = refused(&server, &["topic", "alter", "orders"]);
    assert!(error.contains("nothing to alter"), "{error}");
    let described = ok(&server, &["topic", "describe", "orders"]);
    assert_eq!(partitions(&described), 2, "{described}");
    assert_eq!(setting(&described, "retention.ms"), "3600000");

    let checked = ok(
        &server,
        &["topic", "alter", "orders", "-p", "8", "--validate-only"],
    );
    assert!(checked.contains("nothing was changed"), "{checked}");
    assert_eq!(
        partitions(&ok(&server, &["topic", "describe", "orders"])),
        2
    );

    let altered = ok(
        &server,
        &[
            "topic",
            "alter",
            "orders",
            "-p",
            "4",
            "-c",
            "max.message.bytes=2048",
            "--reset",
            "retention.ms",
        ],
    );
    let described = ok(&server, &["topic", "describe", "orders"]);
    assert_eq!(altered, described);
    assert_eq!(partitions(&described), 4, "{described}");
    assert_eq!(setting(&described, "max.message.bytes"), "2048");
    assert_eq!(
        setting(&described, "retention.ms"),
        (7 * 24 * 3600 * 1000).to_string(),
        "reset returns retention.ms to its default"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_records_are_gone_over_every_transport() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    ok(&server, &["topic", "create", "events", "-p", "1"]);
    let lines: String = (0..10).map(|i| format!("record-{i}\n")).collect();
    let output = stratus(&server, &["produce", "events", "-p", "0", "-q"], &lines);
    assert!(output.status.success(), "{output:?}");

    let moved = ok(
        &server,
        &[
            "topic",
            "delete-records",
            "events",
            "--partition",
            "0",
            "--before",
            "4",
        ],
    );
    assert!(moved.contains("now starts at offset 4"), "{moved}");
    let error = refused(
        &server,
        &[
            "topic",
            "delete-records",
            "events",
            "--partition",
            "0",
            "--before",
            "11",
        ],
    );
    assert!(error.contains("11"), "{error}");
    let error = refused(
        &server,
        &[
            "topic",
            "delete-records",
            "events",
            "--partition",
            "0",
            "--before",
            "-3",
        ],
    );
    assert!(error.contains("end"), "{error}");

    // The same calls over QUIC, through the SDK.
    let url = server.quic_url.clone().expect("stratus dev serves QUIC");
    let admin = Client::connect(&url).await.unwrap().admin();
    // A log start never moves back.
    assert_eq!(admin.delete_records("events", 0, Some(2)).await.unwrap(), 4);
    assert_eq!(admin.delete_records("events", 0, None).await.unwrap(), 10);
    let grown = admin.create_partitions("events", 3, false).await.unwrap();
    assert_eq!(grown.partitions.len(), 3);
    assert_eq!(grown.partitions[0].log_start_offset, 10);
    let set = TopicConfig {
        retention_bytes: Some(1 << 20),
        ..TopicConfig::default()
    };
    let altered = admin
        .alter_topic_config("events", set, &[], false)
        .await
        .unwrap();
    assert_eq!(altered.config.unwrap().retention_bytes, Some(1 << 20));

    let status = server
        .consumer()
        .await
        .fetch(FetchRequest {
            topic: "events".into(),
            partition: 0,
            offset: 5,
            max_bytes: 1 << 20,
            ..FetchRequest::default()
        })
        .await
        .expect_err("a fetch below the log start");
    assert_eq!(status.code(), tonic::Code::OutOfRange, "{status:?}");
}
