//! Runs one workload against one driver: consumers first, then producers for
//! each phase (warm-up, then measurement), then a drain in which consumers
//! must receive exactly what was acknowledged.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::{Rng, SeedableRng};
use tokio::sync::Semaphore;

use crate::driver::{Consumer, Driver, Producer};
use crate::payload::{PayloadMaker, now_micros, sent_at_micros};
use crate::stages::{self, StageLatency};
use crate::stats::{EndToEnd, Percentiles, Recorder, Second};
use crate::workload::{KeyDistributor, Rate, Workload};

/// How long consumers may take, after the last acknowledgement, to receive
/// everything that was acknowledged.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

/// The figures of one phase.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PhaseResult {
    pub phase: String,
    pub target_records_per_sec: Option<f64>,
    pub produce_records_per_sec: f64,
    pub produce_mb_per_sec: f64,
    pub consume_records_per_sec: f64,
    pub consume_mb_per_sec: f64,
    pub ack: Percentiles,
    pub end_to_end: Percentiles,
    pub acked_total: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    /// Broker CPU over the measured part, in percent of one core.
    pub broker_cpu_percent: Option<f64>,
    /// Where acknowledged records waited in the client (the Stratus SDK)
    /// and inside the gateway (Stratus started by the tool) over the
    /// measured part.
    pub stages: Vec<StageLatency>,
    pub timeline: Vec<Second>,
    #[serde(skip)]
    pub ack_histogram: Option<hdrhistogram::Histogram<u64>>,
}

/// Counters one subscription's consumers share.
#[derive(Debug, Default)]
struct Received {
    records: AtomicU64,
    bytes: AtomicU64,
    measured: AtomicU64,
}

/// State consumers share with the runner.
#[derive(Debug, Default)]
struct ConsumerShared {
    stop: AtomicBool,
    measuring: AtomicBool,
    e2e: EndToEnd,
    error: std::sync::Mutex<Option<String>>,
}

/// Samples the broker's CPU time; `None` when the broker is not ours.
pub type CpuProbe = Box<dyn Fn() -> Option<f64> + Send + Sync>;

/// What the runner can read of the broker besides its answers.
pub struct BrokerProbes {
    pub cpu: CpuProbe,
    /// The gateway's `/metrics`, for the stage breakdown of ack latency.
    pub metrics_url: Option<String>,
}

impl std::fmt::Debug for BrokerProbes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerProbes")
            .field("metrics_url", &self.metrics_url)
            .finish_non_exhaustive()
    }
}

/// What one workload run produced.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunOutcome {
    pub phases: Vec<PhaseResult>,
    pub acked: u64,
    /// Records each subscription received (every subscription sees every record).
    pub received_per_subscription: Vec<u64>,
    pub consumer_error: Option<String>,
}

impl RunOutcome {
    /// Every subscription received exactly the acknowledged records, and no
    /// produce or consume failed.
    pub fn consistent(&self) -> bool {
        self.consumer_error.is_none()
            && self.phases.iter().all(|p| p.errors == 0)
            && self
                .received_per_subscription
                .iter()
                .all(|&r| r == self.acked)
    }
}

