//! The conformance suite against a real cluster, whose cluster file
//! `STRATUS_FDB_CLUSTER_FILE` names; without it each test fails saying so
//! (these tests are built only with the `fdb` feature, by someone who has a
//! cluster). Tests run in parallel, each in its own random subspace,
//! cleared afterwards.
//!
//! Linking these tests needs libfdb_c (a FoundationDB client package).

use std::panic::AssertUnwindSafe;

use futures::FutureExt;

use super::*;
use crate::conformance::{self, Subject};
use crate::faulty::FaultyMetaStore;

const CLUSTER_FILE_VAR: &str = "STRATUS_FDB_CLUSTER_FILE";

fn open() -> Option<FdbMetaStore> {
    let Some(path) = std::env::var_os(CLUSTER_FILE_VAR) else {
        panic!(
            "{CLUSTER_FILE_VAR} is not set: point it at a FoundationDB cluster file \
             (e.g. /etc/foundationdb/fdb.cluster) to run these tests"
        );
    };
    Some(FdbMetaStore::open(Some(Path::new(&path))).expect("open FoundationDB"))
}

/// Instantiates suite tests that run inside a fresh subspace, on the
/// plain store and wrapped in the fault injector.
macro_rules! in_subspace {
    ($($name:ident),* $(,)?) => {
        in_subspace!(@variant plain, false, $($name),*);
        in_subspace!(@variant faulty, true, $($name),*);
    };
    (@variant $module:ident, $faulty:expr, $($name:ident),*) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::in_subspace($faulty, stringify!($name), |s| {
                        Box::pin(crate::conformance::$name(s))
                    })
                    .await;
                }
            )*
        }
    };
}

/// Runs `check` in a fresh subspace (wrapped in the fault injector if
/// `faulty`), clearing the subspace afterwards even if it panicked.
async fn in_subspace(
    faulty: bool,
    test: &str,
    check: impl for<'s> FnOnce(&'s Subject<'s>) -> futures::future::BoxFuture<'s, ()>,
) {
    let Some(store) = open() else { return };
    let space = Subspace::new(store);
    let outcome = if faulty {
        let config = conformance::faults(&format!("fdb::{test}"));
        let wrapped = FaultyMetaStore::new(space, config);
        let outcome = AssertUnwindSafe(check(&Subject::faulty(&wrapped)))
            .catch_unwind()
            .await;
        wrapped.inner().clear().await;
        outcome
    } else {
        let outcome = AssertUnwindSafe(check(&Subject::plain(&space)))
            .catch_unwind()
            .await;
        space.clear().await;
        outcome
    };
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

in_subspace!(
    get_set_clear,
    range_reads,
    read_your_writes,
    atomic_add,
    versionstamps,
    commit_versions_increase,
    conflicts,
    serializable_without_anomalies,
    run_retries_until_every_increment_lands,
    watches,
    every_kind_of_fault_is_survived,
);

/// Its keys are exactly at FoundationDB's size limits, so no prefix fits:
/// it runs at the root, clearing the keys it may write before and after.
/// Two runs against the same cluster at once can disturb each other here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_reject_and_write_nothing() {
    let Some(store) = open() else { return };
    async fn clear_limit_keys(store: &FdbMetaStore) {
        let mut tx = store.begin().await.expect("begin");
        tx.clear(b"k").expect("clear");
        tx.clear(&[b'k'; limits::MAX_KEY_BYTES]).expect("clear");
        tx.clear_range(b"big/", b"big0").expect("clear_range");
        tx.commit().await.expect("commit");
    }
    clear_limit_keys(&store).await;
    let outcome = AssertUnwindSafe(conformance::limits_reject_and_write_nothing(
        &Subject::plain(&store),
    ))
    .catch_unwind()
    .await;
    clear_limit_keys(&store).await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn versionstamped_value_operand() {
    let param = stamped_value_param(b"ab").expect("param");
    assert_eq!(param, b"ab\0\0\0\0\0\0\0\0\0\0\x02\0\0\0");
    let param = stamped_value_param(b"").expect("param");
    assert_eq!(param.len(), VERSIONSTAMP_LEN + 4);
    assert_eq!(param[VERSIONSTAMP_LEN..], [0, 0, 0, 0]);
}

#[test]
fn errors_map_to_their_variants() {
    let map = |code| map_error(FdbError::from_code(code));
    assert!(matches!(map(code::NOT_COMMITTED), MetaError::Conflict));
    assert!(matches!(
        map(code::TRANSACTION_TOO_OLD),
        MetaError::TransactionTooOld
    ));
    assert!(matches!(
        map(code::COMMIT_UNKNOWN_RESULT),
        MetaError::CommitUnknownResult
    ));
    assert!(matches!(
        map(code::ACCESSED_UNREADABLE),
        MetaError::VersionstampedKeyRead
    ));
    let sizes = Sizes {
        bytes: 11_000_000,
        largest_key: 12,
        largest_value: 34,
    };
    let map = |code| sizes.map_commit_error(FdbError::from_code(code));
    assert!(matches!(
        map(code::TRANSACTION_TOO_LARGE),
        MetaError::TransactionTooLarge { bytes: 11_000_000 }
    ));
    assert!(matches!(
        map(code::KEY_TOO_LARGE),
        MetaError::KeyTooLarge { len: 12 }
    ));
    assert!(matches!(
        map(code::VALUE_TOO_LARGE),
        MetaError::ValueTooLarge { len: 34 }
    ));
}

/// Serves the suite a key space of its own: every key is prefixed on the
/// way in and stripped on the way out.
#[derive(Debug)]
struct Subspace {
    store: FdbMetaStore,
    prefix: Vec<u8>,
}

impl Subspace {
    fn new(store: FdbMetaStore) -> Self {
        // A fresh `RandomState` is randomly seeded: unique enough per test.
        let random = std::hash::BuildHasher::hash_one(&std::hash::RandomState::new(), 0u8);
        let prefix = format!("stratus-conformance/{random:016x}/").into_bytes();
        Self { store, prefix }
    }

    async fn clear(&self) {
        let mut tx = self.store.begin().await.expect("begin");
        tx.clear_range(&self.prefix, &[&self.prefix[..], b"\xff"].concat())
            .expect("clear_range");
        tx.commit().await.expect("clear the subspace");
    }
}

fn prefixed(prefix: &[u8], key: &[u8]) -> Vec<u8> {
    [prefix, key].concat()
}

#[async_trait]
impl MetaStore for Subspace {
    async fn begin(&self) -> Result<Box<dyn Transaction>, MetaError> {
        Ok(Box::new(SubspaceTransaction {
            inner: self.store.begin().await?,
            prefix: self.prefix.clone(),
        }))
    }

    fn watch(&self, key: &[u8]) -> Watch {
        self.store.watch(&prefixed(&self.prefix, key))
    }

    fn backend_name(&self) -> &'static str {
        self.store.backend_name()
    }
}

