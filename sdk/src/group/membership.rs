//! Membership: join, heartbeat, apply assignments, commit, leave.
//!
//! Heartbeats run in a background task, so a member busy processing a batch
//! (a slow function, a long write) keeps its session. Join, heartbeat and
//! the application of their answers are serialised by one async lock, so
//! two answers are never applied at once.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use stratus_proto::v1::{
    AssignmentStrategy, CommitOffsetsRequest, FetchOffsetsRequest, HeartbeatRequest,
    JoinGroupRequest, LeaveGroupRequest, ListOffsetsRequest, MemberAssignment, OffsetCommit,
    OffsetSpec, TopicPartitions,
};
use tokio::sync::Notify;
use tonic::{Code, Status};

use super::config::{Assignor, GroupConfig, StartFrom};
use super::state::State;
use super::{GroupEvent, TopicPartition};
use crate::error::{Error, Result, is_retryable};
use crate::limits::{
    INITIAL_HEARTBEAT_INTERVAL, MAX_REVOKE_WAIT, MEMBERSHIP_RETRY_FOR, MEMBERSHIP_RETRY_PAUSE,
    MIN_HEARTBEAT_INTERVAL,
};
use crate::transport::Transport;

pub(crate) struct Shared {
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) config: GroupConfig,
    pub(crate) state: Mutex<State>,
    /// Wakes `poll`: an assignment changed, a partition was resumed or seeked.
    pub(crate) wake: Notify,
    membership: tokio::sync::Mutex<()>,
    heartbeat_ms: AtomicU64,
}

impl Shared {
    pub(crate) fn new(transport: Arc<dyn Transport>, config: GroupConfig) -> Self {
        Self {
            transport,
            config,
            state: Mutex::new(State::default()),
            wake: Notify::new(),
            membership: tokio::sync::Mutex::new(()),
            heartbeat_ms: AtomicU64::new(INITIAL_HEARTBEAT_INTERVAL.as_millis() as u64),
        }
    }

    pub(crate) fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data; keep going.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn heartbeat_interval(&self) -> Duration {
        Duration::from_millis(self.heartbeat_ms.load(Ordering::Relaxed))
    }

    fn owned_wire(&self) -> Vec<TopicPartitions> {
        self.state()
            .owned_by_topic()
            .into_iter()
            .map(|(topic, partitions)| TopicPartitions { topic, partitions })
            .collect()
    }

    /// Joins (or rejoins as the same member), and applies the assignment.
    pub(crate) async fn join(&self) -> Result<()> {
        let _serial = self.membership.lock().await;
        self.join_locked().await
    }

    async fn join_locked(&self) -> Result<()> {
        let owned = self.owned_wire();
        let member_id = self.state().member_id.clone();
        let request = JoinGroupRequest {
            group: self.config.group.clone(),
            member_id,
            client_id: self.config.client_id.clone(),
            topics: self.config.topics.clone(),
            session_timeout_ms: self
                .config
                .session_timeout
                .map_or(0, |d| d.as_millis().min(u32::MAX as u128) as u32),
            strategy: match self.config.assignor {
                Assignor::Sticky => AssignmentStrategy::Sticky,
                Assignor::Range => AssignmentStrategy::Range,
            } as i32,
            owned,
        };
        let response = self
            .retrying(|| self.transport.join_group(request.clone()))
            .await?;
        let assignment = response
            .member
            .ok_or(Error::Protocol("an assignment in its join answer"))?;
        tracing::debug!(
            group = %self.config.group,
            member = %assignment.member_id,
            generation = assignment.generation,
            "joined"
        );
        self.apply(&assignment).await
    }

