//! Committed offsets (fenced by generation), administrative resets, and the
//! read-only views: list and describe. Deleting a group.

use std::collections::{BTreeMap, BTreeSet};

use super::census::{NewRecord, admit_new_group, forget_group};
use super::classic::admin::classic_summaries;
use super::classic::round::classic_live;
use super::record::{GroupRecord, MemberRecord, OffsetRecord, holds};
use super::state::{GroupState, decode, encode, read_topic};
use super::{
    GroupDescription, GroupError, GroupKind, GroupSummary, Groups, MAX_OFFSET_METADATA_BYTES,
    validate_group_id,
};
use stratus_meta::{MetaError, RangeOptions, Transaction, run};

/// One offset to commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitOffset {
    pub topic: String,
    pub partition: u32,
    /// The next offset to consume.
    pub offset: i64,
    pub metadata: String,
}

/// A committed offset as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    pub topic: String,
    pub partition: u32,
    pub record: OffsetRecord,
}

/// Validates offsets against their topics; returns each topic's id.
async fn check_offsets(
    tx: &mut dyn Transaction,
    groups: &Groups,
    offsets: &[CommitOffset],
) -> Result<Result<BTreeMap<String, u128>, GroupError>, MetaError> {
    let mut ids = BTreeMap::new();
    for o in offsets {
        if o.offset < 0 {
            return Ok(Err(GroupError::InvalidArgument(format!(
                "offset {} for {}/{} is negative; commit the next offset to consume (0 or more)",
                o.offset, o.topic, o.partition
            ))));
        }
        if o.metadata.len() > MAX_OFFSET_METADATA_BYTES {
            return Ok(Err(GroupError::InvalidArgument(format!(
                "offset metadata for {}/{} is {} bytes; the limit is {MAX_OFFSET_METADATA_BYTES}",
                o.topic,
                o.partition,
                o.metadata.len()
            ))));
        }
        let topic = match read_topic(tx, &groups.keys, &o.topic).await? {
            Ok(Some(topic)) => topic,
            Ok(None) => {
                return Ok(Err(GroupError::TopicNotFound {
                    name: o.topic.clone(),
                }));
            }
            Err(e) => return Ok(Err(e)),
        };
        if o.partition >= topic.partitions {
            return Ok(Err(GroupError::PartitionNotFound {
                topic: o.topic.clone(),
                partition: o.partition,
                partitions: topic.partitions,
            }));
        }
        ids.insert(o.topic.clone(), topic.id);
    }
    Ok(Ok(ids))
}

pub(super) fn write_offsets(
    tx: &mut dyn Transaction,
    groups: &Groups,
    group: &str,
    offsets: &[CommitOffset],
    ids: &BTreeMap<String, u128>,
    generation: i64,
    now_ms: i64,
) -> Result<(), MetaError> {
    for o in offsets {
        let record = OffsetRecord {
            offset: o.offset,
            metadata: o.metadata.clone(),
            topic_id: ids.get(&o.topic).copied().unwrap_or_default(),
            generation,
            committed_ms: now_ms,
        };
        tx.set(
            &groups.keys.group_offset(group, &o.topic, o.partition),
            &encode(&record)?,
        )?;
    }
    Ok(())
}

/// Every committed offset of a group whose topic still exists (with the same id).
pub(super) async fn read_offsets(
    tx: &mut dyn Transaction,
    groups: &Groups,
    group: &str,
) -> Result<Result<Vec<Committed>, GroupError>, MetaError> {
    let (begin, end) = groups.keys.group_offsets_range(group);
    let mut topic_ids: BTreeMap<String, Option<u128>> = BTreeMap::new();
    let mut out = Vec::new();
    for (key, value) in tx.get_range(&begin, &end, RangeOptions::default()).await? {
        let Some((topic, partition)) = groups.keys.group_offset_decode(&key) else {
            return Ok(Err(GroupError::Corrupt(
                "a committed-offset key does not decode".to_owned(),
            )));
        };
        let record: OffsetRecord = match decode("committed offset", &value) {
            Ok(record) => record,
            Err(e) => return Ok(Err(e)),
        };
        if !topic_ids.contains_key(&topic) {
            let id = match read_topic(tx, &groups.keys, &topic).await? {
                Ok(t) => t.map(|t| t.id),
                Err(e) => return Ok(Err(e)),
            };
            topic_ids.insert(topic.clone(), id);
        }
        if topic_ids.get(&topic).copied().flatten() == Some(record.topic_id) {
            out.push(Committed {
                topic,
                partition,
                record,
            });
        }
    }
    Ok(Ok(out))
}

