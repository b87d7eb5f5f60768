//! Two compactors at once never lose or duplicate data: shard leases keep
//! them apart, and a compactor that stalls past its lease has its index
//! swap fenced by the new owner's higher generation; its segment becomes an
//! orphan that garbage collection deletes.
//!
//! Failpoints are process-global: only the stalled-owner test uses one, and
//! it acts only on the thread it names.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Fixture, assert_same_records, eager_config, noise, read_everything, record, settle};
use object_store::ObjectStore;
use object_store::memory::InMemory;
use object_store::throttle::{ThrottleConfig, ThrottledStore};
use stratus_compactor::clock::{Clock, ManualClock};
use stratus_compactor::failpoint::AFTER_SEGMENT_PUT;
use stratus_compactor::lease::Lease;
use stratus_compactor::{Compactor, CompactorConfig, PassReport};
use stratus_storage::topic::{TopicConfig, TopicRecord};

const PARTITIONS: u32 = 4;
const ROUNDS: usize = 80;
const LEASE_TTL: Duration = Duration::from_secs(1);
/// The clock moves this much per produce round.
const ROUND_MS: i64 = 250;
/// How far each reading of the clock moves it in the concurrent test.
const TICK_MS: i64 = 50;

fn config() -> CompactorConfig {
    CompactorConfig {
        lease_ttl: LEASE_TTL,
        ..eager_config()
    }
}

/// Acked records by partition: `(offset, value)` in the order acked.
type Acked = BTreeMap<u32, Vec<(i64, String)>>;

/// Appends one WAL object with a batch for two partitions and records what
/// the log acknowledged.
async fn produce_round(fx: Arc<Fixture>, topic: TopicRecord, round: usize) -> Acked {
    let now = fx.clock.now_ms();
    let partitions = [round as u32 % PARTITIONS, (round as u32 + 1) % PARTITIONS];
    let batches: Vec<_> = partitions
        .iter()
        .map(|&p| {
            let records = (0..3)
                .map(|i| {
                    let value = format!("p{p}-r{round}-{i}-{}", noise(round as u64, 150));
                    record(&format!("k{i}"), Some(&value), now)
                })
                .collect();
            (p, records)
        })
        .collect();
    let bases = fx.produce_acked(&topic, &batches).await;
    let mut acked = Acked::new();
    for ((p, records), base) in batches.iter().zip(bases) {
        let acked = acked.entry(*p).or_default();
        for (i, r) in records.iter().enumerate() {
            let value = String::from_utf8(r.value.as_ref().unwrap().to_vec()).unwrap();
            acked.push((base + i as i64, value));
        }
    }
    fx.clock.advance_ms(ROUND_MS);
    acked
}

/// The shared test clock, moved on by every reading: a pass reads the clock
/// at each lease renewal, job and swap, so leases run out in the middle of
/// passes and the two compactors keep taking shards from each other.
#[derive(Debug)]
struct TickingClock {
    clock: ManualClock,
    tick_ms: i64,
}

impl Clock for TickingClock {
    fn now_ms(&self) -> i64 {
        self.clock.advance_ms(self.tick_ms);
        self.clock.now_ms()
    }
}

fn ticking_compactor(fx: &Fixture) -> Arc<Compactor> {
    let clock = TickingClock {
        clock: fx.clock.clone(),
        tick_ms: TICK_MS,
    };
    Arc::new(Compactor::with_clock(
        fx.log.clone(),
        config(),
        Arc::new(clock),
    ))
}