    /// Renews the session and applies the current assignment; a member the
    /// group no longer knows (its session expired) loses every partition and
    /// joins again.
    pub(crate) async fn heartbeat(&self) -> Result<()> {
        let _serial = self.membership.lock().await;
        let owned = self.owned_wire();
        let request = {
            let state = self.state();
            HeartbeatRequest {
                group: self.config.group.clone(),
                member_id: state.member_id.clone(),
                generation: state.generation,
                owned,
            }
        };
        match self
            .retrying(|| self.transport.heartbeat(request.clone()))
            .await
        {
            Ok(response) => {
                let assignment = response
                    .member
                    .ok_or(Error::Protocol("an assignment in its heartbeat answer"))?;
                self.apply(&assignment).await
            }
            Err(Error::Status(status)) if status.code() == Code::FailedPrecondition => {
                tracing::info!(group = %self.config.group, reason = status.message(), "membership lost; rejoining");
                let lost: Vec<TopicPartition> = {
                    let mut state = self.state();
                    let lost = state.owned.keys().cloned().collect::<Vec<_>>();
                    state.owned.clear();
                    if !lost.is_empty() {
                        state.events.push_back(GroupEvent::Revoked(lost.clone()));
                    }
                    lost
                };
                if !lost.is_empty() {
                    self.wake.notify_one();
                }
                self.join_locked().await
            }
            Err(e) => Err(e),
        }
    }

    /// Takes an assignment: marks revoked partitions for release (see
    /// [`Self::release_revoked`]), finds where new ones start.
    async fn apply(&self, assignment: &MemberAssignment) -> Result<()> {
        if assignment.heartbeat_interval_ms > 0 {
            self.heartbeat_ms.store(
                u64::from(assignment.heartbeat_interval_ms)
                    .max(MIN_HEARTBEAT_INTERVAL.as_millis() as u64),
                Ordering::Relaxed,
            );
        }
        let assigned: BTreeSet<TopicPartition> = assignment
            .assignment
            .iter()
            .flat_map(|tp| {
                tp.partitions.iter().map(|&partition| TopicPartition {
                    topic: tp.topic.clone(),
                    partition,
                })
            })
            .collect();
        let (revoked, added) = {
            let mut state = self.state();
            state.member_id.clone_from(&assignment.member_id);
            state.generation = assignment.generation;
            let revoked: Vec<TopicPartition> = state
                .owned
                .keys()
                .filter(|tp| !assigned.contains(*tp))
                .cloned()
                .collect();
            let added: Vec<TopicPartition> = assigned
                .iter()
                .filter(|tp| !state.owned.contains_key(*tp))
                .cloned()
                .collect();
            (revoked, added)
        };
        if !revoked.is_empty() {
            // Released at the application's next poll, when the records it
            // holds are processed: releasing now would commit a position
            // before them, and the next owner would read them again.
            let mut state = self.state();
            let now = std::time::Instant::now();
            for tp in &revoked {
                let epoch = state.next_epoch();
                if let Some(pos) = state.owned.get_mut(tp)
                    && pos.revoked_at.is_none()
                {
                    pos.revoked_at = Some(now);
                    // The answer of a fetch in flight is dropped.
                    pos.epoch = epoch;
                    pos.fetching = false;
                }
            }
        }
        {
            // Given back before it was released: it stays.
            let mut state = self.state();
            for tp in &assigned {
                if let Some(pos) = state.owned.get_mut(tp) {
                    pos.revoked_at = None;
                }
            }
        }
        if !added.is_empty() {
            let starts = self.starting_offsets(&added).await?;
            let mut state = self.state();
            for tp in &added {
                let (next, committed) = starts[tp];
                state.own(tp.clone(), next, committed);
            }
            state.events.push_back(GroupEvent::Assigned(added));
        }
        self.wake.notify_one();
        Ok(())
    }

