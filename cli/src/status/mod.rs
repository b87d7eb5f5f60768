//! `stratus status`: a terminal view of a running gateway from its
//! Prometheus `/metrics` endpoint. Scrapes twice, `--interval` apart, and
//! prints the rates and latency percentiles of that window; refreshes until
//! Ctrl-C, or prints once with `--once` (for scripts).

mod scrape;

use std::fmt::Write as _;
use std::time::Duration;

use scrape::{Scrape, fetch, quantile};

use crate::limits::{self, STATUS_INTERVAL, STATUS_INTERVALS};

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct StatusArgs {
    /// The gateway's metrics endpoint (`stratus dev` prints it).
    #[arg(
        long,
        env = "STRATUS_METRICS",
        default_value = "http://127.0.0.1:7401/metrics"
    )]
    metrics: String,
    /// Window between the two scrapes a view is computed from, e.g. `2s`.
    #[arg(long, default_value = limits::flag_default(STATUS_INTERVAL), value_parser = humantime::parse_duration)]
    interval: Duration,
    /// Print one view and exit.
    #[arg(long)]
    once: bool,
}

pub(crate) async fn run(args: StatusArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        STATUS_INTERVALS.contains(&args.interval),
        "--interval {:?} is out of range; use between {} and {}, e.g. {}",
        args.interval,
        limits::flag_default(*STATUS_INTERVALS.start()),
        limits::flag_default(*STATUS_INTERVALS.end()),
        limits::flag_default(STATUS_INTERVAL)
    );
    let clear = !args.once && std::io::IsTerminal::is_terminal(&std::io::stdout());
    let mut before = fetch(&args.metrics).await?;
    loop {
        tokio::select! {
            () = tokio::time::sleep(args.interval) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
        let after = fetch(&args.metrics).await?;
        let view = render(&args.metrics, &before, &after, args.interval);
        if clear {
            // Clear the screen and go home, like `watch`.
            print!("\x1b[2J\x1b[H");
        }
        println!("{view}");
        if args.once {
            return Ok(());
        }
        before = after;
    }
}

/// Rate of counter `name` (with labels `with`) per second over the window.
fn rate(name: &str, with: &[(&str, &str)], before: &Scrape, after: &Scrape, secs: f64) -> f64 {
    (after.sum(name, with) - before.sum(name, with)).max(0.0) / secs
}

fn millis(seconds: Option<f64>) -> String {
    seconds.map_or_else(|| "-".to_owned(), |s| format!("{:.1} ms", s * 1000.0))
}

fn percentiles(name: &str, before: &Scrape, after: &Scrape) -> String {
    let (b, a) = (before.buckets(name), after.buckets(name));
    format!(
        "p50 {:>9}  p99 {:>9}  p99.9 {:>9}",
        millis(quantile(0.5, &b, &a)),
        millis(quantile(0.99, &b, &a)),
        millis(quantile(0.999, &b, &a))
    )
}

/// Error rates by kind, e.g. `not_found 0.5/s`, or `none`.
fn errors(name: &str, before: &Scrape, after: &Scrape, secs: f64) -> String {
    let mut kinds: Vec<String> = after
        .matching(name, &[])
        .filter_map(|s| s.labels.get("kind").cloned())
        .collect();
    kinds.sort();
    kinds.dedup();
    let parts: Vec<String> = kinds
        .iter()
        .map(|kind| (kind, rate(name, &[("kind", kind)], before, after, secs)))
        .filter(|(_, r)| *r > 0.0)
        .map(|(kind, r)| format!("{kind} {r:.1}/s"))
        .collect();
    if parts.is_empty() {
        "none".to_owned()
    } else {
        parts.join(", ")
    }
}

fn mb(bytes_per_sec: f64) -> f64 {
    bytes_per_sec / 1_000_000.0
}

/// The view of one window.
fn render(url: &str, before: &Scrape, after: &Scrape, window: Duration) -> String {
    let secs = window.as_secs_f64();
    let r = |name: &str, with: &[(&str, &str)]| rate(name, with, before, after, secs);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "stratus status  {url}  (last {})",
        humantime::format_duration(window)
    );
    let _ = writeln!(
        out,
        "produce  {:>10.0} records/s  {:>8.2} MB/s  {:>8.1} calls/s",
        r("stratus_produce_records_total", &[]),
        mb(r("stratus_produce_bytes_total", &[])),
        r("stratus_produce_requests_total", &[("outcome", "ok")]),
    );
    let _ = writeln!(
        out,
        "fetch    {:>10.0} records/s  {:>8.2} MB/s  {:>8.1} calls/s",
        r("stratus_fetch_records_total", &[]),
        mb(r("stratus_fetch_bytes_total", &[])),
        r("stratus_fetch_requests_total", &[("outcome", "ok")]),
    );
    let _ = writeln!(
        out,
        "ack      {}",
        percentiles("stratus_produce_ack_seconds", before, after)
    );
    let _ = writeln!(
        out,
        "wal put  {}",
        percentiles("stratus_wal_put_seconds", before, after)
    );
    let _ = writeln!(
        out,
        "commit   {}",
        percentiles("stratus_metadata_commit_seconds", before, after)
    );
    let _ = writeln!(
        out,
        "errors   produce: {}; fetch: {}; failed flushes {:.1}/s",
        errors("stratus_produce_errors_total", before, after, secs),
        errors("stratus_fetch_errors_total", before, after, secs),
        r("stratus_flush_errors_total", &[]),
    );
    let inflight = after.sum("stratus_inflight_bytes", &[]);
    let limit = after.sum("stratus_inflight_limit_bytes", &[]);
    let _ = writeln!(
        out,
        "inflight {:>8.2} MB of {:.0} MB ({:.0}%)",
        inflight / 1e6,
        limit / 1e6,
        if limit > 0.0 {
            100.0 * inflight / limit
        } else {
            0.0
        }
    );
    let _ = write!(
        out,
        "storage  {:.1} object-store requests/s ({:.1} PUT/s), metadata retries {:.1}/s",
        r("stratus_object_store_requests_total", &[]),
        r(
            "stratus_object_store_requests_total",
            &[("operation", "put")]
        ),
        r("stratus_metadata_retries_total", &[]),
    );
    let _ = write!(out, "\nlag      {}", group_lag(after));
    out
}

/// Total lag per consumer group, largest first, e.g. `billing 1200, audit 0`.
fn group_lag(scrape: &Scrape) -> String {
    let mut groups: Vec<String> = scrape
        .matching("stratus_group_lag", &[])
        .filter_map(|s| s.labels.get("group").cloned())
        .collect();
    groups.sort();
    groups.dedup();
    let mut lags: Vec<(String, f64)> = groups
        .into_iter()
        .map(|group| {
            let lag = scrape.sum("stratus_group_lag", &[("group", &group)]);
            (group, lag)
        })
        .collect();
    lags.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    if lags.is_empty() {
        return "no consumer group has committed offsets".to_owned();
    }
    lags.iter()
        .map(|(group, lag)| format!("{group} {lag:.0}"))
        .collect::<Vec<_>>()
        .join(", ")
}
