//! The in-process notifier behind [`crate::MetaStore::watch`] for the
//! embedded backends.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use bytes::Bytes;
use tokio::sync::watch;

use super::ranges::RangeSet;
use crate::Watch;
use crate::limits::WATCH_MAP_MIN_PRUNE_AT;

/// Watched keys with a counter each, bumped on every committed write.
#[derive(Debug)]
pub(crate) struct Watchers {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Ordered so a cleared range finds the watched keys inside it.
    senders: BTreeMap<Bytes, watch::Sender<u64>>,
    /// Prune keys nobody watches when the map reaches this size; doubling it
    /// after each prune keeps the cost amortised and the map within twice the
    /// live watchers.
    prune_at: usize,
}

impl Default for Watchers {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Inner {
                senders: BTreeMap::new(),
                prune_at: WATCH_MAP_MIN_PRUNE_AT,
            }),
        }
    }
}

impl Watchers {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every update under this lock leaves the map valid, so a panic while
        // it was held cannot have broken it.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn watch(&self, key: &[u8]) -> Watch {
        let mut inner = self.lock();
        if inner.senders.len() >= inner.prune_at {
            inner
                .senders
                .retain(|_, sender| sender.receiver_count() > 0);
            inner.prune_at = (inner.senders.len() * 2).max(WATCH_MAP_MIN_PRUNE_AT);
        }
        let receiver = match inner.senders.get(key) {
            Some(sender) => sender.subscribe(),
            None => {
                let (sender, receiver) = watch::channel(0);
                inner.senders.insert(Bytes::copy_from_slice(key), sender);
                receiver
            }
        };
        Watch::new(receiver)
    }

    /// Wakes every watcher of a key inside `writes`.
    pub(crate) fn notify(&self, writes: &RangeSet) {
        let inner = self.lock();
        if inner.senders.is_empty() {
            return;
        }
        for (begin, end) in writes.iter() {
            for (_, sender) in inner.senders.range(begin.clone()..end.clone()) {
                // `send_modify` updates even with no receivers left, unlike `send`.
                sender.send_modify(|count| *count = count.wrapping_add(1));
            }
        }
    }
}

impl Watchers {
    /// Wakes every watcher, for a backend that lost track of which keys
    /// were written (a waiter re-reads, so a spurious wakeup is safe).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn wake_all(&self) {
        let inner = self.lock();
        for sender in inner.senders.values() {
            sender.send_modify(|count| *count = count.wrapping_add(1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::occ::ranges::point;

    #[test]
    fn unwatched_keys_are_pruned() {
        let watchers = Watchers::default();
        for i in 0..(WATCH_MAP_MIN_PRUNE_AT * 3) {
            drop(watchers.watch(format!("key{i}").as_bytes()));
        }
        assert!(watchers.lock().senders.len() <= WATCH_MAP_MIN_PRUNE_AT);
        let live = watchers.watch(b"live");
        watchers.notify(&RangeSet::from_unsorted(vec![point(b"live")]));
        drop(live);
    }
}
