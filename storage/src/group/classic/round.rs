//! One classic group as a transaction sees it, and the steps of a round:
//! open it, see whether it can complete, complete it.
//!
//! Members are read with snapshot reads, so heartbeats of different members
//! (each writing only its own key) do not conflict; every transaction reads
//! the group record with a conflict, and every join, round start and
//! completion rewrites it, so those serialize. A transaction that rewrites
//! other members first re-reads them with a conflict, so it cannot
//! overwrite a heartbeat it did not see.

use std::collections::{BTreeMap, BTreeSet};

use super::record::{ClassicGroupRecord, ClassicMember, ClassicState};
use super::{GenerationMember, JoinedGeneration};
use crate::group::GroupError;
use crate::group::state::{GroupState, decode, encode};
use crate::keys::KeySpace;
use crate::limits::MAX_CLASSIC_REBALANCE_TIMEOUT_MS;
use stratus_meta::{MetaError, RangeOptions, Transaction};

pub(super) struct Classic {
    pub(super) group: String,
    pub(super) record: Option<ClassicGroupRecord>,
    pub(super) members: BTreeMap<String, ClassicMember>,
}

impl Classic {
    pub(super) async fn load(
        tx: &mut dyn Transaction,
        keys: &KeySpace,
        group: &str,
    ) -> Result<Result<Self, GroupError>, MetaError> {
        let record = match tx.get(&keys.classic_group(group)).await? {
            Some(bytes) => match decode("classic group record", &bytes) {
                Ok(record) => Some(record),
                Err(e) => return Ok(Err(e)),
            },
            None => None,
        };
        let (begin, end) = keys.classic_members_range(group);
        let options = RangeOptions {
            snapshot: true,
            ..RangeOptions::default()
        };
        let mut members = BTreeMap::new();
        for (_, value) in tx.get_range(&begin, &end, options).await? {
            match decode::<ClassicMember>("classic group member", &value) {
                Ok(member) => {
                    members.insert(member.member_id.clone(), member);
                }
                Err(e) => return Ok(Err(e)),
            }
        }
        Ok(Ok(Self {
            group: group.to_owned(),
            record,
            members,
        }))
    }

    /// Whether `member` is alive: its session has not run out, or it has
    /// rejoined the open round (members waiting at the barrier do not
    /// heartbeat).
    pub(super) fn alive(&self, member: &ClassicMember, now_ms: i64) -> bool {
        if member.deadline_ms >= now_ms {
            return true;
        }
        self.record
            .as_ref()
            .is_some_and(|r| r.state == ClassicState::PreparingRebalance && member.round == r.round)
    }

    pub(super) fn live(&self, now_ms: i64) -> usize {
        self.members
            .values()
            .filter(|m| self.alive(m, now_ms))
            .count()
    }

    /// The state Kafka tools are shown: a group whose members all died is empty.
    pub(super) fn visible_state(&self, now_ms: i64) -> ClassicState {
        match &self.record {
            Some(r) if self.live(now_ms) > 0 => r.state,
            _ => ClassicState::Empty,
        }
    }

    /// Makes the coming writes to members conflict with any member write
    /// this transaction did not see.
    pub(super) async fn lock_members(
        &self,
        tx: &mut dyn Transaction,
        keys: &KeySpace,
    ) -> Result<(), MetaError> {
        let (begin, end) = keys.classic_members_range(&self.group);
        tx.get_range(&begin, &end, RangeOptions::default()).await?;
        Ok(())
    }

    pub(super) fn put_member(
        &self,
        tx: &mut dyn Transaction,
        keys: &KeySpace,
        member: &ClassicMember,
    ) -> Result<(), MetaError> {
        tx.set(
            &keys.classic_member(&self.group, &member.member_id),
            &encode(member)?,
        )
    }

    pub(super) fn put_record(
        &self,
        tx: &mut dyn Transaction,
        keys: &KeySpace,
    ) -> Result<(), MetaError> {
        if let Some(record) = &self.record {
            tx.set(&keys.classic_group(&self.group), &encode(record)?)?;
        }
        Ok(())
    }

    /// Removes members; a read conflict on each key makes the removal fail
    /// if the member heartbeated meanwhile.
    pub(super) fn remove(
        &mut self,
        tx: &mut dyn Transaction,
        keys: &KeySpace,
        ids: &[String],
    ) -> Result<(), MetaError> {
        for id in ids {
            let key = keys.classic_member(&self.group, id);
            tx.add_read_conflict_key(&key)?;
            tx.clear(&key)?;
            self.members.remove(id);
        }
        Ok(())
    }

