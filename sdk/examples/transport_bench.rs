//! Produce throughput and acknowledgement latency through the SDK over gRPC
//! and over QUIC, in the same run against the same gateway.
//!
//! ```sh
//! stratus dev --data-dir /tmp/bench &   # prints its gRPC and quic:// URLs
//! cargo run --release -p stratus-sdk --example transport_bench -- \
//!     grpc://127.0.0.1:7400 'quic://127.0.0.1:7401?ca=/tmp/bench/quic-cert.pem' 10
//! ```
//!
//! Each transport gets a fresh topic of 16 partitions, 1 KiB records, and a
//! fixed window of records in flight (closed loop), one batch in flight per
//! partition; the phases alternate
//! gRPC, QUIC, gRPC, QUIC so drift in the machine hits both alike.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use stratus_sdk::{Client, ProducerConfig, ProducerRecord, TopicConfig};
use tokio::task::JoinSet;

const PARTITIONS: u32 = 16;
const RECORD_BYTES: usize = 1024;
const IN_FLIGHT: usize = 256;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [grpc, quic, seconds] = args.as_slice() else {
        return Err("usage: transport_bench GRPC_URL QUIC_URL SECONDS_PER_PHASE".into());
    };
    let phase = Duration::from_secs(seconds.parse()?);
    println!("| phase | transport | MB/s | records/s | ack p50 | ack p99 |");
    println!("|---|---|---|---|---|---|");
    for round in 0..2 {
        for (name, url) in [("gRPC", grpc), ("QUIC", quic)] {
            let topic = format!(
                "bench-{}-{round}-{}",
                name.to_lowercase(),
                std::process::id()
            );
            let (bytes, records, latency) = run(url, &topic, phase).await?;
            let secs = phase.as_secs_f64();
            println!(
                "| {} | {name} | {:.1} | {:.0} | {:.1} ms | {:.1} ms |",
                round + 1,
                bytes as f64 / secs / 1e6,
                records as f64 / secs,
                latency.value_at_quantile(0.5) as f64 / 1000.0,
                latency.value_at_quantile(0.99) as f64 / 1000.0,
            );
        }
    }
    Ok(())
}

/// Produces for `phase` with `IN_FLIGHT` records outstanding; returns bytes
/// and records acknowledged and the ack latency histogram (microseconds).
async fn run(
    url: &str,
    topic: &str,
    phase: Duration,
) -> Result<(u64, u64, Histogram<u64>), Box<dyn std::error::Error>> {
    let client = Client::connect(url).await?;
    client
        .admin()
        .create_topic(topic, PARTITIONS, TopicConfig::default())
        .await?;
    // One batch in flight per partition (16 in flight in all): the same
    // for both transports, and the producer's ordering of pipelined
    // sequences stays out of the comparison.
    let producer = client
        .producer(ProducerConfig::default().max_in_flight_per_partition(1))
        .await?;
    let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let value = vec![b'x'; RECORD_BYTES];
    let mut pending = JoinSet::new();
    let (mut records, mut sent) = (0u64, 0u64);
    let start = Instant::now();
    while start.elapsed() < phase {
        while pending.len() < IN_FLIGHT {
            let record = ProducerRecord::new(topic, value.clone()).key(sent.to_string());
            sent += 1;
            let sent_at = Instant::now();
            let delivery = producer.send(record).await?;
            pending.spawn(async move { delivery.await.map(|_| sent_at.elapsed()) });
        }
        if let Some(done) = pending.join_next().await {
            let elapsed = done??;
            latency.record(elapsed.as_micros().max(1) as u64)?;
            records += 1;
        }
    }
    while let Some(done) = pending.join_next().await {
        done??;
    }
    producer.close().await?;
    Ok((records * RECORD_BYTES as u64, records, latency))
}
