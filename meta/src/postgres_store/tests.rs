//! What only the PostgreSQL backend can get wrong (the conformance suite
//! covers the trait): several stores on one database behave as one store,
//! watches survive a lost listener connection, and data and versions
//! survive reopening. Each test runs its own server.

use std::time::Duration;

use stratus_testkit::PostgresServer;

use super::PostgresMetaStore;
use crate::{MetaError, MetaStore, RetryPolicy, run};

const FIRES_WITHIN: Duration = Duration::from_secs(10);

async fn open(server: &PostgresServer) -> PostgresMetaStore {
    PostgresMetaStore::open(&server.url())
        .await
        .expect("open PostgreSQL")
}

async fn set(store: &dyn MetaStore, key: &[u8], value: &[u8]) -> u64 {
    let mut tx = store.begin().await.expect("begin");
    tx.set(key, value).expect("set");
    tx.commit().await.expect("commit").version
}

async fn get(store: &dyn MetaStore, key: &[u8]) -> Option<bytes::Bytes> {
    let mut tx = store.begin().await.expect("begin");
    tx.get(key).await.expect("get")
}

/// Runs one statement as the superuser on a connection of its own.
async fn admin(server: &PostgresServer, sql: &str) {
    let (client, connection) = tokio_postgres::connect(&server.url(), tokio_postgres::NoTls)
        .await
        .expect("connect");
    let driver = tokio::spawn(connection);
    client.batch_execute(sql).await.expect(sql);
    drop(client);
    let _ = driver.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_on_one_database_act_as_one() {
    let server = PostgresServer::start();
    let (a, b) = (open(&server).await, open(&server).await);

    // A conflict across stores, as across gateway processes.
    set(&a, b"k", b"0").await;
    let (mut ta, mut tb) = (
        a.begin().await.expect("begin"),
        b.begin().await.expect("begin"),
    );
    ta.get(b"k").await.expect("get");
    tb.get(b"k").await.expect("get");
    ta.set(b"k", b"a").expect("set");
    tb.set(b"k", b"b").expect("set");
    ta.commit().await.expect("first commit wins");
    assert!(matches!(tb.commit().await, Err(MetaError::Conflict)));
    assert_eq!(get(&b, b"k").await.as_deref(), Some(&b"a"[..]));

    // A watch on one store fires for a commit through the other.
    let watch = b.watch(b"w");
    set(&a, b"w", b"1").await;
    tokio::time::timeout(FIRES_WITHIN, watch.changed())
        .await
        .expect("a commit through another store fires the watch");

    // Increments through both stores at once all land, in one version order.
    let policy = RetryPolicy {
        max_attempts: 1_000,
        ..RetryPolicy::default()
    };
    let increment = |store: PostgresMetaStore| {
        let policy = policy.clone();
        tokio::spawn(async move {
            let mut versions = Vec::new();
            for _ in 0..20 {
                let (_, info) = crate::run_with_info(&store, &policy, |tx| {
                    Box::pin(async move {
                        let current = tx.get(b"n").await?.map_or(0, |v| v[0]);
                        tx.set(b"n", &[current + 1])?;
                        Ok(())
                    })
                })
                .await
                .expect("increment");
                versions.push(info.version);
            }
            versions
        })
    };
    let (va, vb) = (increment(a.clone()), increment(b.clone()));
    let (va, vb) = (va.await.expect("task"), vb.await.expect("task"));
    assert_eq!(get(&a, b"n").await.as_deref(), Some(&[40u8][..]));
    let mut all: Vec<u64> = va.into_iter().chain(vb).collect();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 40, "every commit has its own version");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_fire_after_the_listener_connection_is_lost() {
    let server = PostgresServer::start();
    let store = open(&server).await;
    // Let the listener connect before cutting it off.
    let warm = store.watch(b"warm");
    set(&store, b"warm", b"1").await;
    tokio::time::timeout(FIRES_WITHIN, warm.changed())
        .await
        .expect("the listener runs");

    let watch = store.watch(b"k");
    admin(
        &server,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = 'stratus-watches'",
    )
    .await;
    // Committed while no listener is connected: no notification reaches it.
    set(&store, b"k", b"1").await;
    tokio::time::timeout(FIRES_WITHIN, watch.changed())
        .await
        .expect("the reconnected listener finds the commit in the log");
}

/// A server that ends a transaction's session (a restart, a failover, an
/// administrator) before its commit fails it retryably: `run` runs it again
/// on a fresh connection, and it commits once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_cut_before_commit_is_retried_on_a_new_connection() {
    let server = PostgresServer::start();
    let store = open(&server).await;
    set(&store, b"n", &[1]).await;
    let attempts = std::sync::atomic::AtomicU32::new(0);
    let (attempts_ref, server_ref) = (&attempts, &server);
    let policy = RetryPolicy::default();
    run(&store, &policy, |tx| {
        Box::pin(async move {
            let first = attempts_ref.fetch_add(1, std::sync::atomic::Ordering::Relaxed) == 0;
            let n = tx.get(b"n").await?.map_or(0, |v| v[0]);
            if first {
                admin(
                    server_ref,
                    // With a timeout, it waits until the session has ended.
                    "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity \
                     WHERE application_name = 'stratus'",
                )
                .await;
            }
            let error = tx.get(b"other").await;
            if first {
                let error = error.expect_err("the session is gone");
                assert!(matches!(error, MetaError::Busy { .. }), "{error}");
                return Err(error);
            }
            tx.set(b"n", &[n + 1])?;
            Ok(())
        })
    })
    .await
    .expect("the second attempt commits");
    assert_eq!(attempts.load(std::sync::atomic::Ordering::Relaxed), 2);
    assert_eq!(get(&store, b"n").await.as_deref(), Some(&[2u8][..]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_and_versions_survive_reopening() {
    let server = PostgresServer::start();
    let (before, stamp) = {
        let store = open(&server).await;
        set(&store, b"k", b"v").await;
        let mut tx = store.begin().await.expect("begin");
        tx.set_versionstamped_value(b"vs", b"").expect("stamp");
        tx.atomic_add(b"n", 3).expect("add");
        let version = tx.commit().await.expect("commit").version;
        (version, get(&store, b"vs").await.expect("stamp written"))
    };
    let store = open(&server).await;
    assert_eq!(get(&store, b"k").await.as_deref(), Some(&b"v"[..]));
    assert_eq!(
        get(&store, b"n").await.as_deref(),
        Some(&3i64.to_le_bytes()[..])
    );
    let tx = store.begin().await.expect("begin");
    assert_eq!(tx.read_version(), before, "the version survives");
    drop(tx);
    let after = run(&store, &RetryPolicy::default(), |tx| {
        Box::pin(async move { tx.set_versionstamped_value(b"vs", b"") })
    })
    .await;
    after.expect("stamp again");
    assert!(
        get(&store, b"vs").await.expect("stamp") > stamp,
        "versionstamps keep increasing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_url_or_an_unreachable_server_fails_clearly() {
    let error = PostgresMetaStore::open("postgres://stratus@/db?port=notaport")
        .await
        .expect_err("bad port");
    assert!(
        error.to_string().contains("invalid PostgreSQL URL"),
        "{error}"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "postgres:///db?user=u&host={}&connect_timeout=2",
        dir.path().display()
    );
    let error = PostgresMetaStore::open(&url)
        .await
        .expect_err("nothing listens");
    assert!(
        error.to_string().contains("cannot connect to PostgreSQL"),
        "{error}"
    );
}