pub async fn run(
    workload: &Workload,
    driver: Arc<dyn Driver>,
    probes: BrokerProbes,
) -> anyhow::Result<RunOutcome> {
    let run_id: u32 = rand::rng().random();
    let topics: Vec<String> = (0..workload.topics)
        .map(|i| format!("lt-{run_id:08x}-{i}"))
        .collect();
    for topic in &topics {
        driver
            .create_topic(topic, workload.partitions_per_topic)
            .await?;
    }
    let shared = Arc::new(ConsumerShared::default());
    let (received, consumer_tasks) = start_consumers(workload, &driver, &topics, &shared).await?;

    let mut phases = Vec::new();
    let mut acked = 0;
    let plan = match workload.rate {
        Rate::Max => vec![None],
        Rate::Fixed(r) => vec![Some(r)],
        Rate::FractionOfMax(_) => vec![None, None],
    };
    for (i, target) in plan.into_iter().enumerate() {
        let target = match (workload.rate, i) {
            (Rate::FractionOfMax(f), 1) => Some(phases_max(&phases) * f),
            _ => target,
        };
        let phase = run_phase(
            workload, &driver, &topics, target, &shared, &received, &probes,
        )
        .await?;
        acked += phase.acked_total;
        eprintln!("{}", phase_line(&phase));
        phases.push(phase);
    }

    // Drain: consumers must catch up with everything acknowledged.
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    let per_topic_acked = acked / u64::from(workload.topics);
    while Instant::now() < deadline
        && received
            .iter()
            .any(|r| r.records.load(Ordering::Relaxed) < per_topic_acked)
        && shared.error.lock().expect("not poisoned").is_none()
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A little longer, so duplicates beyond the count would show.
    tokio::time::sleep(Duration::from_millis(300)).await;
    shared.stop.store(true, Ordering::Relaxed);
    for task in consumer_tasks {
        let _ = task.await;
    }
    for topic in &topics {
        if let Err(e) = driver.delete_topic(topic).await {
            eprintln!("warning: could not delete benchmark topic {topic}: {e}");
        }
    }
    Ok(RunOutcome {
        phases,
        acked: per_topic_acked,
        received_per_subscription: received
            .iter()
            .map(|r| r.records.load(Ordering::Relaxed))
            .collect(),
        consumer_error: shared.error.lock().expect("not poisoned").clone(),
    })
}

fn phases_max(phases: &[PhaseResult]) -> f64 {
    phases
        .first()
        .map(|p| p.produce_records_per_sec)
        .unwrap_or(0.0)
}

pub fn phase_line(p: &PhaseResult) -> String {
    format!(
        "phase {}: {:.1} MB/s produced ({:.0} rec/s), {:.1} MB/s consumed, ack p50 {:.2} ms p99 {:.2} ms, e2e p99 {:.2} ms, errors {}",
        p.phase,
        p.produce_mb_per_sec,
        p.produce_records_per_sec,
        p.consume_mb_per_sec,
        p.ack.p50_ms,
        p.ack.p99_ms,
        p.end_to_end.p99_ms,
        p.errors
    )
}

/// One consumer per (topic, subscription, member); members of a subscription
/// split its partitions round-robin.
async fn start_consumers(
    workload: &Workload,
    driver: &Arc<dyn Driver>,
    topics: &[String],
    shared: &Arc<ConsumerShared>,
) -> anyhow::Result<(Vec<Arc<Received>>, Vec<tokio::task::JoinHandle<()>>)> {
    let mut received = Vec::new();
    let mut tasks = Vec::new();
    let members = workload.consumer_per_subscription;
    for topic in topics {
        for s in 0..workload.subscriptions_per_topic {
            let counters = Arc::new(Received::default());
            received.push(counters.clone());
            for m in 0..members {
                let partitions: Vec<u32> = (0..workload.partitions_per_topic)
                    .filter(|p| p % members == m)
                    .collect();
                if partitions.is_empty() {
                    continue;
                }
                let consumer = driver
                    .consumer(topic, partitions, &format!("sub-{s}"))
                    .await?;
                tasks.push(tokio::spawn(consume(
                    consumer,
                    counters.clone(),
                    shared.clone(),
                )));
            }
        }
    }
    Ok((received, tasks))
}

async fn consume(
    mut consumer: Box<dyn Consumer>,
    received: Arc<Received>,
    shared: Arc<ConsumerShared>,
) {
    while !shared.stop.load(Ordering::Relaxed) {
        match consumer.poll().await {
            Ok(payloads) => {
                let now = now_micros();
                let measuring = shared.measuring.load(Ordering::Relaxed);
                let bytes: usize = payloads.iter().map(Bytes::len).sum();
                received
                    .records
                    .fetch_add(payloads.len() as u64, Ordering::Relaxed);
                received.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
                if measuring {
                    received
                        .measured
                        .fetch_add(payloads.len() as u64, Ordering::Relaxed);
                    for payload in &payloads {
                        if let Some(sent) = sent_at_micros(payload) {
                            shared.e2e.record_micros(now.saturating_sub(sent));
                        }
                    }
                }
            }
            Err(e) => {
                shared
                    .error
                    .lock()
                    .expect("not poisoned")
                    .get_or_insert(format!("{e:#}"));
                return;
            }
        }
    }
}

