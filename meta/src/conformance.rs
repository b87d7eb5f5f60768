//! The behavioural suite every [`MetaStore`] backend must pass, written once
//! over `&dyn MetaStore` and instantiated per backend by [`suite!`] (after
//! Quickwit's `metastore_test_suite!`). A new backend adds one module to the
//! macro; a new behaviour adds one function and one name to the list.

mod model;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::future::join_all;

use super::{MetaError, MetaStore, RangeOptions, RetryPolicy, VERSIONSTAMP_LEN, limits, run};

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let store = crate::memory::MemoryMetaStore::new();
                    super::$name(&store).await;
                }
            )*
        }
        mod redb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let dir = tempfile::tempdir().expect("create temp dir");
                    let path = dir.path().join("meta.redb");
                    let store = crate::redb_store::RedbMetaStore::open(&path).expect("open redb");
                    super::$name(&store).await;
                }
            )*
        }
        // A real server per test, started and stopped by the test itself;
        // without PostgreSQL installed these fail naming the install script.
        #[cfg(feature = "postgres")]
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let server = stratus_testkit::PostgresServer::start();
                    let store = crate::postgres_store::PostgresMetaStore::open(&server.url())
                        .await
                        .expect("open PostgreSQL");
                    super::$name(&store).await;
                }
            )*
        }
    };
}

suite!(
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
    limits_reject_and_write_nothing,
);

/// Long enough that a watch which should fire always does.
const FIRES_WITHIN: Duration = Duration::from_secs(10);
/// Long enough that a watch which should not fire would have.
const QUIET_FOR: Duration = Duration::from_millis(200);

async fn set(store: &dyn MetaStore, key: &[u8], value: &[u8]) -> u64 {
    let mut tx = store.begin().await.expect("begin");
    tx.set(key, value).expect("set");
    tx.commit().await.expect("commit").version
}

async fn get(store: &dyn MetaStore, key: &[u8]) -> Option<Bytes> {
    let mut tx = store.begin().await.expect("begin");
    tx.get(key).await.expect("get")
}

async fn range(
    store: &dyn MetaStore,
    begin: &[u8],
    end: &[u8],
    options: RangeOptions,
) -> Vec<String> {
    let mut tx = store.begin().await.expect("begin");
    let pairs = tx.get_range(begin, end, options).await.expect("get_range");
    render(&pairs)
}

fn render(pairs: &[(Bytes, Bytes)]) -> Vec<String> {
    let text = |b: &Bytes| String::from_utf8_lossy(b).into_owned();
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", text(k), text(v)))
        .collect()
}

fn decode_i64(value: Option<Bytes>) -> i64 {
    value.map_or(0, |v| {
        i64::from_le_bytes(v[..].try_into().expect("8-byte counter"))
    })
}

fn limited(limit: usize, reverse: bool) -> RangeOptions {
    RangeOptions {
        limit,
        reverse,
        snapshot: false,
    }
}

pub(super) async fn get_set_clear(store: &dyn MetaStore) {
    assert_eq!(get(store, b"k").await, None);
    set(store, b"k", b"v1").await;
    assert_eq!(get(store, b"k").await.as_deref(), Some(&b"v1"[..]));
    set(store, b"k", b"v2").await;
    assert_eq!(get(store, b"k").await.as_deref(), Some(&b"v2"[..]));
    set(store, b"empty", b"").await;
    assert_eq!(
        get(store, b"empty").await.as_deref(),
        Some(&b""[..]),
        "empty is not absent"
    );
    let mut tx = store.begin().await.expect("begin");
    tx.clear(b"k").expect("clear");
    tx.clear(b"never-written").expect("clear absent");
    tx.commit().await.expect("commit");
    assert_eq!(get(store, b"k").await, None);
}

