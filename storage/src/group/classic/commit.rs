//! OffsetCommit for Kafka clients, fenced as Kafka fences it: a member must
//! be in the group's current generation; a commit without a member
//! (generation -1, empty member id: a consumer that assigns its own
//! partitions, or an admin tool) is allowed only while the group has no live
//! members of either protocol. Offsets land in the group's one set of
//! committed offsets, shared with Stratus groups.

use std::collections::BTreeMap;

use super::record::{ClassicGroupRecord, ClassicState};
use super::round::{Classic, stratus_live};
use super::static_member::check_fenced;
use super::{ClassicError, Step};
use crate::group::census::{NewRecord, admit_new_group};
use crate::group::offsets::write_offsets;
use crate::group::state::read_topic;
use crate::group::{CommitOffset, Groups, MAX_OFFSET_METADATA_BYTES, validate_group_id};
use crate::keys::KeySpace;
use stratus_meta::{Transaction, run};

/// Why one partition's offset was not committed (the others may have been).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommitRefusal {
    #[error("topic {topic:?} has no partition {partition}; refresh metadata")]
    UnknownTopicOrPartition { topic: String, partition: u32 },
    #[error(
        "offset metadata of {len} bytes is over the limit of {MAX_OFFSET_METADATA_BYTES}; commit less"
    )]
    MetadataTooLarge { len: usize },
    #[error("offset {0} is negative; commit the next offset to consume")]
    InvalidOffset(i64),
}

/// Checks the committer: `Ok(true)` when a record for a member-less group
/// must be created (Kafka creates an empty group on such a commit).
async fn check_committer(
    tx: &mut dyn Transaction,
    keys: &KeySpace,
    classic: &Classic,
    member_id: &str,
    instance: Option<&str>,
    generation: i64,
    now_ms: i64,
) -> Step<bool> {
    let group = classic.group.as_str();
    if let Err(e) = check_fenced(classic, member_id, instance) {
        return Ok(Err(e));
    }
    let unknown = || ClassicError::UnknownMember {
        group: group.to_owned(),
        member: member_id.to_owned(),
    };
    if generation < 0 && member_id.is_empty() {
        if classic.live(now_ms) > 0 {
            return Ok(Err(unknown()));
        }
        let stratus = match stratus_live(tx, keys, group, now_ms).await? {
            Ok(n) => n,
            Err(e) => return Ok(Err(e.into())),
        };
        if stratus > 0 {
            return Ok(Err(ClassicError::UnknownMember {
                group: group.to_owned(),
                member: format!("{member_id} (the group has {stratus} Stratus SDK members)"),
            }));
        }
        let stratus_record = tx.get(&keys.group(group)).await?.is_some();
        return Ok(Ok(classic.record.is_none() && !stratus_record));
    }
    let Some(record) = &classic.record else {
        return Ok(Err(ClassicError::IllegalGeneration {
            group: group.to_owned(),
            given: generation,
            current: -1,
        }));
    };
    // A conflicting read: a removal of the member makes this run again.
    if tx
        .get(&keys.classic_member(group, member_id))
        .await?
        .is_none()
    {
        return Ok(Err(unknown()));
    }
    if record.generation != generation {
        return Ok(Err(ClassicError::IllegalGeneration {
            group: group.to_owned(),
            given: generation,
            current: record.generation,
        }));
    }
    if record.state == ClassicState::CompletingRebalance {
        return Ok(Err(ClassicError::RebalanceInProgress {
            group: group.to_owned(),
        }));
    }
    Ok(Ok(false))
}

/// Each offset's refusal, if any, and the ids of the topics of the rest.
async fn check_partitions(
    tx: &mut dyn Transaction,
    keys: &KeySpace,
    offsets: &[CommitOffset],
) -> Step<(Vec<Option<CommitRefusal>>, BTreeMap<String, u128>)> {
    let mut ids: BTreeMap<String, Option<(u128, u32)>> = BTreeMap::new();
    let mut refusals = Vec::with_capacity(offsets.len());
    for o in offsets {
        if !ids.contains_key(&o.topic) {
            let topic = match read_topic(tx, keys, &o.topic).await? {
                Ok(t) => t.map(|t| (t.id, t.partitions)),
                Err(e) => return Ok(Err(e.into())),
            };
            ids.insert(o.topic.clone(), topic);
        }
        let topic = ids.get(&o.topic).copied().flatten();
        refusals.push(match topic {
            _ if o.metadata.len() > MAX_OFFSET_METADATA_BYTES => {
                Some(CommitRefusal::MetadataTooLarge {
                    len: o.metadata.len(),
                })
            }
            Some((_, partitions)) if o.partition < partitions => {
                (o.offset < 0).then_some(CommitRefusal::InvalidOffset(o.offset))
            }
            _ => Some(CommitRefusal::UnknownTopicOrPartition {
                topic: o.topic.clone(),
                partition: o.partition,
            }),
        });
    }
    let ids = ids
        .into_iter()
        .filter_map(|(name, t)| t.map(|(id, _)| (name, id)))
        .collect();
    Ok(Ok((refusals, ids)))
}

impl Groups {
    /// Commits offsets for a Kafka client. The whole request is refused (one
    /// error) when the committer is fenced; otherwise each partition has its
    /// own outcome, in order, and the accepted ones commit together.
    pub async fn classic_commit(
        &self,
        group: &str,
        member_id: &str,
        instance: Option<&str>,
        generation: i64,
        offsets: &[CommitOffset],
        now_ms: i64,
    ) -> Result<Vec<Result<(), CommitRefusal>>, ClassicError> {
        validate_group_id(group)?;
        let (keys, max_groups) = (&self.keys, self.limits.max_groups);
        run(self.meta.as_ref(), &self.retry, |tx| {
            Box::pin(async move {
                let classic = match Classic::load(tx, keys, group).await? {
                    Ok(classic) => classic,
                    Err(e) => return Ok(Err(e.into())),
                };
                let create = match check_committer(
                    tx, keys, &classic, member_id, instance, generation, now_ms,
                )
                .await?
                {
                    Ok(create) => create,
                    Err(e) => return Ok(Err(e)),
                };
                let (refusals, ids) = match check_partitions(tx, keys, offsets).await? {
                    Ok(checked) => checked,
                    Err(e) => return Ok(Err(e)),
                };
                let accepted: Vec<CommitOffset> = offsets
                    .iter()
                    .zip(&refusals)
                    .filter(|(_, r)| r.is_none())
                    .map(|(o, _)| o.clone())
                    .collect();
                if create && !accepted.is_empty() {
                    let admitted = admit_new_group(tx, keys, group, NewRecord::Classic, max_groups);
                    if let Err(e) = admitted.await? {
                        return Ok(Err(e.into()));
                    }
                    let record = ClassicGroupRecord {
                        state: ClassicState::Empty,
                        generation: 0,
                        round: 0,
                        deadline_ms: now_ms,
                        not_before_ms: 0,
                        protocol_type: String::new(),
                        protocol: None,
                        leader: None,
                        created_ms: now_ms,
                    };
                    tx.set(
                        &keys.classic_group(group),
                        &crate::group::state::encode(&record)?,
                    )?;
                }
                write_offsets(tx, self, group, &accepted, &ids, generation, now_ms)?;
                Ok(Ok(refusals
                    .into_iter()
                    .map(|r| r.map_or(Ok(()), Err))
                    .collect()))
            })
        })
        .await?
    }
}
