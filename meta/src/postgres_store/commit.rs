//! The commit of a writing transaction: one PostgreSQL transaction that
//! takes the version row's lock, checks conflicts, applies the writes and
//! logs them.
//!
//! Why not PostgreSQL's SERIALIZABLE isolation alone: its SSI aborts a
//! transaction that writes a row a concurrent one wrote (first updater
//! wins), has no reads that stay out of conflict checks (`snapshot_get`),
//! and a commit-ordered version counter row would make every two concurrent
//! writers conflict. FoundationDB's contract is optimistic instead: only
//! reads conflict, blind writes and atomic adds never do. So conflicts are
//! checked here the way FoundationDB's resolvers and the embedded backends
//! check them, against the write sets of the commits since the
//! transaction's read version, which PostgreSQL keeps in
//! `stratus_meta_commits`.
//!
//! Commit order and versionstamps: every commit locks the one version row
//! (`FOR UPDATE`, at READ COMMITTED so the lock waits instead of aborting)
//! and writes version + 1. The lock is held until the commit is durable and
//! visible, so versions are dense, increase in commit order, and a snapshot
//! that shows version V shows every commit up to V and none after. A
//! versionstamp is that version (8 bytes, big-endian) and a 2-byte order.
//! `pg_current_xact_id()` would not do: transaction ids are handed out when
//! a transaction first writes, not when it commits, so a later id can
//! become visible first; a sequence has the same flaw.
//!
//! The price is that commits are serial across the whole cluster, as they
//! are within one embedded store: throughput is one commit per lock hold
//! (a few round trips and a WAL flush).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use futures::future::try_join_all;
use tokio_postgres::types::ToSql;
use tokio_postgres::{SimpleQueryMessage, Statement};

use super::error;
use super::schema::CHANNEL;
use super::transaction::Conn;
use crate::limits::{PG_COMMIT_LOG_RETENTION, PG_LOCK_TIMEOUT, PG_PRUNE_EVERY};
use crate::occ::{Mutation, RangeSet, WriteBuffer, add_le};
use crate::{CommitInfo, MetaError};

const CONFLICTS: &str = "SELECT EXISTS (
    SELECT 1 FROM stratus_meta_commits c,
        unnest(c.begins, c.ends) AS w(b, e),
        unnest($2::bytea[], $3::bytea[]) AS r(b, e)
    WHERE c.version > $1 AND w.b < r.e AND r.b < w.e)";
const READ_ADDED: &str = "SELECT key, value FROM stratus_meta_kv WHERE key = ANY($1)";
const CLEAR_RANGES: &str = "DELETE FROM stratus_meta_kv k \
    USING unnest($1::bytea[], $2::bytea[]) AS r(b, e) WHERE k.key >= r.b AND k.key < r.e";
const CLEAR_KEYS: &str = "DELETE FROM stratus_meta_kv WHERE key = ANY($1)";
const UPSERT: &str = "INSERT INTO stratus_meta_kv (key, value) \
    SELECT * FROM unnest($1::bytea[], $2::bytea[]) \
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value";
/// `clock_timestamp()`, not `now()`: taken under the lock, so it follows
/// commit order, and pruning by it drops a prefix of versions.
const LOG: &str = "INSERT INTO stratus_meta_commits (version, begins, ends, committed_at) \
    VALUES ($1, $2, $3, clock_timestamp())";
const SET_VERSION: &str = "UPDATE stratus_meta_version SET version = $1";
/// Watchers read the write set from the log; the payload only wakes them.
const NOTIFY: &str = "SELECT pg_notify($1, $2)";
const PRUNE: &str = "WITH gone AS (
        DELETE FROM stratus_meta_commits
        WHERE committed_at < clock_timestamp() - make_interval(secs => $1)
        RETURNING version)
    UPDATE stratus_meta_version
    SET pruned_through = GREATEST(pruned_through, (SELECT max(version) FROM gone))";

