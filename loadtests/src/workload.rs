//! Workload files: what a benchmark run does, in the spirit of the
//! OpenMessaging Benchmark's workload YAML (topics, partitions, record size,
//! key distribution, producers, consumers, rate, warm-up, duration).
//!
//! A workload names no broker: the same file runs against Stratus over gRPC,
//! over QUIC, or against NATS JetStream, so a comparison is one file and two
//! `--driver` values. Lists in `partitions_per_topic` and
//! `subscriptions_per_topic` make a sweep: one run per value.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

/// How records are keyed, as the OpenMessaging Benchmark names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum KeyDistributor {
    /// No key: the producer spreads records over partitions.
    NoKey,
    /// A random key from `key_space` keys, routed by murmur2.
    Random,
    /// Keys taken in turn from `key_space` keys.
    KeyRoundRobin,
}

/// How fast producers send.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub enum Rate {
    /// As fast as acknowledgements allow (closed loop).
    Max,
    /// A fixed total records per second (open loop).
    Fixed(f64),
    /// First a maximum-rate phase, then this fraction of the rate it measured.
    FractionOfMax(f64),
}

/// One value or a sweep of values.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(u32),
    Many(Vec<u32>),
}

impl OneOrMany {
    fn values(&self) -> Vec<u32> {
        match self {
            OneOrMany::One(v) => vec![*v],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkloadFile {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default = "one")]
    topics: u32,
    partitions_per_topic: OneOrMany,
    message_size: usize,
    /// Fraction of each payload that is random bytes (the rest repeats), so
    /// compression sees realistic data. 1.0 is incompressible.
    #[serde(default = "half")]
    payload_randomness: f64,
    #[serde(default = "no_key")]
    key_distributor: KeyDistributor,
    #[serde(default = "key_space")]
    key_space: u32,
    #[serde(default = "one")]
    producers_per_topic: u32,
    /// Independent readers of every record (fan-out).
    #[serde(default = "one_or_many")]
    subscriptions_per_topic: OneOrMany,
    /// Readers sharing one subscription's partitions.
    #[serde(default = "one")]
    consumer_per_subscription: u32,
    /// Total records/s over all producers; 0 is the maximum (closed loop).
    #[serde(default)]
    producer_rate: f64,
    /// Run at this fraction of a measured maximum (needs `producer_rate: 0`).
    #[serde(default)]
    producer_rate_fraction: Option<f64>,
    /// Records a producer may have unacknowledged at once.
    #[serde(default = "max_outstanding")]
    max_outstanding_per_producer: usize,
    /// Idempotent producers (producer ids and sequence numbers), for the
    /// drivers that have them: the SDK and librdkafka.
    #[serde(default = "yes")]
    idempotent: bool,
    #[serde(with = "humantime_serde")]
    warmup_duration: Duration,
    #[serde(with = "humantime_serde")]
    test_duration: Duration,
    /// Settings for a Stratus gateway the tool starts itself (`STRATUS_*`
    /// variables, e.g. `STRATUS_WAL_FAULTS` to inject PUT latency).
    #[serde(default)]
    stratus_env: std::collections::BTreeMap<String, String>,
}

impl WorkloadFile {
    /// A sweep list names at least one value, and the sweep is bounded.
    fn check_sweep(&self, partitions: usize, subscriptions: usize) -> Result<(), WorkloadError> {
        let bad = |setting: &'static str, problem: String| {
            Err(WorkloadError::Invalid {
                name: self.name.clone(),
                setting,
                problem,
            })
        };
        if partitions == 0 {
            return bad(
                "partitions_per_topic",
                "is an empty list; give at least one value".into(),
            );
        }
        if subscriptions == 0 {
            return bad(
                "subscriptions_per_topic",
                "is an empty list; give at least one value".into(),
            );
        }
        let runs = partitions.saturating_mul(subscriptions);
        if runs > MAX_RUNS_PER_FILE {
            return bad(
                "partitions_per_topic",
                format!(
                    "and subscriptions_per_topic sweep {runs} runs; split them over files of at \
                     most {MAX_RUNS_PER_FILE} runs"
                ),
            );
        }
        Ok(())
    }
}

fn one() -> u32 {
    1
}
fn yes() -> bool {
    true
}
fn one_or_many() -> OneOrMany {
    OneOrMany::One(1)
}
fn half() -> f64 {
    0.5
}
fn no_key() -> KeyDistributor {
    KeyDistributor::NoKey
}
fn key_space() -> u32 {
    10_000
}
fn max_outstanding() -> usize {
    4096
}

