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
use super::producer::{ProducerBatch, SequenceCheck};
use super::{Log, LogError};
use crate::keys::encode_i64;
use stratus_format::wal_object::{ChunkEntry, WalObjectBuilder};
use stratus_meta::{MetaError, Transaction, run};

pub use crate::limits::COMMIT_DEADLINE;
use crate::limits::MAX_UNKNOWN_RESULT_RECHECKS;

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
    /// Set for an idempotent producer's batch (the same fields are in the
    /// batch header): the offset transaction writes it only if it is next in
    /// the producer's sequence, and answers a retry of a written batch with
    /// the original base offset.
    pub producer: Option<ProducerBatch>,
}

/// Per-batch outcomes in a commit record, beside base offsets (>= 0).
const TOPIC_GONE: i64 = -1;
const OUT_OF_ORDER: i64 = -2;
const FENCED: i64 = -3;

/// What the offset transaction needs of one batch of a chunk.
#[derive(Debug, Clone, Copy)]
struct BatchMeta {
    len: u32,
    record_count: u32,
    first_timestamp_ms: i64,
    max_timestamp_ms: i64,
    producer: Option<ProducerBatch>,
}

/// A run of consecutive batches of one chunk, indexed as one entry.
#[derive(Debug, Clone, Copy)]
struct Span {
    topic_id: u128,
    partition: u32,
    byte_offset: u64,
    byte_len: u32,
    record_count: u32,
    first_timestamp_ms: i64,
    max_timestamp_ms: i64,
}

/// One object's chunks with the batches each was built from, in plan order.
type ObjectChunks<'a> = (&'a str, Vec<(ChunkEntry, Vec<BatchMeta>)>);

