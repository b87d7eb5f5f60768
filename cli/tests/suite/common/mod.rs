//! Shared helpers for tests that run a real `stratus dev` process.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use stratus_proto::v1::admin_client::AdminClient;
use stratus_proto::v1::consumer_client::ConsumerClient;
use stratus_proto::v1::producer_client::ProducerClient;
use stratus_proto::v1::{CreateTopicRequest, FetchRequest, TopicConfig};
pub use stratus_testkit::S3Server;

pub mod apache_kafka;
pub mod group_consumer;
pub mod group_members;
pub mod proxy;
pub mod reporting_member;
pub mod sdk;
use tonic::transport::Channel;

/// Where a test gateway keeps its WAL objects.
#[derive(Debug)]
pub enum Tier {
    /// The default: `file://<data dir>/wal`.
    File,
    /// `s3://wal-bucket/wal` on a real S3 server over loopback HTTP.
    S3(S3Server),
}

/// The bucket the S3 tier writes to.
pub const WAL_BUCKET: &str = "wal-bucket";

impl Tier {
    pub fn env(&self) -> Vec<(String, String)> {
        match self {
            Tier::File => Vec::new(),
            Tier::S3(server) => {
                let mut env = server.client_env();
                env.push(("STRATUS_WAL".into(), format!("s3://{WAL_BUCKET}/wal")));
                env
            }
        }
    }
}

/// A loopback UDP address free now, for a QUIC endpoint that must keep its
/// port across a restart (the client reconnects to the same address).
pub fn fixed_quic_listen() -> String {
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("127.0.0.1:{port}")
}

/// A loopback TCP port free now, for a listener that must keep its port
/// across a restart, or for a process that cannot report the port it bound.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `stratus dev` child process on a data directory.
#[derive(Debug)]
pub struct DevServer {
    child: Child,
    pub url: String,
    /// `quic://HOST:PORT?ca=CERT` when QUIC is on.
    pub quic_url: Option<String>,
    /// `HOST:PORT` of the Kafka listener (bootstrap.servers).
    pub kafka: Option<String>,
    pub data_dir: PathBuf,
}

impl DevServer {
    /// Starts `stratus dev` on a free port and waits until it listens.
    pub fn start(data_dir: &Path) -> Self {
        Self::start_with(data_dir, &[])
    }

    pub fn start_with(data_dir: &Path, extra: &[&str]) -> Self {
        Self::spawn(data_dir, extra, &[])
    }

    pub fn start_with_env(data_dir: &Path, env: &[(&str, &str)]) -> Self {
        Self::spawn(data_dir, &[], env)
    }

    /// Starts `stratus dev` with its WAL on `tier`.
    pub fn start_on(data_dir: &Path, tier: &Tier) -> Self {
        let env = tier.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        Self::spawn(data_dir, &[], &env)
    }

    fn spawn(data_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_stratus"))
            // The in-process compactor stays out of the way of tests about
            // other things (some use 1970 timestamps that retention would
            // delete); compaction tests pass their own interval in `env`.
            .env("STRATUS_COMPACTOR__INTERVAL", "1h")
            // Tests run many servers at once: QUIC on a free UDP port too.
            .env("STRATUS_GATEWAY__QUIC__LISTEN", "127.0.0.1:0")
            .envs(env.iter().copied())
            .arg("dev")
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn stratus dev");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        // `stratus dev` prints its gRPC and QUIC addresses before its data dir.
        let (mut url, mut quic_url, mut kafka) = (None, None, None);
        loop {
            let line = lines
                .next()
                .expect("stratus dev exited before printing its address")
                .expect("read stdout");
            let line = line.trim();
            if let Some(addr) = line.strip_prefix("gateway") {
                url = Some(addr.trim().to_owned());
            } else if let Some(addr) = line.strip_prefix("quic ").map(str::trim)
                && addr.starts_with("quic://")
            {
                quic_url = Some(addr.to_owned());
            } else if let Some(addr) = line.strip_prefix("kafka ") {
                kafka = Some(addr.trim().to_owned());
            } else if line.starts_with("data dir") {
                break;
            }
        }
        let url = url.expect("stratus dev printed no gateway address");
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self {
            child,
            url,
            quic_url,
            kafka,
            data_dir: data_dir.to_owned(),
        }
    }

    /// `HOST:PORT` of the Kafka listener, which `stratus dev` always starts.
    pub fn kafka_bootstrap(&self) -> String {
        self.kafka
            .clone()
            .expect("stratus dev printed no kafka address")
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

    pub async fn admin(&self) -> AdminClient<Channel> {
        AdminClient::new(self.channel().await)
    }

    pub async fn producer(&self) -> ProducerClient<Channel> {
        ProducerClient::new(self.channel().await)
    }

    pub async fn consumer(&self) -> ConsumerClient<Channel> {
        ConsumerClient::new(self.channel().await).max_decoding_message_size(usize::MAX)
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("wait");
    }

    /// SIGTERM, then wait for a clean exit.
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

impl Drop for DevServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn create_topic(
    server: &DevServer,
    name: &str,
    partitions: u32,
    config: Option<TopicConfig>,
) {
    server
        .admin()
        .await
        .create_topic(CreateTopicRequest {
            name: name.to_owned(),
            partitions,
            config,
        })
        .await
        .expect("create topic");
}

/// Every record of a partition from `from` to the current end.
pub async fn read_all(
    consumer: &mut ConsumerClient<Channel>,
    topic: &str,
    partition: u32,
) -> Vec<stratus_proto::v1::ConsumedRecord> {
    read_from(consumer, topic, partition, 0).await
}

/// Every record of a partition from `offset` to its end.
pub async fn read_from(
    consumer: &mut ConsumerClient<Channel>,
    topic: &str,
    partition: u32,
    mut offset: i64,
) -> Vec<stratus_proto::v1::ConsumedRecord> {
    let mut out = Vec::new();
    loop {
        let response = consumer
            .fetch(FetchRequest {
                topic: topic.to_owned(),
                partition,
                offset,
                max_bytes: 4 * 1024 * 1024,
                max_wait_ms: 0,
            })
            .await
            .expect("fetch")
            .into_inner();
        // Key compaction can leave a fetch with no records that still moves
        // the offset past a gap.
        if response.records.is_empty() && response.next_fetch_offset == offset {
            assert_eq!(
                offset, response.high_watermark,
                "a fetch below the end returned nothing"
            );
            return out;
        }
        offset = response.next_fetch_offset;
        out.extend(response.records);
    }
}