/// One validated run of a workload (a sweep gives several).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Workload {
    pub name: String,
    pub description: String,
    pub topics: u32,
    pub partitions_per_topic: u32,
    pub message_size: usize,
    pub payload_randomness: f64,
    pub key_distributor: KeyDistributor,
    pub key_space: u32,
    pub producers_per_topic: u32,
    pub subscriptions_per_topic: u32,
    pub consumer_per_subscription: u32,
    pub rate: Rate,
    pub max_outstanding_per_producer: usize,
    pub idempotent: bool,
    #[serde(with = "humantime_serde")]
    pub warmup: Duration,
    #[serde(with = "humantime_serde")]
    pub duration: Duration,
    pub stratus_env: std::collections::BTreeMap<String, String>,
}

/// A workload file that cannot be run, and why.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    #[error("cannot read workload file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("workload file {path} is not valid: {message}")]
    Parse { path: String, message: String },
    #[error("workload {name}: {setting} {problem}")]
    Invalid {
        name: String,
        setting: &'static str,
        problem: String,
    },
}

/// Smallest payload: the send timestamp and a sequence number.
pub const MIN_MESSAGE_SIZE: usize = 16;
/// Most runs one file may sweep (partition counts times subscription
/// counts): each run is a whole benchmark, and the runs are built up front.
pub const MAX_RUNS_PER_FILE: usize = 100;
/// Most producers, and most consumers, one run may start: each is a task
/// with its own connection.
pub const MAX_CLIENTS_PER_RUN: u64 = 10_000;
/// Most records one producer may have unacknowledged; the runner holds them
/// as semaphore permits, taken back all at once as a u32.
pub const MAX_OUTSTANDING_PER_PRODUCER: usize = 1 << 20;

impl Workload {
    /// Reads a workload file; a sweep gives one workload per value.
    pub fn load(path: &Path) -> Result<Vec<Workload>, WorkloadError> {
        let text = std::fs::read_to_string(path).map_err(|source| WorkloadError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses and validates a workload's YAML; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Vec<Workload>, WorkloadError> {
        let file: WorkloadFile =
            serde_norway::from_str(text).map_err(|e| WorkloadError::Parse {
                path: origin.to_owned(),
                message: e.to_string(),
            })?;
        let partitions = file.partitions_per_topic.values();
        let subscriptions = file.subscriptions_per_topic.values();
        file.check_sweep(partitions.len(), subscriptions.len())?;
        let mut runs = Vec::new();
        for &p in &partitions {
            for &s in &subscriptions {
                let mut name = file.name.clone();
                if partitions.len() > 1 {
                    name.push_str(&format!(" p={p}"));
                }
                if subscriptions.len() > 1 {
                    name.push_str(&format!(" subscriptions={s}"));
                }
                let run = Workload::from_file(&file, name, p, s)?;
                run.validate()?;
                runs.push(run);
            }
        }
        Ok(runs)
    }

    fn from_file(
        file: &WorkloadFile,
        name: String,
        partitions: u32,
        subscriptions: u32,
    ) -> Result<Workload, WorkloadError> {
        let max = file.producer_rate == 0.0;
        let rate = match file.producer_rate_fraction {
            None if max => Rate::Max,
            None => Rate::Fixed(file.producer_rate),
            Some(fraction) if max => Rate::FractionOfMax(fraction),
            Some(_) => {
                return Err(WorkloadError::Invalid {
                    name,
                    setting: "producer_rate_fraction",
                    problem: "needs producer_rate: 0 (it is a fraction of the measured maximum)"
                        .into(),
                });
            }
        };
        Ok(Workload {
            name,
            description: file.description.clone(),
            topics: file.topics,
            partitions_per_topic: partitions,
            message_size: file.message_size,
            payload_randomness: file.payload_randomness,
            key_distributor: file.key_distributor,
            key_space: file.key_space,
            producers_per_topic: file.producers_per_topic,
            subscriptions_per_topic: subscriptions,
            consumer_per_subscription: file.consumer_per_subscription,
            rate,
            max_outstanding_per_producer: file.max_outstanding_per_producer,
            idempotent: file.idempotent,
            warmup: file.warmup_duration,
            duration: file.test_duration,
            stratus_env: file.stratus_env.clone(),
        })
    }

    fn validate(&self) -> Result<(), WorkloadError> {
        let bad = |setting: &'static str, problem: &str| {
            Err(WorkloadError::Invalid {
                name: self.name.clone(),
                setting,
                problem: problem.to_owned(),
            })
        };
        if self.topics == 0 {
            return bad("topics", "must be at least 1");
        }
        if self.partitions_per_topic == 0 || self.partitions_per_topic > 100_000 {
            return bad("partitions_per_topic", "must be between 1 and 100000");
        }
        if self.message_size < MIN_MESSAGE_SIZE || self.message_size > 8 << 20 {
            return bad(
                "message_size",
                &format!("must be between {MIN_MESSAGE_SIZE} and 8388608 bytes"),
            );
        }
        if !(0.0..=1.0).contains(&self.payload_randomness) {
            return bad("payload_randomness", "must be between 0.0 and 1.0");
        }
        if self.producers_per_topic == 0 {
            return bad("producers_per_topic", "must be at least 1");
        }
        if self.consumer_per_subscription == 0 {
            return bad("consumer_per_subscription", "must be at least 1");
        }
        if self.key_space == 0 {
            return bad("key_space", "must be at least 1");
        }
        if self.max_outstanding_per_producer == 0
            || self.max_outstanding_per_producer > MAX_OUTSTANDING_PER_PRODUCER
        {
            return bad(
                "max_outstanding_per_producer",
                &format!("must be between 1 and {MAX_OUTSTANDING_PER_PRODUCER}"),
            );
        }
        let producers = u64::from(self.topics) * u64::from(self.producers_per_topic);
        if producers > MAX_CLIENTS_PER_RUN {
            return bad(
                "producers_per_topic",
                &format!(
                    "times topics is {producers} producers; a run starts at most \
                     {MAX_CLIENTS_PER_RUN}"
                ),
            );
        }
        let consumers = u64::from(self.topics)
            .saturating_mul(u64::from(self.subscriptions_per_topic))
            .saturating_mul(u64::from(self.consumer_per_subscription));
        if consumers > MAX_CLIENTS_PER_RUN {
            return bad(
                "consumer_per_subscription",
                &format!(
                    "times subscriptions_per_topic and topics is {consumers} consumers; a run \
                     starts at most {MAX_CLIENTS_PER_RUN}"
                ),
            );
        }
        if self.duration.is_zero() {
            return bad("test_duration", "must be longer than 0s");
        }
        match self.rate {
            Rate::Fixed(r) if !(r > 0.0 && r.is_finite()) => {
                bad("producer_rate", "must be a positive number (0 is maximum)")
            }
            Rate::FractionOfMax(f) if !(f > 0.0 && f <= 1.0) => {
                bad("producer_rate_fraction", "must be in (0, 1]")
            }
            _ => Ok(()),
        }
    }

