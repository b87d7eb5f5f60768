//! Everything Stratus persists: the record batch codec, the WAL object and
//! segment formats,
//! the object-store tiers, the metadata store and the key layout on top of it,
//! and the partition log (append, commit, read).
//!
//! No networking lives here; the gateway and compactor drive these types.

pub mod batch;
pub mod group;
pub mod keys;
pub mod log;
pub mod meta;
pub mod segment;
pub mod tier;
pub mod topic;
pub mod trigger;
pub mod wal_object;
