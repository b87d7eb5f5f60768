//! Figures for the README: records/s through the local Runtime API with
//! batch sizes 100 and 1,000, and latency from produce to function start.
//! Ignored by default; run from a release build:
//!
//! ```sh
//! cargo test --release -p stratus-cli --test suite -- --ignored --nocapture triggers::bench
//! ```

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use stratus_sdk::{Client, ProducerConfig, ProducerRecord};

use crate::common::{DevServer, create_topic};
use crate::triggers::support::{
    ANY_LOCAL_PORT, DispatcherProcess, Function, committed, stratus, wait_for,
};

const PARTITIONS: u32 = 4;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn produce(client: &Client, topic: &str, count: usize, value: &[u8]) {
    let producer = client.producer(ProducerConfig::default()).await.unwrap();
    let mut futures = Vec::with_capacity(count);
    for i in 0..count {
        let record = ProducerRecord::new(topic, value.to_vec()).key(format!("k{i}"));
        futures.push(producer.send(record).await.unwrap());
    }
    for f in futures {
        f.await.unwrap();
    }
}

/// A backlog of `count` records drained by the function: records/s from
/// starting the function to the last commit.
async fn throughput(
    server: &DevServer,
    dispatcher: &DispatcherProcess,
    client: &Client,
    batch: usize,
    count: usize,
) -> f64 {
    let topic = format!("bench-{batch}");
    create_topic(server, &topic, PARTITIONS, None).await;
    produce(client, &topic, count, &[b'x'; 100]).await;
    let name = format!("bench-fn-{batch}");
    stratus(
        server,
        &[
            "trigger",
            "create",
            &name,
            "--topic",
            &topic,
            "--local",
            ANY_LOCAL_PORT,
            "--batch-size",
            &batch.to_string(),
        ],
    );
    let runtime = dispatcher.runtime_api(&name);
    let start = Instant::now();
    let function = Function::start(&runtime, &[("EXAMPLE_QUIET", "1")]);
    let group = format!("trigger-{name}");
    wait_for(
        "the backlog drained",
        Duration::from_secs(600),
        async || committed(server, &group).await.values().sum::<i64>() >= count as i64,
    )
    .await;
    let elapsed = start.elapsed().as_secs_f64();
    let batches = function.lines.lock().unwrap().len();
    function.kill();
    let rate = count as f64 / elapsed;
    println!(
        "batch size {batch}: {count} records in {elapsed:.2} s = {rate:.0} records/s ({batches} invocations)"
    );
    rate
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with --release -- --ignored --nocapture bench"]
async fn bench_local_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start_with(dir.path(), &["--no-dispatcher"]);
    let dispatcher = DispatcherProcess::start(&server);
    let client = Client::connect(&server.url).await.unwrap();
    throughput(&server, &dispatcher, &client, 100, 100_000).await;
    throughput(&server, &dispatcher, &client, 1000, 100_000).await;

    // Latency: one record at a time, stamped by the producer at send, to the
    // moment the function starts on it.
    create_topic(&server, "latency", 1, None).await;
    stratus(
        &server,
        &[
            "trigger",
            "create",
            "latency-fn",
            "--topic",
            "latency",
            "--local",
            ANY_LOCAL_PORT,
        ],
    );
    let function = Function::start(&dispatcher.runtime_api("latency-fn"), &[]);
    let producer = client
        .producer(ProducerConfig::default().linger(Duration::ZERO))
        .await
        .unwrap();
    const SAMPLES: usize = 300;
    for i in 0..SAMPLES {
        let record = ProducerRecord::new("latency", format!("{i}")).timestamp_ms(now_ms());
        producer.send(record).await.unwrap().await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    wait_for(
        "every latency sample",
        Duration::from_secs(60),
        async || function.records().len() >= SAMPLES,
    )
    .await;
    let mut lags: Vec<i64> = function
        .lines
        .lock()
        .unwrap()
        .iter()
        .filter_map(|l| l["lag_ms"].as_i64())
        .collect();
    lags.sort_unstable();
    let pct = |p: f64| lags[((lags.len() as f64 * p) as usize).min(lags.len() - 1)];
    println!(
        "produce → function start: p50 {} ms, p90 {} ms, p99 {} ms, max {} ms ({} samples)",
        pct(0.5),
        pct(0.9),
        pct(0.99),
        lags[lags.len() - 1],
        lags.len()
    );
    wait_for(
        "every latency sample committed",
        Duration::from_secs(60),
        async || committed(&server, "trigger-latency-fn").await.get(&0) == Some(&(SAMPLES as i64)),
    )
    .await;
    function.kill();
}