    /// Total consumers reading this workload's topics (at most
    /// [`MAX_CLIENTS_PER_RUN`] once validated).
    pub fn consumers(&self) -> u32 {
        self.topics * self.subscriptions_per_topic * self.consumer_per_subscription
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "
name: t
partitions_per_topic: [1, 100]
message_size: 1024
warmup_duration: 1s
test_duration: 5s
";

    #[test]
    fn a_list_of_partition_counts_is_a_sweep() {
        let runs = Workload::parse(BASE, "t.yaml").unwrap();
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[1].partitions_per_topic, 100);
        assert_eq!(runs[1].name, "t p=100");
        assert_eq!(runs[0].rate, Rate::Max);
    }

    #[test]
    fn unknown_settings_are_refused_by_name() {
        let err = Workload::parse(&format!("{BASE}partitons: 3\n"), "t.yaml").unwrap_err();
        assert!(err.to_string().contains("partitons"), "{err}");
    }

    #[test]
    fn a_fraction_needs_a_maximum_phase() {
        let text = format!("{BASE}producer_rate: 100\nproducer_rate_fraction: 0.5\n");
        let err = Workload::parse(&text, "t.yaml").unwrap_err();
        assert!(err.to_string().contains("producer_rate_fraction"), "{err}");
    }

    #[test]
    fn tiny_messages_are_refused() {
        let text = BASE.replace("1024", "4");
        let err = Workload::parse(&text, "t.yaml").unwrap_err();
        assert!(err.to_string().contains("message_size"), "{err}");
    }

    #[test]
    fn sweeps_are_bounded_and_never_empty() {
        let text = BASE.replace("[1, 100]", "[]");
        let err = Workload::parse(&text, "t.yaml").unwrap_err();
        assert!(err.to_string().contains("empty list"), "{err}");
        let many = vec!["1"; MAX_RUNS_PER_FILE + 1].join(", ");
        let err = Workload::parse(&BASE.replace("1, 100", &many), "t.yaml").unwrap_err();
        assert!(err.to_string().contains("runs"), "{err}");
    }

    #[test]
    fn clients_and_outstanding_records_are_bounded() {
        for (setting, line) in [
            (
                "consumer_per_subscription",
                "subscriptions_per_topic: 100\nconsumer_per_subscription: 101\n",
            ),
            (
                "producers_per_topic",
                "topics: 100\nproducers_per_topic: 101\n",
            ),
            (
                "max_outstanding_per_producer",
                "max_outstanding_per_producer: 18446744073709551615\n",
            ),
        ] {
            let err = Workload::parse(&format!("{BASE}{line}"), "t.yaml").unwrap_err();
            assert!(err.to_string().contains(setting), "{err}");
        }
    }

    #[test]
    fn every_shipped_workload_parses() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("workloads");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                Workload::load(&path).unwrap_or_else(|e| panic!("{e}"));
                seen += 1;
            }
        }
        assert!(seen >= 7, "expected the scenario workloads in {dir:?}");
    }
}
