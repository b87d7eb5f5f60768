//! Optimistic concurrency control shared by the embedded backends.
//!
//! A backend only provides an [`Engine`]: consistent snapshots to read from
//! and a way to apply a batch of mutations durably. Everything else that makes
//! a [`Transaction`] serializable lives here, once: buffered writes with
//! read-your-writes ([`buffer`]), read conflict ranges checked at commit
//! against a bounded log of recent commits' write sets ([`log`]), commit
//! versions, versionstamps, size and age limits, and watches ([`watchers`]).
//!
//! Commits are serialized by one lock, taken only by transactions that write.
//! The check, the apply and the log update happen under it, so the log always
//! holds every commit a snapshot may not contain. This must never hand out a
//! read version newer than the data its snapshot holds.

mod buffer;
mod log;
mod ranges;
mod watchers;

use std::fmt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use tokio::time::Instant;

pub(crate) use self::buffer::add_le;
// The PostgreSQL backend keeps its own commit log (in the database) but
// shares the write buffer, range sets and in-process watch map.
pub(crate) use self::buffer::{Local, WriteBuffer};
use self::log::CommitLog;
pub(crate) use self::ranges::{RangeSet, key_after, point};
pub(crate) use self::watchers::Watchers;
use super::checks;
use super::limits::{self, MAX_COMMIT_LOG_BYTES, MAX_TRANSACTION_AGE};
use super::{CommitInfo, MetaError, RangeOptions, Transaction, Watch};

/// A resolved write, applied by an [`Engine`] in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mutation {
    Set(Bytes, Bytes),
    Clear(Bytes),
    /// `begin < end`.
    ClearRange(Bytes, Bytes),
    /// Add to the committed value with [`add_le`].
    Add(Bytes, i64),
}

/// Pairs of a snapshot range read, in the requested order.
pub(crate) type SnapshotIter<'s> = Box<dyn Iterator<Item = Result<(Bytes, Bytes), MetaError>> + 's>;

/// A consistent, read-only view of the store at one point.
pub(crate) trait Snapshot: Send + 'static {
    fn get(&self, key: &[u8]) -> Result<Option<Bytes>, MetaError>;

    /// The pairs with `begin <= key < end` (`begin < end`), descending if `reverse`.
    fn range(&self, begin: &[u8], end: &[u8], reverse: bool)
    -> Result<SnapshotIter<'_>, MetaError>;
}

/// Storage under the transaction layer.
pub(crate) trait Engine: Send + Sync + 'static {
    type Snapshot: Snapshot;

    /// Whether `apply` blocks on I/O, so commits must run off the async runtime.
    const BLOCKING: bool;

    /// The last applied version and a snapshot holding at least everything
    /// applied up to it (newer data only causes spurious conflicts; older data
    /// would break serializability).
    fn snapshot(&self) -> Result<(u64, Self::Snapshot), MetaError>;

    /// Applies `mutations` atomically as `version`, durably if the engine is
    /// durable, before returning. Called with strictly increasing versions,
    /// one at a time. An error from the final commit step itself must be
    /// [`MetaError::CommitUnknownResult`] unless the engine knows nothing
    /// was applied.
    fn apply(&self, version: u64, mutations: &[Mutation]) -> Result<(), MetaError>;
}

/// The transaction layer over one engine; backends wrap an `Arc` of it.
pub(crate) struct Occ<E> {
    engine: E,
    commits: Mutex<CommitLog>,
    watchers: Watchers,
}

impl<E> fmt::Debug for Occ<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `try_lock`: formatting must never wait behind a commit's fsync.
        let last_version = self.commits.try_lock().map(|log| log.last_version()).ok();
        f.debug_struct("Occ")
            .field("last_version", &last_version)
            .finish_non_exhaustive()
    }
}

impl<E: Engine> Occ<E> {
    /// Wraps `engine`, whose last applied version is `last_version`.
    pub(crate) fn new(engine: E, last_version: u64) -> Arc<Self> {
        Arc::new(Self {
            engine,
            commits: Mutex::new(CommitLog::new(last_version, MAX_COMMIT_LOG_BYTES)),
            watchers: Watchers::default(),
        })
    }

    pub(crate) fn engine(&self) -> &E {
        &self.engine
    }

    pub(crate) fn begin(self: &Arc<Self>) -> Result<Box<dyn Transaction>, MetaError> {
        let (read_version, snapshot) = self.engine.snapshot()?;
        Ok(Box::new(OccTransaction {
            occ: Arc::clone(self),
            snapshot: Some(snapshot),
            read_version,
            started: Instant::now(),
            writes: WriteBuffer::default(),
            reads: Vec::new(),
            read_bytes: 0,
        }))
    }

    pub(crate) fn watch(&self, key: &[u8]) -> Watch {
        self.watchers.watch(key)
    }