impl Groups {
    /// Commits offsets for a member, fenced: the member must be listed, use
    /// the generation it was last given, and hold every partition.
    pub async fn commit(
        &self,
        group: &str,
        member_id: &str,
        generation: i64,
        offsets: &[CommitOffset],
        now_ms: i64,
    ) -> Result<(), GroupError> {
        validate_group_id(group)?;
        run(self.meta.as_ref(), &self.retry, |tx| {
            Box::pin(async move {
                let key = self.keys.group_member(group, member_id);
                // A conflicting read: an expiry that removes the member
                // concurrently makes this commit run again and be refused.
                let member: MemberRecord = match tx.get(&key).await? {
                    Some(bytes) => match decode("group member", &bytes) {
                        Ok(member) => member,
                        Err(e) => return Ok(Err(e)),
                    },
                    None => {
                        return Ok(Err(GroupError::UnknownMember {
                            group: group.to_owned(),
                            member: member_id.to_owned(),
                        }));
                    }
                };
                if member.generation != generation {
                    return Ok(Err(GroupError::StaleGeneration {
                        group: group.to_owned(),
                        member: member_id.to_owned(),
                        given: generation,
                        current: member.generation,
                    }));
                }
                for o in offsets {
                    if !holds(&member.assigned, &o.topic, o.partition)
                        && !holds(&member.owned, &o.topic, o.partition)
                    {
                        return Ok(Err(GroupError::NotAssigned {
                            group: group.to_owned(),
                            member: member_id.to_owned(),
                            topic: o.topic.clone(),
                            partition: o.partition,
                        }));
                    }
                }
                let ids = match check_offsets(tx, self, offsets).await? {
                    Ok(ids) => ids,
                    Err(e) => return Ok(Err(e)),
                };
                write_offsets(tx, self, group, offsets, &ids, generation, now_ms)?;
                Ok(Ok(()))
            })
        })
        .await?
    }

    /// The group's committed offsets, for `topics` (all when empty).
    pub async fn committed(
        &self,
        group: &str,
        topics: &[String],
    ) -> Result<Vec<Committed>, GroupError> {
        validate_group_id(group)?;
        let mut tx = self.meta.begin().await?;
        let mut all = read_offsets(&mut *tx, self, group).await??;
        if !topics.is_empty() {
            all.retain(|c| topics.contains(&c.topic));
        }
        Ok(all)
    }

    /// Sets offsets administratively (reset-offsets). The group must have no
    /// live members: a running member would overwrite them.
    pub async fn reset(
        &self,
        group: &str,
        offsets: &[CommitOffset],
        now_ms: i64,
    ) -> Result<(), GroupError> {
        validate_group_id(group)?;
        run(self.meta.as_ref(), &self.retry, |tx| {
            Box::pin(async move {
                let mut state = match self.empty_group(tx, group, now_ms).await? {
                    Ok(state) => state,
                    Err(e) => return Ok(Err(e)),
                };
                let ids = match check_offsets(tx, self, offsets).await? {
                    Ok(ids) => ids,
                    Err(e) => return Ok(Err(e)),
                };
                if state.record.is_none() {
                    let max = self.limits.max_groups;
                    let admitted = admit_new_group(tx, &self.keys, group, NewRecord::Stratus, max);
                    if let Err(e) = admitted.await? {
                        return Ok(Err(e));
                    }
                }
                let dead: Vec<String> = state.members.keys().cloned().collect();
                state.remove(tx, &self.keys, &dead)?;
                let record = state.record_mut(Default::default(), now_ms);
                // Fences any member that missed its own expiry.
                record.generation += 1;
                tx.set(&self.keys.group(group), &encode(record)?)?;
                write_offsets(tx, self, group, offsets, &ids, -1, now_ms)?;
                Ok(Ok(()))
            })
        })
        .await?
    }

    /// Deletes a group with no live members, and its committed offsets.
    pub async fn delete(&self, group: &str, now_ms: i64) -> Result<(), GroupError> {
        validate_group_id(group)?;
        run(self.meta.as_ref(), &self.retry, |tx| {
            Box::pin(async move {
                let state = match self.empty_group(tx, group, now_ms).await? {
                    Ok(state) => state,
                    Err(e) => return Ok(Err(e)),
                };
                let (begin, end) = self.keys.group_offsets_range(group);
                let has_offsets = !tx
                    .get_range(
                        &begin,
                        &end,
                        RangeOptions {
                            limit: 1,
                            ..RangeOptions::default()
                        },
                    )
                    .await?
                    .is_empty();
                if state.record.is_none() && !has_offsets {
                    return Ok(Err(GroupError::GroupNotFound {
                        group: group.to_owned(),
                    }));
                }
                tx.clear_range(&begin, &end)?;
                let (begin, end) = self.keys.group_members_range(group);
                tx.clear_range(&begin, &end)?;
                tx.clear(&self.keys.group(group))?;
                // The group's Kafka side, if it had one, goes with it.
                let (begin, end) = self.keys.classic_members_range(group);
                tx.clear_range(&begin, &end)?;
                let classic_key = self.keys.classic_group(group);
                let classic_record = tx.get(&classic_key).await?.is_some();
                tx.clear(&classic_key)?;
                forget_group(tx, &self.keys, state.record.is_some() || classic_record).await?;
                Ok(Ok(()))
            })
        })
        .await?
    }

