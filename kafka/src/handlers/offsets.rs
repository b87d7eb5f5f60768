//! Offsets of a partition's log: ListOffsets, OffsetForLeaderEpoch and
//! DeleteRecords. Every partition is asked for concurrently.
//!
//! A Stratus log never truncates: an offset, once given, is never taken back
//! by a leader change. So OffsetForLeaderEpoch answers any epoch the
//! partition has reached with the log end offset, which no consumer position
//! can exceed; clients then never detect a (non-existent) truncation.
//! Without transactions, read_committed and read_uncommitted see the same
//! offsets, so ListOffsets ignores the isolation level.

use futures::future::join_all;
use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{
    DeleteRecordsRequest, DeleteRecordsResponse, ListOffsetsRequest, ListOffsetsResponse,
    OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse, ResponseKind,
};

use crate::error::code_of;
use crate::{Broker, BrokerError, DeleteBefore, ListedOffset, OffsetSpec, TopicQuery, TopicRef};

/// Kafka's special ListOffsets timestamps.
const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;

/// Kafka's "no such epoch / offset".
const UNDEFINED: i64 = -1;

pub(crate) async fn list_offsets<B: Broker + ?Sized>(
    broker: &B,
    version: i16,
    request: ListOffsetsRequest,
) -> ResponseKind {
    let topics = request.topics.into_iter().map(|topic| async move {
        let partitions = topic.partitions.iter().map(|p| {
            let name = &topic.name;
            async move {
                let outcome = match spec_of(version, p.timestamp) {
                    Ok(spec) => broker.list_offsets(name, p.partition_index, spec).await,
                    Err(e) => Err(e),
                };
                listed(version, p.partition_index, &outcome)
            }
        });
        let partitions = join_all(partitions).await;
        ListOffsetsTopicResponse::default()
            .with_name(topic.name.clone())
            .with_partitions(partitions)
    });
    ResponseKind::ListOffsets(ListOffsetsResponse::default().with_topics(join_all(topics).await))
}

fn spec_of(version: i16, timestamp: i64) -> Result<OffsetSpec, BrokerError> {
    Ok(match timestamp {
        LATEST => OffsetSpec::Latest,
        EARLIEST => OffsetSpec::Earliest,
        MAX_TIMESTAMP if version >= 7 => OffsetSpec::MaxTimestamp,
        EARLIEST_LOCAL if version >= 8 => OffsetSpec::Earliest,
        t if t >= 0 => OffsetSpec::Timestamp(t),
        t => {
            return Err(BrokerError::InvalidRequest(format!(
                "ListOffsets v{version} timestamp {t} is neither a time nor one of -1 (latest), -2 (earliest){}",
                match version {
                    8.. => ", -3 (max timestamp), -4 (earliest local)",
                    7 => ", -3 (max timestamp)",
                    _ => "",
                }
            )));
        }
    })
}

fn listed(
    version: i16,
    index: i32,
    outcome: &Result<Option<ListedOffset>, BrokerError>,
) -> ListOffsetsPartitionResponse {
    let mut out = ListOffsetsPartitionResponse::default()
        .with_partition_index(index)
        .with_error_code(code_of(outcome))
        .with_offset(UNDEFINED)
        .with_timestamp(UNDEFINED);
    if let Ok(Some(found)) = outcome {
        out.offset = found.offset;
        out.timestamp = found.timestamp_ms.unwrap_or(UNDEFINED);
        if version >= 4 {
            out.leader_epoch = found.leader_epoch.unwrap_or(-1);
        }
    }
    out
}

pub(crate) async fn offset_for_leader_epoch<B: Broker + ?Sized>(
    broker: &B,
    request: OffsetForLeaderEpochRequest,
) -> ResponseKind {
    let refs = request
        .topics
        .iter()
        .map(|t| TopicRef::Name(t.topic.to_string()))
        .collect();
    let known = broker.topics(TopicQuery::Only(refs)).await;
    let topics = request.topics.iter().map(|topic| {
        let known = &known;
        async move {
            let info = match known {
                Ok(found) => found
                    .iter()
                    .find(|t| t.name.as_str() == topic.topic.as_str())
                    .ok_or_else(|| BrokerError::unknown_topic(&topic.topic)),
                Err(e) => Err(e.clone()),
            };
            let partitions = topic.partitions.iter().map(|p| {
                let info = info.clone();
                async move {
                    let current = info.and_then(|t| {
                        t.partitions
                            .iter()
                            .find(|q| q.index == p.partition)
                            .map(|q| q.leader_epoch)
                            .ok_or_else(|| {
                                BrokerError::unknown_partition(&topic.topic, p.partition)
                            })
                    });
                    let out = EpochEndOffset::default().with_partition(p.partition);
                    let current = match current {
                        Ok(epoch) => epoch,
                        Err(e) => return out.with_error_code(e.code()),
                    };
                    if p.leader_epoch < 0 || p.leader_epoch > current {
                        return out.with_leader_epoch(-1).with_end_offset(UNDEFINED);
                    }
                    let end = broker
                        .list_offsets(&topic.topic, p.partition, OffsetSpec::Latest)
                        .await;
                    match end {
                        Ok(Some(end)) => out
                            .with_leader_epoch(p.leader_epoch)
                            .with_end_offset(end.offset),
                        Ok(None) => out.with_leader_epoch(-1).with_end_offset(UNDEFINED),
                        Err(e) => out.with_error_code(e.code()),
                    }
                }
            });
            OffsetForLeaderTopicResult::default()
                .with_topic(topic.topic.clone())
                .with_partitions(join_all(partitions).await)
        }
    });
    ResponseKind::OffsetForLeaderEpoch(
        OffsetForLeaderEpochResponse::default().with_topics(join_all(topics).await),
    )
}

pub(crate) async fn delete_records<B: Broker + ?Sized>(
    broker: &B,
    request: DeleteRecordsRequest,
) -> ResponseKind {
    let topics = request.topics.iter().map(|topic| async move {
        let partitions = topic.partitions.iter().map(|p| async move {
            let before = match p.offset {
                -1 => Ok(DeleteBefore::HighWatermark),
                o if o >= 0 => Ok(DeleteBefore::Offset(o)),
                o => Err(BrokerError::OffsetOutOfRange(format!(
                    "cannot delete records before offset {o}; give an offset, or -1 for everything written"
                ))),
            };
            let outcome = match before {
                Ok(before) => {
                    broker
                        .delete_records(&topic.name, p.partition_index, before)
                        .await
                }
                Err(e) => Err(e),
            };
            DeleteRecordsPartitionResult::default()
                .with_partition_index(p.partition_index)
                .with_error_code(code_of(&outcome))
                .with_low_watermark(*outcome.as_ref().unwrap_or(&-1))
        });
        DeleteRecordsTopicResult::default()
            .with_name(topic.name.clone())
            .with_partitions(join_all(partitions).await)
    });
    ResponseKind::DeleteRecords(
        DeleteRecordsResponse::default().with_topics(join_all(topics).await),
    )
}
