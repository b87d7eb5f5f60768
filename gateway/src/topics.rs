//! A short-lived cache of topic records, so a produce or fetch does not read
//! the topic from metadata on every call.
//!
//! Staleness is safe: appends re-check that the topic id still exists in the
//! same transaction that assigns offsets, and a stale entry is dropped when a
//! call finds its topic gone. The cache only ever holds what metadata said;
//! it never decides that a topic exists.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use stratus_storage::log::{Log, LogError};
use stratus_storage::topic::TopicRecord;

use crate::limits::MAX_CACHED_TOPICS;

#[derive(Debug)]
pub(crate) struct TopicCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Arc<TopicRecord>, Instant)>>,
}

impl TopicCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) async fn get(&self, log: &Log, name: &str) -> Result<Arc<TopicRecord>, LogError> {
        if let Some((topic, at)) = self.lock().get(name)
            && at.elapsed() < self.ttl
        {
            return Ok(Arc::clone(topic));
        }
        let topic = Arc::new(log.topic(name).await?);
        let mut entries = self.lock();
        if entries.len() >= MAX_CACHED_TOPICS {
            entries.clear();
        }
        entries.insert(name.to_owned(), (Arc::clone(&topic), Instant::now()));
        Ok(topic)
    }

    pub(crate) fn forget(&self, name: &str) {
        self.lock().remove(name);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Arc<TopicRecord>, Instant)>> {
        // A panic while holding this lock cannot leave the map inconsistent.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}
