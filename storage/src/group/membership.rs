//! Join, heartbeat and leave: each one metadata transaction that also
//! removes members whose session expired and rebalances when membership,
//! subscriptions or partition counts changed.

use super::census::{NewRecord, admit_new_group};
use super::classic::round::classic_live;
use super::record::{Assignment, MemberRecord, Strategy, normalize};
use super::state::{GroupState, read_topic};
use super::static_member::take_over;
use super::{GroupError, GroupLimits, Groups, MemberState, validate_group_id, validate_member_id};
use crate::limits::MEMBER_ID_CLIENT_PREFIX_BYTES;
use stratus_meta::run;

/// What a member asks for when it joins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinSpec {
    /// Rejoin as this member (keeps its partitions if it is still listed);
    /// `None` lets the server choose an id.
    pub member_id: Option<String>,
    pub client_id: String,
    pub topics: Vec<String>,
    pub session_timeout_ms: i64,
    pub strategy: Strategy,
    /// Partitions the member is consuming (when rejoining).
    pub owned: Assignment,
    /// A subscribed topic that does not exist yet: refused when false (a
    /// Stratus SDK member names topics that exist), subscribed when true
    /// (Kafka's consumer protocol): it gets no partitions until it is
    /// created, and the heartbeat after that rebalances the group.
    pub await_missing_topics: bool,
    /// The regular expression `topics` was resolved from (a Kafka
    /// consumer's subscription by pattern), kept with the member so any
    /// gateway can resolve it again as topics come and go.
    pub topic_regex: Option<String>,
    /// A static member's instance id (Kafka's `group.instance.id`): if the
    /// member that has it left temporarily ([`Groups::depart`]), this one
    /// takes its place and partitions; if that member is still active, the
    /// join is refused.
    pub instance_id: Option<String>,
}

/// The front of `client_id` that starts a member id the server chooses: at
/// most [`MEMBER_ID_CLIENT_PREFIX_BYTES`], cut at a character boundary, so
/// the id stays within [`super::MAX_ID_LEN`] whatever the client id.
fn client_prefix(client_id: &str) -> &str {
    &client_id[..client_id.floor_char_boundary(MEMBER_ID_CLIENT_PREFIX_BYTES)]
}

/// Checks that `member_id` may join: the group's strategy matches (unless
/// nobody else is alive) and there is room. Returns its current record.
fn admit(
    state: &GroupState,
    group: &str,
    spec: &JoinSpec,
    member_id: &str,
    dead: usize,
    limits: GroupLimits,
) -> Result<Option<MemberRecord>, GroupError> {
    let live = state.members.len() - dead;
    let existing = state.members.get(member_id).cloned();
    if let Some(record) = &state.record {
        let others = live - usize::from(existing.is_some());
        if record.strategy != spec.strategy && others > 0 {
            return Err(GroupError::StrategyMismatch {
                group: group.to_owned(),
                current: record.strategy.name(),
            });
        }
    }
    if existing.is_none() && live >= limits.max_members {
        return Err(GroupError::TooManyMembers {
            group: group.to_owned(),
            limit: limits.max_members,
        });
    }
    Ok(existing)
}

/// Puts the joining member into `state`, new or with its subscription updated.
fn upsert_member(
    state: &mut GroupState,
    existing: Option<MemberRecord>,
    spec: &JoinSpec,
    topics: &[String],
    member_id: &str,
    now_ms: i64,
) {
    let member = existing.unwrap_or_else(|| MemberRecord {
        member_id: member_id.to_owned(),
        client_id: String::new(),
        topics: Vec::new(),
        session_timeout_ms: 0,
        deadline_ms: now_ms,
        target: Assignment::new(),
        assigned: Assignment::new(),
        generation: 0,
        owned: Assignment::new(),
        joined_ms: now_ms,
        topic_regex: None,
        instance_id: None,
        departed: false,
    });
    state.members.insert(
        member_id.to_owned(),
        MemberRecord {
            client_id: spec.client_id.clone(),
            topics: topics.to_vec(),
            session_timeout_ms: spec.session_timeout_ms,
            topic_regex: spec.topic_regex.clone(),
            // Kafka sends the instance id when it joins, not on every change.
            instance_id: spec.instance_id.clone().or(member.instance_id.clone()),
            // A join is a member at work, whatever it was before.
            departed: false,
            ..member
        },
    );
}

