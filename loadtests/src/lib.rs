//! `stratus-loadtest` (also `stratus bench WORKLOAD`): an OpenMessaging
//! Benchmark-style driver. A workload file says what to run; drivers say
//! against what (Stratus over gRPC or QUIC through the SDK, Stratus over its
//! Kafka listener, Apache Kafka or Tansu through librdkafka, or NATS
//! JetStream); several drivers in one invocation run one after another on the
//! same machine, so their figures compare. Results: throughput, ack and
//! end-to-end latency percentiles, broker CPU and peak RSS, object-store
//! requests and the cost they imply, as a table, JSON and PNG plots.

pub mod cost;
pub mod driver;
pub mod payload;
pub mod plot;
pub mod report;
pub mod runner;
pub mod stages;
pub mod stats;
pub mod target;
pub mod workload;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use driver::Driver;
use report::{Report, RunReport};
use target::Spawned;
use workload::Workload;

/// Which broker a run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum DriverKind {
    /// Stratus through the SDK over gRPC.
    Stratus,
    /// Stratus through the SDK over QUIC.
    StratusQuic,
    /// Stratus's Kafka listener through librdkafka.
    StratusKafka,
    /// Apache Kafka (scripts/apache-kafka) through librdkafka, default flushing.
    Kafka,
    /// Apache Kafka with flush.messages=1: fsync before every acknowledgement.
    KafkaFsync,
    /// Tansu (in-memory storage engine) through librdkafka.
    Tansu,
    /// NATS JetStream (nats-server -js, file storage).
    Nats,
}

#[derive(Debug, Clone, clap::Args)]
pub struct LoadtestArgs {
    /// Workload files (YAML, see loadtests/workloads/).
    #[arg(required = true)]
    pub workloads: Vec<PathBuf>,
    /// Brokers to run each workload against, in this order, in one run.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "stratus")]
    pub driver: Vec<DriverKind>,
    /// Use this running broker (a `grpc://`, `quic://` or `nats://` URL, or
    /// a Kafka `host:port`) instead of starting one; broker CPU, RSS and
    /// object-store requests are then not measured.
    #[arg(long)]
    pub server: Option<String>,
    /// The `stratus` binary to start [default: the one next to this program].
    #[arg(long)]
    pub stratus_bin: Option<PathBuf>,
    /// The script that starts Apache Kafka [default: scripts/apache-kafka].
    #[arg(long)]
    pub kafka_script: Option<PathBuf>,
    /// The `tansu` binary [default: target/tansu/bin/tansu, else on PATH].
    #[arg(long)]
    pub tansu_bin: Option<PathBuf>,
    /// Producer linger, for the SDK and librdkafka (`linger.ms`) alike.
    #[arg(long, default_value = "5ms", value_parser = humantime::parse_duration)]
    pub linger: Duration,
    /// Producer batch size in bytes per partition, for the SDK and
    /// librdkafka (`batch.size`) alike.
    #[arg(long, default_value_t = 1 << 20)]
    pub batch_bytes: usize,
    /// Producer batch compression: `zstd` (built by the client, stored as
    /// is) or `none`; librdkafka's `compression.type` for Kafka drivers.
    #[arg(long, value_enum, default_value = "zstd")]
    pub compression: CompressionArg,
    /// Produce requests in flight: per partition for Stratus's SDK (1 to 5),
    /// per broker connection for librdkafka
    /// (`max.in.flight.requests.per.connection`; at most 5 with idempotence).
    #[arg(long, default_value_t = 5)]
    pub max_in_flight: usize,
    /// When the SDK's keyless records move to the next partition: `batch`
    /// (once their batch is sealed, the SDK's default) or `batch-bytes`
    /// (once a batch's worth of bytes went to the partition).
    #[arg(long, value_enum, default_value = "batch")]
    pub sticky: driver::StickyArg,
    /// Override every workload's measured duration, e.g. `5s`.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// Override every workload's warm-up.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub warmup: Option<Duration>,
    /// Directory for results.json and the plots [default: target/loadtest/<unix time>].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Skip the PNG plots.
    #[arg(long)]
    pub no_plot: bool,
    /// Print the results as JSON on stdout instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Batch compression of the producers (`--compression`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CompressionArg {
    Zstd,
    None,
}

