//! The production [`MetaStore`]: FoundationDB, through the `foundationdb` crate.
//!
//! A thin adapter. FoundationDB already provides everything the trait asks for
//! (serializable optimistic transactions, read-your-writes, snapshot reads,
//! atomic adds, versionstamps, watches), so this module translates calls and
//! errors and adds only what keeps behaviour identical to the embedded
//! backends: the size limits are checked locally, before FoundationDB sees the
//! write, so callers get the same [`MetaError`] (with lengths) on every backend.
//!
//! Errors are classified by code in [`crate::fdb_errors`] (a pure table,
//! tested without a cluster): `not_committed` becomes [`MetaError::Conflict`],
//! `transaction_too_old` [`MetaError::TransactionTooOld`], `future_version`
//! [`MetaError::FutureVersion`], the throttling and overload codes
//! (`process_behind`, `tag_throttled`, `database_locked`, ...)
//! [`MetaError::Busy`], all of which [`crate::run`] retries, each with its
//! pause; `accessed_unreadable` (reading a key written with a versionstamp)
//! [`MetaError::VersionstampedKeyRead`], the size errors the size variants,
//! and `commit_unknown_result` (and anything else that may have committed)
//! [`MetaError::CommitUnknownResult`]. A code the table does not know goes
//! to libfdb_c's own predicates ("maybe committed", "retryable, not
//! committed"); anything else is [`MetaError::Backend`] with its code.
//!
//! Every transaction that reads or writes carries FoundationDB's `timeout`
//! option ([`limits::FDB_TRANSACTION_TIMEOUT`], the MVCC window), so an
//! attempt ends on time even while it waits for a read version from an
//! unreachable cluster; a timeout is retried like `transaction_too_old`,
//! except during a commit, whose outcome it leaves unknown. A watch's own
//! transaction has none: the watch outlives it, and its waiter bounds the
//! wait.
//!
//! `commit_unknown_result` is surfaced, never retried here: only the caller
//! knows whether running its transaction again is safe. The broker's append
//! transaction reads its own commit record first (`log::append`), so re-running
//! it after an unknown outcome either finds the earlier commit or commits once.
//!
//! Two FoundationDB behaviours the whole `MetaStore` contract follows, so the
//! embedded backends match them and one conformance suite covers all:
//! - a transaction has **one** versionstamp: every `set_versionstamped_value`
//!   in one commit gets the same 10 bytes (the last two are the transaction's
//!   order within FoundationDB's commit batch, not the write's order);
//! - a new transaction's read version is at least, not exactly, the last
//!   commit's version: FoundationDB's versions advance with time.
//!
//! Watches follow FoundationDB's semantics: one fires when the key's value
//! changes; a write of the same value, or a change and its undo in quick
//! succession, may not fire. See [`FdbMetaStore::watch`] for how a watch counts
//! from the moment it is registered.
//!
//! The client network: FoundationDB allows one network thread per process,
//! started once and never restarted. [`FdbMetaStore::open`] starts it on first
//! use; binaries should call [`stop_network`] at the end of `main`.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use foundationdb::api::{FdbApiBuilder, NetworkAutoStop};
use foundationdb::options::{ConflictRangeType, MutationType, StreamingMode, TransactionOption};
use foundationdb::{Database, FdbError, FdbResult, RangeOption};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use super::checks;
use super::fdb_errors::{self, Phase, code};
use super::limits::{
    self, FALLBACK_WATCH_INTERVAL, FDB_TRANSACTION_TIMEOUT, MAX_FDB_WATCHES, MAX_WATCH_BASE_AGE,
};
use super::{CommitInfo, MetaError, MetaStore, RangeOptions, Transaction, VERSIONSTAMP_LEN, Watch};

/// The client network thread: `Err` if it could not start; `None` inside once
/// [`stop_network`] ran.
static NETWORK: OnceLock<Result<Mutex<Option<NetworkAutoStop>>, String>> = OnceLock::new();

