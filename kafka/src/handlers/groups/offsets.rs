//! OffsetCommit and OffsetFetch (one group before v8, many from v8), over
//! the group's one set of committed offsets.

use std::collections::BTreeMap;

use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{
    GroupId, OffsetCommitRequest, OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse,
    ResponseKind,
};
use kafka_protocol::protocol::StrBytes;

use super::str_bytes;
use crate::error::code_of;
use crate::{Broker, BrokerError, CommitOffset, Committed};

pub(crate) async fn offset_commit<B: Broker + ?Sized>(
    broker: &B,
    version: i16,
    request: OffsetCommitRequest,
) -> ResponseKind {
    let instance = (version >= 7)
        .then_some(request.group_instance_id.as_deref())
        .flatten();
    // Partition numbers that cannot exist are answered without asking.
    let mut offsets = Vec::new();
    let mut slots: Vec<Vec<Option<usize>>> = Vec::with_capacity(request.topics.len());
    for topic in &request.topics {
        let mut slot = Vec::with_capacity(topic.partitions.len());
        for p in &topic.partitions {
            slot.push(u32::try_from(p.partition_index).ok().map(|partition| {
                offsets.push(CommitOffset {
                    topic: topic.name.to_string(),
                    partition,
                    offset: p.committed_offset,
                    metadata: p
                        .committed_metadata
                        .as_ref()
                        .map(|m| m.to_string())
                        .unwrap_or_default(),
                });
                offsets.len() - 1
            }));
        }
        slots.push(slot);
    }
    let outcome = broker
        .commit_offsets(
            &request.group_id,
            &request.member_id,
            instance,
            i64::from(request.generation_id_or_member_epoch),
            offsets,
        )
        .await;
    let topics = request
        .topics
        .iter()
        .zip(slots)
        .map(|(topic, slot)| {
            let partitions = topic
                .partitions
                .iter()
                .zip(slot)
                .map(|(p, index)| {
                    let code = match (&outcome, index) {
                        (Err(e), _) => e.code(),
                        (Ok(_), None) => {
                            BrokerError::unknown_partition(&topic.name, p.partition_index).code()
                        }
                        (Ok(outcomes), Some(i)) => outcomes.get(i).map_or(0, code_of),
                    };
                    OffsetCommitResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code)
                })
                .collect();
            OffsetCommitResponseTopic::default()
                .with_name(topic.name.clone())
                .with_partitions(partitions)
        })
        .collect();
    ResponseKind::OffsetCommit(OffsetCommitResponse::default().with_topics(topics))
}

/// What one group's fetch asks for: `None` is every committed offset.
type Wanted = Option<Vec<(String, Vec<i32>)>>;

/// The answer for one group: per topic, per partition, offset and metadata
/// (-1 and empty for partitions without a commit).
type Found = Vec<(String, Vec<(i32, i64, String)>)>;

async fn fetch_one<B: Broker + ?Sized>(
    broker: &B,
    group: &str,
    wanted: Wanted,
) -> Result<Found, BrokerError> {
    let topics: Vec<String> = wanted
        .as_ref()
        .map(|w| w.iter().map(|(t, _)| t.clone()).collect())
        .unwrap_or_default();
    if wanted.as_ref().is_some_and(Vec::is_empty) {
        return Ok(Vec::new());
    }
    let committed: Vec<Committed> = broker.fetch_offsets(group, topics).await?;
    let mut by_topic: BTreeMap<String, BTreeMap<i32, (i64, String)>> = BTreeMap::new();
    for c in committed {
        by_topic.entry(c.topic).or_default().insert(
            i32::try_from(c.partition).unwrap_or(i32::MAX),
            (c.record.offset, c.record.metadata),
        );
    }
    Ok(match wanted {
        None => by_topic
            .into_iter()
            .map(|(topic, ps)| {
                let ps = ps.into_iter().map(|(p, (o, m))| (p, o, m)).collect();
                (topic, ps)
            })
            .collect(),
        Some(wanted) => wanted
            .into_iter()
            .map(|(topic, partitions)| {
                let known = by_topic.get(&topic);
                let ps = partitions
                    .into_iter()
                    .map(|p| match known.and_then(|k| k.get(&p)) {
                        Some((o, m)) => (p, *o, m.clone()),
                        None => (p, -1, String::new()),
                    })
                    .collect();
                (topic, ps)
            })
            .collect(),
    })
}

pub(crate) async fn offset_fetch<B: Broker + ?Sized>(
    broker: &B,
    version: i16,
    request: OffsetFetchRequest,
) -> ResponseKind {
    if version >= 8 {
        let mut groups = Vec::with_capacity(request.groups.len());
        for g in &request.groups {
            let wanted = g.topics.as_ref().map(|ts| {
                ts.iter()
                    .map(|t| (t.name.to_string(), t.partition_indexes.clone()))
                    .collect()
            });
            groups.push(group_answer(
                &g.group_id,
                fetch_one(broker, &g.group_id, wanted).await,
            ));
        }
        return ResponseKind::OffsetFetch(OffsetFetchResponse::default().with_groups(groups));
    }
    let wanted = request.topics.as_ref().map(|ts| {
        ts.iter()
            .map(|t| (t.name.to_string(), t.partition_indexes.clone()))
            .collect()
    });
    let out = OffsetFetchResponse::default();
    ResponseKind::OffsetFetch(match fetch_one(broker, &request.group_id, wanted).await {
        Ok(found) => out.with_topics(
            found
                .into_iter()
                .map(|(topic, ps)| {
                    OffsetFetchResponseTopic::default()
                        .with_name(super::super::topic_name(&topic))
                        .with_partitions(
                            ps.into_iter()
                                .map(|(p, offset, metadata)| {
                                    OffsetFetchResponsePartition::default()
                                        .with_partition_index(p)
                                        .with_committed_offset(offset)
                                        .with_committed_leader_epoch(-1)
                                        .with_metadata(Some(str_bytes(&metadata)))
                                })
                                .collect(),
                        )
                })
                .collect(),
        ),
        // Before v2 a group-level error can only be told per partition.
        Err(e) if version < 2 => out.with_topics(
            request
                .topics
                .unwrap_or_default()
                .into_iter()
                .map(|t| {
                    let partitions = t
                        .partition_indexes
                        .iter()
                        .map(|p| {
                            OffsetFetchResponsePartition::default()
                                .with_partition_index(*p)
                                .with_committed_offset(-1)
                                .with_metadata(Some(StrBytes::default()))
                                .with_error_code(e.code())
                        })
                        .collect();
                    OffsetFetchResponseTopic::default()
                        .with_name(t.name)
                        .with_partitions(partitions)
                })
                .collect(),
        ),
        Err(e) => out.with_error_code(e.code()),
    })
}

fn group_answer(group: &GroupId, found: Result<Found, BrokerError>) -> OffsetFetchResponseGroup {
    let out = OffsetFetchResponseGroup::default().with_group_id(group.clone());
    match found {
        Ok(found) => out.with_topics(
            found
                .into_iter()
                .map(|(topic, ps)| {
                    OffsetFetchResponseTopics::default()
                        .with_name(super::super::topic_name(&topic))
                        .with_partitions(
                            ps.into_iter()
                                .map(|(p, offset, metadata)| {
                                    OffsetFetchResponsePartitions::default()
                                        .with_partition_index(p)
                                        .with_committed_offset(offset)
                                        .with_committed_leader_epoch(-1)
                                        .with_metadata(Some(str_bytes(&metadata)))
                                })
                                .collect(),
                        )
                })
                .collect(),
        ),
        Err(e) => out.with_error_code(e.code()),
    }
}
