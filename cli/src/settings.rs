//! The server configuration: one typed struct, layered defaults → file →
//! environment (`STRATUS_`, nested with `__`) → flags, validated before start.

use std::path::{Path, PathBuf};

use anyhow::Context;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use stratus_compactor::CompactorConfig;
use stratus_gateway::GatewayConfig;
use stratus_kafka::KafkaConfig;
use stratus_telemetry::TelemetryConfig;
#[cfg(feature = "faults")]
use stratus_tier::FaultConfig;
use stratus_tier::RetryConfig;

use crate::limits::WAL_RETRY_MAX_ATTEMPTS;

/// Everything a `stratus dev` or `stratus gateway` process needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// Directory for the embedded metadata store and the file:// WAL tier.
    pub(crate) data_dir: PathBuf,
    /// Metadata store: `embedded` (redb file in data_dir), `redb:///path/file.redb`,
    /// `postgres://user:password@host:5432/database` (PostgreSQL, shared by
    /// several gateways; feature `postgres`, on by default),
    /// `fdb:///path/fdb.cluster` (FoundationDB; builds with `--features fdb`)
    /// or `memory://` (nothing survives a restart).
    pub(crate) metadata: String,
    /// WAL tier URL (`s3://bucket/prefix`, `file:///path`, `memory://`);
    /// empty means `file://<data_dir>/wal`.
    pub(crate) wal: String,
    /// Segment tier URL, where the compactor writes segments and gateways
    /// read them (in AWS: S3 Standard, while the WAL tier is S3 Express One
    /// Zone). Empty means the WAL tier's store (segments under `seg/`).
    pub(crate) segments: String,
    /// Retries and per-call timeout for WAL tier requests.
    pub(crate) wal_retry: RetrySettings,
    /// Faults injected into WAL tier requests, for tests and load runs only
    /// (needs a binary built with feature `faults`; grammar in
    /// `tier/src/faults.rs`, e.g.
    /// `seed=7;put:error=0.05,timeout=0.01`). Empty: none.
    pub(crate) wal_faults: String,
    /// Log lines as `text` or `json`.
    pub(crate) log_format: LogFormat,
    pub(crate) gateway: GatewayConfig,
    /// The Kafka wire-protocol listener (`[kafka]`).
    pub(crate) kafka: KafkaConfig,
    pub(crate) compactor: CompactorConfig,
    /// The `/metrics` endpoint and gauge refresh (OTLP export is set by `OTEL_*`).
    pub(crate) telemetry: TelemetryConfig,
    /// Let the gRPC, Kafka and QUIC listeners serve a non-loopback address
    /// without TLS and client authentication. Off: such a gateway refuses to
    /// start, naming the settings to set. Only for networks that are
    /// themselves trusted.
    pub(crate) insecure: bool,
}

/// How object-store calls are retried; see `stratus_tier::RetryConfig`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct RetrySettings {
    /// Attempts per call, the first included.
    pub(crate) max_attempts: u32,
    #[serde(with = "humantime_serde")]
    pub(crate) initial_backoff: std::time::Duration,
    #[serde(with = "humantime_serde")]
    pub(crate) max_backoff: std::time::Duration,
    /// Each attempt is abandoned (and retried) after this long.
    #[serde(with = "humantime_serde")]
    pub(crate) call_timeout: std::time::Duration,
}

impl Default for RetrySettings {
    fn default() -> Self {
        let defaults = RetryConfig::default();
        Self {
            max_attempts: defaults.max_attempts,
            initial_backoff: defaults.initial_backoff,
            max_backoff: defaults.max_backoff,
            call_timeout: defaults.call_timeout,
        }
    }
}

impl RetrySettings {
    pub(crate) fn to_config(&self) -> RetryConfig {
        RetryConfig {
            max_attempts: self.max_attempts,
            initial_backoff: self.initial_backoff,
            max_backoff: self.max_backoff,
            call_timeout: self.call_timeout,
        }
    }

    fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            WAL_RETRY_MAX_ATTEMPTS.contains(&self.max_attempts),
            "invalid setting `wal_retry.max_attempts` = {}: expected between {} and {}",
            self.max_attempts,
            WAL_RETRY_MAX_ATTEMPTS.start(),
            WAL_RETRY_MAX_ATTEMPTS.end()
        );
        anyhow::ensure!(
            self.initial_backoff <= self.max_backoff,
            "invalid setting `wal_retry.initial_backoff` = {:?}: expected at most wal_retry.max_backoff ({:?})",
            self.initial_backoff,
            self.max_backoff
        );
        anyhow::ensure!(
            !self.call_timeout.is_zero(),
            "invalid setting `wal_retry.call_timeout` = 0s: expected a positive duration such as 10s"
        );
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LogFormat {
    #[default]
    Text,
    Json,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("stratus-data"),
            metadata: "embedded".to_owned(),
            wal: String::new(),
            segments: String::new(),
            wal_retry: RetrySettings::default(),
            wal_faults: String::new(),
            log_format: LogFormat::Text,
            gateway: GatewayConfig::default(),
            kafka: KafkaConfig::default(),
            compactor: CompactorConfig::default(),
            telemetry: TelemetryConfig::default(),
            insecure: false,
        }
    }
}

/// Settings given on the command line; they win over file and environment.
#[derive(Debug, Default, Serialize)]
pub(crate) struct FlagOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) metadata: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) wal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) segments: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) log_format: Option<LogFormat>,
    #[serde(skip_serializing_if = "GatewayFlags::is_empty")]
    pub(crate) gateway: GatewayFlags,
    #[serde(skip_serializing_if = "KafkaFlags::is_empty")]
    pub(crate) kafka: KafkaFlags,
    #[serde(skip_serializing_if = "TelemetryFlags::is_empty")]
    pub(crate) telemetry: TelemetryFlags,
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct KafkaFlags {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) listen: Option<std::net::SocketAddr>,
}

