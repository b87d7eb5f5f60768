//! The Kafka brokers Stratus's Kafka listener is measured against, started
//! like the other peers on a fresh data directory and a loopback port:
//!
//! - Apache Kafka through `scripts/apache-kafka` (KRaft, one node that is
//!   broker and controller, jars from `scripts/install-apache-kafka`), with
//!   extra `key=value` broker settings such as `flush.messages=1`;
//! - Tansu (`tansu broker`, from `scripts/install-bench-peers`) on its
//!   in-memory storage engine.
//!
//! Neither can be told to bind port 0 and say what it got (the script checks
//! the port it was given, and Tansu prints no address), so the port is one
//! the kernel just handed out and released ([`free_port`]): another process
//! could take it in between, which on a benchmark machine is unlikely and
//! shows as a failed start, never as a wrong measurement.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

use super::{Process, Spawned};

/// How long Tansu may take to accept connections.
const TANSU_START_TIMEOUT: Duration = Duration::from_secs(30);

/// A loopback port nothing listens on right now.
pub fn free_port() -> anyhow::Result<u16> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").context("finding a free loopback port")?;
    Ok(listener.local_addr()?.port())
}

/// The Apache Kafka version whose jars `scripts/install-apache-kafka` put
/// beside `script`, from the broker jar's name (`kafka_2.13-4.4.0.jar`).
fn apache_kafka_version(script: &Path) -> Option<String> {
    let lib = script.parent()?.parent()?.join("target/apache-kafka/lib");
    std::fs::read_dir(lib).ok()?.find_map(|entry| {
        let name = entry.ok()?.file_name().into_string().ok()?;
        let version = name.strip_prefix("kafka_2.13-")?.strip_suffix(".jar")?;
        (!version.contains("-")).then(|| version.to_owned())
    })
}

impl Spawned {
    /// Starts Apache Kafka with `scripts/apache-kafka start` (which returns
    /// once the broker accepts connections), with `extra` broker settings.
    pub fn apache_kafka(script: &Path, extra: &[(&str, &str)]) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let home = dir.path().join("kafka");
        let port = free_port()?;
        let out = Command::new(script)
            .arg("start")
            .arg(&home)
            .arg(port.to_string())
            .args(extra.iter().map(|(k, v)| format!("{k}={v}")))
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running {}", script.display()))?;
        anyhow::ensure!(
            out.status.success(),
            "{} start failed (install the broker with scripts/install-apache-kafka):\n{}{}",
            script.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let pid: u32 = std::fs::read_to_string(home.join("kafka.pid"))
            .context("reading the Kafka broker's pid")?
            .trim()
            .parse()
            .context("the Kafka broker's pid file holds no pid")?;
        let mut stop = Command::new(script);
        stop.arg("stop").arg(&home).stdin(Stdio::null());
        let version = apache_kafka_version(script).unwrap_or_else(|| "(unknown version)".into());
        let mut settings = vec![
            (
                "broker".to_owned(),
                format!("Apache Kafka {version}, KRaft, one node (broker and controller), Java 17"),
            ),
            (
                "heap".to_owned(),
                std::env::var("KAFKA_HEAP_OPTS").unwrap_or_else(|_| "-Xms256m -Xmx1g".into()),
            ),
            ("replication".to_owned(), "1 (one broker)".to_owned()),
        ];
        settings.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        Ok(Self {
            process: Process::Detached { pid, stop },
            url: format!("127.0.0.1:{port}"),
            settings,
            metrics_url: None,
            log: home.join("kafka.log"),
            _dir: dir,
        })
    }

    /// Starts `tansu broker` from `binary` on its in-memory storage engine.
    pub fn tansu(binary: &Path) -> anyhow::Result<Self> {
        // It runs in its data directory: a relative path must not move with it
        // (a bare name is looked up on PATH and stays as it is).
        let binary = &binary.canonicalize().unwrap_or_else(|_| binary.to_owned());
        let dir = tempfile::tempdir()?;
        let log = dir.path().join("tansu.log");
        let port = free_port()?;
        let addr = format!("127.0.0.1:{port}");
        let engine = "memory://tansu/";
        let mut child = Command::new(binary)
            .arg("broker")
            .args(["--listener-url", &format!("tcp://{addr}")])
            .args(["--advertised-listener-url", &format!("tcp://{addr}")])
            .args(["--storage-engine", engine])
            .current_dir(dir.path())
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log)?)
            .stderr(std::fs::File::create(dir.path().join("tansu.err"))?)
            .spawn()
            .with_context(|| {
                format!(
                    "starting {} (install it with scripts/install-bench-peers)",
                    binary.display()
                )
            })?;
        let deadline = Instant::now() + TANSU_START_TIMEOUT;
        while TcpStream::connect(&addr).is_err() {
            if let Some(status) = child.try_wait()? {
                let err = std::fs::read_to_string(dir.path().join("tansu.err")).unwrap_or_default();
                anyhow::bail!("tansu exited during startup ({status}):\n{err}");
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                anyhow::bail!(
                    "tansu did not accept connections on {addr} within {TANSU_START_TIMEOUT:?}"
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let version = Command::new(binary)
            .arg("--version")
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        Ok(Self {
            process: Process::Child(child),
            url: addr,
            settings: vec![
                ("broker".into(), format!("tansu broker ({version})")),
                ("storage_engine".into(), engine.into()),
            ],
            metrics_url: None,
            log,
            _dir: dir,
        })
    }
}

/// `relative` (e.g. `scripts/apache-kafka`) in the working directory or in
/// the source tree this tool was built from.
pub fn repo_file(relative: &str) -> Option<PathBuf> {
    let here = PathBuf::from(relative);
    if here.exists() {
        return Some(here);
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative);
    built.exists().then_some(built)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_free_port_can_be_bound() {
        let port = free_port().unwrap();
        assert_ne!(port, 0);
        std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    }

    #[test]
    fn the_start_script_is_found_from_the_source_tree() {
        assert!(repo_file("scripts/apache-kafka").is_some());
        assert!(repo_file("scripts/no-such-script").is_none());
    }
}