pub(super) async fn range_reads(store: &dyn MetaStore) {
    let mut tx = store.begin().await.expect("begin");
    for key in ["a", "b1", "b2", "b3", "c"] {
        tx.set(key.as_bytes(), key.to_uppercase().as_bytes())
            .expect("set");
    }
    tx.commit().await.expect("commit");
    let all = RangeOptions::default();
    assert_eq!(
        range(store, b"b", b"c", all).await,
        ["b1=B1", "b2=B2", "b3=B3"]
    );
    assert_eq!(range(store, b"", b"\xff", all).await.len(), 5);
    assert_eq!(
        range(store, b"b", b"c", limited(2, false)).await,
        ["b1=B1", "b2=B2"]
    );
    assert_eq!(
        range(store, b"b", b"c", limited(0, true)).await,
        ["b3=B3", "b2=B2", "b1=B1"]
    );
    assert_eq!(
        range(store, b"b", b"c", limited(2, true)).await,
        ["b3=B3", "b2=B2"]
    );
    assert_eq!(
        range(store, b"b1", b"b3", all).await,
        ["b1=B1", "b2=B2"],
        "end is exclusive"
    );
    assert!(range(store, b"d", b"z", all).await.is_empty());
    assert!(range(store, b"b2", b"b2", all).await.is_empty());
    assert!(
        range(store, b"c", b"a", all).await.is_empty(),
        "inverted read range is empty"
    );
}

pub(super) async fn read_your_writes(store: &dyn MetaStore) {
    let mut tx = store.begin().await.expect("begin");
    for (key, value) in [
        ("r/1", "one"),
        ("r/2", "two"),
        ("r/3", "three"),
        ("r/5", "five"),
    ] {
        tx.set(key.as_bytes(), value.as_bytes()).expect("set");
    }
    tx.set(b"n", &10i64.to_le_bytes()).expect("set");
    tx.commit().await.expect("commit");

    let mut tx = store.begin().await.expect("begin");
    tx.clear_range(b"r/2", b"r/5").expect("clear_range");
    tx.set(b"r/3", b"new-three")
        .expect("set inside cleared range");
    tx.set(b"r/4", b"four").expect("set");
    tx.clear(b"r/1").expect("clear");
    tx.atomic_add(b"n", 5).expect("add");
    tx.atomic_add(b"r/9", 1).expect("add to absent");
    assert_eq!(tx.get(b"r/2").await.expect("get"), None, "cleared by range");
    assert_eq!(
        tx.get(b"r/3").await.expect("get").as_deref(),
        Some(&b"new-three"[..])
    );
    assert_eq!(tx.get(b"r/1").await.expect("get"), None);
    assert_eq!(
        decode_i64(tx.get(b"n").await.expect("get")),
        15,
        "pending add over committed value"
    );
    tx.set(b"m", &1i64.to_le_bytes()).expect("set");
    tx.atomic_add(b"m", 2).expect("add to buffered value");
    assert_eq!(decode_i64(tx.get(b"m").await.expect("get")), 3);
    tx.atomic_add(b"r/3", 0)
        .expect("add to buffered non-counter");

    let forward = tx
        .get_range(b"r/", b"r0", RangeOptions::default())
        .await
        .expect("range");
    let keys: Vec<&[u8]> = forward.iter().map(|(k, _)| k.as_ref()).collect();
    assert_eq!(keys, [&b"r/3"[..], b"r/4", b"r/5", b"r/9"]);
    assert_eq!(forward[1].1.as_ref(), b"four");
    assert_eq!(decode_i64(Some(forward[3].1.clone())), 1);
    let back = tx
        .get_range(b"r/", b"r0", limited(2, true))
        .await
        .expect("range");
    assert_eq!(render(&back), ["r/9=\u{1}\0\0\0\0\0\0\0", "r/5=five"]);
    let head = tx
        .get_range(b"r/", b"r0", limited(1, false))
        .await
        .expect("range");
    assert_eq!(head[0].0.as_ref(), b"r/3");
    tx.commit().await.expect("commit");

    let after = range(store, b"r/", b"r0", RangeOptions::default()).await;
    // `ADD 0` on a longer value keeps its first 8 bytes, as FoundationDB does.
    assert_eq!(
        after,
        [
            "r/3=new-thre",
            "r/4=four",
            "r/5=five",
            "r/9=\u{1}\0\0\0\0\0\0\0"
        ]
    );
    assert_eq!(decode_i64(get(store, b"n").await), 15);
}