impl Groups {
    /// Joins `group` (creating it), or updates a listed member's
    /// subscription. Rebalances when anything changed.
    pub async fn join(
        &self,
        group: &str,
        spec: &JoinSpec,
        now_ms: i64,
    ) -> Result<MemberState, GroupError> {
        validate_group_id(group)?;
        let mut topics = spec.topics.clone();
        topics.sort();
        topics.dedup();
        if topics.is_empty() {
            return Err(GroupError::InvalidArgument(
                "a member must subscribe to at least one topic; name the topics to consume"
                    .to_owned(),
            ));
        }
        let member_id = match &spec.member_id {
            Some(id) if !id.is_empty() => {
                validate_member_id(id)?;
                id.clone()
            }
            _ => format!(
                "{}-{}",
                client_prefix(&spec.client_id),
                ulid::Ulid::generate()
            ),
        };
        validate_member_id(&member_id)?;
        if let Some(instance) = &spec.instance_id {
            validate_member_id(instance)?;
        }
        let owned = normalize(spec.owned.clone());
        let (keys, limits) = (&self.keys, self.limits);
        run(self.meta.as_ref(), &self.retry, |tx| {
            let (topics, member_id, owned) = (&topics, &member_id, &owned);
            Box::pin(async move {
                for topic in topics {
                    match read_topic(tx, keys, topic).await? {
                        Ok(Some(_)) => {}
                        Ok(None) if spec.await_missing_topics => {}
                        Ok(None) => {
                            return Ok(Err(GroupError::TopicNotFound {
                                name: topic.clone(),
                            }));
                        }
                        Err(e) => return Ok(Err(e)),
                    }
                }
                let mut state = match GroupState::load(tx, keys, group).await? {
                    Ok(state) => state,
                    Err(e) => return Ok(Err(e)),
                };
                match classic_live(tx, keys, group, now_ms).await? {
                    Ok(0) => {}
                    Ok(members) => {
                        return Ok(Err(GroupError::ProtocolMismatch {
                            group: group.to_owned(),
                            members,
                        }));
                    }
                    Err(e) => return Ok(Err(e)),
                }
                let dead = state.dead(now_ms, Some(member_id.as_str()));
                if let Some(instance) = &spec.instance_id {
                    let taken = take_over(&mut state, tx, keys, instance, member_id, &dead)?;
                    if let Err(e) = taken {
                        return Ok(Err(e));
                    }
                }
                let existing = match admit(&state, group, spec, member_id, dead.len(), limits) {
                    Ok(existing) => existing,
                    Err(e) => return Ok(Err(e)),
                };
                if state.record.is_none() {
                    let admitted =
                        admit_new_group(tx, keys, group, NewRecord::Stratus, limits.max_groups);
                    if let Err(e) = admitted.await? {
                        return Ok(Err(e));
                    }
                }
                state.remove(tx, keys, &dead)?;
                let changed = !dead.is_empty()
                    || existing.as_ref().is_none_or(|m| &m.topics != topics)
                    || state
                        .record
                        .as_ref()
                        .is_some_and(|r| r.strategy != spec.strategy);
                upsert_member(&mut state, existing, spec, topics, member_id, now_ms);
                state.record_mut(spec.strategy, now_ms).strategy = spec.strategy;
                let counts = match state.partition_counts(tx, keys).await? {
                    Ok(counts) => counts,
                    Err(e) => return Ok(Err(e)),
                };
                if changed || state.counts_changed(&counts) {
                    state.rebalance(tx, keys, counts, now_ms).await?;
                }
                Ok(Ok(state.serve(tx, keys, member_id, owned, now_ms)?))
            })
        })
        .await?
    }

    /// Renews a member's session and returns its current assignment and
    /// generation, so members learn of rebalances. `owned` is what the
    /// member is consuming now; partitions it no longer reports are free for
    /// their new owner.
    pub async fn heartbeat(
        &self,
        group: &str,
        member_id: &str,
        owned: &Assignment,
        now_ms: i64,
    ) -> Result<MemberState, GroupError> {
        self.heartbeat_owning(group, member_id, Some(owned), now_ms)
            .await
    }

    /// [`Self::heartbeat`] for members that report what they own only when
    /// it changes (Kafka's KIP-848 consumers): `None` keeps the last report.
    pub async fn heartbeat_owning(
        &self,
        group: &str,
        member_id: &str,
        owned: Option<&Assignment>,
        now_ms: i64,
    ) -> Result<MemberState, GroupError> {
        validate_group_id(group)?;
        let reported = owned.map(|o| normalize(o.clone()));
        let keys = &self.keys;
        run(self.meta.as_ref(), &self.retry, |tx| {
            let reported = &reported;
            Box::pin(async move {
                let mut state = match GroupState::load(tx, keys, group).await? {
                    Ok(state) => state,
                    Err(e) => return Ok(Err(e)),
                };
                // A static member that departed left: it joins again.
                if state.members.get(member_id).is_none_or(|m| m.departed) {
                    return Ok(Err(GroupError::UnknownMember {
                        group: group.to_owned(),
                        member: member_id.to_owned(),
                    }));
                }
                let dead = state.dead(now_ms, Some(member_id));
                state.remove(tx, keys, &dead)?;
                let counts = match state.partition_counts(tx, keys).await? {
                    Ok(counts) => counts,
                    Err(e) => return Ok(Err(e)),
                };
                if !dead.is_empty() || state.counts_changed(&counts) {
                    state.rebalance(tx, keys, counts, now_ms).await?;
                }
                let owned = match reported {
                    Some(owned) => owned.clone(),
                    None => state.members[member_id].owned.clone(),
                };
                Ok(Ok(state.serve(tx, keys, member_id, &owned, now_ms)?))
            })
        })
        .await?
    }

    /// Removes a member at once (its partitions move without waiting for
    /// its session to expire). Leaving twice is not an error.
    pub async fn leave(&self, group: &str, member_id: &str, now_ms: i64) -> Result<(), GroupError> {
        validate_group_id(group)?;
        let keys = &self.keys;
        run(self.meta.as_ref(), &self.retry, |tx| {
            Box::pin(async move {
                let mut state = match GroupState::load(tx, keys, group).await? {
                    Ok(state) => state,
                    Err(e) => return Ok(Err(e)),
                };
                if !state.members.contains_key(member_id) {
                    return Ok(Ok(()));
                }
                let mut gone = state.dead(now_ms, Some(member_id));
                gone.push(member_id.to_owned());
                state.remove(tx, keys, &gone)?;
                let counts = match state.partition_counts(tx, keys).await? {
                    Ok(counts) => counts,
                    Err(e) => return Ok(Err(e)),
                };
                state.rebalance(tx, keys, counts, now_ms).await?;
                Ok(Ok(()))
            })
        })
        .await?
    }
}