/// Starts the FoundationDB client network on first call; later calls return
/// its outcome (FoundationDB can start the network only once per process, and
/// never again after [`stop_network`]).
fn start_network() -> Result<(), MetaError> {
    let network = NETWORK.get_or_init(|| {
        // Selecting the API version twice panics inside the crate; the
        // `OnceLock` makes this the only call in the process, as long as no
        // other library in it boots FoundationDB itself.
        let builder = FdbApiBuilder::default()
            .build()
            .map_err(|e| describe("selecting the FoundationDB API version", e))?;
        // SAFETY: `boot`'s contract is that the returned guard is dropped
        // before the process exits, so the network thread is stopped and
        // joined while libfdb_c is still intact. The guard lives in `NETWORK`
        // until `stop_network` drops it; binaries call that at the end of
        // `main`. One that exits without it leaves the thread running during
        // exit, which FoundationDB leaves undefined (in practice, at worst a
        // crash after all work is done).
        #[allow(unsafe_code)]
        let guard = unsafe { builder.boot() }
            .map_err(|e| describe("starting the FoundationDB network", e))?;
        Ok(Mutex::new(Some(guard)))
    });
    match network {
        Err(message) => Err(MetaError::Backend(message.clone())),
        Ok(guard) => match *guard.lock().unwrap_or_else(PoisonError::into_inner) {
            Some(_) => Ok(()),
            None => Err(MetaError::Closed),
        },
    }
}

/// Stops the FoundationDB client network and joins its thread. Call it once,
/// at the end of `main`, after every [`FdbMetaStore`] and every transaction is
/// dropped: FoundationDB cannot restart the network, so stores opened
/// afterwards fail with [`MetaError::Closed`] and live ones stop making
/// progress. Does nothing if the network never started.
pub fn stop_network() {
    if let Some(Ok(guard)) = NETWORK.get() {
        let network = guard.lock().unwrap_or_else(PoisonError::into_inner).take();
        // Dropping the guard stops the network and blocks until its thread exits.
        drop(network);
    }
}

fn describe(context: &str, error: FdbError) -> String {
    format!(
        "{context} failed: FoundationDB error {}: {error}",
        error.code()
    )
}

/// A [`MetaStore`] on a FoundationDB cluster. Clones share one database handle.
#[derive(Clone)]
pub struct FdbMetaStore {
    shared: Arc<Shared>,
}

struct Shared {
    db: Database,
    cluster_file: Option<PathBuf>,
    versions: LatestVersion,
    watch_permits: Arc<Semaphore>,
}

impl fmt::Debug for FdbMetaStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FdbMetaStore")
            .field("cluster_file", &self.shared.cluster_file)
            .field(
                "outstanding_watches",
                &(MAX_FDB_WATCHES - self.shared.watch_permits.available_permits()),
            )
            .finish_non_exhaustive()
    }
}

impl FdbMetaStore {
    /// Opens the database described by `cluster_file`, or FoundationDB's
    /// default (`FDB_CLUSTER_FILE`, then `/etc/foundationdb/fdb.cluster`),
    /// starting the client network on first use.
    ///
    /// Does not contact the cluster: an unreachable one shows up as the first
    /// transaction waiting for its read version.
    pub fn open(cluster_file: Option<&Path>) -> Result<Self, MetaError> {
        let path = cluster_file
            .map(|path| {
                // The crate passes the path to C as a NUL-terminated string.
                path.to_str()
                    .filter(|text| !text.contains('\0'))
                    .ok_or_else(|| {
                        MetaError::Backend(format!(
                            "cluster file path {} is not valid UTF-8 or contains NUL",
                            path.display()
                        ))
                    })
            })
            .transpose()?;
        start_network()?;
        let db = Database::new(path)
            .map_err(|e| MetaError::Backend(describe("opening the FoundationDB database", e)))?;
        Ok(Self {
            shared: Arc::new(Shared {
                db,
                cluster_file: cluster_file.map(Path::to_owned),
                versions: LatestVersion::default(),
                watch_permits: Arc::new(Semaphore::new(MAX_FDB_WATCHES)),
            }),
        })
    }
}

