//! Gateway settings: one typed struct, validated before anything starts.
//! Defaults and ranges are rows of `crate::limits`; this module only names
//! the settings and checks them through `check::Limit`.

pub(crate) mod check;
mod quic;

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use check::ConfigError;
pub use quic::QuicConfig;

use crate::limits;

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
    /// Flushes whose objects are durable commit together, up to this many
    /// in one metadata transaction (group commit); 1 commits each alone.
    pub max_flushes_per_commit: usize,
    /// Bytes of produce requests accepted but not yet acknowledged, counted
    /// before a request is validated and encoded; beyond it unary produce
    /// calls fail with RESOURCE_EXHAUSTED and streams wait.
    pub max_inflight_bytes: u64,
    /// Largest gRPC request accepted, in bytes.
    pub max_request_bytes: u64,
    /// Requests of one ordered produce stream accepted but not yet answered;
    /// beyond it the stream stops reading until answers go out.
    pub max_pipelined_requests: usize,
    /// Bytes of chunk data cached in memory for readers.
    pub chunk_cache_bytes: u64,
    /// zstd level for record batches the gateway encodes (1 is fastest).
    pub zstd_level: i32,
    /// How long a cached topic record is trusted before it is read again.
    #[serde(with = "humantime_serde")]
    pub topic_cache_ttl: Duration,
    /// Cap on a fetch's `max_wait_ms`.
    #[serde(with = "humantime_serde")]
    pub max_fetch_wait: Duration,
    /// Cap on a fetch's `max_bytes`; also the default when a fetch gives 0.
    pub max_fetch_bytes: u32,
    /// TLS of the gRPC listener (`[gateway.tls]`); off unless `cert` is set.
    pub tls: stratus_security::TlsConfig,
    /// The QUIC endpoint (`[gateway.quic]`).
    pub quic: QuicConfig,
    /// Consumer group limits (`[gateway.groups]`).
    pub groups: GroupsConfig,
}

/// Limits of consumer groups. Every gateway of a cluster should use the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GroupsConfig {
    /// Most live members one group may have; a join beyond it is refused.
    pub max_members: usize,
    /// Most groups the cluster may have, of either protocol; a join or
    /// commit that would create one more is refused.
    pub max_groups: usize,
    /// Largest protocol metadata one Kafka (classic protocol) member may
    /// offer; a JoinGroup beyond it is refused and changes nothing.
    pub max_member_metadata_bytes: usize,
    /// Largest assignment a classic group's leader may give one member; a
    /// SyncGroup beyond it is refused and changes nothing. With
    /// `max_member_metadata_bytes`, at most 32 KiB.
    pub max_assignment_bytes: usize,
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
            max_members: limits::GROUP_MAX_MEMBERS.default,
            max_groups: limits::GROUP_MAX_GROUPS.default,
            max_member_metadata_bytes: limits::GROUP_MAX_MEMBER_METADATA_BYTES.default,
            max_assignment_bytes: limits::GROUP_MAX_ASSIGNMENT_BYTES.default,
            min_session_timeout: limits::GROUP_MIN_SESSION_TIMEOUT.default,
            max_session_timeout: limits::GROUP_MAX_SESSION_TIMEOUT.default,
            default_session_timeout: limits::GROUP_DEFAULT_SESSION_TIMEOUT.default,
        }
    }
}

impl GroupsConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let (min, max) = (self.min_session_timeout, self.max_session_timeout);
        limits::GROUP_MAX_MEMBERS.check(self.max_members)?;
        limits::GROUP_MAX_GROUPS.check(self.max_groups)?;
        limits::GROUP_MAX_MEMBER_METADATA_BYTES.check(self.max_member_metadata_bytes)?;
        limits::GROUP_MAX_ASSIGNMENT_BYTES.check(self.max_assignment_bytes)?;
        let payload = self.max_member_metadata_bytes + self.max_assignment_bytes;
        if payload > limits::CLASSIC_MEMBER_PAYLOAD_BYTES {
            return Err(ConfigError::new(
                "groups.max_assignment_bytes",
                self.max_assignment_bytes.to_string(),
                &format!(
                    "at most {} bytes minus groups.max_member_metadata_bytes ({}): a classic \
                     member's metadata and assignment are stored together in one metadata value",
                    limits::CLASSIC_MEMBER_PAYLOAD_BYTES,
                    self.max_member_metadata_bytes
                ),
            ));
        }
        limits::GROUP_MIN_SESSION_TIMEOUT.check(min)?;
        limits::GROUP_MAX_SESSION_TIMEOUT.check_against(max, Some(min), None)?;
        limits::GROUP_DEFAULT_SESSION_TIMEOUT.check_against(
            self.default_session_timeout,
            Some(min),
            Some(max),
        )
    }
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 7400)),
            cluster: "default".to_owned(),
            linger: limits::LINGER.default,
            flush_bytes: limits::FLUSH_BYTES.default,
            max_concurrent_flushes: limits::MAX_CONCURRENT_FLUSHES.default,
            max_flushes_per_commit: limits::MAX_FLUSHES_PER_COMMIT.default,
            max_inflight_bytes: limits::MAX_INFLIGHT_BYTES.default,
            max_request_bytes: limits::MAX_REQUEST_BYTES.default,
            max_pipelined_requests: limits::MAX_PIPELINED_REQUESTS.default,
            chunk_cache_bytes: limits::CHUNK_CACHE_BYTES.default,
            zstd_level: limits::ZSTD_LEVEL.default,
            topic_cache_ttl: limits::TOPIC_CACHE_TTL.default,
            max_fetch_wait: limits::MAX_FETCH_WAIT.default,
            max_fetch_bytes: limits::MAX_FETCH_BYTES.default,
            tls: stratus_security::TlsConfig::default(),
            quic: QuicConfig::default(),
            groups: GroupsConfig::default(),
        }
    }
}

