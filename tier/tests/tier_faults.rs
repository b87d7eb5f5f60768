//! The fault injector: determinism for a seed, operation and path filters,
//! rates, latency, and the spec grammar. Time is paused, so hangs and
//! latencies are exact and free.

use std::sync::Arc;
use std::time::Duration;

use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{Error, ObjectStore, ObjectStoreExt};
use proptest::prelude::*;
use stratus_tier::faults::{
    DEFAULT_HANG, FAULT_STORE_NAME, FaultConfig, FaultRule, FaultStore, Latency,
};
use stratus_tier::operation::Operation;
use tokio::time::Instant;

fn store_with(rules: Vec<FaultRule>, seed: u64) -> (FaultStore<Arc<InMemory>>, Arc<InMemory>) {
    let memory = Arc::new(InMemory::new());
    (
        FaultStore::new(Arc::clone(&memory), FaultConfig { seed, rules }),
        memory,
    )
}

fn spec(s: &str) -> FaultConfig {
    s.parse()
        .unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
}

/// Outcome and duration of a fixed sequence of mixed calls.
async fn trace(seed: u64) -> Vec<(bool, Duration)> {
    let config =
        spec("put:error=0.2,latency=uniform(1ms,9ms);get|head:error=0.1,timeout=0.05,hang=2s");
    let store = FaultStore::new(InMemory::new(), FaultConfig { seed, ..config });
    let mut out = Vec::new();
    for i in 0..300 {
        let key = Path::from(format!("k/{}", i % 20));
        let start = Instant::now();
        let ok = match i % 3 {
            0 => store.put(&key, "v".into()).await.is_ok(),
            1 => store.get(&key).await.is_ok(),
            _ => store.head(&key).await.is_ok(),
        };
        out.push((ok, start.elapsed()));
    }
    out
}

#[tokio::test(start_paused = true)]
async fn same_seed_same_faults() {
    let first = trace(42).await;
    assert_eq!(first, trace(42).await);
    assert_ne!(first, trace(43).await);
    assert!(first.iter().any(|(ok, _)| !ok) && first.iter().any(|(ok, _)| *ok));
}

#[tokio::test(start_paused = true)]
async fn rules_respect_operations_and_path_prefix() {
    let (store, memory) = store_with(spec("put@wal/:error=1").rules, 0);
    let err = store.put(&"wal/x".into(), "v".into()).await.unwrap_err();
    match &err {
        Error::Generic { store, source } => {
            assert_eq!(*store, FAULT_STORE_NAME);
            assert!(
                source
                    .to_string()
                    .contains("injected error for put of \"wal/x\""),
                "{source}"
            );
        }
        other => panic!("expected an injected Generic error, got {other}"),
    }
    store.put(&"segments/x".into(), "v".into()).await.unwrap();
    store.put(&"walrus".into(), "v".into()).await.unwrap();
    memory.put(&"wal/y".into(), "v".into()).await.unwrap();
    store.get(&"wal/y".into()).await.unwrap();
    store.head(&"wal/y".into()).await.unwrap();
    assert_eq!(store.stats().errors, 1);
    assert_eq!(store.stats().calls, 5);
}

#[tokio::test(start_paused = true)]
async fn rates_are_roughly_right() {
    let (store, memory) = store_with(spec("head:error=0.05,timeout=0.05,hang=1h").rules, 9);
    let key = Path::from("k");
    memory.put(&key, "v".into()).await.unwrap();
    let (mut errors, mut hangs) = (0, 0);
    for _ in 0..10_000 {
        match tokio::time::timeout(Duration::from_secs(1), store.head(&key)).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => errors += 1,
            Err(_) => hangs += 1,
        }
    }
    assert!((350..=650).contains(&errors), "errors: {errors} of 10000");
    assert!((350..=650).contains(&hangs), "hangs: {hangs} of 10000");
    let stats = store.stats();
    assert_eq!(
        (stats.calls, stats.errors, stats.hangs),
        (10_000, errors, hangs)
    );
}

#[tokio::test(start_paused = true)]
async fn limit_caps_the_faults_of_a_rule() {
    let (store, _) = store_with(spec("put:error=1,limit=3").rules, 0);
    let mut outcomes = Vec::new();
    for i in 0..6 {
        outcomes.push(store.put(&format!("k{i}").into(), "v".into()).await.is_ok());
    }
    assert_eq!(outcomes, [false, false, false, true, true, true]);
}

#[tokio::test(start_paused = true)]
async fn hang_without_lost_ack_does_not_write() {
    let (store, memory) = store_with(spec("put:timeout=1,hang=10s").rules, 0);
    let key = Path::from("k");
    let start = Instant::now();
    let err = store.put(&key, "v".into()).await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_secs(10));
    assert!(err.to_string().contains("injected hang"), "{err}");
    assert!(
        memory.head(&key).await.is_err(),
        "a plain hang must not write"
    );
}

/// How long a call that must succeed took.
async fn timed(call: impl Future<Output = bool>) -> Duration {
    let start = Instant::now();
    assert!(call.await);
    start.elapsed()
}

#[tokio::test(start_paused = true)]
async fn latency_distributions() {
    let (store, memory) = store_with(
        spec("get:latency=5ms;head:latency=uniform(1ms,3ms);list:latency=spike(1ms,2s,0.01)").rules,
        5,
    );
    let key = Path::from("k");
    memory.put(&key, "v".into()).await.unwrap();
    assert_eq!(
        timed(async { store.get(&key).await.is_ok() }).await,
        Duration::from_millis(5)
    );
    for _ in 0..100 {
        let took = timed(async { store.head(&key).await.is_ok() }).await;
        assert!(
            took >= Duration::from_millis(1) && took <= Duration::from_millis(3),
            "{took:?}"
        );
    }
    let mut spikes = 0;
    for _ in 0..1_000 {
        match timed(async { store.list_with_delimiter(None).await.is_ok() }).await {
            d if d == Duration::from_secs(2) => spikes += 1,
            d => assert_eq!(d, Duration::from_millis(1)),
        }
    }
    assert!((1..=30).contains(&spikes), "spikes: {spikes} of 1000");
}

