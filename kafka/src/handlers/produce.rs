//! Produce, in two steps (see `session`): [`admit`] hands every partition's
//! batches to the broker, in arrival order per connection; [`Admitted::finish`]
//! waits until they are durable and answers.
//!
//! The acknowledgement is released only by the broker's [`PendingAppend`]
//! resolving, which it does after the WAL object is written and the offsets
//! are committed; this module adds no path that answers earlier. With acks=0
//! there is no answer at all, but the batches are still written and awaited,
//! so they count against the connection's in-flight bounds until durable;
//! if one fails the connection is closed, Kafka's only way to tell such a
//! producer.

use std::collections::HashSet;
use std::time::Duration;

use futures::future::join_all;
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse, ResponseKind, TopicName};

use crate::{Acks, Appended, Broker, BrokerError, PendingAppend, ProduceBatch};

/// A produce request whose batches the broker has (or has refused).
#[derive(Debug)]
pub(crate) struct Admitted {
    version: i16,
    acks: Option<Acks>,
    topics: Vec<(TopicName, Vec<(i32, Admission)>)>,
}

#[derive(Debug)]
enum Admission {
    Refused(BrokerError),
    Accepted(PendingAppend),
}

/// Validates the request and hands each partition to the broker. Every
/// partition of the request is handed over concurrently; a partition named
/// twice in one request is refused (the order of the two would be arbitrary).
pub(crate) async fn admit<B: Broker + ?Sized>(
    broker: &B,
    version: i16,
    request: ProduceRequest,
) -> Admitted {
    let acks = match request.acks {
        0 => Some(Acks::None),
        1 => Some(Acks::Leader),
        -1 => Some(Acks::All),
        _ => None,
    };
    let refusal = if acks.is_none() {
        Some(BrokerError::InvalidRequiredAcks(request.acks))
    } else if request
        .transactional_id
        .as_ref()
        .is_some_and(|id| !id.is_empty())
    {
        Some(BrokerError::TransactionsUnsupported)
    } else {
        None
    };
    let timeout = Duration::from_millis(u64::try_from(request.timeout_ms).unwrap_or(0));
    let mut seen = HashSet::new();
    let mut handed = Vec::new();
    let mut shape = Vec::with_capacity(request.topic_data.len());
    for topic in request.topic_data {
        let mut partitions = Vec::with_capacity(topic.partition_data.len());
        for partition in topic.partition_data {
            let slot = handed.len();
            let outcome = if let Some(refusal) = &refusal {
                Err(refusal.clone())
            } else if !seen.insert((topic.name.clone(), partition.index)) {
                Err(BrokerError::InvalidRequest(format!(
                    "partition {} of topic {:?} appears twice in one produce request; send its batches in one entry",
                    partition.index, &*topic.name
                )))
            } else {
                match partition.records {
                    Some(records) => Ok(ProduceBatch {
                        topic: topic.name.to_string(),
                        partition: partition.index,
                        records,
                        acks: acks.unwrap_or(Acks::All),
                        timeout,
                    }),
                    None => Err(BrokerError::CorruptMessage(format!(
                        "partition {} of topic {:?} has null records",
                        partition.index, &*topic.name
                    ))),
                }
            };
            handed.push(outcome);
            partitions.push((partition.index, slot));
        }
        shape.push((topic.name, partitions));
    }
    let admissions = join_all(handed.into_iter().map(|outcome| async move {
        match outcome {
            Ok(batch) => match broker.produce(batch).await {
                Ok(pending) => Admission::Accepted(pending),
                Err(e) => Admission::Refused(e),
            },
            Err(e) => Admission::Refused(e),
        }
    }))
    .await;
    let mut admissions: Vec<Option<Admission>> = admissions.into_iter().map(Some).collect();
    let topics = shape
        .into_iter()
        .map(|(name, partitions)| {
            let partitions = partitions
                .into_iter()
                .filter_map(|(index, slot)| Some((index, admissions[slot].take()?)))
                .collect();
            (name, partitions)
        })
        .collect();
    Admitted {
        version,
        acks,
        topics,
    }
}

impl Admitted {
    /// Waits for every accepted partition. `Ok(None)`: acks=0, nothing to
    /// send; `Err`: acks=0 and something failed, close the connection.
    pub(crate) async fn finish(self) -> Result<Option<ResponseKind>, String> {
        let version = self.version;
        let mut outcomes = Vec::new();
        let mut shape = Vec::with_capacity(self.topics.len());
        for (name, partitions) in self.topics {
            let mut indexes = Vec::with_capacity(partitions.len());
            for (index, admission) in partitions {
                indexes.push(index);
                outcomes.push(async move {
                    match admission {
                        Admission::Accepted(pending) => pending.await,
                        Admission::Refused(e) => Err(e),
                    }
                });
            }
            shape.push((name, indexes));
        }
        let mut outcomes = join_all(outcomes).await.into_iter();
        if self.acks == Some(Acks::None) {
            return match outcomes.find_map(Result::err) {
                None => Ok(None),
                Some(e) => Err(format!("a produce with acks=0 failed: {e}")),
            };
        }
        let responses = shape
            .into_iter()
            .map(|(name, indexes)| {
                let partitions = indexes
                    .into_iter()
                    .zip(outcomes.by_ref())
                    .map(|(index, outcome)| partition_response(version, index, &outcome))
                    .collect();
                TopicProduceResponse::default()
                    .with_name(name)
                    .with_partition_responses(partitions)
            })
            .collect();
        Ok(Some(ResponseKind::Produce(
            ProduceResponse::default().with_responses(responses),
        )))
    }
}

fn partition_response(
    version: i16,
    index: i32,
    outcome: &Result<Appended, BrokerError>,
) -> PartitionProduceResponse {
    let out = PartitionProduceResponse::default().with_index(index);
    match outcome {
        Ok(appended) => out
            .with_base_offset(appended.base_offset)
            .with_log_append_time_ms(appended.log_append_time_ms.unwrap_or(-1))
            .with_log_start_offset(appended.log_start_offset),
        Err(e) => {
            let mut out = out
                .with_error_code(e.code())
                .with_base_offset(-1)
                .with_log_append_time_ms(-1)
                .with_log_start_offset(-1);
            if version >= 8 {
                out.error_message = e.message();
            }
            out
        }
    }
}
