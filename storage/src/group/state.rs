//! One group's state as a transaction sees it, and the steps every
//! membership operation is made of: load, find dead members, remove them,
//! rebalance, and answer a member.
//!
//! Members are read with snapshot reads, so heartbeats of different members
//! (each writing only its own key) never conflict; the group record is read
//! with a conflict, and every rebalance rewrites it, so a heartbeat that
//! raced a rebalance runs again. A rebalance re-reads the members with a
//! conflict so it cannot overwrite a heartbeat it did not see.

use std::collections::{BTreeMap, BTreeSet};

use super::assign::{Subscriber, assign};
use super::record::{Assignment, GroupRecord, MemberRecord, Strategy, holds, retain};
use super::{GroupError, MemberState};
use crate::keys::KeySpace;
use crate::topic::TopicRecord;
use stratus_meta::{MetaError, RangeOptions, Transaction};

pub(super) struct GroupState {
    pub(super) group: String,
    pub(super) record: Option<GroupRecord>,
    pub(super) members: BTreeMap<String, MemberRecord>,
}

pub(super) fn decode<T: serde::de::DeserializeOwned>(
    what: &str,
    bytes: &[u8],
) -> Result<T, GroupError> {
    serde_json::from_slice(bytes)
        .map_err(|e| GroupError::Corrupt(format!("{what} does not decode: {e}")))
}

pub(super) fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, MetaError> {
    serde_json::to_vec(value)
        .map_err(|e| MetaError::Backend(format!("cannot encode group state: {e}")))
}

/// Reads a topic record by name inside `tx`.
pub(super) async fn read_topic(
    tx: &mut dyn Transaction,
    keys: &KeySpace,
    name: &str,
) -> Result<Result<Option<TopicRecord>, GroupError>, MetaError> {
    Ok(match tx.get(&keys.topic_by_name(name)).await? {
        Some(bytes) => decode("topic record", &bytes).map(Some),
        None => Ok(None),
    })
}

