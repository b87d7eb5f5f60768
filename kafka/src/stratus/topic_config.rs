//! Kafka topic configs (`retention.ms`, `cleanup.policy`, ...) to and from a
//! Stratus [`TopicConfig`]: the names a Kafka admin tool sends, with Kafka's
//! meanings. A name Stratus does not implement is refused, not ignored, so a
//! tool never believes a setting took effect.

use stratus_storage::topic::{CleanupPolicy, TopicConfig};

use crate::{BrokerError, ConfigEntry, ConfigKind, ConfigSource};

/// The topic configs Stratus implements, in the order DescribeConfigs lists them.
const NAMES: [&str; 6] = [
    "cleanup.policy",
    "delete.retention.ms",
    "max.compaction.lag.ms",
    "max.message.bytes",
    "retention.bytes",
    "retention.ms",
];

/// Applies `configs` (a `None` value keeps the default) over the defaults.
pub(super) fn topic_config(
    configs: &[(String, Option<String>)],
) -> Result<TopicConfig, BrokerError> {
    let mut config = TopicConfig::default();
    for (name, value) in configs {
        if let Some(value) = value {
            set(&mut config, name, value)?;
        } else if !NAMES.contains(&name.as_str()) {
            return Err(unknown(name));
        }
    }
    config
        .validate()
        .map_err(|e| BrokerError::InvalidConfig(e.to_string()))?;
    Ok(config)
}

fn set(config: &mut TopicConfig, name: &str, value: &str) -> Result<(), BrokerError> {
    let int = |v: &str| {
        v.trim().parse::<i64>().map_err(|_| {
            BrokerError::InvalidConfig(format!("{name} = {v:?} is not a whole number"))
        })
    };
    match name {
        "cleanup.policy" => {
            config.cleanup_policy = match value.trim() {
                "delete" => CleanupPolicy::Delete,
                "compact" => CleanupPolicy::Compact,
                other => {
                    return Err(BrokerError::InvalidConfig(format!(
                        "cleanup.policy = {other:?} is not supported; use delete or compact"
                    )));
                }
            }
        }
        "delete.retention.ms" => config.delete_retention_ms = int(value)?,
        "max.compaction.lag.ms" => config.max_compaction_lag_ms = int(value)?,
        "max.message.bytes" => {
            config.max_message_bytes = u32::try_from(int(value)?).map_err(|_| {
                BrokerError::InvalidConfig(format!("max.message.bytes = {value:?} is out of range"))
            })?;
        }
        "retention.bytes" => config.retention_bytes = int(value)?,
        "retention.ms" => config.retention_ms = int(value)?,
        other => return Err(unknown(other)),
    }
    Ok(())
}

fn unknown(name: &str) -> BrokerError {
    BrokerError::InvalidConfig(format!(
        "topic config {name:?} is not supported; Stratus implements {}",
        NAMES.join(", ")
    ))
}

/// Every implemented config of a topic; a value equal to the default is
/// reported with source `Default`, as Kafka does for unset configs.
pub(super) fn describe(config: &TopicConfig, keys: Option<&[String]>) -> Vec<ConfigEntry> {
    let defaults = TopicConfig::default();
    let pairs = [
        (
            NAMES[0],
            policy(config.cleanup_policy),
            policy(defaults.cleanup_policy),
            ConfigKind::List,
        ),
        (
            NAMES[1],
            config.delete_retention_ms.to_string(),
            defaults.delete_retention_ms.to_string(),
            ConfigKind::Long,
        ),
        (
            NAMES[2],
            config.max_compaction_lag_ms.to_string(),
            defaults.max_compaction_lag_ms.to_string(),
            ConfigKind::Long,
        ),
        (
            NAMES[3],
            config.max_message_bytes.to_string(),
            defaults.max_message_bytes.to_string(),
            ConfigKind::Int,
        ),
        (
            NAMES[4],
            config.retention_bytes.to_string(),
            defaults.retention_bytes.to_string(),
            ConfigKind::Long,
        ),
        (
            NAMES[5],
            config.retention_ms.to_string(),
            defaults.retention_ms.to_string(),
            ConfigKind::Long,
        ),
    ];
    pairs
        .into_iter()
        .filter(|(name, ..)| keys.is_none_or(|k| k.iter().any(|k| k == name)))
        .map(|(name, value, default, kind)| ConfigEntry {
            name: name.to_owned(),
            source: if value == default {
                ConfigSource::Default
            } else {
                ConfigSource::Topic
            },
            value: Some(value),
            // Changing a topic's config is not implemented yet.
            read_only: true,
            sensitive: false,
            kind,
            documentation: None,
        })
        .collect()
}

fn policy(policy: CleanupPolicy) -> String {
    match policy {
        CleanupPolicy::Delete => "delete",
        CleanupPolicy::Compact => "compact",
    }
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_names_round_trip_and_unknown_ones_are_refused() {
        let config = topic_config(&[
            ("retention.ms".to_owned(), Some("60000".to_owned())),
            ("cleanup.policy".to_owned(), Some("compact".to_owned())),
            ("retention.bytes".to_owned(), None),
        ])
        .unwrap();
        assert_eq!(config.retention_ms, 60_000);
        assert_eq!(config.cleanup_policy, CleanupPolicy::Compact);
        let entries = describe(&config, None);
        let retention = entries.iter().find(|e| e.name == "retention.ms").unwrap();
        assert_eq!(retention.value.as_deref(), Some("60000"));
        assert_eq!(retention.source, ConfigSource::Topic);
        let bytes = entries
            .iter()
            .find(|e| e.name == "retention.bytes")
            .unwrap();
        assert_eq!(bytes.source, ConfigSource::Default);
        assert!(matches!(
            topic_config(&[("segment.ms".to_owned(), Some("1".to_owned()))]),
            Err(BrokerError::InvalidConfig(_))
        ));
        assert!(matches!(
            topic_config(&[("retention.ms".to_owned(), Some("soon".to_owned()))]),
            Err(BrokerError::InvalidConfig(_))
        ));
    }
}
