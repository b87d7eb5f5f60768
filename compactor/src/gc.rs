//! Garbage collection: objects no index entry references (after a grace
//! period covering in-flight reads), the index entries of deleted topics,
//! and orphans — objects written but never committed, such as a WAL object
//! whose gateway died between its PUT and its commit.
//!
//! Every step is idempotent and ordered so a crash anywhere leaves work the
//! next run finishes: an object is deleted before the keys that mark it as
//! garbage are cleared, and deleting an object that is already gone is fine.

use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use stratus_meta::{RangeOptions, RetryPolicy, run};
use stratus_storage::keys::decode_i64;
use stratus_storage::log::{IndexEntry, wal_object_written_ms};

use crate::CompactError;
use crate::context::Context;
use crate::failpoint::{AFTER_OBJECT_DELETE, BEFORE_OBJECT_DELETE, failpoint};
use crate::limits::{GARBAGE_BATCH, RELEASE_BATCH};
use crate::report::PassReport;
use crate::rewrite::segment_written_ms;
use crate::swap::release_references;

/// Deletes objects that have been unreferenced for longer than the grace.
pub(crate) async fn collect_garbage(
    ctx: &Context,
    report: &mut PassReport,
) -> Result<(), CompactError> {
    let keys = ctx.log.keys();
    let cutoff = ctx
        .clock
        .now_ms()
        .saturating_sub(ctx.config.object_grace.as_millis() as i64);
    loop {
        let (begin, end) = keys.garbage_before(cutoff);
        let mut tx = ctx.log.meta().begin().await?;
        let due = tx
            .get_range(
                &begin,
                &end,
                RangeOptions {
                    limit: GARBAGE_BATCH,
                    snapshot: true,
                    ..RangeOptions::default()
                },
            )
            .await?;
        drop(tx);
        if due.is_empty() {
            return Ok(());
        }
        for (garbage_key, _) in &due {
            let Some((_, object)) = keys.garbage_decode(garbage_key) else {
                continue;
            };
            if still_referenced(ctx, &object).await? {
                // Cannot happen (counts never rise again), but never delete
                // referenced bytes on the strength of a stale marker.
                tracing::error!(object, "garbage entry for a referenced object; keeping it");
            } else {
                delete_object(ctx, &object).await?;
                report.objects_deleted += 1;
            }
            forget_object(ctx, garbage_key, &object).await?;
        }
        if due.len() < GARBAGE_BATCH {
            return Ok(());
        }
    }
}

async fn still_referenced(ctx: &Context, object: &str) -> Result<bool, CompactError> {
    let mut tx = ctx.log.meta().begin().await?;
    let refs = tx.get(&ctx.log.keys().object_refs(object)).await?;
    Ok(refs.is_some_and(|b| decode_i64(&b) > 0))
}

/// Clears the keys that describe a deleted object.
async fn forget_object(
    ctx: &Context,
    garbage_key: &[u8],
    object: &str,
) -> Result<(), CompactError> {
    let keys = ctx.log.keys();
    run(ctx.log.meta().as_ref(), &RetryPolicy::default(), |tx| {
        Box::pin(async move {
            let refs_key = keys.object_refs(object);
            if tx.get(&refs_key).await?.is_none_or(|b| decode_i64(&b) <= 0) {
                tx.clear(&refs_key)?;
                tx.clear(&keys.wal_commit(object))?;
            }
            tx.clear(garbage_key)?;
            Ok(())
        })
    })
    .await?;
    Ok(())
}

/// The store an object key lives in: segments under `seg/`, WAL objects
/// everywhere else.
fn store_of<'a>(ctx: &'a Context, object: &str) -> &'a dyn ObjectStore {
    if object.starts_with("seg/") {
        ctx.log.segment_tier().as_ref()
    } else {
        ctx.log.wal_tier().as_ref()
    }
}

async fn delete_object(ctx: &Context, object: &str) -> Result<(), CompactError> {
    failpoint!(BEFORE_OBJECT_DELETE);
    match store_of(ctx, object).delete(&Path::from(object)).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
        Err(source) => {
            return Err(CompactError::ObjectStore {
                operation: "delete",
                key: object.to_owned(),
                source,
            });
        }
    }
    failpoint!(AFTER_OBJECT_DELETE);
    Ok(())
}

