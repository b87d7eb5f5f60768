//! Compactor settings: one typed struct, validated before anything starts.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::limits::{self, MIN_ORPHAN_GRACE};

/// Every knob of a compactor. Defaults suit `stratus dev` and small clusters;
/// they and the ranges [`CompactorConfig::validate`] accepts are in
/// [`crate::limits`].
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
            interval: limits::DEFAULT_INTERVAL,
            lease_ttl: limits::DEFAULT_LEASE_TTL,
            lease_shards: limits::DEFAULT_LEASE_SHARDS,
            segment_bytes: limits::DEFAULT_SEGMENT_BYTES,
            block_bytes: limits::DEFAULT_BLOCK_BYTES,
            wal_max_age: limits::DEFAULT_WAL_MAX_AGE,
            merge_fanin: limits::DEFAULT_MERGE_FANIN,
            object_grace: limits::DEFAULT_OBJECT_GRACE,
            orphan_grace: limits::DEFAULT_ORPHAN_GRACE,
            orphan_scan_interval: limits::DEFAULT_ORPHAN_SCAN_INTERVAL,
            zstd_level: limits::DEFAULT_ZSTD_LEVEL,
            max_jobs_per_partition: limits::DEFAULT_MAX_JOBS_PER_PARTITION,
            producer_expiration: limits::DEFAULT_PRODUCER_EXPIRATION,
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
        if self.lease_ttl < limits::MIN_LEASE_TTL {
            return fail(
                "lease_ttl",
                format!("{:?}", self.lease_ttl),
                "at least 1s (a job must finish or renew within it)".into(),
            );
        }
        if !(1..=limits::MAX_LEASE_SHARDS).contains(&self.lease_shards) {
            return fail(
                "lease_shards",
                self.lease_shards.to_string(),
                format!("between 1 and {}", limits::MAX_LEASE_SHARDS),
            );
        }
        if !(limits::MIN_SEGMENT_BYTES..=limits::MAX_SEGMENT_BYTES).contains(&self.segment_bytes) {
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
        if self.producer_expiration < limits::MIN_PRODUCER_EXPIRATION {
            return fail(
                "producer_expiration",
                format!("{:?}", self.producer_expiration),
                "at least 1m (7d, Kafka's default, suits most clusters)".into(),
            );
        }
        if self.merge_fanin < limits::MIN_MERGE_FANIN {
            return fail(
                "merge_fanin",
                self.merge_fanin.to_string(),
                format!("at least {}", limits::MIN_MERGE_FANIN),
            );
        }
        if self.orphan_grace < MIN_ORPHAN_GRACE {
            return fail(
                "orphan_grace",
                format!("{:?}", self.orphan_grace),
                format!(
                    "at least {MIN_ORPHAN_GRACE:?}: twice the commit deadline, so a slow \
                     gateway's object is never deleted before it could commit"
                ),
            );
        }
        if !limits::ZSTD_LEVELS.contains(&self.zstd_level) {
            return fail(
                "zstd_level",
                self.zstd_level.to_string(),
                format!(
                    "between {} and {}",
                    limits::ZSTD_LEVELS.start(),
                    limits::ZSTD_LEVELS.end()
                ),
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
