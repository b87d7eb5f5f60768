//! The behavioural suite every [`MetaStore`] backend must pass, written once
//! over a [`Subject`] and instantiated per backend by [`suite!`] (after
//! Quickwit's `metastore_test_suite!`). A new backend adds one line to the
//! macro; a new behaviour adds one function and one name to the list.
//!
//! Every check runs twice per backend: on the plain store (`plain::`), and
//! wrapped in [`FaultyMetaStore`] (`faulty::`), which injects conflicts,
//! unknown commit outcomes both ways, transient errors and latency. The
//! checks are written so that both runs assert the same contract, the one
//! callers rely on ([`harness`]): what must commit commits through the retry
//! loop, once in effect thanks to an idempotency record; what must conflict
//! never succeeds; what must not conflict fails only as often as faults were
//! injected (never, on a plain store).

mod harness;
mod model;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::future::{BoxFuture, join_all};

pub(crate) use harness::{Subject, faults};
use harness::{
    commit, commits_despite, committing, exactly_once, get, must_conflict, must_conflict_after,
    open, range, refused, render, set, set_all, setting, try_commit,
};

use super::{MetaError, MetaStore, RangeOptions, VERSIONSTAMP_LEN, limits};

/// One backend's module: `open` gives a guard to keep alive and the store;
/// `$faulty` is the test attribute of the wrapped runs (paused time where the
/// backend does no I/O, so those runs are deterministic).
macro_rules! backend {
    ($backend:ident, $faulty:meta, $open:block, $($name:ident),*) => {
        mod $backend {
            async fn open() -> (impl Sized, impl crate::MetaStore) $open

            mod plain {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        let (_guard, store) = super::open().await;
                        let subject = crate::conformance::Subject::plain(&store);
                        crate::conformance::$name(&subject).await;
                    }
                )*
            }

            mod faulty {
                $(
                    #[$faulty]
                    async fn $name() {
                        let (_guard, store) = super::open().await;
                        let test = concat!(stringify!($backend), "::", stringify!($name));
                        let config = crate::conformance::faults(test);
                        let store = crate::faulty::FaultyMetaStore::new(store, config);
                        let subject = crate::conformance::Subject::faulty(&store);
                        crate::conformance::$name(&subject).await;
                    }
                )*
            }
        }
    };
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        backend!(memory, tokio::test(start_paused = true), {
            ((), crate::memory::MemoryMetaStore::new())
        }, $($name),*);
        backend!(redb, tokio::test(flavor = "multi_thread", worker_threads = 2), {
            let dir = tempfile::tempdir().expect("create temp dir");
            let path = dir.path().join("meta.redb");
            let store = crate::redb_store::RedbMetaStore::open(&path).expect("open redb");
            (dir, store)
        }, $($name),*);
        // A real server per test, started and stopped by the test itself;
        // without PostgreSQL installed these fail naming the install script.
        #[cfg(feature = "postgres")]
        backend!(postgres, tokio::test(flavor = "multi_thread", worker_threads = 2), {
            let server = stratus_testkit::PostgresServer::start();
            let store = crate::postgres_store::PostgresMetaStore::open(&server.url())
                .await
                .expect("open PostgreSQL");
            (server, store)
        }, $($name),*);
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
    every_kind_of_fault_is_survived,
);

/// Long enough that a watch which should fire always does.
const FIRES_WITHIN: Duration = Duration::from_secs(10);
/// Long enough that a watch which should not fire would have.
const QUIET_FOR: Duration = Duration::from_millis(200);

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

