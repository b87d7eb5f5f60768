//! A job that runs longer than `lease_ttl` keeps its lease: the compactor
//! renews it while the job reads, so one compactor alone is never fenced.
//! Before renewal ran during jobs, a WAL rewrite reading chunks one slow GET
//! at a time outlived its 1 s lease and every swap of it was fenced.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Fixture, eager_config, read_everything, record};
use object_store::ObjectStore;
use object_store::memory::InMemory;
use object_store::throttle::{ThrottleConfig, ThrottledStore};
use stratus_compactor::clock::SystemClock;
use stratus_compactor::{Compactor, CompactorConfig};
use stratus_storage::topic::TopicConfig;

/// WAL chunks of the backlog, each read with its own GET.
const CHUNKS: usize = 40;
/// Latency of each GET: the job reads for `CHUNKS * GET_LATENCY` = 2 s.
const GET_LATENCY: Duration = Duration::from_millis(50);
const LEASE_TTL: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_longer_than_the_lease_ttl_commits() {
    let wal = Arc::new(ThrottledStore::new(
        InMemory::new(),
        ThrottleConfig::default(),
    ));
    let segments: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let fx = Fixture::with_tiers(wal.clone(), segments);
    let topic = fx.topic("backlog", 1, TopicConfig::default()).await;
    let now = stratus_storage::log::now_ms();
    for chunk in 0..CHUNKS {
        let value = format!("chunk-{chunk}");
        fx.produce(&topic, &[(0, vec![record("k", Some(&value), now)])])
            .await;
    }
    let before = read_everything(&fx, &topic).await;
    // Slow only the compactor's reads, not the produce above.
    wal.config_mut(|c| c.wait_get_per_call = GET_LATENCY);

    let config = CompactorConfig {
        lease_ttl: LEASE_TTL,
        // One job takes the whole backlog: far more bytes than it holds.
        segment_bytes: 1024 * 1024,
        block_bytes: 64 * 1024,
        lease_shards: 1,
        ..eager_config()
    };
    // The wall clock: the lease must outlive real time passing in the job.
    let compactor = Compactor::with_clock(fx.log.clone(), config, Arc::new(SystemClock));
    let started = Instant::now();
    let report = compactor.run_pass().await.unwrap();
    let took = started.elapsed();

    assert!(
        took > LEASE_TTL,
        "the job must outlast the lease for this test to mean anything; took {took:?}"
    );
    assert_eq!(report.fenced, 0, "a lone compactor was fenced: {report:?}");
    assert_eq!(report.leases_lost, 0, "{report:?}");
    assert_eq!(report.wal_rewrites, 1, "{report:?}");
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    wal.config_mut(|c| c.wait_get_per_call = Duration::ZERO);
    assert_eq!(
        read_everything(&fx, &topic).await,
        before,
        "compaction changed what reads return"
    );
    fx.assert_index_sound(&topic).await;
}
