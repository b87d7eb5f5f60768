//! The compactor: turns WAL objects into per-partition zstd segments, enforces
//! retention, compacts keys for `cleanup.policy=compact` topics, and deletes
//! objects nothing references.
//!
//! Compactors are stateless and any number may run at once: partitions are
//! spread over shards, a shard is worked on only under its lease, and every
//! index change is one metadata transaction fenced by the lease generation
//! (see [`lease`]). Each step is ordered so that a crash anywhere leaves a
//! state the next pass finishes: a segment is written before the swap that
//! references it (an unreferenced segment is an orphan for GC), an object is
//! deleted only after a grace period once no index entry references it, and
//! its bookkeeping is cleared only after the delete. Every bound of the
//! compactor is in [`limits`].

pub mod clock;
mod compactor;
pub mod config;
mod context;
mod error;
pub mod failpoint;
mod gc;
mod job;
mod lambda;
pub mod lease;
pub mod limits;
pub mod plan;
mod renewal;
mod report;
mod rewrite;
mod swap;
mod telemetry;

use stratus_storage::topic::TopicRecord;

pub use compactor::Compactor;
pub use config::CompactorConfig;
pub use error::CompactError;
pub use lambda::run_lambda;
pub use report::PassReport;

/// One partition of a topic.
#[derive(Debug, Clone)]
pub(crate) struct Partition {
    pub(crate) topic: TopicRecord,
    pub(crate) partition: u32,
}
