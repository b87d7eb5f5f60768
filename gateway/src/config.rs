//! Gateway settings: one typed struct, validated before anything starts.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Every limit and knob of a gateway. Defaults suit `stratus dev`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewayConfig {
    /// Address the gRPC server listens on.
    pub listen: SocketAddr,
    /// Name of the cluster in metadata; gateways of one cluster share it.
    pub cluster: String,
    /// How long the batcher waits for more produce calls before it flushes.
    #[serde(with = "humantime_serde")]
    pub linger: Duration,
    /// The batcher flushes as soon as this many bytes are waiting.
    pub flush_bytes: u64,
    /// WAL objects written at once; their commits stay in arrival order.
    /// High-latency tiers (S3 Standard) need more to keep the tail short.
    pub max_concurrent_flushes: usize,
    /// Bytes of produce requests accepted but not yet acknowledged; beyond it
    /// unary produce calls fail with RESOURCE_EXHAUSTED and streams wait.
    pub max_inflight_bytes: u64,
    /// Largest gRPC request accepted, in bytes.
    pub max_request_bytes: u64,
    /// Bytes of chunk data cached in memory for readers.
    pub chunk_cache_bytes: u64,
    /// zstd level for record batches the gateway encodes (1 is fastest).
    pub zstd_level: i32,
    /// Cap on a fetch's `max_wait_ms`.
    #[serde(with = "humantime_serde")]
    pub max_fetch_wait: Duration,
    /// Cap on a fetch's `max_bytes`; also the default when a fetch gives 0.
    pub max_fetch_bytes: u32,
    /// The QUIC endpoint (`[gateway.quic]`).
    pub quic: crate::quic::QuicConfig,
    /// Consumer group limits (`[gateway.groups]`).
    pub groups: GroupsConfig,
}

/// Limits of consumer groups. Every gateway of a cluster should use the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GroupsConfig {
    /// Most live members one group may have; a join beyond it is refused.
    pub max_members: usize,
    /// Shortest session timeout a member may ask for.
    #[serde(with = "humantime_serde")]
    pub min_session_timeout: Duration,
    /// Longest session timeout a member may ask for.
    #[serde(with = "humantime_serde")]
    pub max_session_timeout: Duration,
    /// Session timeout of a member that does not ask for one.
    #[serde(with = "humantime_serde")]
    pub default_session_timeout: Duration,
}

impl Default for GroupsConfig {
    fn default() -> Self {
        Self {
            max_members: 1000,
            min_session_timeout: Duration::from_secs(1),
            max_session_timeout: Duration::from_secs(300),
            default_session_timeout: Duration::from_secs(10),
        }
    }
}

impl GroupsConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let fail = |setting, value: String, expected| {
            Err(ConfigError {
                setting,
                value,
                expected,
            })
        };
        if !(1..=10_000).contains(&self.max_members) {
            return fail(
                "groups.max_members",
                self.max_members.to_string(),
                "expected between 1 and 10000 (every member's record is rewritten in one transaction on a rebalance)",
            );
        }
        if self.min_session_timeout < Duration::from_millis(100) {
            return fail(
                "groups.min_session_timeout",
                format!("{:?}", self.min_session_timeout),
                "expected at least 100ms",
            );
        }
        if self.max_session_timeout < self.min_session_timeout
            || self.max_session_timeout > Duration::from_secs(3600)
        {
            return fail(
                "groups.max_session_timeout",
                format!("{:?}", self.max_session_timeout),
                "expected at least groups.min_session_timeout and at most 1h",
            );
        }
        if self.default_session_timeout < self.min_session_timeout
            || self.default_session_timeout > self.max_session_timeout
        {
            return fail(
                "groups.default_session_timeout",
                format!("{:?}", self.default_session_timeout),
                "expected between groups.min_session_timeout and groups.max_session_timeout",
            );
        }
        Ok(())
    }
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 7400)),
            cluster: "default".to_owned(),
            linger: Duration::from_millis(5),
            flush_bytes: 4 * 1024 * 1024,
            max_concurrent_flushes: 16,
            max_inflight_bytes: 256 * 1024 * 1024,
            max_request_bytes: 16 * 1024 * 1024,
            chunk_cache_bytes: 256 * 1024 * 1024,
            zstd_level: 1,
            max_fetch_wait: Duration::from_secs(30),
            max_fetch_bytes: 8 * 1024 * 1024,
            quic: crate::quic::QuicConfig::default(),
            groups: GroupsConfig::default(),
        }
    }
}

/// A setting out of range, named so the fix is obvious.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid setting `{setting}` = {value}: {expected}")]
pub struct ConfigError {
    pub setting: &'static str,
    pub value: String,
    pub expected: &'static str,
}

impl GatewayConfig {
    /// Checks every setting; the error names the first bad one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let fail = |setting, value: String, expected| {
            Err(ConfigError {
                setting,
                value,
                expected,
            })
        };
        if self.linger > Duration::from_secs(10) {
            return fail(
                "linger",
                format!("{:?}", self.linger),
                "expected at most 10s",
            );
        }
        if self.flush_bytes < 1024 || self.flush_bytes > 256 * 1024 * 1024 {
            return fail(
                "flush_bytes",
                self.flush_bytes.to_string(),
                "expected between 1 KiB and 256 MiB",
            );
        }
        if !(1..=64).contains(&self.max_concurrent_flushes) {
            return fail(
                "max_concurrent_flushes",
                self.max_concurrent_flushes.to_string(),
                "expected between 1 and 64",
            );
        }
        if self.max_request_bytes < 1024 || self.max_request_bytes > 1024 * 1024 * 1024 {
            return fail(
                "max_request_bytes",
                self.max_request_bytes.to_string(),
                "expected between 1 KiB and 1 GiB",
            );
        }
        if self.max_inflight_bytes < self.max_request_bytes
            || self.max_inflight_bytes > u64::from(u32::MAX)
        {
            return fail(
                "max_inflight_bytes",
                self.max_inflight_bytes.to_string(),
                "expected at least max_request_bytes and at most 4 GiB",
            );
        }
        if !(-7..=22).contains(&self.zstd_level) {
            return fail(
                "zstd_level",
                self.zstd_level.to_string(),
                "expected between -7 and 22",
            );
        }
        if self.max_fetch_bytes < 1024 {
            return fail(
                "max_fetch_bytes",
                self.max_fetch_bytes.to_string(),
                "expected at least 1024",
            );
        }
        if self.cluster.is_empty() {
            return fail("cluster", "\"\"".to_owned(), "expected a non-empty name");
        }
        self.quic.validate()?;
        self.groups.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        GatewayConfig::default().validate().unwrap();
    }

    #[test]
    fn errors_name_the_setting() {
        let config = GatewayConfig {
            flush_bytes: 1,
            ..GatewayConfig::default()
        };
        let err = config.validate().unwrap_err();
        assert_eq!(err.setting, "flush_bytes");
        assert!(err.to_string().contains("flush_bytes"));
    }

    #[test]
    fn group_limits_are_validated() {
        let mut config = GatewayConfig::default();
        config.groups.default_session_timeout = Duration::from_secs(600);
        let err = config.validate().unwrap_err();
        assert_eq!(err.setting, "groups.default_session_timeout");
        config.groups = GroupsConfig {
            max_members: 0,
            ..GroupsConfig::default()
        };
        assert_eq!(config.validate().unwrap_err().setting, "groups.max_members");
    }
}
