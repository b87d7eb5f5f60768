//! Kafka topic configs (`retention.ms`, `cleanup.policy`, ...) to and from a
//! Stratus [`TopicConfig`]: the names a Kafka admin tool sends, with Kafka's
//! meanings, at creation, in IncrementalAlterConfigs and in DescribeConfigs.
//! A name Stratus does not implement is refused, not ignored, so a tool never
//! believes a setting took effect. Ranges are checked by
//! [`TopicConfig::validate`], the same check whatever the transport.
//!
//! Two kinds of Kafka names are accepted without a Stratus setting behind
//! them, because frameworks send them when they create their internal topics
//! (Kafka Streams sets `message.timestamp.type` and `segment.bytes` on its
//! repartition and changelog topics):
//! - [`FIXED`] configs name a behaviour Stratus has and cannot change: the
//!   value that describes it is accepted, any other is refused naming it.
//! - [`LOCAL_LOG_HINTS`] tune the files of a Kafka broker's local log
//!   (segment rolling, index spacing, fsync cadence), which Stratus does not
//!   have: segments are cut by the compactor and every write is durable before
//!   it is acknowledged. A well-formed value is accepted and has no effect;
//!   DescribeConfigs does not list them.

use std::collections::HashSet;

use stratus_storage::topic::{CleanupPolicy, TopicConfig};

use crate::{BrokerError, ConfigChange, ConfigEntry, ConfigKind, ConfigSource};

/// The one list-typed config: APPEND and SUBTRACT apply to it only.
const LIST_CONFIG: &str = "cleanup.policy";

/// The topic configs Stratus implements, in the order DescribeConfigs lists them.
const NAMES: [&str; 6] = [
    "cleanup.policy",
    "delete.retention.ms",
    "max.compaction.lag.ms",
    "max.message.bytes",
    "retention.bytes",
    "retention.ms",
];

/// Configs with one possible value in Stratus, and that value: records keep
/// the timestamp their producer gave them (Kafka's `CreateTime`).
const FIXED: [(&str, &str); 1] = [("message.timestamp.type", "CreateTime")];

/// Kafka local-log settings with nothing to tune in Stratus; each takes a
/// whole number, so a malformed value is still refused.
const LOCAL_LOG_HINTS: [&str; 7] = [
    "segment.bytes",
    "segment.ms",
    "segment.jitter.ms",
    "segment.index.bytes",
    "index.interval.bytes",
    "flush.messages",
    "flush.ms",
];

/// Whether `name` is a config Stratus accepts, implemented or not.
fn known(name: &str) -> bool {
    NAMES.contains(&name)
        || LOCAL_LOG_HINTS.contains(&name)
        || FIXED.iter().any(|(fixed, _)| *fixed == name)
}

/// Applies `configs` (a `None` value keeps the default) over the defaults.
pub(super) fn topic_config(
    configs: &[(String, Option<String>)],
) -> Result<TopicConfig, BrokerError> {
    let mut config = TopicConfig::default();
    for (name, value) in configs {
        if let Some(value) = value {
            set(&mut config, name, value)?;
        } else if !known(name) {
            return Err(unknown(name));
        }
    }
    config
        .validate()
        .map_err(|e| BrokerError::InvalidConfig(e.to_string()))?;
    Ok(config)
}

/// Applies IncrementalAlterConfigs `changes`, in order, to `config`: SET
/// parses a value as at creation, DELETE returns a config to its default,
/// APPEND and SUBTRACT edit `cleanup.policy` as the list Kafka makes it.
/// The caller validates the result.
pub(super) fn apply(
    config: &TopicConfig,
    changes: &[ConfigChange],
) -> Result<TopicConfig, BrokerError> {
    let mut named = HashSet::new();
    let mut out = config.clone();
    for change in changes {
        let name = match change {
            ConfigChange::Set(name, _)
            | ConfigChange::Delete(name)
            | ConfigChange::Append(name, _)
            | ConfigChange::Subtract(name, _) => name.as_str(),
        };
        if !named.insert(name) {
            return Err(BrokerError::InvalidRequest(format!(
                "config {name:?} is changed more than once in one request; send one change per config"
            )));
        }
        match change {
            ConfigChange::Set(name, value) => set(&mut out, name, value)?,
            ConfigChange::Delete(name) => reset(&mut out, name)?,
            ConfigChange::Append(name, values) => {
                let mut list = policy_list(&out, name)?;
                for value in items(values) {
                    if !list.contains(&value) {
                        list.push(value);
                    }
                }
                set(&mut out, name, &list.join(","))?;
            }
            ConfigChange::Subtract(name, values) => {
                let gone: Vec<String> = items(values).collect();
                let mut list = policy_list(&out, name)?;
                list.retain(|v| !gone.contains(v));
                set(&mut out, name, &list.join(","))?;
            }
        }
    }
    Ok(out)
}

