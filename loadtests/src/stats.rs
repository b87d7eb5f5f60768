//! Latency histograms and per-second timelines for one phase.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// Latencies in microseconds up to one minute, 3 significant digits.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

/// Percentiles of one histogram, in milliseconds.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Percentiles {
    pub fn of(h: &Histogram<u64>) -> Self {
        let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        if h.is_empty() {
            return Self::default();
        }
        Self {
            count: h.len(),
            p50_ms: ms(0.50),
            p95_ms: ms(0.95),
            p99_ms: ms(0.99),
            p999_ms: ms(0.999),
            max_ms: h.max() as f64 / 1000.0,
        }
    }
}

/// One second of a phase.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Second {
    /// Seconds since the phase's measurement began (negative: warm-up).
    pub t: i64,
    pub acked: u64,
    pub ack_p50_ms: f64,
    pub ack_p99_ms: f64,
}

/// What producers record while a phase runs. Shared by every producer task.
#[derive(Debug)]
pub struct Recorder {
    start: Instant,
    warmup: Duration,
    duration: Duration,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    ack: Histogram<u64>,
    per_second: Vec<Histogram<u64>>,
    acked_measured: u64,
    acked_total: u64,
    errors: u64,
    first_error: Option<String>,
}

impl Recorder {
    pub fn new(warmup: Duration, duration: Duration) -> Self {
        Self {
            start: Instant::now(),
            warmup,
            duration,
            inner: Mutex::new(Inner {
                ack: histogram(),
                per_second: Vec::new(),
                acked_measured: 0,
                acked_total: 0,
                errors: 0,
                first_error: None,
            }),
        }
    }

    /// When measurement starts (the end of the warm-up).
    pub fn measure_start(&self) -> Instant {
        self.start + self.warmup
    }

    /// When measurement ends; producers stop sending then.
    pub fn measure_end(&self) -> Instant {
        self.measure_start() + self.duration
    }

    /// Records one acknowledgement `latency` after its (intended) send time.
    pub fn ack(&self, at: Instant, latency: Duration) {
        let micros = (latency.as_micros() as u64).clamp(1, 60_000_000);
        let second = at.saturating_duration_since(self.start).as_secs() as usize;
        let mut inner = self.inner.lock().expect("not poisoned");
        inner.acked_total += 1;
        while inner.per_second.len() <= second {
            inner.per_second.push(histogram());
        }
        let _ = inner.per_second[second].record(micros);
        if at >= self.measure_start() && at < self.measure_end() {
            inner.acked_measured += 1;
            let _ = inner.ack.record(micros);
        }
    }

    /// Acknowledgements so far, warm-up included.
    pub fn acked_so_far(&self) -> u64 {
        self.inner.lock().expect("not poisoned").acked_total
    }

    pub fn error(&self, error: String) {
        let mut inner = self.inner.lock().expect("not poisoned");
        inner.errors += 1;
        inner.first_error.get_or_insert(error);
    }

    /// The acknowledgement histogram of the measured part, the timeline, and counts.
    pub fn finish(&self) -> Recorded {
        let inner = self.inner.lock().expect("not poisoned");
        let warmup_secs = self.warmup.as_secs() as i64;
        Recorded {
            ack: Percentiles::of(&inner.ack),
            ack_histogram: inner.ack.clone(),
            timeline: inner
                .per_second
                .iter()
                .enumerate()
                .map(|(i, h)| Second {
                    t: i as i64 - warmup_secs,
                    acked: h.len(),
                    ack_p50_ms: Percentiles::of(h).p50_ms,
                    ack_p99_ms: Percentiles::of(h).p99_ms,
                })
                .collect(),
            acked_measured: inner.acked_measured,
            acked_total: inner.acked_total,
            errors: inner.errors,
            first_error: inner.first_error.clone(),
        }
    }
}

/// A finished phase's producer side.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub ack: Percentiles,
    pub ack_histogram: Histogram<u64>,
    pub timeline: Vec<Second>,
    pub acked_measured: u64,
    pub acked_total: u64,
    pub errors: u64,
    pub first_error: Option<String>,
}

/// End-to-end latencies seen by consumers (send time in the payload to receipt).
#[derive(Debug)]
pub struct EndToEnd {
    inner: Mutex<Histogram<u64>>,
}

impl Default for EndToEnd {
    fn default() -> Self {
        Self {
            inner: Mutex::new(histogram()),
        }
    }
}

impl EndToEnd {
    pub fn record_micros(&self, micros: u64) {
        let _ = self
            .inner
            .lock()
            .expect("not poisoned")
            .record(micros.clamp(1, 60_000_000));
    }

    /// Percentiles so far, and a reset for the next phase.
    pub fn take(&self) -> Percentiles {
        let mut h = self.inner.lock().expect("not poisoned");
        let p = Percentiles::of(&h);
        h.reset();
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warm_up_acks_count_in_the_timeline_but_not_the_percentiles() {
        let recorder = Recorder::new(Duration::from_secs(3600), Duration::from_secs(1));
        recorder.ack(Instant::now(), Duration::from_millis(5));
        let done = recorder.finish();
        assert_eq!(done.acked_total, 1);
        assert_eq!(done.acked_measured, 0);
        assert_eq!(done.ack.count, 0);
        assert_eq!(done.timeline[0].acked, 1);
    }

    #[test]
    fn percentiles_are_in_milliseconds() {
        let recorder = Recorder::new(Duration::ZERO, Duration::from_secs(3600));
        for ms in 1..=100 {
            recorder.ack(Instant::now(), Duration::from_millis(ms));
        }
        let p = recorder.finish().ack;
        assert_eq!(p.count, 100);
        assert!((p.p50_ms - 50.0).abs() < 0.5, "{p:?}");
        assert!((p.max_ms - 100.0).abs() < 0.5, "{p:?}");
    }
}