    /// Members other than `keep` whose sessions ran out.
    pub(super) fn expired(&self, now_ms: i64, keep: &str) -> Vec<String> {
        self.members
            .values()
            .filter(|m| m.member_id != keep && !self.alive(m, now_ms))
            .map(|m| m.member_id.clone())
            .collect()
    }

    /// Opens a round (a no-op if one is open): every member must rejoin by
    /// the longest rebalance timeout among them.
    pub(super) fn open_round(&mut self, now_ms: i64) {
        self.open_round_delayed(now_ms, 0, 0);
    }

    /// Opens a round that does not complete before `delay_ms` from now
    /// (the initial rebalance delay); a round already open is extended, up
    /// to its deadline, if it is still in its initial delay. `joiner_timeout_ms`:
    /// the rebalance timeout of a member about to join, not listed yet.
    pub(super) fn open_round_delayed(
        &mut self,
        now_ms: i64,
        delay_ms: i64,
        joiner_timeout_ms: i64,
    ) {
        let timeout = self
            .members
            .values()
            .map(|m| m.rebalance_timeout_ms)
            .max()
            .unwrap_or(0)
            .max(joiner_timeout_ms)
            .min(MAX_CLASSIC_REBALANCE_TIMEOUT_MS);
        let Some(record) = self.record.as_mut() else {
            return;
        };
        let not_before = now_ms.saturating_add(delay_ms);
        if record.state == ClassicState::PreparingRebalance {
            if delay_ms > 0 && record.not_before_ms > now_ms {
                record.not_before_ms = not_before.min(record.deadline_ms);
            }
            return;
        }
        record.state = ClassicState::PreparingRebalance;
        record.round += 1;
        record.deadline_ms = now_ms.saturating_add(timeout);
        record.not_before_ms = not_before.min(record.deadline_ms);
        tracing::debug!(group = %self.group, round = record.round, "classic group round opened");
    }

    /// When a waiting member should look again: the round's deadline, or the
    /// first session of a member that has not rejoined running out.
    pub(super) fn wake_at(&self) -> i64 {
        let Some(record) = &self.record else {
            return 0;
        };
        let mut at = record.deadline_ms;
        if record.state == ClassicState::PreparingRebalance {
            let mut absent = false;
            for m in self.members.values().filter(|m| m.round != record.round) {
                absent = true;
                at = at.min(m.deadline_ms.saturating_add(1));
            }
            // Everyone is in: only the initial delay holds the round open.
            if !absent {
                at = record.not_before_ms;
            }
            at = at.max(record.not_before_ms);
        }
        at
    }

    /// Completes the open round if every member has rejoined or will not:
    /// the absent ones are removed and the generation advances. Returns
    /// whether it completed (and wrote the group).
    pub(super) async fn try_complete(
        &mut self,
        tx: &mut dyn Transaction,
        keys: &KeySpace,
        now_ms: i64,
    ) -> Result<bool, MetaError> {
        let Some(record) = &self.record else {
            return Ok(false);
        };
        if record.state != ClassicState::PreparingRebalance || now_ms < record.not_before_ms {
            return Ok(false);
        }
        let (round, past_deadline) = (record.round, now_ms >= record.deadline_ms);
        let previous_leader = record.leader.clone();
        let mut absent = Vec::new();
        for m in self.members.values().filter(|m| m.round != round) {
            if !past_deadline && m.deadline_ms >= now_ms {
                return Ok(false);
            }
            absent.push(m.member_id.clone());
        }
        self.lock_members(tx, keys).await?;
        self.remove(tx, keys, &absent)?;
        let protocol = choose_protocol(self.members.values());
        let leader = {
            match previous_leader {
                Some(l) if self.members.contains_key(&l) => Some(l),
                _ => self
                    .members
                    .values()
                    .min_by_key(|m| (m.joined_ms, m.member_id.clone()))
                    .map(|m| m.member_id.clone()),
            }
        };
        let sync_timeout = self
            .members
            .values()
            .map(|m| m.rebalance_timeout_ms)
            .max()
            .unwrap_or(0)
            .min(MAX_CLASSIC_REBALANCE_TIMEOUT_MS);
        let Some(record) = self.record.as_mut() else {
            return Ok(false);
        };
        record.generation += 1;
        let generation = record.generation;
        if self.members.is_empty() {
            record.state = ClassicState::Empty;
            record.protocol = None;
            record.leader = None;
        } else {
            record.state = ClassicState::CompletingRebalance;
            record.protocol = protocol;
            record.leader = leader;
            record.deadline_ms = now_ms.saturating_add(sync_timeout);
        }
        for member in self.members.values_mut() {
            member.generation = generation;
            member.deadline_ms = now_ms.saturating_add(member.session_timeout_ms);
            member.assignment = Default::default();
        }
        for member in self.members.values() {
            self.put_member(tx, keys, member)?;
        }
        self.put_record(tx, keys)?;
        tracing::debug!(group = %self.group, generation, members = self.members.len(), "classic group round completed");
        Ok(true)
    }

