//! A real Kafka client against the listener: kcat (librdkafka) lists
//! metadata, produces and consumes through a `KafkaListener` over the
//! in-memory broker. kcat must be installed (`scripts/install-kafka-clients`).

mod support;

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use stratus_kafka::{KafkaConfig, KafkaListener};
use support::FakeBroker;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;
use tokio::time::timeout;

const KCAT_TIMEOUT: Duration = Duration::from_secs(30);

async fn kcat(args: &[&str], stdin: Option<&str>) -> String {
    let mut cmd = Command::new("kcat");
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .expect("kcat is not installed; run scripts/install-kafka-clients (Debian package kcat)");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(input.as_bytes()).await.unwrap();
    }
    let out = timeout(KCAT_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("kcat {args:?} did not finish"))
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "kcat {args:?} failed: {stderr}");
    assert!(!stderr.contains("ERROR"), "kcat {args:?}: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn kcat_lists_produces_and_consumes() {
    let listener = KafkaListener::bind(KafkaConfig {
        listen: ([127, 0, 0, 1], 0).into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let (host, port) = listener.advertised();
    let broker = Arc::new(FakeBroker::with_topics(&[("orders", 2)]));
    broker.advertise(&host, port);
    let serving = tokio::spawn(listener.serve(Arc::clone(&broker), std::future::pending()));
    let bootstrap = format!("{host}:{port}");

    let listing = kcat(&["-b", &bootstrap, "-L"], None).await;
    assert!(
        listing.contains("topic \"orders\" with 2 partitions"),
        "{listing}"
    );
    assert!(
        listing.contains(&format!("broker 1 at {bootstrap}")),
        "{listing}"
    );

    kcat(
        &["-b", &bootstrap, "-P", "-t", "orders", "-p", "1"],
        Some("one\ntwo\nthree\n"),
    )
    .await;
    assert_eq!(broker.next_offset("orders", 1), 3);

    let consumed = kcat(
        &[
            "-b",
            &bootstrap,
            "-C",
            "-t",
            "orders",
            "-p",
            "1",
            "-o",
            "beginning",
            "-e",
            "-q",
        ],
        None,
    )
    .await;
    assert_eq!(consumed, "one\ntwo\nthree\n");
    // From the middle: the first batch is served whole, the client skips.
    let tail = kcat(
        &[
            "-b", &bootstrap, "-C", "-t", "orders", "-p", "1", "-o", "1", "-e", "-q",
        ],
        None,
    )
    .await;
    assert_eq!(tail, "two\nthree\n");
    serving.abort();
}
