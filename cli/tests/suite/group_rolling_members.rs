//! Graceful rebalances deliver no record to two members: while records are
//! produced, a `stratus consume --group` member joins every second and the
//! oldest leaves cleanly (SIGTERM), round after round. A clean leave commits
//! what was printed and a moved partition is released only at its owner's
//! next poll, so every record is printed by exactly one member.
//!
//! The original report ran 30 rounds under 3,000 records/s; this runs
//! `ROUNDS` rounds under about `RATE` records/s to stay within the suite's
//! time, with the same shape.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use stratus_sdk::{Client, ProducerConfig, ProducerRecord, TopicConfig};

use crate::common::DevServer;

const TOPIC: &str = "rolling";
const GROUP: &str = "rolling-group";
const PARTITIONS: u32 = 6;
const ROUNDS: usize = 10;
/// Records per second the producer aims for.
const RATE: u64 = 1_000;

/// Who printed each record: (partition, offset) to member numbers.
type Printed = Arc<Mutex<BTreeMap<(u32, i64), Vec<usize>>>>;

/// One member process, its stdout read into `printed`.
struct Member {
    child: Child,
    reader: std::thread::JoinHandle<()>,
}

fn start_member(server: &DevServer, number: usize, printed: &Printed) -> Member {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stratus"))
        .args(["consume", TOPIC, "--group", GROUP, "--format", "json"])
        .args(["--commit-interval", "1s", "--session-timeout", "10s"])
        .env("STRATUS_SERVER", &server.url)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn stratus consume --group");
    let stdout = child.stdout.take().unwrap();
    let printed = Arc::clone(printed);
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let record: serde_json::Value = serde_json::from_str(&line).unwrap();
            let key = (
                record["partition"].as_u64().unwrap() as u32,
                record["offset"].as_i64().unwrap(),
            );
            printed.lock().unwrap().entry(key).or_default().push(number);
        }
    });
    Member { child, reader }
}

/// SIGTERM: the member commits what it printed and leaves the group.
fn leave(mut member: Member) {
    let status = Command::new("kill")
        .args(["-TERM", &member.child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    let exit = member.child.wait().expect("wait");
    assert!(
        exit.success(),
        "a member leaving cleanly exited with {exit}"
    );
    member.reader.join().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_joining_and_leaving_cleanly_print_no_record_twice() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let client = Client::connect(&server.url).await.unwrap();
    client
        .admin()
        .create_topic(TOPIC, PARTITIONS, TopicConfig::default())
        .await
        .unwrap();

    // Produce at about RATE records/s until told to stop.
    let producer = client.producer(ProducerConfig::default()).await.unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let producing = {
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            let (mut sent, mut acked) = (0u64, 0u64);
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            let mut pending = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                tick.tick().await;
                for _ in 0..RATE / 100 {
                    let record = ProducerRecord::new(TOPIC, format!("record {sent}"))
                        .key(format!("k{}", sent % 64));
                    pending.push(producer.send(record).await.expect("send"));
                    sent += 1;
                }
                if pending.len() >= 500 {
                    for delivery in pending.drain(..) {
                        delivery.await.expect("acknowledged");
                        acked += 1;
                    }
                }
            }
            for delivery in pending {
                delivery.await.expect("acknowledged");
                acked += 1;
            }
            producer.close().await.unwrap();
            acked
        })
    };

    let printed: Printed = Arc::default();
    let mut members = std::collections::VecDeque::new();
    members.push_back(start_member(&server, 0, &printed));
    for round in 1..=ROUNDS {
        tokio::time::sleep(Duration::from_secs(1)).await;
        members.push_back(start_member(&server, round, &printed));
        if members.len() > 2 {
            leave(members.pop_front().unwrap());
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let produced = producing.await.unwrap();

    // The members left read the rest, then leave too.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while (printed.lock().unwrap().len() as u64) < produced {
        assert!(
            std::time::Instant::now() < deadline,
            "only {} of {produced} records printed within 60 s of the last round",
            printed.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for member in members {
        leave(member);
    }

    let printed = printed.lock().unwrap();
    let twice: Vec<_> = printed
        .iter()
        .filter(|(_, members)| members.len() > 1)
        .take(20)
        .collect();
    assert!(
        twice.is_empty(),
        "records printed more than once (partition, offset) -> members: {twice:?}"
    );
    assert_eq!(printed.len() as u64, produced, "every record printed");
}
