//! The rules a produce call must meet, in one place: the call's shape (who
//! the producer is and which sequence each entry starts at), the partition
//! range, a client batch's producer fields, and the record policy every
//! record meets however it arrived (size within the topic's
//! `max.message.bytes`, counting key, value and headers; a key on every
//! record of a compacted topic).
//!
//! Pure functions over values already decoded; they never encode, route or
//! touch storage, and no other module refuses a record for its content.

use std::collections::{BTreeMap, BTreeSet};

use stratus_format::batch::BatchInfo;
use stratus_storage::log::{LogError, ProducerBatch};
use stratus_storage::topic::{CleanupPolicy, TopicRecord};

use super::request::{Produce, ProducerFields};
use crate::error::GatewayError;

/// Where one entry's producer fields come from, once the call's shape is
/// checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntryProducer {
    /// Named by the request; `None` when the call is not idempotent.
    Stated(Option<ProducerBatch>),
    /// Read from the entry's batch header.
    Header,
}

impl EntryProducer {
    /// The producer fields of an entry of plain records.
    pub(crate) fn for_records(self) -> Option<ProducerBatch> {
        match self {
            Self::Stated(producer) => producer,
            // Records have no header to name a producer.
            Self::Header => None,
        }
    }
}

fn invalid<T>(message: String) -> Result<T, GatewayError> {
    Err(GatewayError::InvalidArgument(message))
}

