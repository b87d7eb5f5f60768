//! Where acknowledged records waited: in the Stratus SDK (filling a batch,
//! queued for an in-flight slot, the request) and inside the gateway (the
//! batcher queue, the WAL PUT, the wait for earlier commits, the commit),
//! from the SDK's own counts and the gateway's stage histograms
//! (`/metrics`), taken at the start and the end of a phase's measured
//! window.
//!
//! Only the difference of two scrapes is reported, so a gateway's earlier
//! phases and warm-up never leak into a phase's figures. Percentiles come
//! from the histogram buckets, interpolated within a bucket: they are as
//! coarse as the gateway's bucket bounds (0.5 ms to 30 s).

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Largest `/metrics` body read; a gateway's is tens of KiB.
const MAX_SCRAPE_BYTES: u64 = 16 << 20;
/// How long one scrape may take before the phase goes on without it.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(5);

/// The gateway histograms of the produce path, in the order a call meets
/// them, with what each measures.
pub const STAGES: &[(&str, &str)] = &[
    (
        "stratus_produce_queue_seconds",
        "batcher queue (per call: linger, and waits while every flush slot is busy)",
    ),
    ("stratus_wal_put_seconds", "WAL PUT (per flush)"),
    (
        "stratus_flush_commit_wait_seconds",
        "wait for earlier flushes' commits (per flush)",
    ),
    (
        "stratus_metadata_commit_seconds",
        "offset commit (per flush)",
    ),
    (
        "stratus_produce_batcher_seconds",
        "in the batcher, queue to acknowledgement (per call)",
    ),
    (
        "stratus_produce_ack_seconds",
        "in the gateway, request received to answered (per call)",
    ),
];

/// One stage over a phase's measured window.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StageLatency {
    /// `client` (the SDK) or `gateway`.
    pub side: String,
    pub stage: String,
    pub what: String,
    pub count: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// One histogram at one scrape: cumulative counts by upper bound (summed
/// over label sets), the sum and the count.
#[derive(Debug, Clone, Default)]
struct Histogram {
    buckets: BTreeMap<Bound, f64>,
    sum: f64,
    count: f64,
}

/// A bucket's upper bound, ordered (`+Inf` last).
#[derive(Debug, Clone, Copy)]
struct Bound(f64);

impl PartialEq for Bound {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Bound {}

impl PartialOrd for Bound {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Bound {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// Stage histograms at one moment, in the order a record meets them.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    side: String,
    stages: Vec<Stage>,
}

#[derive(Debug, Clone)]
struct Stage {
    name: String,
    what: String,
    histogram: Histogram,
}

/// Scrapes the gateway's `/metrics` at `url` (`http://host:port/metrics`).
pub async fn scrape(url: &str) -> anyhow::Result<Snapshot> {
    let body = tokio::time::timeout(SCRAPE_TIMEOUT, get(url))
        .await
        .with_context(|| format!("{url} did not answer within {SCRAPE_TIMEOUT:?}"))??;
    Ok(Snapshot::parse(&body))
}

/// A plain HTTP/1.1 GET: the endpoint answers with a length-delimited body
/// and closes the connection.
async fn get(url: &str) -> anyhow::Result<String> {
    let rest = url
        .strip_prefix("http://")
        .with_context(|| format!("metrics URL {url:?} must start with http://"))?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, "metrics"));
    let mut stream = TcpStream::connect(host)
        .await
        .with_context(|| format!("cannot connect to the gateway's /metrics at {host}"))?;
    let request = format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream
        .take(MAX_SCRAPE_BYTES)
        .read_to_end(&mut response)
        .await?;
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response
        .split_once("\r\n\r\n")
        .with_context(|| format!("{url} did not answer with HTTP"))?;
    let status = head.lines().next().unwrap_or_default();
    anyhow::ensure!(
        status.split_whitespace().nth(1) == Some("200"),
        "{url} answered {status:?}"
    );
    Ok(body.to_owned())
}

impl Snapshot {
    /// An empty snapshot of `side` (`client` or `gateway`).
    pub fn new(side: &str) -> Self {
        Self {
            side: side.to_owned(),
            stages: Vec::new(),
        }
    }