/// What the transaction did for one object: per-batch outcomes (plan order)
/// and the byte ranges it indexed (empty when re-read from a commit record).
#[derive(Debug)]
struct Committed {
    outcomes: Vec<i64>,
    spans: Vec<(u64, u32)>,
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
        let key = format!("wal/{}.wal", crate::ids::new_ulid());
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
        let chunks: Vec<ObjectChunks<'_>> = objects
            .iter()
            .map(|(batches, w)| (w.key.as_str(), chunk_batches(batches, &w.plans, &w.entries)))
            .collect();
        let committed = self.commit_offsets(&chunks).await?;
        let mut all = Vec::with_capacity(objects.len());
        for ((batches, written), done) in objects.into_iter().zip(committed) {
            for (offset, len) in &done.spans {
                let range = *offset as usize..(*offset + u64::from(*len)) as usize;
                // A copy, not a slice: a slice would pin the whole object in
                // memory while the cache counts only the chunk's bytes.
                let chunk = Bytes::copy_from_slice(&written.object[range]);
                self.cache.insert(&written.key, *offset, chunk);
            }
            all.push(outcomes(batches, &written.plans, &done.outcomes));
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

    /// Runs the offset-assigning transaction for `objects` until it is known
    /// to have committed, returning per object each batch's outcome: its base
    /// offset, or a negative code (topic gone, out of order, fenced).
    async fn commit_offsets(
        &self,
        objects: &[ObjectChunks<'_>],
    ) -> Result<Vec<Committed>, LogError> {
        let mut rechecks = 0;
        loop {
            for (key, _) in objects {
                check_commit_deadline(key)?;
            }
            let attempt = run(self.meta.as_ref(), &self.retry, |tx| {
                Box::pin(async move {
                    let mut all = Vec::with_capacity(objects.len());
                    for (key, chunks) in objects {
                        // Heads read here see the ones this transaction already
                        // advanced for earlier objects.
                        all.push(self.assign_offsets(tx, key, chunks).await?);
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
        chunks: &[(ChunkEntry, Vec<BatchMeta>)],
    ) -> Result<Committed, MetaError> {
        let commit_key = self.keys.wal_commit(object_key);
        if let Some(record) = tx.get(&commit_key).await? {
            let outcomes =
                decode_commit_record(&record).map_err(|e| MetaError::Backend(e.to_string()))?;
            return Ok(Committed {
                outcomes,
                spans: Vec::new(),
            });
        }
        let mut live_topics: HashMap<u128, bool> = HashMap::new();
        let mut done = Committed {
            outcomes: Vec::new(),
            spans: Vec::new(),
        };
        for (entry, batches) in chunks {
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
                done.outcomes
                    .extend(std::iter::repeat_n(TOPIC_GONE, batches.len()));
                continue;
            }
            self.index_chunk(tx, object_key, entry, batches, &mut done)
                .await?;
        }
        tx.set(
            &self.keys.object_refs(object_key),
            &encode_i64(done.spans.len() as i64),
        )?;
        tx.set(&commit_key, &encode_commit_record(&done.outcomes))?;
        Ok(done)
    }

    /// Gives one chunk's batches the partition's next offsets and indexes
    /// them: the whole chunk as one entry, unless idempotent batches in it are
    /// retries or refused, in which case each run of written batches between
    /// them gets its own entry (their bytes stay in the object, unreferenced).
    async fn index_chunk(
        &self,
        tx: &mut dyn Transaction,
        object_key: &str,
        chunk: &ChunkEntry,
        batches: &[BatchMeta],
        done: &mut Committed,
    ) -> Result<(), MetaError> {
        let (topic_id, partition) = (chunk.topic_id, chunk.partition);
        let mut run: Option<(i64, Span)> = None;
        let mut at = chunk.offset;
        for meta in batches {
            let verdict = match meta.producer {
                None => SequenceCheck::Write,
                Some(producer) => {
                    self.check_sequence(tx, topic_id, partition, producer, meta.record_count)
                        .await?
                }
            };
            if verdict != SequenceCheck::Write {
                self.index_run(tx, object_key, run.take(), done).await?;
            }
            match verdict {
                SequenceCheck::Write => {
                    if run.is_none() {
                        let base = self.next_offset(tx, topic_id, partition).await?;
                        run = Some((base, Span::starting(chunk, at, meta)));
                    }
                    let (run_base, span) = run.as_mut().expect("a run was just started");
                    let base = *run_base + i64::from(span.record_count);
                    span.extend(meta);
                    if let Some(producer) = meta.producer {
                        self.remember_sequence(
                            tx,
                            topic_id,
                            partition,
                            producer,
                            meta.record_count,
                            base,
                        )
                        .await?;
                    }
                    done.outcomes.push(base);
                }
                SequenceCheck::Duplicate(base) => done.outcomes.push(base),
                SequenceCheck::OutOfOrder => done.outcomes.push(OUT_OF_ORDER),
                SequenceCheck::Fenced => done.outcomes.push(FENCED),
            }
            at += u64::from(meta.len);
        }
        self.index_run(tx, object_key, run, done).await
    }

    async fn index_run(
        &self,
        tx: &mut dyn Transaction,
        object_key: &str,
        run: Option<(i64, Span)>,
        done: &mut Committed,
    ) -> Result<(), MetaError> {
        if let Some((_, span)) = run {
            self.index_span(tx, object_key, &span).await?;
            done.spans.push((span.byte_offset, span.byte_len));
        }
        Ok(())
    }

    async fn next_offset(
        &self,
        tx: &mut dyn Transaction,
        topic_id: u128,
        partition: u32,
    ) -> Result<i64, MetaError> {
        let head_key = self.keys.partition_head(topic_id, partition);
        let head = PartitionHead::decode(tx.get(&head_key).await?.as_deref())
            .map_err(|e| MetaError::Backend(e.to_string()))?;
        Ok(head.next_offset)
    }

    /// Gives a span the partition's next offsets and indexes it.
    async fn index_span(
        &self,
        tx: &mut dyn Transaction,
        object_key: &str,
        span: &Span,
    ) -> Result<i64, MetaError> {
        let head_key = self.keys.partition_head(span.topic_id, span.partition);
        let mut head = PartitionHead::decode(tx.get(&head_key).await?.as_deref())
            .map_err(|e| MetaError::Backend(e.to_string()))?;
        let entry = IndexEntry {
            tier: TierKind::Wal,
            object_key: object_key.to_owned(),
            base_offset: head.next_offset,
            offset_count: span.record_count,
            byte_offset: span.byte_offset,
            byte_len: span.byte_len,
            first_timestamp_ms: span.first_timestamp_ms,
            max_timestamp_ms: span.max_timestamp_ms,
        };
        let end = entry.end_offset();
        tx.set(
            &self.keys.index_entry(span.topic_id, span.partition, end),
            &entry.encode(),
        )?;
        if span.max_timestamp_ms > head.max_timestamp_ms {
            head.max_timestamp_ms = span.max_timestamp_ms;
            let time_key = self.keys.time_index_entry(
                span.topic_id,
                span.partition,
                span.max_timestamp_ms,
                end,
            );
            tx.set(&time_key, &[])?;
        }
        head.next_offset = end;
        tx.set(&head_key, &head.encode())?;
        Ok(entry.base_offset)
    }
}

impl Span {
    fn starting(chunk: &ChunkEntry, byte_offset: u64, first: &BatchMeta) -> Self {
        Self {
            topic_id: chunk.topic_id,
            partition: chunk.partition,
            byte_offset,
            byte_len: 0,
            record_count: 0,
            first_timestamp_ms: first.first_timestamp_ms,
            max_timestamp_ms: i64::MIN,
        }
    }

    fn extend(&mut self, batch: &BatchMeta) {
        self.byte_len += batch.len;
        self.record_count += batch.record_count;
        self.max_timestamp_ms = self.max_timestamp_ms.max(batch.max_timestamp_ms);
    }
}

/// Each chunk of an object with the batches it was built from.
fn chunk_batches(
    batches: &[AppendBatch],
    plans: &[ChunkPlan],
    entries: &[ChunkEntry],
) -> Vec<(ChunkEntry, Vec<BatchMeta>)> {
    plans
        .iter()
        .zip(entries)
        .map(|(plan, entry)| {
            let metas = plan
                .batch_indexes
                .iter()
                .map(|i| {
                    let b = &batches[*i];
                    BatchMeta {
                        len: b.batch.len() as u32,
                        record_count: b.record_count,
                        first_timestamp_ms: b.first_timestamp_ms,
                        max_timestamp_ms: b.max_timestamp_ms,
                        producer: b.producer,
                    }
                })
                .collect();
            (*entry, metas)
        })
        .collect()
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

/// Maps per-batch outcomes (plan order) back to the input order.
fn outcomes(batches: &[AppendBatch], plans: &[ChunkPlan], codes: &[i64]) -> Vec<AppendOutcome> {
    let mut out: Vec<Option<AppendOutcome>> = (0..batches.len()).map(|_| None).collect();
    let in_plan_order = plans
        .iter()
        .flat_map(|plan| plan.batch_indexes.iter().map(move |i| (plan.topic_id, *i)));
    for ((topic_id, i), code) in in_plan_order.zip(codes) {
        let batch = &batches[i];
        let producer = batch.producer.unwrap_or(ProducerBatch {
            producer_id: -1,
            epoch: -1,
            base_sequence: -1,
        });
        out[i] = Some(match *code {
            base if base >= 0 => Ok(base),
            OUT_OF_ORDER => Err(LogError::OutOfOrderSequence {
                producer_id: producer.producer_id,
                partition: batch.partition,
                base_sequence: producer.base_sequence,
            }),
            FENCED => Err(LogError::ProducerFenced {
                producer_id: producer.producer_id,
                epoch: producer.epoch,
            }),
            _ => Err(LogError::TopicNotFound {
                name: format!("(deleted topic id {topic_id:032x})"),
            }),
        });
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
