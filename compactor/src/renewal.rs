//! Keeping a shard lease while its jobs run.
//!
//! One job may read up to [`crate::limits::MAX_ENTRIES_PER_JOB`] WAL chunks,
//! one GET at a time, so a job can last longer than `lease_ttl`. Renewing
//! only between partitions let such a job's lease run out under it, and its
//! swap was fenced although no other compactor existed. So the lease is
//! renewed on a timer, every [`renew_every`], for as long as the shard's work
//! runs, and the work stops as soon as a renewal finds the lease gone.

use std::future::Future;
use std::time::Duration;

use crate::context::Context;
use crate::lease::{self, Lease, LeaseGuard};

/// Why a shard's work stopped before it was done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LeaseLoss {
    /// Another compactor took the lease after it expired.
    TakenOver { owner: String, generation: u64 },
    /// Another compactor took the lease after it expired and has let it go
    /// since; `takeovers` generations passed.
    HeldMeanwhile { takeovers: u64 },
    /// The lease expired (no renewal reached the metadata store in time)
    /// and nobody took it; the last error, if any, says why.
    Expired { last_error: Option<String> },
}

impl std::fmt::Display for LeaseLoss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TakenOver { owner, generation } => write!(
                f,
                "the lease was taken over by compactor {owner} (generation {generation})"
            ),
            Self::HeldMeanwhile { takeovers } => write!(
                f,
                "the lease expired and another compactor held it meanwhile ({takeovers} takeovers)"
            ),
            Self::Expired {
                last_error: Some(e),
            } => write!(
                f,
                "the lease expired because it could not be renewed in time (last error: {e})"
            ),
            Self::Expired { last_error: None } => write!(
                f,
                "the lease expired before it was renewed (is the metadata store slow, or lease_ttl too short?)"
            ),
        }
    }
}

/// How often a held lease is renewed: three times per TTL, so two renewals
/// in a row may fail (or be slow) before the lease runs out.
pub(crate) fn renew_every(ttl: Duration) -> Duration {
    (ttl / 3).max(Duration::from_millis(10))
}

/// Runs `work` while renewing `guard` every [`renew_every`]. `Err` when a
/// renewal found the lease lost: `work` is dropped then, since any swap it
/// attempted would be fenced, and whatever it wrote is an orphan for garbage
/// collection.
pub(crate) async fn while_renewing<F: Future>(
    ctx: &Context,
    guard: &LeaseGuard,
    work: F,
) -> Result<F::Output, LeaseLoss> {
    let work = std::pin::pin!(work);
    tokio::select! {
        biased;
        output = work => Ok(output),
        loss = keep(ctx, guard) => Err(loss),
    }
}

/// Renews `guard` until it is lost; returns how.
async fn keep(ctx: &Context, guard: &LeaseGuard) -> LeaseLoss {
    let ttl = ctx.config.lease_ttl;
    let ttl_ms = ttl.as_millis() as i64;
    let mut expires_at_ms = ctx.clock.now_ms().saturating_add(ttl_ms);
    loop {
        tokio::time::sleep(renew_every(ttl)).await;
        let now_ms = ctx.clock.now_ms();
        let renewed = lease::acquire(
            ctx.log.meta().as_ref(),
            ctx.log.keys(),
            guard.shard,
            &ctx.owner,
            now_ms,
            ttl_ms,
        )
        .await;
        match renewed {
            Ok(Some(held)) if held == *guard => {
                expires_at_ms = now_ms.saturating_add(ttl_ms);
            }
            Ok(Some(retaken)) => {
                // Someone held it in between and let it go: the work's
                // generation is fenced. Give the new one back at once.
                let _ = lease::release(ctx.log.meta().as_ref(), ctx.log.keys(), &retaken).await;
                return LeaseLoss::HeldMeanwhile {
                    takeovers: retaken.generation.saturating_sub(guard.generation + 1),
                };
            }
            Ok(None) => return loss_of(ctx, guard).await,
            Err(e) => {
                tracing::warn!(shard = guard.shard, error = %e, "could not renew the shard lease; retrying");
                if ctx.clock.now_ms() >= expires_at_ms {
                    return LeaseLoss::Expired {
                        last_error: Some(e.to_string()),
                    };
                }
            }
        }
    }
}

/// What became of `guard`'s lease, read from metadata, for the log.
pub(crate) async fn loss_of(ctx: &Context, guard: &LeaseGuard) -> LeaseLoss {
    match current(ctx, guard.shard).await {
        Some(lease) if lease.owner != guard.owner || lease.generation != guard.generation => {
            LeaseLoss::TakenOver {
                owner: lease.owner,
                generation: lease.generation,
            }
        }
        _ => LeaseLoss::Expired { last_error: None },
    }
}

async fn current(ctx: &Context, shard: u32) -> Option<Lease> {
    let mut tx = ctx.log.meta().begin().await.ok()?;
    let bytes = tx
        .snapshot_get(&ctx.log.keys().compactor_lease(shard))
        .await
        .ok()??;
    Lease::decode(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewals_come_three_times_per_ttl() {
        assert_eq!(
            renew_every(Duration::from_secs(60)),
            Duration::from_secs(20)
        );
        assert_eq!(
            renew_every(Duration::from_secs(1)),
            Duration::from_secs(1) / 3
        );
    }
}
