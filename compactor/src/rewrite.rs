//! Building new segments from index entries: copying batches (WAL chunks and
//! small segments) or keeping only the latest record per key (cleaning).

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutMode, PutOptions};
use stratus_format::batch::{
    self, Offsets, RecordInput, StoredRecord, decode_records, encode_batch_at_offsets,
    patch_base_offset,
};
use stratus_format::segment::{BlockEntry, SegmentBuilder};
use stratus_storage::log::{IndexEntry, TierKind};

use crate::context::Context;
use crate::failpoint::{AFTER_SEGMENT_PUT, failpoint};
use crate::limits::{CLEAN_BATCH_BYTES, CLEAN_BATCH_RECORDS};
use crate::plan::{CleanState, RewriteKind};
use crate::{CompactError, Partition};

/// A segment written to the segment tier, not yet referenced by the index.
#[derive(Debug, Clone)]
pub(crate) struct NewSegment {
    pub(crate) key: String,
    pub(crate) bytes: u64,
    pub(crate) entries: Vec<IndexEntry>,
}

/// What a rewrite produced.
#[derive(Debug, Default)]
pub(crate) struct Rewritten {
    pub(crate) segments: Vec<NewSegment>,
    /// Set by cleaning: the state to record with the swap.
    pub(crate) clean: Option<CleanState>,
    pub(crate) bytes_read: u64,
}

/// Rewrites `old` (consecutive index entries of one partition) into new
/// segments covering exactly the same offsets.
pub(crate) async fn rewrite(
    ctx: &Context,
    partition: &Partition,
    old: &[IndexEntry],
    kind: RewriteKind,
) -> Result<Rewritten, CompactError> {
    let (Some(first), Some(last)) = (old.first(), old.last()) else {
        return Ok(Rewritten::default());
    };
    let mut sink = SegmentSink::new(ctx, partition, first.base_offset);
    let mut out = Rewritten::default();
    match kind {
        RewriteKind::Wal | RewriteKind::Merge => {
            for entry in old {
                let chunk = fetch(ctx, entry).await?;
                out.bytes_read += chunk.len() as u64;
                copy_batches(entry, &chunk, &mut sink).await?;
            }
        }
        RewriteKind::Clean => {
            let now_ms = ctx.clock.now_ms();
            let retention_ms = partition.topic.config.delete_retention_ms;
            let latest = latest_offsets(ctx, old, &mut out.bytes_read).await?;
            let mut cleaner = Cleaner {
                latest: &latest,
                tombstone_cutoff_ms: now_ms.saturating_sub(retention_ms),
                tombstones_due_ms: i64::MAX,
                pending: Vec::new(),
                pending_bytes: 0,
                zstd_level: ctx.config.zstd_level,
            };
            for entry in old {
                for record in decode_all(ctx, entry, &mut out.bytes_read).await? {
                    cleaner.offer(record, &mut sink).await?;
                }
            }
            cleaner.flush(&mut sink).await?;
            out.clean = Some(CleanState {
                cleaned_up_to: last.end_offset(),
                tombstones_due_ms: cleaner.tombstones_due_ms.saturating_add(retention_ms),
            });
        }
    }
    out.segments = sink.finish(last.end_offset()).await?;
    Ok(out)
}

/// The bytes of one index entry, with one ranged GET (no cache: compaction
/// reads each chunk once and must not evict what readers need).
async fn fetch(ctx: &Context, entry: &IndexEntry) -> Result<Bytes, CompactError> {
    if entry.byte_len == 0 {
        return Ok(Bytes::new());
    }
    let range = entry.byte_offset..entry.byte_offset + u64::from(entry.byte_len);
    ctx.log
        .tier(entry.tier)
        .get_range(&Path::from(entry.object_key.as_str()), range)
        .await
        .map_err(|source| CompactError::ObjectStore {
            operation: "get",
            key: entry.object_key.clone(),
            source,
        })
}

