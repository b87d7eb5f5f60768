//! The results of a benchmark run: JSON for machines, a table for people.

use std::collections::BTreeMap;

use crate::cost::Cost;
use crate::runner::PhaseResult;
use crate::target::{ProcessStats, StoreRequests};
use crate::workload::Workload;

/// One workload on one driver.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunReport {
    pub workload: Workload,
    pub driver: String,
    pub durability: String,
    /// How the driver's producers and consumers were configured.
    pub client_settings: BTreeMap<String, String>,
    /// How the broker the tool started was configured (empty with `--server`).
    pub broker_settings: BTreeMap<String, String>,
    pub phases: Vec<PhaseResult>,
    pub records_acknowledged: u64,
    pub records_received_per_subscription: Vec<u64>,
    /// Every subscription received exactly what was acknowledged, with no errors.
    pub consistent: bool,
    pub consumer_error: Option<String>,
    /// The broker process, when the tool started it.
    pub broker: Option<ProcessStats>,
    pub object_store_requests: Option<StoreRequests>,
    pub costs: Vec<Cost>,
}

/// The whole run: every workload on every driver, and the machine.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub machine: String,
    pub runs: Vec<RunReport>,
}

/// `cores, memory` of this machine, for the record.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem_kib: u64 = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0);
    format!(
        "{cores} cores, {:.0} GiB memory, {}",
        mem_kib as f64 / (1u64 << 20) as f64,
        std::env::consts::ARCH
    )
}

fn ms(v: f64) -> String {
    format!("{v:.1}")
}

/// A Markdown table, one row per phase.
pub fn table(report: &Report) -> String {
    let mut out = String::new();
    out.push_str(&format!("machine: {}\n\n", report.machine));
    out.push_str("| driver | workload | phase | produce MB/s (rec/s) | consume MB/s | ack p50 / p95 / p99 / p99.9 ms | e2e p50 / p99 ms | broker CPU % | broker peak RSS MB | PUTs per GiB | $/GiB ingested (S3 Std / Express) | consistent |\n");
    out.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for run in &report.runs {
        let std = run.costs.first();
        let express = run.costs.get(1);
        for phase in &run.phases {
            out.push_str(&format!(
                "| {} | {} | {} | {:.1} ({:.0}) | {:.1} | {} / {} / {} / {} | {} / {} | {} | {} | {} | {} | {} |\n",
                run.driver,
                run.workload.name,
                phase.phase,
                phase.produce_mb_per_sec,
                phase.produce_records_per_sec,
                phase.consume_mb_per_sec,
                ms(phase.ack.p50_ms),
                ms(phase.ack.p95_ms),
                ms(phase.ack.p99_ms),
                ms(phase.ack.p999_ms),
                ms(phase.end_to_end.p50_ms),
                ms(phase.end_to_end.p99_ms),
                phase
                    .broker_cpu_percent
                    .map_or("-".into(), |c| format!("{c:.0}")),
                run.broker
                    .map_or("-".into(), |b| format!("{:.0}", b.peak_rss_bytes as f64 / 1e6)),
                std.map_or("-".into(), |c| format!("{:.0}", c.puts_per_gib_ingested)),
                match (std, express) {
                    (Some(s), Some(e)) => format!(
                        "{:.4} / {:.4}",
                        s.dollars_per_gib_ingested, e.dollars_per_gib_ingested
                    ),
                    _ => "-".into(),
                },
                if run.consistent { "yes" } else { "NO" },
            ));
        }
    }
    for run in &report.runs {
        if !run.consistent {
            out.push_str(&format!(
                "\n{} on {}: acknowledged {} records per topic, subscriptions received {:?}{}",
                run.workload.name,
                run.driver,
                run.records_acknowledged,
                run.records_received_per_subscription,
                run.consumer_error
                    .as_ref()
                    .map_or(String::new(), |e| format!("; consumer error: {e}")),
            ));
            for phase in &run.phases {
                if let Some(e) = &phase.first_error {
                    out.push_str(&format!("; {} errors, first: {e}", phase.errors));
                }
            }
            out.push('\n');
        }
    }
    out.push_str(&stages_table(report));
    let mut durability: Vec<(&str, &str)> = report
        .runs
        .iter()
        .map(|r| (r.driver.as_str(), r.durability.as_str()))
        .collect();
    durability.dedup();
    out.push('\n');
    for (driver, words) in durability {
        out.push_str(&format!("durability, {driver}: {words}\n"));
    }
    let mut settings: Vec<(&str, String)> = report
        .runs
        .iter()
        .map(|r| (r.driver.as_str(), settings_line(r)))
        .collect();
    settings.dedup();
    for (driver, line) in settings {
        out.push_str(&format!("settings, {driver}: {line}\n"));
    }
    out
}

/// Where acknowledged records waited, in the client and in the gateway:
/// one row per stage of every phase that has a breakdown; empty when none
/// has.
fn stages_table(report: &Report) -> String {
    let mut rows = String::new();
    let mut legend: Vec<(String, String)> = Vec::new();
    for run in &report.runs {
        for phase in &run.phases {
            for stage in &phase.stages {
                rows.push_str(&format!(
                    "| {} | {} | {} | {} {} | {} | {} | {} | {} |\n",
                    run.driver,
                    run.workload.name,
                    phase.phase,
                    stage.side,
                    stage.stage,
                    stage.count,
                    ms(stage.mean_ms),
                    ms(stage.p50_ms),
                    ms(stage.p99_ms),
                ));
                let entry = (stage.stage.clone(), stage.what.clone());
                if !legend.contains(&entry) {
                    legend.push(entry);
                }
            }
        }
    }
    if rows.is_empty() {
        return rows;
    }
    let mut out = String::from(
        "\nwhere acknowledged records waited, by stage (the SDK's counts and the gateway's \
         /metrics over the measured window; percentiles within histogram buckets):\n\n\
         | driver | workload | phase | stage | samples | mean ms | p50 ms | p99 ms |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    out.push_str(&rows);
    out.push('\n');
    for (stage, what) in legend {
        out.push_str(&format!("stage {stage}: {what}\n"));
    }
    out
}

/// The client's settings, then the broker's, as `key=value` pairs.
fn settings_line(run: &RunReport) -> String {
    let pairs = |map: &BTreeMap<String, String>| {
        map.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (
        run.client_settings.is_empty(),
        run.broker_settings.is_empty(),
    ) {
        (_, true) => format!("client: {}", pairs(&run.client_settings)),
        (true, false) => format!("broker: {}", pairs(&run.broker_settings)),
        (false, false) => format!(
            "client: {}; broker: {}",
            pairs(&run.client_settings),
            pairs(&run.broker_settings)
        ),
    }
}
