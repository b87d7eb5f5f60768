//! `stratus-loadtest` (also `stratus bench WORKLOAD`): an OpenMessaging
//! Benchmark-style driver. A workload file says what to run; drivers say
//! against what (Stratus over gRPC or QUIC through the SDK, or NATS
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
    /// Use this running broker (a `grpc://`, `quic://` or `nats://` URL)
    /// instead of starting one; broker CPU, RSS and object-store requests are
    /// then not measured.
    #[arg(long)]
    pub server: Option<String>,
    /// The `stratus` binary to start [default: the one next to this program].
    #[arg(long)]
    pub stratus_bin: Option<PathBuf>,
    /// SDK producer linger for Stratus drivers.
    #[arg(long, default_value = "5ms", value_parser = humantime::parse_duration)]
    pub linger: Duration,
    /// SDK producer batch compression for Stratus drivers: `zstd` (built by
    /// the client, stored as is) or `none`.
    #[arg(long, value_enum, default_value = "zstd")]
    pub compression: CompressionArg,
    /// SDK produce requests in flight per partition for Stratus drivers
    /// (1 to 5; QUIC keeps 1 for idempotent producers).
    #[arg(long, default_value_t = 5)]
    pub max_in_flight: usize,
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

/// Batch compression of the SDK producer (`--compression`).
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
        None => Some(match kind {
            DriverKind::Nats => Spawned::nats()?,
            DriverKind::Stratus | DriverKind::StratusQuic => Spawned::stratus(
                &stratus_binary(args)?,
                &workload.stratus_env,
                kind == DriverKind::StratusQuic,
            )?,
        }),
    };
    let url = match (&args.server, &spawned) {
        (Some(url), _) => url.clone(),
        (None, Some(s)) => s.url.clone(),
        (None, None) => unreachable!("a broker is either given or started"),
    };
    let driver: Arc<dyn Driver> = match kind {
        DriverKind::Nats => Arc::new(driver::nats::NatsDriver::connect(&url).await?),
        DriverKind::Stratus | DriverKind::StratusQuic => {
            let settings = driver::stratus::ProducerSettings {
                linger: args.linger,
                compression: match args.compression {
                    CompressionArg::Zstd => stratus_sdk::Compression::Zstd,
                    CompressionArg::None => stratus_sdk::Compression::None,
                },
                max_in_flight: args.max_in_flight,
            };
            Arc::new(driver::stratus::StratusDriver::connect(&url, settings).await?)
        }
    };
    eprintln!("{} on {}", workload.name, driver.name());
    let pid_probe = spawned.as_ref().map(|s| s.pid());
    let cpu: runner::CpuProbe = Box::new(move || {
        pid_probe
            .and_then(target::process_stats)
            .map(|s| s.cpu_seconds)
    });
    let outcome = runner::run(workload, driver.clone(), cpu).await?;
    let broker = spawned.as_ref().map(Spawned::stats);
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
