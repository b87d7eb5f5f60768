//! Every bound of the compactor, in one table: the defaults of
//! [`crate::CompactorConfig`] (operators set their own under `[compactor]`),
//! the ranges its `validate` accepts, and the fixed batch sizes of the jobs
//! and of garbage collection. The tests at the bottom check how the bounds
//! relate, to each other and to the commit deadline of the write path and the
//! metadata store's and the tiers' limits (the config's own tests check that
//! its defaults validate). This module imports nothing of the crate, so every
//! other module may import it.

use std::ops::RangeInclusive;
use std::time::Duration;

use stratus_storage::log::COMMIT_DEADLINE;

// `CompactorConfig` defaults.

/// Time between passes (`interval`): WAL chunks older than `wal_max_age`
/// wait at most this long more for a segment.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);
/// How long a shard lease lasts without renewal (`lease_ttl`): a compactor
/// that dies holds its shards this long at most.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(60);
/// Shards the partitions are spread over (`lease_shards`): enough for a
/// handful of compactors to share the work.
pub const DEFAULT_LEASE_SHARDS: u32 = 16;
/// Target segment size (`segment_bytes`): large enough that a segment costs
/// one PUT per 64 MiB, small enough to build in memory.
pub const DEFAULT_SEGMENT_BYTES: u64 = 64 * 1024 * 1024;
/// Block size within a segment (`block_bytes`): the unit of one ranged GET
/// and one index entry.
pub const DEFAULT_BLOCK_BYTES: u64 = 1024 * 1024;
/// Age at which WAL chunks become a segment even when fewer than
/// `segment_bytes` (`wal_max_age`).
pub const DEFAULT_WAL_MAX_AGE: Duration = Duration::from_secs(30);
/// Small segments merged at once (`merge_fanin`).
pub const DEFAULT_MERGE_FANIN: usize = 4;
/// How long an unreferenced object stays (`object_grace`): it must cover the
/// longest read in flight, an index lookup followed by a ranged GET with
/// all its retries.
pub const DEFAULT_OBJECT_GRACE: Duration = Duration::from_secs(10 * 60);
/// How long an object written but never committed stays (`orphan_grace`).
pub const DEFAULT_ORPHAN_GRACE: Duration = Duration::from_secs(60 * 60);
/// How often the tiers are listed for orphans (`orphan_scan_interval`): a
/// LIST per 1,000 objects costs money, and orphans are rare.
pub const DEFAULT_ORPHAN_SCAN_INTERVAL: Duration = Duration::from_secs(15 * 60);
/// zstd level of batches key compaction re-encodes (`zstd_level`).
pub const DEFAULT_ZSTD_LEVEL: i32 = 3;
/// Index swaps per partition per pass (`max_jobs_per_partition`).
pub const DEFAULT_MAX_JOBS_PER_PARTITION: usize = 16;
/// Idle time after which an idempotent producer expires
/// (`producer_expiration`): Kafka's `transactional.id.expiration.ms`.
pub const DEFAULT_PRODUCER_EXPIRATION: Duration = Duration::from_secs(7 * 24 * 60 * 60);

// What `CompactorConfig::validate` accepts.

/// Shortest `lease_ttl`: a job must finish or renew within it.
pub const MIN_LEASE_TTL: Duration = Duration::from_secs(1);
/// Most `lease_shards`: every pass tries each shard's lease once.
pub const MAX_LEASE_SHARDS: u32 = 4096;
/// Smallest and largest `segment_bytes`: a segment is built in memory.
pub const MIN_SEGMENT_BYTES: u64 = 1024;
pub const MAX_SEGMENT_BYTES: u64 = 4 * 1024 * 1024 * 1024;
/// Fewest segments a merge joins.
pub const MIN_MERGE_FANIN: usize = 2;
/// Shortest `producer_expiration`: shorter would expire producers between
/// two retries of one batch.
pub const MIN_PRODUCER_EXPIRATION: Duration = Duration::from_secs(60);
/// Shortest `orphan_grace`: twice the commit deadline, so a slow gateway's
/// WAL object (or a slow swap's segment) is never deleted before it could be
/// committed.
pub const MIN_ORPHAN_GRACE: Duration = COMMIT_DEADLINE.saturating_mul(2);
/// zstd levels `zstd_level` may take.
pub const ZSTD_LEVELS: RangeInclusive<i32> = -7..=22;

