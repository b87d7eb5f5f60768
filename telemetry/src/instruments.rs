//! Every metric instrument Stratus records to, created once from the global
//! meter provider. Names are chosen so the Prometheus names are the OTel names
//! with dots as underscores (plus `_total` on counters): units are part of the
//! name (`_seconds`, `_bytes`), not a suffix the exporter adds.
//!
//! Observable instruments (gauges read from live state, counters kept by the
//! storage layer) are registered where that state lives, through [`meter`].

use std::sync::LazyLock;

use opentelemetry::metrics::{Counter, Histogram, Meter};

/// Latency buckets in seconds: 0.5 ms to 30 s, dense where acknowledgements
/// of a healthy gateway fall (a few to a few tens of milliseconds).
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.035, 0.05, 0.075, 0.1,
    0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Flush sizes in bytes: 1 KiB to 256 MiB (the largest `flush_bytes`).
const BYTE_BUCKETS: &[f64] = &[
    1024.0,
    4096.0,
    16384.0,
    65536.0,
    262_144.0,
    524_288.0,
    1_048_576.0,
    2_097_152.0,
    4_194_304.0,
    8_388_608.0,
    16_777_216.0,
    67_108_864.0,
    268_435_456.0,
];

/// Produce calls per flush.
const CALL_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 1024.0];

/// The instruments components record to directly.
#[derive(Debug)]
pub struct Metrics {
    /// Produce calls answered, by `outcome` (`ok` or `error`).
    pub produce_requests: Counter<u64>,
    /// Records acknowledged.
    pub produce_records: Counter<u64>,
    /// Bytes of encoded (compressed) record batches acknowledged.
    pub produce_bytes: Counter<u64>,
    /// Produce calls refused or failed, by `kind` (the gRPC status code).
    pub produce_errors: Counter<u64>,
    /// From receiving a produce call to its acknowledgement.
    pub produce_ack_seconds: Histogram<f64>,
    /// Fetch calls answered (unary Fetch and each Subscribe response), by `outcome`.
    pub fetch_requests: Counter<u64>,
    /// Records returned to consumers.
    pub fetch_records: Counter<u64>,
    /// Key, value and header bytes of records returned to consumers.
    pub fetch_bytes: Counter<u64>,
    /// Fetches that failed, by `kind` (the gRPC status code).
    pub fetch_errors: Counter<u64>,
    /// Bytes in each flush (one WAL object).
    pub flush_bytes: Histogram<f64>,
    /// Produce calls in each flush.
    pub flush_calls: Histogram<f64>,
    /// How long the first call of each flush waited before the flush was cut:
    /// the linger actually used (shorter when `flush_bytes` filled first).
    pub flush_linger_seconds: Histogram<f64>,
    /// Flushes that failed (nothing of them acknowledged).
    pub flush_errors: Counter<u64>,
    /// Duration of each WAL object PUT, retries included.
    pub wal_put_seconds: Histogram<f64>,
    /// Duration of each offset-assigning metadata transaction, retries included.
    pub metadata_commit_seconds: Histogram<f64>,
    /// How long each produce call waited in the batcher before its flush was
    /// cut: linger, and any wait while every flush slot was busy.
    pub produce_queue_seconds: Histogram<f64>,
    /// How long each flush's durable WAL object waited for the commits of
    /// the flushes cut before it (commits run in cut order).
    pub flush_commit_wait_seconds: Histogram<f64>,
    /// From a produce call entering the batcher to its acknowledgement:
    /// queue, WAL PUT, commit wait and commit together.
    pub produce_batcher_seconds: Histogram<f64>,
    /// Compaction jobs done, by `kind`.
    pub compaction_jobs: Counter<u64>,
    /// Compaction passes, by `outcome`.
    pub compaction_passes: Counter<u64>,
    /// Duration of each compaction pass.
    pub compaction_pass_seconds: Histogram<f64>,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let metrics = Metrics::new(&meter());
    // Series of rare events exist from the start at 0, so dashboards and
    // alerts see "none yet" rather than "no data".
    metrics.flush_errors.add(0, &[]);
    metrics
});

/// The process's instruments. Created on first use from the global meter
/// provider, so [`crate::Telemetry::init`] must run first to export them.
pub fn metrics() -> &'static Metrics {
    &METRICS
}

