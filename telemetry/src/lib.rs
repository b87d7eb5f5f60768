//! Observability for every Stratus process: the `tracing` subscriber (text or
//! JSON logs filtered by `RUST_LOG`, plus spans exported over OTLP when the
//! standard `OTEL_EXPORTER_OTLP_*` variables are set), the OpenTelemetry meter
//! provider (exported over OTLP, and rendered in the Prometheus text format on
//! a `/metrics` endpoint), and the metric instruments the components record to.
//!
//! Components record through [`metrics()`] and never learn where the numbers
//! go; without [`Telemetry::init`] (tests, client commands) the instruments are
//! no-ops. Nothing here may log or allocate per record: hot paths add to
//! counters and histograms only. Every bound of the crate is in [`limits`].

mod config;
mod endpoint;
mod instruments;
pub mod limits;
mod setup;

pub use config::{TelemetryConfig, TelemetryConfigError};
pub use endpoint::{MetricsEndpoint, MetricsEndpointError};
pub use instruments::{Metrics, meter, metrics};
pub use setup::{LogFormat, Telemetry, TelemetryError, otlp_configured};

/// Re-exported so components can build attributes and register observable
/// instruments without naming the `opentelemetry` crate themselves.
pub use opentelemetry::KeyValue;
pub use opentelemetry::metrics::Meter;
