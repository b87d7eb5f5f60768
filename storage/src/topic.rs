//! Topics: their persisted record, their configuration and the rules a name
//! and a configuration must follow.

use serde::{Deserialize, Serialize};
use stratus_format::names::{self, TopicNameError};

use crate::limits::{
    DEFAULT_DELETE_RETENTION_MS, DEFAULT_MAX_COMPACTION_LAG_MS, DEFAULT_MAX_MESSAGE_BYTES,
    DEFAULT_RETENTION_MS,
};
pub use crate::limits::{MAX_MESSAGE_BYTES_LIMIT, MAX_PARTITIONS, MAX_TOPIC_NAME_LEN};

/// How old data leaves a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CleanupPolicy {
    /// Whole segments are deleted by age and size.
    #[default]
    Delete,
    /// The latest record per key is kept.
    Compact,
}

/// Per-topic configuration, with Kafka's names and meanings; the defaults are
/// in [`crate::limits`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicConfig {
    /// `retention.ms`: records older than this are deleted; -1 keeps them forever.
    pub retention_ms: i64,
    /// `retention.bytes`: a partition is trimmed to this size; -1 is unbounded.
    pub retention_bytes: i64,
    /// `cleanup.policy`.
    pub cleanup_policy: CleanupPolicy,
    /// `max.message.bytes`: the largest record accepted (key + value + headers).
    pub max_message_bytes: u32,
    /// `delete.retention.ms`: how long key compaction keeps a tombstone, so
    /// consumers that are behind still see the delete.
    #[serde(default = "default_delete_retention_ms")]
    pub delete_retention_ms: i64,
    /// `max.compaction.lag.ms`: the longest a record can stay uncompacted in a
    /// compacted topic. Kafka's default is unbounded; ours is 5 minutes, so
    /// a duplicate key's lifetime is bounded out of the box.
    #[serde(default = "default_max_compaction_lag_ms")]
    pub max_compaction_lag_ms: i64,
}

fn default_delete_retention_ms() -> i64 {
    DEFAULT_DELETE_RETENTION_MS
}

fn default_max_compaction_lag_ms() -> i64 {
    DEFAULT_MAX_COMPACTION_LAG_MS
}

impl Default for TopicConfig {
    fn default() -> Self {
        Self {
            retention_ms: DEFAULT_RETENTION_MS,
            retention_bytes: -1,
            cleanup_policy: CleanupPolicy::Delete,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            delete_retention_ms: default_delete_retention_ms(),
            max_compaction_lag_ms: default_max_compaction_lag_ms(),
        }
    }
}

/// A topic as persisted in metadata (JSON; add fields with defaults, never remove).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicRecord {
    /// Stable identity: a topic re-created under the same name gets a new id.
    pub id: u128,
    pub name: String,
    pub partitions: u32,
    pub config: TopicConfig,
    pub created_at_ms: i64,
}

/// A topic name or configuration that is not allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicSpecError {
    #[error(transparent)]
    Name(#[from] TopicNameError),
    #[error("a topic needs between 1 and {MAX_PARTITIONS} partitions, not {0}")]
    PartitionCount(u32),
    /// A topic asked to grow to no more partitions than it has.
    #[error(
        "topic {topic:?} has {current} partitions, so {requested} would not be an increase: \
         partitions can be added, never removed; ask for more than {current}"
    )]
    PartitionsNotIncreased {
        topic: String,
        current: u32,
        requested: u32,
    },
    #[error("retention.ms must be -1 (forever) or positive, not {0}")]
    RetentionMs(i64),
    #[error("retention.bytes must be -1 (unbounded) or positive, not {0}")]
    RetentionBytes(i64),
    #[error("max.message.bytes must be between 1 and {MAX_MESSAGE_BYTES_LIMIT}, not {0}")]
    MaxMessageBytes(i64),
    #[error("delete.retention.ms must be zero or positive, not {0}")]
    DeleteRetentionMs(i64),
    #[error("max.compaction.lag.ms must be positive, not {0}")]
    MaxCompactionLagMs(i64),
}

/// Checks a topic name against Kafka's rules (`stratus_format::names`).
pub fn validate_topic_name(name: &str) -> Result<(), TopicSpecError> {
    Ok(names::validate_topic_name(name)?)
}

impl TopicConfig {
    /// The settings' names, as Kafka spells them.
    pub const NAMES: [&'static str; 6] = [
        "retention.ms",
        "retention.bytes",
        "cleanup.policy",
        "max.message.bytes",
        "delete.retention.ms",
        "max.compaction.lag.ms",
    ];

