//! Compactor settings: one typed struct, validated before anything starts.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use stratus_storage::log::COMMIT_DEADLINE;

/// Every knob of a compactor. Defaults suit `stratus dev` and small clusters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CompactorConfig {
    /// Time between compaction passes of a long-running compactor.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// How long a compactor owns a shard of partitions without renewing.
    /// Another compactor takes over an expired lease, bumping its generation,
    /// which fences every index swap of the previous owner.
    #[serde(with = "humantime_serde")]
    pub lease_ttl: Duration,
    /// Partitions are spread over this many shards, each leased as a unit.
    /// More shards spread the work over more compactors.
    pub lease_shards: u32,
    /// Target size of a segment object, in bytes.
    pub segment_bytes: u64,
    /// Size of a block within a segment: the unit of one ranged GET and of one
    /// index entry.
    pub block_bytes: u64,
    /// WAL chunks are merged into a segment once this old, even when there
    /// are fewer than `segment_bytes` of them.
    #[serde(with = "humantime_serde")]
    pub wal_max_age: Duration,
    /// This many adjacent small segments (under half of `segment_bytes`) are
    /// merged into one, so small segments stay few (size-tiered merging).
    pub merge_fanin: usize,
    /// An object no index entry references is deleted after this long, which
    /// must cover the longest read in flight.
    #[serde(with = "humantime_serde")]
    pub object_grace: Duration,
    /// An object that was written but never committed is deleted after this
    /// long. Must exceed the commit deadline (WAL objects older than it are
    /// never committed).
    #[serde(with = "humantime_serde")]
    pub orphan_grace: Duration,
    /// How often the tiers are listed to find orphans (a LIST per 1,000
    /// objects costs money; orphans are rare).
    #[serde(with = "humantime_serde")]
    pub orphan_scan_interval: Duration,
    /// zstd level for batches key compaction re-encodes.
    pub zstd_level: i32,
    /// Most index swaps one partition gets per pass, so one busy partition
    /// cannot starve the others.
    pub max_jobs_per_partition: usize,
    /// An idempotent producer that has not written (nor re-initialised) for
    /// this long loses its id, epoch and per-partition sequence state, as
    /// Kafka's `transactional.id.expiration.ms` (7 days by default). It must
    /// then start a new producer; records already written are untouched.
    #[serde(with = "humantime_serde")]
    pub producer_expiration: Duration,
}

impl Default for CompactorConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(10),
            lease_ttl: Duration::from_secs(60),
            lease_shards: 16,
            segment_bytes: 64 * 1024 * 1024,
            block_bytes: 1024 * 1024,
            wal_max_age: Duration::from_secs(30),
            merge_fanin: 4,
            object_grace: Duration::from_secs(10 * 60),
            orphan_grace: Duration::from_secs(60 * 60),
            orphan_scan_interval: Duration::from_secs(15 * 60),
            zstd_level: 3,
            max_jobs_per_partition: 16,
            producer_expiration: Duration::from_secs(7 * 24 * 60 * 60),
        }
    }
}

/// A setting out of range, named so the fix is obvious.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid setting `compactor.{setting}` = {value}: {expected}")]
pub struct InvalidCompactorSetting {
    pub setting: &'static str,
    pub value: String,
    pub expected: String,
}

impl CompactorConfig {
    /// Checks every setting, naming the first that is out of range.
    pub fn validate(&self) -> Result<(), InvalidCompactorSetting> {
        let fail = |setting, value: String, expected: String| {
            Err(InvalidCompactorSetting {
                setting,
                value,
                expected,
            })
        };
        if self.interval.is_zero() {
            return fail(
                "interval",
                "0s".into(),
                "a positive duration such as 10s".into(),
            );
        }
        if self.lease_ttl < Duration::from_secs(1) {
            return fail(
                "lease_ttl",
                format!("{:?}", self.lease_ttl),
                "at least 1s (a job must finish or renew within it)".into(),
            );
        }
        if !(1..=4096).contains(&self.lease_shards) {
            return fail(
                "lease_shards",
                self.lease_shards.to_string(),
                "between 1 and 4096".into(),
            );
        }
        if !(1024..=4 * 1024 * 1024 * 1024).contains(&self.segment_bytes) {
            return fail(
                "segment_bytes",
                self.segment_bytes.to_string(),
                "between 1 KiB and 4 GiB".into(),
            );
        }
        if self.block_bytes == 0 || self.block_bytes > self.segment_bytes {
            return fail(
                "block_bytes",
                self.block_bytes.to_string(),
                format!("between 1 and segment_bytes ({})", self.segment_bytes),
            );
        }
        // Shorter would expire producers between two retries of one batch.
        if self.producer_expiration < Duration::from_secs(60) {
            return fail(
                "producer_expiration",
                format!("{:?}", self.producer_expiration),
                "at least 1m (7d, Kafka's default, suits most clusters)".into(),
            );
        }
        if self.merge_fanin < 2 {
            return fail(
                "merge_fanin",
                self.merge_fanin.to_string(),
                "at least 2".into(),
            );
        }
        let minimum_orphan_grace = COMMIT_DEADLINE * 2;
        if self.orphan_grace < minimum_orphan_grace {
            return fail(
                "orphan_grace",
                format!("{:?}", self.orphan_grace),
                format!(
                    "at least {minimum_orphan_grace:?}: twice the commit deadline, so a slow \
                     gateway's object is never deleted before it could commit"
                ),
            );
        }
        if !(-7..=22).contains(&self.zstd_level) {
            return fail(
                "zstd_level",
                self.zstd_level.to_string(),
                "between -7 and 22".into(),
            );
        }
        if self.max_jobs_per_partition == 0 {
            return fail("max_jobs_per_partition", "0".into(), "at least 1".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        CompactorConfig::default().validate().unwrap();
    }

    #[test]
    fn errors_name_the_setting() {
        let config = CompactorConfig {
            orphan_grace: Duration::from_secs(1),
            ..CompactorConfig::default()
        };
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("compactor.orphan_grace"), "{err}");
    }
}