/// Runs every workload on every driver and prints the results. Fails when a
/// run was inconsistent (records lost, duplicated or errors), after printing.
pub async fn run(args: LoadtestArgs) -> anyhow::Result<()> {
    if args.server.is_some() && args.driver.len() > 1 {
        anyhow::bail!("--server names one broker; give one --driver with it");
    }
    let mut workloads = Vec::new();
    for path in &args.workloads {
        for mut w in Workload::load(path)? {
            if let Some(d) = args.duration {
                w.duration = d;
            }
            if let Some(d) = args.warmup {
                w.warmup = d;
            }
            workloads.push(w);
        }
    }
    let out = args.out.clone().unwrap_or_else(default_out_dir);
    std::fs::create_dir_all(&out)
        .with_context(|| format!("creating the results directory {}", out.display()))?;
    let mut report = Report {
        machine: report::machine(),
        runs: Vec::new(),
    };
    for workload in &workloads {
        for &kind in &args.driver {
            let run = run_one(&args, workload, kind).await?;
            report.runs.push(run);
        }
    }
    let json = serde_json::to_string_pretty(&report)?;
    std::fs::write(out.join("results.json"), &json)?;
    if !args.no_plot {
        write_plots(&out, &report);
    }
    if args.json {
        println!("{json}");
    } else {
        println!("{}", report::table(&report));
    }
    eprintln!("results in {}", out.display());
    if let Some(bad) = report.runs.iter().find(|r| !r.consistent) {
        anyhow::bail!(
            "{} on {}: consumers did not receive exactly the acknowledged records without errors (see above)",
            bad.workload.name,
            bad.driver
        );
    }
    Ok(())
}

fn default_out_dir() -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    PathBuf::from("target/loadtest").join(secs.to_string())
}

fn write_plots(out: &Path, report: &Report) {
    for (i, run) in report.runs.iter().enumerate() {
        for (j, phase) in run.phases.iter().enumerate() {
            let broker = run.driver.split_whitespace().next().unwrap_or_default();
            let title = format!("{} on {broker} ({})", run.workload.name, phase.phase);
            match plot::plot_phase(out, &format!("run{i}-phase{j}"), &title, phase) {
                Ok(path) => eprintln!("plot: {}", path.display()),
                Err(e) => {
                    eprintln!("warning: no plots: {e:#}");
                    return;
                }
            }
        }
    }
}

async fn run_one(
    args: &LoadtestArgs,
    workload: &Workload,
    kind: DriverKind,
) -> anyhow::Result<RunReport> {
    let spawned = match &args.server {
        Some(_) => None,
        None => Some(spawn(args, workload, kind)?),
    };
    let url = match (&args.server, &spawned) {
        (Some(url), _) => url.clone(),
        (None, Some(s)) => s.url.clone(),
        (None, None) => unreachable!("a broker is either given or started"),
    };
    let settings = driver::ProducerSettings {
        linger: args.linger,
        batch_bytes: args.batch_bytes,
        compression: args.compression,
        max_in_flight: args.max_in_flight,
        idempotent: workload.idempotent,
        sticky: args.sticky,
    };
    let driver: Arc<dyn Driver> = match kind {
        DriverKind::Nats => Arc::new(driver::nats::NatsDriver::connect(&url).await?),
        DriverKind::Stratus | DriverKind::StratusQuic => {
            Arc::new(driver::stratus::StratusDriver::connect(&url, settings).await?)
        }
        kafka => {
            let (broker, durability) = kafka_broker(kafka, settings.idempotent);
            Arc::new(driver::kafka::KafkaDriver::connect(&url, broker, durability, settings).await?)
        }
    };
    eprintln!("{} on {}", workload.name, driver.name());
    let pid_probe = spawned.as_ref().map(|s| s.pid());
    let cpu: runner::CpuProbe = Box::new(move || {
        pid_probe
            .and_then(target::process_stats)
            .map(|s| s.cpu_seconds)
    });
    let probes = runner::BrokerProbes {
        cpu,
        metrics_url: spawned.as_ref().and_then(|s| s.metrics_url.clone()),
    };
    let outcome = runner::run(workload, driver.clone(), probes).await?;
    let broker = spawned.as_ref().map(Spawned::stats);
    let broker_settings = spawned
        .as_ref()
        .map(|s| s.settings.clone())
        .unwrap_or_default();
    let requests = match spawned {
        Some(s) => s.stop()?,
        None => None,
    };
    let size = workload.message_size as f64;
    let ingested = outcome.acked as f64 * size * f64::from(workload.topics);
    let served: f64 = outcome
        .received_per_subscription
        .iter()
        .map(|&r| r as f64 * size)
        .sum();
    let costs = requests
        .as_ref()
        .map(|r| {
            [cost::S3_STANDARD, cost::S3_EXPRESS_ONE_ZONE]
                .iter()
                .map(|prices| cost::cost(prices, r, ingested, served))
                .collect()
        })
        .unwrap_or_default();
    Ok(RunReport {
        workload: workload.clone(),
        driver: driver.name(),
        durability: driver.durability(),
        client_settings: driver.client_settings().into_iter().collect(),
        broker_settings: broker_settings.into_iter().collect(),
        consistent: outcome.consistent(),
        records_acknowledged: outcome.acked,
        records_received_per_subscription: outcome.received_per_subscription,
        consumer_error: outcome.consumer_error,
        phases: outcome.phases,
        broker,
        object_store_requests: requests,
        costs,
    })
}

