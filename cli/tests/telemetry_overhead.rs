//! What telemetry costs: `stratus bench` at maximum rate against `stratus
//! dev` with OTLP export off, on (spans of every request and metrics every
//! second to an in-process OTLP receiver, `/metrics` scraped every second)
//! and on with 10% of traces sampled (`OTEL_TRACES_SAMPLER`), alternating in
//! one run so all see the same machine. A measurement, not a
//! check: ignored by default, run in release mode:
//!
//! ```sh
//! cargo test --release -p stratus-cli --features bench --test telemetry_overhead -- --ignored --nocapture
//! ```

mod obs;

use std::process::Command;
use std::time::Duration;

use obs::ObservedDev;
use obs::receiver::Receiver;

const ROUNDS: usize = 3;

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

/// What the gateway exports in a bench run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Setting {
    /// Nothing exported (the instruments still record).
    Off,
    /// Every span and metrics every second over OTLP, `/metrics` scraped.
    On,
    /// As `On`, with 10% of traces sampled through the standard variables.
    Sampled,
}

impl Setting {
    const ALL: [Setting; 3] = [Setting::Off, Setting::On, Setting::Sampled];

    fn label(self) -> &'static str {
        match self {
            Setting::Off => "off",
            Setting::On => "on",
            Setting::Sampled => "on, 10% sampled",
        }
    }

    fn env(self, endpoint: &str) -> Vec<(&'static str, String)> {
        let exporting = vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.to_owned()),
            ("OTEL_METRIC_EXPORT_INTERVAL", "1000".to_owned()),
        ];
        match self {
            Setting::Off => Vec::new(),
            Setting::On => exporting,
            Setting::Sampled => {
                let mut env = exporting;
                env.push(("OTEL_TRACES_SAMPLER", "parentbased_traceidratio".to_owned()));
                env.push(("OTEL_TRACES_SAMPLER_ARG", "0.1".to_owned()));
                env
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a measurement: run with --release --ignored --nocapture"]
async fn throughput_with_exporters_on_and_off() {
    let receiver = Receiver::default();
    let endpoint = receiver.start().await;
    let mut rows = Vec::new();
    for round in 0..ROUNDS {
        for setting in Setting::ALL {
            let dir = tempfile::tempdir().unwrap();
            let env = setting.env(&endpoint);
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let server = ObservedDev::start(dir.path(), &env);
            let scraping = (setting != Setting::Off).then(|| {
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
            rows.push((round + 1, setting, mb, p50, p99));
            server.terminate();
            if let Some(scraping) = scraping {
                let _ = scraping.join();
            }
        }
    }
    let spans = receiver.lock().spans.len();
    println!("| round | exporters | MB/s | ack p50 | ack p99 |");
    println!("|---|---|---|---|---|");
    for (round, setting, mb, p50, p99) in &rows {
        println!(
            "| {round} | {} | {mb:.1} | {p50:.1} ms | {p99:.1} ms |",
            setting.label()
        );
    }
    let mean = |setting: Setting| {
        let picked: Vec<f64> = rows
            .iter()
            .filter(|r| r.1 == setting)
            .map(|r| r.2)
            .collect();
        picked.iter().sum::<f64>() / picked.len() as f64
    };
    let off = mean(Setting::Off);
    for setting in [Setting::On, Setting::Sampled] {
        println!(
            "mean MB/s off {off:.1}, {} {:.1} ({:+.1}%)",
            setting.label(),
            mean(setting),
            100.0 * (mean(setting) / off - 1.0)
        );
    }
    println!("the receiver got {spans} spans");
    assert!(spans > 0, "spans were exported while exporters were on");
}
