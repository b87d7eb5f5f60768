//! Settings of the Kafka listener (`[gateway.kafka]` once the gateway embeds
//! it): one typed struct, validated before the listener binds.
//!
//! Defaults and ranges live in [`crate::limits`]; this module must never hold
//! a bare number of its own.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::limits;

/// A setting out of range. The message names the setting, so a bad value
/// fails at boot saying what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("kafka.{setting} = {value} is invalid: {expected}")]
pub struct ConfigError {
    /// The setting's name as written in the config file.
    pub setting: &'static str,
    /// The value given.
    pub value: String,
    /// What would be accepted.
    pub expected: String,
}

/// Where the Kafka listener listens, what it tells clients, and its limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaConfig {
    /// Serve the Kafka protocol at all (on by default: every gateway is a
    /// Kafka broker).
    pub enabled: bool,
    /// TCP address to listen on; port 0 picks a free port (see
    /// [`KafkaListener::local_addr`](crate::KafkaListener::local_addr)).
    pub listen: SocketAddr,
    /// Host clients are told to connect to (the gateway registers it). Unset:
    /// the listen address's IP.
    pub advertised_host: Option<String>,
    /// Port clients are told to connect to. Unset: the port actually bound.
    pub advertised_port: Option<u16>,
    /// Largest request frame accepted, size prefix excluded. A larger size
    /// prefix closes the connection before the body is read.
    pub max_frame_bytes: u32,
    /// Requests read from one connection and not yet answered; beyond it the
    /// connection is not read until an answer is written.
    pub max_in_flight_requests: u32,
    /// Request bytes read from one connection and not yet answered; beyond it
    /// the connection is not read. At least `max_frame_bytes`.
    pub max_in_flight_bytes: u64,
    /// Connections served at once; further ones are closed on accept.
    pub max_connections: u32,
    /// A connection with nothing in flight and no request for this long is
    /// closed; so is one that stalls in the middle of a request, or stops
    /// reading responses, for this long.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Create a topic named in a Metadata request that does not exist
    /// (Kafka's `auto.create.topics.enable`). Off: a typo should not make a topic.
    pub auto_create_topics: bool,
    /// Partitions of a topic created without a count: auto-created ones, and
    /// CreateTopics with `num_partitions = -1`.
    pub default_partitions: u32,
    /// This gateway's availability zone (Kafka's `broker.rack`), registered
    /// with it: Metadata names leaders in a client's zone when it has
    /// gateways there. Unset: no zone.
    pub zone: Option<String>,
    /// The zone of clients on this listener whose `client.id` names none
    /// (`stratus_zone=...`). Unset: such clients get leaders from every zone.
    pub client_zone: Option<String>,
    /// TLS of the listener (`[kafka.tls]`); off unless `cert` is set. With
    /// `client_ca`, clients must present a certificate (Kafka's
    /// `ssl.client.auth=required`).
    pub tls: stratus_security::TlsConfig,
    /// SASL authentication (`[kafka.sasl]`); off unless `mechanisms` names
    /// any. Over `tls` it is Kafka's SASL_SSL.
    pub sasl: crate::sasl::SaslConfig,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 9092)),
            advertised_host: None,
            advertised_port: None,
            max_frame_bytes: limits::DEFAULT_MAX_FRAME_BYTES,
            max_in_flight_requests: limits::DEFAULT_MAX_IN_FLIGHT_REQUESTS,
            max_in_flight_bytes: limits::DEFAULT_MAX_IN_FLIGHT_BYTES,
            max_connections: limits::DEFAULT_MAX_CONNECTIONS,
            idle_timeout: limits::DEFAULT_IDLE_TIMEOUT,
            auto_create_topics: false,
            default_partitions: limits::DEFAULT_PARTITIONS,
            zone: None,
            client_zone: None,
            tls: stratus_security::TlsConfig::default(),
            sasl: crate::sasl::SaslConfig::default(),
        }
    }
}