// Fixed bounds of the jobs and of garbage collection.

/// Most index entries one job reads: far more than compaction leaves behind,
/// and few enough for one metadata read.
pub(crate) const MAX_ENTRIES_PER_JOB: usize = 100_000;
/// Most index entries one WAL rewrite or retention trim replaces. Its swap
/// reads, clears and releases every one of them in one transaction (a few
/// hundred bytes each), so a backlog of small WAL chunks is compacted in
/// several swaps instead of one that exceeds the transaction size limit and
/// fails on every pass. (Key compaction rewrites a whole partition and is not
/// bounded by this.)
pub(crate) const MAX_ENTRIES_PER_SWAP: usize = 10_000;
/// Records one batch re-encoded by key compaction holds at most.
pub(crate) const CLEAN_BATCH_RECORDS: usize = 4096;
/// Payload bytes one batch re-encoded by key compaction holds at most (one
/// more record may take it past this).
pub(crate) const CLEAN_BATCH_BYTES: usize = 256 * 1024;
/// Garbage entries read per metadata read; each object is then deleted and
/// forgotten in a transaction of its own.
pub(crate) const GARBAGE_BATCH: usize = 1_000;
/// Index entries of a deleted topic released per transaction (well under the
/// metadata store's transaction size limit).
pub(crate) const RELEASE_BATCH: usize = 500;

#[cfg(test)]
mod tests {
    use stratus_meta::limits::MAX_TRANSACTION_BYTES;
    use stratus_storage::keys::KeySpace;
    use stratus_storage::limits::MAX_TOPIC_NAME_LEN;
    use stratus_storage::log::{IndexEntry, TierKind};
    use stratus_tier::RetryConfig;

    use super::*;

    #[test]
    fn nothing_is_deleted_that_could_still_be_committed_or_read() {
        // A gateway commits a WAL object, and a compactor swaps in a segment,
        // only before the commit deadline; an orphan goes only after twice it.
        assert_eq!(MIN_ORPHAN_GRACE, COMMIT_DEADLINE * 2);
        assert!(DEFAULT_ORPHAN_GRACE >= MIN_ORPHAN_GRACE);
        // A segment PUT that succeeds on its last attempt can still be swapped in.
        let call = RetryConfig::default().longest_call();
        assert!(call < COMMIT_DEADLINE, "{call:?}");
        // A reader that looked an entry up just before a swap finishes its
        // ranged GET, retries included, before the object is deleted.
        assert!(DEFAULT_OBJECT_GRACE > call, "{call:?}");
    }

    #[test]
    fn leases_and_shards() {
        assert!(DEFAULT_LEASE_TTL >= MIN_LEASE_TTL);
        // A lease outlives one object-store call that exhausts its retries,
        // so one slow call alone does not hand a shard to another compactor.
        assert!(DEFAULT_LEASE_TTL > RetryConfig::default().longest_call());
        const { assert!(DEFAULT_LEASE_SHARDS >= 1 && DEFAULT_LEASE_SHARDS <= MAX_LEASE_SHARDS) };
        // Garbage collection's lease never collides with a partition shard
        // (those are below `lease_shards`).
        const { assert!(crate::compactor::GC_SHARD > MAX_LEASE_SHARDS) };
    }