pub(super) async fn get_set_clear(s: &Subject<'_>) {
    assert_eq!(get(s, b"k").await, None);
    set(s, b"k", b"v1").await;
    assert_eq!(get(s, b"k").await.as_deref(), Some(&b"v1"[..]));
    set(s, b"k", b"v2").await;
    assert_eq!(get(s, b"k").await.as_deref(), Some(&b"v2"[..]));
    set(s, b"empty", b"").await;
    assert_eq!(
        get(s, b"empty").await.as_deref(),
        Some(&b""[..]),
        "empty is not absent"
    );
    commit(s, |tx| {
        Box::pin(async move {
            tx.clear(b"k")?;
            tx.clear(b"never-written")
        })
    })
    .await;
    assert_eq!(get(s, b"k").await, None);
}

pub(super) async fn range_reads(s: &Subject<'_>) {
    set_all(
        s,
        &[
            (b"a", b"A"),
            (b"b1", b"B1"),
            (b"b2", b"B2"),
            (b"b3", b"B3"),
            (b"c", b"C"),
        ],
    )
    .await;
    let all = RangeOptions::default();
    assert_eq!(range(s, b"b", b"c", all).await, ["b1=B1", "b2=B2", "b3=B3"]);
    assert_eq!(range(s, b"", b"\xff", all).await.len(), 5);
    assert_eq!(
        range(s, b"b", b"c", limited(2, false)).await,
        ["b1=B1", "b2=B2"]
    );
    assert_eq!(
        range(s, b"b", b"c", limited(0, true)).await,
        ["b3=B3", "b2=B2", "b1=B1"]
    );
    assert_eq!(
        range(s, b"b", b"c", limited(2, true)).await,
        ["b3=B3", "b2=B2"]
    );
    assert_eq!(
        range(s, b"b1", b"b3", all).await,
        ["b1=B1", "b2=B2"],
        "end is exclusive"
    );
    assert!(range(s, b"d", b"z", all).await.is_empty());
    assert!(range(s, b"b2", b"b2", all).await.is_empty());
    assert!(
        range(s, b"c", b"a", all).await.is_empty(),
        "inverted read range is empty"
    );
}

pub(super) async fn read_your_writes(s: &Subject<'_>) {
    set_all(
        s,
        &[
            (b"r/1", b"one"),
            (b"r/2", b"two"),
            (b"r/3", b"three"),
            (b"r/5", b"five"),
            (b"n", &[10, 0, 0, 0, 0, 0, 0, 0]),
        ],
    )
    .await;

    // Adds: once in effect, however often the transaction runs.
    exactly_once(s, b"marker/ryw", |tx| {
        Box::pin(async move {
            tx.clear_range(b"r/2", b"r/5")?;
            tx.set(b"r/3", b"new-three")?;
            tx.set(b"r/4", b"four")?;
            tx.clear(b"r/1")?;
            tx.atomic_add(b"n", 5)?;
            tx.atomic_add(b"r/9", 1)?;
            assert_eq!(tx.get(b"r/2").await?, None, "cleared by range");
            assert_eq!(tx.get(b"r/3").await?.as_deref(), Some(&b"new-three"[..]));
            assert_eq!(tx.get(b"r/1").await?, None);
            assert_eq!(
                decode_i64(tx.get(b"n").await?),
                15,
                "pending add over committed value"
            );
            tx.set(b"m", &1i64.to_le_bytes())?;
            tx.atomic_add(b"m", 2)?;
            assert_eq!(decode_i64(tx.get(b"m").await?), 3);
            tx.atomic_add(b"r/3", 0)?;

            let forward = tx.get_range(b"r/", b"r0", RangeOptions::default()).await?;
            let keys: Vec<&[u8]> = forward.iter().map(|(k, _)| k.as_ref()).collect();
            assert_eq!(keys, [&b"r/3"[..], b"r/4", b"r/5", b"r/9"]);
            assert_eq!(forward[1].1.as_ref(), b"four");
            assert_eq!(decode_i64(Some(forward[3].1.clone())), 1);
            let back = tx.get_range(b"r/", b"r0", limited(2, true)).await?;
            assert_eq!(render(&back), ["r/9=\u{1}\0\0\0\0\0\0\0", "r/5=five"]);
            let head = tx.get_range(b"r/", b"r0", limited(1, false)).await?;
            assert_eq!(head[0].0.as_ref(), b"r/3");
            Ok(())
        })
    })
    .await;

    let after = range(s, b"r/", b"r0", RangeOptions::default()).await;
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
    assert_eq!(decode_i64(get(s, b"n").await), 15);
}

