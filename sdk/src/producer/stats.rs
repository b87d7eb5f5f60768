//! Where a producer's batches waited before their acknowledgement, kept by
//! the producer itself: filling (from the batch's oldest record to its
//! seal: linger once an in-flight slot is free, or `batch_bytes` reached), queued (sealed, waiting for one
//! of the partition's in-flight slots) and the request (sent to answered,
//! the gateway's time included). Fixed buckets and atomic counters, so
//! recording costs a few relaxed adds and never allocates or locks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, in seconds: 0.5 ms to 30 s, the gateway's
/// latency buckets, so the two sides of a breakdown compare bucket for
/// bucket. A last bucket counts everything above.
pub const STAGE_BUCKET_BOUNDS: &[f64] = &[
    0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.035, 0.05, 0.075, 0.1,
    0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

const BUCKETS: usize = STAGE_BUCKET_BOUNDS.len() + 1;

/// One stage's histogram.
#[derive(Debug)]
pub(crate) struct StageHistogram {
    counts: [AtomicU64; BUCKETS],
    sum_micros: AtomicU64,
}

impl Default for StageHistogram {
    fn default() -> Self {
        Self {
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_micros: AtomicU64::new(0),
        }
    }
}

impl StageHistogram {
    pub(crate) fn record(&self, waited: Duration) {
        let seconds = waited.as_secs_f64();
        let bucket = STAGE_BUCKET_BOUNDS
            .iter()
            .position(|&bound| seconds <= bound)
            .unwrap_or(BUCKETS - 1);
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(waited.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    fn snapshot(&self) -> StageSnapshot {
        StageSnapshot {
            counts: self
                .counts
                .iter()
                .map(|c| c.load(Ordering::Relaxed))
                .collect(),
            sum_seconds: self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6,
        }
    }
}

/// What one producer recorded, per batch.
#[derive(Debug, Default)]
pub(crate) struct ProducerStats {
    pub(crate) filling: StageHistogram,
    pub(crate) queued: StageHistogram,
    pub(crate) request: StageHistogram,
    pub(crate) retries: AtomicU64,
}

impl ProducerStats {
    pub(crate) fn snapshot(&self) -> ProducerStatsSnapshot {
        ProducerStatsSnapshot {
            filling: self.filling.snapshot(),
            queued: self.queued.snapshot(),
            request: self.request.snapshot(),
            retries: self.retries.load(Ordering::Relaxed),
        }
    }
}

/// One stage's counts since the producer started: `counts[i]` batches took
/// at most `STAGE_BUCKET_BOUNDS[i]` (and more than the bound before); the
/// last count is of those above every bound.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StageSnapshot {
    pub counts: Vec<u64>,
    pub sum_seconds: f64,
}

impl StageSnapshot {
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// Where a producer's batches waited, since it started; subtract two
/// snapshots for a window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProducerStatsSnapshot {
    /// From a batch's oldest record handed to `send` to the batch's seal.
    pub filling: StageSnapshot,
    /// From the seal to the batch's first send: waiting for an in-flight slot.
    pub queued: StageSnapshot,
    /// From each send of a batch to its answer (retries count once each).
    pub request: StageSnapshot,
    /// Sends of a batch after its first.
    pub retries: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_lands_in_the_first_bucket_whose_bound_it_does_not_pass() {
        let histogram = StageHistogram::default();
        histogram.record(Duration::from_micros(400));
        histogram.record(Duration::from_millis(5));
        histogram.record(Duration::from_millis(6));
        histogram.record(Duration::from_secs(60));
        let snapshot = histogram.snapshot();
        assert_eq!(snapshot.counts.len(), STAGE_BUCKET_BOUNDS.len() + 1);
        assert_eq!(snapshot.counts[0], 1, "0.4 ms: at most 0.5 ms");
        assert_eq!(snapshot.counts[4], 1, "5 ms: at most 5 ms");
        assert_eq!(snapshot.counts[5], 1, "6 ms: at most 7.5 ms");
        assert_eq!(snapshot.counts[BUCKETS - 1], 1, "60 s: above every bound");
        assert_eq!(snapshot.count(), 4);
        assert!((snapshot.sum_seconds - 60.0114).abs() < 1e-9);
    }
}