pub(super) async fn atomic_add(store: &dyn MetaStore) {
    let mut tx = store.begin().await.expect("begin");
    tx.atomic_add(b"fresh", 7).expect("add");
    tx.set(b"max", &i64::MAX.to_le_bytes()).expect("set");
    tx.commit().await.expect("commit");
    assert_eq!(
        decode_i64(get(store, b"fresh").await),
        7,
        "absent counts as zero"
    );

    let mut tx = store.begin().await.expect("begin");
    tx.atomic_add(b"max", 1).expect("add");
    tx.atomic_add(b"fresh", -10).expect("add");
    tx.commit().await.expect("commit");
    assert_eq!(decode_i64(get(store, b"max").await), i64::MIN, "adds wrap");
    assert_eq!(decode_i64(get(store, b"fresh").await), -3);
}

pub(super) async fn versionstamps(store: &dyn MetaStore) {
    let mut tx = store.begin().await.expect("begin");
    tx.set_versionstamped_value(b"vs/a", b"p").expect("stamp");
    tx.set_versionstamped_value(b"vs/b", b"").expect("stamp");
    assert!(matches!(
        tx.get(b"vs/a").await,
        Err(MetaError::VersionstampedKeyRead)
    ));
    let range_read = tx.get_range(b"vs/", b"vs0", RangeOptions::default()).await;
    assert!(matches!(range_read, Err(MetaError::VersionstampedKeyRead)));
    let first = tx.commit().await.expect("commit");

    let a = get(store, b"vs/a").await.expect("stamped a");
    let b = get(store, b"vs/b").await.expect("stamped b");
    assert_eq!(a.len(), 1 + VERSIONSTAMP_LEN);
    assert_eq!(&a[..1], b"p");
    assert_eq!(b.len(), VERSIONSTAMP_LEN);
    assert_eq!(
        &a[1..],
        &b[..],
        "one transaction's stamps are equal, as on FoundationDB"
    );
    assert_eq!(
        a[1..9],
        first.version.to_be_bytes(),
        "stamp starts with the commit version"
    );

    let mut tx = store.begin().await.expect("begin");
    tx.set_versionstamped_value(b"vs/c", b"").expect("stamp");
    tx.commit().await.expect("commit");
    let c = get(store, b"vs/c").await.expect("stamped c");
    assert!(c > a.slice(1..) && c > b, "later commits stamp higher");
}

pub(super) async fn commit_versions_increase(store: &dyn MetaStore) {
    let mut last = 0;
    for i in 0..5u8 {
        let version = set(store, b"k", &[i]).await;
        assert!(version > last, "{version} after {last}");
        last = version;
    }
    let mut tx = store.begin().await.expect("begin");
    assert!(
        tx.read_version() >= last,
        "reads at or after the latest commit"
    );
    tx.get(b"k").await.expect("get");
    let read_only = tx.commit().await.expect("read-only commit");
    assert!(
        read_only.version >= last,
        "a read-only commit reports its read version"
    );
}

