//! The simulation as ordinary tests: a fixed set of seeds, a determinism
//! check, the replay of one seed and the proof that a planted bug is caught.
//!
//! - `STRATUS_SIM_SEEDS=2000 cargo test -p stratus-sim --release --test sim -- seeds --nocapture`
//!   runs seeds 0..2000 (or a range, `1000..2000`) instead of the fixed set.
//! - `STRATUS_SIM_SEED=1234 cargo test -p stratus-sim --test sim -- replay --nocapture`
//!   replays one seed (add `STRATUS_SIM_BUG=ack-before-commit` for a planted-bug run).

use std::ops::Range;

use stratus_sim::seeds::{from_env, parse_bug, parse_seed, parse_seeds};
use stratus_sim::{PlantedBug, RunReport, SimConfig, run};

/// The seeds every `cargo test` runs.
const CI_SEEDS: Range<u64> = 0..16;
/// The planted bug must be caught within this many seeds.
const PLANTED_BUG_WITHIN: u64 = 3;

fn env_or_exit<T>(result: Result<Option<T>, stratus_sim::seeds::SeedsError>) -> Option<T> {
    match result {
        Ok(value) => value,
        Err(e) => panic!("{e}"),
    }
}

fn failure_text(report: &RunReport) -> String {
    format!(
        "{}\n  violations:\n    {}\n  replay: {}",
        report.summary(),
        report.violations.join("\n    "),
        report.replay_command()
    )
}

#[test]
fn seeds() {
    let seeds = env_or_exit(from_env("STRATUS_SIM_SEEDS", parse_seeds)).unwrap_or(CI_SEEDS);
    let mut failures = Vec::new();
    let mut totals = [0u64; 8];
    let mut meta_kinds = stratus_meta::faulty::FaultCounts::default();
    for seed in seeds.clone() {
        let report = run(SimConfig::from_seed(seed));
        println!("{}", report.summary());
        let n = report.nemesis;
        let t = report.tier_faults;
        for (total, add) in totals.iter_mut().zip([
            n.gateway_crashes,
            n.compactor_crashes,
            n.member_kills,
            n.partitions,
            t.errors,
            t.hangs,
            report.acked_batches as u64,
            report.deliveries as u64,
        ]) {
            *total += add;
        }
        let m = report.meta_faults;
        meta_kinds.conflicts += m.conflicts;
        meta_kinds.unknown_committed += m.unknown_committed;
        meta_kinds.unknown_not_committed += m.unknown_not_committed;
        meta_kinds.transient += m.transient;
        meta_kinds.delays += m.delays;
        if !report.violations.is_empty() {
            failures.push(failure_text(&report));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} seeds broke a promise:\n{}",
        failures.len(),
        seeds.end - seeds.start,
        failures.join("\n")
    );
    // The runs really met every fault and really did work.
    let names = [
        "gateway crashes",
        "compactor crashes",
        "member kills",
        "network partitions",
        "object-store errors",
        "object-store hangs",
        "acknowledged batches",
        "deliveries",
    ];
    if seeds.end - seeds.start >= CI_SEEDS.end - CI_SEEDS.start {
        for (name, total) in names.iter().zip(totals) {
            assert!(total > 0, "no run had any {name}: {totals:?}");
        }
        assert!(
            meta_kinds.every_kind(),
            "a metadata fault kind never fired: {meta_kinds:?}"
        );
    }
}

#[test]
fn same_seed_same_trace() {
    for seed in [5, 11] {
        let first = run(SimConfig::from_seed(seed));
        let second = run(SimConfig::from_seed(seed));
        assert_eq!(
            (first.trace_hash, first.events),
            (second.trace_hash, second.events),
            "seed {seed} ran differently twice:\n{}\n{}\nreplay: {}",
            first.summary(),
            second.summary(),
            first.replay_command()
        );
        assert!(
            first.events > 100,
            "seed {seed} did almost nothing: {}",
            first.summary()
        );
    }
    let other = run(SimConfig::from_seed(6));
    let five = run(SimConfig::from_seed(5));
    assert_ne!(
        other.trace_hash, five.trace_hash,
        "two seeds gave one trace"
    );
}

#[test]
fn replay() {
    let seed = env_or_exit(from_env("STRATUS_SIM_SEED", parse_seed)).unwrap_or(0);
    let bug = env_or_exit(from_env("STRATUS_SIM_BUG", parse_bug)).flatten();
    let mut config = SimConfig::from_seed(seed);
    config.bug = bug;
    let report = run(config);
    println!("{}", report.summary());
    assert!(report.violations.is_empty(), "{}", failure_text(&report));
}

#[test]
fn planted_ack_before_commit_is_caught() {
    for seed in 0..PLANTED_BUG_WITHIN {
        let report = run(SimConfig::from_seed(seed).with_bug(PlantedBug::AckBeforeCommit));
        if !report.violations.is_empty() {
            println!(
                "caught at seed {seed} (of at most {PLANTED_BUG_WITHIN}): {}",
                report.violations[0]
            );
            return;
        }
    }
    panic!(
        "acknowledging before the offset commit went unnoticed for {PLANTED_BUG_WITHIN} seeds: \
         the checker misses lost or misplaced acknowledged records"
    );
}
