//! [`GroupConsumer`]: consume as a member of a consumer group.
//!
//! The group's partitions are divided among its members by the gateways
//! (any gateway serves any member: group state lives in metadata). A member
//! learns of rebalances from its heartbeats, which a background task sends,
//! and sees them as [`GroupEvent`]s from [`GroupConsumer::poll`] between
//! batches of records. Progress is committed per partition, fenced by the
//! member's generation: at-least-once, so a member that dies re-delivers at
//! most what it had not committed.
//!
//! ```no_run
//! # async fn run() -> stratus_sdk::Result<()> {
//! use stratus_sdk::{Client, GroupConfig, GroupEvent};
//! let client = Client::connect("grpc://127.0.0.1:7400").await?;
//! let mut consumer = client.group_consumer(GroupConfig::new("billing", ["orders"])).await?;
//! loop {
//!     match consumer.poll().await? {
//!         GroupEvent::Records(records) => {
//!             for r in records {
//!                 println!("{}/{}@{}", r.topic, r.partition, r.offset);
//!             }
//!         }
//!         GroupEvent::Assigned(tps) => println!("now reading {tps:?}"),
//!         GroupEvent::Revoked(tps) => println!("gave up {tps:?}"),
//!     }
//! }
//! # }
//! ```

mod config;
mod membership;
mod state;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use stratus_proto::v1::{FetchRequest, FetchResponse, OffsetSpec};
use tokio::task::JoinHandle;
use tonic::Code;

pub use config::{Assignor, GroupConfig, StartFrom};
use membership::Shared;

use crate::consumer::{ConsumerRecord, into_records};
use crate::error::{Error, Result, is_retryable};
use crate::limits::fetch_retry_backoff;
use crate::transport::Transport;

/// One partition of one topic.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: u32,
}

impl TopicPartition {
    pub fn new(topic: impl Into<String>, partition: u32) -> Self {
        Self {
            topic: topic.into(),
            partition,
        }
    }
}

impl std::fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.topic, self.partition)
    }
}

/// What [`GroupConsumer::poll`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupEvent {
    /// Records of one partition, in offset order.
    Records(Vec<ConsumerRecord>),
    /// These partitions are now this member's; reading starts at the
    /// group's committed offset (or [`GroupConfig::start`]).
    Assigned(Vec<TopicPartition>),
    /// These partitions are no longer this member's, returned by the `poll`
    /// after the group took them away: the records returned before were
    /// processed, and with auto-commit their positions were committed before
    /// the partitions were released; with manual commits, anything not
    /// committed yet will be read again by the next owner.
    Revoked(Vec<TopicPartition>),
}

/// How far behind one owned partition is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionLag {
    pub partition: TopicPartition,
    /// Next offset this member will read.
    pub position: i64,
    /// The group's committed offset, if any.
    pub committed: Option<i64>,
    /// The partition's next offset to be written (high-water mark).
    pub end_offset: i64,
    /// Records from the committed offset (or the position, when nothing is
    /// committed) to the end: what the group has yet to finish.
    pub lag: i64,
}

enum Outcome {
    Fetched(FetchResponse),
    /// The position was outside the log (retention removed it); read on
    /// from here.
    Reset(i64),
    Failed(tonic::Status),
}

struct Fetched {
    tp: TopicPartition,
    epoch: u64,
    outcome: Outcome,
}

type Fetching = Pin<Box<dyn Future<Output = Fetched> + Send>>;

/// A member of a consumer group. Dropping it stops its heartbeats (its
/// partitions move when the session times out); [`close`](Self::close)
/// commits and leaves at once.
pub struct GroupConsumer {
    shared: Arc<Shared>,
    heartbeats: JoinHandle<()>,
    /// Only ever used through `&mut self` (`Mutex::get_mut`, no locking):
    /// the mutex is there to make the consumer `Sync`, so futures of its
    /// `&self` methods are `Send`.
    in_flight: std::sync::Mutex<FuturesUnordered<Fetching>>,
}

impl std::fmt::Debug for GroupConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupConsumer")
            .field("group", &self.shared.config.group)
            .field("member_id", &self.member_id())
            .finish_non_exhaustive()
    }
}

impl Drop for GroupConsumer {
    fn drop(&mut self) {
        self.heartbeats.abort();
    }
}

impl GroupConsumer {
    /// Joins the group; the first assignment is the first event `poll` returns.
    pub(crate) async fn join(transport: Arc<dyn Transport>, config: GroupConfig) -> Result<Self> {
        config.validate()?;
        let shared = Arc::new(Shared::new(transport, config));
        shared.join().await?;
        let heartbeats = tokio::spawn(membership::run(Arc::clone(&shared)));
        Ok(Self {
            shared,
            heartbeats,
            in_flight: std::sync::Mutex::new(FuturesUnordered::new()),
        })
    }