/// Checks who the producer is and how the entries are numbered; returns each
/// entry's producer fields, in entry order.
pub(crate) fn producers(produce: &Produce) -> Result<Vec<EntryProducer>, GatewayError> {
    // Without a producer named by the request, no entry may carry a sequence.
    let unnumbered = |each: EntryProducer, why: &str| {
        if let Some(entry) = produce
            .partitions
            .iter()
            .find(|e| e.base_sequence.is_some())
        {
            return invalid(format!(
                "partition {} has a base_sequence {why}",
                entry.partition
            ));
        }
        Ok(vec![each; produce.partitions.len()])
    };
    let (producer_id, epoch) = match produce.producer {
        ProducerFields::None => {
            return unnumbered(
                EntryProducer::Stated(None),
                "but the request has no producer_id; get one with InitProducerId or leave \
                 base_sequence unset",
            );
        }
        ProducerFields::BatchHeaders => {
            return unnumbered(
                EntryProducer::Header,
                "but this call's producer fields are read from its batch headers; leave \
                 base_sequence unset",
            );
        }
        ProducerFields::Request { producer_id, epoch } => (producer_id, epoch),
    };
    if !produce.unrouted.is_empty() {
        return invalid(
            "an idempotent produce request (producer_id set) must put its records in \
             `partitions` with a base_sequence each, not in `records`: sequences are per partition"
                .to_owned(),
        );
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(produce.partitions.len());
    for entry in &produce.partitions {
        let Some(base_sequence) = entry.base_sequence.filter(|s| *s >= 0) else {
            return invalid(format!(
                "partition {} has no valid base_sequence (got {:?}); an idempotent request \
                 numbers every partition's records from a base_sequence >= 0",
                entry.partition, entry.base_sequence
            ));
        };
        if !seen.insert(entry.partition) {
            return invalid(format!(
                "partition {} appears twice in an idempotent request; send one batch per partition",
                entry.partition
            ));
        }
        out.push(EntryProducer::Stated(Some(ProducerBatch {
            producer_id,
            epoch,
            base_sequence,
        })));
    }
    Ok(out)
}

/// Refuses a partition the topic does not have.
pub(crate) fn partition(topic: &TopicRecord, partition: u32) -> Result<(), GatewayError> {
    if partition >= topic.partitions {
        return Err(LogError::PartitionNotFound {
            topic: topic.name.clone(),
            partition,
            partitions: topic.partitions,
        }
        .into());
    }
    Ok(())
}

/// Why a client batch for `partition` is refused, naming the partition.
pub(crate) fn batch_refused(partition: u32, problem: &str) -> GatewayError {
    GatewayError::InvalidArgument(format!(
        "the record_batch for partition {partition} is refused: {problem}"
    ))
}

/// The producer fields a client batch is stored with: those its header
/// carries, which must be the request's when the request names them.
pub(crate) fn batch_producer(
    partition: u32,
    info: &BatchInfo,
    expected: EntryProducer,
) -> Result<Option<ProducerBatch>, GatewayError> {
    let stamped = (info.producer_id, info.producer_epoch, info.base_sequence);
    match expected {
        EntryProducer::Stated(Some(p)) if stamped != (p.producer_id, p.epoch, p.base_sequence) => {
            Err(batch_refused(
                partition,
                &format!(
                    "its header carries producer {} epoch {} sequence {}, the request producer {} \
                     epoch {} sequence {}; stamp the batch with the request's producer fields",
                    stamped.0, stamped.1, stamped.2, p.producer_id, p.epoch, p.base_sequence
                ),
            ))
        }
        EntryProducer::Stated(None) if info.producer_id != -1 => Err(batch_refused(
            partition,
            &format!(
                "its header carries producer id {} but the request is not idempotent; set \
                 producer_id and base_sequence on the request or -1 in the batch",
                info.producer_id
            ),
        )),
        EntryProducer::Stated(producer) => Ok(producer),
        EntryProducer::Header if info.producer_id == -1 => Ok(None),
        EntryProducer::Header if info.producer_id < 0 || info.base_sequence < 0 => {
            Err(batch_refused(
                partition,
                &format!(
                    "its header carries producer id {} with base sequence {}; an idempotent \
                     batch numbers its records from a base sequence >= 0",
                    info.producer_id, info.base_sequence
                ),
            ))
        }
        EntryProducer::Header => Ok(Some(ProducerBatch {
            producer_id: info.producer_id,
            epoch: info.producer_epoch,
            base_sequence: info.base_sequence,
        })),
    }
}

/// The record policy. `records` yields, per record in order, whether it has
/// a key and its payload bytes (key, value, headers).
pub(crate) fn records(
    topic: &TopicRecord,
    partition: u32,
    records: impl IntoIterator<Item = (bool, usize)>,
) -> Result<(), GatewayError> {
    let limit = topic.config.max_message_bytes;
    let compacted = topic.config.cleanup_policy == CleanupPolicy::Compact;
    for (index, (has_key, size)) in records.into_iter().enumerate() {
        // Key compaction keeps the latest record per key: a keyless record
        // could never be compacted away (Kafka refuses them too).
        if compacted && !has_key {
            return invalid(format!(
                "record {index} for partition {partition} has no key, but topic {:?} has \
                 cleanup.policy=compact; give every record a key",
                topic.name
            ));
        }
        if size > limit as usize {
            return Err(GatewayError::RecordTooLarge {
                index,
                partition,
                size,
                limit,
            });
        }
    }
    Ok(())
}

/// A call that routed to no records at all.
pub(crate) fn nothing_to_write<T>(routed: &BTreeMap<u32, T>) -> Result<(), GatewayError> {
    if routed.is_empty() {
        return invalid(
            "produce request has no records; add records to `partitions` or `records`".to_owned(),
        );
    }
    Ok(())
}

/// A partition given both a client batch and records in one call: their
/// order relative to each other would be the gateway's guess.
pub(crate) fn one_entry_per_partition<T>(
    batch_partitions: impl IntoIterator<Item = u32>,
    routed: &BTreeMap<u32, T>,
) -> Result<(), GatewayError> {
    if let Some(twice) = batch_partitions
        .into_iter()
        .find(|p| routed.contains_key(p))
    {
        return invalid(format!(
            "partition {twice} gets both a record_batch and records in one request; \
             send one entry per partition"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use stratus_format::batch::{RecordInput, check_client_batch, encode_batch, stamp_producer};
    use stratus_storage::topic::TopicConfig;

    use super::*;
    use crate::produce::request::{PartitionData, PartitionProduce, ProduceRecord};

    fn entry(partition: u32, base_sequence: Option<i32>) -> PartitionProduce {
        PartitionProduce {
            partition,
            data: PartitionData::Records(vec![ProduceRecord::default()]),
            base_sequence,
        }
    }

    fn idempotent(partitions: Vec<PartitionProduce>) -> Produce {
        Produce {
            topic: "t".into(),
            partitions,
            unrouted: Vec::new(),
            producer: ProducerFields::Request {
                producer_id: 5,
                epoch: 1,
            },
        }
    }

    fn message(result: Result<Vec<EntryProducer>, GatewayError>) -> String {
        result.unwrap_err().to_string()
    }

    #[test]
    fn an_idempotent_call_numbers_every_partition_once() {
        let ok = producers(&idempotent(vec![entry(0, Some(3)), entry(1, Some(0))])).unwrap();
        assert_eq!(
            ok[0],
            EntryProducer::Stated(Some(ProducerBatch {
                producer_id: 5,
                epoch: 1,
                base_sequence: 3
            }))
        );
        let missing = message(producers(&idempotent(vec![entry(0, None)])));
        assert!(missing.contains("no valid base_sequence"), "{missing}");
        let twice = message(producers(&idempotent(vec![
            entry(0, Some(0)),
            entry(0, Some(1)),
        ])));
        assert!(twice.contains("appears twice"), "{twice}");
        let mut routed = idempotent(vec![entry(0, Some(0))]);
        routed.unrouted.push(ProduceRecord::default());
        assert!(message(producers(&routed)).contains("not in `records`"));
        let plain = Produce {
            partitions: vec![entry(2, Some(0))],
            ..Produce::default()
        };
        assert!(message(producers(&plain)).contains("no producer_id"));
    }

    #[test]
    fn producers_named_by_batch_headers() {
        let info = |producer_id, base_sequence| {
            let record = RecordInput {
                key: None,
                value: None,
                headers: Vec::new(),
                timestamp_ms: 0,
            };
            let mut bytes = BytesMut::from(&encode_batch(&[record], 1).unwrap()[..]);
            stamp_producer(&mut bytes, producer_id, 2, base_sequence).unwrap();
            check_client_batch(&bytes.freeze()).unwrap().info
        };
        let header = EntryProducer::Header;
        assert_eq!(batch_producer(0, &info(-1, -1), header).unwrap(), None);
        let named = batch_producer(0, &info(9, 4), header).unwrap().unwrap();
        assert_eq!(
            (named.producer_id, named.epoch, named.base_sequence),
            (9, 2, 4)
        );
        let err = batch_producer(3, &info(9, -1), header)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("partition 3") && err.contains("base sequence"),
            "{err}"
        );
    }

    #[test]
    fn the_record_policy_names_the_record() {
        let topic = |config| TopicRecord {
            id: 1,
            name: "t".into(),
            partitions: 1,
            config,
            created_at_ms: 0,
        };
        let small = topic(TopicConfig {
            max_message_bytes: 10,
            ..TopicConfig::default()
        });
        records(&small, 0, [(false, 10)]).unwrap();
        let err = records(&small, 0, [(false, 1), (false, 11)]).unwrap_err();
        assert!(matches!(err, GatewayError::RecordTooLarge { index: 1, .. }));
        let compacted = topic(TopicConfig {
            cleanup_policy: CleanupPolicy::Compact,
            ..TopicConfig::default()
        });
        let err = records(&compacted, 0, [(false, 1)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("cleanup.policy=compact"), "{err}");
    }
}
