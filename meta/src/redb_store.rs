//! The embedded, durable [`MetaStore`]: one redb file on local disk.
//!
//! redb gives MVCC read transactions (our snapshots) and one writer at a time
//! with fsync on commit (our apply); conflict checking, versions and watches
//! come from the shared `occ` layer. The commit version is stored in the same write
//! transaction as the data, so a snapshot's version always matches its data
//! and versions keep increasing across restarts.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use redb::{Database, Durability, ReadOnlyTable, ReadableDatabase, ReadableTable, TableDefinition};

use super::error::redb_error;
use super::occ::{Engine, Mutation, Occ, Snapshot, SnapshotIter, add_le};
use super::{MetaError, MetaStore, Transaction, Watch};

/// Every key and value of the store. Table names are persisted: never rename.
const DATA: TableDefinition<'static, &[u8], &[u8]> = TableDefinition::new("stratus_meta_data");
/// Bookkeeping of the transaction layer, next to the data it describes.
const SYSTEM: TableDefinition<'static, &str, u64> = TableDefinition::new("stratus_meta_system");
/// Key in [`SYSTEM`] holding the last committed version.
const COMMIT_VERSION: &str = "commit_version";

/// A durable metadata store in one redb file. Clones share the same database.
///
/// Only one process may open a file at a time; a second `open` fails.
#[derive(Clone)]
pub struct RedbMetaStore {
    occ: Arc<Occ<RedbEngine>>,
}

impl fmt::Debug for RedbMetaStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedbMetaStore")
            .field("path", &self.occ.engine().path)
            .field("occ", &self.occ)
            .finish()
    }
}

/// Page cache of a store opened with [`RedbMetaStore::open`]
/// ([`crate::limits::DEFAULT_REDB_CACHE_BYTES`]).
pub const DEFAULT_CACHE_BYTES: usize = crate::limits::DEFAULT_REDB_CACHE_BYTES;

impl RedbMetaStore {
    /// Opens the store at `path` with a [`DEFAULT_CACHE_BYTES`] page cache,
    /// creating the file if it does not exist.
    ///
    /// Blocks on file I/O; call it at startup or from a blocking context.
    pub fn open(path: &Path) -> Result<Self, MetaError> {
        Self::open_with_cache(path, DEFAULT_CACHE_BYTES)
    }

    /// Opens the store with a page cache of at most `cache_bytes` (redb's own
    /// default of 1 GiB would let metadata alone outgrow a small gateway).
    pub fn open_with_cache(path: &Path, cache_bytes: usize) -> Result<Self, MetaError> {
        let db = Database::builder()
            .set_cache_size(cache_bytes)
            .create(path)
            .map_err(redb_error)?;
        // Create both tables so read transactions can always open them.
        let txn = db.begin_write().map_err(redb_error)?;
        txn.open_table(DATA).map_err(redb_error)?;
        let last_version = {
            let system = txn.open_table(SYSTEM).map_err(redb_error)?;
            read_version(&system)?
        };
        txn.commit().map_err(redb_error)?;
        let engine = RedbEngine {
            db,
            path: path.to_owned(),
        };
        Ok(Self {
            occ: Occ::new(engine, last_version),
        })
    }
}

#[async_trait]
impl MetaStore for RedbMetaStore {
    async fn begin(&self) -> Result<Box<dyn Transaction>, MetaError> {
        // Starting a redb read transaction touches no disk: fine inline.
        self.occ.begin()
    }

    fn watch(&self, key: &[u8]) -> Watch {
        self.occ.watch(key)
    }

    fn backend_name(&self) -> &'static str {
        "redb"
    }
}

fn read_version(table: &impl ReadableTable<&'static str, u64>) -> Result<u64, MetaError> {
    let version = table.get(COMMIT_VERSION).map_err(redb_error)?;
    Ok(version.map_or(0, |v| v.value()))
}

struct RedbEngine {
    db: Database,
    path: PathBuf,
}

struct RedbSnapshot {
    /// Keeps its read transaction, and so this exact view, alive.
    data: ReadOnlyTable<&'static [u8], &'static [u8]>,
}

impl Snapshot for RedbSnapshot {
    fn get(&self, key: &[u8]) -> Result<Option<Bytes>, MetaError> {
        let value = self.data.get(key).map_err(redb_error)?;
        Ok(value.map(|v| Bytes::copy_from_slice(v.value())))
    }

    fn range(
        &self,
        begin: &[u8],
        end: &[u8],
        reverse: bool,
    ) -> Result<SnapshotIter<'_>, MetaError> {
        let pairs = self.data.range::<&[u8]>(begin..end).map_err(redb_error)?;
        let pairs = pairs.map(|pair| {
            let (key, value) = pair.map_err(redb_error)?;
            Ok((
                Bytes::copy_from_slice(key.value()),
                Bytes::copy_from_slice(value.value()),
            ))
        });
        Ok(if reverse {
            Box::new(pairs.rev())
        } else {
            Box::new(pairs)
        })
    }
}

impl Engine for RedbEngine {
    type Snapshot = RedbSnapshot;

    const BLOCKING: bool = true;

    fn snapshot(&self) -> Result<(u64, RedbSnapshot), MetaError> {
        let txn = self.db.begin_read().map_err(redb_error)?;
        let version = read_version(&txn.open_table(SYSTEM).map_err(redb_error)?)?;
        let data = txn.open_table(DATA).map_err(redb_error)?;
        Ok((version, RedbSnapshot { data }))
    }

    fn apply(&self, version: u64, mutations: &[Mutation]) -> Result<(), MetaError> {
        let mut txn = self.db.begin_write().map_err(redb_error)?;
        // The default already, but acknowledgements depend on it: say so.
        txn.set_durability(Durability::Immediate)
            .map_err(redb_error)?;
        {
            let mut data = txn.open_table(DATA).map_err(redb_error)?;
            for mutation in mutations {
                apply_one(&mut data, mutation)?;
            }
            let mut system = txn.open_table(SYSTEM).map_err(redb_error)?;
            system.insert(COMMIT_VERSION, version).map_err(redb_error)?;
        }
        // Dropping an uncommitted write transaction aborts it, so every error
        // above left nothing applied. A failed commit may have reached disk.
        txn.commit().map_err(|error| {
            tracing::error!(%error, version, "redb commit failed; outcome unknown");
            MetaError::CommitUnknownResult
        })
    }
}

fn apply_one(
    data: &mut redb::Table<'_, &'static [u8], &'static [u8]>,
    mutation: &Mutation,
) -> Result<(), MetaError> {
    match mutation {
        Mutation::Set(key, value) => {
            data.insert(key.as_ref(), value.as_ref())
                .map_err(redb_error)?;
        }
        Mutation::Clear(key) => {
            data.remove(key.as_ref()).map_err(redb_error)?;
        }
        Mutation::ClearRange(begin, end) => {
            data.retain_in::<&[u8], _>(begin.as_ref()..end.as_ref(), |_, _| false)
                .map_err(redb_error)?;
        }
        Mutation::Add(key, delta) => {
            let current = data.get(key.as_ref()).map_err(redb_error)?;
            let value = add_le(current.as_ref().map(|v| v.value()), *delta);
            drop(current);
            data.insert(key.as_ref(), value.as_ref())
                .map_err(redb_error)?;
        }
    }
    Ok(())
}
