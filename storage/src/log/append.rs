//! The write path: one WAL object per flush, then one metadata transaction that
//! assigns offsets to every chunk in it.
//!
//! The order is the durability contract: the object is durable in the WAL tier
//! before the transaction runs, and [`Log::append`] returns offsets only after
//! the transaction committed. A crash in between leaves an unreferenced object
//! that garbage collection removes; it never leaves an offset pointing at
//! missing bytes.

use std::collections::HashMap;

use bytes::Bytes;
use object_store::path::Path;
use object_store::{PutMode, PutOptions};

use super::entry::{
    IndexEntry, PartitionHead, TierKind, decode_commit_record, encode_commit_record,
};
use super::{Log, LogError};
use crate::keys::encode_i64;
use crate::meta::{MetaError, Transaction, run};
use crate::wal_object::{ChunkEntry, WalObjectBuilder};

/// Commits whose outcome stays unknown after this many re-checks fail the flush.
const MAX_UNKNOWN_RESULT_RECHECKS: usize = 5;

/// A WAL object is never given offsets once it is this old (by the time in
/// its ULID key). The compactor deletes uncommitted objects only after its
/// orphan grace period, which must be longer, so it can never delete an
/// object that a slow gateway is still about to commit.
pub const COMMIT_DEADLINE: std::time::Duration = std::time::Duration::from_secs(120);

/// One encoded record batch bound for a partition.
#[derive(Debug, Clone)]
pub struct AppendBatch {
    pub topic_id: u128,
    pub partition: u32,
    /// A RecordBatch v2 with base offset 0.
    pub batch: Bytes,
    pub record_count: u32,
    pub first_timestamp_ms: i64,
    pub max_timestamp_ms: i64,
}

/// The base offset given to one [`AppendBatch`], or why it was not written.
pub type AppendOutcome = Result<i64, LogError>;

/// A WAL object that is durable but not yet committed: see [`Log::write_object`].
#[derive(Debug)]
pub struct WrittenObject {
    key: String,
    object: Bytes,
    entries: Vec<ChunkEntry>,
    plans: Vec<ChunkPlan>,
}

impl WrittenObject {
    /// The object's key in the WAL tier.
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// The batches of one partition within a flush, in arrival order.
#[derive(Debug)]
struct ChunkPlan {
    topic_id: u128,
    partition: u32,
    batch_indexes: Vec<usize>,
}

impl Log {
    /// Appends batches for any number of partitions as one WAL object and one
    /// transaction. Returns one outcome per input batch, in input order;
    /// batches of one partition get consecutive offsets in input order.
    ///
    /// An `Err` means nothing was committed. An individual outcome can fail
    /// while others succeed only when its topic was deleted meanwhile.
    pub async fn append(&self, batches: &[AppendBatch]) -> Result<Vec<AppendOutcome>, LogError> {
        let written = self.write_object(batches).await?;
        self.commit_object(batches, written).await
    }

    /// First half of [`Log::append`]: makes the batches durable as one WAL
    /// object. Nothing is visible to readers yet. Callers may write several
    /// objects concurrently and commit them in the order they choose.
    pub async fn write_object(&self, batches: &[AppendBatch]) -> Result<WrittenObject, LogError> {
        let plans = plan_chunks(batches);
        let (object, entries) = build_object(batches, &plans)?;
        let key = format!("wal/{}.wal", ulid::Ulid::generate());
        if !batches.is_empty() {
            self.put_wal_object(&key, object.clone()).await?;
        }
        Ok(WrittenObject {
            key,
            object,
            entries,
            plans,
        })
    }

    /// Second half of [`Log::append`]: assigns offsets to a durable object's
    /// chunks in one transaction. `batches` must be the ones the object was
    /// written from.
    pub async fn commit_object(
        &self,
        batches: &[AppendBatch],
        written: WrittenObject,
    ) -> Result<Vec<AppendOutcome>, LogError> {
        let mut outcomes = self.commit_objects(vec![(batches, written)]).await?;
        Ok(outcomes.pop().unwrap_or_default())
    }