impl KafkaFlags {
    fn is_empty(&self) -> bool {
        self.listen.is_none()
    }
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct TelemetryFlags {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) metrics_listen: Option<std::net::SocketAddr>,
}

impl TelemetryFlags {
    fn is_empty(&self) -> bool {
        self.metrics_listen.is_none()
    }
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct GatewayFlags {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) listen: Option<std::net::SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) linger: Option<String>,
}

impl GatewayFlags {
    fn is_empty(&self) -> bool {
        self.listen.is_none() && self.linger.is_none()
    }
}

/// Environment variables that are not server settings.
const CLIENT_ONLY_ENV: &[&str] = &["server"];

impl ServerSettings {
    /// Layers defaults, the optional file, `STRATUS_*` variables and flags, then
    /// validates. Errors name the setting and where it came from.
    pub(crate) fn load(file: Option<&Path>, flags: &FlagOverrides) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Self::default()));
        if let Some(file) = file {
            anyhow::ensure!(
                file.is_file(),
                "config file {} does not exist; pass an existing file to --config",
                file.display()
            );
            figment = figment.merge(Toml::file(file));
        }
        let figment = figment
            .merge(
                Env::prefixed("STRATUS_")
                    .split("__")
                    .ignore(CLIENT_ONLY_ENV),
            )
            .merge(Serialized::defaults(flags));
        Self::validated(&figment)
    }

    /// Reads the text of a configuration file alone (TOML, over the
    /// defaults; no environment, no flags) and validates it as `--config`
    /// files are: the configuration parser, for tests and fuzzing without a
    /// file.
    pub fn parse_toml(text: &str) -> anyhow::Result<Self> {
        Self::validated(
            &Figment::from(Serialized::defaults(Self::default())).merge(Toml::string(text)),
        )
    }

    fn validated(figment: &Figment) -> anyhow::Result<Self> {
        let settings: Self = figment
            .extract()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
        settings
            .gateway
            .validate()
            .context("invalid gateway configuration")?;
        settings.wal_retry.validate()?;
        settings.kafka.validate()?;
        settings.compactor.validate()?;
        settings.telemetry.validate(Some(settings.gateway.listen))?;
        settings.wal_fault_config()?;
        Ok(settings)
    }

    /// The parsed `wal_faults`, if any.
    #[cfg(feature = "faults")]
    pub(crate) fn wal_fault_config(&self) -> anyhow::Result<Option<FaultConfig>> {
        if self.wal_faults.is_empty() {
            return Ok(None);
        }
        self.wal_faults.parse().map(Some).map_err(|e| {
            anyhow::anyhow!("invalid setting `wal_faults` = {:?}: {e}", self.wal_faults)
        })
    }

    /// A production build has no fault injection: a `wal_faults` setting is
    /// refused rather than ignored, so nobody believes faults are injected.
    #[cfg(not(feature = "faults"))]
    pub(crate) fn wal_fault_config(&self) -> anyhow::Result<Option<std::convert::Infallible>> {
        if self.wal_faults.is_empty() {
            return Ok(None);
        }
        anyhow::bail!(
            "invalid setting `wal_faults` = {:?}: this stratus binary is built without fault \
             injection; unset it, or build with `--features faults` for tests and load runs",
            self.wal_faults
        )
    }

    /// The WAL tier's base store, wrapped in the injected faults if any.
    pub(crate) fn wal_with_faults(
        &self,
        base: std::sync::Arc<dyn object_store::ObjectStore>,
    ) -> anyhow::Result<std::sync::Arc<dyn object_store::ObjectStore>> {
        #[cfg(feature = "faults")]
        if let Some(config) = self.wal_fault_config()? {
            tracing::warn!(spec = %self.wal_faults, "injecting faults into the WAL tier (wal_faults)");
            return Ok(std::sync::Arc::new(stratus_tier::FaultStore::new(
                base, config,
            )));
        }
        #[cfg(not(feature = "faults"))]
        self.wal_fault_config()?;
        Ok(base)
    }

    /// The WAL tier URL, defaulting to a directory in the data dir.
    pub(crate) fn wal_url(&self, data_dir: &Path) -> String {
        if self.wal.is_empty() {
            stratus_tier::file_url(&data_dir.join("wal"))
        } else {
            self.wal.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_file_and_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("stratus.toml");
        std::fs::write(
            &file,
            "data_dir = \"/from/file\"\n[gateway]\nlinger = \"20ms\"\n",
        )
        .unwrap();
        let flags = FlagOverrides {
            gateway: GatewayFlags {
                linger: Some("7ms".into()),
                ..GatewayFlags::default()
            },
            ..FlagOverrides::default()
        };
        let settings = ServerSettings::load(Some(&file), &flags).unwrap();
        assert_eq!(settings.data_dir, PathBuf::from("/from/file"));
        assert_eq!(settings.gateway.linger, std::time::Duration::from_millis(7));
    }

    #[test]
    fn bad_values_name_the_setting() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("stratus.toml");
        std::fs::write(&file, "[gateway]\nflush_bytes = 3\n").unwrap();
        let err = format!(
            "{:#}",
            ServerSettings::load(Some(&file), &FlagOverrides::default()).unwrap_err()
        );
        assert!(err.contains("flush_bytes"), "{err}");
        std::fs::write(&file, "[gateway]\nlingerr = \"1ms\"\n").unwrap();
        let err = format!(
            "{:#}",
            ServerSettings::load(Some(&file), &FlagOverrides::default()).unwrap_err()
        );
        assert!(err.contains("lingerr"), "{err}");
    }
}
