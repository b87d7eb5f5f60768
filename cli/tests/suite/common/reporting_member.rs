//! A group member process that reports on stdout, one JSON line per event
//! (the protocol of `testkit/kafka/python/group_members.py` and
//! `testkit/kafka/java/src/GroupMember.java`), collected as the lines arrive.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub struct ReportingMember {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl ReportingMember {
    pub fn start(mut command: Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn a group member");
        let stdout = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Self { child, lines }
    }

    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Whether it reported an event named `ev`.
    pub fn reported(&self, ev: &str) -> bool {
        self.json_lines().iter().any(|e| e["ev"] == ev)
    }

    /// The partitions it last said it owns.
    pub fn owned(&self) -> BTreeSet<u64> {
        self.json_lines()
            .iter()
            .rev()
            .find(|e| e["ev"] == "owned")
            .map(|e| {
                e["parts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p.as_u64().unwrap())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every ownership it reported, in order.
    pub fn ownership_changes(&self) -> Vec<BTreeSet<u64>> {
        self.json_lines()
            .iter()
            .filter(|e| e["ev"] == "owned")
            .map(|e| {
                e["parts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p.as_u64().unwrap())
                    .collect()
            })
            .collect()
    }

    /// (partition, offset) of every record it reported consuming.
    pub fn read(&self) -> Vec<(u64, u64)> {
        self.json_lines()
            .iter()
            .filter(|e| e["ev"] == "got")
            .flat_map(|e| {
                e["recs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| (r[0].as_u64().unwrap(), r[1].as_u64().unwrap()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// SIGTERM: the member closes, leaving its group.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Its exit status once it exits, or `None` after `timeout`.
    pub fn exited_within(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for ReportingMember {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GroupMember.java` (the Apache Kafka Java client) with `args`.
pub fn java_group_member(args: &[&str]) -> Command {
    let classes = root().join("target/kafka-java/classes");
    assert!(
        classes.exists(),
        "{} is missing; install the Kafka clients with scripts/install-kafka-clients",
        classes.display()
    );
    let mut command = Command::new("java");
    command
        .arg("-cp")
        .arg(format!(
            "{}:{}/*",
            classes.display(),
            root().join("target/kafka-java/lib").display()
        ))
        .arg("GroupMember")
        .args(args);
    command
}

pub fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}