async fn run_phase(
    workload: &Workload,
    driver: &Arc<dyn Driver>,
    topics: &[String],
    target: Option<f64>,
    shared: &Arc<ConsumerShared>,
    received: &[Arc<Received>],
    probes: &BrokerProbes,
) -> anyhow::Result<PhaseResult> {
    let name = match target {
        None => "max".to_owned(),
        Some(rate) => format!("{rate:.0} rec/s"),
    };
    eprintln!(
        "{}: phase {name}: warm-up {:?}, measure {:?}",
        workload.name, workload.warmup, workload.duration
    );
    let recorder = Arc::new(Recorder::new(workload.warmup, workload.duration));
    let producers_total = workload.topics * workload.producers_per_topic;
    let per_producer_rate = target.map(|r| r / f64::from(producers_total));
    let end = recorder.measure_end();
    let mut tasks = Vec::new();
    let mut producers = Vec::new();
    for (t, topic) in topics.iter().enumerate() {
        for p in 0..workload.producers_per_topic {
            let producer: Arc<dyn Producer> = Arc::from(
                driver
                    .producer(topic, workload.partitions_per_topic)
                    .await?,
            );
            producers.push(producer.clone());
            let id = (t as u32 * workload.producers_per_topic + p) as u64;
            tasks.push(tokio::spawn(produce(
                producer,
                workload.clone(),
                id,
                per_producer_rate,
                end,
                recorder.clone(),
            )));
        }
    }
    let progress = show_progress(workload, &name, recorder.clone());
    // Measurement window for consumers and the broker's CPU.
    tokio::time::sleep_until(recorder.measure_start().into()).await;
    let received_before: Vec<u64> = received
        .iter()
        .map(|r| r.measured.load(Ordering::Relaxed))
        .collect();
    shared.e2e.take();
    shared.measuring.store(true, Ordering::Relaxed);
    let cpu_before = (probes.cpu)();
    let client_before = client_stages(&producers);
    let stages_before = scrape_stages(probes).await;
    tokio::time::sleep_until(end.into()).await;
    let cpu_after = (probes.cpu)();
    let client_after = client_stages(&producers);
    let stages_after = scrape_stages(probes).await;
    shared.measuring.store(false, Ordering::Relaxed);
    let seconds = workload.duration.as_secs_f64();
    let consumed: u64 = received
        .iter()
        .zip(&received_before)
        .map(|(r, before)| r.measured.load(Ordering::Relaxed) - before)
        .sum();
    let end_to_end = shared.e2e.take();
    for task in tasks {
        task.await??;
    }
    progress.abort();
    let recorded = recorder.finish();
    let size = workload.message_size as f64;
    let produce_rps = recorded.acked_measured as f64 / seconds;
    Ok(PhaseResult {
        phase: name,
        target_records_per_sec: target,
        produce_records_per_sec: produce_rps,
        produce_mb_per_sec: produce_rps * size / 1e6,
        consume_records_per_sec: consumed as f64 / seconds,
        consume_mb_per_sec: consumed as f64 * size / seconds / 1e6,
        ack: recorded.ack,
        end_to_end,
        acked_total: recorded.acked_total,
        errors: recorded.errors,
        first_error: recorded.first_error,
        broker_cpu_percent: cpu_before
            .zip(cpu_after)
            .map(|(a, b)| (b - a) / seconds * 100.0),
        stages: [(client_before, client_after), (stages_before, stages_after)]
            .into_iter()
            .filter_map(|(before, after)| Some(after?.since(&before?)))
            .flatten()
            .collect(),
        timeline: recorded.timeline,
        ack_histogram: Some(recorded.ack_histogram),
    })
}