    /// The critical section of a commit: check, apply, log, notify.
    fn commit_locked(
        &self,
        read_version: u64,
        started: Instant,
        reads: &RangeSet,
        writes: WriteBuffer,
    ) -> Result<CommitInfo, MetaError> {
        // A panic while the lock was held may have left the engine and the log
        // disagreeing about what committed; refusing further commits is the
        // only safe answer.
        let mut log = self.commits.lock().map_err(|_| MetaError::Closed)?;
        log.check(read_version, started, reads)?;
        let version = log.last_version() + 1;
        let write_set = writes.write_set();
        let applied = self.engine.apply(version, &writes.into_mutations(version));
        if applied
            .as_ref()
            .is_err_and(|error| !error.maybe_committed())
        {
            // The engine guarantees nothing was applied: as if never attempted.
            return applied.map(|()| CommitInfo { version });
        }
        // Applied, or maybe applied: record it either way, so later
        // transactions conflict with it and versions never repeat.
        self.watchers.notify(&write_set);
        log.record(version, write_set);
        applied.map(|()| CommitInfo { version })
    }
}

/// One transaction of an [`Occ`] store.
struct OccTransaction<E: Engine> {
    occ: Arc<Occ<E>>,
    /// Taken at commit so a redb read transaction is not held while waiting.
    snapshot: Option<E::Snapshot>,
    read_version: u64,
    started: Instant,
    writes: WriteBuffer,
    /// Read conflict ranges, coalesced at commit.
    reads: Vec<(Bytes, Bytes)>,
    read_bytes: usize,
}

impl<E: Engine> OccTransaction<E> {
    /// Reads past the age limit fail as FoundationDB's do; it also stops a
    /// forgotten transaction from pinning an old redb snapshot.
    fn snapshot(&self) -> Result<&E::Snapshot, MetaError> {
        if self.started.elapsed() > MAX_TRANSACTION_AGE {
            return Err(MetaError::TransactionTooOld);
        }
        self.snapshot.as_ref().ok_or(MetaError::Closed)
    }

    fn add_read(&mut self, begin: Bytes, end: Bytes) {
        self.read_bytes += begin.len() + end.len();
        self.reads.push((begin, end));
    }

    fn read_key(&mut self, key: &[u8], conflict: bool) -> Result<Option<Bytes>, MetaError> {
        let local = self.writes.lookup(key)?;
        let snapshot = self.snapshot()?;
        let value = match local {
            // Our own write decides the value, so a concurrent write to the
            // key cannot change what this transaction saw.
            Local::Known(value) => return Ok(value),
            Local::Add(delta) => Some(add_le(snapshot.get(key)?.as_deref(), delta)),
            Local::Unknown => snapshot.get(key)?,
        };
        if conflict {
            let (begin, end) = point(key);
            self.add_read(begin, end);
        }
        Ok(value)
    }
}

#[async_trait]
impl<E: Engine> Transaction for OccTransaction<E> {
    fn read_version(&self) -> u64 {
        self.read_version
    }

    async fn get(&mut self, key: &[u8]) -> Result<Option<Bytes>, MetaError> {
        self.read_key(key, true)
    }

    async fn snapshot_get(&mut self, key: &[u8]) -> Result<Option<Bytes>, MetaError> {
        self.read_key(key, false)
    }

    async fn get_range(
        &mut self,
        begin: &[u8],
        end: &[u8],
        options: RangeOptions,
    ) -> Result<Vec<(Bytes, Bytes)>, MetaError> {
        let snapshot = self.snapshot()?;
        if begin >= end {
            return Ok(Vec::new());
        }
        let pairs = snapshot.range(begin, end, options.reverse)?;
        let out = self
            .writes
            .merge_range(pairs, begin, end, options.limit, options.reverse)?;
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
        checks::value(value_prefix.len() + super::VERSIONSTAMP_LEN)?;
        self.writes.set_versionstamped_value(key, value_prefix)
    }

    fn add_read_conflict_key(&mut self, key: &[u8]) -> Result<(), MetaError> {
        checks::key(key)?;
        let (begin, end) = point(key);
        self.add_read(begin, end);
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> Result<CommitInfo, MetaError> {
        if self.writes.is_empty() {
            return Ok(CommitInfo {
                version: self.read_version,
            });
        }
        let bytes = self.writes.size_bytes() + self.read_bytes;
        if bytes > limits::MAX_TRANSACTION_BYTES {
            return Err(MetaError::TransactionTooLarge { bytes });
        }
        self.snapshot = None;
        let OccTransaction {
            occ,
            read_version,
            started,
            writes,
            reads,
            ..
        } = *self;
        let reads = RangeSet::from_unsorted(reads);
        let commit = move || occ.commit_locked(read_version, started, &reads, writes);
        if !E::BLOCKING {
            return commit();
        }
        // The blocking task runs to completion even if this future is
        // dropped, so a cancelled caller cannot leave a commit half-recorded.
        match tokio::task::spawn_blocking(commit).await {
            Ok(result) => result,
            Err(error) if error.is_panic() => {
                tracing::error!(%error, "metadata commit panicked");
                Err(MetaError::CommitUnknownResult)
            }
            // Cancelled before it started: the runtime is shutting down.
            Err(_) => Err(MetaError::Closed),
        }
    }
}
