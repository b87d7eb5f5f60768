//! JoinGroup: checks, the join itself (one transaction), and the wait at the
//! barrier until the round completes.

use std::time::Duration;

use super::record::{ClassicGroupRecord, ClassicMember, ClassicProtocol, ClassicState, Hex};
use super::round::{Classic, common_protocols, stratus_live};
use super::static_member::{check_fenced, holder, take_over};
use super::{BARRIER_POLL, ClassicError, ClassicJoin, JoinStep, JoinedGeneration, Step};
use crate::group::census::{NewRecord, admit_new_group};
use crate::group::{GroupLimits, Groups, validate_group_id, validate_member_id};
use crate::keys::KeySpace;
use crate::limits::{
    MAX_CLASSIC_PROTOCOL_NAME_LEN, MAX_CLASSIC_PROTOCOLS, MAX_CLASSIC_SESSION_TIMEOUT_MS,
    MAX_ID_LEN, MEMBER_ID_CLIENT_PREFIX_BYTES, MIN_CLASSIC_SESSION_TIMEOUT_MS,
};
use crate::log::now_ms;
use stratus_meta::{Transaction, run};

/// Everything checked before any metadata is read: a refused join changes
/// nothing.
fn validate(group: &str, join: &ClassicJoin, limits: GroupLimits) -> Result<(), ClassicError> {
    validate_group_id(group)?;
    if !join.member_id.is_empty() {
        validate_member_id(&join.member_id)?;
    }
    if !(MIN_CLASSIC_SESSION_TIMEOUT_MS..=MAX_CLASSIC_SESSION_TIMEOUT_MS)
        .contains(&join.session_timeout_ms)
    {
        return Err(ClassicError::InvalidSessionTimeout(join.session_timeout_ms));
    }
    if join.protocol_type.is_empty() || join.protocols.is_empty() {
        return Err(ClassicError::InconsistentProtocol(
            "a join must name a protocol type and at least one protocol".to_owned(),
        ));
    }
    if join.protocols.len() > MAX_CLASSIC_PROTOCOLS {
        return Err(ClassicError::InvalidRequest(format!(
            "a member offers {} protocols; the limit is {MAX_CLASSIC_PROTOCOLS}",
            join.protocols.len()
        )));
    }
    let names = std::iter::once(&join.protocol_type).chain(join.protocols.iter().map(|p| &p.0));
    for name in names {
        if name.len() > MAX_CLASSIC_PROTOCOL_NAME_LEN {
            return Err(ClassicError::InvalidRequest(format!(
                "protocol name of {} bytes; the limit is {MAX_CLASSIC_PROTOCOL_NAME_LEN}",
                name.len()
            )));
        }
    }
    let bytes: usize = join.protocols.iter().map(|p| p.1.len()).sum();
    let limit = limits.max_member_metadata_bytes;
    if bytes > limit {
        return Err(ClassicError::InvalidRequest(format!(
            "member protocol metadata is {bytes} bytes; the limit is {limit} \
             (gateway.groups.max_member_metadata_bytes): subscribe to fewer topics per consumer"
        )));
    }
    if let Some(instance) = &join.group_instance_id {
        validate_member_id(instance)?;
    }
    Ok(())
}

/// `s` cut to at most `max` bytes at a character boundary.
fn clip(s: &str, max: usize) -> &str {
    &s[..s.floor_char_boundary(max)]
}

fn new_member_id(client_id: &str) -> String {
    format!(
        "{}-{}",
        clip(client_id, MEMBER_ID_CLIENT_PREFIX_BYTES),
        ulid::Ulid::generate()
    )
}

