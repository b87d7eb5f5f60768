//! Installing the process-wide `tracing` subscriber and OpenTelemetry
//! providers, and flushing them at exit.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{MetricExporter, SpanExporter, WithExportConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Level;
use tracing_subscriber::filter::{EnvFilter, FilterFn};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{Layer as _, fmt};

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Why telemetry could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error(
        "cannot build the OTLP {signal} exporter: {reason}; check OTEL_EXPORTER_OTLP_ENDPOINT \
         (e.g. http://127.0.0.1:4317) or unset it to turn OTLP export off"
    )]
    Otlp {
        signal: &'static str,
        reason: String,
    },
    #[error("cannot set up the Prometheus exporter: {0}")]
    Prometheus(String),
}

/// The installed providers of one process. Dropping it without
/// [`Telemetry::shutdown`] loses the spans and metrics not yet exported.
#[derive(Debug)]
pub struct Telemetry {
    meter_provider: SdkMeterProvider,
    tracer_provider: Option<SdkTracerProvider>,
    registry: prometheus::Registry,
}

/// Whether OTLP export of `signal` (`TRACES` or `METRICS`) is configured by
/// the standard variables: the signal's own endpoint or the common one, and
/// the SDK not disabled with `OTEL_SDK_DISABLED=true`.
pub fn otlp_configured(signal: &str) -> bool {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    let disabled = std::env::var("OTEL_SDK_DISABLED").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
    !disabled
        && (set("OTEL_EXPORTER_OTLP_ENDPOINT")
            || set(&format!("OTEL_EXPORTER_OTLP_{signal}_ENDPOINT")))
}

impl Telemetry {
    /// Installs logging (level from `RUST_LOG`, default `info`), the meter
    /// provider (Prometheus reader always; OTLP when configured) and, when
    /// OTLP traces are configured, span export. Must run inside a Tokio
    /// runtime: the OTLP exporters' gRPC channels live on it.
    pub fn init(service_name: &'static str, format: LogFormat) -> Result<Self, TelemetryError> {
        let resource = resource(service_name);
        let registry = prometheus::Registry::new();
        let prometheus = opentelemetry_prometheus::exporter()
            .with_registry(registry.clone())
            .without_units()
            .build()
            .map_err(|e| TelemetryError::Prometheus(e.to_string()))?;
        let mut meters = SdkMeterProvider::builder()
            .with_resource(resource.clone())
            .with_reader(prometheus);
        if otlp_configured("METRICS") {
            let exporter = MetricExporter::builder()
                .with_tonic()
                .with_timeout(crate::limits::OTLP_EXPORT_TIMEOUT)
                .build()
                .map_err(|e| otlp_error("metrics", &e))?;
            // The interval comes from OTEL_METRIC_EXPORT_INTERVAL (default 60s).
            meters = meters.with_periodic_exporter(exporter);
        }
        let meter_provider = meters.build();
        opentelemetry::global::set_meter_provider(meter_provider.clone());
        // Create the instruments now, on this provider, not at first use.
        let _ = crate::metrics();

        let tracer_provider = if otlp_configured("TRACES") {
            let exporter = SpanExporter::builder()
                .with_tonic()
                .build()
                .map_err(|e| otlp_error("traces", &e))?;
            Some(
                SdkTracerProvider::builder()
                    .with_resource(resource)
                    .with_batch_exporter(exporter)
                    .build(),
            )
        } else {
            None
        };
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        install_subscriber(format, tracer_provider.as_ref());
        Ok(Self {
            meter_provider,
            tracer_provider,
            registry,
        })
    }

    /// The registry the `/metrics` endpoint renders.
    pub fn registry(&self) -> &prometheus::Registry {
        &self.registry
    }

    /// Whether spans are exported.
    pub fn exports_traces(&self) -> bool {
        self.tracer_provider.is_some()
    }

    /// Exports what is buffered and stops the exporters. Blocks while the
    /// last export runs, so it runs off the async worker threads.
    pub async fn shutdown(self) {
        let Self {
            meter_provider,
            tracer_provider,
            ..
        } = self;
        let done = tokio::task::spawn_blocking(move || {
            if let Some(tracer_provider) = tracer_provider
                && let Err(e) = tracer_provider.shutdown()
            {
                tracing::warn!(error = %e, "flushing spans at exit failed");
            }
            if let Err(e) = meter_provider.shutdown() {
                tracing::warn!(error = %e, "flushing metrics at exit failed");
            }
        });
        let _ = done.await;
    }
}

fn otlp_error(signal: &'static str, error: &dyn std::fmt::Display) -> TelemetryError {
    TelemetryError::Otlp {
        signal,
        reason: error.to_string(),
    }
}

/// `service.name` from `OTEL_SERVICE_NAME` when set (the SDK's resource
/// detectors read it, with `OTEL_RESOURCE_ATTRIBUTES`), else the process kind.
fn resource(service_name: &'static str) -> Resource {
    let builder = Resource::builder();
    if std::env::var("OTEL_SERVICE_NAME").is_ok_and(|v| !v.is_empty()) {
        builder.build()
    } else {
        builder.with_service_name(service_name).build()
    }
}

/// Log lines go to stderr filtered by `RUST_LOG`; spans of Stratus crates at
/// INFO and above go to OpenTelemetry whatever `RUST_LOG` says, so turning
/// logs down never breaks traces.
fn install_subscriber(format: LogFormat, tracer_provider: Option<&SdkTracerProvider>) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let logs = fmt::layer().with_writer(std::io::stderr).with_ansi(ansi);
    let logs = match format {
        LogFormat::Text => logs.boxed(),
        LogFormat::Json => logs.json().boxed(),
    };
    let spans = tracer_provider.map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("stratus"))
            .with_filter(FilterFn::new(|meta| {
                meta.target().starts_with("stratus") && *meta.level() <= Level::INFO
            }))
    });
    // A second init (tests that start several servers in one process) keeps
    // the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(logs.with_filter(filter))
        .with(spans)
        .try_init();
}