/// Copies every batch of a chunk, writing real base offsets into WAL batches.
async fn copy_batches(
    entry: &IndexEntry,
    chunk: &Bytes,
    sink: &mut SegmentSink<'_>,
) -> Result<(), CompactError> {
    let corrupt = |source| CompactError::Batch {
        key: entry.object_key.clone(),
        source,
    };
    let infos = match entry.tier {
        TierKind::Wal => batch::batch_infos(chunk),
        TierKind::Segment => batch::segment_batch_infos(chunk),
    }
    .map_err(corrupt)?;
    let mut at = 0;
    let mut dense_base = entry.base_offset;
    for info in infos {
        let mut bytes = BytesMut::from(&chunk[at..at + info.byte_len]);
        let base = match entry.tier {
            TierKind::Wal => {
                patch_base_offset(&mut bytes, dense_base).map_err(corrupt)?;
                dense_base
            }
            TierKind::Segment => info.base_offset,
        };
        sink.push(base, &bytes).await?;
        at += info.byte_len;
        dense_base += info.offset_span();
    }
    Ok(())
}

async fn decode_all(
    ctx: &Context,
    entry: &IndexEntry,
    bytes_read: &mut u64,
) -> Result<Vec<StoredRecord>, CompactError> {
    let chunk = fetch(ctx, entry).await?;
    *bytes_read += chunk.len() as u64;
    let offsets = match entry.tier {
        TierKind::Wal => Offsets::Dense(entry.base_offset),
        TierKind::Segment => Offsets::Stored,
    };
    decode_records(&chunk, offsets, i64::MIN, usize::MAX)
        .map(|decoded| decoded.records)
        .map_err(|source| CompactError::Batch {
            key: entry.object_key.clone(),
            source,
        })
}

/// First cleaning pass: the offset of the latest record of every key. Only
/// keys are held in memory, as Kafka's cleaner holds its offset map.
async fn latest_offsets(
    ctx: &Context,
    entries: &[IndexEntry],
    bytes_read: &mut u64,
) -> Result<HashMap<Bytes, i64>, CompactError> {
    let mut latest = HashMap::new();
    for entry in entries {
        for record in decode_all(ctx, entry, bytes_read).await? {
            if let Some(key) = record.key {
                latest.insert(key, record.offset);
            }
        }
    }
    Ok(latest)
}

/// Second cleaning pass: keeps survivors and re-encodes them in batches that
/// keep their offsets.
struct Cleaner<'a> {
    latest: &'a HashMap<Bytes, i64>,
    tombstone_cutoff_ms: i64,
    /// Smallest timestamp of a tombstone kept.
    tombstones_due_ms: i64,
    pending: Vec<(i64, RecordInput)>,
    pending_bytes: usize,
    zstd_level: i32,
}

impl Cleaner<'_> {
    async fn offer(
        &mut self,
        record: StoredRecord,
        sink: &mut SegmentSink<'_>,
    ) -> Result<(), CompactError> {
        let superseded = record
            .key
            .as_ref()
            .is_some_and(|key| self.latest.get(key).is_some_and(|o| *o > record.offset));
        if superseded {
            return Ok(());
        }
        if record.value.is_none() {
            // Due at exactly `timestamp + delete.retention.ms`, the moment
            // `CleanState::tombstones_due_ms` makes cleaning due: keeping it
            // then would leave cleaning due and redo it every job.
            if record.timestamp_ms <= self.tombstone_cutoff_ms {
                return Ok(());
            }
            self.tombstones_due_ms = self.tombstones_due_ms.min(record.timestamp_ms);
        }
        let span_ok = self
            .pending
            .first()
            .is_none_or(|(first, _)| record.offset - first < i64::from(i32::MAX));
        if !span_ok
            || self.pending.len() >= CLEAN_BATCH_RECORDS
            || self.pending_bytes >= CLEAN_BATCH_BYTES
        {
            self.flush(sink).await?;
        }
        self.pending_bytes += record.payload_len();
        self.pending.push((
            record.offset,
            RecordInput {
                key: record.key,
                value: record.value,
                headers: record.headers,
                timestamp_ms: record.timestamp_ms,
            },
        ));
        Ok(())
    }

    async fn flush(&mut self, sink: &mut SegmentSink<'_>) -> Result<(), CompactError> {
        let Some((base, _)) = self.pending.first() else {
            return Ok(());
        };
        let base = *base;
        let batch = encode_batch_at_offsets(&self.pending, self.zstd_level).map_err(|source| {
            CompactError::Batch {
                key: "(cleaned batch)".to_owned(),
                source,
            }
        })?;
        self.pending.clear();
        self.pending_bytes = 0;
        sink.push(base, &batch).await
    }
}