/// The current `cleanup.policy` as a list, if `name` is that list config.
fn policy_list(config: &TopicConfig, name: &str) -> Result<Vec<String>, BrokerError> {
    if name == LIST_CONFIG {
        return Ok(vec![policy(config.cleanup_policy)]);
    }
    if !known(name) {
        return Err(unknown(name));
    }
    Err(BrokerError::InvalidConfig(format!(
        "config {name:?} is not a list: APPEND and SUBTRACT apply to list configs only \
         ({LIST_CONFIG}); use SET"
    )))
}

fn items(values: &str) -> impl Iterator<Item = String> + '_ {
    values
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// Returns `name` to its default (Kafka's DELETE of a topic override).
fn reset(config: &mut TopicConfig, name: &str) -> Result<(), BrokerError> {
    if config.reset(name)
        || LOCAL_LOG_HINTS.contains(&name)
        || FIXED.iter().any(|(f, _)| *f == name)
    {
        Ok(())
    } else {
        Err(unknown(name))
    }
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
        hint if LOCAL_LOG_HINTS.contains(&hint) => {
            if int(value)? < 0 {
                return Err(BrokerError::InvalidConfig(format!(
                    "{name} = {value:?} must not be negative"
                )));
            }
        }
        other => match FIXED.iter().find(|(fixed, _)| *fixed == other) {
            Some((_, only)) if value.trim() == *only => {}
            Some((_, only)) => {
                return Err(BrokerError::InvalidConfig(format!(
                    "{name} = {value:?} is not supported; Stratus always has {name} = {only}"
                )));
            }
            None => return Err(unknown(other)),
        },
    }
    Ok(())
}