impl GatewayConfig {
    /// Checks every setting; the error names the first bad one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        limits::LINGER.check(self.linger)?;
        limits::FLUSH_BYTES.check(self.flush_bytes)?;
        limits::MAX_CONCURRENT_FLUSHES.check(self.max_concurrent_flushes)?;
        limits::MAX_FLUSHES_PER_COMMIT.check(self.max_flushes_per_commit)?;
        limits::MAX_REQUEST_BYTES.check(self.max_request_bytes)?;
        limits::MAX_INFLIGHT_BYTES.check_against(
            self.max_inflight_bytes,
            Some(self.max_request_bytes),
            None,
        )?;
        limits::ZSTD_LEVEL.check(self.zstd_level)?;
        limits::MAX_FETCH_BYTES.check(self.max_fetch_bytes)?;
        limits::MAX_PIPELINED_REQUESTS.check(self.max_pipelined_requests)?;
        limits::TOPIC_CACHE_TTL.check(self.topic_cache_ttl)?;
        if self.cluster.is_empty() {
            let expected = "expected a non-empty name";
            return Err(ConfigError::new("cluster", "\"\"".to_owned(), expected));
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
    fn messages_are_the_ones_operators_know() {
        let cases = [
            (
                GatewayConfig {
                    max_inflight_bytes: 1024,
                    ..GatewayConfig::default()
                },
                "invalid setting `max_inflight_bytes` = 1024: expected at least \
                 max_request_bytes and at most 4 GiB",
            ),
            (
                GatewayConfig {
                    linger: Duration::from_secs(11),
                    ..GatewayConfig::default()
                },
                "invalid setting `linger` = 11s: expected at most 10s",
            ),
            (
                GatewayConfig {
                    max_fetch_bytes: 10,
                    ..GatewayConfig::default()
                },
                "invalid setting `max_fetch_bytes` = 10: expected at least 1024",
            ),
            (
                GatewayConfig {
                    cluster: String::new(),
                    ..GatewayConfig::default()
                },
                "invalid setting `cluster` = \"\": expected a non-empty name",
            ),
        ];
        for (config, message) in cases {
            assert_eq!(config.validate().unwrap_err().to_string(), message);
        }
    }

    #[test]
    fn group_limits_are_validated() {
        let mut config = GatewayConfig::default();
        config.groups.default_session_timeout = Duration::from_secs(600);
        let err = config.validate().unwrap_err();
        assert_eq!(err.setting, "groups.default_session_timeout");
        assert_eq!(
            err.expected,
            "expected between groups.min_session_timeout and groups.max_session_timeout"
        );
        config.groups = GroupsConfig {
            max_members: 0,
            ..GroupsConfig::default()
        };
        let err = config.validate().unwrap_err();
        assert_eq!(err.setting, "groups.max_members");
        assert_eq!(
            err.expected,
            "expected between 1 and 10000 (every member's record is rewritten in one \
             transaction on a rebalance)"
        );
        config.groups = GroupsConfig {
            max_groups: 0,
            ..GroupsConfig::default()
        };
        assert_eq!(config.validate().unwrap_err().setting, "groups.max_groups");
        // Each size alone is in range, together they do not fit one record.
        config.groups = GroupsConfig {
            max_member_metadata_bytes: 24 * 1024,
            max_assignment_bytes: 16 * 1024,
            ..GroupsConfig::default()
        };
        let err = config.validate().unwrap_err();
        assert_eq!(err.setting, "groups.max_assignment_bytes");
        assert!(
            err.expected.contains("max_member_metadata_bytes (24576)"),
            "{err}"
        );
        config.groups.max_assignment_bytes = 8 * 1024;
        config.validate().unwrap();
    }
}
