//! Kafka's consumer-group protocol (KIP-848) over the gateway's
//! server-assigned groups (`stratus_storage::group`), the ones Stratus SDK
//! members join: a Kafka consumer with `group.protocol=consumer` and a
//! Stratus SDK consumer can be members of one group. Translation only.

use std::future::Future;
use std::time::Duration;

use regex::{Regex, RegexBuilder};

use stratus_gateway::GroupsConfig;
use stratus_storage::group::{
    GroupDescription, GroupError, Groups, JoinSpec, MemberState, Strategy,
};
use stratus_storage::log::now_ms;

use crate::limits::{MAX_TOPIC_REGEX_BYTES, MAX_TOPIC_REGEX_COMPILED_BYTES};
use crate::{BrokerError, CommitOffset, ConsumerAssignment, ConsumerHeartbeat};

/// The member epoch a KIP-848 static member leaves with when it means to
/// come back (Kafka's `LEAVE_GROUP_STATIC_MEMBER_EPOCH`).
const LEAVE_STATIC_MEMBER_EPOCH: i32 = -2;

/// Kafka's consumer heartbeats a third of its session apart, as classic
/// consumers do by default.
fn heartbeat_interval(session: Duration) -> Duration {
    session / 3
}

/// The strategy a member's `group.remote.assignor` names; unset is Kafka's
/// default, `uniform`, which moves as few partitions as it can: Stratus's
/// sticky assignor.
fn strategy(assignor: Option<&str>) -> Result<Strategy, BrokerError> {
    match assignor {
        None | Some("uniform") => Ok(Strategy::Sticky),
        Some("range") => Ok(Strategy::Range),
        Some(other) => Err(BrokerError::UnsupportedAssignor(format!(
            "assignor {other:?} is not served; set group.remote.assignor to uniform or range"
        ))),
    }
}

/// A subscription's regular expression, matched against whole topic names
/// as Kafka matches it; `None` for a subscription by name (an empty one).
fn pattern(regex: Option<&str>) -> Result<Option<Regex>, BrokerError> {
    let Some(regex) = regex.filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    if regex.len() > MAX_TOPIC_REGEX_BYTES {
        return Err(BrokerError::InvalidRegularExpression(format!(
            "the subscription's regular expression is {} bytes; the limit is \
             {MAX_TOPIC_REGEX_BYTES}",
            regex.len()
        )));
    }
    RegexBuilder::new(&format!("^(?:{regex})$"))
        .size_limit(MAX_TOPIC_REGEX_COMPILED_BYTES)
        .build()
        .map(Some)
        .map_err(|e| {
            BrokerError::InvalidRegularExpression(format!(
                "subscription {regex:?} is not a valid regular expression: {e}"
            ))
        })
}

/// The topics `pattern` matches, sorted.
async fn resolve<F, Fut>(pattern: &Regex, topic_names: &F) -> Result<Vec<String>, BrokerError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<Vec<String>, BrokerError>>,
{
    let mut matched: Vec<String> = topic_names()
        .await?
        .into_iter()
        .filter(|t| pattern.is_match(t))
        .collect();
    matched.sort_unstable();
    Ok(matched)
}

