//! The shape of one simulated run, all drawn from its seed: how many hosts
//! of each kind, how long it runs and how hard each store misbehaves.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A deliberately broken mode, to prove the checker catches what it claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlantedBug {
    /// Gateways acknowledge a flush with offsets predicted from the
    /// partition head right after its WAL object is written, before the
    /// offset transaction commits (which may then fail, or give other
    /// offsets when another gateway committed first).
    AckBeforeCommit,
}

/// Rates of object-store faults (see `stratus_tier::FaultStore`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TierFaults {
    /// Of WAL and segment PUTs: the share failing before the store sees them
    /// (a 503 or 429 the caller's retries may absorb).
    pub put_error: f64,
    /// Of PUTs: the share hanging past the call timeout after the object
    /// landed (a lost acknowledgement).
    pub put_lost_ack: f64,
    /// Of GETs, HEADs, LISTs and DELETEs: the share failing.
    pub other_error: f64,
    /// Of GETs: the share hanging past the call timeout.
    pub get_timeout: f64,
    /// Most latency added to a call.
    pub max_latency: Duration,
}

/// Rates of metadata faults (see `stratus_meta::faulty::FaultConfig`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetaFaults {
    pub conflict: f64,
    pub unknown_committed: f64,
    pub unknown_not_committed: f64,
    pub transient: f64,
    pub delay: f64,
    pub max_delay: Duration,
}

/// Everything one run does, derived from [`SimConfig::from_seed`].
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    pub seed: u64,
    pub gateways: usize,
    pub compactors: usize,
    pub producers: usize,
    /// Of the producers, how many are idempotent (the first ones).
    pub idempotent_producers: usize,
    pub members: usize,
    pub partitions: u32,
    /// Producers and the nemesis act this long.
    pub active: Duration,
    /// Then every fault heals and the compactors (only) run this long, past
    /// the orphan grace period, so garbage collection meets every object.
    pub quiet: Duration,
    /// Mean time between two nemesis actions.
    pub nemesis_every: Duration,
    pub tier: TierFaults,
    pub meta: MetaFaults,
    pub bug: Option<PlantedBug>,
}

impl SimConfig {
    /// The run of `seed`: same seed, same run.
    pub fn from_seed(seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed ^ 0x5354_5241_5455_5321);
        let producers = rng.random_range(2..=4);
        Self {
            seed,
            gateways: rng.random_range(1..=3),
            compactors: rng.random_range(1..=2),
            producers,
            idempotent_producers: rng.random_range(1..=producers),
            members: rng.random_range(1..=3),
            partitions: rng.random_range(1..=4),
            active: Duration::from_secs(20),
            quiet: Duration::from_secs(300),
            nemesis_every: Duration::from_millis(rng.random_range(700..=3000)),
            tier: TierFaults {
                put_error: rng.random_range(0.0..0.15),
                put_lost_ack: rng.random_range(0.0..0.05),
                other_error: rng.random_range(0.0..0.08),
                get_timeout: rng.random_range(0.0..0.02),
                max_latency: Duration::from_millis(rng.random_range(1..=200)),
            },
            meta: MetaFaults {
                conflict: rng.random_range(0.0..0.10),
                unknown_committed: rng.random_range(0.0..0.05),
                unknown_not_committed: rng.random_range(0.0..0.05),
                transient: rng.random_range(0.0..0.05),
                delay: rng.random_range(0.0..0.5),
                max_delay: Duration::from_millis(rng.random_range(1..=50)),
            },
            bug: None,
        }
    }

    /// The same run with `bug` planted.
    pub fn with_bug(mut self, bug: PlantedBug) -> Self {
        self.bug = Some(bug);
        self
    }
}
