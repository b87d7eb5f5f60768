//! One [`Transaction`] on PostgreSQL: reads from a REPEATABLE READ snapshot,
//! writes buffered in the process until commit.
//!
//! The snapshot is a read-only PostgreSQL transaction that first reads the
//! version row, so its data is exactly the commits up to that version (commits
//! update the row and their data atomically, one at a time). Reads record
//! their conflict ranges here; [`super::commit`] checks them against the
//! commits that came after. The connection is held for the transaction's
//! life, at most [`MAX_TRANSACTION_AGE`], and rolled back when it is dropped.

use async_trait::async_trait;
use bytes::Bytes;
use deadpool_postgres::{Object, Pool};
use tokio::time::Instant;
use tokio_postgres::SimpleQueryMessage;

use super::{commit, error};
use crate::limits::{self, MAX_TRANSACTION_AGE};
use crate::occ::{Local, RangeSet, WriteBuffer, add_le, key_after, point};
use crate::{CommitInfo, MetaError, RangeOptions, Transaction, checks};

/// Opens the snapshot and reads its version in one round trip.
const BEGIN: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; \
                     SELECT version FROM stratus_meta_version";
const GET: &str = "SELECT value FROM stratus_meta_kv WHERE key = $1";
/// `LIMIT NULL` is no limit.
const RANGE: &str = "SELECT key, value FROM stratus_meta_kv \
                     WHERE key >= $1 AND key < $2 ORDER BY key LIMIT $3";
const RANGE_REVERSE: &str = "SELECT key, value FROM stratus_meta_kv \
                             WHERE key >= $1 AND key < $2 ORDER BY key DESC LIMIT $3";

/// A pooled connection that may be inside a PostgreSQL transaction. Dropped
/// while inside one, it is rolled back before it goes back to the pool, so
/// no snapshot stays open (holding back vacuum) on an idle connection.
pub(super) struct Conn {
    client: Option<Object>,
}

impl Conn {
    pub(super) fn client(&self) -> Result<&Object, MetaError> {
        self.client.as_ref().ok_or(MetaError::Closed)
    }

    /// Back to the pool as it is: the caller ended the PostgreSQL transaction.
    pub(super) fn release(mut self) {
        drop(self.client.take());
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        let Some(client) = self.client.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn(async move {
                if client.batch_execute("ROLLBACK").await.is_err() {
                    // A connection in an unknown state must not be reused.
                    drop(Object::take(client));
                }
            })),
            // No runtime to roll back on: close the connection instead,
            // which ends its transaction on the server.
            Err(_) => drop(Object::take(client)),
        }
    }
}

pub(super) struct PgTransaction {
    conn: Conn,
    read_version: u64,
    started: Instant,
    writes: WriteBuffer,
    /// Read conflict ranges, coalesced at commit.
    reads: Vec<(Bytes, Bytes)>,
    read_bytes: usize,
}

impl PgTransaction {
    pub(super) async fn begin(pool: &Pool) -> Result<Self, MetaError> {
        let started = Instant::now();
        let client = pool.get().await.map_err(|e| error::map_pool(&e))?;
        let conn = Conn {
            client: Some(client),
        };
        let messages = conn
            .client()?
            .simple_query(BEGIN)
            .await
            .map_err(|e| error::map(&e))?;
        let read_version = messages
            .iter()
            .find_map(|message| match message {
                SimpleQueryMessage::Row(row) => row.get(0),
                _ => None,
            })
            .and_then(|text| text.parse::<u64>().ok())
            .ok_or_else(|| {
                MetaError::Backend("stratus_meta_version has no readable row".to_owned())
            })?;
        Ok(Self {
            conn,
            read_version,
            started,
            writes: WriteBuffer::default(),
            reads: Vec::new(),
            read_bytes: 0,
        })
    }

    /// Reads past the age limit fail as FoundationDB's do, which also bounds
    /// how long a forgotten transaction pins its snapshot.
    fn check_age(&self) -> Result<(), MetaError> {
        if self.started.elapsed() > MAX_TRANSACTION_AGE {
            return Err(MetaError::TransactionTooOld);
        }
        Ok(())
    }

    fn add_read(&mut self, begin: Bytes, end: Bytes) {
        self.read_bytes += begin.len() + end.len();
        self.reads.push((begin, end));
    }

    async fn fetch(&self, key: &[u8]) -> Result<Option<Bytes>, MetaError> {
        self.check_age()?;
        let client = self.conn.client()?;
        let statement = client
            .prepare_cached(GET)
            .await
            .map_err(|e| error::map(&e))?;
        let row = client
            .query_opt(&statement, &[&key])
            .await
            .map_err(|e| error::map(&e))?;
        Ok(row.map(|row| Bytes::from(row.get::<_, Vec<u8>>(0))))
    }

    async fn read_key(&mut self, key: &[u8], conflict: bool) -> Result<Option<Bytes>, MetaError> {
        let value = match self.writes.lookup(key)? {
            // Our own write decides the value, so a concurrent write to the
            // key cannot change what this transaction saw.
            Local::Known(value) => return Ok(value),
            Local::Add(delta) => Some(add_le(self.fetch(key).await?.as_deref(), delta)),
            Local::Unknown => self.fetch(key).await?,
        };
        if conflict {
            let (begin, end) = point(key);
            self.add_read(begin, end);
        }
        Ok(value)
    }

