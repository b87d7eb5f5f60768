//! `stratus bench`: produce throughput and acknowledgement latency against a
//! running gateway. It first runs at the maximum rate the gateway sustains,
//! then (with `--fraction`) at a fraction of that rate, open-loop, so the two
//! phases compare in one run on the same machine.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use rand::{Rng, SeedableRng};
use stratus_proto::v1::producer_client::ProducerClient;
use stratus_proto::v1::{
    CreateTopicRequest, DeleteTopicRequest, PartitionRecords, ProduceRequest, Record,
};
use tokio::sync::Mutex;
use tonic::transport::Channel;

use crate::client::{ServerArgs, status};

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct BenchArgs {
    /// Partitions of the benchmark topic.
    #[arg(long, default_value_t = 16)]
    partitions: u32,
    /// Bytes per record value.
    #[arg(long, default_value_t = 1024)]
    record_size: usize,
    /// Records per produce request.
    #[arg(long, default_value_t = 64)]
    batch_records: usize,
    /// Produce requests in flight at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Measured time of each phase, e.g. `20s`.
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Unmeasured time before each phase.
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    warmup: Duration,
    /// After the maximum-rate phase, run at this fraction of the measured
    /// maximum (0 skips it).
    #[arg(long, default_value_t = 0.5)]
    fraction: f64,
    /// Print results as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    server: ServerArgs,
}

#[derive(Debug, serde::Serialize)]
struct PhaseResult {
    phase: String,
    target_records_per_sec: Option<f64>,
    records: u64,
    errors: u64,
    seconds: f64,
    records_per_sec: f64,
    mb_per_sec: f64,
    ack_p50_ms: f64,
    ack_p95_ms: f64,
    ack_p99_ms: f64,
    ack_p999_ms: f64,
    ack_max_ms: f64,
    /// Records acknowledged during the phase, warm-up included.
    acked_records_total: u64,
}

pub(crate) async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let channel = args.server.channel().await?;
    let topic = format!("bench-{}", rand::rng().random::<u32>());
    stratus_proto::v1::admin_client::AdminClient::new(channel.clone())
        .create_topic(CreateTopicRequest {
            name: topic.clone(),
            partitions: args.partitions,
            config: None,
        })
        .await
        .map_err(status)?;
    eprintln!(
        "benchmark topic {topic}: {} partitions, {} B records, {} records/request, {} in flight",
        args.partitions, args.record_size, args.batch_records, args.concurrency
    );
    let max = run_phase(&args, &channel, &topic, None).await?;
    let mut results = vec![max];
    if args.fraction > 0.0 {
        let target = results[0].records_per_sec * args.fraction;
        results.push(run_phase(&args, &channel, &topic, Some(target)).await?);
    }
    stratus_proto::v1::admin_client::AdminClient::new(channel)
        .delete_topic(DeleteTopicRequest { name: topic })
        .await
        .map_err(status)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    } else {
        print_table(&results);
    }
    Ok(())
}

