//! Wiring telemetry into a server process: logging and OpenTelemetry set up
//! before anything else, then, once storage is open, the gauges read from it
//! (object-store requests per tier and operation, metadata retries, partition
//! offsets on gateways) and the Prometheus `/metrics` endpoint.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use stratus_gateway::PartitionGauges;
use stratus_telemetry::{KeyValue, MetricsEndpoint, Telemetry};
use stratus_tier::{Counters, Operation};

use crate::settings::{LogFormat, ServerSettings};

/// Telemetry of a running server process.
#[derive(Debug)]
pub(crate) struct Observability {
    telemetry: Telemetry,
    endpoint: Option<MetricsEndpoint>,
    partition_gauges: Option<PartitionGauges>,
}

/// Installs logging (`RUST_LOG`, `log_format`) and the OpenTelemetry
/// providers (OTLP when `OTEL_EXPORTER_OTLP_*ENDPOINT` is set).
pub(crate) fn init(service: &'static str, format: LogFormat) -> anyhow::Result<Telemetry> {
    let format = match format {
        LogFormat::Text => stratus_telemetry::LogFormat::Text,
        LogFormat::Json => stratus_telemetry::LogFormat::Json,
    };
    Ok(Telemetry::init(service, format)?)
}

/// What a process exposes once its storage is open.
#[derive(Debug)]
pub(crate) struct Exposed<'a> {
    /// Where `/metrics` is served; `None`: nowhere.
    pub(crate) metrics_listen: Option<SocketAddr>,
    /// Object-store counters by tier name (`wal`, `segments`).
    pub(crate) tiers: Vec<(&'static str, Arc<Counters>)>,
    /// The log whose partition offsets a gateway exports as gauges.
    pub(crate) gateway_log: Option<&'a Arc<stratus_storage::log::Log>>,
}

impl Observability {
    pub(crate) async fn start(
        telemetry: Telemetry,
        settings: &ServerSettings,
        exposed: Exposed<'_>,
    ) -> anyhow::Result<Self> {
        for (tier, counters) in exposed.tiers {
            observe_object_store(tier, &counters);
        }
        observe_metadata_retries();
        let partition_gauges = exposed
            .gateway_log
            .map(|log| PartitionGauges::start(Arc::clone(log), &settings.telemetry));
        let endpoint = match exposed.metrics_listen {
            Some(addr) => Some(
                MetricsEndpoint::serve(addr, telemetry.registry().clone())
                    .await
                    .context("invalid setting `telemetry.metrics_listen`")?,
            ),
            None => None,
        };
        Ok(Self {
            telemetry,
            endpoint,
            partition_gauges,
        })
    }

    /// The bound address of `/metrics`, if served.
    pub(crate) fn metrics_addr(&self) -> Option<SocketAddr> {
        self.endpoint.as_ref().map(MetricsEndpoint::local_addr)
    }

    /// Stops the endpoint and exports what is still buffered.
    pub(crate) async fn shutdown(self) {
        drop(self.endpoint);
        drop(self.partition_gauges);
        self.telemetry.shutdown().await;
    }
}

/// `stratus_object_store_{requests,errors,bytes}_total` by `tier` and
/// `operation`, read from the counting wrapper every tier call goes through.
fn observe_object_store(tier: &'static str, counters: &Arc<Counters>) {
    let meter = stratus_telemetry::meter();
    type Field = fn(&stratus_tier::OpStats) -> u64;
    let fields: [(&'static str, &'static str, Field); 3] = [
        (
            "stratus.object_store.requests",
            "Object-store requests sent, by tier and operation (what the provider bills)",
            |s| s.requests,
        ),
        (
            "stratus.object_store.errors",
            "Object-store requests that failed, by tier and operation",
            |s| s.errors,
        ),
        (
            "stratus.object_store.bytes",
            "Payload bytes sent or received, by tier and operation",
            |s| s.bytes,
        ),
    ];
    for (name, description, field) in fields {
        let counters = Arc::clone(counters);
        meter
            .u64_observable_counter(name)
            .with_description(description)
            .with_callback(move |observer| {
                let snapshot = counters.snapshot();
                for op in Operation::ALL {
                    let labels = [
                        KeyValue::new("tier", tier),
                        KeyValue::new("operation", op.as_str()),
                    ];
                    observer.observe(field(&snapshot.get(op)), &labels);
                }
            })
            .build();
    }
}