    /// Returns the setting called `name` to its default; `false` if no
    /// setting has that name.
    pub fn reset(&mut self, name: &str) -> bool {
        let defaults = Self::default();
        match name {
            "retention.ms" => self.retention_ms = defaults.retention_ms,
            "retention.bytes" => self.retention_bytes = defaults.retention_bytes,
            "cleanup.policy" => self.cleanup_policy = defaults.cleanup_policy,
            "max.message.bytes" => self.max_message_bytes = defaults.max_message_bytes,
            "delete.retention.ms" => self.delete_retention_ms = defaults.delete_retention_ms,
            "max.compaction.lag.ms" => self.max_compaction_lag_ms = defaults.max_compaction_lag_ms,
            _ => return false,
        }
        true
    }

    /// Checks every setting, naming the first that is out of range.
    pub fn validate(&self) -> Result<(), TopicSpecError> {
        if self.retention_ms == 0 || self.retention_ms < -1 {
            return Err(TopicSpecError::RetentionMs(self.retention_ms));
        }
        if self.retention_bytes == 0 || self.retention_bytes < -1 {
            return Err(TopicSpecError::RetentionBytes(self.retention_bytes));
        }
        if self.max_message_bytes == 0 || self.max_message_bytes > MAX_MESSAGE_BYTES_LIMIT {
            return Err(TopicSpecError::MaxMessageBytes(
                self.max_message_bytes.into(),
            ));
        }
        if self.delete_retention_ms < 0 {
            return Err(TopicSpecError::DeleteRetentionMs(self.delete_retention_ms));
        }
        if self.max_compaction_lag_ms <= 0 {
            return Err(TopicSpecError::MaxCompactionLagMs(
                self.max_compaction_lag_ms,
            ));
        }
        Ok(())
    }
}

/// Checks a partition count.
pub fn validate_partitions(partitions: u32) -> Result<(), TopicSpecError> {
    if partitions == 0 || partitions > MAX_PARTITIONS {
        return Err(TopicSpecError::PartitionCount(partitions));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_setting_resets_to_its_default_and_no_other_name_does() {
        let changed = TopicConfig {
            retention_ms: 5,
            retention_bytes: 5,
            cleanup_policy: CleanupPolicy::Compact,
            max_message_bytes: 5,
            delete_retention_ms: 5,
            max_compaction_lag_ms: 5,
        };
        let mut config = changed.clone();
        for name in TopicConfig::NAMES {
            let before = config.clone();
            assert!(config.reset(name), "{name}");
            assert_ne!(config, before, "{name} changed nothing");
        }
        assert_eq!(config, TopicConfig::default());
        let mut config = changed.clone();
        assert!(!config.reset("retention"));
        assert_eq!(config, changed);
    }

    #[test]
    fn names_follow_kafka_rules() {
        assert!(validate_topic_name("orders.v2_eu-1").is_ok());
        assert_eq!(
            validate_topic_name(""),
            Err(TopicSpecError::Name(TopicNameError::Empty))
        );
        assert!(matches!(
            validate_topic_name("a b"),
            Err(TopicSpecError::Name(TopicNameError::InvalidCharacter {
                bad: ' ',
                ..
            }))
        ));
        assert!(validate_topic_name("..").is_err());
        assert!(validate_topic_name(&"x".repeat(250)).is_err());
    }

    #[test]
    fn the_default_config_is_the_limits_table_and_valid() {
        let config = TopicConfig::default();
        config.validate().unwrap();
        assert_eq!(config.retention_ms, DEFAULT_RETENTION_MS);
        assert_eq!(config.max_message_bytes, DEFAULT_MAX_MESSAGE_BYTES);
        assert_eq!(config.delete_retention_ms, DEFAULT_DELETE_RETENTION_MS);
        assert_eq!(config.max_compaction_lag_ms, DEFAULT_MAX_COMPACTION_LAG_MS);
    }

    #[test]
    fn config_limits_are_named() {
        let config = TopicConfig {
            retention_ms: 0,
            ..TopicConfig::default()
        };
        assert!(
            config
                .validate()
                .unwrap_err()
                .to_string()
                .contains("retention.ms")
        );
    }

    /// Records written before a field existed still decode, with its default.
    #[test]
    fn older_topic_records_decode() {
        let old = r#"{"id":1,"name":"t","partitions":2,"config":{"retention_ms":604800000,"retention_bytes":-1,"cleanup_policy":"delete","max_message_bytes":1048576},"created_at_ms":3}"#;
        let record: TopicRecord = serde_json::from_str(old).unwrap();
        assert_eq!(record.config, TopicConfig::default());
    }

    /// The persisted JSON shape is part of the format.
    #[test]
    fn topic_record_json_is_pinned() {
        let record = TopicRecord {
            id: 1,
            name: "t".into(),
            partitions: 2,
            config: TopicConfig::default(),
            created_at_ms: 3,
        };
        assert_eq!(
            serde_json::to_string(&record).unwrap(),
            r#"{"id":1,"name":"t","partitions":2,"config":{"retention_ms":604800000,"retention_bytes":-1,"cleanup_policy":"delete","max_message_bytes":1048576,"delete_retention_ms":86400000,"max_compaction_lag_ms":300000},"created_at_ms":3}"#
        );
    }
}
