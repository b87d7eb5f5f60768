//! The index swap: one metadata transaction that replaces index entries
//! (or, for retention, removes them and moves the log start), keeps object
//! reference counts, and marks objects no entry references as garbage.
//!
//! The transaction re-reads the shard lease and every entry it replaces, so
//! it commits only if this compactor still owns the partition and nobody
//! changed those entries since it read them. Readers that looked the old
//! entries up just before still find their objects: those are deleted only
//! after the garbage grace period.

use std::collections::BTreeMap;

use stratus_meta::{MetaError, RangeOptions, RetryPolicy, Transaction, run};
use stratus_storage::keys::{decode_i64, encode_i64};
use stratus_storage::log::{COMMIT_DEADLINE, IndexEntry};

use crate::context::Context;
use crate::failpoint::{AFTER_INDEX_SWAP, failpoint};
use crate::lease::{LeaseGuard, still_held};
use crate::plan::CleanState;
use crate::rewrite::{NewSegment, segment_written_ms};
use crate::{CompactError, Partition};

/// One change to a partition's index.
#[derive(Debug)]
pub(crate) struct Swap<'a> {
    pub(crate) old: &'a [IndexEntry],
    pub(crate) new: &'a [NewSegment],
    /// Retention: the new log start (`new` is then empty).
    pub(crate) log_start: Option<i64>,
    pub(crate) clean: Option<CleanState>,
}

/// How a swap ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SwapOutcome {
    Committed,
    /// Another compactor owns the partition now; nothing was changed.
    Fenced,
    /// The entries changed since they were read, or the new segments are
    /// past the commit deadline; nothing was changed.
    Stale,
}

pub(crate) async fn commit(
    ctx: &Context,
    partition: &Partition,
    guard: &LeaseGuard,
    swap: &Swap<'_>,
) -> Result<SwapOutcome, CompactError> {
    let now_ms = ctx.clock.now_ms();
    let too_late = swap.new.iter().any(|segment| {
        segment_written_ms(&segment.key)
            .is_none_or(|written| now_ms - written > COMMIT_DEADLINE.as_millis() as i64)
    });
    if too_late {
        return Ok(SwapOutcome::Stale);
    }
    let outcome = run(ctx.log.meta().as_ref(), &RetryPolicy::default(), |tx| {
        Box::pin(async move {
            if !still_held(tx, ctx.log.keys(), guard, now_ms).await? {
                return Ok(SwapOutcome::Fenced);
            }
            if !entries_unchanged(ctx, partition, tx, swap.old).await? {
                return Ok(SwapOutcome::Stale);
            }
            apply(ctx, partition, tx, swap, now_ms).await?;
            Ok(SwapOutcome::Committed)
        })
    })
    .await?;
    if outcome == SwapOutcome::Committed {
        failpoint!(AFTER_INDEX_SWAP);
    }
    Ok(outcome)
}

async fn entries_unchanged(
    ctx: &Context,
    partition: &Partition,
    tx: &mut dyn Transaction,
    old: &[IndexEntry],
) -> Result<bool, MetaError> {
    let keys = ctx.log.keys();
    for entry in old {
        let key = keys.index_entry(partition.topic.id, partition.partition, entry.end_offset());
        if tx.get(&key).await?.as_deref() != Some(&entry.encode()[..]) {
            return Ok(false);
        }
    }
    Ok(true)
}

async fn apply(
    ctx: &Context,
    partition: &Partition,
    tx: &mut dyn Transaction,
    swap: &Swap<'_>,
    now_ms: i64,
) -> Result<(), MetaError> {
    let keys = ctx.log.keys();
    let (topic_id, p) = (partition.topic.id, partition.partition);
    for entry in swap.old {
        tx.clear(&keys.index_entry(topic_id, p, entry.end_offset()))?;
    }
    for segment in swap.new {
        for entry in &segment.entries {
            tx.set(
                &keys.index_entry(topic_id, p, entry.end_offset()),
                &entry.encode(),
            )?;
        }
        tx.set(
            &keys.object_refs(&segment.key),
            &encode_i64(segment.entries.len() as i64),
        )?;
    }
    release_references(ctx, tx, swap.old, now_ms).await?;
    rewrite_time_index(ctx, partition, tx, swap).await?;
    if let Some(log_start) = swap.log_start {
        let key = keys.log_start(topic_id, p);
        let current = tx.get(&key).await?.map_or(0, |b| decode_i64(&b));
        tx.set(&key, &encode_i64(current.max(log_start)))?;
    }
    if let Some(clean) = swap.clean {
        tx.set(&keys.cleaned_up_to(topic_id, p), &clean.encode())?;
    }
    Ok(())
}

/// Drops one reference per removed entry; an object left with none becomes
/// garbage as of `now_ms`. The count stays (at zero) until the object is
/// deleted, which tells garbage apart from orphans.
pub(crate) async fn release_references(
    ctx: &Context,
    tx: &mut dyn Transaction,
    removed: &[IndexEntry],
    now_ms: i64,
) -> Result<(), MetaError> {
    let keys = ctx.log.keys();
    let mut per_object: BTreeMap<&str, i64> = BTreeMap::new();
    for entry in removed {
        *per_object.entry(entry.object_key.as_str()).or_default() += 1;
    }
    for (object, released) in per_object {
        let refs_key = keys.object_refs(object);
        let remaining = tx.get(&refs_key).await?.map_or(0, |b| decode_i64(&b)) - released;
        tx.set(&refs_key, &encode_i64(remaining.max(0)))?;
        if remaining <= 0 {
            tx.set(&keys.garbage(now_ms, object), &[])?;
        }
    }
    Ok(())
}

/// Keeps the time index true: entries of the replaced range go, and each new
/// block that raises the running maximum timestamp gets one. A trim drops
/// the entries below the new log start.
async fn rewrite_time_index(
    ctx: &Context,
    partition: &Partition,
    tx: &mut dyn Transaction,
    swap: &Swap<'_>,
) -> Result<(), MetaError> {
    let (Some(first), Some(last)) = (swap.old.first(), swap.old.last()) else {
        return Ok(());
    };
    let keys = ctx.log.keys();
    let (topic_id, p) = (partition.topic.id, partition.partition);
    let (begin, end) = keys.time_index_from(topic_id, p, i64::MIN);
    // A snapshot read: appends add time index entries past the head, which
    // this swap never touches, so they must not conflict with it.
    let existing = tx
        .get_range(
            &begin,
            &end,
            RangeOptions {
                snapshot: true,
                ..RangeOptions::default()
            },
        )
        .await?;
    let (from, to) = (first.base_offset, last.end_offset());
    let mut running = i64::MIN;
    for (key, _) in &existing {
        let Some((timestamp, end_offset)) = keys.time_index_decode(key) else {
            continue;
        };
        if end_offset <= from {
            running = running.max(timestamp);
        }
        if end_offset > from && end_offset <= to {
            tx.clear(key)?;
        }
    }
    for entry in swap.new.iter().flat_map(|s| &s.entries) {
        if entry.max_timestamp_ms > running {
            running = entry.max_timestamp_ms;
            tx.set(
                &keys.time_index_entry(topic_id, p, running, entry.end_offset()),
                &[],
            )?;
        }
    }
    Ok(())
}