pub(super) async fn atomic_add(s: &Subject<'_>) {
    exactly_once(s, b"marker/add-1", |tx| {
        Box::pin(async move {
            tx.atomic_add(b"fresh", 7)?;
            tx.set(b"max", &i64::MAX.to_le_bytes())
        })
    })
    .await;
    assert_eq!(
        decode_i64(get(s, b"fresh").await),
        7,
        "absent counts as zero"
    );

    exactly_once(s, b"marker/add-2", |tx| {
        Box::pin(async move {
            tx.atomic_add(b"max", 1)?;
            tx.atomic_add(b"fresh", -10)
        })
    })
    .await;
    assert_eq!(decode_i64(get(s, b"max").await), i64::MIN, "adds wrap");
    assert_eq!(decode_i64(get(s, b"fresh").await), -3);
}

pub(super) async fn versionstamps(s: &Subject<'_>) {
    // Stamps are overwritten by a later commit, so running this again after
    // an unknown outcome leaves the stamps of the commit it reports.
    let ((), first) = commit(s, |tx| {
        Box::pin(async move {
            tx.set_versionstamped_value(b"vs/a", b"p")?;
            tx.set_versionstamped_value(b"vs/b", b"")?;
            let stamped = |e: &MetaError| matches!(e, MetaError::VersionstampedKeyRead);
            refused(tx.get(b"vs/a").await, stamped)?;
            refused(
                tx.get_range(b"vs/", b"vs0", RangeOptions::default()).await,
                stamped,
            )?;
            Ok(())
        })
    })
    .await;

    let a = get(s, b"vs/a").await.expect("stamped a");
    let b = get(s, b"vs/b").await.expect("stamped b");
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

    commit(s, |tx| {
        Box::pin(async move { tx.set_versionstamped_value(b"vs/c", b"") })
    })
    .await;
    let c = get(s, b"vs/c").await.expect("stamped c");
    assert!(c > a.slice(1..) && c > b, "later commits stamp higher");
}

pub(super) async fn commit_versions_increase(s: &Subject<'_>) {
    let mut last = 0;
    for value in [b"0", b"1", b"2", b"3", b"4"] {
        let version = set(s, b"k", value).await;
        assert!(version > last, "{version} after {last}");
        last = version;
    }
    let (read_version, read_only) = commit(s, |tx| {
        Box::pin(async move {
            let read_version = tx.read_version();
            tx.get(b"k").await?;
            Ok(read_version)
        })
    })
    .await;
    assert!(read_version >= last, "reads at or after the latest commit");
    assert!(
        read_only.version >= last,
        "a read-only commit reports its read version"
    );
}

/// A body that reads `read` (which must exist) and writes `value` at `write`.
fn read_then_write(
    read: &'static [u8],
    write: &'static [u8],
    value: &'static [u8],
) -> impl for<'t> Fn(&'t mut dyn crate::Transaction) -> BoxFuture<'t, Result<(), MetaError>> + Send + Sync
{
    move |tx| {
        Box::pin(async move {
            assert!(tx.get(read).await?.is_some(), "set up before");
            tx.set(write, value)
        })
    }
}