fn spawn_pass(compactor: &Arc<Compactor>) -> tokio::task::JoinHandle<PassReport> {
    let compactor = compactor.clone();
    tokio::spawn(async move { compactor.run_pass().await.unwrap() })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_compactors_at_once_keep_every_acked_record_exactly_once() {
    // A millisecond per GET and PUT, so jobs take long enough to overlap.
    let slow = || -> Arc<dyn ObjectStore> {
        let config = ThrottleConfig {
            wait_get_per_call: Duration::from_millis(1),
            wait_put_per_call: Duration::from_millis(1),
            ..ThrottleConfig::default()
        };
        Arc::new(ThrottledStore::new(InMemory::new(), config))
    };
    let fx = Arc::new(Fixture::with_tiers(slow(), slow()));
    fx.run_ahead_of_wall_clock();
    let topic = fx.topic("t", PARTITIONS, TopicConfig::default()).await;
    let a = ticking_compactor(&fx);
    let b = ticking_compactor(&fx);
    let mut acked = Acked::new();
    let mut wal_rewrites = 0;
    for round in 0..ROUNDS {
        // A round's append runs while both compactors run a pass. The
        // number of passes is fixed, so the ticking clock stays within
        // minutes of the wall clock: far from the orphan grace, which
        // would otherwise let a pass delete a WAL object not yet committed.
        let producing = tokio::spawn(produce_round(fx.clone(), topic.clone(), round));
        let (ra, rb, produced) = tokio::join!(spawn_pass(&a), spawn_pass(&b), producing);
        // Job errors are allowed here (with no object grace, one compactor
        // may delete what the other is about to read) and so are fenced
        // swaps: the next pass retries, and settling below must be clean.
        wal_rewrites += ra.unwrap().wal_rewrites + rb.unwrap().wal_rewrites;
        for (partition, records) in produced.unwrap() {
            acked.entry(partition).or_default().extend(records);
        }
    }
    assert!(wal_rewrites > 0);

    // Past every lease and the orphan grace, so leftovers of abandoned swaps
    // are collected too, by a compactor whose clock stands still (it never
    // loses its own lease mid-job).
    fx.clock.advance_ms(2 * 60 * 60 * 1000);
    settle(&fx, &fx.compactor(config())).await;
    for partition in 0..PARTITIONS {
        let read: Vec<(i64, String)> = fx
            .read_all(&topic, partition)
            .await
            .iter()
            .map(|r| {
                let value = String::from_utf8(r.value.as_ref().unwrap().to_vec()).unwrap();
                (r.offset, value)
            })
            .collect();
        let expected = &acked[&partition];
        assert_eq!(read.len(), expected.len(), "partition {partition}");
        assert!(
            read == *expected,
            "partition {partition}: records differ from what was acked"
        );
    }
    fx.assert_index_sound(&topic).await;
    fx.assert_no_leaks(&[&topic]).await;
}

/// Reads the lease of `shard`.
async fn lease(fx: &Fixture, shard: u32) -> Option<Lease> {
    let mut tx = fx.log.meta().begin().await.unwrap();
    let bytes = tx
        .get(&fx.log.keys().compactor_lease(shard))
        .await
        .unwrap()?;
    Lease::decode(&bytes)
}

/// A stalls right after writing its first segment; B takes the shard over
/// after the lease expires and compacts everything; then A resumes.
#[test]
fn a_stalled_owner_is_fenced_and_its_segment_collected() {
    let scenario = fail::FailScenario::setup();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // One shard, so every partition is under the lease A stalls in.
    let config = CompactorConfig {
        lease_shards: 1,
        ..config()
    };
    let fx = Arc::new(Fixture::new());
    fx.run_ahead_of_wall_clock();
    let topic = runtime.block_on(async {
        let topic = fx.topic("t", 3, TopicConfig::default()).await;
        for flush in 0..4u64 {
            let now = fx.clock.now_ms();
            let batches: Vec<_> = (0..3)
                .map(|p| {
                    let value = noise(flush * 10 + u64::from(p), 300);
                    (p, vec![record(&format!("k{flush}"), Some(&value), now)])
                })
                .collect();
            fx.produce(&topic, &batches).await;
        }
        topic
    });
    let before = runtime.block_on(read_everything(&fx, &topic));
    assert!(runtime.block_on(fx.segment_objects()).is_empty());

    let (reached_tx, reached_rx) = mpsc::channel::<()>();
    let (resume_tx, resume_rx) = mpsc::channel::<()>();
    let (reached_tx, resume_rx) = (Mutex::new(reached_tx), Mutex::new(resume_rx));
    let stalled = AtomicBool::new(false);
    fail::cfg_callback(AFTER_SEGMENT_PUT, move || {
        let is_a = std::thread::current().name() == Some("compactor-a");
        if !is_a || stalled.swap(true, Ordering::SeqCst) {
            return;
        }
        reached_tx.lock().unwrap().send(()).unwrap();
        resume_rx.lock().unwrap().recv().unwrap();
    })
    .unwrap();

    let a = fx.compactor(config.clone());
    let a_owner = a.owner().to_owned();
    let a_thread = std::thread::Builder::new()
        .name("compactor-a".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(a.run_pass()).unwrap()
        })
        .unwrap();
    reached_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("compactor A never wrote a segment");

    // A holds the shard and has written a segment nothing references yet.
    let a_segments = runtime.block_on(fx.segment_objects());
    assert_eq!(a_segments.len(), 1, "{a_segments:?}");
    let a_lease = runtime.block_on(lease(&fx, 0)).unwrap();
    assert_eq!(a_lease.owner, a_owner);

    // A's lease runs out; B takes the shard over and does A's job.
    fx.clock.advance_ms(2 * LEASE_TTL.as_millis() as i64);
    let b = fx.compactor(config.clone());
    let b_report = runtime.block_on(b.run_pass()).unwrap();
    assert!(b_report.errors.is_empty(), "{:?}", b_report.errors);
    assert_eq!(b_report.shards_leased, 1, "{b_report:?}");
    assert_eq!(b_report.wal_rewrites, 3, "{b_report:?}");
    let b_lease = runtime.block_on(lease(&fx, 0)).unwrap();
    assert_eq!(b_lease.owner, b.owner());
    assert!(b_lease.generation > a_lease.generation);
    assert_same_records(&runtime.block_on(read_everything(&fx, &topic)), &before);

    // A resumes: its swap is fenced, or its lease renewal (due while it
    // stalled) finds the lease gone first and stops the job; either way it
    // changes nothing.
    resume_tx.send(()).unwrap();
    let a_report = a_thread.join().unwrap();
    fail::remove(AFTER_SEGMENT_PUT);
    assert!(a_report.fenced + a_report.leases_lost > 0, "{a_report:?}");
    assert_eq!(a_report.wal_rewrites, 0, "{a_report:?}");
    assert_same_records(&runtime.block_on(read_everything(&fx, &topic)), &before);
    runtime.block_on(fx.assert_index_sound(&topic));
    // A fenced compactor leaves the shard free for the one that fenced it.
    let again = runtime.block_on(b.run_pass()).unwrap();
    assert_eq!(again.shards_leased, 1, "{again:?}");
    // A's segment is young: kept for the orphan grace, as an in-flight
    // commit would be.
    let a_segment = a_segments.first().unwrap();
    assert!(runtime.block_on(fx.segment_objects()).contains(a_segment));

    // Past the orphan grace, a fresh run deletes it.
    fx.clock.advance_ms(2 * 60 * 60 * 1000);
    let reports = runtime.block_on(settle(&fx, &fx.compactor(config)));
    assert!(reports.iter().map(|r| r.orphans_deleted).sum::<u64>() >= 1);
    assert!(!runtime.block_on(fx.segment_objects()).contains(a_segment));
    assert_same_records(&runtime.block_on(read_everything(&fx, &topic)), &before);
    runtime.block_on(fx.assert_index_sound(&topic));
    runtime.block_on(fx.assert_no_leaks(&[&topic]));
    scenario.teardown();
}