pub(super) async fn conflicts(store: &dyn MetaStore) {
    set(store, b"k", b"0").await;
    let (mut a, mut b) = (
        store.begin().await.expect("begin"),
        store.begin().await.expect("begin"),
    );
    a.get(b"k").await.expect("get");
    b.get(b"k").await.expect("get");
    a.set(b"k", b"a").expect("set");
    b.set(b"k", b"b").expect("set");
    a.commit().await.expect("first commit wins");
    assert!(matches!(b.commit().await, Err(MetaError::Conflict)));
    assert_eq!(get(store, b"k").await.as_deref(), Some(&b"a"[..]));

    // Snapshot reads and blind writes do not conflict.
    let (mut a, mut b) = (
        store.begin().await.expect("begin"),
        store.begin().await.expect("begin"),
    );
    a.snapshot_get(b"k").await.expect("get");
    let opts = RangeOptions {
        snapshot: true,
        ..RangeOptions::default()
    };
    a.get_range(b"", b"\xff", opts).await.expect("range");
    a.set(b"other", b"x").expect("set");
    b.set(b"k", b"b").expect("set");
    b.set(b"other", b"y").expect("set");
    b.commit().await.expect("commit");
    a.commit().await.expect("snapshot reads never conflict");

    // Atomic adds do not read.
    let (mut a, mut b) = (
        store.begin().await.expect("begin"),
        store.begin().await.expect("begin"),
    );
    a.atomic_add(b"n", 1).expect("add");
    b.atomic_add(b"n", 1).expect("add");
    a.commit().await.expect("commit");
    b.commit().await.expect("adds never conflict");
    assert_eq!(decode_i64(get(store, b"n").await), 2);

    // An explicit read conflict key behaves like a read.
    let (mut a, mut b) = (
        store.begin().await.expect("begin"),
        store.begin().await.expect("begin"),
    );
    a.add_read_conflict_key(b"k").expect("conflict key");
    a.set(b"j", b"x").expect("set");
    b.set(b"k", b"z").expect("set");
    b.commit().await.expect("commit");
    assert!(matches!(a.commit().await, Err(MetaError::Conflict)));

    // Range reads conflict with writes inside what they observed only.
    set(store, b"r/1", b"1").await;
    let (mut a, mut b) = (
        store.begin().await.expect("begin"),
        store.begin().await.expect("begin"),
    );
    let (mut c, mut d) = (
        store.begin().await.expect("begin"),
        store.begin().await.expect("begin"),
    );
    a.get_range(b"r/", b"r0", RangeOptions::default())
        .await
        .expect("range");
    c.get_range(b"r/", b"r0", limited(1, false))
        .await
        .expect("range");
    for tx in [&mut a, &mut c] {
        tx.set(b"x", b"x").expect("set");
    }
    b.set(b"r/9", b"9").expect("set");
    b.commit().await.expect("commit");
    assert!(
        matches!(a.commit().await, Err(MetaError::Conflict)),
        "write inside the range"
    );
    c.commit()
        .await
        .expect("write past the limit-reached key is not observed");
    d.get(b"absent").await.expect("get");
    d.set(b"x", b"y").expect("set");
    d.commit()
        .await
        .expect("reads of untouched keys do not conflict");
}

/// The anomalies snapshot isolation allows and serializability does not:
/// write skew (each reads what the other writes), and a phantom (a range read
/// that found nothing, then an insert into the range).
pub(super) async fn serializable_without_anomalies(store: &dyn MetaStore) {
    set(store, b"skew/x", b"1").await;
    set(store, b"skew/y", b"1").await;
    let (mut a, mut b) = (
        store.begin().await.expect("begin"),
        store.begin().await.expect("begin"),
    );
    assert!(a.get(b"skew/x").await.expect("get").is_some());
    assert!(b.get(b"skew/y").await.expect("get").is_some());
    a.set(b"skew/y", b"0").expect("set");
    b.set(b"skew/x", b"0").expect("set");
    a.commit().await.expect("first commit wins");
    assert!(
        matches!(b.commit().await, Err(MetaError::Conflict)),
        "write skew is a conflict"
    );

    let (mut a, mut b) = (
        store.begin().await.expect("begin"),
        store.begin().await.expect("begin"),
    );
    let empty = a
        .get_range(b"phantom/", b"phantom0", RangeOptions::default())
        .await
        .expect("range");
    assert!(empty.is_empty());
    a.set(b"phantom-count", b"0").expect("set");
    b.set(b"phantom/new", b"1").expect("set");
    b.commit().await.expect("commit");
    assert!(
        matches!(a.commit().await, Err(MetaError::Conflict)),
        "an insert into a range read as empty is a conflict"
    );

    // Reverse reads with a limit observe from the end down to the last key.
    set(store, b"phantom/m", b"1").await;
    let (mut a, mut b, mut c) = (
        store.begin().await.expect("begin"),
        store.begin().await.expect("begin"),
        store.begin().await.expect("begin"),
    );
    let tail = a
        .get_range(b"phantom/", b"phantom0", limited(1, true))
        .await
        .expect("range");
    assert_eq!(render(&tail), ["phantom/new=1"]);
    a.set(b"phantom-count", b"1").expect("set");
    b.set(b"phantom/a", b"1")
        .expect("set below what was observed");
    b.commit().await.expect("commit");
    a.commit()
        .await
        .expect("an insert before the observed tail is not a conflict");
    c.get_range(b"phantom/", b"phantom0", limited(1, true))
        .await
        .expect("range");
    c.set(b"phantom-count", b"2").expect("set");
    let mut d = store.begin().await.expect("begin");
    d.set(b"phantom/z", b"1")
        .expect("set after the observed tail");
    d.commit().await.expect("commit");
    assert!(
        matches!(c.commit().await, Err(MetaError::Conflict)),
        "an insert after the observed tail is a conflict"
    );
}

