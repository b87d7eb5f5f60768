//! SyncGroup (the leader hands out assignments; the others wait for them),
//! Heartbeat (sessions, and learning of a rebalance) and LeaveGroup.

use super::join::wait;
use super::record::{ClassicGroupRecord, ClassicState, Hex};
use super::round::Classic;
use super::static_member::check_fenced;
use super::{ClassicError, ClassicSync, Leaving, Step, SyncStep};
use crate::group::{Groups, validate_group_id};
use crate::keys::KeySpace;
use crate::log::now_ms;
use stratus_meta::{Transaction, run};

/// Loads the group and checks that `member_id` is in `generation`.
async fn member_of(
    tx: &mut dyn Transaction,
    keys: &KeySpace,
    group: &str,
    member_id: &str,
    instance: Option<&str>,
    generation: i64,
) -> Step<Classic> {
    let classic = match Classic::load(tx, keys, group).await? {
        Ok(classic) => classic,
        Err(e) => return Ok(Err(e.into())),
    };
    if let Err(e) = check_fenced(&classic, member_id, instance) {
        return Ok(Err(e));
    }
    // A conflicting read of the member: an expiry that removes it
    // concurrently makes this run again and be refused.
    let listed = tx
        .get(&keys.classic_member(group, member_id))
        .await?
        .is_some();
    let unknown = || ClassicError::UnknownMember {
        group: group.to_owned(),
        member: member_id.to_owned(),
    };
    let Some(record) = &classic.record else {
        return Ok(Err(unknown()));
    };
    if !listed || record.state == ClassicState::Empty {
        return Ok(Err(unknown()));
    }
    if record.generation != generation {
        return Ok(Err(ClassicError::IllegalGeneration {
            group: group.to_owned(),
            given: generation,
            current: record.generation,
        }));
    }
    Ok(Ok(classic))
}

/// Renews `member_id`'s session.
fn renew(
    classic: &mut Classic,
    tx: &mut dyn Transaction,
    keys: &KeySpace,
    member_id: &str,
    now_ms: i64,
) -> Result<(), stratus_meta::MetaError> {
    if let Some(member) = classic.members.get_mut(member_id) {
        member.deadline_ms = now_ms.saturating_add(member.session_timeout_ms);
        let member = member.clone();
        classic.put_member(tx, keys, &member)?;
    }
    Ok(())
}

fn check_sync(sync: &ClassicSync, limit: usize) -> Result<(), ClassicError> {
    for (member, bytes) in &sync.assignments {
        if bytes.len() > limit {
            return Err(ClassicError::InvalidRequest(format!(
                "the assignment for member {member:?} is {} bytes; the limit is {limit} \
                 (gateway.groups.max_assignment_bytes): give each member fewer partitions",
                bytes.len()
            )));
        }
    }
    Ok(())
}

impl Groups {
    /// One SyncGroup transaction.
    pub async fn classic_sync_step(
        &self,
        group: &str,
        sync: &ClassicSync,
        now_ms: i64,
    ) -> Result<SyncStep, ClassicError> {
        validate_group_id(group)?;
        check_sync(sync, self.limits.max_assignment_bytes)?;
        let keys = &self.keys;
        run(self.meta.as_ref(), &self.retry, |tx| {
            Box::pin(async move {
                let mut classic = match member_of(
                    tx,
                    keys,
                    group,
                    &sync.member_id,
                    sync.group_instance_id.as_deref(),
                    sync.generation,
                )
                .await?
                {
                    Ok(classic) => classic,
                    Err(e) => return Ok(Err(e)),
                };
                sync_in(tx, keys, &mut classic, sync, now_ms).await
            })
        })
        .await?
    }

    /// SyncGroup: for the leader, stores every member's assignment; for the
    /// others, waits until the leader has.
    pub async fn classic_sync(
        &self,
        group: &str,
        sync: &ClassicSync,
    ) -> Result<SyncStep, ClassicError> {
        let mut watch = self.meta.watch(&self.keys.classic_group(group));
        let mut step = self.classic_sync_step(group, sync, now_ms()).await?;
        // Only the first call carries the leader's assignments.
        let follow = ClassicSync {
            assignments: Vec::new(),
            ..sync.clone()
        };
        loop {
            let SyncStep::Waiting { wake_at_ms } = step else {
                return Ok(step);
            };
            let next = self.meta.watch(&self.keys.classic_group(group));
            wait(watch, wake_at_ms).await;
            watch = next;
            step = self.classic_sync_step(group, &follow, now_ms()).await?;
        }
    }

