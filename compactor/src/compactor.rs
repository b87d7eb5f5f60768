//! A compactor: passes over every partition whose shard it can lease, then
//! garbage collection and idle-producer expiry under a lease of its own.

use std::sync::Arc;
use std::sync::Mutex;

use stratus_storage::log::Log;
use stratus_storage::topic::TopicRecord;
use tracing::Instrument as _;

use crate::clock::{Clock, SystemClock};
use crate::config::CompactorConfig;
use crate::context::Context;
use crate::lease::{self, LeaseGuard, shard_of};
use crate::report::PassReport;
use crate::{CompactError, Partition, gc, job, renewal};

/// The lease that serializes garbage collection across compactors; shard
/// numbers of partitions stay below `lease_shards` (at most
/// [`crate::limits::MAX_LEASE_SHARDS`]).
pub(crate) const GC_SHARD: u32 = u32::MAX;

/// Compacts the partitions of one cluster. Any number may run at once.
#[derive(Debug)]
pub struct Compactor {
    ctx: Context,
    /// When the tiers were last listed for orphans.
    last_orphan_scan_ms: Mutex<Option<i64>>,
}

impl Compactor {
    /// A compactor over `log` with the wall clock.
    pub fn new(log: Arc<Log>, config: CompactorConfig) -> Self {
        Self::with_clock(log, config, Arc::new(SystemClock))
    }

    /// A compactor whose idea of now is `clock`'s.
    pub fn with_clock(log: Arc<Log>, config: CompactorConfig, clock: Arc<dyn Clock>) -> Self {
        let owner = format!(
            "{}-{}-{}",
            hostname(),
            std::process::id(),
            stratus_storage::ids::new_ulid()
        );
        Self {
            ctx: Context {
                log,
                clock,
                config,
                owner,
                local_tier_dirs: Vec::new(),
            },
            last_orphan_scan_ms: Mutex::new(None),
        }
    }

    /// Sweeps these directories of `file://` tiers at each orphan scan for
    /// the staging files of PUTs killed part-way, which the tiers' LIST
    /// never shows (see [`stratus_tier::staging`]).
    pub fn with_local_tier_dirs(mut self, dirs: Vec<std::path::PathBuf>) -> Self {
        self.ctx.local_tier_dirs = dirs;
        self
    }

    /// The name this compactor holds leases under.
    pub fn owner(&self) -> &str {
        &self.ctx.owner
    }

    /// One pass: every partition of every shard this compactor can lease,
    /// then garbage collection. Failures of single jobs are counted in the
    /// report and retried by the next pass; only a failure to read the topic
    /// list fails the pass.
    pub async fn run_pass(&self) -> Result<PassReport, CompactError> {
        let mut report = PassReport::default();
        let topics = self.ctx.log.list_topics().await?;
        let shards = self.ctx.config.lease_shards;
        // Start at a random shard so compactors starting together spread out.
        let first: u32 = rand::random_range(0..shards);
        for i in 0..shards {
            let shard = (first + i) % shards;
            let Some(guard) = self.lease(shard).await? else {
                continue;
            };
            report.shards_leased += 1;
            let partitions = partitions_of_shard(&topics, shard, shards);
            let work = self.compact_shard(partitions, &guard, &mut report);
            match renewal::while_renewing(&self.ctx, &guard, work).await {
                Ok(()) => {
                    lease::release(self.ctx.log.meta().as_ref(), self.ctx.log.keys(), &guard)
                        .await?;
                }
                Err(loss) => {
                    report.leases_lost += 1;
                    tracing::warn!(
                        shard,
                        owner = %self.ctx.owner,
                        "stopped compacting the shard: {loss}; its partitions are left to the lease's holder or the next pass"
                    );
                }
            }
        }
        if let Err(e) = self.collect(&mut report).await {
            tracing::warn!(error = %e, "garbage collection failed; the next pass retries it");
            report.errors.push(format!("garbage collection: {e}"));
        }
        Ok(report)
    }