/// One phase: `concurrency` workers, closed-loop at max rate or open-loop at
/// `target` records/s (latency from the intended send time, so a stalled
/// gateway cannot hide its queueing).
async fn run_phase(
    args: &BenchArgs,
    channel: &Channel,
    topic: &str,
    target: Option<f64>,
) -> anyhow::Result<PhaseResult> {
    let phase = match target {
        None => "max".to_owned(),
        Some(t) => format!("{:.0}% of max ({t:.0} rec/s)", args.fraction * 100.0),
    };
    eprintln!(
        "phase {phase}: warm-up {:?}, measure {:?}",
        args.warmup, args.duration
    );
    let histogram = Arc::new(Mutex::new(Histogram::<u64>::new_with_bounds(
        1, 60_000_000, 3,
    )?));
    let records = Arc::new(AtomicU64::new(0));
    let acked_total = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let interval = target.map(|t| {
        Duration::from_secs_f64(args.batch_records as f64 * args.concurrency as f64 / t.max(1.0))
    });

    let mut workers = Vec::new();
    for worker in 0..args.concurrency {
        let mut client = ProducerClient::new(channel.clone());
        let (args, topic) = (args.clone(), topic.to_owned());
        let (histogram, records, errors) = (histogram.clone(), records.clone(), errors.clone());
        let acked_total = acked_total.clone();
        let (measuring, stop) = (measuring.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(worker as u64);
            let mut local =
                Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("valid bounds");
            let mut partition = worker as u32 % args.partitions;
            // Stagger workers across the interval so the offered load is smooth,
            // not a burst from every worker at once.
            let mut next_send = Instant::now()
                + interval.map_or(Duration::ZERO, |i| {
                    i.mul_f64(worker as f64 / args.concurrency as f64)
                });
            while !stop.load(Ordering::Relaxed) {
                if interval.is_some() {
                    tokio::time::sleep_until(next_send.into()).await;
                }
                let intended = if interval.is_some() {
                    next_send
                } else {
                    Instant::now()
                };
                let request = make_request(&topic, partition, &args, &mut rng);
                let ok = client.produce(request).await.is_ok();
                let latency = intended.elapsed();
                if ok {
                    acked_total.fetch_add(args.batch_records as u64, Ordering::Relaxed);
                }
                if measuring.load(Ordering::Relaxed) {
                    if ok {
                        records.fetch_add(args.batch_records as u64, Ordering::Relaxed);
                        let _ = local.record(latency.as_micros() as u64);
                    } else {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                partition = (partition + 1) % args.partitions;
                if let Some(interval) = interval {
                    next_send += interval;
                }
            }
            let _ = histogram.lock().await.add(&local);
        }));
    }
    tokio::time::sleep(args.warmup).await;
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(args.duration).await;
    measuring.store(false, Ordering::Relaxed);
    let seconds = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.await?;
    }
    let histogram = histogram.lock().await;
    let records = records.load(Ordering::Relaxed);
    let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
    Ok(PhaseResult {
        phase,
        target_records_per_sec: target,
        records,
        errors: errors.load(Ordering::Relaxed),
        seconds,
        records_per_sec: records as f64 / seconds,
        mb_per_sec: records as f64 * args.record_size as f64 / seconds / 1e6,
        ack_p50_ms: ms(0.5),
        ack_p95_ms: ms(0.95),
        ack_p99_ms: ms(0.99),
        ack_p999_ms: ms(0.999),
        ack_max_ms: histogram.max() as f64 / 1000.0,
        acked_records_total: acked_total.load(Ordering::Relaxed),
    })
}

/// Values are half random, half zeros: about as compressible as typical
/// JSON or log payloads, so zstd neither wins nor loses unrealistically.
fn make_request(
    topic: &str,
    partition: u32,
    args: &BenchArgs,
    rng: &mut impl Rng,
) -> ProduceRequest {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let records = (0..args.batch_records)
        .map(|_| {
            let mut value = vec![0u8; args.record_size];
            rng.fill(&mut value[..args.record_size / 2]);
            Record {
                key: None,
                value: Some(Bytes::from(value)),
                headers: Vec::new(),
                timestamp_ms: Some(now),
            }
        })
        .collect();
    ProduceRequest {
        topic: topic.to_owned(),
        partitions: vec![PartitionRecords {
            partition,
            records,
            base_sequence: None,
        }],
        ..ProduceRequest::default()
    }
}

fn print_table(results: &[PhaseResult]) {
    println!(
        "{:<32} {:>12} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7}",
        "PHASE", "RECORDS/S", "MB/S", "P50 MS", "P95 MS", "P99 MS", "P99.9 MS", "ERRORS"
    );
    for r in results {
        println!(
            "{:<32} {:>12.0} {:>9.1} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>7}",
            r.phase,
            r.records_per_sec,
            r.mb_per_sec,
            r.ack_p50_ms,
            r.ack_p95_ms,
            r.ack_p99_ms,
            r.ack_p999_ms,
            r.errors
        );
    }
}
