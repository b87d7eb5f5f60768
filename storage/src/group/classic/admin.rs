//! The views Kafka admin tools ask for (DescribeGroups, ListGroups) and
//! DeleteGroups, over both kinds of group: classic groups as they are, and
//! Stratus SDK groups under the protocol type `stratus`, so every group of
//! the cluster shows in one listing.

use std::collections::BTreeSet;

use super::ClassicError;
use super::record::{ClassicMember, ClassicState};
use super::round::{Classic, stratus_live};
use crate::group::census::forget_group;
use crate::group::state::{GroupState, decode};
use crate::group::{GroupError, GroupKind, GroupRecord, GroupSummary, Groups, validate_group_id};
use crate::keys::KeySpace;
use stratus_meta::{MetaError, RangeOptions, Transaction, run};

/// The protocol type Stratus SDK groups are listed under.
pub const STRATUS_PROTOCOL_TYPE: &str = "stratus";

/// A group as DescribeGroups reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassicDescription {
    pub group: String,
    pub state: ClassicState,
    pub protocol_type: String,
    /// The chosen protocol; empty unless the group is stable or completing.
    pub protocol: String,
    /// Live members (of a Stratus group: without metadata or assignment).
    pub members: Vec<ClassicMember>,
}

/// A group in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedGroup {
    pub group: String,
    pub protocol_type: String,
    pub state: ClassicState,
}

/// A summary of every classic group not in `skip` (groups listed as
/// server-assigned), for [`Groups::list`].
pub(in crate::group) async fn classic_summaries(
    tx: &mut dyn Transaction,
    keys: &KeySpace,
    skip: &BTreeSet<String>,
    now_ms: i64,
) -> Result<Result<Vec<GroupSummary>, GroupError>, MetaError> {
    let mut out = Vec::new();
    let (begin, end) = keys.classic_groups_range();
    for (key, _) in tx.get_range(&begin, &end, RangeOptions::default()).await? {
        let Some(group) = keys.classic_group_decode(&key) else {
            return Ok(Err(GroupError::Corrupt(
                "a classic group key does not decode".to_owned(),
            )));
        };
        if skip.contains(&group) {
            continue;
        }
        let classic = match Classic::load(tx, keys, &group).await? {
            Ok(classic) => classic,
            Err(e) => return Ok(Err(e)),
        };
        let Some(record) = &classic.record else {
            continue;
        };
        // The topics it committed offsets for, from the keys alone.
        let (begin, end) = keys.group_offsets_range(&group);
        let mut topics = BTreeSet::new();
        for (key, _) in tx.get_range(&begin, &end, RangeOptions::default()).await? {
            topics.extend(keys.group_offset_decode(&key).map(|(topic, _)| topic));
        }
        out.push(GroupSummary {
            generation: record.generation,
            strategy: Default::default(),
            members: classic.live(now_ms),
            topics: topics.into_iter().collect(),
            kind: GroupKind::Classic {
                protocol_type: record.protocol_type.clone(),
                protocol: record.protocol.clone().unwrap_or_default(),
            },
            group,
        });
    }
    Ok(Ok(out))
}

impl Groups {
    /// Describes a group of either protocol; `None` when nothing of it exists.
    pub async fn classic_describe(
        &self,
        group: &str,
        now_ms: i64,
    ) -> Result<Option<ClassicDescription>, ClassicError> {
        validate_group_id(group)?;
        let mut tx = self.meta.begin().await?;
        let classic = Classic::load(&mut *tx, &self.keys, group).await??;
        if let Some(record) = &classic.record {
            let state = classic.visible_state(now_ms);
            let members: Vec<ClassicMember> = classic
                .members
                .values()
                .filter(|m| classic.alive(m, now_ms))
                .cloned()
                .collect();
            let protocol = match state {
                ClassicState::Stable | ClassicState::CompletingRebalance => {
                    record.protocol.clone().unwrap_or_default()
                }
                _ => String::new(),
            };
            return Ok(Some(ClassicDescription {
                group: group.to_owned(),
                state,
                protocol_type: record.protocol_type.clone(),
                protocol,
                members,
            }));
        }
        let stratus = GroupState::load(&mut *tx, &self.keys, group).await??;
        let (begin, end) = self.keys.group_offsets_range(group);
        let one = RangeOptions {
            limit: 1,
            ..RangeOptions::default()
        };
        let has_offsets = !tx.get_range(&begin, &end, one).await?.is_empty();
        let Some(record) = stratus.record else {
            return Ok(has_offsets.then(|| ClassicDescription {
                group: group.to_owned(),
                state: ClassicState::Empty,
                protocol_type: String::new(),
                protocol: String::new(),
                members: Vec::new(),
            }));
        };
        let members: Vec<ClassicMember> = stratus
            .members
            .values()
            .filter(|m| m.deadline_ms >= now_ms)
            .map(|m| ClassicMember {
                member_id: m.member_id.clone(),
                group_instance_id: None,
                client_id: m.client_id.clone(),
                client_host: String::new(),
                session_timeout_ms: m.session_timeout_ms,
                rebalance_timeout_ms: 0,
                deadline_ms: m.deadline_ms,
                protocols: Vec::new(),
                round: 0,
                generation: m.generation,
                assignment: Default::default(),
                joined_ms: m.joined_ms,
            })
            .collect();
        Ok(Some(ClassicDescription {
            group: group.to_owned(),
            state: if members.is_empty() {
                ClassicState::Empty
            } else {
                ClassicState::Stable
            },
            protocol_type: STRATUS_PROTOCOL_TYPE.to_owned(),
            protocol: record.strategy.name().to_owned(),
            members,
        }))
    }

