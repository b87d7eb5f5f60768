//! Every bound of the telemetry crate, in one table: the defaults of
//! [`crate::TelemetryConfig`] (operators set their own under `[telemetry]`),
//! the ranges its `validate` accepts, and the fixed bounds of the `/metrics`
//! endpoint and the OTLP exporter. OTLP's own settings (endpoint, export
//! interval) come from the standard `OTEL_*` variables instead. The tests at
//! the bottom check how the bounds relate (the config's own tests check that
//! its defaults validate and its errors name these values). This module
//! imports nothing of the crate, so every other module may import it.

use std::time::Duration;

// `TelemetryConfig` defaults and ranges.

/// How often a gateway re-reads every partition's offsets for the
/// `stratus_partition_*` gauges (`partition_metrics_interval`): one metadata
/// read per topic, about as often as Prometheus scrapes by default.
pub const DEFAULT_PARTITION_METRICS_INTERVAL: Duration = Duration::from_secs(15);
/// Shortest `partition_metrics_interval`: faster would make the gauges a
/// steady metadata load.
pub const MIN_PARTITION_METRICS_INTERVAL: Duration = Duration::from_secs(1);
/// Partitions exported as gauges (`max_partition_series`): two series each,
/// well within what one Prometheus server ingests from one target.
pub const DEFAULT_MAX_PARTITION_SERIES: usize = 10_000;
/// Largest `max_partition_series`: beyond it a scrape alone is megabytes.
pub const MAX_PARTITION_SERIES_LIMIT: usize = 1_000_000;

// The `/metrics` endpoint.

/// Scrapes served at once; more wait in the accept queue. Scrapers are a
/// handful of Prometheus servers and `stratus status`, so this is generous.
pub(crate) const MAX_METRICS_CONNECTIONS: usize = 32;
/// Pause after a failed accept (out of file descriptors, usually), so the
/// loop backs off instead of spinning.
pub(crate) const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);
/// Starting size of a scrape's response buffer (it grows as needed): about
/// what a gateway with a few hundred partitions renders.
pub(crate) const METRICS_BODY_INITIAL_BYTES: usize = 64 * 1024;

// The OTLP exporter.

/// Bound on one OTLP metrics export: an export to a collector that does not
/// answer in this long fails instead of piling up behind it.
pub(crate) const OTLP_EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_inside_their_ranges() {
        assert!(DEFAULT_PARTITION_METRICS_INTERVAL >= MIN_PARTITION_METRICS_INTERVAL);
        const { assert!(DEFAULT_MAX_PARTITION_SERIES > 0) };
        const { assert!(DEFAULT_MAX_PARTITION_SERIES <= MAX_PARTITION_SERIES_LIMIT) };
    }

    #[test]
    fn endpoint_and_exporter_bounds() {
        const { assert!(MAX_METRICS_CONNECTIONS > 0 && METRICS_BODY_INITIAL_BYTES > 0) };
        assert!(!ACCEPT_ERROR_BACKOFF.is_zero(), "a zero backoff would spin");
        // OpenTelemetry's default metric export interval
        // (`OTEL_METRIC_EXPORT_INTERVAL`): one export ends before the next starts.
        const DEFAULT_EXPORT_INTERVAL: Duration = Duration::from_secs(60);
        assert!(OTLP_EXPORT_TIMEOUT < DEFAULT_EXPORT_INTERVAL);
    }
}