#[test]
fn spec_parses_every_setting() {
    let config = spec(
        " seed=7 ; put|head@wal/:error=0.05,timeout=0.01,lost_ack,limit=3,hang=2s ; *:latency=spike(5ms,2s,0.01) ;",
    );
    assert_eq!(config.seed, 7);
    let [wal, all] = &config.rules[..] else {
        panic!("two rules: {config:?}")
    };
    assert_eq!(
        wal.operations,
        [Operation::Put, Operation::Head].into_iter().collect()
    );
    assert_eq!(wal.path_prefix.as_deref(), Some("wal/"));
    assert_eq!(
        (wal.error_rate, wal.timeout_rate, wal.limit),
        (0.05, 0.01, Some(3))
    );
    assert!(wal.lost_ack);
    assert_eq!(wal.hang, Duration::from_secs(2));
    assert_eq!(all.operations.len(), Operation::ALL.len());
    assert_eq!(all.hang, DEFAULT_HANG);
    let spike = Latency::Spike {
        base: Duration::from_millis(5),
        spike: Duration::from_secs(2),
        probability: 0.01,
    };
    assert_eq!(all.latency, spike);
    assert_eq!(
        config.to_string(),
        "seed=7;put|head@wal/:error=0.05,timeout=0.01,hang=2s,lost_ack,limit=3;*:latency=spike(5ms,2s,0.01)"
    );
    assert_eq!(
        spec("put:latency=1.5s").rules[0].latency,
        Latency::Fixed(Duration::from_millis(1500))
    );
    assert_eq!(spec(""), FaultConfig::default());
}

#[test]
fn bad_specs_are_rejected_naming_the_part() {
    let cases = [
        ("put", "\"put\"", "needs ':'"),
        ("pot:error=0.1", "\"pot\"", "unknown object-store operation"),
        (":error=0.1", "\":error=0.1\"", "no operations"),
        ("put:error=1.5", "\"error=1.5\"", "outside 0..=1"),
        ("put:error=lots", "\"error=lots\"", "not a number"),
        (
            "put:error=0.6,timeout=0.6",
            "put:error=0.6,timeout=0.6",
            "error + timeout",
        ),
        (
            "put:latency=5 parsecs",
            "\"latency=5 parsecs\"",
            "not a duration",
        ),
        ("put:latency=uniform(5ms)", "uniform(5ms)", "two durations"),
        (
            "put:latency=uniform(9ms,1ms)",
            "uniform(9ms,1ms)",
            "min <= max",
        ),
        (
            "put:latency=spike(1ms,2s,2)",
            "spike(1ms,2s,2)",
            "outside 0..=1",
        ),
        ("put:frobnicate=1", "\"frobnicate=1\"", "unknown setting"),
        ("put:limit=-1", "\"limit=-1\"", "limit takes"),
        (
            "put:hang=99999999999h",
            "\"hang=99999999999h\"",
            "too large",
        ),
        ("seed=x", "\"seed=x\"", "seed must be"),
        ("seed=1;seed=2", "\"seed=2\"", "twice"),
    ];
    for (bad, part, reason) in cases {
        let err = bad.parse::<FaultConfig>().unwrap_err().to_string();
        assert!(
            err.contains(part) && err.contains(reason),
            "{bad:?} gave: {err}"
        );
    }
}

fn duration() -> impl Strategy<Value = Duration> {
    (
        0u64..10_000,
        prop::sample::select(vec![1u64, 1_000, 1_000_000, 1_000_000_000]),
    )
        .prop_map(|(n, unit)| Duration::from_nanos(n * unit))
}

fn latency() -> impl Strategy<Value = Latency> {
    prop_oneof![
        Just(Latency::None),
        duration().prop_map(Latency::Fixed),
        (duration(), duration()).prop_map(|(a, b)| Latency::Uniform {
            min: a.min(b),
            max: a.max(b)
        }),
        (duration(), duration(), 0.0..=1.0f64).prop_map(|(base, spike, probability)| {
            Latency::Spike {
                base,
                spike,
                probability,
            }
        }),
    ]
}

fn fault_rule() -> impl Strategy<Value = FaultRule> {
    let ops = prop::sample::subsequence(Operation::ALL.to_vec(), 1..=Operation::ALL.len());
    let prefix = prop::option::of("[a-z0-9/:@._-]{0,8}");
    (
        ops,
        prefix,
        0.0..=0.5f64,
        0.0..=0.5f64,
        duration(),
        any::<bool>(),
        prop::option::of(any::<u64>()),
        latency(),
    )
        .prop_map(
            |(ops, path_prefix, error_rate, timeout_rate, hang, lost_ack, limit, latency)| {
                FaultRule {
                    operations: ops.into_iter().collect(),
                    path_prefix,
                    error_rate,
                    timeout_rate,
                    hang,
                    lost_ack,
                    latency,
                    limit,
                }
            },
        )
}

proptest! {
    #[test]
    fn spec_round_trips(seed in any::<u64>(), rules in prop::collection::vec(fault_rule(), 0..4)) {
        let config = FaultConfig { seed, rules };
        let printed = config.to_string();
        let parsed: FaultConfig = printed.parse().map_err(|e| TestCaseError::fail(format!("{printed}: {e}")))?;
        prop_assert_eq!(parsed, config);
    }
}