    /// Assigns offsets to several durable objects in one transaction, in the
    /// order given (group commit: one metadata round trip and one fsync for
    /// all of them). Returns each object's outcomes; an `Err` means none of
    /// them was committed.
    pub async fn commit_objects(
        &self,
        objects: Vec<(&[AppendBatch], WrittenObject)>,
    ) -> Result<Vec<Vec<AppendOutcome>>, LogError> {
        let objects: Vec<(&[AppendBatch], WrittenObject)> = objects
            .into_iter()
            .filter(|(batches, _)| !batches.is_empty())
            .collect();
        if objects.is_empty() {
            return Ok(Vec::new());
        }
        let chunks: Vec<(&str, &[ChunkEntry])> = objects
            .iter()
            .map(|(_, w)| (w.key.as_str(), w.entries.as_slice()))
            .collect();
        let base_offsets = self.commit_offsets(&chunks).await?;
        let mut all = Vec::with_capacity(objects.len());
        for ((batches, written), bases) in objects.into_iter().zip(base_offsets) {
            for (entry, base) in written.entries.iter().zip(&bases) {
                if *base >= 0 {
                    let range =
                        entry.offset as usize..(entry.offset + u64::from(entry.len)) as usize;
                    // A copy, not a slice: a slice would pin the whole object in
                    // memory while the cache counts only the chunk's bytes.
                    let chunk = Bytes::copy_from_slice(&written.object[range]);
                    self.cache.insert(&written.key, entry.offset, chunk);
                }
            }
            all.push(outcomes(batches, &written.plans, &bases));
        }
        Ok(all)
    }

    async fn put_wal_object(&self, key: &str, object: Bytes) -> Result<(), LogError> {
        self.wal
            .put_opts(
                &Path::from(key),
                object.into(),
                PutOptions::from(PutMode::Create),
            )
            .await
            .map_err(|source| LogError::ObjectStore {
                operation: "put",
                key: key.to_owned(),
                source,
            })?;
        Ok(())
    }

    /// Runs the offset-assigning transaction until it is known to have
    /// committed, returning each chunk's base offset (-1: topic gone).
    /// Runs the offset-assigning transaction for `objects` until it is known
    /// to have committed, returning each chunk's base offset (-1: topic gone)
    /// per object.
    async fn commit_offsets(
        &self,
        objects: &[(&str, &[ChunkEntry])],
    ) -> Result<Vec<Vec<i64>>, LogError> {
        let mut rechecks = 0;
        loop {
            for (key, _) in objects {
                check_commit_deadline(key)?;
            }
            let attempt = run(self.meta.as_ref(), &self.retry, |tx| {
                Box::pin(async move {
                    let mut all = Vec::with_capacity(objects.len());
                    for (key, entries) in objects {
                        // Heads read here see the ones this transaction already
                        // advanced for earlier objects.
                        all.push(self.assign_offsets(tx, key, entries).await?);
                    }
                    Ok(all)
                })
            })
            .await;
            match attempt {
                // The transaction reads each object's commit record first, so
                // running it again after an unknown outcome either finds them or
                // commits once.
                Err(e) if e.maybe_committed() && rechecks < MAX_UNKNOWN_RESULT_RECHECKS => {
                    rechecks += 1;
                    tracing::warn!(objects = objects.len(), error = %e, "commit outcome unknown; re-checking");
                }
                other => return Ok(other?),
            }
        }
    }

    async fn assign_offsets(
        &self,
        tx: &mut dyn Transaction,
        object_key: &str,
        entries: &[ChunkEntry],
    ) -> Result<Vec<i64>, MetaError> {
        let commit_key = self.keys.wal_commit(object_key);
        if let Some(record) = tx.get(&commit_key).await? {
            return decode_commit_record(&record).map_err(|e| MetaError::Backend(e.to_string()));
        }
        let mut live_topics: HashMap<u128, bool> = HashMap::new();
        let mut base_offsets = Vec::with_capacity(entries.len());
        for entry in entries {
            let live = match live_topics.get(&entry.topic_id) {
                Some(live) => *live,
                None => {
                    let live = tx
                        .get(&self.keys.topic_by_id(entry.topic_id))
                        .await?
                        .is_some();
                    live_topics.insert(entry.topic_id, live);
                    live
                }
            };
            if !live {
                base_offsets.push(-1);
                continue;
            }
            base_offsets.push(self.index_chunk(tx, object_key, entry).await?);
        }
        let referenced = base_offsets.iter().filter(|b| **b >= 0).count() as i64;
        tx.set(&self.keys.object_refs(object_key), &encode_i64(referenced))?;
        tx.set(&commit_key, &encode_commit_record(&base_offsets))?;
        Ok(base_offsets)
    }

