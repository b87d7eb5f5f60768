//! What one compaction pass did, for logs, the Lambda response and tests.

use serde::Serialize;
use stratus_storage::log::IndexEntry;

use crate::plan::RewriteKind;
use crate::rewrite::NewSegment;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PassReport {
    /// Shards whose lease this pass held.
    pub shards_leased: u64,
    pub partitions_visited: u64,
    pub wal_rewrites: u64,
    pub merges: u64,
    pub cleanings: u64,
    pub retention_trims: u64,
    pub segments_written: u64,
    pub segment_bytes_written: u64,
    pub bytes_read: u64,
    /// Index entries removed or replaced.
    pub entries_removed: u64,
    pub entries_written: u64,
    pub objects_deleted: u64,
    pub orphans_deleted: u64,
    /// Staging files of `file://` tiers left by PUTs that never completed.
    pub staging_files_deleted: u64,
    /// Idle idempotent producers expired, and their per-partition states.
    pub producers_expired: u64,
    pub producer_states_expired: u64,
    /// Swaps abandoned because the shard lease was no longer held (taken
    /// over, or expired).
    pub fenced: u64,
    /// Shards whose work stopped because a renewal found the lease lost.
    pub leases_lost: u64,
    /// Swaps abandoned because the index changed underneath.
    pub stale: u64,
    /// Partitions that used all `max_jobs_per_partition` jobs and may still
    /// have work due: the compaction backlog.
    pub partitions_left_due: u64,
    /// Jobs that failed; the next pass retries them.
    pub errors: Vec<String>,
}

impl PassReport {
    /// Whether the pass changed anything (rewrote, trimmed or deleted).
    pub fn did_work(&self) -> bool {
        self.wal_rewrites
            + self.merges
            + self.cleanings
            + self.retention_trims
            + self.objects_deleted
            + self.orphans_deleted
            + self.staging_files_deleted
            + self.producers_expired
            > 0
    }

    pub(crate) fn record_rewrite(
        &mut self,
        kind: RewriteKind,
        old: &[IndexEntry],
        segments: &[NewSegment],
    ) {
        match kind {
            RewriteKind::Wal => self.wal_rewrites += 1,
            RewriteKind::Merge => self.merges += 1,
            RewriteKind::Clean => self.cleanings += 1,
        }
        self.entries_removed += old.len() as u64;
        self.segments_written += segments.len() as u64;
        self.segment_bytes_written += segments.iter().map(|s| s.bytes).sum::<u64>();
        self.entries_written += segments.iter().map(|s| s.entries.len() as u64).sum::<u64>();
    }
}
