//! `stratus compactor`: compaction, retention and garbage collection as a
//! long-running process, a single pass, or an AWS Lambda function.

use std::path::PathBuf;
use std::sync::Arc;

use stratus_compactor::{Compactor, run_lambda};

use crate::observability::{self, Observability};
use crate::serve::{StorageArgs, open_storage, stop_metadata};
use crate::settings::{FlagOverrides, LogFormat, ServerSettings, TelemetryFlags};
use crate::signal::wait_for_signal;

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct CompactorArgs {
    /// TOML configuration file (see README: Configuration).
    #[arg(long)]
    config: Option<PathBuf>,
    #[command(flatten)]
    storage: StorageArgs,
    /// Log lines as `text` or `json`.
    #[arg(long, value_parser = ["text", "json"])]
    log_format: Option<String>,
    /// Serve Prometheus metrics at http://ADDR/metrics.
    #[arg(long)]
    metrics_listen: Option<std::net::SocketAddr>,
    /// Run one pass, print its report as JSON and exit.
    #[arg(long, conflicts_with = "lambda")]
    once: bool,
    /// Run as an AWS Lambda function: each invocation (e.g. an EventBridge
    /// schedule) runs one pass and returns its report.
    #[arg(long)]
    lambda: bool,
}

pub(crate) async fn run(args: CompactorArgs) -> anyhow::Result<()> {
    let mut flags = FlagOverrides {
        log_format: args.log_format.as_deref().map(|f| match f {
            "json" => LogFormat::Json,
            _ => LogFormat::Text,
        }),
        telemetry: TelemetryFlags {
            metrics_listen: args.metrics_listen,
        },
        ..FlagOverrides::default()
    };
    args.storage.apply(&mut flags);
    let settings = ServerSettings::load(args.config.as_deref(), &flags)?;
    let telemetry = observability::init("stratus-compactor", settings.log_format)?;
    let storage = open_storage(&settings).await?;
    let observability = Observability::start(
        telemetry,
        &settings,
        storage.exposed(settings.telemetry.metrics_listen, false),
    )
    .await?;
    let compactor = Arc::new(
        Compactor::new(storage.log.clone(), settings.compactor.clone())
            .with_local_tier_dirs(storage.local_tier_dirs.clone()),
    );
    let result = if args.once {
        let report = compactor.run_pass().await?;
        println!("{}", serde_json::to_string_pretty(&report)?);
        Ok(())
    } else if args.lambda {
        run_lambda(compactor)
            .await
            .map_err(|e| anyhow::anyhow!("lambda runtime: {e}"))
    } else {
        println!(
            "stratus compactor {} running every {}",
            compactor.owner(),
            humantime::format_duration(settings.compactor.interval)
        );
        if let Some(metrics) = observability.metrics_addr() {
            println!("metrics at http://{metrics}/metrics");
        }
        compactor.run(wait_for_signal()).await;
        Ok(())
    };
    storage.log_request_counts();
    observability.shutdown().await;
    stop_metadata(&settings);
    result
}
