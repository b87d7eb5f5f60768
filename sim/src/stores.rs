//! The shared stores every host reaches: an in-memory object store under
//! seeded faults and retries, and an in-memory metadata store under seeded
//! faults. The raw stores underneath stay reachable, fault-free, for the
//! final audit.

use std::sync::Arc;
use std::time::Duration;

use object_store::ObjectStore;
use object_store::memory::InMemory;
use stratus_meta::MetaStore;
use stratus_meta::faulty::{FaultConfig as MetaFaultConfig, FaultCounts, FaultyMetaStore};
use stratus_meta::memory::MemoryMetaStore;
use stratus_tier::faults::FaultStats;
use stratus_tier::{
    FaultConfig, FaultRule, FaultStore, Latency, Operation, RetryConfig, RetryStore,
};

use crate::config::SimConfig;

/// How long an object-store call may take before the caller gives up.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// The stores of one run.
#[derive(Debug)]
pub struct Stores {
    /// The object store itself, without faults.
    pub raw_tier: Arc<dyn ObjectStore>,
    /// The metadata store itself, without faults.
    pub raw_meta: MemoryMetaStore,
    /// What hosts call: faults under retries with a call timeout, as the
    /// gateway's layered tier.
    pub tier: Arc<dyn ObjectStore>,
    faulty_tier: Arc<FaultStore<Arc<dyn ObjectStore>>>,
    /// What hosts call: faults on every transaction.
    pub meta: Arc<FaultyMetaStore<MemoryMetaStore>>,
}

impl Stores {
    pub fn new(config: &SimConfig) -> Self {
        let raw_tier: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let faulty_tier = Arc::new(FaultStore::new(Arc::clone(&raw_tier), tier_faults(config)));
        let retry = RetryConfig {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(500),
            call_timeout: CALL_TIMEOUT,
        };
        let tier: Arc<dyn ObjectStore> = Arc::new(RetryStore::with_seed(
            Arc::clone(&faulty_tier) as Arc<dyn ObjectStore>,
            retry,
            config.seed,
        ));
        let raw_meta = MemoryMetaStore::new();
        let m = config.meta;
        let meta = Arc::new(FaultyMetaStore::new(
            raw_meta.clone(),
            MetaFaultConfig {
                seed: config.seed,
                conflict: m.conflict,
                unknown_committed: m.unknown_committed,
                unknown_not_committed: m.unknown_not_committed,
                transient: m.transient,
                delay: m.delay,
                max_delay: m.max_delay,
            },
        ));
        Self {
            raw_tier,
            raw_meta,
            tier,
            faulty_tier,
            meta,
        }
    }

    /// The metadata store as hosts see it.
    pub fn meta_dyn(&self) -> Arc<dyn MetaStore> {
        Arc::clone(&self.meta) as Arc<dyn MetaStore>
    }

    /// Object-store faults injected so far.
    pub fn tier_faults(&self) -> FaultStats {
        self.faulty_tier.stats()
    }

    /// Metadata faults injected so far.
    pub fn meta_faults(&self) -> FaultCounts {
        self.meta.faults().counts()
    }
}

fn tier_faults(config: &SimConfig) -> FaultConfig {
    let t = config.tier;
    let latency = Latency::Uniform {
        min: Duration::ZERO,
        max: t.max_latency,
    };
    // Hangs outlast the call timeout, so the retry layer's timeout ends them.
    let hang = CALL_TIMEOUT * 2;
    FaultConfig {
        seed: config.seed,
        rules: vec![
            FaultRule {
                error_rate: t.put_error,
                timeout_rate: t.put_lost_ack,
                lost_ack: true,
                hang,
                latency,
                ..FaultRule::for_ops([Operation::Put])
            },
            FaultRule {
                error_rate: t.other_error,
                timeout_rate: t.get_timeout,
                hang,
                latency,
                ..FaultRule::for_ops([Operation::Get, Operation::Head])
            },
            FaultRule {
                error_rate: t.other_error,
                latency,
                ..FaultRule::for_ops([Operation::Delete, Operation::List])
            },
        ],
    }
}
