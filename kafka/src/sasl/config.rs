//! `[kafka.sasl]`: which SASL mechanisms the listener requires, how long an
//! authentication lasts, how failures are slowed down. Bounds are in
//! [`crate::limits`].

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

use super::Mechanism;
use crate::ConfigError;
use crate::limits;

/// SASL on the Kafka listener. With no mechanisms (the default) SASL is off
/// and clients send requests without authenticating; with any, a client
/// must authenticate with one of them before anything but ApiVersions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SaslConfig {
    /// Mechanisms offered, in SaslHandshake's order: `PLAIN`,
    /// `SCRAM-SHA-256`, `SCRAM-SHA-512`. A list, or one comma-separated
    /// string (handy in `STRATUS_KAFKA__SASL__MECHANISMS`).
    #[serde(deserialize_with = "mechanisms")]
    pub mechanisms: Vec<Mechanism>,
    /// How long one authentication lasts (KIP-368): clients are told, and
    /// must re-authenticate before it runs out or have their connection
    /// closed. 0 s: forever.
    #[serde(with = "humantime_serde")]
    pub max_session_lifetime: Duration,
    /// The first wait imposed on an address after a failed authentication;
    /// it doubles with each further failure (up to 32 times). 0 s: none.
    #[serde(with = "humantime_serde")]
    pub failure_delay: Duration,
}

impl Default for SaslConfig {
    fn default() -> Self {
        Self {
            mechanisms: Vec::new(),
            max_session_lifetime: limits::DEFAULT_MAX_SESSION_LIFETIME,
            failure_delay: limits::DEFAULT_FAILURE_DELAY,
        }
    }
}

impl SaslConfig {
    /// Whether clients must authenticate.
    pub fn enabled(&self) -> bool {
        !self.mechanisms.is_empty()
    }

    /// Checks the settings; the error names the first bad one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut seen = Vec::new();
        for m in &self.mechanisms {
            if seen.contains(m) {
                return Err(ConfigError {
                    setting: "sasl.mechanisms",
                    value: m.name().to_owned(),
                    expected: "each mechanism once".into(),
                });
            }
            seen.push(*m);
        }
        let lifetime = self.max_session_lifetime;
        if !lifetime.is_zero()
            && !(limits::MIN_SESSION_LIFETIME..=limits::MAX_SESSION_LIFETIME).contains(&lifetime)
        {
            return Err(ConfigError {
                setting: "sasl.max_session_lifetime",
                value: humantime::format_duration(lifetime).to_string(),
                expected: format!(
                    "expected 0s (no expiry) or between {} and {}",
                    humantime::format_duration(limits::MIN_SESSION_LIFETIME),
                    humantime::format_duration(limits::MAX_SESSION_LIFETIME)
                ),
            });
        }
        if self.failure_delay > limits::MAX_FAILURE_DELAY {
            return Err(ConfigError {
                setting: "sasl.failure_delay",
                value: humantime::format_duration(self.failure_delay).to_string(),
                expected: format!(
                    "expected at most {}",
                    humantime::format_duration(limits::MAX_FAILURE_DELAY)
                ),
            });
        }
        Ok(())
    }
}

fn mechanisms<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Mechanism>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Given {
        List(Vec<String>),
        Joined(String),
    }
    let names = match Given::deserialize(deserializer)? {
        Given::List(names) => names,
        Given::Joined(joined) => joined
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect(),
    };
    names
        .iter()
        .map(|name| {
            Mechanism::from_name(name).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "unknown SASL mechanism {name:?}; expected PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"
                ))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_lists_and_joined_strings() {
        let config: SaslConfig =
            serde_json::from_str(r#"{"mechanisms": ["scram-sha-512", "PLAIN"]}"#).unwrap();
        assert_eq!(
            config.mechanisms,
            vec![
                Mechanism::Scram(super::super::ScramMechanism::Sha512),
                Mechanism::Plain
            ]
        );
        let joined: SaslConfig = serde_json::from_str(
            r#"{"mechanisms": "SCRAM-SHA-512, PLAIN", "failure_delay": "0s"}"#,
        )
        .unwrap();
        assert_eq!(joined.mechanisms, config.mechanisms);
        assert!(joined.failure_delay.is_zero());
        let err = serde_json::from_str::<SaslConfig>(r#"{"mechanisms": ["GSSAPI"]}"#).unwrap_err();
        assert!(err.to_string().contains("unknown SASL mechanism"), "{err}");
        assert!(!SaslConfig::default().enabled());
        assert_eq!(SaslConfig::default().validate(), Ok(()));
    }

    #[test]
    fn errors_name_the_setting() {
        let twice = SaslConfig {
            mechanisms: vec![Mechanism::Plain, Mechanism::Plain],
            ..SaslConfig::default()
        };
        assert_eq!(twice.validate().unwrap_err().setting, "sasl.mechanisms");
        let short = SaslConfig {
            max_session_lifetime: Duration::from_millis(10),
            ..SaslConfig::default()
        };
        assert_eq!(
            short.validate().unwrap_err().setting,
            "sasl.max_session_lifetime"
        );
        let slow = SaslConfig {
            failure_delay: Duration::from_secs(3600),
            ..SaslConfig::default()
        };
        assert_eq!(slow.validate().unwrap_err().setting, "sasl.failure_delay");
    }
}
