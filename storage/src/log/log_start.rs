//! Moving a partition's log start forward on request (Kafka's
//! DeleteRecords). Records below the log start are unreadable at once: both
//! read forms and ListOffsets start from it.
//!
//! The compactor's retention moves the same key ([`Tag::LogStart`]) and, like
//! this, only ever raises it (it writes the larger of the stored value and
//! its own), so the two never move it back whatever their order. The index
//! entries below the log start stay until the compactor drops them; they are
//! never read.
//!
//! [`Tag::LogStart`]: crate::keys::Tag::LogStart

use super::{Log, LogError, PartitionHead};
use crate::keys::{decode_i64, encode_i64};
use crate::topic::TopicRecord;
use stratus_meta::{MetaError, run};

/// Where [`Log::delete_records`] moves the log start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteRecordsTo {
    /// Every record below this offset goes; it must not be above the
    /// high-water mark.
    Offset(i64),
    /// Every record committed so far goes.
    HighWatermark,
}

/// What one attempt of the delete-records transaction found.
enum Outcome {
    TopicGone,
    OutOfRange {
        offset: i64,
        log_start: i64,
        high_watermark: i64,
    },
    LogStart(i64),
}

impl Log {
    /// Makes the records of `partition` below `to` unreadable, in one
    /// metadata transaction, and returns the log start afterwards (Kafka's
    /// low watermark). An offset at or below the log start changes nothing;
    /// one above the high-water mark is [`LogError::OffsetOutOfRange`].
    pub async fn delete_records(
        &self,
        topic: &TopicRecord,
        partition: u32,
        to: DeleteRecordsTo,
    ) -> Result<i64, LogError> {
        // Partitions only grow, so a record read earlier is a safe check.
        Self::check_partition(topic, partition)?;
        let by_id = self.keys.topic_by_id(topic.id);
        let head_key = self.keys.partition_head(topic.id, partition);
        let start_key = self.keys.log_start(topic.id, partition);
        let outcome = run(self.meta.as_ref(), &self.retry, |tx| {
            let (by_id, head_key, start_key) = (&by_id, &head_key, &start_key);
            Box::pin(async move {
                // A conflicting read: a topic deleted meanwhile must not get
                // a log start key again.
                if tx.get(by_id).await?.is_none() {
                    return Ok(Outcome::TopicGone);
                }
                // A snapshot read: the high-water mark only grows, so an
                // offset at or below it now still is at commit, and busy
                // appends do not make this transaction retry.
                let head = PartitionHead::decode(tx.snapshot_get(head_key).await?.as_deref())
                    .map_err(|e| MetaError::Backend(e.to_string()))?;
                let current = tx.get(start_key).await?.map_or(0, |b| decode_i64(&b));
                let offset = match to {
                    DeleteRecordsTo::Offset(offset) => offset,
                    DeleteRecordsTo::HighWatermark => head.next_offset,
                };
                if offset < 0 || offset > head.next_offset {
                    return Ok(Outcome::OutOfRange {
                        offset,
                        log_start: current,
                        high_watermark: head.next_offset,
                    });
                }
                if offset <= current {
                    return Ok(Outcome::LogStart(current));
                }
                tx.set(start_key, &encode_i64(offset))?;
                Ok(Outcome::LogStart(offset))
            })
        })
        .await?;
        match outcome {
            Outcome::TopicGone => Err(LogError::TopicNotFound {
                name: topic.name.clone(),
            }),
            Outcome::OutOfRange {
                offset,
                log_start,
                high_watermark,
            } => Err(LogError::OffsetOutOfRange {
                topic: topic.name.clone(),
                partition,
                offset,
                log_start,
                next_offset: high_watermark,
            }),
            Outcome::LogStart(log_start) => Ok(log_start),
        }
    }
}
