//! Brokers the tool starts itself, so it can measure them: a `stratus dev`
//! process (with the workload's `STRATUS_*` settings), a `nats-server -js`,
//! and the Kafka peers of [`kafka`] (Apache Kafka, Tansu), each on a fresh
//! data directory and a loopback port, stopped with SIGTERM at the end.
//! Stratus and NATS bind an ephemeral port (port 0, or NATS's `-1`) and
//! print what they got, which is read back, so no port is picked here and
//! raced for; the Kafka peers need a port named up front (see
//! [`kafka::free_port`]). Its CPU time and peak RSS come from `/proc`;
//! Stratus's object-store request counts from the line it logs when it stops.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

pub mod kafka;

/// A broker process started for one run.
#[derive(Debug)]
pub struct Spawned {
    process: Process,
    /// Where clients reach it: a URL, or `host:port` for Kafka.
    pub url: String,
    /// How the broker was configured, for the report.
    pub settings: Vec<(String, String)>,
    /// Its Prometheus `/metrics`, when it is a Stratus gateway.
    pub metrics_url: Option<String>,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

/// The broker's process: our child, or one a start script left running in
/// the background (Apache Kafka's), stopped by the script.
#[derive(Debug)]
enum Process {
    Child(Child),
    Detached {
        pid: u32,
        stop: Command,
    },
    /// A detached broker after its script stopped it.
    Stopped,
}

/// Which of `stratus dev`'s listeners the clients use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    Grpc,
    Quic,
    Kafka,
}

/// CPU seconds and peak resident memory of a process so far.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct ProcessStats {
    pub cpu_seconds: f64,
    pub peak_rss_bytes: u64,
}

/// Object-store requests and bytes a Stratus process made, from all tiers.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct StoreRequests {
    pub put: u64,
    pub put_bytes: u64,
    pub get: u64,
    pub get_bytes: u64,
    pub other: u64,
}