/// The meter every Stratus instrument belongs to.
pub fn meter() -> Meter {
    opentelemetry::global::meter("stratus")
}

fn seconds(meter: &Meter, name: &'static str, description: &'static str) -> Histogram<f64> {
    meter
        .f64_histogram(name)
        .with_unit("s")
        .with_description(description)
        .with_boundaries(LATENCY_BUCKETS.to_vec())
        .build()
}

fn counter(
    meter: &Meter,
    name: &'static str,
    unit: &'static str,
    description: &'static str,
) -> Counter<u64> {
    meter
        .u64_counter(name)
        .with_unit(unit)
        .with_description(description)
        .build()
}

impl Metrics {
    fn new(meter: &Meter) -> Self {
        Self {
            produce_requests: counter(
                meter,
                "stratus.produce.requests",
                "{request}",
                "Produce calls answered, by outcome",
            ),
            produce_records: counter(
                meter,
                "stratus.produce.records",
                "{record}",
                "Records acknowledged",
            ),
            produce_bytes: counter(
                meter,
                "stratus.produce.bytes",
                "By",
                "Bytes of encoded record batches acknowledged",
            ),
            produce_errors: counter(
                meter,
                "stratus.produce.errors",
                "{request}",
                "Produce calls refused or failed, by gRPC status kind",
            ),
            produce_ack_seconds: seconds(
                meter,
                "stratus.produce.ack.seconds",
                "Time from receiving a produce call to acknowledging it",
            ),
            fetch_requests: counter(
                meter,
                "stratus.fetch.requests",
                "{request}",
                "Fetch responses sent, by outcome",
            ),
            fetch_records: counter(
                meter,
                "stratus.fetch.records",
                "{record}",
                "Records returned to consumers",
            ),
            fetch_bytes: counter(
                meter,
                "stratus.fetch.bytes",
                "By",
                "Key, value and header bytes returned to consumers",
            ),
            fetch_errors: counter(
                meter,
                "stratus.fetch.errors",
                "{request}",
                "Fetches that failed, by gRPC status kind",
            ),
            flush_bytes: meter
                .f64_histogram("stratus.flush.bytes")
                .with_unit("By")
                .with_description("Bytes in each flush (one WAL object)")
                .with_boundaries(BYTE_BUCKETS.to_vec())
                .build(),
            flush_calls: meter
                .f64_histogram("stratus.flush.calls")
                .with_unit("{request}")
                .with_description("Produce calls in each flush")
                .with_boundaries(CALL_BUCKETS.to_vec())
                .build(),
            flush_linger_seconds: seconds(
                meter,
                "stratus.flush.linger.seconds",
                "Wait of a flush's first call before the flush was cut",
            ),
            flush_errors: counter(
                meter,
                "stratus.flush.errors",
                "{flush}",
                "Flushes that failed; none of their calls were acknowledged",
            ),
            wal_put_seconds: seconds(
                meter,
                "stratus.wal.put.seconds",
                "Duration of each WAL object PUT, retries included",
            ),
            metadata_commit_seconds: seconds(
                meter,
                "stratus.metadata.commit.seconds",
                "Duration of each offset-assigning metadata transaction, retries included",
            ),
            produce_queue_seconds: seconds(
                meter,
                "stratus.produce.queue.seconds",
                "Wait of each produce call in the batcher before its flush was cut",
            ),
            flush_commit_wait_seconds: seconds(
                meter,
                "stratus.flush.commit_wait.seconds",
                "Wait of each durable WAL object for the commits of earlier flushes",
            ),
            produce_batcher_seconds: seconds(
                meter,
                "stratus.produce.batcher.seconds",
                "Time from a produce call entering the batcher to its acknowledgement",
            ),
            compaction_jobs: counter(
                meter,
                "stratus.compaction.jobs",
                "{job}",
                "Compaction jobs done, by kind",
            ),
            compaction_passes: counter(
                meter,
                "stratus.compaction.passes",
                "{pass}",
                "Compaction passes, by outcome",
            ),
            compaction_pass_seconds: seconds(
                meter,
                "stratus.compaction.pass.seconds",
                "Duration of each compaction pass",
            ),
        }
    }
}
