//! The read path: index lookup, ranged GET (through the chunk cache), decode
//! with real offsets. Only committed data is reachable: index entries and the
//! partition head are written in the same transaction.

use bytes::Bytes;
use object_store::ObjectStoreExt;
use object_store::path::Path;

use super::{IndexEntry, Log, LogError, PartitionHead, TierKind};
use crate::keys::decode_i64;
use crate::topic::TopicRecord;
use stratus_format::batch::{DecodedChunk, Offsets, StoredRecord, decode_records};
use stratus_meta::RangeOptions;

/// The readable range of a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionState {
    pub log_start_offset: i64,
    /// One past the last committed offset.
    pub high_watermark: i64,
}

/// Records read from one partition.
#[derive(Debug, Clone)]
pub struct ReadResult {
    pub records: Vec<StoredRecord>,
    /// The offset to read next.
    pub next_offset: i64,
    pub state: PartitionState,
}

/// Which offset [`Log::resolve_offset`] should find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetQuery {
    Earliest,
    Latest,
    /// The first offset whose record timestamp is at least this, in ms.
    Timestamp(i64),
    /// The record with the largest timestamp still readable (the first of
    /// them when several share it): Kafka's `MAX_TIMESTAMP`.
    MaxTimestamp,
}

impl Log {
    pub(super) fn check_partition(topic: &TopicRecord, partition: u32) -> Result<(), LogError> {
        if partition >= topic.partitions {
            return Err(LogError::PartitionNotFound {
                topic: topic.name.clone(),
                partition,
                partitions: topic.partitions,
            });
        }
        Ok(())
    }

    /// The log start offset and high-water mark of a partition.
    pub async fn partition_state(
        &self,
        topic: &TopicRecord,
        partition: u32,
    ) -> Result<PartitionState, LogError> {
        Self::check_partition(topic, partition)?;
        let mut tx = self.meta.begin().await?;
        let head = PartitionHead::decode(
            tx.snapshot_get(&self.keys.partition_head(topic.id, partition))
                .await?
                .as_deref(),
        )?;
        let log_start = tx
            .snapshot_get(&self.keys.log_start(topic.id, partition))
            .await?
            .map_or(0, |b| decode_i64(&b));
        Ok(PartitionState {
            log_start_offset: log_start,
            high_watermark: head.next_offset,
        })
    }

    /// The partition's range, if `offset` lies within it (the high-water mark
    /// included); [`LogError::OffsetOutOfRange`] otherwise. Both read forms
    /// start here.
    pub(super) async fn readable_state(
        &self,
        topic: &TopicRecord,
        partition: u32,
        offset: i64,
    ) -> Result<PartitionState, LogError> {
        let state = self.partition_state(topic, partition).await?;
        if offset < state.log_start_offset || offset > state.high_watermark {
            return Err(LogError::OffsetOutOfRange {
                topic: topic.name.clone(),
                partition,
                offset,
                log_start: state.log_start_offset,
                next_offset: state.high_watermark,
            });
        }
        Ok(state)
    }

    /// Reads committed records from `offset`, about `max_bytes` of them (at
    /// least one record when any is available). Reading at the high-water mark
    /// returns no records; below the log start or above the high-water mark is
    /// [`LogError::OffsetOutOfRange`].
    pub async fn read(
        &self,
        topic: &TopicRecord,
        partition: u32,
        offset: i64,
        max_bytes: usize,
    ) -> Result<ReadResult, LogError> {
        let state = self.readable_state(topic, partition, offset).await?;
        let mut result = ReadResult {
            records: Vec::new(),
            next_offset: offset,
            state,
        };
        if offset == state.high_watermark {
            return Ok(result);
        }
        let entries = self
            .index_entries_from(topic.id, partition, offset, self.max_chunks_per_read)
            .await?;
        let mut budget = max_bytes;
        for entry in entries {
            if entry.base_offset >= state.high_watermark || budget == 0 {
                break;
            }
            let decoded = self
                .decode_entry(&entry, result.next_offset, budget)
                .await?;
            let (records, budget_ran_out) = (decoded.records, decoded.budget_exhausted);
            let used: usize = records.iter().map(StoredRecord::payload_len).sum();
            result.next_offset = match records.last() {
                Some(last) if budget_ran_out => last.offset + 1,
                // Everything from here to the chunk's end was returned, or
                // key compaction left no record there: skip the gap.
                _ => entry.end_offset(),
            };
            result.records.extend(records);
            budget = budget.saturating_sub(used);
            if budget_ran_out {
                break;
            }
        }
        // Never point past what is committed (a segment block can cover
        // offsets up to its end only once they are committed, but be sure).
        result.next_offset = result.next_offset.min(state.high_watermark);
        Ok(result)
    }