pub(super) async fn conflicts(s: &Subject<'_>) {
    set(s, b"k", b"0").await;
    must_conflict_after(
        s,
        "a write to a key read",
        read_then_write(b"k", b"k", b"b"),
        committing(s, read_then_write(b"k", b"k", b"a")),
    )
    .await;
    assert_eq!(get(s, b"k").await.as_deref(), Some(&b"a"[..]));

    commits_despite(
        s,
        "snapshot reads never conflict",
        b"marker/snapshot",
        |tx| {
            Box::pin(async move {
                tx.snapshot_get(b"k").await?;
                let opts = RangeOptions {
                    snapshot: true,
                    ..RangeOptions::default()
                };
                tx.get_range(b"", b"\xff", opts).await?;
                tx.set(b"other", b"x")
            })
        },
        move || {
            Box::pin(async move {
                set_all(s, &[(b"k", b"b"), (b"other", b"y")]).await;
            })
        },
    )
    .await;

    commits_despite(
        s,
        "adds never conflict",
        b"marker/add-a",
        |tx| Box::pin(async move { tx.atomic_add(b"n", 1) }),
        move || {
            Box::pin(async move {
                exactly_once(s, b"marker/add-b", |tx| {
                    Box::pin(async move { tx.atomic_add(b"n", 1) })
                })
                .await;
            })
        },
    )
    .await;
    assert_eq!(decode_i64(get(s, b"n").await), 2);

    // An explicit read conflict key behaves like a read.
    must_conflict_after(
        s,
        "a write to a read conflict key",
        |tx| {
            Box::pin(async move {
                tx.add_read_conflict_key(b"k")?;
                tx.set(b"j", b"x")
            })
        },
        setting(s, b"k", b"z"),
    )
    .await;
    assert_eq!(get(s, b"j").await, None);

    // Range reads conflict with writes inside what they observed only.
    set(s, b"r/1", b"1").await;
    let a = open(s, |tx| {
        Box::pin(async move {
            tx.get_range(b"r/", b"r0", RangeOptions::default()).await?;
            tx.set(b"x", b"a")
        })
    })
    .await;
    commits_despite(
        s,
        "a write past the limit-reached key is not observed",
        b"marker/limited",
        |tx| {
            Box::pin(async move {
                tx.get_range(b"r/", b"r0", limited(1, false)).await?;
                tx.set(b"x", b"c")
            })
        },
        setting(s, b"r/9", b"9"),
    )
    .await;
    commits_despite(
        s,
        "reads of untouched keys do not conflict",
        b"marker/untouched",
        |tx| {
            Box::pin(async move {
                tx.get(b"absent").await?;
                tx.set(b"x", b"d")
            })
        },
        setting(s, b"r/9", b"9"),
    )
    .await;
    must_conflict(s, a, "a write inside the range").await;
    assert_eq!(get(s, b"x").await.as_deref(), Some(&b"d"[..]));
}

/// The anomalies snapshot isolation allows and serializability does not:
/// write skew (each reads what the other writes), and a phantom (a range read
/// that found nothing, then an insert into the range).
pub(super) async fn serializable_without_anomalies(s: &Subject<'_>) {
    set_all(s, &[(b"skew/x", b"1"), (b"skew/y", b"1")]).await;
    must_conflict_after(
        s,
        "write skew is a conflict",
        read_then_write(b"skew/y", b"skew/x", b"0"),
        committing(s, read_then_write(b"skew/x", b"skew/y", b"0")),
    )
    .await;
    assert_eq!(get(s, b"skew/x").await.as_deref(), Some(&b"1"[..]));

    must_conflict_after(
        s,
        "an insert into a range read as empty is a conflict",
        |tx| {
            Box::pin(async move {
                let empty = tx
                    .get_range(b"phantom/", b"phantom0", RangeOptions::default())
                    .await?;
                assert!(empty.is_empty());
                tx.set(b"phantom-count", b"0")
            })
        },
        setting(s, b"phantom/new", b"1"),
    )
    .await;
    assert_eq!(get(s, b"phantom-count").await, None);

    // Reverse reads with a limit observe from the end down to the last key.
    set(s, b"phantom/m", b"1").await;
    commits_despite(
        s,
        "an insert before the observed tail is not a conflict",
        b"marker/tail",
        |tx| {
            Box::pin(async move {
                let tail = tx
                    .get_range(b"phantom/", b"phantom0", limited(1, true))
                    .await?;
                assert_eq!(render(&tail), ["phantom/new=1"]);
                tx.set(b"phantom-count", b"1")
            })
        },
        setting(s, b"phantom/a", b"1"),
    )
    .await;
    must_conflict_after(
        s,
        "an insert after the observed tail is a conflict",
        |tx| {
            Box::pin(async move {
                tx.get_range(b"phantom/", b"phantom0", limited(1, true))
                    .await?;
                tx.set(b"phantom-count", b"2")
            })
        },
        setting(s, b"phantom/z", b"1"),
    )
    .await;
    assert_eq!(get(s, b"phantom-count").await.as_deref(), Some(&b"1"[..]));
}