    /// Every group of either protocol, by id.
    pub async fn classic_list(&self, now_ms: i64) -> Result<Vec<ListedGroup>, ClassicError> {
        let mut tx = self.meta.begin().await?;
        let mut out = Vec::new();
        let (begin, end) = self.keys.classic_groups_range();
        for (key, _) in tx.get_range(&begin, &end, RangeOptions::default()).await? {
            let Some(group) = self.keys.classic_group_decode(&key) else {
                return Err(crate::group::GroupError::Corrupt(
                    "a classic group key does not decode".to_owned(),
                )
                .into());
            };
            let classic = Classic::load(&mut *tx, &self.keys, &group).await??;
            if let Some(record) = &classic.record {
                out.push(ListedGroup {
                    protocol_type: record.protocol_type.clone(),
                    state: classic.visible_state(now_ms),
                    group,
                });
            }
        }
        let (begin, end) = self.keys.groups_range();
        for (key, value) in tx.get_range(&begin, &end, RangeOptions::default()).await? {
            let Some(group) = self.keys.group_decode(&key) else {
                return Err(crate::group::GroupError::Corrupt(
                    "a group key does not decode".to_owned(),
                )
                .into());
            };
            let _: GroupRecord = decode("group record", &value)?;
            if out.iter().any(|g| g.group == group) {
                continue;
            }
            let live = stratus_live(&mut *tx, &self.keys, &group, now_ms).await??;
            out.push(ListedGroup {
                group,
                protocol_type: STRATUS_PROTOCOL_TYPE.to_owned(),
                state: if live > 0 {
                    ClassicState::Stable
                } else {
                    ClassicState::Empty
                },
            });
        }
        out.sort_by(|a, b| a.group.cmp(&b.group));
        Ok(out)
    }

    /// Deletes a group of either protocol that has no live members, with
    /// its committed offsets.
    pub async fn classic_delete(&self, group: &str, now_ms: i64) -> Result<(), ClassicError> {
        validate_group_id(group)?;
        let keys = &self.keys;
        run(self.meta.as_ref(), &self.retry, |tx| {
            Box::pin(async move {
                let classic = match Classic::load(tx, keys, group).await? {
                    Ok(classic) => classic,
                    Err(e) => return Ok(Err(e.into())),
                };
                let stratus = match GroupState::load(tx, keys, group).await? {
                    Ok(state) => state,
                    Err(e) => return Ok(Err(e.into())),
                };
                let live = classic.live(now_ms)
                    + stratus
                        .members
                        .values()
                        .filter(|m| m.deadline_ms >= now_ms)
                        .count();
                if live > 0 {
                    return Ok(Err(ClassicError::NotEmpty {
                        group: group.to_owned(),
                        members: live,
                    }));
                }
                // Conflicting reads: a member joining meanwhile makes this
                // run again and be refused.
                for (begin, end) in [
                    keys.classic_members_range(group),
                    keys.group_members_range(group),
                ] {
                    tx.get_range(&begin, &end, RangeOptions::default()).await?;
                }
                let (begin, end) = keys.group_offsets_range(group);
                let one = RangeOptions {
                    limit: 1,
                    ..RangeOptions::default()
                };
                let has_offsets = !tx.get_range(&begin, &end, one).await?.is_empty();
                if classic.record.is_none() && stratus.record.is_none() && !has_offsets {
                    return Ok(Err(ClassicError::NotFound {
                        group: group.to_owned(),
                    }));
                }
                tx.clear_range(&begin, &end)?;
                for (begin, end) in [
                    keys.classic_members_range(group),
                    keys.group_members_range(group),
                ] {
                    tx.clear_range(&begin, &end)?;
                }
                tx.clear(&keys.classic_group(group))?;
                tx.clear(&keys.group(group))?;
                let existed = classic.record.is_some() || stratus.record.is_some();
                forget_group(tx, keys, existed).await?;
                Ok(Ok(()))
            })
        })
        .await?
    }
}
