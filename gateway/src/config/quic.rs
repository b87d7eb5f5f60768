//! Settings of the QUIC listener (`[gateway.quic]`), validated with the rest of
//! the gateway's. Here, not in `crate::quic`, so that settings never depend
//! on the transport that reads them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::check::ConfigError;
use crate::limits;

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
    /// Bytes one connection may have in flight to the gateway unread (its
    /// connection-level receive window); bounds what one connection makes
    /// quinn buffer while its streams wait for `max_buffered_bytes`.
    pub receive_window: u64,
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
            max_connections: limits::QUIC_MAX_CONNECTIONS.default,
            max_concurrent_streams: limits::QUIC_MAX_CONCURRENT_STREAMS.default,
            max_frame_bytes: limits::QUIC_MAX_FRAME_BYTES.default,
            max_buffered_bytes: limits::QUIC_MAX_BUFFERED_BYTES.default,
            receive_window: limits::QUIC_RECEIVE_WINDOW.default,
            idle_timeout: limits::QUIC_IDLE_TIMEOUT.default,
        }
    }
}

impl QuicConfig {
    /// Checks every setting; the error names the first bad one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.enabled {
            return Ok(());
        }
        if self.cert.as_os_str().is_empty() != self.key.as_os_str().is_empty() {
            let value = format!("{:?} with quic.key {:?}", self.cert, self.key);
            let expected = "expected both quic.cert and quic.key, or neither";
            return Err(ConfigError::new("quic.cert", value, expected));
        }
        limits::QUIC_MAX_CONNECTIONS.check(self.max_connections)?;
        limits::QUIC_MAX_CONCURRENT_STREAMS.check(self.max_concurrent_streams)?;
        limits::QUIC_MAX_FRAME_BYTES.check(self.max_frame_bytes)?;
        limits::QUIC_MAX_BUFFERED_BYTES.check_against(
            self.max_buffered_bytes,
            Some(self.max_frame_bytes),
            None,
        )?;
        limits::QUIC_IDLE_TIMEOUT.check(self.idle_timeout)?;
        limits::QUIC_RECEIVE_WINDOW.check(self.receive_window)
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