    /// The id the group knows this member by.
    pub fn member_id(&self) -> String {
        self.shared.state().member_id.clone()
    }

    /// The generation of the member's current assignment.
    pub fn generation(&self) -> i64 {
        self.shared.state().generation
    }

    /// The partitions this member owns now.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        self.shared.state().owned.keys().cloned().collect()
    }

    /// The next offset to read in each owned partition.
    pub fn positions(&self) -> BTreeMap<TopicPartition, i64> {
        self.shared
            .state()
            .owned
            .iter()
            .map(|(tp, pos)| (tp.clone(), pos.next))
            .collect()
    }

    /// The group's committed offset of each owned partition, as far as this
    /// member knows (its own commits and those found when it was assigned).
    pub fn committed(&self) -> BTreeMap<TopicPartition, i64> {
        self.shared
            .state()
            .owned
            .iter()
            .filter_map(|(tp, pos)| pos.committed.map(|c| (tp.clone(), c)))
            .collect()
    }

    /// Waits for the next event: records of an owned partition, or a change
    /// of assignment. Calling `poll` again means the records it returned
    /// before were processed (auto-commit commits only those).
    ///
    /// Cancel-safe: dropping the future loses nothing, so it can sit in a
    /// `tokio::select!` next to other work.
    pub async fn poll(&mut self) -> Result<GroupEvent> {
        {
            let mut state = self.shared.state();
            for pos in state.owned.values_mut() {
                pos.processed = pos.next;
            }
        }
        loop {
            // Everything returned before is processed (the application is
            // in `poll`): partitions the group took away can go, with their
            // positions committed, also when the move arrives while waiting.
            self.shared.release_revoked(None).await?;
            {
                let mut state = self.shared.state();
                if let Some(event) = state.events.pop_front() {
                    return Ok(event);
                }
                if let Some(error) = state.failed.clone() {
                    return Err(error);
                }
            }
            self.start_fetches();
            let woken = self.shared.wake.notified();
            let in_flight = self
                .in_flight
                .get_mut()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let fetched = tokio::select! {
                () = woken => None,
                Some(fetched) = in_flight.next(), if !in_flight.is_empty() => Some(fetched),
            };
            if let Some(fetched) = fetched
                && let Some(records) = self.take(fetched)?
            {
                return Ok(GroupEvent::Records(records));
            }
        }
    }

    fn start_fetches(&mut self) {
        let in_flight = self
            .in_flight
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut state = self.shared.state();
        for (tp, pos) in state.owned.iter_mut() {
            if pos.fetching || pos.paused || pos.revoked_at.is_some() {
                continue;
            }
            pos.fetching = true;
            let transport = Arc::clone(&self.shared.transport);
            let request = FetchRequest {
                topic: tp.topic.clone(),
                partition: tp.partition,
                offset: pos.next,
                max_bytes: self.shared.config.max_fetch_bytes,
                max_wait_ms: self.shared.config.fetch_wait.as_millis() as u32,
            };
            let backoff = fetch_retry_backoff(pos.failures);
            let reset_to = match self.shared.config.start {
                StartFrom::Earliest => OffsetSpec::Earliest,
                StartFrom::Latest => OffsetSpec::Latest,
            };
            let (tp, epoch) = (tp.clone(), pos.epoch);
            let shared = Arc::clone(&self.shared);
            in_flight.push(Box::pin(async move {
                tokio::time::sleep(backoff).await;
                let outcome = match transport.fetch(request).await {
                    Ok(response) => Outcome::Fetched(response),
                    Err(status) if status.code() == Code::OutOfRange => {
                        match shared
                            .list_offsets(&tp.topic, &[tp.partition], reset_to)
                            .await
                        {
                            Ok(found) => match found.first() {
                                Some(&(_, offset)) => Outcome::Reset(offset),
                                None => Outcome::Failed(status),
                            },
                            Err(_) => Outcome::Failed(status),
                        }
                    }
                    Err(status) => Outcome::Failed(status),
                };
                Fetched { tp, epoch, outcome }
            }));
        }
    }

    /// Applies a fetch's answer; records to return, if it brought any.
    fn take(&mut self, fetched: Fetched) -> Result<Option<Vec<ConsumerRecord>>> {
        let mut state = self.shared.state();
        let Some(pos) = state.owned.get_mut(&fetched.tp) else {
            return Ok(None);
        };
        if pos.epoch != fetched.epoch {
            return Ok(None);
        }
        pos.fetching = false;
        match fetched.outcome {
            Outcome::Fetched(response) => {
                pos.failures = 0;
                let from = pos.next;
                let next_fetch_offset = response.next_fetch_offset;
                let mut records = into_records(&fetched.tp.topic, fetched.tp.partition, response);
                records.retain(|r| r.offset >= from);
                let after_last = records.last().map_or(from, |r| r.offset + 1);
                pos.next = after_last.max(next_fetch_offset);
                Ok((!records.is_empty()).then_some(records))
            }
            Outcome::Reset(offset) => {
                tracing::warn!(partition = %fetched.tp, from = pos.next, to = offset, "position is outside the log (retention removed it); continuing from the reset position");
                pos.next = offset;
                Ok(None)
            }
            Outcome::Failed(status) if is_retryable(&status) => {
                pos.failures += 1;
                Ok(None)
            }
            Outcome::Failed(status) => Err(status.into()),
        }
    }

    /// Stops fetching `partitions` until [`resume`](Self::resume); the
    /// member keeps them (and heartbeats). Records of an in-flight fetch
    /// are dropped and fetched again after resuming.
    pub fn pause(&self, partitions: &[TopicPartition]) {
        let mut state = self.shared.state();
        for tp in partitions {
            let epoch = state.next_epoch();
            if let Some(pos) = state.owned.get_mut(tp) {
                pos.paused = true;
                pos.fetching = false;
                pos.epoch = epoch;
            }
        }
    }

    pub fn resume(&self, partitions: &[TopicPartition]) {
        let mut state = self.shared.state();
        for tp in partitions {
            if let Some(pos) = state.owned.get_mut(tp) {
                pos.paused = false;
            }
        }
        drop(state);
        self.shared.wake.notify_one();
    }

    /// Reads `partition` from `offset` next.
    pub fn seek(&self, partition: &TopicPartition, offset: i64) -> Result<()> {
        let mut state = self.shared.state();
        let epoch = state.next_epoch();
        let Some(pos) = state.owned.get_mut(partition) else {
            return Err(Error::Config(format!(
                "{partition} is not assigned to this member; seek only partitions it owns"
            )));
        };
        pos.next = offset;
        pos.processed = pos.processed.min(offset);
        pos.fetching = false;
        pos.epoch = epoch;
        drop(state);
        self.shared.wake.notify_one();
        Ok(())
    }

    /// Commits the position after every record `poll` has returned.
    pub async fn commit(&self) -> Result<()> {
        self.shared.commit_positions(None, true).await
    }

    /// Commits these offsets, each the next offset to consume (Kafka's
    /// convention). Refused with an error that says to rejoin if the member
    /// no longer holds a partition.
    pub async fn commit_offsets(&self, offsets: &[(TopicPartition, i64)]) -> Result<()> {
        self.shared.commit(offsets).await
    }

    /// Position, committed offset, end and lag of each owned partition.
    pub async fn lag(&self) -> Result<Vec<PartitionLag>> {
        let owned: Vec<(TopicPartition, i64, Option<i64>)> = self
            .shared
            .state()
            .owned
            .iter()
            .map(|(tp, pos)| (tp.clone(), pos.next, pos.committed))
            .collect();
        let mut by_topic: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        for (tp, _, _) in &owned {
            by_topic
                .entry(tp.topic.clone())
                .or_default()
                .push(tp.partition);
        }
        let mut ends = BTreeMap::new();
        for (topic, partitions) in by_topic {
            for (partition, end) in self
                .shared
                .list_offsets(&topic, &partitions, OffsetSpec::Latest)
                .await?
            {
                ends.insert(TopicPartition::new(topic.clone(), partition), end);
            }
        }
        Ok(owned
            .into_iter()
            .map(|(tp, position, committed)| {
                let end_offset = ends.get(&tp).copied().unwrap_or(position);
                PartitionLag {
                    lag: (end_offset - committed.unwrap_or(position)).max(0),
                    partition: tp,
                    position,
                    committed,
                    end_offset,
                }
            })
            .collect())
    }

    /// Commits what `poll` returned (with auto-commit) and leaves the
    /// group, so its partitions move to other members at once.
    pub async fn close(self) -> Result<()> {
        self.heartbeats.abort();
        let committed = if self.shared.config.auto_commit.is_some() {
            self.shared.commit_positions(None, true).await
        } else {
            Ok(())
        };
        let left = self.shared.leave().await;
        committed.and(left)
    }
}