/// Ends the read snapshot, starts the commit transaction and takes the lock,
/// in one round trip. `synchronous_commit` is forced on: an acknowledged
/// produce depends on this commit surviving a server crash.
fn lock_statement() -> String {
    format!(
        "COMMIT; BEGIN ISOLATION LEVEL READ COMMITTED; \
         SET LOCAL synchronous_commit = on; SET LOCAL lock_timeout = {}; \
         SELECT version, pruned_through FROM stratus_meta_version FOR UPDATE",
        PG_LOCK_TIMEOUT.as_millis()
    )
}

type Pending<'a> = Pin<Box<dyn Future<Output = Result<u64, tokio_postgres::Error>> + Send + 'a>>;

/// Commits `writes` if nothing in `reads` was written after `read_version`.
pub(super) async fn commit(
    conn: Conn,
    read_version: u64,
    reads: &RangeSet,
    writes: WriteBuffer,
) -> Result<CommitInfo, MetaError> {
    let client = conn.client()?;
    let messages = client
        .simple_query(&lock_statement())
        .await
        .map_err(|e| error::map(&e))?;
    let (last, pruned_through) = locked_row(&messages)?;
    if read_version < pruned_through {
        return Err(MetaError::TransactionTooOld);
    }
    if !reads.is_empty() && conflicts(client, read_version, reads).await? {
        return Err(MetaError::Conflict);
    }
    let version = last + 1;
    let write_set = writes.write_set();
    let mutations = writes.into_mutations(version);
    let batch = Batch::resolve(client, mutations).await?;
    let version_param = to_i64(version)?;
    let (log_begins, log_ends) = split(&write_set);
    let payload = version.to_string();
    let retention = PG_COMMIT_LOG_RETENTION.as_secs_f64();

    let statements = [
        CLEAR_RANGES,
        CLEAR_KEYS,
        UPSERT,
        LOG,
        SET_VERSION,
        NOTIFY,
        PRUNE,
    ];
    let prepared = try_join_all(statements.iter().map(|sql| client.prepare_cached(sql)))
        .await
        .map_err(|e| error::map(&e))?;
    let [
        clear_ranges,
        clear_keys,
        upsert,
        log,
        set_version,
        notify,
        prune,
    ] = &prepared[..]
    else {
        unreachable!("one statement prepared per entry");
    };
    // Sent back to back without waiting (tokio-postgres pipelines requests
    // issued together) and executed in this order: clears before sets, as
    // the write buffer's mutations require.
    let (range_begins, range_ends) = (slices(&batch.range_begins), slices(&batch.range_ends));
    let cleared = slices(&batch.cleared);
    let (set_keys, set_values) = (slices(&batch.set_keys), slices(&batch.set_values));
    let mut pending: Vec<Pending<'_>> = Vec::new();
    if !range_begins.is_empty() {
        pending.push(run(client, clear_ranges, vec![&range_begins, &range_ends]));
    }
    if !cleared.is_empty() {
        pending.push(run(client, clear_keys, vec![&cleared]));
    }
    if !set_keys.is_empty() {
        pending.push(run(client, upsert, vec![&set_keys, &set_values]));
    }
    pending.push(run(
        client,
        log,
        vec![&version_param, &log_begins, &log_ends],
    ));
    pending.push(run(client, set_version, vec![&version_param]));
    pending.push(run(client, notify, vec![&CHANNEL, &payload]));
    if version % PG_PRUNE_EVERY == 0 {
        pending.push(run(client, prune, vec![&retention]));
    }
    try_join_all(pending).await.map_err(|e| error::map(&e))?;
    client
        .batch_execute("COMMIT")
        .await
        .map_err(|e| error::map_commit(&e))?;
    conn.release();
    Ok(CommitInfo { version })
}

/// One statement of the pipeline; sent when first polled.
fn run<'a>(
    client: &'a deadpool_postgres::Object,
    statement: &'a Statement,
    params: Vec<&'a (dyn ToSql + Sync)>,
) -> Pending<'a> {
    Box::pin(client.execute_raw(statement, params))
}