/// Concurrent increments of one counter, each once in effect: conflicts
/// between them are retried away, and under faults an unknown outcome is
/// resolved by the increment's idempotency record, so none is lost or doubled.
pub(super) async fn run_retries_until_every_increment_lands(s: &Subject<'_>) {
    const TASKS: usize = 16;
    let attempts = Arc::new(AtomicUsize::new(0));
    let markers: Vec<Vec<u8>> = (0..TASKS)
        .map(|i| format!("marker/inc/{i:02}").into_bytes())
        .collect();
    let increments = markers.iter().map(|marker| {
        let attempts = Arc::clone(&attempts);
        exactly_once(s, marker, move |tx| {
            let attempts = Arc::clone(&attempts);
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
    join_all(increments).await;
    assert_eq!(decode_i64(get(s, b"counter").await), TASKS as i64);
    assert!(
        attempts.load(Ordering::Relaxed) > TASKS,
        "conflicts happened and were retried"
    );
}

pub(super) async fn watches(s: &Subject<'_>) {
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
    let store = s.store;

    // Once in effect: a second commit of the same write (a re-run after an
    // unknown outcome) could wake the watches registered next, which the
    // trait allows but the quiet checks below would take for a bug.
    let watch = store.watch(b"w/a");
    exactly_once(s, b"marker/watch-set", |tx| {
        Box::pin(async move { tx.set(b"w/a", b"1") })
    })
    .await;
    assert!(fires(watch).await, "a set fires");

    let watch = store.watch(b"w/a");
    set(s, b"w/b", b"1").await;
    assert!(quiet(watch).await, "a write to another key does not fire");

    let watch = store.watch(b"w/a");
    exactly_once(s, b"marker/watch-clear", |tx| {
        Box::pin(async move { tx.clear_range(b"w/", b"w0") })
    })
    .await;
    assert!(fires(watch).await, "a clear_range covering the key fires");

    let watch = store.watch(b"w/c");
    exactly_once(s, b"marker/watch-add", |tx| {
        Box::pin(async move { tx.atomic_add(b"w/c", 1) })
    })
    .await;
    assert!(fires(watch).await, "an atomic add fires");

    // Register, read, then wait: a write between the read and the wait is caught.
    let watch = store.watch(b"w/d");
    assert_eq!(get(s, b"w/d").await, None);
    set(s, b"w/d", b"1").await;
    assert!(fires(watch).await, "a write after registering fires");

    let (first, second) = (store.watch(b"w/e"), store.watch(b"w/e"));
    let tx = open(s, |tx| Box::pin(async move { tx.set(b"w/e", b"1") })).await;
    drop(tx);
    assert!(quiet(first).await, "an uncommitted write does not fire");
    set(s, b"w/e", b"1").await;
    assert!(fires(second).await, "every watcher of the key fires");
}

pub(super) async fn limits_reject_and_write_nothing(s: &Subject<'_>) {
    commit(s, |tx| {
        Box::pin(async move {
            let big_key = vec![b'k'; limits::MAX_KEY_BYTES + 1];
            let big_value = vec![0u8; limits::MAX_VALUE_BYTES + 1];
            let len = big_key.len();
            assert!(
                matches!(tx.set(&big_key, b"v"), Err(MetaError::KeyTooLarge { len: l }) if l == len)
            );
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
            let stamped =
                tx.set_versionstamped_value(b"k", &big_value[..limits::MAX_VALUE_BYTES - 5]);
            assert!(
                matches!(stamped, Err(MetaError::ValueTooLarge { .. })),
                "prefix plus stamp is too large"
            );
            assert!(matches!(
                tx.clear_range(b"b", b"a"),
                Err(MetaError::InvertedRange)
            ));
            // Exactly at the limits.
            tx.set(&big_key[1..], &big_value[1..])
        })
    })
    .await;
    let big_key = vec![b'k'; limits::MAX_KEY_BYTES + 1];
    assert_eq!(get(s, &big_key).await, None);
    assert_eq!(get(s, b"k").await, None);
    assert_eq!(
        get(s, &big_key[1..]).await.map(|v| v.len()),
        Some(limits::MAX_VALUE_BYTES)
    );

    // Through the retry loop, as a caller would: faults may come first, the
    // refusal is what ends it.
    let outcome = try_commit(s, |tx| {
        Box::pin(async move {
            let value = vec![1u8; limits::MAX_VALUE_BYTES];
            for i in 0..=(limits::MAX_TRANSACTION_BYTES / limits::MAX_VALUE_BYTES) {
                tx.set(format!("big/{i:04}").as_bytes(), &value)?;
            }
            Ok(())
        })
    })
    .await;
    assert!(
        matches!(outcome, Err(MetaError::TransactionTooLarge { bytes }) if bytes > limits::MAX_TRANSACTION_BYTES),
        "{outcome:?}"
    );
    assert!(
        range(s, b"big/", b"big0", RangeOptions::default())
            .await
            .is_empty(),
        "nothing written"
    );
}

/// A long run of increments, each once in effect through the retry loop and
/// its idempotency record: none lost, none doubled. Wrapped, the run must
/// have met every kind of fault, so the other checks' adaptations are
/// known to be exercised.
pub(super) async fn every_kind_of_fault_is_survived(s: &Subject<'_>) {
    const INCREMENTS: i64 = 100;
    for i in 0..INCREMENTS {
        let marker = format!("marker/survive/{i:03}").into_bytes();
        exactly_once(s, &marker, |tx| {
            Box::pin(async move {
                let count = decode_i64(tx.get(b"survived").await?);
                tx.set(b"survived", &(count + 1).to_le_bytes())
            })
        })
        .await;
    }
    assert_eq!(decode_i64(get(s, b"survived").await), INCREMENTS);
    if let Some(counts) = s.fault_counts() {
        println!("faults injected: {counts:?}");
        assert!(counts.every_kind(), "{counts:?}");
    }
}

/// Durability is the redb backend's alone, so this is not part of the suite.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redb_survives_reopen() {
    use crate::redb_store::RedbMetaStore;

    let dir = tempfile::tempdir().expect("create temp dir");
    let path = dir.path().join("meta.redb");
    let (before, stamp) = {
        let store = RedbMetaStore::open(&path).expect("open");
        let s = Subject::plain(&store);
        set(&s, b"k", b"v").await;
        let mut tx = store.begin().await.expect("begin");
        tx.set_versionstamped_value(b"vs", b"").expect("stamp");
        tx.atomic_add(b"n", 3).expect("add");
        let version = tx.commit().await.expect("commit").version;
        (version, get(&s, b"vs").await.expect("stamp written"))
    };
    let store = RedbMetaStore::open(&path).expect("reopen");
    let s = Subject::plain(&store);
    assert_eq!(get(&s, b"k").await.as_deref(), Some(&b"v"[..]));
    assert_eq!(decode_i64(get(&s, b"n").await), 3);
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
        get(&s, b"vs").await.expect("stamp") > stamp,
        "versionstamps too"
    );
}