    #[test]
    fn segments_blocks_and_batches_nest() {
        const { assert!(MIN_SEGMENT_BYTES <= DEFAULT_SEGMENT_BYTES) };
        const { assert!(DEFAULT_SEGMENT_BYTES <= MAX_SEGMENT_BYTES) };
        const { assert!(DEFAULT_BLOCK_BYTES >= 1 && DEFAULT_BLOCK_BYTES <= DEFAULT_SEGMENT_BYTES) };
        const { assert!(DEFAULT_MERGE_FANIN >= MIN_MERGE_FANIN) };
        // A re-encoded batch is at most about a block, so cleaning does not
        // make blocks (the unit of a reader's GET) much larger than set.
        const { assert!(CLEAN_BATCH_BYTES as u64 <= DEFAULT_BLOCK_BYTES) };
        const { assert!(CLEAN_BATCH_RECORDS > 0 && CLEAN_BATCH_RECORDS <= i32::MAX as usize) };
        assert!(ZSTD_LEVELS.contains(&DEFAULT_ZSTD_LEVEL));
        const { assert!(DEFAULT_MAX_JOBS_PER_PARTITION >= 1) };
        assert!(DEFAULT_PRODUCER_EXPIRATION >= MIN_PRODUCER_EXPIRATION);
        assert!(!DEFAULT_INTERVAL.is_zero());
    }

    #[test]
    fn garbage_collection_batches_fit_in_one_transaction() {
        const { assert!(GARBAGE_BATCH > 0 && RELEASE_BATCH > 0) };
        // Releasing an entry reads and clears its index key, and for its
        // object (at worst one per entry) reads and sets the reference count
        // and sets a garbage marker. With the longest keys, under a cluster
        // name as long as a topic name, a batch stays under a quarter of the
        // transaction limit.
        let keys = KeySpace::new(&"c".repeat(MAX_TOPIC_NAME_LEN));
        let object = format!(
            "seg/{:032x}/{}/{}.seg",
            u128::MAX,
            u32::MAX,
            ulid::Ulid::nil()
        );
        let index = keys.index_entry(u128::MAX, u32::MAX, i64::MAX).len();
        let refs = keys.object_refs(&object).len();
        let garbage = keys.garbage(i64::MAX, &object).len();
        let per_entry = (2 * index + 1) + index + (2 * refs + 1) + (refs + 8) + garbage;
        let bytes = RELEASE_BATCH * per_entry;
        assert!(bytes <= MAX_TRANSACTION_BYTES / 4, "{bytes}");
    }

    #[test]
    fn a_swap_of_the_most_entries_fits_in_one_transaction() {
        const { assert!(MAX_ENTRIES_PER_SWAP > 0 && MAX_ENTRIES_PER_SWAP <= MAX_ENTRIES_PER_JOB) };
        // Per replaced entry (a WAL chunk, at worst in an object of its own):
        // the index key read (a conflict range) and cleared, its object's
        // reference count read and set, a garbage marker, and a time-index
        // key cleared. Per new block: its index entry, a time-index key.
        // Cluster names have no bound; this holds for names up to 64 bytes.
        let keys = KeySpace::new(&"c".repeat(64));
        let wal = format!("wal/{}.wal", ulid::Ulid::nil());
        let seg = format!(
            "seg/{:032x}/{}/{}.seg",
            u128::MAX,
            u32::MAX,
            ulid::Ulid::nil()
        );
        let index = keys.index_entry(u128::MAX, u32::MAX, i64::MAX).len();
        let time = keys
            .time_index_entry(u128::MAX, u32::MAX, i64::MAX, i64::MAX)
            .len();
        let refs = keys.object_refs(&wal).len();
        let garbage = keys.garbage(i64::MAX, &wal).len();
        let per_old = (2 * index + 1) + index + (2 * refs + 1) + (refs + 8) + garbage + time;
        let block = IndexEntry {
            tier: TierKind::Segment,
            object_key: seg,
            base_offset: i64::MAX,
            offset_count: u32::MAX,
            byte_offset: u64::MAX,
            byte_len: u32::MAX,
            first_timestamp_ms: i64::MAX,
            max_timestamp_ms: i64::MAX,
        };
        let per_new = index + block.encode().len() + time;
        let new_blocks = 2 * (DEFAULT_SEGMENT_BYTES / DEFAULT_BLOCK_BYTES) as usize;
        let bytes = MAX_ENTRIES_PER_SWAP * per_old + new_blocks * per_new;
        assert!(bytes <= MAX_TRANSACTION_BYTES, "{bytes}");
    }
}
