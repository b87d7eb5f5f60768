//! A bounded cache of chunk bytes, shared by every reader of a gateway.
//!
//! Appends put their chunks in (write-through), so consumers tailing a
//! partition read from memory instead of issuing a GET per fetch.

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use quick_cache::Weighter;
use quick_cache::sync::Cache;

use crate::limits::{CHUNK_CACHE_MAX_ITEMS, CHUNK_CACHE_MIN_ITEMS, TYPICAL_CHUNK_BYTES};

type ChunkKey = (String, u64);

#[derive(Debug, Clone, Copy)]
struct ByteWeighter;

impl Weighter<ChunkKey, Bytes> for ByteWeighter {
    fn weight(&self, key: &ChunkKey, value: &Bytes) -> u64 {
        (key.0.len() + value.len()) as u64
    }
}

/// Chunk bytes by (object key, byte offset), bounded by total bytes.
#[derive(Debug)]
pub struct ChunkCache {
    inner: Option<Cache<ChunkKey, Bytes, ByteWeighter>>,
    /// Lookups answered from memory and lookups that went to the store, for
    /// the hit-ratio metric (relaxed: each count is exact, a pair is not a cut).
    hits: AtomicU64,
    misses: AtomicU64,
}

impl ChunkCache {
    /// A cache holding at most `capacity_bytes`; 0 disables caching.
    pub fn new(capacity_bytes: u64) -> Self {
        let inner = (capacity_bytes > 0).then(|| {
            let items = (capacity_bytes / TYPICAL_CHUNK_BYTES)
                .clamp(CHUNK_CACHE_MIN_ITEMS, CHUNK_CACHE_MAX_ITEMS);
            Cache::with_weighter(items as usize, capacity_bytes, ByteWeighter)
        });
        Self {
            inner,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    pub fn get(&self, object_key: &str, offset: u64) -> Option<Bytes> {
        let found = self
            .inner
            .as_ref()
            .and_then(|cache| cache.get(&(object_key.to_owned(), offset)));
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Lookups so far: (hits, misses).
    pub fn stats(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    pub fn insert(&self, object_key: &str, offset: u64, chunk: Bytes) {
        if let Some(cache) = &self.inner {
            cache.insert((object_key.to_owned(), offset), chunk);
        }
    }

    /// Bytes currently held.
    pub fn weight(&self) -> u64 {
        self.inner.as_ref().map_or(0, Cache::weight)
    }
}