struct SubspaceTransaction {
    inner: Box<dyn Transaction>,
    prefix: Vec<u8>,
}

impl SubspaceTransaction {
    fn key(&self, key: &[u8]) -> Vec<u8> {
        prefixed(&self.prefix, key)
    }
}

#[async_trait]
impl Transaction for SubspaceTransaction {
    fn read_version(&self) -> u64 {
        self.inner.read_version()
    }

    async fn get(&mut self, key: &[u8]) -> Result<Option<Bytes>, MetaError> {
        let key = self.key(key);
        self.inner.get(&key).await
    }

    async fn snapshot_get(&mut self, key: &[u8]) -> Result<Option<Bytes>, MetaError> {
        let key = self.key(key);
        self.inner.snapshot_get(&key).await
    }

    async fn get_range(
        &mut self,
        begin: &[u8],
        end: &[u8],
        options: RangeOptions,
    ) -> Result<Vec<(Bytes, Bytes)>, MetaError> {
        let (begin, end) = (self.key(begin), self.key(end));
        let pairs = self.inner.get_range(&begin, &end, options).await?;
        let strip = self.prefix.len();
        Ok(pairs
            .into_iter()
            .map(|(key, value)| (key.slice(strip..), value))
            .collect())
    }

    fn set(&mut self, key: &[u8], value: &[u8]) -> Result<(), MetaError> {
        let key = self.key(key);
        self.inner.set(&key, value)
    }

    fn clear(&mut self, key: &[u8]) -> Result<(), MetaError> {
        let key = self.key(key);
        self.inner.clear(&key)
    }

    fn clear_range(&mut self, begin: &[u8], end: &[u8]) -> Result<(), MetaError> {
        let (begin, end) = (self.key(begin), self.key(end));
        self.inner.clear_range(&begin, &end)
    }

    fn atomic_add(&mut self, key: &[u8], delta: i64) -> Result<(), MetaError> {
        let key = self.key(key);
        self.inner.atomic_add(&key, delta)
    }

    fn set_versionstamped_value(
        &mut self,
        key: &[u8],
        value_prefix: &[u8],
    ) -> Result<(), MetaError> {
        let key = self.key(key);
        self.inner.set_versionstamped_value(&key, value_prefix)
    }

    fn add_read_conflict_key(&mut self, key: &[u8]) -> Result<(), MetaError> {
        let key = self.key(key);
        self.inner.add_read_conflict_key(&key)
    }

    async fn commit(self: Box<Self>) -> Result<CommitInfo, MetaError> {
        self.inner.commit().await
    }
}