impl Spawned {
    /// Starts `stratus dev` from `binary` with `env`.
    pub fn stratus(
        binary: &Path,
        env: &std::collections::BTreeMap<String, String>,
        listener: Listener,
    ) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let log = dir.path().join("stratus.log");
        let mut command = Command::new(binary);
        command
            .args(["dev", "--data-dir"])
            .arg(dir.path().join("data"))
            // Ephemeral gRPC and QUIC ports (and so ephemeral /metrics and
            // Kafka ports too); their addresses are read from what dev prints.
            .args(["--listen", "127.0.0.1:0", "--log-format", "json"])
            .env("STRATUS_GATEWAY__QUIC__LISTEN", "127.0.0.1:0")
            .envs(env)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log)?);
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let stdout = child.stdout.take().expect("piped");
        // `stop with Ctrl-C` ends what dev prints at start, after every
        // address (gateway, QUIC, Kafka, metrics).
        let started = wait_for_lines(
            stdout,
            |line| line.contains("stop with Ctrl-C"),
            Duration::from_secs(60),
        );
        let printed = match started {
            Ok(printed) => printed,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                let log = std::fs::read_to_string(&log).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(5).collect();
                anyhow::bail!(
                    "stratus dev did not start ({e}); the end of its log:\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
            }
        };
        let url = match listener {
            Listener::Quic => quic_url(&printed).context("stratus dev printed no quic:// address"),
            Listener::Grpc => grpc_url(&printed).context("stratus dev printed no gateway address"),
            Listener::Kafka => kafka_addr(&printed).context("stratus dev printed no kafka address"),
        };
        let url = match url {
            Ok(url) => url,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(e);
            }
        };
        let settings = std::iter::once(("broker".to_owned(), "stratus dev".to_owned()))
            .chain(env.iter().map(|(k, v)| (k.clone(), v.clone())))
            .collect();
        Ok(Self {
            process: Process::Child(child),
            url,
            settings,
            metrics_url: metrics_url(&printed),
            log,
            _dir: dir,
        })
    }

    /// Starts `nats-server -js` on a fresh store directory.
    pub fn nats() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let log = dir.path().join("nats.log");
        let mut child = Command::new("nats-server")
            // `-p -1`: a random port, logged as it is bound.
            .args(["-js", "-a", "127.0.0.1", "-p", "-1", "-sd"])
            .arg(dir.path().join("js"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting nats-server (install it with scripts/install-bench-peers)")?;
        let stderr = child.stderr.take().expect("piped");
        let printed = wait_for_lines(
            stderr,
            |l| l.contains("Server is ready"),
            Duration::from_secs(30),
        )
        .context("nats-server did not become ready")?;
        let url = nats_url(&printed).context("nats-server logged no client address")?;
        Ok(Self {
            process: Process::Child(child),
            url,
            settings: vec![("broker".into(), "nats-server -js".into())],
            metrics_url: None,
            log,
            _dir: dir,
        })
    }

    pub fn pid(&self) -> u32 {
        match &self.process {
            Process::Child(child) => child.id(),
            Process::Detached { pid, .. } => *pid,
            Process::Stopped => 0,
        }
    }

    pub fn stats(&self) -> ProcessStats {
        process_stats(self.pid()).unwrap_or_default()
    }

    /// Stops the process with SIGTERM and waits for it; for Stratus, returns
    /// the object-store requests it logged on the way out.
    pub fn stop(mut self) -> anyhow::Result<Option<StoreRequests>> {
        match &mut self.process {
            Process::Child(child) => {
                let pid = child.id().to_string();
                let _ = Command::new("kill").args(["-TERM", &pid]).status();
                let deadline = Instant::now() + Duration::from_secs(30);
                while child.try_wait()?.is_none() {
                    if Instant::now() > deadline {
                        child.kill()?;
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            Process::Detached { stop, .. } => {
                let out = stop.output().context("stopping the broker")?;
                anyhow::ensure!(
                    out.status.success(),
                    "stopping the broker failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                self.process = Process::Stopped;
            }
            Process::Stopped => {}
        }
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        Ok(store_requests(&log))
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        match &mut self.process {
            Process::Child(child) => {
                let _ = child.kill();
                let _ = child.wait();
            }
            // A run that failed before `stop`: the broker must not outlive it.
            Process::Detached { pid, .. } => {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
            Process::Stopped => {}
        }
    }
}

/// Reads lines (on a thread, so a silent process cannot hang us) until one
/// matches; returns everything read.
fn wait_for_lines(
    pipe: impl std::io::Read + Send + 'static,
    done: impl Fn(&str) -> bool + Send + 'static,
    timeout: Duration,
) -> anyhow::Result<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = String::new();
        let mut lines = BufReader::new(pipe).lines();
        let mut sent = false;
        for line in lines.by_ref() {
            let Ok(line) = line else { break };
            if !sent {
                seen.push_str(&line);
                seen.push('\n');
                if done(&line) {
                    let _ = tx.send(seen.clone());
                    sent = true;
                }
            }
        }
    });
    rx.recv_timeout(timeout)
        .map_err(|_| anyhow::anyhow!("no ready line within {timeout:?}"))
}

/// The gRPC URL of the `gateway   http://ADDR` line `stratus dev` prints.
fn grpc_url(printed: &str) -> Option<String> {
    printed
        .lines()
        .find_map(|line| line.trim().strip_prefix("gateway"))
        .and_then(|rest| rest.trim().strip_prefix("http://"))
        .map(|addr| format!("grpc://{addr}"))
}

/// The URL of the `metrics   http://ADDR/metrics` line `stratus dev` prints.
fn metrics_url(printed: &str) -> Option<String> {
    printed
        .lines()
        .find_map(|line| line.trim().strip_prefix("metrics "))
        .map(|url| url.trim().to_owned())
}

/// The `host:port` of the `kafka     ADDR` line `stratus dev` prints.
fn kafka_addr(printed: &str) -> Option<String> {
    printed
        .lines()
        .find_map(|line| line.trim().strip_prefix("kafka "))
        .map(|addr| addr.trim().to_owned())
}

/// The `nats://` URL of the address nats-server logs it listens on
/// (`... Listening for client connections on 127.0.0.1:4222`).
fn nats_url(printed: &str) -> Option<String> {
    printed
        .lines()
        .find_map(|line| line.split("Listening for client connections on ").nth(1))
        .map(|addr| format!("nats://{}", addr.trim()))
}

/// The `quic://ADDR?ca=CERT` URL `stratus dev` prints.
fn quic_url(printed: &str) -> Option<String> {
    printed
        .split_whitespace()
        .find(|word| word.starts_with("quic://"))
        .map(str::to_owned)
}

/// CPU time (user + system) and peak RSS of `pid`, from `/proc`.
pub fn process_stats(pid: u32) -> Option<ProcessStats> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let hwm_kib: u64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(ProcessStats {
        cpu_seconds: ticks as f64 / clock_ticks_per_second(),
        peak_rss_bytes: hwm_kib * 1024,
    })
}

fn clock_ticks_per_second() -> f64 {
    // `getconf` answers what sysconf(_SC_CLK_TCK) would, without unsafe code.
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Sums the request counts `stratus dev` logs (as JSON lines) when it stops.
fn store_requests(log: &str) -> Option<StoreRequests> {
    let mut total = StoreRequests::default();
    let mut found = false;
    for line in log.lines() {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let Some(requests) = value.pointer("/fields/requests").and_then(|r| r.as_str()) else {
            continue;
        };
        let Ok(counts) = serde_json::from_str::<serde_json::Value>(requests) else {
            continue;
        };
        found = true;
        let get = |op: &str, field: &str| counts[op][field].as_u64().unwrap_or(0);
        total.put += get("put", "requests") + get("multipart", "requests");
        total.put_bytes += get("put", "bytes") + get("multipart", "bytes");
        total.get += get("get", "requests");
        total.get_bytes += get("get", "bytes");
        total.other += ["head", "delete", "list", "copy", "rename"]
            .iter()
            .map(|op| get(op, "requests"))
            .sum::<u64>();
    }
    found.then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_counts_from_every_tier_are_summed() {
        let line = |n: u64| {
            let counts = format!(
                r#"{{"put":{{"requests":{n},"errors":0,"bytes":100}},"get":{{"requests":2,"errors":0,"bytes":50}},"head":{{"requests":1,"errors":0,"bytes":0}},"delete":{{"requests":0,"errors":0,"bytes":0}},"list":{{"requests":1,"errors":0,"bytes":0}},"copy":{{"requests":0,"errors":0,"bytes":0}},"rename":{{"requests":0,"errors":0,"bytes":0}},"multipart":{{"requests":0,"errors":0,"bytes":0}}}}"#
            );
            serde_json::json!({"fields": {"message": "stopped", "requests": counts}}).to_string()
        };
        let log = format!("{}\nnoise\n{}\n", line(3), line(4));
        let total = store_requests(&log).unwrap();
        assert_eq!(total.put, 7);
        assert_eq!(total.put_bytes, 200);
        assert_eq!(total.get, 4);
        assert_eq!(total.other, 4);
    }

    #[test]
    fn broker_addresses_are_read_from_what_the_brokers_print() {
        let dev = "stratus dev is running\n  gateway   http://127.0.0.1:40123\n  \
                   quic      quic://127.0.0.1:40124?ca=/d/cert.pem\n  \
                   quic cert /d/cert.pem (self-signed)\n  kafka     127.0.0.1:40125\n  \
                   data dir  /d\n  metrics   http://127.0.0.1:40126/metrics\nstop with Ctrl-C\n";
        assert_eq!(grpc_url(dev).as_deref(), Some("grpc://127.0.0.1:40123"));
        assert_eq!(
            metrics_url(dev).as_deref(),
            Some("http://127.0.0.1:40126/metrics")
        );
        assert_eq!(kafka_addr(dev).as_deref(), Some("127.0.0.1:40125"));
        assert_eq!(
            quic_url(dev).as_deref(),
            Some("quic://127.0.0.1:40124?ca=/d/cert.pem")
        );
        let nats = "[1] 2026/12/02 06:05:05.695842 [INF] Listening for client connections on \
                    127.0.0.1:44837\n[1] 2026/12/02 06:05:05.696 [INF] Server is ready\n";
        assert_eq!(nats_url(nats).as_deref(), Some("nats://127.0.0.1:44837"));
        assert_eq!(grpc_url("data dir /d\n"), None);
    }

    #[test]
    fn own_process_stats_are_readable() {
        let stats = process_stats(std::process::id()).unwrap();
        assert!(stats.peak_rss_bytes > 0);
    }
}