    /// Resolves earliest, latest, the first offset at or after a timestamp
    /// or the record with the largest timestamp, with that record's
    /// timestamp. `None`: no record is that recent (or, for the largest
    /// timestamp, none is readable).
    pub async fn resolve_offset(
        &self,
        topic: &TopicRecord,
        partition: u32,
        query: OffsetQuery,
    ) -> Result<Option<(i64, Option<i64>)>, LogError> {
        let state = self.partition_state(topic, partition).await?;
        let timestamp = match query {
            OffsetQuery::Earliest => return Ok(Some((state.log_start_offset, None))),
            OffsetQuery::Latest => return Ok(Some((state.high_watermark, None))),
            OffsetQuery::Timestamp(t) => t,
            OffsetQuery::MaxTimestamp => {
                return self.max_timestamp_offset(topic, partition, state).await;
            }
        };
        let (begin, end) = self.keys.time_index_from(topic.id, partition, timestamp);
        let mut tx = self.meta.begin().await?;
        let first = tx
            .get_range(
                &begin,
                &end,
                RangeOptions {
                    limit: 1,
                    snapshot: true,
                    ..Default::default()
                },
            )
            .await?;
        let Some((_, end_offset)) = first
            .first()
            .and_then(|(k, _)| self.keys.time_index_decode(k))
        else {
            return Ok(None);
        };
        drop(tx);
        // The chunk the time index names holds the answer unless retention
        // removed records from it; then the answer is further on.
        let from = end_offset.saturating_sub(1).max(state.log_start_offset);
        for entry in self
            .index_entries_from(topic.id, partition, from, self.max_chunks_per_read)
            .await?
        {
            let records = self
                .decode_entry(&entry, i64::MIN, usize::MAX)
                .await?
                .records;
            if let Some(hit) = records
                .iter()
                .find(|r| r.offset >= state.log_start_offset && r.timestamp_ms >= timestamp)
            {
                return Ok(Some((hit.offset, Some(hit.timestamp_ms))));
            }
        }
        Ok(None)
    }

    /// Index entries of chunks holding `offset` and after, in offset order.
    pub(super) async fn index_entries_from(
        &self,
        topic_id: u128,
        partition: u32,
        offset: i64,
        limit: usize,
    ) -> Result<Vec<IndexEntry>, LogError> {
        let (begin, end) = self.keys.index_from(topic_id, partition, offset);
        let mut tx = self.meta.begin().await?;
        let pairs = tx
            .get_range(
                &begin,
                &end,
                RangeOptions {
                    limit,
                    snapshot: true,
                    ..Default::default()
                },
            )
            .await?;
        pairs.iter().map(|(_, v)| IndexEntry::decode(v)).collect()
    }

    /// Decodes the records of one index entry from `from_offset` on, up to
    /// about `max_bytes` (at least one record when there is any).
    pub async fn decode_entry(
        &self,
        entry: &IndexEntry,
        from_offset: i64,
        max_bytes: usize,
    ) -> Result<DecodedChunk, LogError> {
        if entry.byte_len == 0 {
            return Ok(DecodedChunk {
                records: Vec::new(),
                budget_exhausted: false,
            });
        }
        let chunk = self.chunk_bytes(entry).await?;
        let offsets = match entry.tier {
            TierKind::Wal => Offsets::Dense(entry.base_offset),
            TierKind::Segment => Offsets::Stored,
        };
        decode_records(&chunk, offsets, from_offset, max_bytes).map_err(|e| {
            LogError::CorruptObject {
                key: entry.object_key.clone(),
                reason: e.to_string(),
            }
        })
    }

    /// Every index entry of a partition from its first, in offset order, at
    /// most `limit` of them.
    pub async fn index_entries(
        &self,
        topic_id: u128,
        partition: u32,
        limit: usize,
    ) -> Result<Vec<IndexEntry>, LogError> {
        self.index_entries_from(topic_id, partition, i64::MIN, limit)
            .await
    }

    /// The bytes of one chunk, from the cache or with one ranged GET.
    pub async fn chunk_bytes(&self, entry: &IndexEntry) -> Result<Bytes, LogError> {
        if let Some(chunk) = self.cache.get(&entry.object_key, entry.byte_offset) {
            return Ok(chunk);
        }
        let range = entry.byte_offset..entry.byte_offset + u64::from(entry.byte_len);
        let chunk = self
            .tier(entry.tier)
            .get_range(&Path::from(entry.object_key.as_str()), range)
            .await
            .map_err(|source| LogError::ObjectStore {
                operation: "get",
                key: entry.object_key.clone(),
                source,
            })?;
        self.cache
            .insert(&entry.object_key, entry.byte_offset, chunk.clone());
        Ok(chunk)
    }
}
