//! ConsumerGroupDescribe (KIP-848, v0–1): a consumer-protocol group's
//! state, epochs, assignor and members with their current and target
//! assignments (by topic id and name). A group that is not one (a classic
//! group, or none) is GROUP_ID_NOT_FOUND, on which clients ask
//! DescribeGroups instead.

use std::collections::BTreeMap;

use kafka_protocol::messages::consumer_group_describe_response::{
    Assignment, DescribedGroup, Member, TopicPartitions,
};
use kafka_protocol::messages::{
    ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse, ResponseKind, TopicName,
};
use uuid::Uuid;

use super::str_bytes;
use crate::{Broker, BrokerError, GroupDescription, Strategy, TopicQuery, TopicRef};

/// Member type of a consumer-protocol member (v1).
const MEMBER_TYPE_CONSUMER: i8 = 1;

pub(crate) async fn consumer_group_describe<B: Broker + ?Sized>(
    broker: &B,
    request: ConsumerGroupDescribeRequest,
) -> ResponseKind {
    let mut groups = Vec::with_capacity(request.group_ids.len());
    for group in &request.group_ids {
        let described = match broker.describe_consumer_group(group).await {
            Ok(Some(description)) => described(broker, &description).await,
            // Kafka's messages: admin clients show them as they are.
            Ok(None) => Err(BrokerError::GroupIdNotFound(
                match broker.describe_group(group).await {
                    Ok(Some(_)) => format!(
                        "Group {} is not a consumer group; describe it with DescribeGroups.",
                        group.as_str()
                    ),
                    _ => format!("Group {} not found.", group.as_str()),
                },
            )),
            Err(e) => Err(e),
        };
        groups.push(described.unwrap_or_else(|e| {
            DescribedGroup::default()
                .with_group_id(group.clone())
                .with_error_code(e.code())
                .with_error_message(e.message())
        }));
    }
    ResponseKind::ConsumerGroupDescribe(
        ConsumerGroupDescribeResponse::default().with_groups(groups),
    )
}

async fn described<B: Broker + ?Sized>(
    broker: &B,
    description: &GroupDescription,
) -> Result<DescribedGroup, BrokerError> {
    let names: Vec<TopicRef> = description
        .members
        .iter()
        .flat_map(|m| m.topics.iter().chain(m.target.keys()))
        .cloned()
        .map(TopicRef::Name)
        .collect();
    let ids: BTreeMap<String, Uuid> = broker
        .topics(TopicQuery::Only(names))
        .await?
        .into_iter()
        .map(|t| (t.name, t.id))
        .collect();
    let assignment = |partitions: &BTreeMap<String, Vec<u32>>| {
        Assignment::default().with_topic_partitions(
            partitions
                .iter()
                .filter_map(|(name, partitions)| {
                    Some(
                        TopicPartitions::default()
                            .with_topic_id(*ids.get(name)?)
                            .with_topic_name(TopicName(str_bytes(name)))
                            .with_partitions(partitions.iter().map(|p| *p as i32).collect()),
                    )
                })
                .collect(),
        )
    };
    let epoch = i32::try_from(description.record.generation).unwrap_or(i32::MAX);
    let members: Vec<Member> = description
        .members
        .iter()
        .map(|m| {
            Member::default()
                .with_member_id(str_bytes(&m.member_id))
                .with_member_epoch(i32::try_from(m.generation).unwrap_or(i32::MAX))
                .with_client_id(str_bytes(&m.client_id))
                .with_instance_id(m.instance_id.as_deref().map(str_bytes))
                .with_subscribed_topic_names(
                    m.topics.iter().map(|t| TopicName(str_bytes(t))).collect(),
                )
                .with_assignment(assignment(&m.assigned))
                .with_target_assignment(assignment(&m.target))
                .with_member_type(MEMBER_TYPE_CONSUMER)
        })
        .collect();
    let reconciling = description.members.iter().any(|m| m.assigned != m.target);
    let state = match (description.members.is_empty(), reconciling) {
        (true, _) => "Empty",
        (false, true) => "Reconciling",
        (false, false) => "Stable",
    };
    Ok(DescribedGroup::default()
        .with_group_id(str_bytes(&description.group).into())
        .with_group_state(str_bytes(state))
        .with_group_epoch(epoch)
        .with_assignment_epoch(epoch)
        .with_assignor_name(str_bytes(match description.record.strategy {
            Strategy::Sticky => "uniform",
            Strategy::Range => "range",
        }))
        .with_members(members))
}
