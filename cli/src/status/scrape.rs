//! Fetching and reading a Prometheus text exposition (`GET /metrics`):
//! just enough HTTP/1.1 and just enough of the format for `stratus status`.

use std::collections::BTreeMap;

use anyhow::Context;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::limits::SCRAPE_MAX_RESPONSE_BYTES;

/// One sample of a scrape.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sample {
    pub(crate) name: String,
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) value: f64,
}

/// Every sample of one scrape.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Scrape {
    pub(crate) samples: Vec<Sample>,
}

/// `GET` an `http://host:port/path` URL and parse the body.
pub(crate) async fn fetch(url: &str) -> anyhow::Result<Scrape> {
    let rest = url.strip_prefix("http://").with_context(|| {
        format!("metrics URL {url:?} must start with http://, e.g. http://127.0.0.1:7401/metrics")
    })?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, "metrics"));
    let mut stream = TcpStream::connect(host).await.with_context(|| {
        format!("cannot connect to {host}; is a gateway serving metrics there (telemetry.metrics_listen)?")
    })?;
    let request = format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream
        .take(SCRAPE_MAX_RESPONSE_BYTES)
        .read_to_end(&mut response)
        .await
        .with_context(|| format!("reading {url}"))?;
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response
        .split_once("\r\n\r\n")
        .with_context(|| format!("{url} did not answer with HTTP"))?;
    let status = head.lines().next().unwrap_or_default();
    anyhow::ensure!(
        status.split_whitespace().nth(1) == Some("200"),
        "{url} answered {status:?}; point --metrics at a gateway's /metrics"
    );
    anyhow::ensure!(
        !head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "{url} answered with a chunked body, which this reader does not support"
    );
    Ok(Scrape::parse(body))
}

impl Scrape {
    /// Parses the text format; lines it cannot read are skipped.
    pub(crate) fn parse(text: &str) -> Self {
        let samples = text
            .lines()
            .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
            .filter_map(parse_sample)
            .collect();
        Self { samples }
    }

    /// Sum of `name` over the samples whose labels include `with`.
    pub(crate) fn sum(&self, name: &str, with: &[(&str, &str)]) -> f64 {
        self.matching(name, with).map(|s| s.value).sum()
    }

    pub(crate) fn matching<'a>(
        &'a self,
        name: &'a str,
        with: &'a [(&'a str, &'a str)],
    ) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| {
            s.name == name
                && with
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
    }

    /// Cumulative bucket counts of histogram `name` (summed over series), by `le`.
    pub(crate) fn buckets(&self, name: &str) -> Vec<(f64, f64)> {
        let bucket = format!("{name}_bucket");
        let mut by_le: BTreeMap<u64, (f64, f64)> = BTreeMap::new();
        for sample in self.matching(&bucket, &[]) {
            let Some(le) = sample.labels.get("le").and_then(|le| parse_number(le)) else {
                continue;
            };
            by_le.entry(le.to_bits()).or_insert((le, 0.0)).1 += sample.value;
        }
        let mut buckets: Vec<(f64, f64)> = by_le.into_values().collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        buckets
    }
}

fn parse_number(text: &str) -> Option<f64> {
    match text {
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        other => other.parse().ok(),
    }
}

fn parse_sample(line: &str) -> Option<Sample> {
    let (series, value) = line.trim().rsplit_once(' ')?;
    let (name, labels) = match series.split_once('{') {
        Some((name, labels)) => (name, parse_labels(labels.strip_suffix('}')?)),
        None => (series, BTreeMap::new()),
    };
    Some(Sample {
        name: name.to_owned(),
        labels,
        value: parse_number(value)?,
    })
}

fn parse_labels(mut text: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    while let Some((key, after)) = text.split_once("=\"") {
        let mut value = String::new();
        let mut end = after.len();
        let mut chars = after.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, escaped)) => value.push(escaped),
                    None => {}
                },
                '"' => {
                    end = i + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        labels.insert(key.trim_start_matches(',').trim().to_owned(), value);
        text = &after[end..];
    }
    labels
}

/// The `q` quantile of the observations between two cumulative bucket
/// snapshots, interpolated linearly inside the bucket as Prometheus'
/// `histogram_quantile` does. `None` when nothing was observed.
pub(crate) fn quantile(q: f64, before: &[(f64, f64)], after: &[(f64, f64)]) -> Option<f64> {
    let counts: Vec<(f64, f64)> = after
        .iter()
        .map(|(le, count)| {
            let earlier = before
                .iter()
                .find(|(b, _)| b.to_bits() == le.to_bits())
                .map_or(0.0, |(_, c)| *c);
            (*le, (count - earlier).max(0.0))
        })
        .collect();
    let total = counts.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let mut lower = (0.0, 0.0);
    for &(le, count) in &counts {
        if count >= rank {
            if le.is_infinite() {
                return Some(lower.0);
            }
            let in_bucket = count - lower.1;
            let fraction = if in_bucket > 0.0 {
                (rank - lower.1) / in_bucket
            } else {
                1.0
            };
            return Some(lower.0 + (le - lower.0) * fraction);
        }
        lower = (le, count);
    }
    Some(lower.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_samples_and_labels() {
        let scrape = Scrape::parse(
            "# TYPE a_total counter\na_total{kind=\"x\",q=\"a\\\"b\"} 3\na_total{kind=\"y\"} 4\nb 1.5\n",
        );
        assert_eq!(scrape.sum("a_total", &[]), 7.0);
        assert_eq!(scrape.sum("a_total", &[("kind", "x")]), 3.0);
        assert_eq!(scrape.sum("a_total", &[("q", "a\"b")]), 3.0);
        assert_eq!(scrape.sum("b", &[]), 1.5);
    }

    #[test]
    fn quantiles_interpolate_within_buckets() {
        let before = [(0.01, 0.0), (0.1, 0.0), (f64::INFINITY, 0.0)];
        let after = [(0.01, 50.0), (0.1, 100.0), (f64::INFINITY, 100.0)];
        assert!((quantile(0.5, &before, &after).unwrap() - 0.01).abs() < 1e-9);
        assert!((quantile(0.75, &before, &after).unwrap() - 0.055).abs() < 1e-9);
        assert_eq!(quantile(0.5, &after, &after), None);
    }
}
