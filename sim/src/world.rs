//! One simulated run: builds the stores and hosts of a seed, lets producers,
//! group members and the nemesis loose for the active period, heals
//! everything, lets the compactors run through the quiet period, then audits
//! the stores and checks the history.

use std::sync::Arc;
use std::time::Duration;

use stratus_meta::faulty::FaultCounts;
use stratus_storage::log::{Log, LogConfig};
use stratus_storage::topic::TopicConfig;
use stratus_tier::faults::FaultStats;
use tokio::time::Instant;

use crate::audit::audit;
use crate::checker::check;
use crate::cluster::Cluster;
use crate::config::{PlantedBug, SimConfig};
use crate::history::{Event, Fnv, History, trace_hash};
use crate::nemesis::{Members, NemesisCounts, run_nemesis};
use crate::producer::run_producer;
use crate::stores::Stores;

/// Virtual time when every run starts: 2026-01-01T00:00:00Z.
pub const EPOCH_MS: i64 = 1_767_225_600_000;
/// The topic every run writes.
pub const TOPIC: &str = "sim";
/// How long group members keep consuming after everything healed.
const DRAIN: Duration = Duration::from_secs(10);

/// What one run did and found.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub config: SimConfig,
    /// Hash of the whole history and of every fault drawn: equal for two
    /// runs exactly when they did the same thing.
    pub trace_hash: u64,
    pub events: usize,
    pub acked_batches: usize,
    pub failed_produces: usize,
    pub deliveries: usize,
    pub nemesis: NemesisCounts,
    pub tier_faults: FaultStats,
    pub meta_faults: FaultCounts,
    pub violations: Vec<String>,
    /// Real time the run took.
    pub wall: Duration,
}

impl RunReport {
    /// The command that runs this seed again, the same way.
    pub fn replay_command(&self) -> String {
        replay_command(self.config.seed, self.config.bug)
    }

    /// One line: what the run met.
    pub fn summary(&self) -> String {
        let t = self.tier_faults;
        let m = self.meta_faults;
        let n = self.nemesis;
        format!(
            "seed {}: {} gateways, {} compactors, {} producers, {} members, {} partitions; \
             {} acked batches, {} failed produces, {} deliveries; nemesis: {} gateway crashes, \
             {} compactor crashes, {} member kills, {} partitions; object store: {} calls, \
             {} errors, {} hangs; metadata: {} conflicts, {} unknown (committed), \
             {} unknown (not committed), {} transient, {} delays; trace {:016x}; {:?}",
            self.config.seed,
            self.config.gateways,
            self.config.compactors,
            self.config.producers,
            self.config.members,
            self.config.partitions,
            self.acked_batches,
            self.failed_produces,
            self.deliveries,
            n.gateway_crashes,
            n.compactor_crashes,
            n.member_kills,
            n.partitions,
            t.calls,
            t.errors,
            t.hangs,
            m.conflicts,
            m.unknown_committed,
            m.unknown_not_committed,
            m.transient,
            m.delays,
            self.trace_hash,
            self.wall,
        )
    }
}

/// The command that replays `seed` (with `bug` planted, if any).
pub fn replay_command(seed: u64, bug: Option<PlantedBug>) -> String {
    let bug = match bug {
        Some(PlantedBug::AckBeforeCommit) => " STRATUS_SIM_BUG=ack-before-commit",
        None => "",
    };
    format!(
        "STRATUS_SIM_SEED={seed}{bug} cargo test -p stratus-sim --test sim -- replay --nocapture"
    )
}

/// Runs `config` to the end on a fresh current-thread runtime with paused
/// time: every task of the run shares one thread and one virtual clock, so
/// the same config does the same thing.
pub fn run(config: SimConfig) -> RunReport {
    let started = std::time::Instant::now();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime builds");
    let mut report = runtime.block_on(simulate(config));
    report.wall = started.elapsed();
    report
}

async fn simulate(config: SimConfig) -> RunReport {
    let _clock = stratus_storage::ids::install_sim_clock(EPOCH_MS, config.seed);
    let _jitter = stratus_meta::faulty::seed_retry_jitter(config.seed);
    let stores = Stores::new(&config);
    let setup = Log::new(
        Arc::new(stores.raw_meta.clone()),
        Arc::clone(&stores.raw_tier),
        &LogConfig::default(),
    );
    let topic = setup
        .create_topic(TOPIC, config.partitions, TopicConfig::default())
        .await
        .expect("the topic is created on fault-free stores");
    let history = History::new();
    let cluster = Arc::new(Cluster::new(config.clone(), stores, topic, history.clone()));
    for i in 0..config.gateways {
        cluster.start_gateway(i);
    }
    for i in 0..config.compactors {
        cluster.start_compactor(i);
    }
    let active_end = Instant::now() + config.active;
    let producers: Vec<_> = (0..config.producers)
        .map(|i| tokio::spawn(run_producer(Arc::clone(&cluster), i, active_end)))
        .collect();
    let members = Members::start(&cluster);
    let nemesis = tokio::spawn(run_nemesis(
        Arc::clone(&cluster),
        Arc::clone(&members),
        active_end,
    ));
    for producer in producers {
        let _ = producer.await;
    }
    let nemesis = nemesis.await.unwrap_or_default();
    cluster.heal_all();
    tokio::time::sleep(DRAIN).await;
    members.stop_all();
    history.record(Event::Nemesis("members stopped; compactors alone".into()));
    tokio::time::sleep(config.quiet).await;
    cluster.crash_all();
    let end = audit(&cluster.stores, &cluster.topic).await;
    let entries = history.entries();
    let violations = check(&entries, &end);
    let tier_faults = cluster.stores.tier_faults();
    let meta_faults = cluster.stores.meta_faults();
    let mut hash = Fnv(trace_hash(&entries));
    hash.write(&cluster.stores.meta.faults().fingerprint().to_le_bytes());
    hash.write(format!("{tier_faults:?}{end:?}").as_bytes());
    let count = |f: fn(&Event) -> bool| entries.iter().filter(|e| f(&e.event)).count();
    RunReport {
        config,
        trace_hash: hash.0,
        events: entries.len(),
        acked_batches: count(|e| matches!(e, Event::Acked { .. })),
        failed_produces: count(|e| matches!(e, Event::ProduceFailed { .. })),
        deliveries: count(|e| matches!(e, Event::Delivered { .. })),
        nemesis,
        tier_faults,
        meta_faults,
        violations,
        wall: Duration::ZERO,
    }
}