    /// The jobs of one shard's partitions, under `guard` (renewed around
    /// this by [`renewal::while_renewing`]).
    async fn compact_shard(
        &self,
        partitions: Vec<Partition>,
        guard: &LeaseGuard,
        report: &mut PassReport,
    ) {
        for partition in partitions {
            report.partitions_visited += 1;
            if let Err(e) = job::compact_partition(&self.ctx, &partition, guard, report).await {
                tracing::warn!(
                    topic = %partition.topic.name,
                    partition = partition.partition,
                    error = %e,
                    "compaction job failed; the next pass retries it"
                );
                report.errors.push(format!(
                    "{}/{}: {e}",
                    partition.topic.name, partition.partition
                ));
            }
        }
    }

    async fn lease(&self, shard: u32) -> Result<Option<LeaseGuard>, CompactError> {
        Ok(lease::acquire(
            self.ctx.log.meta().as_ref(),
            self.ctx.log.keys(),
            shard,
            &self.ctx.owner,
            self.ctx.clock.now_ms(),
            self.ctx.config.lease_ttl.as_millis() as i64,
        )
        .await?)
    }

    async fn collect(&self, report: &mut PassReport) -> Result<(), CompactError> {
        let Some(guard) = self.lease(GC_SHARD).await? else {
            return Ok(());
        };
        gc::release_deleted_topics(&self.ctx, report).await?;
        gc::collect_garbage(&self.ctx, report).await?;
        let now_ms = self.ctx.clock.now_ms();
        let expiration = self.ctx.config.producer_expiration.as_millis() as i64;
        let expired = self
            .ctx
            .log
            .expire_producers(now_ms.saturating_sub(expiration))
            .await?;
        report.producers_expired += expired.producers;
        report.producer_states_expired += expired.partition_states;
        let scan_due = {
            let last = self
                .last_orphan_scan_ms
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            last.is_none_or(|last| {
                now_ms - last >= self.ctx.config.orphan_scan_interval.as_millis() as i64
            })
        };
        if scan_due {
            gc::delete_orphans(&self.ctx, report).await?;
            *self
                .last_orphan_scan_ms
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Some(now_ms);
        }
        lease::release(self.ctx.log.meta().as_ref(), self.ctx.log.keys(), &guard).await?;
        Ok(())
    }

    /// Runs a pass every `interval` until `shutdown` resolves.
    pub async fn run(&self, shutdown: impl std::future::Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut ticker = tokio::time::interval(self.ctx.config.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                _ = ticker.tick() => {}
            }
            let started = std::time::Instant::now();
            let pass = self
                .run_pass()
                .instrument(tracing::info_span!("compaction.pass"))
                .await;
            crate::telemetry::record_pass(pass.as_ref(), started.elapsed());
            match pass {
                Ok(report) => log_report(&report, started.elapsed()),
                Err(e) => {
                    tracing::warn!(error = %e, "compaction pass failed; retrying next interval")
                }
            }
        }
    }
}

fn log_report(report: &PassReport, took: std::time::Duration) {
    if !report.did_work() && report.errors.is_empty() {
        tracing::debug!(?took, "compaction pass: nothing due");
        return;
    }
    tracing::info!(
        took_ms = took.as_millis() as u64,
        wal_rewrites = report.wal_rewrites,
        merges = report.merges,
        cleanings = report.cleanings,
        retention_trims = report.retention_trims,
        segments_written = report.segments_written,
        bytes_read = report.bytes_read,
        objects_deleted = report.objects_deleted,
        orphans_deleted = report.orphans_deleted,
        errors = report.errors.len(),
        "compaction pass"
    );
}

fn partitions_of_shard(topics: &[TopicRecord], shard: u32, shards: u32) -> Vec<Partition> {
    topics
        .iter()
        .flat_map(|topic| (0..topic.partitions).map(move |partition| (topic, partition)))
        .filter(|(topic, partition)| shard_of(topic.id, *partition, shards) == shard)
        .map(|(topic, partition)| Partition {
            topic: topic.clone(),
            partition,
        })
        .collect()
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "compactor".to_owned())
}