/// One ConsumerGroupHeartbeat. `topic_names` lists every topic, for a
/// subscription by regular expression, which is resolved again at every
/// heartbeat: a topic created or deleted that it matches rebalances the
/// group at the member's next heartbeat.
pub(super) async fn heartbeat<F, Fut>(
    groups: &Groups,
    limits: &GroupsConfig,
    group: &str,
    heartbeat: ConsumerHeartbeat,
    topic_names: F,
) -> Result<ConsumerAssignment, BrokerError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<Vec<String>, BrokerError>>,
{
    let session = limits.default_session_timeout;
    let interval = heartbeat_interval(session);
    if heartbeat.member_epoch < 0 {
        // -2: a static member leaving for a while keeps its partitions for
        // its instance id; -1 (or a dynamic member): gone at once.
        if heartbeat.member_epoch == LEAVE_STATIC_MEMBER_EPOCH {
            groups.depart(group, &heartbeat.member_id, now_ms()).await?;
        } else {
            groups.leave(group, &heartbeat.member_id, now_ms()).await?;
        }
        return Ok(ConsumerAssignment {
            member_id: heartbeat.member_id,
            member_epoch: heartbeat.member_epoch,
            heartbeat_interval: interval,
            assignment: None,
        });
    }
    let strategy = strategy(heartbeat.assignor.as_deref())?;
    let sent_pattern = pattern(heartbeat.topic_regex.as_deref())?;
    let spec = |member_id: Option<String>, topics: Vec<String>, owned, regex| JoinSpec {
        member_id,
        client_id: heartbeat.client_id.clone(),
        topics,
        session_timeout_ms: session.as_millis() as i64,
        strategy,
        owned,
        // A Kafka consumer may subscribe before its topics are created.
        await_missing_topics: true,
        topic_regex: regex,
        instance_id: heartbeat.instance_id.clone(),
    };
    let state: MemberState = if heartbeat.member_epoch == 0 {
        let (topics, regex) = match (&sent_pattern, heartbeat.topics.clone()) {
            (Some(pattern), _) => (
                resolve(pattern, &topic_names).await?,
                heartbeat.topic_regex.clone().filter(|r| !r.is_empty()),
            ),
            (None, Some(topics)) => (topics, None),
            (None, None) => {
                return Err(BrokerError::InvalidRequest(
                    "a joining member (epoch 0) must name the topics it subscribes to, \
                     or a regular expression"
                        .into(),
                ));
            }
        };
        let member_id = (!heartbeat.member_id.is_empty()).then(|| heartbeat.member_id.clone());
        let owned = heartbeat.owned.clone().unwrap_or_default();
        groups
            .join(group, &spec(member_id, topics, owned, regex), now_ms())
            .await?
    } else {
        let state = groups
            .heartbeat_owning(
                group,
                &heartbeat.member_id,
                heartbeat.owned.as_ref(),
                now_ms(),
            )
            .await
            .map_err(unknown_member_rejoins)?;
        // The subscription now: a pattern sent replaces the one kept, an
        // empty one ends it, none sent keeps it; names sent replace names.
        let regex = match &heartbeat.topic_regex {
            Some(sent) => Some(sent.clone()).filter(|r| !r.is_empty()),
            None => state.topic_regex.clone(),
        };
        let subscription = match (&regex, heartbeat.topics.clone()) {
            (Some(regex), _) => {
                let pattern = match &sent_pattern {
                    Some(sent) => sent.clone(),
                    None => pattern(Some(regex))?.ok_or_else(|| {
                        BrokerError::InvalidRequest("the member's kept pattern is empty".into())
                    })?,
                };
                let topics = resolve(&pattern, &topic_names).await?;
                let changed = heartbeat.topic_regex.is_some() || topics != state.topics;
                changed.then_some(topics)
            }
            (None, topics) => topics.or_else(|| {
                heartbeat
                    .topic_regex
                    .is_some()
                    .then(|| state.topics.clone())
            }),
        };
        match subscription {
            // A changed subscription (or one repeated): a join of the listed
            // member, which rebalances only if it changed.
            Some(topics) => {
                let owned = heartbeat.owned.clone().unwrap_or(state.assignment);
                let member_id = Some(heartbeat.member_id.clone());
                groups
                    .join(group, &spec(member_id, topics, owned, regex), now_ms())
                    .await?
            }
            None => state,
        }
    };
    Ok(ConsumerAssignment {
        member_id: state.member_id,
        member_epoch: i32::try_from(state.generation).unwrap_or(i32::MAX),
        heartbeat_interval: interval,
        assignment: Some(state.assignment),
    })
}

/// A member the group no longer lists (its session expired): Kafka answers
/// UNKNOWN_MEMBER_ID, and the client joins again with epoch 0.
fn unknown_member_rejoins(err: GroupError) -> BrokerError {
    match err {
        GroupError::UnknownMember { .. } | GroupError::GroupNotFound { .. } => {
            BrokerError::UnknownMemberId(format!("{err}; join again with member epoch 0"))
        }
        other => other.into(),
    }
}

/// OffsetCommit of a KIP-848 member, fenced by its member epoch: the
/// member must be listed at that epoch and hold every partition. `None`
/// when `member_id` is no such member (the commit is then a classic one).
pub(super) async fn commit(
    groups: &Groups,
    group: &str,
    member_id: &str,
    epoch: i64,
    offsets: &[CommitOffset],
) -> Option<Result<(), BrokerError>> {
    if member_id.is_empty() || epoch < 0 {
        return None;
    }
    match groups
        .commit(group, member_id, epoch, offsets, now_ms())
        .await
    {
        Err(GroupError::UnknownMember { .. } | GroupError::GroupNotFound { .. }) => None,
        Err(GroupError::StaleGeneration { .. }) => {
            Some(Err(BrokerError::StaleMemberEpoch(format!(
                "member {member_id:?} committed with epoch {epoch}, not its current one; heartbeat and retry"
            ))))
        }
        outcome => Some(outcome.map_err(BrokerError::from)),
    }
}

/// A server-assigned group's members and assignments; `None` when no such
/// group exists (a group known only by its committed offsets, or only to
/// classic members, is a classic group to Kafka clients, which then ask
/// DescribeGroups).
pub(super) async fn describe(
    groups: &Groups,
    group: &str,
) -> Result<Option<GroupDescription>, BrokerError> {
    Ok(groups.describe_assigned(group, now_ms()).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_whole_topic_names_and_bad_ones_are_refused() {
        assert!(pattern(None).unwrap().is_none());
        assert!(pattern(Some("")).unwrap().is_none(), "empty: by name");
        let orders = pattern(Some("orders-.*")).unwrap().unwrap();
        assert!(orders.is_match("orders-eu"));
        assert!(
            !orders.is_match("old-orders-eu"),
            "the whole name, as Kafka"
        );
        let either = pattern(Some("a|b")).unwrap().unwrap();
        assert!(either.is_match("b") && !either.is_match("ab"));
        for bad in ["orders-[", &"x".repeat(MAX_TOPIC_REGEX_BYTES + 1)] {
            assert!(
                matches!(
                    pattern(Some(bad)),
                    Err(BrokerError::InvalidRegularExpression(_))
                ),
                "{bad:.20}"
            );
        }
        let huge = "(?:a{100}){100}{100}";
        assert!(matches!(
            pattern(Some(huge)),
            Err(BrokerError::InvalidRegularExpression(m)) if m.contains("not a valid")
        ));
    }
}