    /// Gives one chunk the partition's next offsets and indexes it.
    async fn index_chunk(
        &self,
        tx: &mut dyn Transaction,
        object_key: &str,
        chunk: &ChunkEntry,
    ) -> Result<i64, MetaError> {
        let head_key = self.keys.partition_head(chunk.topic_id, chunk.partition);
        let mut head = PartitionHead::decode(tx.get(&head_key).await?.as_deref())
            .map_err(|e| MetaError::Backend(e.to_string()))?;
        let entry = IndexEntry {
            tier: TierKind::Wal,
            object_key: object_key.to_owned(),
            base_offset: head.next_offset,
            offset_count: chunk.record_count,
            byte_offset: chunk.offset,
            byte_len: chunk.len,
            first_timestamp_ms: chunk.first_timestamp_ms,
            max_timestamp_ms: chunk.max_timestamp_ms,
        };
        let end = entry.end_offset();
        tx.set(
            &self.keys.index_entry(chunk.topic_id, chunk.partition, end),
            &entry.encode(),
        )?;
        if chunk.max_timestamp_ms > head.max_timestamp_ms {
            head.max_timestamp_ms = chunk.max_timestamp_ms;
            let time_key = self.keys.time_index_entry(
                chunk.topic_id,
                chunk.partition,
                chunk.max_timestamp_ms,
                end,
            );
            tx.set(&time_key, &[])?;
        }
        head.next_offset = end;
        tx.set(&head_key, &head.encode())?;
        Ok(entry.base_offset)
    }
}

/// The time a WAL object was written, from its `wal/<ULID>.wal` key.
pub fn wal_object_written_ms(key: &str) -> Option<i64> {
    let id = key.strip_prefix("wal/")?.strip_suffix(".wal")?;
    let ulid = ulid::Ulid::from_string(id).ok()?;
    i64::try_from(ulid.timestamp_ms()).ok()
}

fn check_commit_deadline(key: &str) -> Result<(), LogError> {
    let Some(written_ms) = wal_object_written_ms(key) else {
        return Ok(());
    };
    let age_ms = super::now_ms().saturating_sub(written_ms);
    if age_ms > COMMIT_DEADLINE.as_millis() as i64 {
        return Err(LogError::CommitDeadlinePassed {
            key: key.to_owned(),
            age_ms,
        });
    }
    Ok(())
}

fn plan_chunks(batches: &[AppendBatch]) -> Vec<ChunkPlan> {
    let mut plans: Vec<ChunkPlan> = Vec::new();
    let mut by_partition: HashMap<(u128, u32), usize> = HashMap::new();
    for (i, batch) in batches.iter().enumerate() {
        let slot = *by_partition
            .entry((batch.topic_id, batch.partition))
            .or_insert_with(|| {
                plans.push(ChunkPlan {
                    topic_id: batch.topic_id,
                    partition: batch.partition,
                    batch_indexes: Vec::new(),
                });
                plans.len() - 1
            });
        plans[slot].batch_indexes.push(i);
    }
    plans
}

fn build_object(
    batches: &[AppendBatch],
    plans: &[ChunkPlan],
) -> Result<(Bytes, Vec<ChunkEntry>), LogError> {
    let total: usize = batches.iter().map(|b| b.batch.len()).sum();
    let mut builder = WalObjectBuilder::with_capacity(total);
    for plan in plans {
        builder
            .add_chunk(
                plan.topic_id,
                plan.partition,
                plan.batch_indexes.iter().map(|i| &batches[*i].batch),
            )
            .map_err(|e| LogError::CorruptObject {
                key: "(new wal object)".to_owned(),
                reason: e.to_string(),
            })?;
    }
    let (object, entries) = builder.finish();
    Ok((object, entries))
}

/// Spreads chunk base offsets back over the batches they were built from.
fn outcomes(
    batches: &[AppendBatch],
    plans: &[ChunkPlan],
    base_offsets: &[i64],
) -> Vec<AppendOutcome> {
    let mut out: Vec<Option<AppendOutcome>> = (0..batches.len()).map(|_| None).collect();
    for (plan, base) in plans.iter().zip(base_offsets) {
        let mut next = *base;
        for i in &plan.batch_indexes {
            out[*i] = Some(if *base < 0 {
                Err(LogError::TopicNotFound {
                    name: format!("(deleted topic id {:032x})", plan.topic_id),
                })
            } else {
                let this = next;
                next += i64::from(batches[*i].record_count);
                Ok(this)
            });
        }
    }
    out.into_iter()
        .map(|o| {
            o.unwrap_or_else(|| {
                Err(LogError::CorruptMetadata {
                    reason: "batch left out of its flush".into(),
                })
            })
        })
        .collect()
}