    /// Adds `counts` of one stage (`counts[i]` at most `bounds[i]` seconds,
    /// one more count for above every bound) to the stage called `name`.
    pub fn add(&mut self, name: &str, what: &str, bounds: &[f64], counts: &[u64], sum: f64) {
        let index = match self.stages.iter().position(|s| s.name == name) {
            Some(index) => index,
            None => {
                self.stages.push(Stage {
                    name: name.to_owned(),
                    what: what.to_owned(),
                    histogram: Histogram::default(),
                });
                self.stages.len() - 1
            }
        };
        let histogram = &mut self.stages[index].histogram;
        let mut cumulative = 0.0;
        let infinite = std::iter::once(&f64::INFINITY);
        for (bound, count) in bounds.iter().chain(infinite).zip(counts) {
            cumulative += *count as f64;
            *histogram.buckets.entry(Bound(*bound)).or_default() += cumulative;
        }
        histogram.sum += sum;
        histogram.count += cumulative;
    }

    /// Adds every stage of `other` to this one's of the same name.
    pub fn merge(&mut self, other: &Snapshot) {
        for stage in &other.stages {
            let index = match self.stages.iter().position(|s| s.name == stage.name) {
                Some(index) => index,
                None => {
                    self.stages.push(Stage {
                        histogram: Histogram::default(),
                        ..stage.clone()
                    });
                    self.stages.len() - 1
                }
            };
            let into = &mut self.stages[index].histogram;
            for (bound, cumulative) in &stage.histogram.buckets {
                *into.buckets.entry(*bound).or_default() += cumulative;
            }
            into.sum += stage.histogram.sum;
            into.count += stage.histogram.count;
        }
    }

    /// Reads the gateway's stage histograms out of a Prometheus text
    /// exposition; every other line is ignored.
    pub fn parse(text: &str) -> Self {
        let mut histograms: BTreeMap<String, Histogram> = BTreeMap::new();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(value) = value.trim().parse::<f64>() else {
                continue;
            };
            let (name, labels) = series.split_once('{').unwrap_or((series, ""));
            for (stage, _) in STAGES {
                let Some(suffix) = name.strip_prefix(stage) else {
                    continue;
                };
                let histogram = histograms.entry((*stage).to_owned()).or_default();
                match suffix {
                    "_bucket" => {
                        if let Some(bound) = le(labels) {
                            *histogram.buckets.entry(Bound(bound)).or_default() += value;
                        }
                    }
                    "_sum" => histogram.sum += value,
                    "_count" => histogram.count += value,
                    _ => {}
                }
            }
        }
        let stages = STAGES
            .iter()
            .filter_map(|(name, what)| {
                let histogram = histograms.remove(*name)?;
                Some(Stage {
                    name: name
                        .trim_start_matches("stratus_")
                        .trim_end_matches("_seconds")
                        .to_owned(),
                    what: (*what).to_owned(),
                    histogram,
                })
            })
            .collect();
        Self {
            side: "gateway".to_owned(),
            stages,
        }
    }

    /// Each stage's figures between `earlier` and this scrape; stages with
    /// nothing recorded in between are left out.
    pub fn since(&self, earlier: &Snapshot) -> Vec<StageLatency> {
        self.stages
            .iter()
            .filter_map(|stage| {
                let now = &stage.histogram;
                let before = earlier
                    .stages
                    .iter()
                    .find(|s| s.name == stage.name)
                    .map(|s| s.histogram.clone())
                    .unwrap_or_default();
                let count = now.count - before.count;
                if count < 1.0 {
                    return None;
                }
                let buckets: Vec<(f64, f64)> = now
                    .buckets
                    .iter()
                    .map(|(bound, cum)| {
                        let was = before.buckets.get(bound).copied().unwrap_or(0.0);
                        (bound.0, cum - was)
                    })
                    .collect();
                Some(StageLatency {
                    side: self.side.clone(),
                    stage: stage.name.clone(),
                    what: stage.what.clone(),
                    count: count as u64,
                    mean_ms: (now.sum - before.sum) / count * 1e3,
                    p50_ms: quantile(&buckets, count, 0.5) * 1e3,
                    p99_ms: quantile(&buckets, count, 0.99) * 1e3,
                })
            })
            .collect()
    }
}

/// The `le` label's bound.
fn le(labels: &str) -> Option<f64> {
    let start = labels.find("le=\"")? + 4;
    let end = labels[start..].find('"')? + start;
    match &labels[start..end] {
        "+Inf" => Some(f64::INFINITY),
        bound => bound.parse().ok(),
    }
}