    /// The join answer for `member_id` in the current generation.
    pub(super) fn joined(&self, member_id: &str) -> Option<JoinedGeneration> {
        let record = self.record.as_ref()?;
        let member = self.members.get(member_id)?;
        let protocol = record.protocol.clone()?;
        let leader = record.leader.clone()?;
        let members = if leader == member_id {
            self.members
                .values()
                .filter(|m| m.generation == record.generation)
                .map(|m| GenerationMember {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    metadata: m.metadata(&protocol).to_vec(),
                })
                .collect()
        } else {
            Vec::new()
        };
        Some(JoinedGeneration {
            generation: member.generation,
            protocol_type: record.protocol_type.clone(),
            protocol,
            leader,
            member_id: member_id.to_owned(),
            members,
        })
    }
}

/// Kafka's choice: among the protocols every member offers, the one most
/// members prefer (ties to the one the earliest member ranks higher).
fn choose_protocol<'a>(members: impl Iterator<Item = &'a ClassicMember> + Clone) -> Option<String> {
    let mut common: Option<BTreeSet<&str>> = None;
    for m in members.clone() {
        let offered: BTreeSet<&str> = m.protocols.iter().map(|p| p.name.as_str()).collect();
        common = Some(match common {
            None => offered,
            Some(c) => c.intersection(&offered).copied().collect(),
        });
    }
    let common = common?;
    let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
    for m in members.clone() {
        if let Some(p) = m
            .protocols
            .iter()
            .find(|p| common.contains(p.name.as_str()))
        {
            *votes.entry(p.name.as_str()).or_default() += 1;
        }
    }
    let first = members.min_by_key(|m| (m.joined_ms, m.member_id.clone()))?;
    let rank = |name: &str| first.protocols.iter().position(|p| p.name == name);
    votes
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| rank(b.0).cmp(&rank(a.0))))
        .map(|(name, _)| name.to_owned())
}

/// The protocols every live member but `except` offers; `None` when there is
/// no other live member.
pub(super) fn common_protocols(
    classic: &Classic,
    except: &str,
    now_ms: i64,
) -> Option<BTreeSet<String>> {
    let mut common: Option<BTreeSet<String>> = None;
    for m in classic
        .members
        .values()
        .filter(|m| m.member_id != except && classic.alive(m, now_ms))
    {
        let offered: BTreeSet<String> = m.protocols.iter().map(|p| p.name.clone()).collect();
        common = Some(match common {
            None => offered,
            Some(c) => c.intersection(&offered).cloned().collect(),
        });
    }
    common
}

/// Live members of the Stratus group of the same name.
pub(super) async fn stratus_live(
    tx: &mut dyn Transaction,
    keys: &KeySpace,
    group: &str,
    now_ms: i64,
) -> Result<Result<usize, GroupError>, MetaError> {
    Ok(GroupState::load(tx, keys, group).await?.map(|s| {
        s.members
            .values()
            .filter(|m| m.deadline_ms >= now_ms)
            .count()
    }))
}

/// Live members of the classic group of the same name (for the Stratus side).
pub(crate) async fn classic_live(
    tx: &mut dyn Transaction,
    keys: &KeySpace,
    group: &str,
    now_ms: i64,
) -> Result<Result<usize, GroupError>, MetaError> {
    Ok(Classic::load(tx, keys, group)
        .await?
        .map(|c| c.live(now_ms)))
}
