//! Object-store chaos at the rates SlateDB tests under, together with
//! SIGKILLs, in real processes, checked by `stratus verify`: every call of
//! the tier (WAL objects, and segments, which `stratus dev` keeps in the
//! same store under `seg/`) fails 15% of the time as a connection reset
//! would, 10% as a 503 and 5% as a 429 would, and 2% of calls wait 400 ms
//! instead of 2 ms, while `verify --dev --kill-every` SIGKILLs the server
//! (its gateway and its in-process compactor, compacting every second) and
//! restarts it. No acknowledged record may be lost, duplicated, reordered or
//! misplaced, and producing must go on; the test prints the throughput with
//! and without chaos (figures in docs/testing.md).
//!
//! The injected errors are retryable, as resets, 503s and 429s are: the
//! tier's retry layer sees what it would see from S3 after the client's own
//! retries gave up.

use std::process::{Command, Output};

use serde_json::Value;

/// How long each run produces.
const PRODUCE_FOR: &str = "20s";
const KILL_EVERY: &str = "4s";

/// The rules apply in order and the first to draw a fault decides it, so
/// each rate is conditional on the rules before it not firing: 0.15, then
/// 0.10 / 0.85, then 0.05 / 0.75 give 15%, 10% and 5% of all calls.
const CHAOS: &str = "seed=2026;\
    *:error=0.15,latency=spike(2ms,400ms,0.02);\
    *:error=0.1176;\
    *:error=0.0667";

fn verify(topic: &str, env: &[(&str, &str)], kill: bool) -> (Output, Value) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_stratus"));
    command
        .args(["verify", "--dev", "--json", "--topic", topic])
        .args(["--partitions", "3", "--producers", "4"])
        .args(["--duration", PRODUCE_FOR, "--timeout", "90s"])
        .env_remove("STRATUS_SERVER")
        .env_remove("STRATUS_WAL_FAULTS")
        // The in-process compactor works during the run, and is killed too.
        .env("STRATUS_COMPACTOR__INTERVAL", "1s")
        .env("STRATUS_COMPACTOR__WAL_MAX_AGE", "1s")
        .envs(env.iter().copied());
    if kill {
        command.args(["--kill-every", KILL_EVERY]);
    }
    let output = command.output().expect("run stratus verify");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report = serde_json::from_str(stdout.trim()).unwrap_or(Value::Null);
    (output, report)
}

fn explain(output: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr (last 4000 bytes):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
            .chars()
            .rev()
            .take(4000)
            .collect::<String>()
            .chars()
            .rev()
            .collect::<String>()
    )
}

/// Acknowledged records per second of producing.
fn rate(report: &Value) -> f64 {
    let acknowledged = report["acknowledged"].as_f64().unwrap();
    acknowledged / report["produce_seconds"].as_f64().unwrap()
}

fn assert_clean(report: &Value) {
    assert_eq!(report["ok"], true, "{report}");
    let plain = &report["plain"];
    for figure in ["lost", "duplicated", "reordered", "gaps", "misplaced"] {
        assert_eq!(plain[figure], 0, "{figure} in {report}");
    }
    assert_eq!(plain["timed_out"], false, "{report}");
    assert_eq!(
        plain["read"], report["acknowledged"],
        "every acknowledged record read back: {report}"
    );
}

#[test]
fn tier_chaos_and_sigkills_lose_nothing_and_producing_goes_on() {
    let (calm_output, calm) = verify("calm", &[], false);
    assert!(calm_output.status.success(), "{}", explain(&calm_output));
    assert_clean(&calm);

    let (chaos_output, chaos) = verify("chaos", &[("STRATUS_WAL_FAULTS", CHAOS)], true);
    assert!(chaos_output.status.success(), "{}", explain(&chaos_output));
    assert_clean(&chaos);
    assert!(
        chaos["kills"].as_u64().unwrap() >= 3,
        "the server was killed during the run: {chaos}"
    );

    let (calm_rate, chaos_rate) = (rate(&calm), rate(&chaos));
    eprintln!(
        "acknowledged records/s: {calm_rate:.0} without chaos, {chaos_rate:.0} with 30% tier \
         errors, 2% 400 ms spikes and a SIGKILL every {KILL_EVERY} ({:.0}%); {} kills, {} \
         records not acknowledged",
        100.0 * chaos_rate / calm_rate,
        chaos["kills"],
        chaos["failed"]
    );
    assert!(
        chaos_rate >= calm_rate * 0.05,
        "producing stalled under chaos: {chaos_rate:.0} records/s against {calm_rate:.0} \
         without\n{chaos}"
    );
}
