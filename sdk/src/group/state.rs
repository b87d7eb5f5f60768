//! What a group member knows, shared by `poll` (which fetches) and the
//! membership task (which heartbeats, applies assignments and auto-commits).
//! Held under a plain mutex, never across an await.

use std::collections::{BTreeMap, VecDeque};

use super::{GroupEvent, TopicPartition};
use crate::error::Error;

/// Where the member is in one partition it owns.
#[derive(Debug, Clone)]
pub(crate) struct Position {
    /// Next offset to fetch: one past the last record `poll` returned.
    pub(crate) next: i64,
    /// `next` as of the start of the latest `poll` call: the application has
    /// processed everything before it (it asked for more). Auto-commit
    /// commits this, never records still being processed.
    pub(crate) processed: i64,
    /// Last offset committed for the group (or found committed), if any.
    pub(crate) committed: Option<i64>,
    pub(crate) paused: bool,
    pub(crate) fetching: bool,
    /// Bumped by seek, pause and reassignment, so the answer to a fetch from
    /// before is dropped.
    pub(crate) epoch: u64,
    /// Consecutive retryable fetch failures, for backoff.
    pub(crate) failures: u32,
    /// The group took the partition away at this instant; it is released
    /// (processed position committed, `Revoked` returned) at the next `poll`,
    /// once the application is done with the records it holds, or after
    /// [`crate::limits::MAX_REVOKE_WAIT`]. Nothing more is fetched meanwhile.
    pub(crate) revoked_at: Option<std::time::Instant>,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) member_id: String,
    pub(crate) generation: i64,
    pub(crate) owned: BTreeMap<TopicPartition, Position>,
    /// Assignment changes not yet returned by `poll`.
    pub(crate) events: VecDeque<GroupEvent>,
    /// The membership task stopped on an error no retry can fix.
    pub(crate) failed: Option<Error>,
    epochs: u64,
}

impl State {
    pub(crate) fn next_epoch(&mut self) -> u64 {
        self.epochs += 1;
        self.epochs
    }

    /// Starts owning `tp` at `next`.
    pub(crate) fn own(&mut self, tp: TopicPartition, next: i64, committed: Option<i64>) {
        let epoch = self.next_epoch();
        self.owned.insert(
            tp,
            Position {
                next,
                processed: next,
                committed,
                paused: false,
                fetching: false,
                epoch,
                failures: 0,
                revoked_at: None,
            },
        );
    }

    /// Owned partitions the group took away: all of them, or those taken
    /// at least `waited` ago.
    pub(crate) fn revoked(&self, waited: Option<std::time::Duration>) -> Vec<TopicPartition> {
        self.owned
            .iter()
            .filter(|(_, pos)| {
                pos.revoked_at
                    .is_some_and(|at| waited.is_none_or(|w| at.elapsed() >= w))
            })
            .map(|(tp, _)| tp.clone())
            .collect()
    }

    /// The owned partitions grouped by topic, as the wire reports them.
    pub(crate) fn owned_by_topic(&self) -> BTreeMap<String, Vec<u32>> {
        let mut by_topic: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        for tp in self.owned.keys() {
            by_topic
                .entry(tp.topic.clone())
                .or_default()
                .push(tp.partition);
        }
        by_topic
    }

    /// Positions worth committing: `processed` (or `next` with `all`) where
    /// it differs from what is committed, limited to `only` if given.
    pub(crate) fn uncommitted(
        &self,
        only: Option<&[TopicPartition]>,
        all: bool,
    ) -> Vec<(TopicPartition, i64)> {
        self.owned
            .iter()
            .filter(|(tp, _)| only.is_none_or(|o| o.contains(tp)))
            .map(|(tp, pos)| (tp.clone(), if all { pos.next } else { pos.processed }))
            .filter(|(tp, offset)| self.owned[tp].committed != Some(*offset))
            .collect()
    }
}
