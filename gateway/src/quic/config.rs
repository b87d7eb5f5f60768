//! Settings of the QUIC listener (`[gateway.quic]`), validated with the rest of
//! the gateway's.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::ConfigError;

/// The QUIC endpoint: where it listens, its certificate, and its limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuicConfig {
    /// Serve QUIC at all. TLS is always on, so a gateway that serves QUIC
    /// needs `cert` and `key` (`stratus dev` makes its own).
    pub enabled: bool,
    /// UDP address of the QUIC endpoint.
    pub listen: SocketAddr,
    /// PEM certificate chain presented to clients.
    pub cert: PathBuf,
    /// PEM private key of `cert` (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// Connections served at once; further handshakes are refused.
    pub max_connections: u32,
    /// Bidirectional streams (= calls in flight) per connection; a client
    /// that wants more waits for QUIC flow control to grant them.
    pub max_concurrent_streams: u32,
    /// Largest request frame accepted, length prefix included; larger ones
    /// get an error frame and only their stream is closed.
    pub max_frame_bytes: u64,
    /// Request bytes held by the endpoint at once across all connections;
    /// beyond it new requests wait unread, which stops their senders through
    /// flow control.
    pub max_buffered_bytes: u64,
    /// A connection with no traffic for this long is closed.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
}

impl Default for QuicConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 7401)),
            cert: PathBuf::new(),
            key: PathBuf::new(),
            max_connections: 1024,
            max_concurrent_streams: 256,
            max_frame_bytes: 16 * 1024 * 1024,
            max_buffered_bytes: 256 * 1024 * 1024,
            idle_timeout: Duration::from_secs(30),
        }
    }
}

impl QuicConfig {
    /// Checks every setting; the error names the first bad one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let fail = |setting, value: String, expected| {
            Err(ConfigError {
                setting,
                value,
                expected,
            })
        };
        if !self.enabled {
            return Ok(());
        }
        if self.cert.as_os_str().is_empty() != self.key.as_os_str().is_empty() {
            return fail(
                "quic.cert",
                format!("{:?} with quic.key {:?}", self.cert, self.key),
                "expected both quic.cert and quic.key, or neither",
            );
        }
        if !(1..=100_000).contains(&self.max_connections) {
            return fail(
                "quic.max_connections",
                self.max_connections.to_string(),
                "expected between 1 and 100000",
            );
        }
        if !(1..=10_000).contains(&self.max_concurrent_streams) {
            return fail(
                "quic.max_concurrent_streams",
                self.max_concurrent_streams.to_string(),
                "expected between 1 and 10000",
            );
        }
        if self.max_frame_bytes < 1024 || self.max_frame_bytes > 1024 * 1024 * 1024 {
            return fail(
                "quic.max_frame_bytes",
                self.max_frame_bytes.to_string(),
                "expected between 1 KiB and 1 GiB",
            );
        }
        if self.max_buffered_bytes < self.max_frame_bytes
            || self.max_buffered_bytes > u64::from(u32::MAX)
        {
            return fail(
                "quic.max_buffered_bytes",
                self.max_buffered_bytes.to_string(),
                "expected at least quic.max_frame_bytes and at most 4 GiB",
            );
        }
        if self.idle_timeout < Duration::from_secs(1)
            || self.idle_timeout > Duration::from_secs(3600)
        {
            return fail(
                "quic.idle_timeout",
                format!("{:?}", self.idle_timeout),
                "expected between 1s and 1h",
            );
        }
        Ok(())
    }

    /// Whether the certificate must be made up (by `stratus dev`) because
    /// none is configured.
    pub fn needs_certificate(&self) -> bool {
        self.enabled && self.cert.as_os_str().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        QuicConfig::default().validate().unwrap();
    }

    #[test]
    fn errors_name_the_setting() {
        let cases = [
            QuicConfig {
                max_frame_bytes: 10,
                ..QuicConfig::default()
            },
            QuicConfig {
                max_concurrent_streams: 0,
                ..QuicConfig::default()
            },
            QuicConfig {
                idle_timeout: Duration::ZERO,
                ..QuicConfig::default()
            },
            QuicConfig {
                cert: "/etc/cert.pem".into(),
                ..QuicConfig::default()
            },
        ];
        let names: Vec<_> = cases
            .iter()
            .map(|c| c.validate().unwrap_err().setting)
            .collect();
        assert_eq!(
            names,
            [
                "quic.max_frame_bytes",
                "quic.max_concurrent_streams",
                "quic.idle_timeout",
                "quic.cert"
            ]
        );
        let disabled = QuicConfig {
            enabled: false,
            max_frame_bytes: 10,
            ..QuicConfig::default()
        };
        disabled.validate().unwrap();
    }
}
