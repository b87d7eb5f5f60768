//! What every compaction step needs: the log (metadata, tiers, key layout),
//! the clock, the settings and this compactor's identity.

use std::path::PathBuf;
use std::sync::Arc;

use stratus_storage::log::Log;

use crate::clock::Clock;
use crate::config::CompactorConfig;

#[derive(Debug, Clone)]
pub(crate) struct Context {
    pub(crate) log: Arc<Log>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: CompactorConfig,
    /// Names this compactor in leases; unique per process.
    pub(crate) owner: String,
    /// Directories of `file://` tiers, swept for staging files of PUTs that
    /// never completed at each orphan scan.
    pub(crate) local_tier_dirs: Vec<PathBuf>,
}