    /// The committed pairs a range read needs before merging buffered
    /// writes: with a limit, only as many as the writes can leave standing.
    async fn fetch_range(
        &self,
        begin: &[u8],
        end: &[u8],
        options: RangeOptions,
    ) -> Result<Vec<(Bytes, Bytes)>, MetaError> {
        self.check_age()?;
        let (ops, cleared) = self.writes.touching(begin, end);
        // Each buffered per-key write hides at most one committed pair; a
        // buffered clear can hide any number, so then read the whole range.
        let limit = (options.limit > 0 && !cleared)
            .then(|| i64::try_from(options.limit.saturating_add(ops)).unwrap_or(i64::MAX));
        let client = self.conn.client()?;
        let sql = if options.reverse {
            RANGE_REVERSE
        } else {
            RANGE
        };
        let statement = client
            .prepare_cached(sql)
            .await
            .map_err(|e| error::map(&e))?;
        let rows = client
            .query(&statement, &[&begin, &end, &limit])
            .await
            .map_err(|e| error::map(&e))?;
        Ok(rows
            .into_iter()
            .map(|row| {
                (
                    Bytes::from(row.get::<_, Vec<u8>>(0)),
                    Bytes::from(row.get::<_, Vec<u8>>(1)),
                )
            })
            .collect())
    }
}

#[async_trait]
impl Transaction for PgTransaction {
    fn read_version(&self) -> u64 {
        self.read_version
    }

    async fn get(&mut self, key: &[u8]) -> Result<Option<Bytes>, MetaError> {
        self.read_key(key, true).await
    }

    async fn snapshot_get(&mut self, key: &[u8]) -> Result<Option<Bytes>, MetaError> {
        self.read_key(key, false).await
    }

    async fn get_range(
        &mut self,
        begin: &[u8],
        end: &[u8],
        options: RangeOptions,
    ) -> Result<Vec<(Bytes, Bytes)>, MetaError> {
        self.check_age()?;
        if begin >= end {
            return Ok(Vec::new());
        }
        let committed = self.fetch_range(begin, end, options).await?;
        let out = self.writes.merge_range(
            committed.into_iter().map(Ok),
            begin,
            end,
            options.limit,
            options.reverse,
        )?;
        if !options.snapshot {
            // With a limit reached, only the keys up to the last one returned
            // were observed; a write past it cannot change this result.
            let last = out
                .last()
                .filter(|_| options.limit > 0 && out.len() >= options.limit);
            let (conflict_begin, conflict_end) = match (last, options.reverse) {
                (Some((key, _)), false) => (Bytes::copy_from_slice(begin), key_after(key)),
                (Some((key, _)), true) => (key.clone(), Bytes::copy_from_slice(end)),
                (None, _) => (Bytes::copy_from_slice(begin), Bytes::copy_from_slice(end)),
            };
            self.add_read(conflict_begin, conflict_end);
        }
        Ok(out)
    }

    fn set(&mut self, key: &[u8], value: &[u8]) -> Result<(), MetaError> {
        checks::key(key)?;
        checks::value(value.len())?;
        self.writes.set(key, value);
        Ok(())
    }

    fn clear(&mut self, key: &[u8]) -> Result<(), MetaError> {
        checks::key(key)?;
        self.writes.clear(key);
        Ok(())
    }

    fn clear_range(&mut self, begin: &[u8], end: &[u8]) -> Result<(), MetaError> {
        if checks::clear_range(begin, end)? {
            self.writes.clear_range(begin, end);
        }
        Ok(())
    }

    fn atomic_add(&mut self, key: &[u8], delta: i64) -> Result<(), MetaError> {
        checks::key(key)?;
        self.writes.atomic_add(key, delta)
    }

    fn set_versionstamped_value(
        &mut self,
        key: &[u8],
        value_prefix: &[u8],
    ) -> Result<(), MetaError> {
        checks::key(key)?;
        checks::value(value_prefix.len() + crate::VERSIONSTAMP_LEN)?;
        self.writes.set_versionstamped_value(key, value_prefix)
    }

    fn add_read_conflict_key(&mut self, key: &[u8]) -> Result<(), MetaError> {
        checks::key(key)?;
        let (begin, end) = point(key);
        self.add_read(begin, end);
        Ok(())
    }

    async fn commit(self: Box<Self>) -> Result<CommitInfo, MetaError> {
        let PgTransaction {
            conn,
            read_version,
            started,
            writes,
            reads,
            read_bytes,
        } = *self;
        if writes.is_empty() {
            // Dropping `conn` ends the snapshot off this path.
            return Ok(CommitInfo {
                version: read_version,
            });
        }
        let bytes = writes.size_bytes() + read_bytes;
        if bytes > limits::MAX_TRANSACTION_BYTES {
            return Err(MetaError::TransactionTooLarge { bytes });
        }
        if started.elapsed() > MAX_TRANSACTION_AGE {
            return Err(MetaError::TransactionTooOld);
        }
        let reads = RangeSet::from_unsorted(reads);
        commit::commit(conn, read_version, &reads, writes).await
    }
}
