//! Metadata: gateways as brokers, topics with stable ids, each partition led
//! by the gateway the broker picks (rendezvous hashing in the gateway), with
//! that gateway as the only replica and ISR member.
//!
//! Metadata has no field for a failure of the whole request before v13, so
//! when the gateway list or an all-topics listing fails the connection is
//! closed (clients reconnect and retry); a failed lookup of named topics is
//! answered per topic.

use futures::future::join_all;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, ResponseKind};
use uuid::Uuid;

use super::{Answer, str_bytes, topic_name};
use crate::zone::client_zone;
use crate::{
    Broker, BrokerError, ClusterView, NewTopic, SessionOptions, TopicInfo, TopicQuery, TopicRef,
};

pub(crate) async fn handle<B: Broker + ?Sized>(
    broker: &B,
    options: &SessionOptions,
    version: i16,
    client_id: &str,
    request: MetadataRequest,
) -> Answer {
    let zone = client_zone(client_id, options.client_zone.as_deref());
    let cluster = broker
        .cluster()
        .await
        .map_err(|e| format!("Metadata cannot list the gateways: {e}"))?;
    let wanted: Option<Vec<TopicRef>> = match request.topics {
        None => None,
        // v0 has no null list: an empty one means every topic.
        Some(topics) if topics.is_empty() && version == 0 => None,
        Some(topics) => Some(
            topics
                .into_iter()
                .map(|t| super::topic_ref(t.name.as_ref(), t.topic_id))
                .collect(),
        ),
    };
    let topics = match wanted {
        None => {
            let all = broker
                .topics_in_zone(TopicQuery::All, zone)
                .await
                .map_err(|e| format!("Metadata cannot list the topics: {e}"))?;
            all.iter().map(|t| found_topic(version, t)).collect()
        }
        Some(refs) => {
            let auto_create =
                options.auto_create_topics && (version < 4 || request.allow_auto_topic_creation);
            let outcomes = lookup(broker, options, zone, refs.clone(), auto_create).await;
            refs.iter()
                .zip(outcomes)
                .map(|(r, outcome)| match outcome {
                    Ok(topic) => found_topic(version, &topic),
                    Err(e) => missing_topic(version, r, &e),
                })
                .collect()
        }
    };
    Ok(ResponseKind::Metadata(
        response(version, &cluster).with_topics(topics),
    ))
}

/// One outcome per ref, creating missing named topics when allowed.
async fn lookup<B: Broker + ?Sized>(
    broker: &B,
    options: &SessionOptions,
    zone: Option<&str>,
    refs: Vec<TopicRef>,
    auto_create: bool,
) -> Vec<Result<TopicInfo, BrokerError>> {
    let found = match broker
        .topics_in_zone(TopicQuery::Only(refs.clone()), zone)
        .await
    {
        Ok(found) => found,
        Err(e) => return refs.iter().map(|_| Err(e.clone())).collect(),
    };
    let outcomes = refs.iter().map(|r| {
        let hit = found
            .iter()
            .find(|t| match r {
                TopicRef::Name(name) => &t.name == name,
                TopicRef::Id(id) => &t.id == id,
            })
            .cloned();
        async move {
            match (hit, r) {
                (Some(topic), _) => Ok(topic),
                (None, TopicRef::Name(name)) if auto_create => {
                    create(broker, options, zone, name).await
                }
                (None, TopicRef::Name(name)) => Err(BrokerError::unknown_topic(name)),
                (None, TopicRef::Id(id)) => Err(BrokerError::UnknownTopicId(*id)),
            }
        }
    });
    join_all(outcomes).await
}

async fn create<B: Broker + ?Sized>(
    broker: &B,
    options: &SessionOptions,
    zone: Option<&str>,
    name: &str,
) -> Result<TopicInfo, BrokerError> {
    let topic = NewTopic {
        name: name.to_owned(),
        partitions: options.default_partitions,
        replication_factor: None,
        configs: Vec::new(),
    };
    match broker.create_topic(topic, false).await {
        // The created topic's leaders were chosen for no zone in particular.
        Ok(created) if zone.is_none() => Ok(created),
        // Another client created it between the lookup and now.
        Ok(_) | Err(BrokerError::TopicAlreadyExists(_)) => broker
            .topics_in_zone(
                TopicQuery::Only(vec![TopicRef::Name(name.to_owned())]),
                zone,
            )
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| BrokerError::unknown_topic(name)),
        Err(e) => Err(e),
    }
}

fn response(version: i16, cluster: &ClusterView) -> MetadataResponse {
    let brokers = cluster
        .brokers
        .iter()
        .map(|b| {
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(b.id))
                .with_host(str_bytes(&b.host))
                .with_port(i32::from(b.port))
                .with_rack(b.rack.as_deref().map(str_bytes))
        })
        .collect();
    let mut response = MetadataResponse::default()
        .with_brokers(brokers)
        .with_controller_id(BrokerId(cluster.controller_id));
    if version >= 2 {
        response.cluster_id = Some(str_bytes(&cluster.cluster_id));
    }
    response
}

fn found_topic(version: i16, topic: &TopicInfo) -> MetadataResponseTopic {
    let partitions = topic
        .partitions
        .iter()
        .map(|p| {
            let leader = BrokerId(p.leader_id);
            MetadataResponsePartition::default()
                .with_partition_index(p.index)
                .with_leader_id(leader)
                .with_leader_epoch(p.leader_epoch)
                // Durability is object storage's; the leader is the one
                // replica a client needs to know about.
                .with_replica_nodes(vec![leader])
                .with_isr_nodes(vec![leader])
        })
        .collect();
    let mut out = MetadataResponseTopic::default()
        .with_name(Some(topic_name(&topic.name)))
        .with_partitions(partitions);
    if version >= 10 {
        out.topic_id = topic.id;
    }
    out
}

fn missing_topic(version: i16, r: &TopicRef, error: &BrokerError) -> MetadataResponseTopic {
    let mut out = MetadataResponseTopic::default().with_error_code(error.code());
    match r {
        TopicRef::Name(name) => out.name = Some(topic_name(name)),
        TopicRef::Id(id) if version >= 10 => out.topic_id = *id,
        TopicRef::Id(_) => out.topic_id = Uuid::nil(),
    }
    out
}
