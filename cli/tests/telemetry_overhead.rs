//! What telemetry costs: `stratus bench` at maximum rate against `stratus
//! dev` with OTLP export off and on (spans of every request and metrics every
//! second to an in-process OTLP receiver, `/metrics` scraped every second),
//! alternating in one run so both see the same machine. A measurement, not a
//! check: ignored by default, run in release mode:
//!
//! ```sh
//! cargo test --release -p stratus-cli --test telemetry_overhead -- --ignored --nocapture
//! ```

mod obs;

use std::process::Command;
use std::time::Duration;

use obs::ObservedDev;
use obs::receiver::Receiver;

const ROUNDS: usize = 2;

fn bench(server: &ObservedDev) -> (f64, f64, f64) {
    let workload = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../loadtests/workloads/a-max-throughput.yaml"
    );
    let out = tempfile::tempdir().expect("results directory");
    let output = Command::new(env!("CARGO_BIN_EXE_stratus"))
        .args([
            "bench",
            workload,
            "--json",
            "--no-plot",
            "--duration",
            "10s",
        ])
        .args(["--warmup", "2s", "--server", &server.url, "--out"])
        .arg(out.path())
        .output()
        .expect("run stratus bench");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results: serde_json::Value = serde_json::from_slice(&output.stdout).expect("bench JSON");
    let max = &results["runs"][0]["phases"][0];
    (
        max["produce_mb_per_sec"].as_f64().unwrap(),
        max["ack"]["p50_ms"].as_f64().unwrap(),
        max["ack"]["p99_ms"].as_f64().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a measurement: run with --release --ignored --nocapture"]
async fn throughput_with_exporters_on_and_off() {
    let receiver = Receiver::default();
    let endpoint = receiver.start().await;
    let mut rows = Vec::new();
    for round in 0..ROUNDS {
        for exporters in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let env: Vec<(&str, &str)> = if exporters {
                vec![
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
                    ("OTEL_METRIC_EXPORT_INTERVAL", "1000"),
                ]
            } else {
                Vec::new()
            };
            let server = ObservedDev::start(dir.path(), &env);
            let scraping = exporters.then(|| {
                let metrics = server.metrics.clone();
                std::thread::spawn(move || {
                    let scrape = ObservedDev::scraper(&metrics);
                    // Once a second, as Prometheus would, until the server stops.
                    while scrape().is_some() {
                        std::thread::sleep(Duration::from_secs(1));
                    }
                })
            });
            let (mb, p50, p99) = tokio::task::block_in_place(|| bench(&server));
            rows.push((round + 1, exporters, mb, p50, p99));
            server.terminate();
            if let Some(scraping) = scraping {
                let _ = scraping.join();
            }
        }
    }
    let spans = receiver.lock().spans.len();
    println!("| round | exporters | MB/s | ack p50 | ack p99 |");
    println!("|---|---|---|---|---|");
    for (round, exporters, mb, p50, p99) in &rows {
        let label = if *exporters { "on" } else { "off" };
        println!("| {round} | {label} | {mb:.1} | {p50:.1} ms | {p99:.1} ms |");
    }
    let mean = |on: bool| {
        let picked: Vec<f64> = rows.iter().filter(|r| r.1 == on).map(|r| r.2).collect();
        picked.iter().sum::<f64>() / picked.len() as f64
    };
    println!(
        "mean MB/s off {:.1}, on {:.1} ({:+.1}%); the receiver got {spans} spans",
        mean(false),
        mean(true),
        100.0 * (mean(true) / mean(false) - 1.0)
    );
    assert!(spans > 0, "spans were exported while exporters were on");
}
