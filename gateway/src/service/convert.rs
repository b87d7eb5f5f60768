//! Conversions between wire messages and the gateway's own types (the
//! produce path's, storage's). The one place gRPC and QUIC messages are
//! translated; no service logic.

use stratus_format::batch::{Header, StoredRecord};
use stratus_proto::v1;
use stratus_storage::topic::{CleanupPolicy, TopicConfig, TopicRecord};

use crate::error::GatewayError;
use crate::produce::{
    PartitionAck, PartitionData, PartitionProduce, Produce, ProduceRecord, ProducerFields,
};

/// A wire produce request as the produce path takes it. Refuses what the
/// wire can say but a [`Produce`] cannot: a producer epoch outside `i16`,
/// and an entry with both records and a `record_batch`.
pub(crate) fn produce(request: v1::ProduceRequest) -> Result<Produce, GatewayError> {
    let producer = match request.producer_id {
        None => ProducerFields::None,
        Some(producer_id) => ProducerFields::Request {
            producer_id,
            epoch: epoch(
                request.producer_epoch,
                "use the epoch InitProducerId returned",
            )?,
        },
    };
    let mut partitions = Vec::with_capacity(request.partitions.len());
    for group in request.partitions {
        let data = if group.record_batch.is_empty() {
            PartitionData::Records(group.records.into_iter().map(record).collect())
        } else if group.records.is_empty() {
            PartitionData::Batch(group.record_batch)
        } else {
            return Err(GatewayError::InvalidArgument(format!(
                "partition {} has both records and a record_batch; send the records in one of them",
                group.partition
            )));
        };
        partitions.push(PartitionProduce {
            partition: group.partition,
            data,
            base_sequence: group.base_sequence,
        });
    }
    Ok(Produce {
        topic: request.topic,
        partitions,
        unrouted: request.records.into_iter().map(record).collect(),
        producer,
    })
}

/// A wire producer epoch (`int32` on the wire, `i16` in Kafka's batch
/// header); `fix` says what to send instead.
pub(crate) fn epoch(wire: i32, fix: &str) -> Result<i16, GatewayError> {
    i16::try_from(wire).map_err(|_| {
        GatewayError::InvalidArgument(format!(
            "producer_epoch {wire} is out of range 0..={}; {fix}",
            i16::MAX
        ))
    })
}

fn record(r: v1::Record) -> ProduceRecord {
    ProduceRecord {
        key: r.key,
        value: r.value,
        headers: r
            .headers
            .into_iter()
            .map(|h| Header {
                key: h.key,
                value: h.value,
            })
            .collect(),
        timestamp_ms: r.timestamp_ms,
    }
}

pub(crate) fn wire_acks(acks: Vec<PartitionAck>) -> Vec<v1::PartitionAck> {
    acks.into_iter()
        .map(|a| v1::PartitionAck {
            partition: a.partition,
            base_offset: a.base_offset,
            record_count: a.record_count,
        })
        .collect()
}

/// A new topic's settings from the wire: unset fields at their defaults.
pub(crate) fn topic_config(config: Option<v1::TopicConfig>) -> Result<TopicConfig, GatewayError> {
    match config {
        None => Ok(TopicConfig::default()),
        Some(config) => overlay_config(&TopicConfig::default(), config),
    }
}

/// `base` with the settings `set` gives replaced (unset fields, and an
/// unspecified cleanup policy, keep `base`'s).
pub(crate) fn overlay_config(
    base: &TopicConfig,
    set: v1::TopicConfig,
) -> Result<TopicConfig, GatewayError> {
    let cleanup_policy = match v1::CleanupPolicy::try_from(set.cleanup_policy) {
        Ok(v1::CleanupPolicy::Unspecified) => base.cleanup_policy,
        Ok(v1::CleanupPolicy::Delete) => CleanupPolicy::Delete,
        Ok(v1::CleanupPolicy::Compact) => CleanupPolicy::Compact,
        Err(_) => {
            return Err(GatewayError::InvalidArgument(format!(
                "cleanup.policy {} is unknown; use delete or compact",
                set.cleanup_policy
            )));
        }
    };
    let max_message_bytes = match set.max_message_bytes {
        None => base.max_message_bytes,
        Some(n) => u32::try_from(n).map_err(|_| {
            GatewayError::InvalidArgument(format!("max.message.bytes must be positive, not {n}"))
        })?,
    };
    Ok(TopicConfig {
        retention_ms: set.retention_ms.unwrap_or(base.retention_ms),
        retention_bytes: set.retention_bytes.unwrap_or(base.retention_bytes),
        cleanup_policy,
        max_message_bytes,
        delete_retention_ms: set.delete_retention_ms.unwrap_or(base.delete_retention_ms),
        max_compaction_lag_ms: set
            .max_compaction_lag_ms
            .unwrap_or(base.max_compaction_lag_ms),
    })
}