pub(super) async fn run_retries_until_every_increment_lands(store: &dyn MetaStore) {
    const TASKS: usize = 16;
    let attempts = AtomicUsize::new(0);
    let policy = RetryPolicy {
        max_attempts: 1_000,
        ..RetryPolicy::default()
    };
    let increments = (0..TASKS).map(|_| {
        run(store, &policy, |tx| {
            let attempts = &attempts;
            Box::pin(async move {
                attempts.fetch_add(1, Ordering::Relaxed);
                let current = decode_i64(tx.get(b"counter").await?);
                // Let the other tasks read the same value, forcing conflicts.
                tokio::task::yield_now().await;
                tx.set(b"counter", &(current + 1).to_le_bytes())?;
                Ok(current)
            })
        })
    });
    for outcome in join_all(increments).await {
        outcome.expect("run retries conflicts away");
    }
    assert_eq!(decode_i64(get(store, b"counter").await), TASKS as i64);
    assert!(
        attempts.load(Ordering::Relaxed) > TASKS,
        "conflicts happened and were retried"
    );
}

pub(super) async fn watches(store: &dyn MetaStore) {
    let fires = |watch: super::Watch| async move {
        tokio::time::timeout(FIRES_WITHIN, watch.changed())
            .await
            .is_ok()
    };
    let quiet = |watch: super::Watch| async move {
        tokio::time::timeout(QUIET_FOR, watch.changed())
            .await
            .is_err()
    };

    let watch = store.watch(b"w/a");
    set(store, b"w/a", b"1").await;
    assert!(fires(watch).await, "a set fires");

    let watch = store.watch(b"w/a");
    set(store, b"w/b", b"1").await;
    assert!(quiet(watch).await, "a write to another key does not fire");

    let watch = store.watch(b"w/a");
    let mut tx = store.begin().await.expect("begin");
    tx.clear_range(b"w/", b"w0").expect("clear_range");
    tx.commit().await.expect("commit");
    assert!(fires(watch).await, "a clear_range covering the key fires");

    let watch = store.watch(b"w/c");
    let mut tx = store.begin().await.expect("begin");
    tx.atomic_add(b"w/c", 1).expect("add");
    tx.commit().await.expect("commit");
    assert!(fires(watch).await, "an atomic add fires");

    // Register, read, then wait: a write between the read and the wait is caught.
    let watch = store.watch(b"w/d");
    assert_eq!(get(store, b"w/d").await, None);
    set(store, b"w/d", b"1").await;
    assert!(fires(watch).await, "a write after registering fires");

    let (first, second) = (store.watch(b"w/e"), store.watch(b"w/e"));
    let mut tx = store.begin().await.expect("begin");
    tx.set(b"w/e", b"1").expect("set");
    drop(tx);
    assert!(quiet(first).await, "an uncommitted write does not fire");
    set(store, b"w/e", b"1").await;
    assert!(fires(second).await, "every watcher of the key fires");
}

