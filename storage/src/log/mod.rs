//! The partition log: topics (created, grown, reconfigured, deleted),
//! appends (one WAL object per flush plus one metadata transaction assigning
//! offsets), reads (index lookup, ranged GET, base-offset patch) and the log
//! start (moved by retention and DeleteRecords).

mod alter;
mod append;
mod cache;
mod catalog;
pub mod entry;
mod error;
mod log_start;
mod max_timestamp;
mod producer;
mod producer_expiry;
mod read;
mod read_batches;

use std::sync::Arc;

use object_store::ObjectStore;

use crate::keys::KeySpace;
use crate::limits;
use stratus_meta::{MetaStore, RetryPolicy};

pub use append::{
    AppendBatch, AppendOutcome, COMMIT_DEADLINE, WrittenObject, wal_object_written_ms,
};
pub use cache::ChunkCache;
pub use entry::{IndexEntry, PartitionHead, TierKind};
pub use error::LogError;
pub use log_start::DeleteRecordsTo;
pub use producer::{
    PRODUCER_WINDOW, ProducerBatch, ProducerPartitionState, SequenceCheck, WrittenBatch,
    sequence_add,
};
pub use producer_expiry::ProducerExpiry;
pub use read::{OffsetQuery, PartitionState, ReadResult};
pub use read_batches::BatchRead;

/// Settings of a [`Log`]; the defaults are in [`crate::limits`].
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// Name of the cluster; all its keys live under it.
    pub cluster: String,
    /// Bytes of chunk data kept in memory for readers.
    pub chunk_cache_bytes: u64,
    /// Most index entries one read visits.
    pub max_chunks_per_read: usize,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            cluster: "default".to_owned(),
            chunk_cache_bytes: limits::DEFAULT_CHUNK_CACHE_BYTES,
            max_chunks_per_read: limits::DEFAULT_MAX_CHUNKS_PER_READ,
        }
    }
}

/// The log of every partition of a cluster, over a metadata store and a WAL tier.
/// Cheap to share: clone the `Arc`.
#[derive(Debug)]
pub struct Log {
    meta: Arc<dyn MetaStore>,
    wal: Arc<dyn ObjectStore>,
    segments: Arc<dyn ObjectStore>,
    keys: KeySpace,
    cache: ChunkCache,
    retry: RetryPolicy,
    max_chunks_per_read: usize,
}

impl Log {
    /// A log whose segments live in the WAL tier too (under `seg/`); see
    /// [`Log::with_segment_tier`].
    pub fn new(meta: Arc<dyn MetaStore>, wal: Arc<dyn ObjectStore>, config: &LogConfig) -> Self {
        Self {
            meta,
            segments: wal.clone(),
            wal,
            keys: KeySpace::new(&config.cluster),
            cache: ChunkCache::new(config.chunk_cache_bytes),
            retry: RetryPolicy::default(),
            max_chunks_per_read: config.max_chunks_per_read.max(1),
        }
    }

    /// Reads segments (written by the compactor) from `segments` instead of
    /// the WAL tier: in AWS the WAL tier is S3 Express One Zone and segments
    /// live in S3 Standard, at a fraction of the storage price.
    pub fn with_segment_tier(mut self, segments: Arc<dyn ObjectStore>) -> Self {
        self.segments = segments;
        self
    }

    pub fn meta(&self) -> &Arc<dyn MetaStore> {
        &self.meta
    }

    pub fn wal_tier(&self) -> &Arc<dyn ObjectStore> {
        &self.wal
    }

    pub fn segment_tier(&self) -> &Arc<dyn ObjectStore> {
        &self.segments
    }

    /// The store holding objects of `tier`.
    pub fn tier(&self, tier: TierKind) -> &Arc<dyn ObjectStore> {
        match tier {
            TierKind::Wal => &self.wal,
            TierKind::Segment => &self.segments,
        }
    }

    pub fn keys(&self) -> &KeySpace {
        &self.keys
    }

    /// Chunk cache lookups so far: (hits, misses).
    pub fn cache_stats(&self) -> (u64, u64) {
        self.cache.stats()
    }

    /// Bytes the chunk cache holds.
    pub fn cache_weight(&self) -> u64 {
        self.cache.weight()
    }

    /// The key a long-polling reader watches to learn of new records.
    pub fn head_key(&self, topic_id: u128, partition: u32) -> Vec<u8> {
        self.keys.partition_head(topic_id, partition)
    }
}

pub use crate::ids::now_ms;
