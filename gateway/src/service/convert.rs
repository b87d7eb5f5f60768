//! Conversions between wire messages and storage types.

use stratus_proto::v1;
use stratus_format::batch::StoredRecord;
use stratus_storage::topic::{CleanupPolicy, TopicConfig, TopicRecord};

use crate::error::GatewayError;

/// A topic configuration from the wire, with unset fields at their defaults.
pub(crate) fn topic_config(config: Option<v1::TopicConfig>) -> Result<TopicConfig, GatewayError> {
    let defaults = TopicConfig::default();
    let Some(config) = config else {
        return Ok(defaults);
    };
    let cleanup_policy = match v1::CleanupPolicy::try_from(config.cleanup_policy) {
        Ok(v1::CleanupPolicy::Unspecified | v1::CleanupPolicy::Delete) => CleanupPolicy::Delete,
        Ok(v1::CleanupPolicy::Compact) => CleanupPolicy::Compact,
        Err(_) => {
            return Err(GatewayError::InvalidArgument(format!(
                "cleanup.policy {} is unknown; use delete or compact",
                config.cleanup_policy
            )));
        }
    };
    let max_message_bytes = match config.max_message_bytes {
        None => defaults.max_message_bytes,
        Some(n) => u32::try_from(n).map_err(|_| {
            GatewayError::InvalidArgument(format!("max.message.bytes must be positive, not {n}"))
        })?,
    };
    Ok(TopicConfig {
        retention_ms: config.retention_ms.unwrap_or(defaults.retention_ms),
        retention_bytes: config.retention_bytes.unwrap_or(defaults.retention_bytes),
        cleanup_policy,
        max_message_bytes,
        delete_retention_ms: config
            .delete_retention_ms
            .unwrap_or(defaults.delete_retention_ms),
        max_compaction_lag_ms: config
            .max_compaction_lag_ms
            .unwrap_or(defaults.max_compaction_lag_ms),
    })
}

pub(crate) fn wire_config(config: &TopicConfig) -> v1::TopicConfig {
    v1::TopicConfig {
        retention_ms: Some(config.retention_ms),
        retention_bytes: Some(config.retention_bytes),
        cleanup_policy: match config.cleanup_policy {
            CleanupPolicy::Delete => v1::CleanupPolicy::Delete,
            CleanupPolicy::Compact => v1::CleanupPolicy::Compact,
        } as i32,
        max_message_bytes: Some(config.max_message_bytes as i32),
        delete_retention_ms: Some(config.delete_retention_ms),
        max_compaction_lag_ms: Some(config.max_compaction_lag_ms),
    }
}

pub(crate) fn topic_id(topic: &TopicRecord) -> String {
    ulid::Ulid(topic.id).to_string()
}

pub(crate) fn consumed(record: StoredRecord) -> v1::ConsumedRecord {
    v1::ConsumedRecord {
        offset: record.offset,
        timestamp_ms: record.timestamp_ms,
        key: record.key,
        value: record.value,
        headers: record
            .headers
            .into_iter()
            .map(|h| v1::Header {
                key: h.key,
                value: h.value,
            })
            .collect(),
    }
}
