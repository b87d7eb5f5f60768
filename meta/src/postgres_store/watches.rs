//! Watches across processes: LISTEN/NOTIFY to learn promptly that something
//! committed, the commit log to learn exactly what.
//!
//! Every commit notifies [`CHANNEL`] (delivered only if it commits) and logs
//! its write set under its version. One listener task per store holds its
//! own connection, and on each notification, and every
//! [`PG_WATCH_RECHECK_INTERVAL`] without one, reads the log past the last
//! version it handled and wakes the in-process watchers of every written
//! key. Notifications carry nothing the listener relies on, so a lost one
//! (the connection dropped, the listener reconnected) only delays a wakeup
//! until the next read of the log; versions are dense, so a gap in what the
//! log returns means rows were pruned before the listener read them, and
//! then every watcher is woken (a spurious wakeup, which the trait allows).
//!
//! A watch counts from the moment it is registered: a commit visible before
//! that is either already handled or seen by the caller's read that
//! follows, and one that becomes visible after it is in a later read of
//! the log.

use std::sync::Arc;

use bytes::Bytes;
use futures::future::poll_fn;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::{AsyncMessage, Client, NoTls, Statement};

use super::schema::CHANNEL;
use crate::limits::{PG_LISTEN_RECONNECT_BACKOFF, PG_WATCH_BATCH, PG_WATCH_RECHECK_INTERVAL};
use crate::occ::{RangeSet, Watchers};

const READ_LOG: &str = "SELECT version, begins, ends FROM stratus_meta_commits \
                        WHERE version > $1 ORDER BY version LIMIT $2";

/// Starts the listener on the current runtime. It runs until `stop` is
/// dropped or sent, that is until the store is dropped.
pub(super) fn spawn(
    mut config: tokio_postgres::Config,
    watchers: Arc<Watchers>,
    seen: u64,
    stop: oneshot::Receiver<()>,
) {
    // Tells the listener apart in pg_stat_activity from pooled connections.
    let name = format!(
        "{}-watches",
        config.get_application_name().unwrap_or("stratus")
    );
    config.application_name(&name);
    drop(tokio::spawn(listen(config, watchers, seen, stop)));
}

async fn listen(
    config: tokio_postgres::Config,
    watchers: Arc<Watchers>,
    mut seen: u64,
    mut stop: oneshot::Receiver<()>,
) {
    loop {
        let session = session(&config, &watchers, &mut seen);
        let error = tokio::select! {
            error = session => error,
            _ = &mut stop => return,
        };
        tracing::warn!(
            %error,
            "metadata watch listener lost PostgreSQL; reconnecting (watches fire late until then)"
        );
        tokio::select! {
            () = tokio::time::sleep(PG_LISTEN_RECONNECT_BACKOFF) => {}
            _ = &mut stop => return,
        }
    }
}

/// One connection's worth of listening; returns why it ended.
async fn session(config: &tokio_postgres::Config, watchers: &Watchers, seen: &mut u64) -> String {
    let (client, mut connection) = match config.connect(NoTls).await {
        Ok(pair) => pair,
        Err(error) => return error.to_string(),
    };
    let (heard, mut notifications) = mpsc::unbounded_channel::<()>();
    // The connection must be polled for the client's queries to complete,
    // and it is also where notifications arrive.
    let driver = tokio::spawn(async move {
        loop {
            match poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(_))) => {
                    if heard.send(()).is_err() {
                        return String::from("listener stopped");
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => return error.to_string(),
                None => return String::from("connection closed"),
            }
        }
    });
    let outcome = listen_on(&client, watchers, seen, &mut notifications).await;
    drop(client);
    driver.abort();
    outcome
}

async fn listen_on(
    client: &Client,
    watchers: &Watchers,
    seen: &mut u64,
    notifications: &mut mpsc::UnboundedReceiver<()>,
) -> String {
    if let Err(error) = client.batch_execute(&format!("LISTEN {CHANNEL}")).await {
        return error.to_string();
    }
    let statement = match client.prepare(READ_LOG).await {
        Ok(statement) => statement,
        Err(error) => return error.to_string(),
    };
    // Commits while no connection listened were not heard: the log has them.
    let mut recheck = tokio::time::interval(PG_WATCH_RECHECK_INTERVAL);
    loop {
        if let Err(error) = catch_up(client, &statement, watchers, seen).await {
            return error.to_string();
        }
        tokio::select! {
            heard = notifications.recv() => {
                if heard.is_none() {
                    return String::from("connection closed");
                }
                // One read of the log covers every notification queued so far.
                while notifications.try_recv().is_ok() {}
            }
            _ = recheck.tick() => {}
        }
    }
}

/// Wakes the watchers of every key written by commits after `seen`.
async fn catch_up(
    client: &Client,
    statement: &Statement,
    watchers: &Watchers,
    seen: &mut u64,
) -> Result<(), tokio_postgres::Error> {
    loop {
        let after = i64::try_from(*seen).unwrap_or(i64::MAX);
        let rows = client.query(statement, &[&after, &PG_WATCH_BATCH]).await?;
        for row in &rows {
            let version = u64::try_from(row.get::<_, i64>(0)).unwrap_or(0);
            if version != *seen + 1 {
                // Rows between were pruned before this listener read them.
                watchers.wake_all();
            }
            let begins: Vec<Vec<u8>> = row.get(1);
            let ends: Vec<Vec<u8>> = row.get(2);
            let ranges = begins
                .into_iter()
                .zip(ends)
                .map(|(begin, end)| (Bytes::from(begin), Bytes::from(end)))
                .collect();
            watchers.notify(&RangeSet::from_unsorted(ranges));
            *seen = version;
        }
        if rows.len() < usize::try_from(PG_WATCH_BATCH).unwrap_or(usize::MAX) {
            return Ok(());
        }
    }
}