fn member_record(
    join: &ClassicJoin,
    member_id: &str,
    existing: Option<&ClassicMember>,
    round: i64,
    now_ms: i64,
) -> ClassicMember {
    ClassicMember {
        member_id: member_id.to_owned(),
        group_instance_id: join.group_instance_id.clone(),
        client_id: clip(&join.client_id, MAX_ID_LEN).to_owned(),
        client_host: clip(&join.client_host, MAX_ID_LEN).to_owned(),
        session_timeout_ms: join.session_timeout_ms,
        rebalance_timeout_ms: join.rebalance_timeout_ms.max(0),
        deadline_ms: now_ms.saturating_add(join.session_timeout_ms),
        protocols: join
            .protocols
            .iter()
            .map(|(name, metadata)| ClassicProtocol {
                name: name.clone(),
                metadata: Hex(metadata.clone()),
            })
            .collect(),
        round,
        generation: existing.map_or(0, |m| m.generation),
        assignment: existing.map(|m| m.assignment.clone()).unwrap_or_default(),
        joined_ms: existing.map_or(now_ms, |m| m.joined_ms),
    }
}

/// Refuses a member whose protocols cannot work with the group's.
fn check_protocols(
    classic: &Classic,
    group: &str,
    join: &ClassicJoin,
    member_id: &str,
    now_ms: i64,
) -> Result<(), ClassicError> {
    let Some(common) = common_protocols(classic, member_id, now_ms) else {
        return Ok(());
    };
    let record = classic.record.as_ref();
    if let Some(record) = record
        && record.protocol_type != join.protocol_type
    {
        return Err(ClassicError::InconsistentProtocol(format!(
            "group {group:?} has members of protocol type {:?}, not {:?}; use another group id",
            record.protocol_type, join.protocol_type
        )));
    }
    if !join.protocols.iter().any(|(name, _)| common.contains(name)) {
        let mut names: Vec<&str> = common.iter().map(String::as_str).collect();
        names.sort_unstable();
        return Err(ClassicError::InconsistentProtocol(format!(
            "group {group:?} members use the assignors [{}]; configure one of them \
             (partition.assignment.strategy) or use another group id",
            names.join(", ")
        )));
    }
    Ok(())
}

impl Groups {
    /// One JoinGroup transaction: joins (opening a round if needed) and
    /// completes the round if this join was the last one it waited for.
    pub async fn classic_join_step(
        &self,
        group: &str,
        join: &ClassicJoin,
        now_ms: i64,
    ) -> Result<JoinStep, ClassicError> {
        validate(group, join, self.limits)?;
        let instance = join.group_instance_id.as_deref();
        let member_id = if join.member_id.is_empty() {
            new_member_id(&join.client_id)
        } else {
            join.member_id.clone()
        };
        // Static members need no first round: their instance id already
        // makes a retried join the same member. As in Kafka, the id is handed
        // out only to a member the group could take: a member whose protocols
        // do not fit is refused for that first.
        let id_required =
            join.member_id.is_empty() && join.require_known_member_id && instance.is_none();
        let (keys, limits) = (&self.keys, self.limits);
        run(self.meta.as_ref(), &self.retry, |tx| {
            let member_id = &member_id;
            Box::pin(async move {
                let mut classic = match Classic::load(tx, keys, group).await? {
                    Ok(classic) => classic,
                    Err(e) => return Ok(Err(e.into())),
                };
                match stratus_live(tx, keys, group, now_ms).await? {
                    Ok(0) => {}
                    Ok(n) => {
                        return Ok(Err(ClassicError::InconsistentProtocol(format!(
                            "group {group:?} has {n} Stratus SDK members; a group uses one protocol \
                             at a time: stop them or use another group id"
                        ))));
                    }
                    Err(e) => return Ok(Err(e.into())),
                }
                let mut existing = classic.members.get(member_id.as_str()).cloned();
                let mut replaced_leader = None;
                if join.member_id.is_empty()
                    && let Some(instance) = instance
                {
                    let leader = classic.record.as_ref().and_then(|r| r.leader.clone());
                    replaced_leader = holder(&classic, instance)
                        .map(|h| h.member_id.clone())
                        .filter(|old| Some(old) == leader.as_ref());
                    existing = take_over(&mut classic, tx, keys, instance, member_id, now_ms)?;
                    if existing.is_none() {
                        replaced_leader = None;
                    }
                } else if let Err(e) = check_fenced(&classic, member_id, instance) {
                    return Ok(Err(e));
                }
                if let Err(e) = check_protocols(&classic, group, join, member_id, now_ms) {
                    return Ok(Err(e));
                }
                if id_required {
                    return Ok(Err(ClassicError::MemberIdRequired(member_id.clone())));
                }
                if existing.is_none() && classic.live(now_ms) >= limits.max_members {
                    return Ok(Err(ClassicError::GroupFull {
                        group: group.to_owned(),
                        limit: limits.max_members,
                    }));
                }
                if classic.record.is_none() {
                    let admitted =
                        admit_new_group(tx, keys, group, NewRecord::Classic, limits.max_groups);
                    if let Err(e) = admitted.await? {
                        return Ok(Err(e.into()));
                    }
                }
                let delay = self.initial_rebalance_delay_ms;
                let joiner = Joiner {
                    join,
                    member_id,
                    existing,
                    replaced_leader,
                };
                join_in(tx, keys, &mut classic, joiner, now_ms, delay).await
            })
        })
        .await?
    }

