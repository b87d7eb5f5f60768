//! Processes and probes the trigger tests share.

#![allow(unreachable_pub)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;
use stratus_proto::v1::FetchOffsetsRequest;
use stratus_proto::v1::groups_client::GroupsClient;

use crate::common::DevServer;

/// The example function (`triggers/examples/kafka-function`). `cargo test`
/// on the workspace builds it beside this test (the example's own test runs
/// the binary), and that binary is used when it is newer than the example's
/// sources. Otherwise (say, `cargo test -p stratus-cli`) it is built once per
/// test run into a target directory of its own, so a build with other
/// features never invalidates this test's artifacts.
/// `TRIGGER_EXAMPLE_FUNCTION` names a prebuilt binary instead.
pub fn example_function() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        if let Some(path) = std::env::var_os("TRIGGER_EXAMPLE_FUNCTION") {
            return PathBuf::from(path);
        }
        // target/<profile>/deps/<this test> → target/<profile> → target
        let exe = std::env::current_exe().expect("current exe");
        let profile_dir = exe.parent().and_then(|d| d.parent()).expect("profile dir");
        let beside = profile_dir.join("kafka-function");
        if is_fresh(&beside) {
            return beside;
        }
        let target = profile_dir
            .parent()
            .expect("target dir")
            .join("trigger-example");
        let mut cargo = Command::new(env!("CARGO"));
        cargo
            .args([
                "build",
                "--locked",
                "-p",
                "stratus-example-kafka-function",
                "--target-dir",
            ])
            .arg(&target);
        let profile = if profile_dir.ends_with("release") {
            cargo.arg("--release");
            "release"
        } else {
            "debug"
        };
        let status = cargo
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build for the example function");
        assert!(status.success(), "building the example function failed");
        let path = target.join(profile).join("kafka-function");
        assert!(path.exists(), "{} was not built", path.display());
        path
    })
    .clone()
}

/// Whether `binary` exists and is newer than every source of the example.
fn is_fresh(binary: &std::path::Path) -> bool {
    let modified = |path: &std::path::Path| std::fs::metadata(path).and_then(|m| m.modified());
    let Ok(built) = modified(binary) else {
        return false;
    };
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../triggers/examples/kafka-function");
    ["Cargo.toml", "src/main.rs"]
        .iter()
        .all(|source| modified(&example.join(source)).is_ok_and(|changed| changed <= built))
}

/// `--local` for a test trigger: the dispatcher binds a free loopback port
/// itself and logs it ([`DispatcherProcess::runtime_api`]). A port picked
/// here and released for the dispatcher could be taken by another socket in
/// between.
pub const ANY_LOCAL_PORT: &str = "127.0.0.1:0";

