//! Produce throughput and acknowledgement latency through the SDK, with the
//! same workload run twice in one process: idempotent (the default) and, as
//! the baseline, without idempotence.
//!
//! Latency is per record, from `send` returning (buffered) to its delivery
//! future resolving (durable and committed), so it includes the linger.
//!
//! ```sh
//! stratus dev &
//! cargo run --release -p stratus-sdk --example bench -- grpc://127.0.0.1:7400 10s
//! ```

use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use hdrhistogram::Histogram;
use stratus_sdk::{Client, ProducerConfig, ProducerRecord, TopicConfig};
use tokio::sync::mpsc;

const PARTITIONS: u32 = 8;
const RECORD_BYTES: usize = 1024;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "grpc://127.0.0.1:7400".into());
    let duration = humantime_secs(args.next().as_deref().unwrap_or("10s"))?;
    let client = Client::connect(&url).await?;
    println!(
        "{:<16} {:>12} {:>9} {:>9} {:>9} {:>9}",
        "MODE", "RECORDS/S", "MB/S", "P50 MS", "P99 MS", "MAX MS"
    );
    for (name, idempotent) in [("idempotent", true), ("plain", false)] {
        let topic = format!("sdk-bench-{name}-{}", std::process::id());
        client
            .admin()
            .create_topic(&topic, PARTITIONS, TopicConfig::default())
            .await?;
        let (rate, histogram) = run(&client, &topic, idempotent, duration).await?;
        client.admin().delete_topic(&topic).await?;
        let ms = |v: u64| v as f64 / 1000.0;
        println!(
            "{name:<16} {rate:>12.0} {:>9.1} {:>9.2} {:>9.2} {:>9.2}",
            rate * RECORD_BYTES as f64 / 1e6,
            ms(histogram.value_at_quantile(0.5)),
            ms(histogram.value_at_quantile(0.99)),
            ms(histogram.max()),
        );
    }
    Ok(())
}

fn humantime_secs(text: &str) -> anyhow::Result<Duration> {
    let secs: u64 = text.trim_end_matches('s').parse()?;
    Ok(Duration::from_secs(secs))
}

/// Sends as fast as the producer's buffer admits for `duration`; returns
/// acknowledged records per second and the latency histogram (µs).
async fn run(
    client: &Client,
    topic: &str,
    idempotent: bool,
    duration: Duration,
) -> anyhow::Result<(f64, Histogram<u64>)> {
    let config = ProducerConfig::default()
        .idempotence(idempotent)
        .buffer_bytes(8 * 1024 * 1024);
    let producer = client.producer(config).await?;
    let (pending, mut inbox) = mpsc::channel(64 * 1024);
    let collector = tokio::spawn(async move {
        let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
        let mut waiting = FuturesUnordered::new();
        let mut open = true;
        while open || !waiting.is_empty() {
            tokio::select! {
                next = inbox.recv(), if open => match next {
                    Some((sent, delivery)) => waiting.push(async move {
                        let delivered: Result<_, stratus_sdk::Error> = delivery.await;
                        delivered.map(|_| Instant::elapsed(&sent))
                    }),
                    None => open = false,
                },
                Some(latency) = waiting.next(), if !waiting.is_empty() => {
                    histogram.record(latency?.as_micros() as u64)?;
                }
            }
        }
        anyhow::Ok(histogram)
    });
    let value = vec![b'x'; RECORD_BYTES];
    let started = Instant::now();
    let mut i = 0u64;
    while started.elapsed() < duration {
        let record = ProducerRecord::new(topic, value.clone()).key(format!("k{}", i % 1024));
        let delivery = producer.send(record).await?;
        pending.send((Instant::now(), delivery)).await?;
        i += 1;
    }
    drop(pending);
    let histogram = collector.await??;
    let elapsed = started.elapsed().as_secs_f64();
    producer.close().await?;
    Ok((histogram.len() as f64 / elapsed, histogram))
}
