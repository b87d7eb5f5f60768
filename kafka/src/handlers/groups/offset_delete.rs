//! OffsetDelete (v0, the only version): the group's outcome as a whole, or
//! one per partition.

use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::{OffsetDeleteRequest, OffsetDeleteResponse, ResponseKind};

use crate::error::code_of;
use crate::{Broker, BrokerError};

pub(crate) async fn offset_delete<B: Broker + ?Sized>(
    broker: &B,
    request: OffsetDeleteRequest,
) -> ResponseKind {
    // Partition numbers that cannot exist are answered without asking.
    let mut partitions = Vec::new();
    let mut slots: Vec<Vec<Option<usize>>> = Vec::with_capacity(request.topics.len());
    for topic in &request.topics {
        let slot = topic
            .partitions
            .iter()
            .map(|p| {
                u32::try_from(p.partition_index).ok().map(|partition| {
                    partitions.push((topic.name.to_string(), partition));
                    partitions.len() - 1
                })
            })
            .collect();
        slots.push(slot);
    }
    let out = OffsetDeleteResponse::default();
    let outcomes = match broker.delete_offsets(&request.group_id, partitions).await {
        Ok(outcomes) => outcomes,
        Err(e) => return ResponseKind::OffsetDelete(out.with_error_code(e.code())),
    };
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
                    let code = match index {
                        None => {
                            BrokerError::unknown_partition(&topic.name, p.partition_index).code()
                        }
                        Some(i) => outcomes.get(i).map_or(0, code_of),
                    };
                    OffsetDeleteResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code)
                })
                .collect();
            OffsetDeleteResponseTopic::default()
                .with_name(topic.name.clone())
                .with_partitions(partitions)
        })
        .collect();
    ResponseKind::OffsetDelete(out.with_topics(topics))
}