/// Starts the broker `kind` measures.
fn spawn(args: &LoadtestArgs, workload: &Workload, kind: DriverKind) -> anyhow::Result<Spawned> {
    let stratus =
        |listener| Spawned::stratus(&stratus_binary(args)?, &workload.stratus_env, listener);
    match kind {
        DriverKind::Nats => Spawned::nats(),
        DriverKind::Stratus => stratus(target::Listener::Grpc),
        DriverKind::StratusQuic => stratus(target::Listener::Quic),
        DriverKind::StratusKafka => stratus(target::Listener::Kafka),
        DriverKind::Kafka => Spawned::apache_kafka(&kafka_script(args)?, &[]),
        DriverKind::KafkaFsync => {
            Spawned::apache_kafka(&kafka_script(args)?, &[("flush.messages", "1")])
        }
        DriverKind::Tansu => Spawned::tansu(&tansu_binary(args)),
    }
}

/// What a Kafka driver's report calls the broker, and when it acknowledges.
fn kafka_broker(kind: DriverKind, idempotent: bool) -> (&'static str, String) {
    let producer = if idempotent {
        "idempotent producer"
    } else {
        "non-idempotent producer"
    };
    let (broker, when) = match kind {
        DriverKind::StratusKafka => (
            "stratus-kafka",
            "acks=all: acknowledged after the WAL object is durable in the WAL tier (file://: \
             fsync of file and directory) and the offset transaction committed (redb: fsync)",
        ),
        DriverKind::Kafka => (
            "apache-kafka",
            "acks=all, one broker (min.insync.replicas 1): acknowledged once appended to the \
             partition log in the page cache; fsync left to the OS and segment rolls \
             (log.flush.interval.messages unset)",
        ),
        DriverKind::KafkaFsync => (
            "apache-kafka-fsync",
            "acks=all, one broker: flush.messages=1 (log.flush.interval.messages=1), so the \
             partition log is fsynced after every append, before the acknowledgement",
        ),
        _ => (
            "tansu",
            "acks=all on the memory:// storage engine: acknowledged once in the broker's \
             memory; nothing is written to disk",
        ),
    };
    (broker, format!("{when}; {producer}"))
}

/// `--kafka-script`, else `scripts/apache-kafka` of this source tree.
fn kafka_script(args: &LoadtestArgs) -> anyhow::Result<PathBuf> {
    if let Some(path) = &args.kafka_script {
        return Ok(path.clone());
    }
    target::kafka::repo_file("scripts/apache-kafka")
        .context("no scripts/apache-kafka here or in the source tree; pass --kafka-script")
}

/// `--tansu-bin`, else what scripts/install-bench-peers installs, else PATH.
fn tansu_binary(args: &LoadtestArgs) -> PathBuf {
    if let Some(path) = &args.tansu_bin {
        return path.clone();
    }
    target::kafka::repo_file("target/tansu/bin/tansu").unwrap_or_else(|| PathBuf::from("tansu"))
}

/// `--stratus-bin`, else `stratus` beside the running program.
fn stratus_binary(args: &LoadtestArgs) -> anyhow::Result<PathBuf> {
    if let Some(path) = &args.stratus_bin {
        return Ok(path.clone());
    }
    let exe = std::env::current_exe()?;
    let beside = exe.with_file_name("stratus");
    if beside.exists() {
        return Ok(beside);
    }
    anyhow::bail!(
        "no `stratus` binary next to {}; build it (cargo build --release -p stratus-cli --features bench) or pass --stratus-bin",
        exe.display()
    )
}
