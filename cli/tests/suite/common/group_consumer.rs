//! A `stratus consume --group` child process whose printed records and
//! commits are collected as they happen.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

/// A record a consumer printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub partition: u32,
    pub offset: i64,
    pub value: String,
}

#[derive(Debug)]
pub struct GroupConsumer {
    child: Child,
    seen: Arc<Mutex<Vec<Seen>>>,
    commits: Arc<Mutex<BTreeMap<u32, i64>>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl GroupConsumer {
    /// Starts `stratus consume TOPIC --group GROUP --server SERVERS --format json -v`.
    pub fn start(servers: &str, topic: &str, group: &str, extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_stratus"))
            .args(["consume", topic, "--group", group, "--format", "json", "-v"])
            .args(["--server", servers])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn stratus consume --group");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let commits = Arc::new(Mutex::new(BTreeMap::new()));
        let stdout = child.stdout.take().expect("stdout");
        let sink = Arc::clone(&seen);
        let out_reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                let json: serde_json::Value =
                    serde_json::from_str(&line).expect("a json record line");
                sink.lock().unwrap().push(Seen {
                    partition: json["partition"].as_u64().unwrap() as u32,
                    offset: json["offset"].as_i64().unwrap(),
                    value: json["value"].as_str().unwrap().to_owned(),
                });
            }
        });
        let stderr = child.stderr.take().expect("stderr");
        let sink = Arc::clone(&commits);
        let err_reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { return };
                // "[group] committed topic/partition@offset"
                if let Some(rest) = line.split("committed ").nth(1)
                    && let Some((tp, offset)) = rest.split_once('@')
                    && let Some((_, partition)) = tp.rsplit_once('/')
                    && let (Ok(p), Ok(o)) = (partition.parse::<u32>(), offset.trim().parse::<i64>())
                {
                    sink.lock().unwrap().insert(p, o);
                } else {
                    eprintln!("consumer: {line}");
                }
            }
        });
        Self {
            child,
            seen,
            commits,
            readers: vec![out_reader, err_reader],
        }
    }

    /// After the process exited: everything it wrote has been collected.
    fn drain(&mut self) {
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// The last commit the consumer reported for each partition.
    pub fn commits(&self) -> BTreeMap<u32, i64> {
        self.commits.lock().unwrap().clone()
    }

    /// SIGKILL: no commit, no leave.
    pub fn kill(&mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("wait");
        self.drain();
    }

    /// SIGTERM: commits what it printed and leaves the group.
    pub fn terminate(&mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        let exit = self.child.wait().expect("wait");
        self.drain();
        assert!(exit.success(), "stratus consume --group exited with {exit}");
    }

    /// Waits for the process to exit by itself (e.g. after `-n`).
    pub fn wait(&mut self) {
        let exit = self.child.wait().expect("wait");
        self.drain();
        assert!(exit.success(), "stratus consume --group exited with {exit}");
    }
}

impl Drop for GroupConsumer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