pub(super) async fn limits_reject_and_write_nothing(store: &dyn MetaStore) {
    let big_key = vec![b'k'; limits::MAX_KEY_BYTES + 1];
    let big_value = vec![0u8; limits::MAX_VALUE_BYTES + 1];
    let mut tx = store.begin().await.expect("begin");
    let len = big_key.len();
    assert!(matches!(tx.set(&big_key, b"v"), Err(MetaError::KeyTooLarge { len: l }) if l == len));
    assert!(matches!(
        tx.atomic_add(&big_key, 1),
        Err(MetaError::KeyTooLarge { .. })
    ));
    assert!(matches!(
        tx.clear(&big_key),
        Err(MetaError::KeyTooLarge { .. })
    ));
    let len = big_value.len();
    assert!(
        matches!(tx.set(b"k", &big_value), Err(MetaError::ValueTooLarge { len: l }) if l == len)
    );
    let stamped = tx.set_versionstamped_value(b"k", &big_value[..limits::MAX_VALUE_BYTES - 5]);
    assert!(
        matches!(stamped, Err(MetaError::ValueTooLarge { .. })),
        "prefix plus stamp is too large"
    );
    assert!(matches!(
        tx.clear_range(b"b", b"a"),
        Err(MetaError::InvertedRange)
    ));
    tx.set(&big_key[1..], &big_value[1..])
        .expect("exactly at the limits");
    tx.commit().await.expect("commit");
    assert_eq!(get(store, &big_key).await, None);
    assert_eq!(get(store, b"k").await, None);
    assert_eq!(
        get(store, &big_key[1..]).await.map(|v| v.len()),
        Some(limits::MAX_VALUE_BYTES)
    );

    let mut tx = store.begin().await.expect("begin");
    let value = vec![1u8; limits::MAX_VALUE_BYTES];
    for i in 0..=(limits::MAX_TRANSACTION_BYTES / limits::MAX_VALUE_BYTES) {
        tx.set(format!("big/{i:04}").as_bytes(), &value)
            .expect("each write is in limits");
    }
    let outcome = tx.commit().await;
    assert!(
        matches!(outcome, Err(MetaError::TransactionTooLarge { bytes }) if bytes > limits::MAX_TRANSACTION_BYTES)
    );
    assert!(
        range(store, b"big/", b"big0", RangeOptions::default())
            .await
            .is_empty(),
        "nothing written"
    );
}

/// Durability is the redb backend's alone, so this is not part of the suite.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redb_survives_reopen() {
    use crate::redb_store::RedbMetaStore;

    let dir = tempfile::tempdir().expect("create temp dir");
    let path = dir.path().join("meta.redb");
    let (before, stamp) = {
        let store = RedbMetaStore::open(&path).expect("open");
        set(&store, b"k", b"v").await;
        let mut tx = store.begin().await.expect("begin");
        tx.set_versionstamped_value(b"vs", b"").expect("stamp");
        tx.atomic_add(b"n", 3).expect("add");
        let version = tx.commit().await.expect("commit").version;
        (version, get(&store, b"vs").await.expect("stamp written"))
    };
    let store = RedbMetaStore::open(&path).expect("reopen");
    assert_eq!(get(&store, b"k").await.as_deref(), Some(&b"v"[..]));
    assert_eq!(decode_i64(get(&store, b"n").await), 3);
    let tx = store.begin().await.expect("begin");
    assert_eq!(tx.read_version(), before, "the version survives");
    drop(tx);
    let mut tx = store.begin().await.expect("begin");
    tx.set_versionstamped_value(b"vs", b"").expect("stamp");
    let after = tx.commit().await.expect("commit").version;
    assert!(
        after > before,
        "versions keep increasing after reopen: {after} <= {before}"
    );
    assert!(
        get(&store, b"vs").await.expect("stamp") > stamp,
        "versionstamps too"
    );
}