/// The `q` quantile of cumulative `buckets` (upper bound, count at or below
/// it), interpolated linearly within its bucket; past the last finite bound
/// it is that bound.
fn quantile(buckets: &[(f64, f64)], count: f64, q: f64) -> f64 {
    let rank = q * count;
    let (mut lower, mut below) = (0.0, 0.0);
    for &(bound, cumulative) in buckets {
        if cumulative >= rank {
            if bound.is_infinite() {
                return lower;
            }
            let within = cumulative - below;
            let fraction = if within > 0.0 {
                (rank - below) / within
            } else {
                1.0
            };
            return lower + (bound - lower) * fraction;
        }
        (lower, below) = (bound, cumulative);
    }
    lower
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exposition(put_counts: [u64; 4], sum: f64) -> String {
        let [a, b, c, inf] = put_counts;
        format!(
            "# TYPE stratus_wal_put_seconds histogram\n\
             stratus_wal_put_seconds_bucket{{otel_scope_name=\"stratus\",le=\"0.001\"}} {a}\n\
             stratus_wal_put_seconds_bucket{{otel_scope_name=\"stratus\",le=\"0.01\"}} {b}\n\
             stratus_wal_put_seconds_bucket{{otel_scope_name=\"stratus\",le=\"0.1\"}} {c}\n\
             stratus_wal_put_seconds_bucket{{otel_scope_name=\"stratus\",le=\"+Inf\"}} {inf}\n\
             stratus_wal_put_seconds_sum{{otel_scope_name=\"stratus\"}} {sum}\n\
             stratus_wal_put_seconds_count{{otel_scope_name=\"stratus\"}} {inf}\n\
             stratus_fetch_records_total 7\n"
        )
    }

    #[test]
    fn a_phase_reports_only_what_its_window_added() {
        let before = Snapshot::parse(&exposition([10, 10, 10, 10], 0.005));
        // 100 more PUTs: 90 between 1 and 10 ms, 10 between 10 and 100 ms.
        let after = Snapshot::parse(&exposition([10, 100, 110, 110], 0.005 + 0.9));
        let stages = after.since(&before);
        assert_eq!(stages.len(), 1, "only the PUT histogram had samples");
        let put = &stages[0];
        assert_eq!(put.stage, "wal_put");
        assert_eq!(put.count, 100);
        assert!((put.mean_ms - 9.0).abs() < 1e-9);
        // Rank 50 of 100 is 50/90 into the 1-10 ms bucket.
        assert!((put.p50_ms - (1.0 + 9.0 * 50.0 / 90.0)).abs() < 1e-9);
        // Rank 99 is 9/10 into the 10-100 ms bucket.
        assert!((put.p99_ms - 91.0).abs() < 1e-9);
    }

    #[test]
    fn client_counts_add_up_over_producers() {
        let bounds = [0.001, 0.01];
        let mut before = Snapshot::new("client");
        before.add("queued", "q", &bounds, &[1, 0, 0], 0.0005);
        let mut after = Snapshot::new("client");
        after.add("queued", "q", &bounds, &[1, 50, 0], 0.2505);
        after.add("queued", "q", &bounds, &[0, 49, 1], 0.5);
        let stages = after.since(&before);
        let queued = &stages[0];
        assert_eq!((queued.side.as_str(), queued.count), ("client", 100));
        assert!((queued.mean_ms - 7.5).abs() < 1e-9);
        // Rank 99 of 100 new ones: the last of the 1-10 ms bucket.
        assert!((queued.p99_ms - 10.0).abs() < 1e-9);
    }

    #[test]
    fn label_sets_are_summed_and_past_the_last_bound_is_that_bound() {
        let text = "stratus_produce_ack_seconds_bucket{outcome=\"ok\",le=\"0.5\"} 1\n\
                    stratus_produce_ack_seconds_bucket{outcome=\"ok\",le=\"+Inf\"} 3\n\
                    stratus_produce_ack_seconds_bucket{outcome=\"error\",le=\"0.5\"} 1\n\
                    stratus_produce_ack_seconds_bucket{outcome=\"error\",le=\"+Inf\"} 1\n\
                    stratus_produce_ack_seconds_sum{outcome=\"ok\"} 4\n\
                    stratus_produce_ack_seconds_count{outcome=\"ok\"} 3\n\
                    stratus_produce_ack_seconds_count{outcome=\"error\"} 1\n";
        let stages = Snapshot::parse(text).since(&Snapshot::default());
        let ack = &stages[0];
        assert_eq!((ack.stage.as_str(), ack.count), ("produce_ack", 4));
        assert_eq!(ack.p99_ms, 500.0);
    }
}
