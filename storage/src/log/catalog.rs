//! Topic administration: create, delete, look up and list topics.

use bytes::Bytes;

use super::{Log, LogError, PartitionHead, now_ms};
use crate::keys::{KeySpace, Tag, decode_i64};
use crate::topic::{TopicConfig, TopicRecord, validate_partitions, validate_topic_name};
use stratus_meta::{MetaError, RangeOptions, Transaction, run};

/// Log start and next offset of one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionOffsets {
    pub partition: u32,
    pub log_start_offset: i64,
    pub next_offset: i64,
}

impl Log {
    /// Creates a topic, or fails with [`LogError::TopicExists`] and changes nothing.
    pub async fn create_topic(
        &self,
        name: &str,
        partitions: u32,
        config: TopicConfig,
    ) -> Result<TopicRecord, LogError> {
        validate_topic_name(name)?;
        validate_partitions(partitions)?;
        config.validate()?;
        let record = TopicRecord {
            id: crate::ids::new_ulid().0,
            name: name.to_owned(),
            partitions,
            config,
            created_at_ms: now_ms(),
        };
        let json = serde_json::to_vec(&record).map_err(|e| LogError::CorruptMetadata {
            reason: format!("cannot encode topic record: {e}"),
        })?;
        let by_name = self.keys.topic_by_name(name);
        let by_id = self.keys.topic_by_id(record.id);
        let created = run(self.meta.as_ref(), &self.retry, |tx| {
            let (by_name, by_id, json) = (&by_name, &by_id, &json);
            Box::pin(async move {
                if tx.get(by_name).await?.is_some() {
                    return Ok(false);
                }
                tx.set(by_name, json)?;
                tx.set(by_id, name.as_bytes())?;
                Ok(true)
            })
        })
        .await?;
        if !created {
            return Err(LogError::TopicExists {
                name: name.to_owned(),
            });
        }
        Ok(record)
    }

    /// Looks a topic up by name.
    pub async fn topic(&self, name: &str) -> Result<TopicRecord, LogError> {
        let mut tx = self.meta.begin().await?;
        read_topic(&mut *tx, &self.keys.topic_by_name(name))
            .await?
            .ok_or_else(|| LogError::TopicNotFound {
                name: name.to_owned(),
            })
    }

    /// Every topic, ordered by name.
    pub async fn list_topics(&self) -> Result<Vec<TopicRecord>, LogError> {
        let (begin, end) = self.keys.topics_by_name_range();
        let mut tx = self.meta.begin().await?;
        let pairs = tx.get_range(&begin, &end, RangeOptions::default()).await?;
        pairs.iter().map(|(_, v)| decode_topic(v)).collect()
    }

    /// Deletes a topic: its name becomes free and its records unreachable at
    /// once. Its index entries stay, unreachable, until the compactor has
    /// released the objects they reference (see [`Tag::DeletedTopic`]).
    pub async fn delete_topic(&self, name: &str) -> Result<TopicRecord, LogError> {
        let by_name = self.keys.topic_by_name(name);
        let deleted = run(self.meta.as_ref(), &self.retry, |tx| {
            let by_name = &by_name;
            Box::pin(async move {
                let Some(topic) = read_topic(tx, by_name).await? else {
                    return Ok(None);
                };
                tx.clear(by_name)?;
                tx.clear(&self.keys.topic_by_id(topic.id))?;
                tx.set(
                    &self.keys.deleted_topic(topic.id),
                    &topic.partitions.to_le_bytes(),
                )?;
                for tag in [
                    Tag::PartitionHead,
                    Tag::LogStart,
                    Tag::TimeIndex,
                    Tag::CleanedUpTo,
                    Tag::ProducerState,
                ] {
                    let (begin, end) = self.keys.topic_range(tag, topic.id);
                    tx.clear_range(&begin, &end)?;
                }
                Ok(Some(topic))
            })
        })
        .await?;
        deleted.ok_or_else(|| LogError::TopicNotFound {
            name: name.to_owned(),
        })
    }

    /// Log start and next offset of every partition of a topic.
    pub async fn partition_offsets(
        &self,
        topic: &TopicRecord,
    ) -> Result<Vec<PartitionOffsets>, LogError> {
        let mut tx = self.meta.begin().await?;
        let heads = read_u32_keyed(
            &self.keys,
            &mut *tx,
            &self.keys.topic_range(Tag::PartitionHead, topic.id),
        )
        .await?;
        let starts = read_u32_keyed(
            &self.keys,
            &mut *tx,
            &self.keys.topic_range(Tag::LogStart, topic.id),
        )
        .await?;
        let mut out = Vec::with_capacity(topic.partitions as usize);
        for partition in 0..topic.partitions {
            let head = PartitionHead::decode(
                heads
                    .binary_search_by_key(&partition, |(p, _)| *p)
                    .ok()
                    .map(|i| &heads[i].1[..]),
            )?;
            let log_start = starts
                .binary_search_by_key(&partition, |(p, _)| *p)
                .map_or(0, |i| decode_i64(&starts[i].1));
            out.push(PartitionOffsets {
                partition,
                log_start_offset: log_start,
                next_offset: head.next_offset,
            });
        }
        Ok(out)
    }
}

/// Reads every `(tag, topic_id, partition)` key of a range as `(partition, value)`,
/// ordered by partition.
async fn read_u32_keyed(
    keys: &KeySpace,
    tx: &mut dyn Transaction,
    (begin, end): &(Vec<u8>, Vec<u8>),
) -> Result<Vec<(u32, Bytes)>, LogError> {
    let pairs = tx.get_range(begin, end, RangeOptions::default()).await?;
    pairs
        .into_iter()
        .map(|(key, value)| {
            let partition = keys
                .partition_of(&key)
                .ok_or_else(|| LogError::CorruptMetadata {
                    reason: "a partition key does not end in a partition number".to_owned(),
                })?;
            Ok((partition, value))
        })
        .collect()
}

pub(super) async fn read_topic(
    tx: &mut dyn Transaction,
    by_name: &[u8],
) -> Result<Option<TopicRecord>, MetaError> {
    match tx.get(by_name).await? {
        Some(bytes) => decode_topic(&bytes)
            .map(Some)
            .map_err(|e| MetaError::Backend(e.to_string())),
        None => Ok(None),
    }
}

fn decode_topic(bytes: &[u8]) -> Result<TopicRecord, LogError> {
    serde_json::from_slice(bytes).map_err(|e| LogError::CorruptMetadata {
        reason: format!("topic record does not decode: {e}"),
    })
}
