//! The `[telemetry]` settings of a server process.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::limits;

/// Where metrics are served and how often cluster-wide gauges are refreshed.
/// OTLP export is configured by the standard `OTEL_*` environment variables,
/// not here, so any OpenTelemetry deployment tooling works unchanged. The
/// defaults and accepted ranges are in [`crate::limits`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryConfig {
    /// Address of the Prometheus `/metrics` HTTP endpoint; unset: no
    /// endpoint. `stratus dev` serves it on the gateway's port + 1 by default.
    pub metrics_listen: Option<SocketAddr>,
    /// How often a gateway re-reads every partition's log start and next
    /// offset for the `stratus_partition_*` gauges (one metadata read per topic).
    #[serde(with = "humantime_serde")]
    pub partition_metrics_interval: Duration,
    /// Partitions whose offsets are exported as gauges, at most; beyond it
    /// the rest are left out (and counted in a warning), bounding series.
    pub max_partition_series: usize,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            metrics_listen: None,
            partition_metrics_interval: limits::DEFAULT_PARTITION_METRICS_INTERVAL,
            max_partition_series: limits::DEFAULT_MAX_PARTITION_SERIES,
        }
    }
}

/// A telemetry setting out of range, named so the fix is obvious.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid setting `telemetry.{setting}` = {value}: {expected}")]
pub struct TelemetryConfigError {
    pub setting: &'static str,
    pub value: String,
    pub expected: &'static str,
}

impl TelemetryConfig {
    /// Checks every setting. `grpc_listen` is the gateway's address, which the
    /// metrics endpoint must not share.
    pub fn validate(&self, grpc_listen: Option<SocketAddr>) -> Result<(), TelemetryConfigError> {
        if let (Some(metrics), Some(grpc)) = (self.metrics_listen, grpc_listen)
            && metrics.port() != 0
            && metrics == grpc
        {
            return Err(TelemetryConfigError {
                setting: "metrics_listen",
                value: metrics.to_string(),
                expected: "expected an address other than gateway.listen; pick another port",
            });
        }
        if self.partition_metrics_interval < limits::MIN_PARTITION_METRICS_INTERVAL {
            return Err(TelemetryConfigError {
                setting: "partition_metrics_interval",
                value: format!("{:?}", self.partition_metrics_interval),
                expected: "expected at least 1s",
            });
        }
        if self.max_partition_series > limits::MAX_PARTITION_SERIES_LIMIT {
            return Err(TelemetryConfigError {
                setting: "max_partition_series",
                value: self.max_partition_series.to_string(),
                expected: "expected at most 1000000",
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        TelemetryConfig::default().validate(None).unwrap();
    }

    #[test]
    fn range_errors_name_the_limits_table_values() {
        let config = TelemetryConfig {
            max_partition_series: limits::MAX_PARTITION_SERIES_LIMIT + 1,
            ..TelemetryConfig::default()
        };
        let err = config.validate(None).unwrap_err();
        let limit = limits::MAX_PARTITION_SERIES_LIMIT;
        assert!(err.expected.ends_with(&format!("at most {limit}")), "{err}");
        let config = TelemetryConfig {
            partition_metrics_interval: limits::MIN_PARTITION_METRICS_INTERVAL / 2,
            ..TelemetryConfig::default()
        };
        let err = config.validate(None).unwrap_err();
        assert_eq!(
            limits::MIN_PARTITION_METRICS_INTERVAL,
            Duration::from_secs(1)
        );
        assert!(err.expected.ends_with("at least 1s"), "{err}");
    }

    #[test]
    fn metrics_endpoint_cannot_share_the_grpc_address() {
        let addr: SocketAddr = "127.0.0.1:7400".parse().unwrap();
        let config = TelemetryConfig {
            metrics_listen: Some(addr),
            ..TelemetryConfig::default()
        };
        let err = config.validate(Some(addr)).unwrap_err();
        assert!(
            err.to_string().contains("telemetry.metrics_listen"),
            "{err}"
        );
        let ephemeral: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let config = TelemetryConfig {
            metrics_listen: Some(ephemeral),
            ..TelemetryConfig::default()
        };
        config.validate(Some(ephemeral)).unwrap();
    }
}