#[async_trait]
impl MetaStore for FdbMetaStore {
    async fn begin(&self) -> Result<Box<dyn Transaction>, MetaError> {
        let trx = create_timed_trx(&self.shared.db).map_err(map_error)?;
        // Fetched now, not on the first read, so `read_version` can answer
        // synchronously and watches have a recent base (see `watch`).
        let version = trx.get_read_version().await.map_err(map_error)?;
        self.shared.versions.observe(version);
        Ok(Box::new(FdbTransaction {
            trx,
            shared: Arc::clone(&self.shared),
            read_version: to_u64(version)?,
            wrote: false,
            sizes: Sizes::default(),
            stamped: BTreeSet::new(),
        }))
    }

    /// An FDB watch compares the key's value against the value at its own
    /// transaction's read version. To count from the moment this returns, that
    /// read version is the newest one this store has seen (from a `begin` or
    /// a commit): every commit that starts later gets a higher version, so its
    /// change is caught. If that version is too old to read at (or none was
    /// seen yet), the watch wakes its waiter at once instead, a spurious
    /// wakeup, and refreshes the cache so the next watch is exact. Callers
    /// following the trait's register-then-read pattern keep the cache fresh.
    ///
    /// The FDB watch runs in a task on the current Tokio runtime; it ends
    /// when the watch fires, fails (which also wakes the waiter), or the
    /// [`Watch`] is dropped, which cancels the FDB watch.
    fn watch(&self, key: &[u8]) -> Watch {
        let (sender, receiver) = watch::channel(0);
        let watch = Watch::new(receiver);
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // Nothing could drive the FDB watch. Dropping `sender` wakes the
            // waiter at once, which the trait allows.
            tracing::warn!("FdbMetaStore::watch called outside a Tokio runtime; waking at once");
            return watch;
        };
        let shared = Arc::clone(&self.shared);
        match shared.versions.fresh() {
            None => drop(runtime.spawn(refresh_then_wake(shared, sender))),
            Some(base) => match Arc::clone(&shared.watch_permits).try_acquire_owned() {
                Ok(permit) => {
                    let key = key.to_vec();
                    drop(runtime.spawn(fdb_watch(shared, key, base, sender, permit)));
                }
                Err(_) => drop(runtime.spawn(wake_after(FALLBACK_WATCH_INTERVAL, sender))),
            },
        }
        watch
    }

    fn backend_name(&self) -> &'static str {
        "fdb"
    }
}

/// Waits for one FDB watch on `key`, based at read version `base`, and wakes
/// the [`Watch`]; the permit is held for as long as the FDB watch exists.
async fn fdb_watch(
    shared: Arc<Shared>,
    key: Vec<u8>,
    base: i64,
    sender: watch::Sender<u64>,
    _permit: OwnedSemaphorePermit,
) {
    let outcome = tokio::select! {
        outcome = register_and_wait(&shared.db, &key, base) => outcome,
        // The `Watch` was dropped: dropping the FDB futures cancels the watch.
        () = sender.closed() => return,
    };
    if let Err(error) = outcome {
        // Often `transaction_too_old` (the base aged out) or `too_many_watches`.
        // Waking is always safe: the waiter re-reads.
        tracing::debug!(code = error.code(), %error, "FoundationDB watch failed; waking the waiter");
    }
    wake(&sender);
}

/// A transaction FoundationDB cancels once it is
/// [`FDB_TRANSACTION_TIMEOUT`] old, with `transaction_timed_out`.
fn create_timed_trx(db: &Database) -> FdbResult<foundationdb::Transaction> {
    let trx = db.create_trx()?;
    // In range: the limits table checks that the timeout fits an i32.
    let millis = i32::try_from(FDB_TRANSACTION_TIMEOUT.as_millis()).unwrap_or(i32::MAX);
    trx.set_option(TransactionOption::Timeout(millis))?;
    Ok(trx)
}

