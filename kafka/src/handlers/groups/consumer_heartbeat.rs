//! ConsumerGroupHeartbeat (KIP-848, v0–1): the consumer-group protocol in
//! which the server assigns partitions. Members speak in topic ids; the
//! broker in topic names, so this translates both ways through the topic
//! catalog. A subscription by regular expression (v1) is resolved by the
//! broker, against every topic, on every heartbeat.

use std::collections::BTreeMap;

use kafka_protocol::messages::consumer_group_heartbeat_response::{Assignment, TopicPartitions};
use kafka_protocol::messages::{
    ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse, ResponseKind,
};
use uuid::Uuid;

use super::str_bytes;
use crate::{Broker, BrokerError, ConsumerHeartbeat, TopicQuery, TopicRef};

pub(crate) async fn consumer_group_heartbeat<B: Broker + ?Sized>(
    broker: &B,
    client_id: &str,
    request: ConsumerGroupHeartbeatRequest,
) -> ResponseKind {
    let response = match heartbeat(broker, client_id, request).await {
        Ok(response) => response,
        Err(e) => ConsumerGroupHeartbeatResponse::default()
            .with_error_code(e.code())
            .with_error_message(e.message())
            .with_member_epoch(-1),
    };
    ResponseKind::ConsumerGroupHeartbeat(response)
}

async fn heartbeat<B: Broker + ?Sized>(
    broker: &B,
    client_id: &str,
    request: ConsumerGroupHeartbeatRequest,
) -> Result<ConsumerGroupHeartbeatResponse, BrokerError> {
    let owned = match &request.topic_partitions {
        None => None,
        Some(owned) => Some(names_of(broker, owned).await?),
    };
    let answer = broker
        .consumer_heartbeat(
            &request.group_id,
            ConsumerHeartbeat {
                member_id: request.member_id.to_string(),
                member_epoch: request.member_epoch,
                client_id: client_id.to_owned(),
                topics: request
                    .subscribed_topic_names
                    .as_ref()
                    .map(|topics| topics.iter().map(|t| t.to_string()).collect()),
                topic_regex: request
                    .subscribed_topic_regex
                    .as_ref()
                    .map(|r| r.to_string()),
                owned,
                assignor: request.server_assignor.as_ref().map(|a| a.to_string()),
                instance_id: request.instance_id.as_ref().map(|i| i.to_string()),
            },
        )
        .await?;
    let assignment = match &answer.assignment {
        None => None,
        Some(assigned) => {
            Some(Assignment::default().with_topic_partitions(ids_of(broker, assigned).await?))
        }
    };
    Ok(ConsumerGroupHeartbeatResponse::default()
        .with_member_id(Some(str_bytes(&answer.member_id)))
        .with_member_epoch(answer.member_epoch)
        .with_heartbeat_interval_ms(
            i32::try_from(answer.heartbeat_interval.as_millis()).unwrap_or(i32::MAX),
        )
        .with_assignment(assignment))
}

/// The owned partitions a member reports, by topic name; topics that no
/// longer exist are dropped (the member gives them up).
async fn names_of<B: Broker + ?Sized>(
    broker: &B,
    owned: &[kafka_protocol::messages::consumer_group_heartbeat_request::TopicPartitions],
) -> Result<BTreeMap<String, Vec<u32>>, BrokerError> {
    let ids: Vec<TopicRef> = owned.iter().map(|t| TopicRef::Id(t.topic_id)).collect();
    let names: BTreeMap<Uuid, String> = broker
        .topics(TopicQuery::Only(ids))
        .await?
        .into_iter()
        .map(|t| (t.id, t.name))
        .collect();
    let mut out = BTreeMap::new();
    for topic in owned {
        if let Some(name) = names.get(&topic.topic_id) {
            let partitions: Vec<u32> = topic
                .partitions
                .iter()
                .filter_map(|p| u32::try_from(*p).ok())
                .collect();
            out.insert(name.clone(), partitions);
        }
    }
    Ok(out)
}

/// An assignment by topic id, as members expect it.
async fn ids_of<B: Broker + ?Sized>(
    broker: &B,
    assigned: &BTreeMap<String, Vec<u32>>,
) -> Result<Vec<TopicPartitions>, BrokerError> {
    let names: Vec<TopicRef> = assigned.keys().cloned().map(TopicRef::Name).collect();
    let ids: BTreeMap<String, Uuid> = broker
        .topics(TopicQuery::Only(names))
        .await?
        .into_iter()
        .map(|t| (t.name, t.id))
        .collect();
    Ok(assigned
        .iter()
        .filter_map(|(name, partitions)| {
            let id = ids.get(name)?;
            Some(
                TopicPartitions::default()
                    .with_topic_id(*id)
                    .with_partitions(partitions.iter().map(|p| *p as i32).collect()),
            )
        })
        .collect())
}