    /// The committed offset of each partition, or `config.start` where the
    /// group has none.
    async fn starting_offsets(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, (i64, Option<i64>)>> {
        let topics: BTreeSet<String> = partitions.iter().map(|tp| tp.topic.clone()).collect();
        let request = FetchOffsetsRequest {
            group: self.config.group.clone(),
            topics: topics.into_iter().collect(),
        };
        let committed = self
            .retrying(|| self.transport.fetch_offsets(request.clone()))
            .await?
            .offsets;
        let mut out = BTreeMap::new();
        let mut missing: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        for tp in partitions {
            match committed
                .iter()
                .find(|c| c.topic == tp.topic && c.partition == tp.partition)
            {
                Some(c) => {
                    out.insert(tp.clone(), (c.offset, Some(c.offset)));
                }
                None => missing
                    .entry(tp.topic.clone())
                    .or_default()
                    .push(tp.partition),
            }
        }
        let spec = match self.config.start {
            StartFrom::Earliest => OffsetSpec::Earliest,
            StartFrom::Latest => OffsetSpec::Latest,
        };
        for (topic, partitions) in missing {
            for (partition, offset) in self.list_offsets(&topic, &partitions, spec).await? {
                out.insert(
                    TopicPartition {
                        topic: topic.clone(),
                        partition,
                    },
                    (offset, None),
                );
            }
        }
        Ok(out)
    }

    pub(crate) async fn list_offsets(
        &self,
        topic: &str,
        partitions: &[u32],
        spec: OffsetSpec,
    ) -> Result<Vec<(u32, i64)>> {
        let request = ListOffsetsRequest {
            topic: topic.to_owned(),
            partitions: partitions.to_vec(),
            spec: spec as i32,
            timestamp_ms: 0,
        };
        let found = self
            .retrying(|| self.transport.list_offsets(request.clone()))
            .await?;
        Ok(found
            .partitions
            .into_iter()
            .map(|p| (p.partition, p.offset.max(0)))
            .collect())
    }

    /// Releases revoked partitions (all, or those waiting at least
    /// `waited`): commits their processed positions with auto-commit, stops
    /// owning them and queues `Revoked` for `poll`. The next heartbeat
    /// reports them gone, and the group hands them to their next owner.
    pub(crate) async fn release_revoked(&self, waited: Option<Duration>) -> Result<()> {
        // Without waiting for a heartbeat in progress when nothing is due.
        if self.state().revoked(waited).is_empty() {
            return Ok(());
        }
        let _serial = self.membership.lock().await;
        let revoked = self.state().revoked(waited);
        if revoked.is_empty() {
            return Ok(());
        }
        if waited.is_some() {
            tracing::warn!(group = %self.config.group, partitions = revoked.len(), "the application has not polled since its partitions were revoked; releasing them (records it still holds will be read again by their next owner)");
        }
        let processed = self.state().uncommitted(Some(&revoked), false);
        if self.config.auto_commit.is_some()
            && let Err(e) = self.commit_once(&processed).await
        {
            tracing::warn!(group = %self.config.group, error = %e, "could not commit revoked partitions; their next owner re-reads from the last commit");
        }
        let mut state = self.state();
        for tp in &revoked {
            state.owned.remove(tp);
        }
        state.events.push_back(GroupEvent::Revoked(revoked));
        drop(state);
        self.wake.notify_one();
        Ok(())
    }

    /// Commits owned positions that moved: `processed` ones, or every
    /// returned record's with `all`.
    pub(crate) async fn commit_positions(
        &self,
        only: Option<&[TopicPartition]>,
        all: bool,
    ) -> Result<()> {
        let offsets = self.state().uncommitted(only, all);
        self.commit(&offsets).await
    }

    /// Commits `offsets` (each the next offset to consume), fenced by the
    /// member's generation. A commit refused because the generation moved on
    /// is retried once after a heartbeat brings the current one.
    pub(crate) async fn commit(&self, offsets: &[(TopicPartition, i64)]) -> Result<()> {
        if offsets.is_empty() {
            return Ok(());
        }
        match self.commit_once(offsets).await {
            Err(Error::Status(status))
                if status.code() == Code::FailedPrecondition
                    && status.message().contains("generation") =>
            {
                self.heartbeat().await?;
                self.commit_once(offsets).await
            }
            other => other,
        }
    }

    async fn commit_once(&self, offsets: &[(TopicPartition, i64)]) -> Result<()> {
        if offsets.is_empty() {
            return Ok(());
        }
        let request = {
            let state = self.state();
            CommitOffsetsRequest {
                group: self.config.group.clone(),
                member_id: state.member_id.clone(),
                generation: state.generation,
                offsets: offsets
                    .iter()
                    .map(|(tp, offset)| OffsetCommit {
                        topic: tp.topic.clone(),
                        partition: tp.partition,
                        offset: *offset,
                        metadata: String::new(),
                    })
                    .collect(),
            }
        };
        self.retrying(|| self.transport.commit_offsets(request.clone()))
            .await?;
        let mut state = self.state();
        for (tp, offset) in offsets {
            if let Some(pos) = state.owned.get_mut(tp) {
                pos.committed = Some(*offset);
            }
        }
        Ok(())
    }

    pub(crate) async fn leave(&self) -> Result<()> {
        let request = LeaveGroupRequest {
            group: self.config.group.clone(),
            member_id: self.state().member_id.clone(),
        };
        if request.member_id.is_empty() {
            return Ok(());
        }
        self.retrying(|| self.transport.leave_group(request.clone()))
            .await?;
        self.state().owned.clear();
        Ok(())
    }

    /// Runs `call` until it succeeds, fails for good, or
    /// [`MEMBERSHIP_RETRY_FOR`] passes; a multi-gateway transport moves to
    /// the next gateway between attempts.
    async fn retrying<T, F, Fut>(&self, mut call: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        let deadline = tokio::time::Instant::now() + MEMBERSHIP_RETRY_FOR;
        loop {
            match call().await {
                Ok(value) => return Ok(value),
                Err(status) if is_retryable(&status) && tokio::time::Instant::now() < deadline => {
                    tracing::debug!(group = %self.config.group, error = %status.message(), "retrying a group call");
                    tokio::time::sleep(MEMBERSHIP_RETRY_PAUSE).await;
                }
                Err(status) => return Err(Error::Status(status)),
            }
        }
    }
}

/// Heartbeats every heartbeat interval and auto-commits every
/// `auto_commit`, each on its own schedule, until the member is closed or
/// dropped. An error no retry fixes is left for `poll` to return.
///
/// The two clocks are apart because the gateway's heartbeat interval follows
/// the session timeout (a third of it), while the commit interval bounds how
/// much a killed member's successor reads again: committing only after a
/// heartbeat made a 1 s commit interval a 3.3 s one under a 10 s session.
pub(crate) async fn run(shared: Arc<Shared>) {
    let now = tokio::time::Instant::now();
    let mut next_heartbeat = now + shared.heartbeat_interval();
    let mut next_commit = shared.config.auto_commit.map(|every| now + every);
    loop {
        let wake_at = next_commit.map_or(next_heartbeat, |at| at.min(next_heartbeat));
        tokio::time::sleep_until(wake_at).await;
        let mut result = Ok(());
        if tokio::time::Instant::now() >= next_heartbeat {
            result = shared.heartbeat().await;
            if result.is_ok() {
                result = shared.release_revoked(Some(MAX_REVOKE_WAIT)).await;
            }
            next_heartbeat = tokio::time::Instant::now() + shared.heartbeat_interval();
        }
        if result.is_ok()
            && let (Some(at), Some(every)) = (next_commit, shared.config.auto_commit)
            && tokio::time::Instant::now() >= at
        {
            result = shared.commit_positions(None, false).await;
            next_commit = Some(tokio::time::Instant::now() + every);
        }
        match result {
            Ok(()) => {}
            Err(Error::Status(status)) if is_retryable(&status) => {
                tracing::warn!(group = %shared.config.group, error = %status.message(), "no gateway answered the heartbeat; still trying");
            }
            Err(Error::Status(status)) if status.code() == Code::FailedPrecondition => {
                // A commit raced a rebalance; the next heartbeat catches up.
                tracing::debug!(group = %shared.config.group, reason = status.message(), "commit refused");
            }
            Err(e) => {
                tracing::error!(group = %shared.config.group, error = %e, "group membership failed");
                shared.state().failed = Some(e);
                shared.wake.notify_one();
                return;
            }
        }
    }
}
