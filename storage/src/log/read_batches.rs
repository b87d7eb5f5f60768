//! Reading a partition as stored record batches, for clients that speak
//! RecordBatch v2 themselves (the Kafka listener): batches come back exactly
//! as the producer sent them, whatever their codec, with only their base
//! offsets written in. Nothing is decompressed on this path.

use bytes::{Bytes, BytesMut};
use stratus_format::batch::{batch_infos, rebase_chunk, segment_batch_infos};

use super::read::PartitionState;
use super::{IndexEntry, Log, LogError, TierKind};
use crate::topic::TopicRecord;

/// Stored batches of one partition.
#[derive(Debug, Clone)]
pub struct BatchRead {
    /// Whole batches in offset order, base offsets patched. The first may
    /// start before the offset asked for (a batch is never split); readers
    /// skip the records before it, as Kafka consumers do.
    pub batches: Vec<Bytes>,
    pub state: PartitionState,
}

impl Log {
    /// Reads whole batches holding `offset` and after, about `max_bytes` of
    /// them counted in stored bytes (at least one batch when any is there).
    /// Reading at the high-water mark returns none; below the log start or
    /// above the high-water mark is [`LogError::OffsetOutOfRange`].
    pub async fn read_batches(
        &self,
        topic: &TopicRecord,
        partition: u32,
        offset: i64,
        max_bytes: usize,
    ) -> Result<BatchRead, LogError> {
        let state = self.readable_state(topic, partition, offset).await?;
        let mut read = BatchRead {
            batches: Vec::new(),
            state,
        };
        if offset == state.high_watermark {
            return Ok(read);
        }
        let mut used = 0usize;
        let entries = self
            .index_entries_from(topic.id, partition, offset, self.max_chunks_per_read)
            .await?;
        for entry in entries {
            if entry.base_offset >= state.high_watermark || entry.byte_len == 0 {
                break;
            }
            for (batch, last_offset) in self.stored_batches(&entry).await? {
                if last_offset < offset || batch_base(&batch) >= state.high_watermark {
                    continue;
                }
                if !read.batches.is_empty() && used + batch.len() > max_bytes {
                    return Ok(read);
                }
                used += batch.len();
                read.batches.push(batch);
            }
        }
        Ok(read)
    }

    /// The batches of one chunk with real base offsets, each with the offset
    /// of its last record.
    async fn stored_batches(&self, entry: &IndexEntry) -> Result<Vec<(Bytes, i64)>, LogError> {
        let corrupt = |e: stratus_format::batch::BatchError| LogError::CorruptObject {
            key: entry.object_key.clone(),
            reason: e.to_string(),
        };
        let chunk = self.chunk_bytes(entry).await?;
        let chunk = match entry.tier {
            // WAL chunks store base offset 0: write the real ones into a copy
            // (the cached chunk stays as stored).
            TierKind::Wal => {
                let mut copy = BytesMut::from(&chunk[..]);
                rebase_chunk(&mut copy, entry.base_offset).map_err(corrupt)?;
                copy.freeze()
            }
            TierKind::Segment => chunk,
        };
        let infos = match entry.tier {
            TierKind::Wal => batch_infos(&chunk),
            TierKind::Segment => segment_batch_infos(&chunk),
        }
        .map_err(corrupt)?;
        let mut at = 0;
        let mut batches = Vec::with_capacity(infos.len());
        for info in infos {
            let batch = chunk.slice(at..at + info.byte_len);
            at += info.byte_len;
            let last = batch_base(&batch) + i64::from(info.last_offset_delta);
            batches.push((batch, last));
        }
        Ok(batches)
    }
}

/// The base offset field of a batch (its first 8 bytes, checked present by
/// the header walk that sliced it).
fn batch_base(batch: &[u8]) -> i64 {
    batch
        .first_chunk::<8>()
        .map_or(i64::MAX, |b| i64::from_be_bytes(*b))
}
