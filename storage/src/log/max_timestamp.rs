//! The record with the largest timestamp of a partition (ListOffsets
//! `MAX_TIMESTAMP`), among the records still readable.
//!
//! The time index's last entry names the chunk that last raised the
//! partition's running maximum, so that chunk holds the largest timestamp:
//! one index read and one chunk decode. Only when that record is gone
//! (retention or DeleteRecords removed it, and what remains never reached
//! it, so no later entry exists) does the answer come from the index
//! entries' own maximum timestamps, read a page at a time from the log
//! start: that costs one pass over the partition's index, in bounded memory.

use super::{IndexEntry, Log, LogError, PartitionState};
use crate::topic::TopicRecord;
use stratus_meta::RangeOptions;

impl Log {
    /// `(offset, Some(timestamp))` of the first record holding the largest
    /// timestamp at or above the log start; `None` when no record is readable.
    pub(super) async fn max_timestamp_offset(
        &self,
        topic: &TopicRecord,
        partition: u32,
        state: PartitionState,
    ) -> Result<Option<(i64, Option<i64>)>, LogError> {
        if state.log_start_offset >= state.high_watermark {
            return Ok(None);
        }
        if let Some(found) = self.max_from_time_index(topic, partition, state).await? {
            return Ok(Some(found));
        }
        self.max_from_index_scan(topic, partition, state).await
    }

    /// The answer the time index gives, if the record it names is readable.
    async fn max_from_time_index(
        &self,
        topic: &TopicRecord,
        partition: u32,
        state: PartitionState,
    ) -> Result<Option<(i64, Option<i64>)>, LogError> {
        let (begin, end) = self.keys.time_index_from(topic.id, partition, i64::MIN);
        let mut tx = self.meta.begin().await?;
        let last = tx
            .get_range(
                &begin,
                &end,
                RangeOptions {
                    limit: 1,
                    reverse: true,
                    snapshot: true,
                },
            )
            .await?;
        drop(tx);
        let Some((max_ms, end_offset)) = last
            .first()
            .and_then(|(key, _)| self.keys.time_index_decode(key))
        else {
            return Ok(None);
        };
        if end_offset <= state.log_start_offset {
            return Ok(None);
        }
        let entries = self
            .index_entries_from(topic.id, partition, end_offset - 1, 1)
            .await?;
        let Some(entry) = entries.first() else {
            return Ok(None);
        };
        // The largest timestamp may sit below a log start inside the chunk.
        Ok(self
            .max_of_entry(entry, state.log_start_offset)
            .await?
            .filter(|(_, timestamp)| *timestamp == max_ms)
            .map(|(offset, timestamp)| (offset, Some(timestamp))))
    }

    /// The answer from every index entry from the log start on.
    async fn max_from_index_scan(
        &self,
        topic: &TopicRecord,
        partition: u32,
        state: PartitionState,
    ) -> Result<Option<(i64, Option<i64>)>, LogError> {
        let mut best: Option<(i64, i64)> = None;
        // The first entry at or after which the best record lies.
        let mut best_entry: Option<IndexEntry> = None;
        let mut from = state.log_start_offset;
        'pages: loop {
            let page = self
                .index_entries_from(topic.id, partition, from, self.max_chunks_per_read)
                .await?;
            let Some(last) = page.last() else { break };
            from = last.end_offset();
            for entry in page {
                if entry.base_offset >= state.high_watermark {
                    break 'pages;
                }
                if entry.byte_len == 0 {
                    continue;
                }
                if entry.base_offset < state.log_start_offset {
                    // Straddles the log start: only its readable part counts.
                    if let Some((offset, timestamp)) =
                        self.max_of_entry(&entry, state.log_start_offset).await?
                        && best.is_none_or(|(_, t)| timestamp > t)
                    {
                        best = Some((offset, timestamp));
                        best_entry = None;
                    }
                } else if best.is_none_or(|(_, t)| entry.max_timestamp_ms > t) {
                    best = Some((entry.base_offset, entry.max_timestamp_ms));
                    best_entry = Some(entry);
                }
            }
            if from >= state.high_watermark {
                break;
            }
        }
        if let Some(entry) = best_entry {
            // An entry's maximum says which chunk; its records say which offset.
            best = self.max_of_entry(&entry, state.log_start_offset).await?;
        }
        Ok(best.map(|(offset, timestamp)| (offset, Some(timestamp))))
    }

    /// `(offset, timestamp)` of the first record of `entry` at or above
    /// `log_start` holding the largest timestamp among them.
    async fn max_of_entry(
        &self,
        entry: &IndexEntry,
        log_start: i64,
    ) -> Result<Option<(i64, i64)>, LogError> {
        let records = self
            .decode_entry(entry, log_start, usize::MAX)
            .await?
            .records;
        let mut best: Option<(i64, i64)> = None;
        for record in records.iter().filter(|r| r.offset >= log_start) {
            if best.is_none_or(|(_, t)| record.timestamp_ms > t) {
                best = Some((record.offset, record.timestamp_ms));
            }
        }
        Ok(best)
    }
}