    /// Loads a group and refuses if any member is alive.
    async fn empty_group(
        &self,
        tx: &mut dyn Transaction,
        group: &str,
        now_ms: i64,
    ) -> Result<Result<GroupState, GroupError>, MetaError> {
        let state = match GroupState::load(tx, &self.keys, group).await? {
            Ok(state) => state,
            Err(e) => return Ok(Err(e)),
        };
        let classic = classic_live(tx, &self.keys, group, now_ms).await?;
        let classic = match classic {
            Ok(n) => n,
            Err(e) => return Ok(Err(e)),
        };
        let live = state.members.len() - state.dead(now_ms, None).len() + classic;
        if live > 0 {
            return Ok(Err(GroupError::GroupNotEmpty {
                group: group.to_owned(),
                members: live,
            }));
        }
        // The members are about to be removed: their keys must not change meanwhile.
        let (begin, end) = self.keys.group_members_range(group);
        tx.get_range(&begin, &end, RangeOptions::default()).await?;
        Ok(Ok(state))
    }

    /// [`Self::describe`] of a server-assigned group (Stratus SDK and
    /// KIP-848 members); `None` when the group has no such record (it is
    /// unknown, or known only by offsets or to classic members).
    pub async fn describe_assigned(
        &self,
        group: &str,
        now_ms: i64,
    ) -> Result<Option<GroupDescription>, GroupError> {
        validate_group_id(group)?;
        let mut tx = self.meta.begin().await?;
        let state = GroupState::load(&mut *tx, &self.keys, group).await??;
        if state.record.is_none() {
            return Ok(None);
        }
        let offsets = read_offsets(&mut *tx, self, group).await??;
        Ok(Some(described(group, state, offsets, now_ms)))
    }

    /// Live members, target and current assignments, and committed offsets.
    pub async fn describe(&self, group: &str, now_ms: i64) -> Result<GroupDescription, GroupError> {
        validate_group_id(group)?;
        let mut tx = self.meta.begin().await?;
        let state = GroupState::load(&mut *tx, &self.keys, group).await??;
        let offsets = read_offsets(&mut *tx, self, group).await??;
        if state.record.is_none() && offsets.is_empty() {
            return Err(GroupError::GroupNotFound {
                group: group.to_owned(),
            });
        }
        Ok(described(group, state, offsets, now_ms))
    }

    /// Every group of either protocol, by id, with its live member count.
    pub async fn list(&self, now_ms: i64) -> Result<Vec<GroupSummary>, GroupError> {
        let mut tx = self.meta.begin().await?;
        let (begin, end) = self.keys.groups_range();
        let records = tx.get_range(&begin, &end, RangeOptions::default()).await?;
        let mut out = Vec::with_capacity(records.len());
        for (key, value) in records {
            let Some(group) = self.keys.group_decode(&key) else {
                return Err(GroupError::Corrupt(
                    "a group key does not decode".to_owned(),
                ));
            };
            let record: GroupRecord = decode("group record", &value)?;
            let state = GroupState::load(&mut *tx, &self.keys, &group).await??;
            let members = state
                .members
                .values()
                .filter(|m| m.deadline_ms >= now_ms)
                .count();
            out.push(GroupSummary {
                group,
                generation: record.generation,
                strategy: record.strategy,
                members,
                topics: record.partitions.keys().cloned().collect(),
                kind: GroupKind::Assigned,
            });
        }
        let assigned: BTreeSet<String> = out.iter().map(|g| g.group.clone()).collect();
        out.extend(classic_summaries(&mut *tx, &self.keys, &assigned, now_ms).await??);
        out.sort_by(|a, b| a.group.cmp(&b.group));
        Ok(out)
    }
}

/// A group as described: its record (a blank one for a group known only by
/// its offsets) and live members.
fn described(
    group: &str,
    state: GroupState,
    offsets: Vec<Committed>,
    now_ms: i64,
) -> GroupDescription {
    let record = state.record.unwrap_or(GroupRecord {
        generation: 0,
        strategy: Default::default(),
        partitions: BTreeMap::new(),
        created_ms: 0,
    });
    let members = state
        .members
        .into_values()
        .filter(|m| m.deadline_ms >= now_ms)
        .collect();
    GroupDescription {
        group: group.to_owned(),
        record,
        members,
        offsets,
    }
}
