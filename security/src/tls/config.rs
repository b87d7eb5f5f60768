//! `[<listener>.tls]` settings, the same for every TCP listener.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::load::TlsError;

/// Shortest and longest time between checks of the certificate files.
const RELOAD_INTERVAL: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(3600));
const DEFAULT_RELOAD_INTERVAL: Duration = Duration::from_secs(10);

/// TLS of one listener. Off unless `cert` is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain presented to clients, leaf first. Setting it
    /// turns TLS on; the listener then refuses plaintext.
    pub cert: Option<PathBuf>,
    /// PEM private key of `cert` (PKCS#8, PKCS#1 or SEC1).
    pub key: Option<PathBuf>,
    /// PEM certificates of the CAs whose client certificates are accepted.
    /// Setting it turns mutual TLS on: a client without a certificate
    /// signed by one of them is refused during the handshake.
    pub client_ca: Option<PathBuf>,
    /// How often the files are checked for changes; a changed, valid set is
    /// used for new connections (open ones keep theirs), an invalid one is
    /// logged and the previous set kept.
    #[serde(with = "humantime_serde")]
    pub reload_interval: Duration,
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self {
            cert: None,
            key: None,
            client_ca: None,
            reload_interval: DEFAULT_RELOAD_INTERVAL,
        }
    }
}

impl TlsConfig {
    /// Whether TLS is on.
    pub fn enabled(&self) -> bool {
        self.cert.is_some()
    }

    /// Whether clients must present a certificate.
    pub fn mutual(&self) -> bool {
        self.enabled() && self.client_ca.is_some()
    }

    /// Checks the settings (not the files: [`super::server_config`] reads
    /// those); `prefix` is the section, e.g. `kafka.tls`, for the message.
    pub fn validate(&self, prefix: &str) -> Result<(), TlsError> {
        let invalid = |setting: &str, expected: &str| TlsError::Setting {
            setting: format!("{prefix}.{setting}"),
            expected: expected.to_owned(),
        };
        match (&self.cert, &self.key) {
            (Some(_), None) => {
                return Err(invalid("key", "the PEM private key of the certificate"));
            }
            (None, Some(_)) => {
                return Err(invalid(
                    "cert",
                    "the PEM certificate chain the key belongs to",
                ));
            }
            _ => {}
        }
        if self.client_ca.is_some() && self.cert.is_none() {
            return Err(invalid(
                "cert",
                "a server certificate: client_ca (mutual TLS) needs TLS on",
            ));
        }
        let (min, max) = RELOAD_INTERVAL;
        if !(min..=max).contains(&self.reload_interval) {
            return Err(invalid("reload_interval", "between 1s and 1h"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_setting() {
        let config = TlsConfig {
            cert: Some("c.pem".into()),
            ..TlsConfig::default()
        };
        let err = config.validate("kafka.tls").unwrap_err().to_string();
        assert!(err.contains("`kafka.tls.key`"), "{err}");
        let config = TlsConfig {
            client_ca: Some("ca.pem".into()),
            ..TlsConfig::default()
        };
        let err = config.validate("gateway.tls").unwrap_err().to_string();
        assert!(err.contains("`gateway.tls.cert`"), "{err}");
        let config = TlsConfig {
            reload_interval: Duration::ZERO,
            ..TlsConfig::default()
        };
        let err = config.validate("kafka.tls").unwrap_err().to_string();
        assert!(err.contains("reload_interval"), "{err}");
        TlsConfig::default().validate("kafka.tls").unwrap();
    }
}