/// The client's stage counts now, summed over the phase's producers.
fn client_stages(producers: &[Arc<dyn Producer>]) -> Option<stages::Snapshot> {
    let mut total: Option<stages::Snapshot> = None;
    for snapshot in producers.iter().filter_map(|p| p.stages()) {
        match &mut total {
            Some(total) => total.merge(&snapshot),
            None => total = Some(snapshot),
        }
    }
    total
}

/// The gateway's stage histograms now, when there is a gateway to ask; a
/// failed scrape only leaves the breakdown out of the report.
async fn scrape_stages(probes: &BrokerProbes) -> Option<stages::Snapshot> {
    let url = probes.metrics_url.as_deref()?;
    match stages::scrape(url).await {
        Ok(snapshot) => Some(snapshot),
        Err(e) => {
            eprintln!("warning: no stage breakdown for this phase: {e:#}");
            None
        }
    }
}

/// A progress bar over the phase's seconds, with records acknowledged so far;
/// drawn only on a terminal. Abort the returned task to stop it.
fn show_progress(
    workload: &Workload,
    phase: &str,
    recorder: Arc<Recorder>,
) -> tokio::task::JoinHandle<()> {
    let total = (workload.warmup + workload.duration).as_secs().max(1);
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len}s {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(format!("{} {phase}", workload.name));
    let start = Instant::now();
    tokio::spawn(async move {
        let _clear = ClearOnDrop(bar.clone());
        loop {
            bar.set_position(start.elapsed().as_secs().min(total));
            bar.set_message(format!("{} acked", recorder.acked_so_far()));
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    })
}

/// Clears the bar however its task ends (aborted, usually).
struct ClearOnDrop(indicatif::ProgressBar);

impl Drop for ClearOnDrop {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

/// One producer: sends until `end`, closed-loop (at most
/// `max_outstanding_per_producer` unacknowledged) or open-loop at `rate`,
/// measuring each acknowledgement from the record's intended send time.
async fn produce(
    producer: Arc<dyn Producer>,
    workload: Workload,
    id: u64,
    rate: Option<f64>,
    end: Instant,
    recorder: Arc<Recorder>,
) -> anyhow::Result<()> {
    let outstanding = Arc::new(Semaphore::new(workload.max_outstanding_per_producer));
    let mut payloads =
        PayloadMaker::new(workload.message_size, workload.payload_randomness, id, id);
    let mut rng = rand::rngs::StdRng::seed_from_u64(id);
    let start = Instant::now();
    let mut sent: u64 = 0;
    loop {
        let intended = match rate {
            Some(r) => start + Duration::from_secs_f64(sent as f64 / r),
            None => Instant::now(),
        };
        if intended >= end {
            break;
        }
        if rate.is_some() {
            tokio::time::sleep_until(intended.into()).await;
        }
        let permit = outstanding.clone().acquire_owned().await?;
        let key = match workload.key_distributor {
            KeyDistributor::NoKey => None,
            KeyDistributor::Random => Some(key_bytes(rng.random_range(0..workload.key_space))),
            KeyDistributor::KeyRoundRobin => {
                Some(key_bytes((sent % u64::from(workload.key_space)) as u32))
            }
        };
        // Closed loop measures from the call; open loop from the schedule, so
        // a stalled broker cannot hide its queueing (coordinated omission).
        let from = if rate.is_some() {
            intended
        } else {
            Instant::now()
        };
        match producer.send(key, payloads.make()).await {
            Ok(ack) => {
                let recorder = recorder.clone();
                tokio::spawn(async move {
                    match ack.await {
                        Ok(()) => {
                            let now = Instant::now();
                            recorder.ack(now, now - from);
                        }
                        Err(e) => recorder.error(format!("{e:#}")),
                    }
                    drop(permit);
                });
            }
            Err(e) => recorder.error(format!("{e:#}")),
        }
        sent += 1;
    }
    producer.flush().await?;
    // Every acknowledgement has been recorded once all permits are back.
    let _all = outstanding
        .acquire_many(workload.max_outstanding_per_producer as u32)
        .await?;
    Ok(())
}

fn key_bytes(n: u32) -> Bytes {
    Bytes::from(format!("key-{n}"))
}
