//! The metadata store: the one seam between broker logic and its transactional
//! key-value backend, shaped after FoundationDB.
//!
//! Every piece of broker state (topics, offsets, index entries, groups, leases)
//! is read and written through [`MetaStore`] and [`Transaction`], so the same
//! logic runs on the embedded store on a laptop and on PostgreSQL or
//! FoundationDB in production. Backends enforce FoundationDB's size limits
//! ([`limits`], the table of every bound of this crate) so code that works
//! embedded does not fail on FoundationDB.
//!
//! This module must never know what the keys mean; the key layout lives in
//! [`crate::keys`].

mod checks;
#[cfg(test)]
mod conformance;
mod error;
#[cfg(any(test, feature = "faults"))]
pub mod faulty;
mod fdb_errors;
#[cfg(feature = "fdb")]
pub mod fdb_store;
pub mod limits;
pub mod memory;
mod occ;
#[cfg(feature = "postgres")]
pub mod postgres_store;
pub mod redb_store;
mod retry;

use std::fmt::Debug;

use async_trait::async_trait;
use bytes::Bytes;

pub use error::MetaError;
pub use retry::{RetryPolicy, retry_counts, run, run_with_info};

/// Length of a versionstamp: 8-byte commit version, 2-byte order within the commit.
pub const VERSIONSTAMP_LEN: usize = 10;

/// A transactional, ordered key-value store.
#[async_trait]
pub trait MetaStore: Send + Sync + Debug + 'static {
    /// Begins a transaction that reads at the latest committed version.
    async fn begin(&self) -> Result<Box<dyn Transaction>, MetaError>;

    /// Registers interest in `key`. The returned [`Watch`] resolves after a
    /// commit that writes `key` (set, clear, clear-range or atomic op), counted
    /// from the moment `watch` returns. Register the watch *before* reading the
    /// key so no change can slip between the read and the wait. A watch may fire
    /// without the value having changed; callers re-read.
    fn watch(&self, key: &[u8]) -> Watch;

    /// A short name for logs and `--help`: `memory`, `redb`, `postgres`, `fdb`.
    fn backend_name(&self) -> &'static str;
}

/// Options for [`Transaction::get_range`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RangeOptions {
    /// At most this many pairs; 0 means no limit.
    pub limit: usize,
    /// Descending key order (the `limit` pairs closest to `end`).
    pub reverse: bool,
    /// A snapshot read adds no read conflict range: a concurrent write to the
    /// range does not make this transaction conflict.
    pub snapshot: bool,
}

/// The outcome of a successful commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitInfo {
    /// The version the transaction committed at; strictly increasing.
    pub version: u64,
}

/// One optimistic, serializable transaction.
///
/// Writes are buffered and become visible to other transactions atomically at
/// commit; reads see this transaction's own writes. A transaction whose reads
/// were invalidated by a concurrent commit fails with a retryable
/// [`MetaError::Conflict`]; run transactions through [`run`] to retry them.
#[async_trait]
pub trait Transaction: Send {
    /// The committed version this transaction reads at.
    fn read_version(&self) -> u64;

    /// Reads one key.
    async fn get(&mut self, key: &[u8]) -> Result<Option<Bytes>, MetaError>;

    /// Reads one key without adding a read conflict.
    async fn snapshot_get(&mut self, key: &[u8]) -> Result<Option<Bytes>, MetaError>;

    /// Reads the pairs with `begin <= key < end`, in key order (or reverse).
    /// An empty or inverted range reads nothing. Unless `options.snapshot`,
    /// the keys observed become read conflicts (with a `limit` reached, only
    /// up to the last key returned).
    async fn get_range(
        &mut self,
        begin: &[u8],
        end: &[u8],
        options: RangeOptions,
    ) -> Result<Vec<(Bytes, Bytes)>, MetaError>;

    /// Writes `value` at `key`.
    fn set(&mut self, key: &[u8], value: &[u8]) -> Result<(), MetaError>;

    /// Removes `key`.
    fn clear(&mut self, key: &[u8]) -> Result<(), MetaError>;

    /// Removes every key with `begin <= key < end`; `begin > end` fails with
    /// [`MetaError::InvertedRange`], as on FoundationDB.
    fn clear_range(&mut self, begin: &[u8], end: &[u8]) -> Result<(), MetaError>;

    /// Adds `delta` to the little-endian signed 64-bit integer at `key` (absent
    /// counts as 0) without adding a read conflict, as FoundationDB's `ADD`:
    /// the sum wraps, and the stored value is always 8 bytes (a shorter one is
    /// zero-extended first, a longer one truncated).
    fn atomic_add(&mut self, key: &[u8], delta: i64) -> Result<(), MetaError>;

    /// Writes `value_prefix` followed by this commit's 10-byte versionstamp at
    /// `key`. Reading the key back in the same transaction is an error.
    fn set_versionstamped_value(
        &mut self,
        key: &[u8],
        value_prefix: &[u8],
    ) -> Result<(), MetaError>;

    /// Makes this transaction conflict with any concurrent write to `key`, as if
    /// it had read it.
    fn add_read_conflict_key(&mut self, key: &[u8]) -> Result<(), MetaError>;

    /// Commits atomically and durably: when this returns `Ok`, the writes
    /// survive a crash of the process. A transaction with no writes commits
    /// trivially at its read version. On [`MetaError::CommitUnknownResult`]
    /// the writes may or may not have been applied.
    async fn commit(self: Box<Self>) -> Result<CommitInfo, MetaError>;
}

/// A pending notification that a watched key was written. See [`MetaStore::watch`].
#[derive(Debug)]
pub struct Watch {
    receiver: tokio::sync::watch::Receiver<u64>,
}

impl Watch {
    /// Wraps a receiver whose value a backend bumps on every write to the key.
    /// The receiver's current value counts as seen.
    pub fn new(mut receiver: tokio::sync::watch::Receiver<u64>) -> Self {
        receiver.borrow_and_update();
        Self { receiver }
    }

    /// Resolves after the watched key is written (or the store is dropped).
    pub async fn changed(mut self) {
        // An error means the store is gone; waking the waiter is the right answer.
        let _ = self.receiver.changed().await;
    }
}
