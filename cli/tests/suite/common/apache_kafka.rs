//! Apache Kafka 4.x, the reference broker: installed by
//! `scripts/install-apache-kafka` and run by `scripts/apache-kafka`. A
//! missing installation fails the test with that instruction.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::free_port;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A single-node Apache Kafka broker, stopped when dropped.
pub struct ApacheKafka {
    dir: tempfile::TempDir,
    /// `HOST:PORT` for bootstrap.servers.
    pub bootstrap: String,
}

impl ApacheKafka {
    pub fn start() -> Self {
        let lib = root().join("target/apache-kafka/lib");
        assert!(
            lib.exists(),
            "{} is missing; install Apache Kafka with scripts/install-apache-kafka",
            lib.display()
        );
        // The port is picked before the broker binds it, so another socket may
        // take it in between: then the start fails and is tried on another.
        for _ in 0..3 {
            let dir = tempfile::tempdir().unwrap();
            let port = free_port();
            // Stratus creates no topic a client merely names; neither may the reference.
            let status = Command::new(root().join("scripts/apache-kafka"))
                .arg("start")
                .arg(dir.path())
                .arg(port.to_string())
                .arg("auto.create.topics.enable=false")
                .status()
                .expect("run scripts/apache-kafka");
            if status.success() {
                return Self {
                    dir,
                    bootstrap: format!("127.0.0.1:{port}"),
                };
            }
        }
        panic!("scripts/apache-kafka start failed three times (its log is printed above)");
    }
}

impl Drop for ApacheKafka {
    fn drop(&mut self) {
        let _ = Command::new(root().join("scripts/apache-kafka"))
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}