/// Releases the references held by index entries of deleted topics, then
/// forgets the topics.
pub(crate) async fn release_deleted_topics(
    ctx: &Context,
    report: &mut PassReport,
) -> Result<(), CompactError> {
    let keys = ctx.log.keys();
    let (begin, end) = keys.deleted_topics_range();
    let mut tx = ctx.log.meta().begin().await?;
    let deleted = tx.get_range(&begin, &end, RangeOptions::default()).await?;
    drop(tx);
    for (key, value) in deleted {
        let Some(topic_id) = keys.deleted_topic_decode(&key) else {
            continue;
        };
        let partitions = value
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u32::from_le_bytes);
        for partition in 0..partitions {
            loop {
                let entries = ctx
                    .log
                    .index_entries(topic_id, partition, RELEASE_BATCH)
                    .await?;
                if entries.is_empty() {
                    break;
                }
                release_entries(ctx, topic_id, partition, &entries).await?;
                report.entries_removed += entries.len() as u64;
            }
        }
        run(ctx.log.meta().as_ref(), &RetryPolicy::default(), |tx| {
            let key = &key;
            Box::pin(async move {
                tx.clear(key)?;
                Ok(())
            })
        })
        .await?;
        tracing::info!(topic_id = %format!("{topic_id:032x}"), "released a deleted topic's data");
    }
    Ok(())
}

async fn release_entries(
    ctx: &Context,
    topic_id: u128,
    partition: u32,
    entries: &[IndexEntry],
) -> Result<(), CompactError> {
    let keys = ctx.log.keys();
    let now_ms = ctx.clock.now_ms();
    run(ctx.log.meta().as_ref(), &RetryPolicy::default(), |tx| {
        Box::pin(async move {
            let mut present = Vec::with_capacity(entries.len());
            for entry in entries {
                let key = keys.index_entry(topic_id, partition, entry.end_offset());
                // Re-read inside the transaction: a concurrent run may have
                // released some already.
                if tx.get(&key).await?.is_some() {
                    tx.clear(&key)?;
                    present.push(entry.clone());
                }
            }
            release_references(ctx, tx, &present, now_ms).await
        })
    })
    .await?;
    Ok(())
}

/// Lists both tiers and deletes objects that no metadata knows about and
/// that are older than the orphan grace.
pub(crate) async fn delete_orphans(
    ctx: &Context,
    report: &mut PassReport,
) -> Result<(), CompactError> {
    let cutoff = ctx
        .clock
        .now_ms()
        .saturating_sub(ctx.config.orphan_grace.as_millis() as i64);
    for (store, prefix) in [
        (ctx.log.wal_tier().as_ref(), "wal/"),
        (ctx.log.segment_tier().as_ref(), "seg/"),
    ] {
        let listed: Vec<_> = store
            .list(Some(&Path::from(prefix)))
            .try_collect()
            .await
            .map_err(|source| CompactError::ObjectStore {
                operation: "list",
                key: prefix.to_owned(),
                source,
            })?;
        for meta in listed {
            let key = meta.location.to_string();
            let written_ms = wal_object_written_ms(&key)
                .or_else(|| segment_written_ms(&key))
                .unwrap_or_else(|| meta.last_modified.timestamp_millis());
            if written_ms >= cutoff || known(ctx, &key).await? {
                continue;
            }
            tracing::info!(
                object = key,
                "deleting an orphan object (written, never committed)"
            );
            delete_object(ctx, &key).await?;
            report.orphans_deleted += 1;
        }
    }
    sweep_staging_files(ctx, report).await
}

/// Deletes the staging files of `file://` tiers no live writer can own: not
/// written to for `orphan_grace`, past which no PUT could still be committed.
async fn sweep_staging_files(ctx: &Context, report: &mut PassReport) -> Result<(), CompactError> {
    for dir in &ctx.local_tier_dirs {
        let (owned, min_age) = (dir.clone(), ctx.config.orphan_grace);
        let failed = |reason: String| CompactError::StagingSweep {
            dir: dir.display().to_string(),
            reason,
        };
        let swept =
            tokio::task::spawn_blocking(move || stratus_tier::sweep_staging_files(&owned, min_age))
                .await
                .map_err(|e| failed(format!("the sweep panicked: {e}")))?
                .map_err(|e| failed(e.to_string()))?;
        report.staging_files_deleted += swept.deleted;
    }
    Ok(())
}

/// Whether metadata refers to an object at all: a reference count (even
/// zero, pending garbage collection) or a WAL commit record.
async fn known(ctx: &Context, object: &str) -> Result<bool, CompactError> {
    let keys = ctx.log.keys();
    let mut tx = ctx.log.meta().begin().await?;
    Ok(tx.get(&keys.object_refs(object)).await?.is_some()
        || tx.get(&keys.wal_commit(object)).await?.is_some())
}