impl GroupState {
    pub(super) async fn load(
        tx: &mut dyn Transaction,
        keys: &KeySpace,
        group: &str,
    ) -> Result<Result<Self, GroupError>, MetaError> {
        let record = match tx.get(&keys.group(group)).await? {
            Some(bytes) => match decode("group record", &bytes) {
                Ok(record) => Some(record),
                Err(e) => return Ok(Err(e)),
            },
            None => None,
        };
        let (begin, end) = keys.group_members_range(group);
        let options = RangeOptions {
            snapshot: true,
            ..RangeOptions::default()
        };
        let mut members = BTreeMap::new();
        for (_, value) in tx.get_range(&begin, &end, options).await? {
            match decode::<MemberRecord>("group member", &value) {
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

    /// Members whose session deadline passed, `keep` excepted (a member that
    /// is heartbeating right now is alive, and nobody else holds its
    /// partitions while it is still listed).
    pub(super) fn dead(&self, now_ms: i64, keep: Option<&str>) -> Vec<String> {
        self.members
            .values()
            .filter(|m| m.deadline_ms < now_ms && Some(m.member_id.as_str()) != keep)
            .map(|m| m.member_id.clone())
            .collect()
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
            let key = keys.group_member(&self.group, id);
            tx.add_read_conflict_key(&key)?;
            tx.clear(&key)?;
            self.members.remove(id);
        }
        Ok(())
    }

    /// Current partition count of every topic some member subscribes to;
    /// deleted topics are left out (their partitions are unassigned).
    pub(super) async fn partition_counts(
        &self,
        tx: &mut dyn Transaction,
        keys: &KeySpace,
    ) -> Result<Result<BTreeMap<String, u32>, GroupError>, MetaError> {
        let topics: BTreeSet<&String> = self.members.values().flat_map(|m| &m.topics).collect();
        let mut counts = BTreeMap::new();
        for topic in topics {
            match read_topic(tx, keys, topic).await? {
                Ok(Some(record)) => {
                    counts.insert(topic.clone(), record.partitions);
                }
                Ok(None) => {}
                Err(e) => return Ok(Err(e)),
            }
        }
        Ok(Ok(counts))
    }

    /// Whether the assignment must be recomputed for these partition counts.
    pub(super) fn counts_changed(&self, counts: &BTreeMap<String, u32>) -> bool {
        self.record.as_ref().is_none_or(|r| &r.partitions != counts)
    }

    pub(super) fn record_mut(&mut self, strategy: Strategy, now_ms: i64) -> &mut GroupRecord {
        self.record.get_or_insert_with(|| GroupRecord {
            generation: 0,
            strategy,
            partitions: BTreeMap::new(),
            created_ms: now_ms,
        })
    }

    /// Bumps the generation and gives every member its new target.
    pub(super) async fn rebalance(
        &mut self,
        tx: &mut dyn Transaction,
        keys: &KeySpace,
        counts: BTreeMap<String, u32>,
        now_ms: i64,
    ) -> Result<(), MetaError> {
        // Not a snapshot: this transaction rewrites every member, so any
        // member write it did not see must make it conflict.
        let (begin, end) = keys.group_members_range(&self.group);
        tx.get_range(&begin, &end, RangeOptions::default()).await?;
        let strategy = self
            .record
            .as_ref()
            .map_or_else(Strategy::default, |r| r.strategy);
        let subscribers: Vec<Subscriber<'_>> = self
            .members
            .values()
            .map(|m| Subscriber {
                id: &m.member_id,
                topics: &m.topics,
                previous: &m.target,
            })
            .collect();
        let mut targets = assign(strategy, &subscribers, &counts);
        let group_key = keys.group(&self.group);
        let record = self.record_mut(strategy, now_ms);
        record.generation += 1;
        record.partitions = counts;
        tx.set(&group_key, &encode(record)?)?;
        for member in self.members.values_mut() {
            member.target = targets.remove(&member.member_id).unwrap_or_default();
            tx.set(
                &keys.group_member(&self.group, &member.member_id),
                &encode(member)?,
            )?;
        }
        tracing::debug!(group = %self.group, generation = ?self.record.as_ref().map(|r| r.generation), "group rebalanced");
        Ok(())
    }

    /// Renews a member's session, records what it reports owning, and tells
    /// it what it may consume: its target minus what others still own.
    pub(super) fn serve(
        &mut self,
        tx: &mut dyn Transaction,
        keys: &KeySpace,
        member_id: &str,
        owned_report: &Assignment,
        now_ms: i64,
    ) -> Result<MemberState, MetaError> {
        let record = self.record.clone().unwrap_or(GroupRecord {
            generation: 0,
            strategy: Strategy::default(),
            partitions: BTreeMap::new(),
            created_ms: now_ms,
        });
        // A partition is held by the member that reports consuming it, and
        // by the member it was last handed to: a member starts consuming as
        // soon as its join or heartbeat answer arrives, before its next
        // heartbeat could report it as owned.
        let held_by_others: BTreeSet<(String, u32)> = self
            .members
            .values()
            .filter(|m| m.member_id != member_id)
            .flat_map(|m| m.owned.iter().chain(m.assigned.iter()))
            .flat_map(|(t, ps)| ps.iter().map(|p| (t.clone(), *p)))
            .collect();
        let Some(member) = self.members.get_mut(member_id) else {
            return Err(MetaError::Backend(format!(
                "member {member_id:?} vanished while being served"
            )));
        };
        // A member may only claim what it was given (or still finishing).
        member.owned = retain(owned_report, |t, p| {
            holds(&member.assigned, t, p) || holds(&member.owned, t, p)
        });
        member.assigned = retain(&member.target, |t, p| {
            !held_by_others.contains(&(t.to_owned(), p))
        });
        member.generation = record.generation;
        member.deadline_ms = now_ms.saturating_add(member.session_timeout_ms);
        tx.set(&keys.group_member(&self.group, member_id), &encode(member)?)?;
        let pending = retain(&member.target, |t, p| !holds(&member.assigned, t, p));
        Ok(MemberState {
            member_id: member_id.to_owned(),
            generation: record.generation,
            assignment: member.assigned.clone(),
            pending,
            session_timeout_ms: member.session_timeout_ms,
            strategy: record.strategy,
            topics: member.topics.clone(),
            topic_regex: member.topic_regex.clone(),
        })
    }
}
