//! Helpers for the observability tests: a `stratus dev` process whose
//! metrics endpoint address is known, a Prometheus text parser and a scrape.

#![allow(dead_code, unreachable_pub)]

pub mod receiver;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tonic::transport::Channel;

/// A `stratus dev` process with its gRPC and `/metrics` addresses.
#[derive(Debug)]
pub struct ObservedDev {
    child: Child,
    pub url: String,
    pub metrics: String,
    /// `HOST:PORT` of the Kafka listener.
    pub kafka: String,
}

impl ObservedDev {
    pub fn start(data_dir: &Path, env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_stratus"))
            .env("STRATUS_COMPACTOR__INTERVAL", "1h")
            // Tests run side by side: no fixed UDP port for QUIC.
            .env("STRATUS_GATEWAY__QUIC__LISTEN", "127.0.0.1:0")
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .arg("dev")
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn stratus dev");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let (mut url, mut metrics, mut kafka) = (None, None, None);
        while url.is_none() || metrics.is_none() || kafka.is_none() {
            let line = lines
                .next()
                .expect("stratus dev exited before printing its addresses")
                .expect("read stdout");
            let line = line.trim();
            if let Some(addr) = line.strip_prefix("gateway") {
                url = Some(addr.trim().to_owned());
            }
            if let Some(addr) = line.strip_prefix("metrics") {
                metrics = Some(addr.trim().to_owned());
            }
            if let Some(addr) = line.strip_prefix("kafka ") {
                kafka = Some(addr.trim().to_owned());
            }
        }
        std::thread::spawn(move || for _ in lines {});
        Self {
            child,
            url: url.unwrap_or_default(),
            metrics: metrics.unwrap_or_default(),
            kafka: kafka.unwrap_or_default(),
        }
    }

    pub async fn channel(&self) -> Channel {
        for _ in 0..100 {
            if let Ok(channel) = Channel::from_shared(self.url.clone())
                .unwrap()
                .connect()
                .await
            {
                return channel;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("gateway at {} never accepted a connection", self.url);
    }

    /// A closure that scrapes `metrics` (a `/metrics` URL) once per call;
    /// `None` once nothing listens there any more.
    pub fn scraper(metrics: &str) -> impl Fn() -> Option<Scrape> + use<> {
        let metrics = metrics.to_owned();
        move || {
            let host = metrics.strip_prefix("http://")?.split('/').next()?;
            TcpStream::connect(host).ok()?;
            Some(scrape_url(&metrics))
        }
    }

    /// GET /metrics, parsed.
    pub fn scrape(&self) -> Scrape {
        scrape_url(&self.metrics)
    }
}

fn scrape_url(metrics: &str) -> Scrape {
    {
        let url = metrics.strip_prefix("http://").expect("http URL");
        let (host, path) = url.split_once('/').expect("URL has a path");
        let mut stream = TcpStream::connect(host).expect("connect to /metrics");
        write!(
            stream,
            "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").expect("HTTP response");
        assert!(head.starts_with("HTTP/1.1 200"), "scrape failed: {head}");
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: text/plain"),
            "{head}"
        );
        Scrape::parse(body)
    }
}

impl ObservedDev {
    /// SIGTERM and a clean exit (flushes exporters).
    pub fn terminate(mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        let exit = self.child.wait().expect("wait");
        assert!(exit.success(), "stratus dev exited with {exit}");
    }
}

impl Drop for ObservedDev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One sample: metric name, labels, value.
#[derive(Debug, Clone)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A parsed Prometheus text exposition.
#[derive(Debug, Clone, Default)]
pub struct Scrape {
    pub samples: Vec<Sample>,
    /// `# TYPE` lines: family name to type.
    pub families: BTreeMap<String, String>,
}

impl Scrape {
    pub fn parse(text: &str) -> Self {
        let mut scrape = Self::default();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("TYPE line");
                scrape.families.insert(name.to_owned(), kind.to_owned());
                continue;
            }
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').expect("sample line");
            let (name, labels) = match series.split_once('{') {
                Some((name, labels)) => (name, labels.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = parse_labels(labels);
            scrape.samples.push(Sample {
                name: name.to_owned(),
                labels,
                value: value.parse().expect("numeric sample value"),
            });
        }
        scrape
    }

    /// Sum of the samples of `name` whose labels include `with`.
    pub fn sum(&self, name: &str, with: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|s| s.name == name)
            .filter(|s| {
                with.iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.value)
            .sum()
    }

    /// Whether a sample of `name` has all of `with`'s labels.
    pub fn has_labels(&self, name: &str, with: &[(&str, &str)]) -> bool {
        self.samples.iter().any(|s| {
            s.name == name
                && with
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
    }

    /// Whether a metric family (or a histogram's series) named `name` exists.
    pub fn has(&self, name: &str) -> bool {
        self.families.contains_key(name) || self.samples.iter().any(|s| s.name == name)
    }
}

fn parse_labels(text: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut rest = text;
    while let Some((key, after)) = rest.split_once("=\"") {
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        value.push(if escaped == 'n' { '\n' } else { escaped });
                    }
                }
                '"' => {
                    end = i + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        labels.insert(key.trim_start_matches(',').trim().to_owned(), value);
        rest = &after[end..];
    }
    labels
}
