//! A simulated compactor: the compactor crate's passes on a loop, over the
//! stores through its link. A crash aborts the pass wherever it is.

use std::sync::Arc;
use std::time::Duration;

use stratus_compactor::{Compactor, CompactorConfig};
use stratus_storage::log::{Log, LogConfig};
use tokio::task::JoinHandle;

use crate::link::{Link, LinkedMeta, LinkedStore};
use crate::stores::Stores;

/// Settings scaled to a run of minutes: WAL chunks are merged after seconds,
/// unreferenced objects go after a grace period well past the longest read,
/// and orphans after the shortest grace the compactor allows.
pub fn compactor_config() -> CompactorConfig {
    CompactorConfig {
        interval: Duration::from_secs(2),
        lease_ttl: Duration::from_secs(10),
        // One shard: the compactor picks its first shard at random, and
        // with one there is nothing to pick.
        lease_shards: 1,
        segment_bytes: 16 * 1024,
        block_bytes: 2 * 1024,
        wal_max_age: Duration::from_secs(3),
        object_grace: Duration::from_secs(30),
        orphan_scan_interval: Duration::from_secs(30),
        orphan_grace: stratus_compactor::limits::MIN_ORPHAN_GRACE,
        ..CompactorConfig::default()
    }
}

/// A running compactor.
#[derive(Debug)]
pub struct CompactorHost {
    task: JoinHandle<()>,
}

impl CompactorHost {
    pub fn start(stores: &Stores, link: &Arc<Link>) -> Self {
        let meta = Arc::new(LinkedMeta::new(stores.meta_dyn(), Arc::clone(link)));
        let tier = Arc::new(LinkedStore::new(Arc::clone(&stores.tier), Arc::clone(link)));
        let log = Arc::new(Log::new(meta, tier, &LogConfig::default()));
        let config = compactor_config();
        let task = tokio::spawn(async move {
            let compactor = Compactor::new(log, config.clone());
            loop {
                // Errors are the compactor's to survive: the next pass retries.
                let _ = compactor.run_pass().await;
                tokio::time::sleep(config.interval).await;
            }
        });
        Self { task }
    }

    pub fn crash(self) {
        self.task.abort();
    }
}
