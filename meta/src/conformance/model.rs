//! Property test: random operations in one transaction, over random committed
//! data, behave like the same operations on a `BTreeMap`, before and after
//! commit. Keys come from a tiny alphabet so operations collide often.

use std::collections::BTreeMap;

use bytes::Bytes;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use crate::memory::MemoryMetaStore;
use crate::redb_store::RedbMetaStore;
use crate::{MetaError, MetaStore, RangeOptions};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

#[derive(Debug, Clone)]
enum Op {
    Set(Vec<u8>, Vec<u8>),
    Clear(Vec<u8>),
    ClearRange(Vec<u8>, Vec<u8>),
    Add(Vec<u8>, i64),
    Get(Vec<u8>),
    GetRange(Vec<u8>, Vec<u8>, RangeOptions),
}

fn key() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(0u8..4, 0..3)
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..10)
}

fn delta() -> impl Strategy<Value = i64> {
    prop_oneof![-3i64..3, any::<i64>()]
}

fn op() -> impl Strategy<Value = Op> {
    let options =
        (0usize..4, any::<bool>(), any::<bool>()).prop_map(|(limit, reverse, snapshot)| {
            RangeOptions {
                limit,
                reverse,
                snapshot,
            }
        });
    prop_oneof![
        3 => (key(), value()).prop_map(|(k, v)| Op::Set(k, v)),
        1 => key().prop_map(Op::Clear),
        1 => (key(), key()).prop_map(|(b, e)| Op::ClearRange(b, e)),
        2 => (key(), delta()).prop_map(|(k, d)| Op::Add(k, d)),
        2 => key().prop_map(Op::Get),
        2 => (key(), key(), options).prop_map(|(b, e, o)| Op::GetRange(b, e, o)),
    ]
}

fn model_add(model: &mut Model, key: &[u8], delta: i64) {
    let mut buf = [0u8; 8];
    if let Some(value) = model.get(key) {
        let n = value.len().min(8);
        buf[..n].copy_from_slice(&value[..n]);
    }
    let sum = i64::from_le_bytes(buf).wrapping_add(delta);
    model.insert(key.to_vec(), sum.to_le_bytes().to_vec());
}

fn model_range(
    model: &Model,
    begin: &[u8],
    end: &[u8],
    options: RangeOptions,
) -> Vec<(Bytes, Bytes)> {
    if begin >= end {
        return Vec::new();
    }
    let pairs = model.range(begin.to_vec()..end.to_vec());
    let pairs: Box<dyn Iterator<Item = _>> = if options.reverse {
        Box::new(pairs.rev())
    } else {
        Box::new(pairs)
    };
    let limit = if options.limit == 0 {
        usize::MAX
    } else {
        options.limit
    };
    pairs
        .take(limit)
        .map(|(k, v)| (Bytes::from(k.clone()), Bytes::from(v.clone())))
        .collect()
}

#[expect(clippy::needless_pass_by_value, reason = "the shape `map_err` takes")]
fn to_err(error: MetaError) -> TestCaseError {
    TestCaseError::fail(error.to_string())
}

async fn check(store: &dyn MetaStore, initial: Model, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut tx = store.begin().await.map_err(to_err)?;
    for (key, value) in &initial {
        tx.set(key, value).map_err(to_err)?;
    }
    tx.commit().await.map_err(to_err)?;

    let mut model = initial;
    let mut tx = store.begin().await.map_err(to_err)?;
    for op in ops {
        match op {
            Op::Set(key, value) => {
                tx.set(&key, &value).map_err(to_err)?;
                model.insert(key, value);
            }
            Op::Clear(key) => {
                tx.clear(&key).map_err(to_err)?;
                model.remove(&key);
            }
            Op::ClearRange(begin, end) => match tx.clear_range(&begin, &end) {
                Err(MetaError::InvertedRange) => prop_assert!(begin > end),
                outcome => {
                    outcome.map_err(to_err)?;
                    model.retain(|key, _| !(begin <= *key && *key < end));
                }
            },
            Op::Add(key, delta) => {
                tx.atomic_add(&key, delta).map_err(to_err)?;
                model_add(&mut model, &key, delta);
            }
            Op::Get(key) => {
                let got = tx.get(&key).await.map_err(to_err)?;
                prop_assert_eq!(
                    got.as_deref(),
                    model.get(&key).map(|v| v.as_slice()),
                    "get {:?}",
                    key
                );
            }
            Op::GetRange(begin, end, options) => {
                let got = tx.get_range(&begin, &end, options).await.map_err(to_err)?;
                let want = model_range(&model, &begin, &end, options);
                prop_assert_eq!(got, want, "get_range {:?}..{:?} {:?}", begin, end, options);
            }
        }
    }
    tx.commit().await.map_err(to_err)?;

    let mut tx = store.begin().await.map_err(to_err)?;
    let stored = tx
        .get_range(b"", b"\xff", RangeOptions::default())
        .await
        .map_err(to_err)?;
    prop_assert_eq!(
        stored,
        model_range(&model, b"", b"\xff", RangeOptions::default())
    );
    Ok(())
}

fn block_on(future: impl Future<Output = Result<(), TestCaseError>>) -> Result<(), TestCaseError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| TestCaseError::fail(format!("cannot build runtime: {e}")))?
        .block_on(future)
}

fn initial() -> impl Strategy<Value = Model> {
    proptest::collection::btree_map(key(), value(), 0..8)
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec(op(), 0..40)
}

proptest! {
    #[test]
    fn memory_transaction_matches_model(initial in initial(), ops in ops()) {
        block_on(check(&MemoryMetaStore::new(), initial, ops))?;
    }
}

proptest! {
    // Every case opens a database file and fsyncs twice: fewer cases.
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn redb_transaction_matches_model(initial in initial(), ops in ops()) {
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let store = RedbMetaStore::open(&dir.path().join("meta.redb")).map_err(to_err)?;
        block_on(check(&store, initial, ops))?;
    }
}

/// One server for every case (starting one per case would take most of the
/// run), a fresh database per case, since `check` compares the whole store.
#[cfg(feature = "postgres")]
#[test]
fn postgres_transaction_matches_model() {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use proptest::test_runner::TestRunner;

    use crate::postgres_store::PostgresMetaStore;

    let server = stratus_testkit::PostgresServer::start();
    let cases = AtomicUsize::new(0);
    // Each case creates a database and commits twice: fewer cases.
    let mut runner = TestRunner::new(ProptestConfig::with_cases(16));
    let outcome = runner.run(&(initial(), ops()), |(initial, ops)| {
        let database = format!("model_{}", cases.fetch_add(1, Ordering::Relaxed));
        server.create_database(&database);
        let url = server.url_for(&database);
        block_on(async move {
            let store = PostgresMetaStore::open(&url).await.map_err(to_err)?;
            check(&store, initial, ops).await
        })
    });
    if let Err(failure) = outcome {
        panic!("PostgreSQL diverged from the model: {failure}");
    }
}
