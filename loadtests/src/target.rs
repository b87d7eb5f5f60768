//! Brokers the tool starts itself, so it can measure them: a `stratus dev`
//! process (with the workload's `STRATUS_*` settings) or a `nats-server -js`,
//! each on a fresh data directory and a free loopback port, stopped with
//! SIGTERM at the end. Its CPU time and peak RSS come from `/proc`; Stratus's
//! object-store request counts from the line it logs when it stops.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

/// A broker process started for one run.
#[derive(Debug)]
pub struct Spawned {
    child: Child,
    pub url: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
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

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Spawned {
    /// Starts `stratus dev` from `binary` with `env`.
    pub fn stratus(
        binary: &Path,
        env: &std::collections::BTreeMap<String, String>,
        quic: bool,
    ) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let port = free_port()?;
        let log = dir.path().join("stratus.log");
        let mut command = Command::new(binary);
        command
            .args(["dev", "--data-dir"])
            .arg(dir.path().join("data"))
            .args([
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--log-format",
                "json",
            ])
            // Any free UDP port for QUIC (its address is read from what dev prints).
            .env("STRATUS_GATEWAY__QUIC__LISTEN", "127.0.0.1:0")
            .envs(env)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log)?);
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let stdout = child.stdout.take().expect("piped");
        // `data dir` follows the gateway and QUIC addresses in what dev prints.
        let started = wait_for_lines(
            stdout,
            |line| line.contains("data dir"),
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
        let url = if quic {
            quic_url(&printed).context("stratus dev printed no quic:// address")?
        } else {
            format!("grpc://127.0.0.1:{port}")
        };
        Ok(Self {
            child,
            url,
            log,
            _dir: dir,
        })
    }

    /// Starts `nats-server -js` on a fresh store directory.
    pub fn nats() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let port = free_port()?;
        let log = dir.path().join("nats.log");
        let mut child = Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(dir.path().join("js"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting nats-server (install it with scripts/install-bench-peers)")?;
        let stderr = child.stderr.take().expect("piped");
        wait_for_lines(
            stderr,
            |l| l.contains("Server is ready"),
            Duration::from_secs(30),
        )
        .context("nats-server did not become ready")?;
        Ok(Self {
            child,
            url: format!("nats://127.0.0.1:{port}"),
            log,
            _dir: dir,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stats(&self) -> ProcessStats {
        process_stats(self.child.id()).unwrap_or_default()
    }

    /// Stops the process with SIGTERM and waits for it; for Stratus, returns
    /// the object-store requests it logged on the way out.
    pub fn stop(mut self) -> anyhow::Result<Option<StoreRequests>> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                self.child.kill()?;
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        Ok(store_requests(&log))
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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
    fn own_process_stats_are_readable() {
        let stats = process_stats(std::process::id()).unwrap();
        assert!(stats.peak_rss_bytes > 0);
    }
}