/// Runs `stratus ARGS --server URL`, asserting success; returns stdout.
pub fn stratus(server: &DevServer, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_stratus"))
        .args(args)
        .args(["--server", &server.url])
        .output()
        .expect("run stratus");
    assert!(
        out.status.success(),
        "stratus {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The example function as a child process against a Runtime API.
#[derive(Debug)]
pub struct Function {
    child: Child,
    /// Every JSON line it printed, in order.
    pub lines: Arc<Mutex<Vec<Value>>>,
}

impl Function {
    /// Starts the function once the dispatcher serves `runtime_api`
    /// (`lambda_runtime` exits when it cannot connect).
    pub fn start(runtime_api: &str, env: &[(&str, &str)]) -> Self {
        let start = Instant::now();
        while std::net::TcpStream::connect(runtime_api).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no dispatcher served the Runtime API at {runtime_api} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut child = Command::new(example_function())
            .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
            .env("AWS_LAMBDA_FUNCTION_NAME", "kafka-function")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "test")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the example function");
        let stdout = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(value) = serde_json::from_str::<Value>(&line) {
                    sink.lock().unwrap().push(value);
                }
            }
        });
        Self { child, lines }
    }

    /// `(partition, offset, value)` of every record printed, in print order.
    pub fn records(&self) -> Vec<(u32, i64, String)> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.get("offset").is_some())
            .map(|l| {
                (
                    l["partition"].as_u64().unwrap() as u32,
                    l["offset"].as_i64().unwrap(),
                    l["value"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `stratus dispatcher` child process. Its log goes to the test's stderr
/// as before; the lines saying where a local target's Runtime API is served
/// are kept for [`DispatcherProcess::runtime_api`].
#[derive(Debug)]
pub struct DispatcherProcess {
    child: Child,
    /// `(function ARN, HOST:PORT)` of every Runtime API it started serving.
    served: Arc<Mutex<Vec<(String, String)>>>,
}

impl DispatcherProcess {
    pub fn start(server: &DevServer) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_stratus"))
            .args(["dispatcher", "--server", &server.url])
            .args(["--refresh", "200ms", "--session-timeout", "2s"])
            .env("RUST_LOG", "warn,stratus_triggers::target::local=info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn stratus dispatcher");
        let stderr = child.stderr.take().expect("stderr");
        let served = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&served);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(found) = served_at(&line) {
                    sink.lock().unwrap().push(found);
                }
                eprintln!("{line}");
            }
        });
        Self { child, served }
    }

    /// `HOST:PORT` of the Runtime API this dispatcher serves for `trigger`'s
    /// local target (the latest, should the trigger have been restarted),
    /// once it serves one.
    pub fn runtime_api(&self, trigger: &str) -> String {
        let arn = format!(":function:{trigger}");
        let start = Instant::now();
        loop {
            let served = self.served.lock().unwrap();
            if let Some((_, addr)) = served.iter().rev().find(|(a, _)| a.ends_with(&arn)) {
                return addr.clone();
            }
            drop(served);
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the dispatcher served no Runtime API for trigger {trigger} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL: nothing is flushed, committed or left gracefully.
    pub fn kill(mut self) {
        self.child.kill().expect("kill the dispatcher");
        self.child.wait().expect("wait for the dispatcher");
    }
}

impl Drop for DispatcherProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The function ARN and address of a log line of `LocalRuntime::bind`:
/// "serving the Lambda Runtime API of ARN; start the function with
/// AWS_LAMBDA_RUNTIME_API=HOST:PORT".
fn served_at(line: &str) -> Option<(String, String)> {
    let (_, rest) = line.split_once("serving the Lambda Runtime API of ")?;
    let (arn, rest) = rest.split_once(';')?;
    let (_, rest) = rest.split_once("AWS_LAMBDA_RUNTIME_API=")?;
    let addr = rest.split_whitespace().next()?;
    Some((arn.to_owned(), addr.to_owned()))
}

/// The trigger group's committed offsets, by partition.
pub async fn committed(server: &DevServer, group: &str) -> BTreeMap<u32, i64> {
    let mut groups = GroupsClient::new(server.channel().await);
    match groups
        .fetch_offsets(FetchOffsetsRequest {
            group: group.to_owned(),
            topics: Vec::new(),
        })
        .await
    {
        Ok(response) => response
            .into_inner()
            .offsets
            .into_iter()
            .map(|o| (o.partition, o.offset))
            .collect(),
        Err(status) if status.code() == tonic::Code::NotFound => BTreeMap::new(),
        Err(status) => panic!("fetch offsets of {group}: {status}"),
    }
}

/// Polls `check` until it holds or `limit` passes.
pub async fn wait_for(what: &str, limit: Duration, mut check: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !check().await {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Records per partition, as `(offset, value)`, grouped from `records`.
pub fn by_partition(records: &[(u32, i64, String)]) -> BTreeMap<u32, Vec<(i64, String)>> {
    let mut out: BTreeMap<u32, Vec<(i64, String)>> = BTreeMap::new();
    for (p, o, v) in records {
        out.entry(*p).or_default().push((*o, v.clone()));
    }
    out
}
