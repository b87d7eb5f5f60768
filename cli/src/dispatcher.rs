//! `stratus dispatcher`: run the triggers of a cluster as a process of its
//! own (`stratus dev` runs one in-process).

use std::time::Duration;

use stratus_triggers::{Dispatcher, DispatcherConfig};

use crate::limits::{self, DISPATCHER_REFRESH};

#[derive(Debug, clap::Args)]
pub(crate) struct DispatcherArgs {
    /// Gateway address(es): `HOST:PORT` or `grpc://HOST:PORT`, comma-separated for failover.
    #[arg(
        long,
        short = 's',
        env = "STRATUS_SERVER",
        default_value = "grpc://127.0.0.1:7400"
    )]
    server: String,
    /// How often to re-read the trigger definitions.
    #[arg(long, default_value = limits::flag_default(DISPATCHER_REFRESH), value_parser = humantime::parse_duration)]
    refresh: Duration,
    /// Group session timeout: how long partitions wait for a dispatcher that
    /// stopped answering before moving [default: the gateway's].
    #[arg(long, value_parser = humantime::parse_duration)]
    session_timeout: Option<Duration>,
}

pub(crate) async fn run(args: DispatcherArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let server = normalize(&args.server);
    println!("stratus dispatcher running triggers from {server}");
    let config = DispatcherConfig {
        server,
        refresh: args.refresh,
        session_timeout: args.session_timeout,
    };
    Dispatcher::run(config, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .map_err(|e| anyhow::anyhow!(e))
}

/// `HOST:PORT` and `http://` become `grpc://`, which the SDK expects.
pub(crate) fn normalize(server: &str) -> String {
    server
        .split(',')
        .map(|s| {
            let s = s.trim();
            if let Some(rest) = s.strip_prefix("http://") {
                format!("grpc://{rest}")
            } else if s.contains("://") {
                s.to_owned()
            } else {
                format!("grpc://{s}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}