fn unknown(name: &str) -> BrokerError {
    BrokerError::InvalidConfig(format!(
        "topic config {name:?} is not supported; Stratus implements {} \
         (and accepts {} = {}, and {} without effect)",
        NAMES.join(", "),
        FIXED[0].0,
        FIXED[0].1,
        LOCAL_LOG_HINTS.join(", ")
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
            read_only: false,
            sensitive: false,
            kind,
            documentation: None,
        })
        .chain(
            FIXED
                .iter()
                .filter(|(name, _)| keys.is_none_or(|k| k.iter().any(|k| k == name)))
                .map(|(name, value)| ConfigEntry {
                    name: (*name).to_owned(),
                    source: ConfigSource::Default,
                    value: Some((*value).to_owned()),
                    read_only: true,
                    sensitive: false,
                    kind: ConfigKind::String,
                    documentation: None,
                }),
        )
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
            topic_config(&[("compression.type".to_owned(), Some("zstd".to_owned()))]),
            Err(BrokerError::InvalidConfig(_))
        ));
        assert!(matches!(
            topic_config(&[("retention.ms".to_owned(), Some("soon".to_owned()))]),
            Err(BrokerError::InvalidConfig(_))
        ));
    }

    fn set(name: &str, value: &str) -> ConfigChange {
        ConfigChange::Set(name.to_owned(), value.to_owned())
    }

    #[test]
    fn set_and_delete_change_and_restore_configs() {
        let changed = apply(
            &TopicConfig::default(),
            &[
                set("retention.ms", "60000"),
                set("max.message.bytes", "2048"),
            ],
        )
        .unwrap();
        assert_eq!(
            (changed.retention_ms, changed.max_message_bytes),
            (60_000, 2048)
        );
        let entries = describe(&changed, Some(&["retention.ms".to_owned()]));
        assert_eq!(entries[0].source, ConfigSource::Topic);
        assert!(!entries[0].read_only, "topic configs can be altered");
        let restored = apply(&changed, &[ConfigChange::Delete("retention.ms".to_owned())]).unwrap();
        assert_eq!(restored.retention_ms, TopicConfig::default().retention_ms);
        assert_eq!(restored.max_message_bytes, 2048, "other configs stay");
    }

    #[test]
    fn append_and_subtract_edit_the_list_config_only() {
        let compact = apply(
            &TopicConfig::default(),
            &[ConfigChange::Subtract(
                "cleanup.policy".to_owned(),
                "delete".to_owned(),
            )],
        );
        // An empty policy is not one Stratus has.
        assert!(
            matches!(compact, Err(BrokerError::InvalidConfig(m)) if m.contains("cleanup.policy"))
        );
        let both = apply(
            &TopicConfig::default(),
            &[ConfigChange::Append(
                "cleanup.policy".to_owned(),
                "compact".to_owned(),
            )],
        );
        assert!(matches!(both, Err(BrokerError::InvalidConfig(m)) if m.contains("delete,compact")));
        let same = apply(
            &TopicConfig::default(),
            &[ConfigChange::Append(
                "cleanup.policy".to_owned(),
                "delete".to_owned(),
            )],
        )
        .unwrap();
        assert_eq!(same.cleanup_policy, CleanupPolicy::Delete);
        let err = apply(
            &TopicConfig::default(),
            &[ConfigChange::Append(
                "retention.ms".to_owned(),
                "1".to_owned(),
            )],
        )
        .unwrap_err();
        assert!(
            matches!(&err, BrokerError::InvalidConfig(m) if m.contains("\"retention.ms\" is not a list")),
            "{err}"
        );
    }

    #[test]
    fn unknown_and_repeated_names_are_refused_naming_them() {
        for change in [
            set("min.insync.replicas", "1"),
            ConfigChange::Delete("unclean.leader.election.enable".to_owned()),
            ConfigChange::Subtract("compression.type".to_owned(), "zstd".to_owned()),
        ] {
            let err = apply(&TopicConfig::default(), std::slice::from_ref(&change)).unwrap_err();
            let BrokerError::InvalidConfig(message) = &err else {
                panic!("{change:?}: {err:?}");
            };
            let name = match &change {
                ConfigChange::Set(n, _)
                | ConfigChange::Delete(n)
                | ConfigChange::Subtract(n, _) => n,
                ConfigChange::Append(n, _) => n,
            };
            assert!(message.contains(name.as_str()), "{message}");
        }
        let twice = apply(
            &TopicConfig::default(),
            &[
                set("retention.ms", "1000"),
                ConfigChange::Delete("retention.ms".to_owned()),
            ],
        );
        assert!(matches!(twice, Err(BrokerError::InvalidRequest(_))));
    }

    #[test]
    fn fixed_configs_take_their_one_value_and_local_log_hints_are_accepted() {
        // What Kafka Streams sends for a repartition topic.
        let config = topic_config(&[
            ("cleanup.policy".to_owned(), Some("delete".to_owned())),
            ("segment.bytes".to_owned(), Some("52428800".to_owned())),
            (
                "message.timestamp.type".to_owned(),
                Some("CreateTime".to_owned()),
            ),
            ("retention.ms".to_owned(), Some("-1".to_owned())),
        ])
        .unwrap();
        assert_eq!(config.retention_ms, -1);
        let err = topic_config(&[(
            "message.timestamp.type".to_owned(),
            Some("LogAppendTime".to_owned()),
        )])
        .unwrap_err();
        assert!(
            matches!(&err, BrokerError::InvalidConfig(m) if m.contains("CreateTime")),
            "{err}"
        );
        for bad in ["big", "-1"] {
            let err = topic_config(&[("segment.bytes".to_owned(), Some(bad.to_owned()))]);
            assert!(matches!(err, Err(BrokerError::InvalidConfig(_))), "{bad}");
        }
        let entries = describe(&config, Some(&["message.timestamp.type".to_owned()]));
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].value.as_deref(), Some("CreateTime"));
        assert!(entries[0].read_only);
        assert!(
            describe(&config, None)
                .iter()
                .all(|e| e.name != "segment.bytes"),
            "hints have no value to describe"
        );
        apply(&config, &[ConfigChange::Delete("segment.bytes".to_owned())]).unwrap();
    }
}