/// The watch's transaction has no timeout: the watch outlives it, and
/// would otherwise fail (waking its waiter for nothing) at the timeout.
async fn register_and_wait(db: &Database, key: &[u8], base: i64) -> FdbResult<()> {
    let trx = db.create_trx()?;
    trx.set_read_version(base);
    let fired = trx.watch(key);
    // A watch becomes active when its (read-only) transaction commits, and
    // outlives the transaction from then on.
    trx.commit().await?;
    fired.await
}

/// For a watch without a usable base: refresh the cached version, then wake.
async fn refresh_then_wake(shared: Arc<Shared>, sender: watch::Sender<u64>) {
    let refresh = async {
        let trx = create_timed_trx(&shared.db)?;
        shared.versions.observe(trx.get_read_version().await?);
        FdbResult::Ok(())
    };
    tokio::select! {
        outcome = refresh => {
            if let Err(error) = outcome {
                tracing::debug!(code = error.code(), %error, "could not refresh the read version for watches");
            }
        }
        () = sender.closed() => return,
    }
    wake(&sender);
}

async fn wake_after(delay: Duration, sender: watch::Sender<u64>) {
    tokio::select! {
        () = tokio::time::sleep(delay) => wake(&sender),
        () = sender.closed() => {}
    }
}

fn wake(sender: &watch::Sender<u64>) {
    sender.send_modify(|count| *count = count.wrapping_add(1));
}

/// The newest version this store has seen, and when it first saw it.
#[derive(Debug, Default)]
struct LatestVersion(Mutex<Option<(i64, Instant)>>);

impl LatestVersion {
    fn observe(&self, version: i64) {
        let mut latest = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        // Seeing the same version again later does not make it any younger.
        if latest.is_none_or(|(seen, _)| version > seen) {
            *latest = Some((version, Instant::now()));
        }
    }

    /// The newest version, if still young enough to read at.
    fn fresh(&self) -> Option<i64> {
        let latest = *self.0.lock().unwrap_or_else(PoisonError::into_inner);
        latest
            .filter(|(_, seen_at)| seen_at.elapsed() < MAX_WATCH_BASE_AGE)
            .map(|(version, _)| version)
    }
}

fn to_u64(version: i64) -> Result<u64, MetaError> {
    u64::try_from(version).map_err(|_| {
        MetaError::Backend(format!("FoundationDB returned negative version {version}"))
    })
}

/// Maps an error that carries no size context (reads, watches, setup).
fn map_error(error: FdbError) -> MetaError {
    map_error_in(error, Phase::Read)
}

/// Maps an error by its code ([`fdb_errors::classify`]), falling back to
/// libfdb_c's predicates for codes newer than the table.
fn map_error_in(error: FdbError, phase: Phase) -> MetaError {
    let code = error.code();
    if let Some(mapped) = fdb_errors::classify(code, phase) {
        return mapped;
    }
    if error.is_maybe_committed() {
        MetaError::CommitUnknownResult
    } else if error.is_retryable_not_committed() {
        MetaError::Busy {
            reason: format!("FoundationDB error {code}: {error}"),
        }
    } else {
        MetaError::Backend(format!("FoundationDB error {code}: {error}"))
    }
}

/// The operand of FoundationDB's `SET_VERSIONSTAMPED_VALUE` (API 520+): the
/// value with a placeholder where the stamp goes, then the placeholder's
/// offset as 4 little-endian bytes.
fn stamped_value_param(prefix: &[u8]) -> Result<Vec<u8>, MetaError> {
    let offset = u32::try_from(prefix.len()).map_err(|_| MetaError::ValueTooLarge {
        len: prefix.len() + VERSIONSTAMP_LEN,
    })?;
    let mut param = Vec::with_capacity(prefix.len() + VERSIONSTAMP_LEN + 4);
    param.extend_from_slice(prefix);
    param.extend_from_slice(&[0; VERSIONSTAMP_LEN]);
    param.extend_from_slice(&offset.to_le_bytes());
    Ok(param)
}

