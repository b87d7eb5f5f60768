//! Topic administration: CreateTopics, DeleteTopics, CreatePartitions. Each
//! topic is one broker call, all of a request's calls concurrent.
//!
//! Replica placement means nothing for stateless gateways, so manual
//! assignments only give a partition count; a replication factor is passed on
//! for the broker to accept or refuse, and reported back as 1 (the leader is
//! the one replica Metadata lists).

use std::collections::HashSet;

use futures::future::join_all;
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{
    CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest, CreateTopicsResponse,
    DeleteTopicsRequest, DeleteTopicsResponse, ResponseKind,
};

use super::topic_name;
use crate::error::code_of;
use crate::{Broker, BrokerError, NewTopic, SessionOptions, TopicRef};

/// The replication factor reported for every topic.
const REPORTED_REPLICATION_FACTOR: i16 = 1;

pub(crate) async fn create_topics<B: Broker + ?Sized>(
    broker: &B,
    options: &SessionOptions,
    version: i16,
    request: CreateTopicsRequest,
) -> ResponseKind {
    let mut names = HashSet::new();
    let twice: HashSet<_> = request
        .topics
        .iter()
        .filter(|t| !names.insert(t.name.clone()))
        .map(|t| t.name.clone())
        .collect();
    let validate_only = request.validate_only;
    let results = request.topics.into_iter().map(|topic| {
        let twice = twice.contains(&topic.name);
        async move {
            let name = topic.name.clone();
            let outcome = if twice {
                Err(BrokerError::InvalidRequest(format!(
                    "topic {:?} is named more than once in one CreateTopics request",
                    &*name
                )))
            } else {
                match new_topic(options, topic) {
                    Ok(new) => {
                        let partitions = new.partitions;
                        broker
                            .create_topic(new, validate_only)
                            .await
                            .map(|created| (created.id, partitions))
                    }
                    Err(e) => Err(e),
                }
            };
            let mut out = CreatableTopicResult::default()
                .with_name(name)
                .with_error_code(code_of(&outcome));
            match outcome {
                Ok((id, partitions)) => {
                    if version >= 5 {
                        // The count asked for: a validate-only answer has no
                        // partitions to count.
                        out.num_partitions = i32::try_from(partitions).unwrap_or(i32::MAX);
                        out.replication_factor = REPORTED_REPLICATION_FACTOR;
                        out.configs = Some(Vec::new());
                    }
                    if version >= 7 {
                        out.topic_id = id;
                    }
                }
                Err(e) => {
                    out.error_message = e.message();
                    if version >= 5 {
                        out.num_partitions = -1;
                        out.replication_factor = -1;
                    }
                }
            }
            out
        }
    });
    ResponseKind::CreateTopics(CreateTopicsResponse::default().with_topics(join_all(results).await))
}

fn new_topic(options: &SessionOptions, topic: CreatableTopic) -> Result<NewTopic, BrokerError> {
    let name = topic.name.to_string();
    let explicit = topic.num_partitions != -1 || topic.replication_factor != -1;
    let partitions = if !topic.assignments.is_empty() {
        // Kafka's rule: an assignment replaces the count and the factor.
        if explicit {
            return Err(BrokerError::InvalidRequest(format!(
                "topic {name:?}: give either replica assignments or num_partitions and replication_factor, not both"
            )));
        }
        u32::try_from(topic.assignments.len()).unwrap_or(u32::MAX)
    } else {
        match topic.num_partitions {
            -1 => options.default_partitions,
            n => u32::try_from(n).ok().filter(|&n| n > 0).ok_or_else(|| {
                BrokerError::InvalidPartitions(format!(
                    "topic {name:?}: num_partitions must be at least 1 (or -1 for the default), not {n}"
                ))
            })?,
        }
    };
    let replication_factor = match topic.replication_factor {
        -1 => None,
        rf if rf >= 1 => Some(rf),
        rf => {
            return Err(BrokerError::InvalidReplicationFactor(format!(
                "topic {name:?}: replication_factor must be at least 1 (or -1 for the default), not {rf}"
            )));
        }
    };
    Ok(NewTopic {
        name,
        partitions,
        replication_factor,
        configs: topic
            .configs
            .into_iter()
            .map(|c| (c.name.to_string(), c.value.map(|v| v.to_string())))
            .collect(),
    })
}

pub(crate) async fn delete_topics<B: Broker + ?Sized>(
    broker: &B,
    version: i16,
    request: DeleteTopicsRequest,
) -> ResponseKind {
    let refs: Vec<TopicRef> = if version >= 6 {
        request
            .topics
            .into_iter()
            .map(|t| super::topic_ref(t.name.as_ref(), t.topic_id))
            .collect()
    } else {
        request
            .topic_names
            .into_iter()
            .map(|n| TopicRef::Name(n.to_string()))
            .collect()
    };
    let results = refs.into_iter().map(|r| async move {
        let outcome = broker.delete_topic(r.clone()).await;
        let mut out = DeletableTopicResult::default().with_error_code(code_of(&outcome));
        match (&outcome, &r) {
            (Ok(deleted), _) => {
                out.name = Some(topic_name(&deleted.name));
                if version >= 6 {
                    out.topic_id = deleted.id;
                }
            }
            (Err(_), TopicRef::Name(name)) => out.name = Some(topic_name(name)),
            (Err(_), TopicRef::Id(id)) => out.topic_id = *id,
        }
        if let (Err(e), 5..) = (&outcome, version) {
            out.error_message = e.message();
        }
        out
    });
    ResponseKind::DeleteTopics(
        DeleteTopicsResponse::default().with_responses(join_all(results).await),
    )
}

pub(crate) async fn create_partitions<B: Broker + ?Sized>(
    broker: &B,
    request: CreatePartitionsRequest,
) -> ResponseKind {
    let validate_only = request.validate_only;
    let results = request.topics.into_iter().map(|topic| async move {
        let outcome = match u32::try_from(topic.count).ok().filter(|&n| n > 0) {
            Some(total) => {
                broker
                    .create_partitions(&topic.name, total, validate_only)
                    .await
            }
            None => Err(BrokerError::InvalidPartitions(format!(
                "topic {:?}: the new partition count must be at least 1, not {}",
                &*topic.name, topic.count
            ))),
        };
        CreatePartitionsTopicResult::default()
            .with_name(topic.name)
            .with_error_code(code_of(&outcome))
            .with_error_message(outcome.err().and_then(|e| e.message()))
    });
    ResponseKind::CreatePartitions(
        CreatePartitionsResponse::default().with_results(join_all(results).await),
    )
}