/// `stratus_metadata_retries_total` and `stratus_metadata_conflicts_total`.
fn observe_metadata_retries() {
    let meter = stratus_telemetry::meter();
    meter
        .u64_observable_counter("stratus.metadata.retries")
        .with_description("Metadata transactions retried after a retryable failure")
        .with_callback(|observer| observer.observe(stratus_meta::retry_counts().0, &[]))
        .build();
    meter
        .u64_observable_counter("stratus.metadata.conflicts")
        .with_description("Metadata transactions that conflicted with a concurrent commit")
        .with_callback(|observer| observer.observe(stratus_meta::retry_counts().1, &[]))
        .build();
}

/// The `/metrics` address of a process: the setting, or for `stratus dev`
/// the gateway's port + 1 — but when the gateway's port is ephemeral (0),
/// an ephemeral port of its own, never "whatever the gateway got + 1": that
/// neighbour is often taken by another process. The bound address is printed
/// at start, which is where tests and tools read it.
pub(crate) fn metrics_listen(settings: &ServerSettings, dev: bool) -> Option<SocketAddr> {
    if settings.telemetry.metrics_listen.is_some() || !dev {
        return settings.telemetry.metrics_listen;
    }
    let grpc = settings.gateway.listen;
    let port = match grpc.port() {
        0 => 0,
        port => port.checked_add(1)?,
    };
    Some(SocketAddr::new(grpc.ip(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(grpc: &str, metrics: Option<&str>) -> ServerSettings {
        let mut settings = ServerSettings::default();
        settings.gateway.listen = grpc.parse().unwrap();
        settings.telemetry.metrics_listen = metrics.map(|m| m.parse().unwrap());
        settings
    }

    fn addr(text: &str) -> Option<SocketAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn dev_serves_metrics_beside_a_fixed_grpc_port_and_anywhere_beside_an_ephemeral_one() {
        let fixed = settings("127.0.0.1:7400", None);
        assert_eq!(metrics_listen(&fixed, true), addr("127.0.0.1:7401"));
        let ephemeral = settings("127.0.0.1:0", None);
        assert_eq!(metrics_listen(&ephemeral, true), addr("127.0.0.1:0"));
        // The last port has no neighbour: no endpoint rather than a wrong one.
        assert_eq!(
            metrics_listen(&settings("127.0.0.1:65535", None), true),
            None
        );
    }

    #[test]
    fn stratus_status_reads_where_a_default_dev_serves() {
        let served = metrics_listen(&ServerSettings::default(), true).expect("dev serves /metrics");
        let cli = <crate::Cli as clap::CommandFactory>::command();
        let status = cli.find_subcommand("status").expect("stratus status");
        let metrics = status
            .get_arguments()
            .find(|arg| arg.get_id() == "metrics")
            .expect("--metrics");
        let default = metrics.get_default_values()[0].to_string_lossy();
        assert_eq!(default, format!("http://{served}/metrics"));
    }

    #[test]
    fn the_setting_wins_and_only_dev_has_a_default() {
        let set = settings("127.0.0.1:0", Some("127.0.0.1:9100"));
        assert_eq!(metrics_listen(&set, true), addr("127.0.0.1:9100"));
        assert_eq!(metrics_listen(&set, false), addr("127.0.0.1:9100"));
        assert_eq!(
            metrics_listen(&settings("127.0.0.1:7400", None), false),
            None
        );
    }
}