pub(crate) fn wire_config(config: &TopicConfig) -> v1::TopicConfig {
    v1::TopicConfig {
        retention_ms: Some(config.retention_ms),
        retention_bytes: Some(config.retention_bytes),
        cleanup_policy: match config.cleanup_policy {
            CleanupPolicy::Delete => v1::CleanupPolicy::Delete,
            CleanupPolicy::Compact => v1::CleanupPolicy::Compact,
        } as i32,
        max_message_bytes: Some(config.max_message_bytes as i32),
        delete_retention_ms: Some(config.delete_retention_ms),
        max_compaction_lag_ms: Some(config.max_compaction_lag_ms),
    }
}

/// The partitions a request names, or every partition of the topic when it
/// names none.
pub(crate) fn partitions_or_all(partitions: Vec<u32>, count: u32) -> Vec<u32> {
    if partitions.is_empty() {
        (0..count).collect()
    } else {
        partitions
    }
}

pub(crate) fn topic_id(topic: &TopicRecord) -> String {
    ulid::Ulid(topic.id).to_string()
}

pub(crate) fn consumed(record: StoredRecord) -> v1::ConsumedRecord {
    v1::ConsumedRecord {
        offset: record.offset,
        timestamp_ms: record.timestamp_ms,
        key: record.key,
        value: record.value,
        headers: record
            .headers
            .into_iter()
            .map(|h| v1::Header {
                key: h.key,
                value: h.value,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn entry(records: Vec<v1::Record>, record_batch: &'static [u8]) -> v1::PartitionRecords {
        v1::PartitionRecords {
            partition: 3,
            records,
            base_sequence: Some(7),
            record_batch: Bytes::from_static(record_batch),
        }
    }

    #[test]
    fn a_wire_request_keeps_its_entries_records_and_producer() {
        let request = v1::ProduceRequest {
            topic: "t".into(),
            partitions: vec![entry(vec![v1::Record::default()], b""), entry(vec![], b"x")],
            records: vec![v1::Record {
                key: Some(Bytes::from_static(b"k")),
                headers: vec![v1::Header {
                    key: "h".into(),
                    value: Bytes::from_static(b"v"),
                }],
                ..v1::Record::default()
            }],
            producer_id: Some(5),
            producer_epoch: 2,
            ..v1::ProduceRequest::default()
        };
        let produce = produce(request).unwrap();
        assert_eq!(
            produce.producer,
            ProducerFields::Request {
                producer_id: 5,
                epoch: 2
            }
        );
        assert!(matches!(&produce.partitions[0].data, PartitionData::Records(r) if r.len() == 1));
        assert_eq!(
            produce.partitions[1].data,
            PartitionData::Batch(Bytes::from_static(b"x"))
        );
        assert_eq!(produce.partitions[1].base_sequence, Some(7));
        assert_eq!(produce.unrouted[0].headers[0].key, "h");
    }

    #[test]
    fn what_a_produce_cannot_say_is_refused() {
        let both = v1::ProduceRequest {
            partitions: vec![entry(vec![v1::Record::default()], b"x")],
            ..v1::ProduceRequest::default()
        };
        let err = produce(both).unwrap_err().to_string();
        assert!(err.contains("both records and a record_batch"), "{err}");
        let epoch = v1::ProduceRequest {
            producer_id: Some(1),
            producer_epoch: 40_000,
            ..v1::ProduceRequest::default()
        };
        let err = produce(epoch).unwrap_err().to_string();
        assert!(
            err.contains("producer_epoch 40000 is out of range"),
            "{err}"
        );
    }
}