/// The version row as the lock statement returned it.
fn locked_row(messages: &[SimpleQueryMessage]) -> Result<(u64, u64), MetaError> {
    let row = messages.iter().find_map(|message| match message {
        SimpleQueryMessage::Row(row) => Some(row),
        _ => None,
    });
    let column = |index| {
        row.and_then(|row| row.get(index))
            .and_then(|text| text.parse::<u64>().ok())
    };
    match (column(0), column(1)) {
        (Some(version), Some(pruned_through)) => Ok((version, pruned_through)),
        _ => Err(MetaError::Backend(
            "stratus_meta_version has no readable row".to_owned(),
        )),
    }
}

/// Whether a commit after `read_version` wrote inside `reads`. PostgreSQL
/// intersects the ranges, so only the answer crosses the network.
async fn conflicts(
    client: &deadpool_postgres::Object,
    read_version: u64,
    reads: &RangeSet,
) -> Result<bool, MetaError> {
    let statement = client
        .prepare_cached(CONFLICTS)
        .await
        .map_err(|e| error::map(&e))?;
    let (begins, ends) = split(reads);
    let row = client
        .query_one(&statement, &[&to_i64(read_version)?, &begins, &ends])
        .await
        .map_err(|e| error::map(&e))?;
    Ok(row.get(0))
}

fn slices(values: &[Bytes]) -> Vec<&[u8]> {
    values.iter().map(Bytes::as_ref).collect()
}

/// A range set as the two arrays the statements take.
fn split(set: &RangeSet) -> (Vec<&[u8]>, Vec<&[u8]>) {
    set.iter().map(|(b, e)| (b.as_ref(), e.as_ref())).unzip()
}

fn to_i64(version: u64) -> Result<i64, MetaError> {
    i64::try_from(version)
        .map_err(|_| MetaError::Backend(format!("version {version} does not fit a bigint")))
}

/// The mutations grouped into the arrays of one statement each.
#[derive(Debug, Default)]
struct Batch {
    range_begins: Vec<Bytes>,
    range_ends: Vec<Bytes>,
    cleared: Vec<Bytes>,
    set_keys: Vec<Bytes>,
    set_values: Vec<Bytes>,
}

impl Batch {
    /// Groups `mutations`, turning atomic adds into sets over the committed
    /// values. Reading them here is exact: the version row's lock is held,
    /// so no other commit can change them before this one.
    async fn resolve(
        client: &deadpool_postgres::Object,
        mutations: Vec<Mutation>,
    ) -> Result<Self, MetaError> {
        let mut batch = Self::default();
        let mut adds = Vec::new();
        for mutation in mutations {
            match mutation {
                Mutation::ClearRange(begin, end) => {
                    batch.range_begins.push(begin);
                    batch.range_ends.push(end);
                }
                Mutation::Clear(key) => batch.cleared.push(key),
                Mutation::Set(key, value) => {
                    batch.set_keys.push(key);
                    batch.set_values.push(value);
                }
                Mutation::Add(key, delta) => adds.push((key, delta)),
            }
        }
        if adds.is_empty() {
            return Ok(batch);
        }
        let statement = client
            .prepare_cached(READ_ADDED)
            .await
            .map_err(|e| error::map(&e))?;
        let keys: Vec<&[u8]> = adds.iter().map(|(key, _)| key.as_ref()).collect();
        let rows = client
            .query(&statement, &[&keys])
            .await
            .map_err(|e| error::map(&e))?;
        let committed: HashMap<Vec<u8>, Vec<u8>> = rows
            .into_iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect();
        for (key, delta) in adds {
            let value = add_le(committed.get(key.as_ref()).map(Vec::as_slice), delta);
            batch.set_keys.push(key);
            batch.set_values.push(value);
        }
        Ok(batch)
    }
}