    /// Heartbeat: renews the member's session, expires members whose
    /// sessions ran out (opening a round), and tells the member whether a
    /// round is open.
    pub async fn classic_heartbeat(
        &self,
        group: &str,
        member_id: &str,
        instance: Option<&str>,
        generation: i64,
        now_ms: i64,
    ) -> Result<(), ClassicError> {
        validate_group_id(group)?;
        let keys = &self.keys;
        run(self.meta.as_ref(), &self.retry, |tx| {
            Box::pin(async move {
                let mut classic = match member_of(tx, keys, group, member_id, instance, generation)
                    .await?
                {
                    Ok(classic) => classic,
                    Err(e) => return Ok(Err(e)),
                };
                renew(&mut classic, tx, keys, member_id, now_ms)?;
                let expired = classic.expired(now_ms, member_id);
                if !expired.is_empty() {
                    tracing::info!(group, members = ?expired, "classic group members' sessions expired");
                    classic.remove(tx, keys, &expired)?;
                    classic.open_round(now_ms);
                    classic.put_record(tx, keys)?;
                }
                classic.try_complete(tx, keys, now_ms).await?;
                let rebalancing = classic.record.as_ref().is_some_and(|r| {
                    r.state == ClassicState::PreparingRebalance || r.generation != generation
                });
                if !classic.members.contains_key(member_id) {
                    return Ok(Err(ClassicError::UnknownMember {
                        group: group.to_owned(),
                        member: member_id.to_owned(),
                    }));
                }
                Ok(if rebalancing {
                    Err(ClassicError::RebalanceInProgress {
                        group: group.to_owned(),
                    })
                } else {
                    Ok(())
                })
            })
        })
        .await?
    }

    /// LeaveGroup: removes each named member at once (a round opens for the
    /// rest). One outcome per member, in order.
    pub async fn classic_leave(
        &self,
        group: &str,
        leaving: &[Leaving],
        now_ms: i64,
    ) -> Result<Vec<Result<String, ClassicError>>, ClassicError> {
        validate_group_id(group)?;
        let keys = &self.keys;
        run(self.meta.as_ref(), &self.retry, |tx| {
            Box::pin(async move {
                let mut classic = match Classic::load(tx, keys, group).await? {
                    Ok(classic) => classic,
                    Err(e) => return Ok(Err(e.into())),
                };
                let mut outcomes = Vec::with_capacity(leaving.len());
                let mut gone = Vec::new();
                for l in leaving {
                    let found = classic.members.values().find(|m| {
                        if l.member_id.is_empty() {
                            l.group_instance_id.is_some()
                                && m.group_instance_id == l.group_instance_id
                        } else {
                            m.member_id == l.member_id
                        }
                    });
                    outcomes.push(match found {
                        Some(m) => {
                            gone.push(m.member_id.clone());
                            Ok(m.member_id.clone())
                        }
                        None => Err(ClassicError::UnknownMember {
                            group: group.to_owned(),
                            member: l.member_id.clone(),
                        }),
                    });
                }
                if !gone.is_empty() {
                    classic.remove(tx, keys, &gone)?;
                    leave_in(tx, keys, &mut classic, now_ms).await?;
                }
                Ok(Ok(outcomes))
            })
        })
        .await?
    }
}

/// After members left: an empty group advances its generation and is
/// empty; otherwise the rest rejoin.
async fn leave_in(
    tx: &mut dyn Transaction,
    keys: &KeySpace,
    classic: &mut Classic,
    now_ms: i64,
) -> Result<(), stratus_meta::MetaError> {
    if classic.live(now_ms) == 0 {
        let dead: Vec<String> = classic.members.keys().cloned().collect();
        classic.remove(tx, keys, &dead)?;
        if let Some(record) = classic.record.as_mut() {
            record.generation += 1;
            record.state = ClassicState::Empty;
            record.protocol = None;
            record.leader = None;
        }
    } else {
        classic.open_round(now_ms);
    }
    classic.put_record(tx, keys)?;
    classic.try_complete(tx, keys, now_ms).await?;
    Ok(())
}

