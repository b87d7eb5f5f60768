//! Kafka Streams (org.apache.kafka:kafka-streams 4.4, from Maven Central) on
//! Stratus: the word count of `testkit/kafka/streams/src/WordCount.java`,
//! whose `groupBy` writes a repartition topic and whose `count` keeps its
//! store in a changelog topic, at-least-once, gives the same counts against
//! Stratus as against Apache Kafka. On Stratus its second run starts from an
//! empty state directory, so the store is restored from the changelog, while
//! the gateway is SIGKILLed and restarted on the same port under it.
//!
//! Kafka Streams is installed by `scripts/install-kafka-clients`, Apache
//! Kafka by `scripts/install-apache-kafka`; a missing one fails the test with
//! that instruction.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use stratus_proto::v1::ListTopicsRequest;

use crate::common::apache_kafka::ApacheKafka;
use crate::common::{DevServer, free_port};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

const APP_ID: &str = "word-count";
const INPUT: &str = "lines";
const OUTPUT: &str = "word-counts";
/// Lines the first run produces and counts; the second run adds as many more.
const FIRST: u32 = 300;
const SECOND: u32 = 200;

/// One WordCount run against `bootstrap`: produce lines `start..start+count`,
/// then count until the output holds every word's count over all lines so far.
/// Its stderr lines are echoed and sent on `progress`.
fn word_count(bootstrap: &str, start: u32, count: u32, progress: mpsc::Sender<String>) -> Child {
    let lib = root().join("target/kafka-streams/lib");
    assert!(
        lib.exists(),
        "{} is missing; install Kafka Streams with scripts/install-kafka-clients",
        lib.display()
    );
    let classpath = format!(
        "{}:{}/*",
        root().join("target/kafka-streams/classes").display(),
        lib.display()
    );
    let mut child = Command::new("java")
        .args(["-cp", &classpath, "WordCount", "--bootstrap", bootstrap])
        .args(["--input", INPUT, "--output", OUTPUT, "--app-id", APP_ID])
        .args(["--start", &start.to_string(), "--count", &count.to_string()])
        .args(["--timeout", "180"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run java (installed by scripts/install-kafka-clients)");
    let stderr = child.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("{line}");
            let _ = progress.send(line);
        }
    });
    child
}

/// The run's JSON verdict, after it exits successfully.
fn verdict(child: Child) -> serde_json::Value {
    let output = child.wait_with_output().expect("wait for WordCount");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let verdict: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("WordCount printed no verdict ({e}): {stdout:?}"));
    assert!(
        output.status.success() && verdict["ok"] == true,
        "WordCount failed ({}): {verdict}",
        output.status
    );
    verdict
}

fn both_runs(bootstrap: &str) -> serde_json::Value {
    let (tx, _rx) = mpsc::channel();
    verdict(word_count(bootstrap, 0, FIRST, tx.clone()));
    verdict(word_count(bootstrap, FIRST, SECOND, tx))
}

#[tokio::test(flavor = "multi_thread")]
async fn word_count_gives_apache_kafkas_counts_and_survives_a_gateway_restart() {
    let reference = {
        let kafka = ApacheKafka::start();
        both_runs(&kafka.bootstrap)
    };

    let dir = tempfile::tempdir().unwrap();
    let kafka_listen = format!("127.0.0.1:{}", free_port());
    let start = || DevServer::start_with(dir.path(), &["--kafka-listen", &kafka_listen]);
    let server = start();
    let (tx, _rx) = mpsc::channel();
    verdict(word_count(&kafka_listen, 0, FIRST, tx));

    // The second run restores the counts from the changelog (its state
    // directory is new) while the gateway is killed under it.
    let (tx, progress) = mpsc::channel();
    let second = word_count(&kafka_listen, FIRST, SECOND, tx);
    progress
        .iter()
        .find(|line| line.contains("streams REBALANCING"))
        .expect("WordCount exited before its stream started");
    server.kill();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let server = start();
    let stratus = verdict(second);

    assert_eq!(
        stratus["counts"], reference["counts"],
        "Stratus and Apache Kafka count differently"
    );
    assert_eq!(stratus["counts"], stratus["expected"]);
    assert_eq!(stratus["lines"], FIRST + SECOND);

    let topics: Vec<String> = server
        .admin()
        .await
        .list_topics(ListTopicsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .topics
        .into_iter()
        .map(|t| t.name)
        .collect();
    for internal in [
        format!("{APP_ID}-words-repartition"),
        format!("{APP_ID}-counts-changelog"),
    ] {
        assert!(
            topics.contains(&internal),
            "{internal} is not among {topics:?}"
        );
    }
}