/// One FoundationDB transaction.
struct FdbTransaction {
    trx: foundationdb::Transaction,
    shared: Arc<Shared>,
    read_version: u64,
    /// Whether any write was buffered; a read-only commit is answered locally.
    wrote: bool,
    sizes: Sizes,
    /// Keys written with a versionstamp and not overwritten since: an atomic
    /// add to one fails as on the embedded backends (FoundationDB would
    /// accept it and add to the stamp).
    stamped: BTreeSet<Vec<u8>>,
}

impl fmt::Debug for FdbTransaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FdbTransaction")
            .field("read_version", &self.read_version)
            .field("wrote", &self.wrote)
            .field("bytes", &self.sizes.bytes)
            .finish_non_exhaustive()
    }
}

/// What a transaction wrote and read, for the size limits.
#[derive(Debug, Default, Clone, Copy)]
struct Sizes {
    /// Bytes of writes and read conflict ranges, counted as the embedded
    /// backends count them. FoundationDB's own count is close to it and
    /// normally above (it adds write conflict ranges), so checking this at
    /// commit gives the same error as embedded without refusing anything
    /// FoundationDB would take.
    bytes: usize,
    /// For reporting FoundationDB's own size errors at commit, should its
    /// limits ever be lower than ours. (Reads need no size errors: FoundationDB
    /// answers a read of an over-long key with "absent", as embedded does.)
    largest_key: usize,
    largest_value: usize,
}

impl Sizes {
    fn write(&mut self, key: &[u8], value_len: usize) {
        self.bytes += key.len() + value_len;
        self.largest_key = self.largest_key.max(key.len());
        self.largest_value = self.largest_value.max(value_len);
    }

    /// Maps an error of the commit, filling the size variants from these
    /// sizes.
    fn map_commit_error(&self, error: FdbError) -> MetaError {
        match error.code() {
            code::TRANSACTION_TOO_LARGE => MetaError::TransactionTooLarge { bytes: self.bytes },
            code::KEY_TOO_LARGE => MetaError::KeyTooLarge {
                len: self.largest_key,
            },
            code::VALUE_TOO_LARGE => MetaError::ValueTooLarge {
                len: self.largest_value,
            },
            _ => map_error_in(error, Phase::Commit),
        }
    }
}

impl FdbTransaction {
    fn record_write(&mut self, key: &[u8], value_len: usize) {
        self.wrote = true;
        self.sizes.write(key, value_len);
    }

    async fn read(&mut self, key: &[u8], snapshot: bool) -> Result<Option<Bytes>, MetaError> {
        let value = self.trx.get(key, snapshot).await.map_err(map_error)?;
        if !snapshot {
            // FoundationDB adds the point range [key, key + \0) as a read conflict.
            self.sizes.bytes += 2 * key.len() + 1;
        }
        Ok(value.map(|v| Bytes::copy_from_slice(&v)))
    }
}

#[async_trait]
impl Transaction for FdbTransaction {
    fn read_version(&self) -> u64 {
        self.read_version
    }

    async fn get(&mut self, key: &[u8]) -> Result<Option<Bytes>, MetaError> {
        self.read(key, false).await
    }

    async fn snapshot_get(&mut self, key: &[u8]) -> Result<Option<Bytes>, MetaError> {
        self.read(key, true).await
    }

    async fn get_range(
        &mut self,
        begin: &[u8],
        end: &[u8],
        options: RangeOptions,
    ) -> Result<Vec<(Bytes, Bytes)>, MetaError> {
        if begin >= end {
            // FoundationDB rejects an inverted range; the trait reads nothing.
            return Ok(Vec::new());
        }
        let mut pairs = Vec::new();
        // The caller wants the whole result at once, so `WantAll`; with a
        // limit, FoundationDB returns at most that many rows per page and
        // `next_range` counts them down.
        let mut next = Some(RangeOption {
            limit: (options.limit > 0).then_some(options.limit),
            reverse: options.reverse,
            mode: StreamingMode::WantAll,
            ..RangeOption::from((begin, end))
        });
        let mut iteration = 1;
        while let Some(range) = next.take() {
            let page = self
                .trx
                .get_range(&range, iteration, options.snapshot)
                .await
                .map_err(map_error)?;
            pairs.extend(page.iter().map(|pair| {
                (
                    Bytes::copy_from_slice(pair.key()),
                    Bytes::copy_from_slice(pair.value()),
                )
            }));
            next = range.next_range(&page);
            iteration += 1;
        }
        if !options.snapshot {
            // FoundationDB records the part actually read (up to the last key
            // when the limit was reached); the whole range bounds its size.
            self.sizes.bytes += begin.len() + end.len();
        }
        Ok(pairs)
    }