    /// One look at a waiting join: completes the round if it can.
    pub async fn classic_join_poll(
        &self,
        group: &str,
        member_id: &str,
        generation: i64,
        now_ms: i64,
    ) -> Result<JoinStep, ClassicError> {
        let keys = &self.keys;
        run(self.meta.as_ref(), &self.retry, |tx| {
            Box::pin(async move {
                let mut classic = match Classic::load(tx, keys, group).await? {
                    Ok(classic) => classic,
                    Err(e) => return Ok(Err(e.into())),
                };
                classic.try_complete(tx, keys, now_ms).await?;
                Ok(answer(&classic, group, member_id, generation))
            })
        })
        .await?
    }

    /// JoinGroup: joins and waits (watching the group record, on any
    /// gateway) until the round completes, with the real clock.
    pub async fn classic_join(
        &self,
        group: &str,
        join: &ClassicJoin,
    ) -> Result<JoinedGeneration, ClassicError> {
        let watch = self.meta.watch(&self.keys.classic_group(group));
        let mut step = self.classic_join_step(group, join, now_ms()).await?;
        let mut watch = Some(watch);
        loop {
            let (member_id, generation, wake_at_ms) = match step {
                JoinStep::Joined(joined) => return Ok(joined),
                JoinStep::Waiting {
                    member_id,
                    generation,
                    wake_at_ms,
                } => (member_id, generation, wake_at_ms),
            };
            let watching = watch
                .take()
                .unwrap_or_else(|| self.meta.watch(&self.keys.classic_group(group)));
            let next = self.meta.watch(&self.keys.classic_group(group));
            wait(watching, wake_at_ms).await;
            watch = Some(next);
            step = self
                .classic_join_poll(group, &member_id, generation, now_ms())
                .await?;
        }
    }
}

/// Sleeps until `watch` fires, `wake_at_ms` or [`BARRIER_POLL`], whichever is first.
pub(super) async fn wait(watch: stratus_meta::Watch, wake_at_ms: i64) {
    let until = u64::try_from(wake_at_ms.saturating_sub(now_ms())).unwrap_or(0);
    let sleep = Duration::from_millis(until).min(BARRIER_POLL);
    let _ = tokio::time::timeout(sleep, watch.changed()).await;
}

/// What a waiting member is told after a look at the group.
fn answer(
    classic: &Classic,
    group: &str,
    member_id: &str,
    generation: i64,
) -> Result<JoinStep, ClassicError> {
    let Some(member) = classic.members.get(member_id) else {
        return Err(ClassicError::UnknownMember {
            group: group.to_owned(),
            member: member_id.to_owned(),
        });
    };
    if member.generation > generation
        && let Some(joined) = classic.joined(member_id)
    {
        return Ok(JoinStep::Joined(joined));
    }
    match &classic.record {
        Some(r) if r.state == ClassicState::PreparingRebalance && member.round == r.round => {
            Ok(JoinStep::Waiting {
                member_id: member_id.to_owned(),
                generation,
                wake_at_ms: classic.wake_at(),
            })
        }
        // The round it joined ended without it, or another round opened
        // before it rejoined: it must join again.
        _ => Err(ClassicError::RebalanceInProgress {
            group: group.to_owned(),
        }),
    }
}