impl KafkaConfig {
    /// Checks every setting; the error names the first bad one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        fn fail(setting: &'static str, value: String, expected: String) -> Result<(), ConfigError> {
            Err(ConfigError {
                setting,
                value,
                expected,
            })
        }
        if let Some(host) = &self.advertised_host
            && (host.is_empty() || host.len() > 255 || host.chars().any(char::is_whitespace))
        {
            return fail(
                "advertised_host",
                format!("{host:?}"),
                "expected a host name or IP address without spaces, at most 255 bytes".into(),
            );
        }
        if self.advertised_host.is_none() && self.listen.ip().is_unspecified() {
            return fail(
                "advertised_host",
                "unset".into(),
                format!(
                    "expected a host clients can reach, since kafka.listen {} accepts any address",
                    self.listen
                ),
            );
        }
        if self.advertised_port == Some(0) {
            return fail(
                "advertised_port",
                "0".into(),
                "expected a port between 1 and 65535, or no value for the bound port".into(),
            );
        }
        if !(limits::MIN_FRAME_BYTES..=limits::MAX_FRAME_BYTES_CEILING)
            .contains(&self.max_frame_bytes)
        {
            return fail(
                "max_frame_bytes",
                self.max_frame_bytes.to_string(),
                format!(
                    "expected between {} and {}",
                    limits::MIN_FRAME_BYTES,
                    limits::MAX_FRAME_BYTES_CEILING
                ),
            );
        }
        if !(1..=limits::MAX_IN_FLIGHT_REQUESTS_CEILING).contains(&self.max_in_flight_requests) {
            return fail(
                "max_in_flight_requests",
                self.max_in_flight_requests.to_string(),
                format!(
                    "expected between 1 and {}",
                    limits::MAX_IN_FLIGHT_REQUESTS_CEILING
                ),
            );
        }
        if self.max_in_flight_bytes < u64::from(self.max_frame_bytes)
            || self.max_in_flight_bytes > limits::MAX_IN_FLIGHT_BYTES_CEILING
        {
            return fail(
                "max_in_flight_bytes",
                self.max_in_flight_bytes.to_string(),
                format!(
                    "expected at least kafka.max_frame_bytes ({}) and at most {}",
                    self.max_frame_bytes,
                    limits::MAX_IN_FLIGHT_BYTES_CEILING
                ),
            );
        }
        if !(1..=limits::MAX_CONNECTIONS_CEILING).contains(&self.max_connections) {
            return fail(
                "max_connections",
                self.max_connections.to_string(),
                format!("expected between 1 and {}", limits::MAX_CONNECTIONS_CEILING),
            );
        }
        if !(limits::MIN_IDLE_TIMEOUT..=limits::MAX_IDLE_TIMEOUT).contains(&self.idle_timeout) {
            return fail(
                "idle_timeout",
                humantime::format_duration(self.idle_timeout).to_string(),
                format!(
                    "expected between {} and {}",
                    humantime::format_duration(limits::MIN_IDLE_TIMEOUT),
                    humantime::format_duration(limits::MAX_IDLE_TIMEOUT)
                ),
            );
        }
        for (setting, zone) in [("zone", &self.zone), ("client_zone", &self.client_zone)] {
            if let Some(zone) = zone
                && (zone.is_empty()
                    || zone.len() > limits::MAX_ZONE_BYTES
                    || zone.contains(',')
                    || zone.chars().any(char::is_whitespace))
            {
                return fail(
                    setting,
                    format!("{zone:?}"),
                    format!(
                        "expected a zone name such as \"us-east-1a\": no spaces or commas, at most {} bytes",
                        limits::MAX_ZONE_BYTES
                    ),
                );
            }
        }
        if !(1..=limits::MAX_DEFAULT_PARTITIONS).contains(&self.default_partitions) {
            return fail(
                "default_partitions",
                self.default_partitions.to_string(),
                format!("expected between 1 and {}", limits::MAX_DEFAULT_PARTITIONS),
            );
        }
        self.sasl.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(KafkaConfig::default().validate(), Ok(()));
    }

    #[test]
    fn errors_name_the_setting() {
        let cases: Vec<(&str, KafkaConfig)> = vec![
            (
                "max_frame_bytes",
                KafkaConfig {
                    max_frame_bytes: 10,
                    ..Default::default()
                },
            ),
            (
                "max_in_flight_bytes",
                KafkaConfig {
                    max_in_flight_bytes: u64::from(limits::DEFAULT_MAX_FRAME_BYTES) - 1,
                    ..Default::default()
                },
            ),
            (
                "max_in_flight_requests",
                KafkaConfig {
                    max_in_flight_requests: 0,
                    ..Default::default()
                },
            ),
            (
                "idle_timeout",
                KafkaConfig {
                    idle_timeout: Duration::from_millis(10),
                    ..Default::default()
                },
            ),
            (
                "default_partitions",
                KafkaConfig {
                    default_partitions: 0,
                    ..Default::default()
                },
            ),
            (
                "advertised_port",
                KafkaConfig {
                    advertised_port: Some(0),
                    ..Default::default()
                },
            ),
            (
                "advertised_host",
                KafkaConfig {
                    advertised_host: Some("a b".into()),
                    ..Default::default()
                },
            ),
            (
                "advertised_host",
                KafkaConfig {
                    listen: SocketAddr::from(([0, 0, 0, 0], 9092)),
                    ..Default::default()
                },
            ),
            (
                "max_connections",
                KafkaConfig {
                    max_connections: 0,
                    ..Default::default()
                },
            ),
            (
                "zone",
                KafkaConfig {
                    zone: Some("us east".into()),
                    ..Default::default()
                },
            ),
            (
                "client_zone",
                KafkaConfig {
                    client_zone: Some(String::new()),
                    ..Default::default()
                },
            ),
        ];
        for (setting, config) in cases {
            let err = config.validate().expect_err(setting);
            assert_eq!(err.setting, setting);
            assert!(
                err.to_string().starts_with(&format!("kafka.{setting} = ")),
                "{err}"
            );
        }
    }

    #[test]
    fn reads_humantime_and_refuses_unknown_fields() {
        let config: KafkaConfig =
            serde_json::from_str(r#"{"idle_timeout": "30s", "auto_create_topics": true}"#).unwrap();
        assert_eq!(config.idle_timeout, Duration::from_secs(30));
        assert!(config.auto_create_topics);
        assert!(serde_json::from_str::<KafkaConfig>(r#"{"max_frame": 1}"#).is_err());
    }
}
