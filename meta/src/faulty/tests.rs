//! Each kind of fault alone, at rate 1, does what the module promises; the
//! same seed gives the same faults; bad rates are refused.

use std::time::Duration;

use super::*;
use crate::memory::MemoryMetaStore;

fn only(configure: impl FnOnce(&mut FaultConfig)) -> FaultyMetaStore<MemoryMetaStore> {
    let mut config = FaultConfig::none(7);
    configure(&mut config);
    FaultyMetaStore::new(MemoryMetaStore::new(), config)
}

/// Commits `k = v` through `store`, answering what the commit said.
async fn commit_k(store: &dyn MetaStore) -> Result<CommitInfo, MetaError> {
    let mut tx = store.begin().await?;
    tx.set(b"k", b"v")?;
    tx.commit().await
}

async fn stored_k<S: MetaStore>(store: &FaultyMetaStore<S>) -> Option<Bytes> {
    let mut tx = store.inner().begin().await.expect("begin");
    tx.get(b"k").await.expect("get")
}

#[tokio::test]
async fn conflicts_reach_nothing() {
    let store = only(|c| c.conflict = 1.0);
    assert!(matches!(commit_k(&store).await, Err(MetaError::Conflict)));
    assert_eq!(stored_k(&store).await, None);
    assert_eq!(store.faults().counts().conflicts, 1);
}

#[tokio::test]
async fn an_unknown_outcome_may_hide_a_commit_or_none() {
    let store = only(|c| c.unknown_committed = 1.0);
    assert!(matches!(
        commit_k(&store).await,
        Err(MetaError::CommitUnknownResult)
    ));
    assert_eq!(stored_k(&store).await.as_deref(), Some(&b"v"[..]));
    assert_eq!(store.faults().counts().unknown_committed, 1);

    let store = only(|c| c.unknown_not_committed = 1.0);
    assert!(matches!(
        commit_k(&store).await,
        Err(MetaError::CommitUnknownResult)
    ));
    assert_eq!(stored_k(&store).await, None);
    assert_eq!(store.faults().counts().unknown_not_committed, 1);
}

#[tokio::test]
async fn a_refused_commit_keeps_its_own_error() {
    let store = only(|c| c.unknown_committed = 1.0);
    let mut tx = store.begin().await.expect("begin");
    let value = vec![0u8; crate::limits::MAX_VALUE_BYTES];
    for i in 0..=(crate::limits::MAX_TRANSACTION_BYTES / value.len()) {
        tx.set(format!("big/{i}").as_bytes(), &value).expect("set");
    }
    assert!(matches!(
        tx.commit().await,
        Err(MetaError::TransactionTooLarge { .. })
    ));
    assert_eq!(store.faults().counts().injected(), 0);
}

#[tokio::test]
async fn transient_errors_are_retryable_and_everywhere() {
    let store = only(|c| c.transient = 1.0);
    let Err(error) = store.begin().await else {
        panic!("begin must fail");
    };
    assert!(error.is_retryable() && !error.maybe_committed(), "{error}");

    let mut kinds = std::collections::HashSet::new();
    for _ in 0..64 {
        if let Err(error) = store.begin().await {
            assert!(error.is_retryable());
            kinds.insert(std::mem::discriminant(&error));
        }
    }
    assert_eq!(kinds.len(), 3, "too old, future version and busy");
    assert_eq!(store.faults().counts().transient, 65);

    let store = only(|c| c.transient = 0.5);
    let (mut reads, mut commits) = (0, 0);
    while reads == 0 || commits == 0 {
        let Ok(mut tx) = store.begin().await else {
            continue;
        };
        if tx.get(b"k").await.is_err() {
            reads += 1;
            continue;
        }
        tx.set(b"k", b"v").expect("set");
        if let Err(error) = tx.commit().await {
            assert!(error.is_retryable(), "{error}");
            commits += 1;
        }
    }
}

#[tokio::test(start_paused = true)]
async fn delays_sleep_in_tokio_time() {
    let store = only(|c| {
        c.delay = 1.0;
        // Two delays stay within the transaction's age limit.
        c.max_delay = Duration::from_secs(2);
    });
    let start = tokio::time::Instant::now();
    commit_k(&store).await.expect("commit");
    let counts = store.faults().counts();
    // One delay before `begin`, one before the commit.
    assert_eq!(counts.delays, 2);
    assert_eq!(counts.passed, 1);
    let elapsed = start.elapsed();
    assert!(
        elapsed > Duration::ZERO && elapsed <= Duration::from_secs(4),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn read_only_commits_and_watches_pass_through() {
    let store = only(|c| {
        c.conflict = 0.5;
        c.unknown_committed = 0.5;
    });
    for _ in 0..16 {
        let mut tx = store.begin().await.expect("begin");
        tx.get(b"k").await.expect("get");
        tx.commit()
            .await
            .expect("a read-only commit is not faulted");
    }
    assert_eq!(store.faults().counts().injected(), 0);
}

/// Runs a fixed sequence of transactions and returns the faults it met.
async fn sequence(seed: u64) -> (FaultCounts, u64) {
    let store = FaultyMetaStore::new(
        MemoryMetaStore::new(),
        FaultConfig {
            conflict: 0.2,
            unknown_committed: 0.1,
            unknown_not_committed: 0.1,
            transient: 0.1,
            delay: 0.5,
            max_delay: Duration::from_millis(50),
            ..FaultConfig::none(seed)
        },
    );
    for i in 0..200u32 {
        let Ok(mut tx) = store.begin().await else {
            continue;
        };
        if tx.get(b"k").await.is_err() {
            continue;
        }
        tx.set(b"k", &i.to_le_bytes()).expect("set");
        let _ = tx.commit().await;
    }
    let faults = store.faults();
    (faults.counts(), faults.fingerprint())
}

#[tokio::test(start_paused = true)]
async fn the_same_seed_gives_the_same_faults() {
    let (first, print) = sequence(42).await;
    assert!(first.every_kind(), "{first:?}");
    assert_eq!(sequence(42).await, (first, print));
    let (_, other) = sequence(43).await;
    assert_ne!(other, print, "another seed, other faults");
}

#[test]
fn bad_rates_are_refused() {
    let config = FaultConfig {
        conflict: 1.5,
        ..FaultConfig::none(0)
    };
    assert!(config.validate().expect_err("refused").contains("conflict"));
    let config = FaultConfig {
        conflict: 0.6,
        unknown_committed: 0.6,
        ..FaultConfig::none(0)
    };
    assert!(config.validate().expect_err("refused").contains("add up"));
    assert!(FaultConfig::none(0).validate().is_ok());
}