/// The join proper, inside its transaction.
/// Who joins: the request, its member id, and its record if it is listed.
struct Joiner<'a> {
    join: &'a ClassicJoin,
    member_id: &'a str,
    existing: Option<ClassicMember>,
    /// The leader's old member id, when this is the leader's static
    /// restart: it keeps leading without a rebalance, but is told the old
    /// id as the leader (as Kafka does), so it does not assign again in a
    /// stable group.
    replaced_leader: Option<String>,
}

async fn join_in(
    tx: &mut dyn Transaction,
    keys: &KeySpace,
    classic: &mut Classic,
    joiner: Joiner<'_>,
    now_ms: i64,
    initial_delay_ms: i64,
) -> Step<JoinStep> {
    let Joiner {
        join,
        member_id,
        existing,
        replaced_leader,
    } = joiner;
    // A group nobody else is alive in takes the protocol type of whoever
    // joins it (check_protocols compared it with the live members' otherwise).
    let alone = !classic
        .members
        .values()
        .any(|m| m.member_id != member_id && classic.alive(m, now_ms));
    // Kafka's initial rebalance delay applies to a group that is empty.
    let empty = classic
        .record
        .as_ref()
        .is_none_or(|r| r.state == ClassicState::Empty)
        || classic.live(now_ms) == 0;
    let record = classic.record.get_or_insert_with(|| ClassicGroupRecord {
        state: ClassicState::Empty,
        generation: 0,
        round: 0,
        deadline_ms: now_ms,
        not_before_ms: 0,
        protocol_type: join.protocol_type.clone(),
        protocol: None,
        leader: None,
        created_ms: now_ms,
    });
    if alone {
        record.protocol_type = join.protocol_type.clone();
    }
    let (state, leader) = (record.state, record.leader.clone());
    // A known member rejoining a settled generation with what it had (and,
    // in a stable group, not its leader, whose rejoin asks for a new
    // assignment) gets that generation back.
    let unchanged = existing.as_ref().is_some_and(|m| {
        m.generation > 0
            && m.protocols.len() == join.protocols.len()
            && m.protocols
                .iter()
                .zip(&join.protocols)
                .all(|(a, b)| a.name == b.0 && a.metadata.0 == b.1)
    });
    // A member whose session ran out is gone (Kafka's coordinator would have
    // expired it on a timer): the others must rebalance without it.
    let someone_expired = classic
        .members
        .values()
        .any(|m| m.member_id != member_id && !classic.alive(m, now_ms));
    let settled = !someone_expired
        && match state {
            ClassicState::CompletingRebalance => unchanged,
            ClassicState::Stable => {
                unchanged && (leader.as_deref() != Some(member_id) || replaced_leader.is_some())
            }
            _ => false,
        };
    if settled && let Some(mut member) = existing.clone() {
        member.deadline_ms = now_ms.saturating_add(member.session_timeout_ms);
        classic.put_member(tx, keys, &member)?;
        classic.members.insert(member_id.to_owned(), member);
        if let Some(mut joined) = classic.joined(member_id) {
            if let Some(old) = replaced_leader {
                joined.leader = old;
                joined.members.clear();
            }
            return Ok(Ok(JoinStep::Joined(joined)));
        }
    }
    // A group that was empty waits a moment for the members that start
    // with this one (and each new member extends that wait).
    let still_waiting = classic
        .record
        .as_ref()
        .is_some_and(|r| r.not_before_ms > now_ms);
    let delay = if empty || (still_waiting && existing.is_none()) {
        initial_delay_ms
    } else {
        0
    };
    classic.open_round_delayed(now_ms, delay, join.rebalance_timeout_ms);
    let (round, generation) = classic
        .record
        .as_ref()
        .map_or((0, 0), |r| (r.round, r.generation));
    let member = member_record(join, member_id, existing.as_ref(), round, now_ms);
    classic.put_member(tx, keys, &member)?;
    classic.members.insert(member_id.to_owned(), member);
    classic.put_record(tx, keys)?;
    classic.try_complete(tx, keys, now_ms).await?;
    Ok(answer(classic, &classic.group, member_id, generation))
}