/// Cuts batches into segments of about `segment_bytes` and uploads each.
struct SegmentSink<'a> {
    ctx: &'a Context,
    partition: &'a Partition,
    builder: SegmentBuilder,
    written: Vec<NewSegment>,
}

impl<'a> SegmentSink<'a> {
    fn new(ctx: &'a Context, partition: &'a Partition, start_offset: i64) -> Self {
        Self {
            builder: Self::builder(ctx, partition, start_offset),
            ctx,
            partition,
            written: Vec::new(),
        }
    }

    fn builder(ctx: &Context, partition: &Partition, start_offset: i64) -> SegmentBuilder {
        SegmentBuilder::new(
            partition.topic.id,
            partition.partition,
            start_offset,
            ctx.config.block_bytes as usize,
        )
    }

    async fn push(&mut self, base_offset: i64, batch: &[u8]) -> Result<(), CompactError> {
        if self.builder.len() as u64 >= self.ctx.config.segment_bytes {
            let next = Self::builder(self.ctx, self.partition, base_offset);
            let full = std::mem::replace(&mut self.builder, next);
            let segment = self.upload(full, base_offset).await?;
            self.written.push(segment);
        }
        self.builder.push_batch(batch)?;
        Ok(())
    }

    async fn finish(mut self, end_offset: i64) -> Result<Vec<NewSegment>, CompactError> {
        let last = Self::builder(self.ctx, self.partition, end_offset);
        let builder = std::mem::replace(&mut self.builder, last);
        let segment = self.upload(builder, end_offset).await?;
        self.written.push(segment);
        Ok(self.written)
    }

    async fn upload(
        &self,
        builder: SegmentBuilder,
        end_offset: i64,
    ) -> Result<NewSegment, CompactError> {
        let (object, blocks) = builder.finish(end_offset)?;
        // The random part from storage's id source, which a simulation seeds.
        let ulid = stratus_storage::ids::ulid_at(self.ctx.clock.now_ms());
        let key = format!(
            "seg/{:032x}/{}/{ulid}.seg",
            self.partition.topic.id, self.partition.partition
        );
        let bytes = object.len() as u64;
        self.ctx
            .log
            .segment_tier()
            .put_opts(
                &Path::from(key.as_str()),
                object.into(),
                PutOptions::from(PutMode::Create),
            )
            .await
            .map_err(|source| CompactError::ObjectStore {
                operation: "put",
                key: key.clone(),
                source,
            })?;
        failpoint!(AFTER_SEGMENT_PUT);
        let entries = blocks
            .iter()
            .map(|block| index_entry(self.partition, &key, block))
            .collect::<Result<_, _>>()?;
        Ok(NewSegment {
            key,
            bytes,
            entries,
        })
    }
}

fn index_entry(
    partition: &Partition,
    key: &str,
    block: &BlockEntry,
) -> Result<IndexEntry, CompactError> {
    let span = block.end_offset - block.base_offset;
    let offset_count = u32::try_from(span).map_err(|_| CompactError::BlockSpan {
        topic_id: partition.topic.id,
        partition: partition.partition,
        span,
    })?;
    Ok(IndexEntry {
        tier: TierKind::Segment,
        object_key: key.to_owned(),
        base_offset: block.base_offset,
        offset_count,
        byte_offset: block.byte_offset,
        byte_len: block.byte_len,
        first_timestamp_ms: block.first_timestamp_ms,
        max_timestamp_ms: block.max_timestamp_ms,
    })
}

/// When a segment was written, from its `seg/<topic>/<partition>/<ULID>.seg` key.
pub(crate) fn segment_written_ms(key: &str) -> Option<i64> {
    let name = key.strip_prefix("seg/")?.rsplit('/').next()?;
    let ulid = ulid::Ulid::from_string(name.strip_suffix(".seg")?).ok()?;
    i64::try_from(ulid.timestamp_ms()).ok()
}