    fn set(&mut self, key: &[u8], value: &[u8]) -> Result<(), MetaError> {
        checks::key(key)?;
        checks::value(value.len())?;
        self.trx.set(key, value);
        self.record_write(key, value.len());
        self.stamped.remove(key);
        Ok(())
    }

    fn clear(&mut self, key: &[u8]) -> Result<(), MetaError> {
        checks::key(key)?;
        self.trx.clear(key);
        self.record_write(key, 0);
        self.stamped.remove(key);
        Ok(())
    }

    fn clear_range(&mut self, begin: &[u8], end: &[u8]) -> Result<(), MetaError> {
        if checks::clear_range(begin, end)? {
            self.trx.clear_range(begin, end);
            self.record_write(begin, 0);
            self.sizes.write(end, 0);
            self.stamped
                .retain(|key| key.as_slice() < begin || key.as_slice() >= end);
        }
        Ok(())
    }

    fn atomic_add(&mut self, key: &[u8], delta: i64) -> Result<(), MetaError> {
        checks::key(key)?;
        if self.stamped.contains(key) {
            return Err(MetaError::VersionstampedKeyRead);
        }
        // FoundationDB's ADD is little-endian and wrapping, and sizes the
        // stored value to the operand: exactly the trait's semantics.
        self.trx
            .atomic_op(key, &delta.to_le_bytes(), MutationType::Add);
        self.record_write(key, 8);
        Ok(())
    }

    fn set_versionstamped_value(
        &mut self,
        key: &[u8],
        value_prefix: &[u8],
    ) -> Result<(), MetaError> {
        checks::key(key)?;
        checks::value(value_prefix.len() + VERSIONSTAMP_LEN)?;
        let param = stamped_value_param(value_prefix)?;
        self.trx
            .atomic_op(key, &param, MutationType::SetVersionstampedValue);
        self.record_write(key, value_prefix.len() + VERSIONSTAMP_LEN);
        self.stamped.insert(key.to_vec());
        Ok(())
    }

    fn add_read_conflict_key(&mut self, key: &[u8]) -> Result<(), MetaError> {
        checks::key(key)?;
        // The point range [key, key + \0), as FoundationDB records a read.
        let end = [key, &[0]].concat();
        self.trx
            .add_conflict_range(key, &end, ConflictRangeType::Read)
            .map_err(map_error)?;
        self.sizes.bytes += key.len() + end.len();
        Ok(())
    }

    async fn commit(self: Box<Self>) -> Result<CommitInfo, MetaError> {
        if !self.wrote {
            // FoundationDB reports no commit version for a read-only
            // transaction (-1); the trait reports the read version.
            return Ok(CommitInfo {
                version: self.read_version,
            });
        }
        if self.sizes.bytes > limits::MAX_TRANSACTION_BYTES {
            // Dropping the transaction discards its writes.
            return Err(MetaError::TransactionTooLarge {
                bytes: self.sizes.bytes,
            });
        }
        let FdbTransaction {
            trx, shared, sizes, ..
        } = *self;
        let committed = trx
            .commit()
            .await
            .map_err(|error| sizes.map_commit_error(FdbError::from(error)))?;
        let version = committed.committed_version().map_err(map_error)?;
        shared.versions.observe(version);
        Ok(CommitInfo {
            version: to_u64(version)?,
        })
    }
}

#[cfg(test)]
mod tests;
