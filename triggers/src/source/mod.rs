//! Where a trigger's records come from: a consumer group member, behind a
//! small trait so the consumption loop can be tested without a gateway.

mod group;

use async_trait::async_trait;

pub use group::GroupSource;

use crate::record::{Partition, Record};

/// What [`Source::poll`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceEvent {
    Assigned(Vec<Partition>),
    /// Given up: anything not committed is the next owner's to re-deliver.
    Revoked(Vec<Partition>),
    /// Records of one partition, in offset order.
    Records(Vec<Record>),
}

/// A consumer group member, as the dispatcher uses it.
#[async_trait]
pub trait Source: Send {
    /// The next event. Must be cancel-safe: the dispatcher polls it inside
    /// `select!` and drops it when a batch completes.
    async fn poll(&mut self) -> Result<SourceEvent, String>;
    /// Stops fetching these partitions (their buffers are full).
    fn pause(&mut self, partitions: &[Partition]);
    fn resume(&mut self, partitions: &[Partition]);
    /// Commits `next_offset` (the next record to consume) for `partition`.
    async fn commit(&mut self, partition: &Partition, next_offset: i64) -> Result<(), String>;
    /// Leaves the group.
    async fn close(self: Box<Self>);
}
