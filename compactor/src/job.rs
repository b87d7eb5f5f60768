//! One partition's compaction: retention, cleaning, WAL chunks into segments
//! and merges, one index swap at a time, until nothing is due.

use stratus_storage::keys::decode_i64;
use stratus_storage::log::IndexEntry;

use crate::context::Context;
use crate::lease::LeaseGuard;
use crate::limits::MAX_ENTRIES_PER_JOB;
use crate::plan::{Action, CleanState, below_log_start, next_action};
use crate::report::PassReport;
use crate::rewrite::rewrite;
use crate::swap::{self, Swap, SwapOutcome};
use crate::{CompactError, Partition};

/// Runs due actions on one partition. Returns early (without error) when
/// the lease was lost or the index changed underneath; the next pass
/// continues from whatever state that left.
#[tracing::instrument(
    name = "compaction.job",
    skip_all,
    fields(topic = %partition.topic.name, partition = partition.partition)
)]
pub(crate) async fn compact_partition(
    ctx: &Context,
    partition: &Partition,
    guard: &LeaseGuard,
    report: &mut PassReport,
) -> Result<(), CompactError> {
    for _ in 0..ctx.config.max_jobs_per_partition {
        let entries = ctx
            .log
            .index_entries(partition.topic.id, partition.partition, MAX_ENTRIES_PER_JOB)
            .await?;
        let clean = read_clean_state(ctx, partition).await?;
        let log_start = read_log_start(ctx, partition).await?;
        let now_ms = ctx.clock.now_ms();
        let Some(action) = below_log_start(&entries, log_start).or_else(|| {
            next_action(
                &entries,
                &partition.topic.config,
                clean,
                now_ms,
                &ctx.config,
            )
        }) else {
            return Ok(());
        };
        let outcome = match action {
            Action::Trim {
                entries: n,
                log_start,
            } => trim(ctx, partition, guard, &entries[..n], log_start, report).await?,
            Action::Rewrite { range, kind } => {
                let old = &entries[range];
                let rewritten = rewrite(ctx, partition, old, kind).await?;
                report.bytes_read += rewritten.bytes_read;
                let swap = Swap {
                    old,
                    new: &rewritten.segments,
                    log_start: None,
                    clean: rewritten.clean,
                };
                let outcome = swap::commit(ctx, partition, guard, &swap).await?;
                if outcome == SwapOutcome::Committed {
                    report.record_rewrite(kind, old, &rewritten.segments);
                }
                outcome
            }
        };
        match outcome {
            SwapOutcome::Committed => {}
            SwapOutcome::Fenced => {
                report.fenced += 1;
                let loss = crate::renewal::loss_of(ctx, guard).await;
                tracing::warn!(
                    topic = %partition.topic.name,
                    partition = partition.partition,
                    "index swap fenced: {loss}; leaving the partition to the next pass"
                );
                return Ok(());
            }
            SwapOutcome::Stale => {
                report.stale += 1;
                return Ok(());
            }
        }
    }
    // Every job this pass allows was used and more may be due.
    report.partitions_left_due += 1;
    Ok(())
}

async fn trim(
    ctx: &Context,
    partition: &Partition,
    guard: &LeaseGuard,
    dropped: &[IndexEntry],
    log_start: i64,
    report: &mut PassReport,
) -> Result<SwapOutcome, CompactError> {
    let swap = Swap {
        old: dropped,
        new: &[],
        log_start: Some(log_start),
        clean: None,
    };
    let outcome = swap::commit(ctx, partition, guard, &swap).await?;
    if outcome == SwapOutcome::Committed {
        report.retention_trims += 1;
        report.entries_removed += dropped.len() as u64;
        tracing::info!(
            topic = %partition.topic.name,
            partition = partition.partition,
            log_start,
            "dropped entries below the new log start"
        );
    }
    Ok(outcome)
}

/// The partition's log start as last committed: a plan made from a stale one
/// drops less, never more, since the log start only rises.
async fn read_log_start(ctx: &Context, partition: &Partition) -> Result<i64, CompactError> {
    let key = ctx
        .log
        .keys()
        .log_start(partition.topic.id, partition.partition);
    let mut tx = ctx.log.meta().begin().await?;
    let value = tx.snapshot_get(&key).await?;
    Ok(value.map_or(0, |b| decode_i64(&b)))
}

async fn read_clean_state(
    ctx: &Context,
    partition: &Partition,
) -> Result<CleanState, CompactError> {
    let key = ctx
        .log
        .keys()
        .cleaned_up_to(partition.topic.id, partition.partition);
    let mut tx = ctx.log.meta().begin().await?;
    let value = tx.snapshot_get(&key).await?;
    Ok(CleanState::decode(value.as_deref()))
}