/// The sync proper, inside its transaction (the member is in the generation).
async fn sync_in(
    tx: &mut dyn Transaction,
    keys: &KeySpace,
    classic: &mut Classic,
    sync: &ClassicSync,
    now_ms: i64,
) -> Step<SyncStep> {
    let group = classic.group.clone();
    let Some(record) = classic.record.clone() else {
        return Ok(Err(ClassicError::RebalanceInProgress { group }));
    };
    let mismatch = |given: &Option<String>, have: Option<&str>| {
        given.as_deref().is_some_and(|g| Some(g) != have)
    };
    if mismatch(&sync.protocol_type, Some(&record.protocol_type))
        || mismatch(&sync.protocol, record.protocol.as_deref())
    {
        return Ok(Err(ClassicError::InconsistentProtocol(format!(
            "group {group:?} uses protocol type {:?} and protocol {:?} in generation {}; rejoin it",
            record.protocol_type, record.protocol, record.generation
        ))));
    }
    let assigned = |classic: &Classic| SyncStep::Assigned {
        assignment: classic
            .members
            .get(&sync.member_id)
            .map(|m| m.assignment.0.clone())
            .unwrap_or_default(),
        protocol_type: record.protocol_type.clone(),
        protocol: record.protocol.clone().unwrap_or_default(),
    };
    match record.state {
        ClassicState::Empty | ClassicState::PreparingRebalance => {
            Ok(Err(ClassicError::RebalanceInProgress { group }))
        }
        ClassicState::Stable => {
            renew(classic, tx, keys, &sync.member_id, now_ms)?;
            Ok(Ok(assigned(classic)))
        }
        ClassicState::CompletingRebalance
            if record.leader.as_deref() == Some(sync.member_id.as_str()) =>
        {
            classic.lock_members(tx, keys).await?;
            for member in classic.members.values_mut() {
                if member.generation != record.generation {
                    continue;
                }
                member.assignment = sync
                    .assignments
                    .iter()
                    .rev()
                    .find(|(id, _)| *id == member.member_id)
                    .map(|(_, bytes)| Hex(bytes.clone()))
                    .unwrap_or_default();
                if member.member_id == sync.member_id {
                    member.deadline_ms = now_ms.saturating_add(member.session_timeout_ms);
                }
            }
            for member in classic.members.values() {
                classic.put_member(tx, keys, member)?;
            }
            if let Some(r) = classic.record.as_mut() {
                r.state = ClassicState::Stable;
            }
            classic.put_record(tx, keys)?;
            Ok(Ok(assigned(classic)))
        }
        ClassicState::CompletingRebalance
            if now_ms >= record.deadline_ms || !leader_alive(classic, &record, now_ms) =>
        {
            // The leader never assigned (or died before it did): everyone
            // rejoins, under a leader that does.
            tracing::info!(group = %group, leader = ?record.leader, "classic group leader did not sync in time");
            if let Some(leader) = record.leader.clone() {
                classic.remove(tx, keys, &[leader])?;
            }
            classic.open_round(now_ms);
            classic.put_record(tx, keys)?;
            Ok(Err(ClassicError::RebalanceInProgress { group }))
        }
        ClassicState::CompletingRebalance => {
            // Look again when the leader's session would run out, too.
            let leader_deadline = record
                .leader
                .as_ref()
                .and_then(|l| classic.members.get(l))
                .map_or(i64::MAX, |m| m.deadline_ms.saturating_add(1));
            Ok(Ok(SyncStep::Waiting {
                wake_at_ms: record.deadline_ms.min(leader_deadline),
            }))
        }
    }
}

/// Whether the generation's leader is listed and its session has not run out.
fn leader_alive(classic: &Classic, record: &ClassicGroupRecord, now_ms: i64) -> bool {
    record
        .leader
        .as_ref()
        .and_then(|l| classic.members.get(l))
        .is_some_and(|m| classic.alive(m, now_ms))
}
