//! Produce entries that carry a batch the producer built itself
//! (`PartitionRecords.record_batch`): checked as untrusted bytes and stored
//! as they came, so the gateway does not recompress what the client already
//! compressed. Entries with plain `records` (any gRPC client, the Python
//! peer) still go through [`crate::produce::encode`]. Pure functions; no I/O.

use bytes::Bytes;
use stratus_proto::v1::ProduceRequest;
use stratus_format::batch::{StoredRecord, check_client_batch};
use stratus_storage::log::{AppendBatch, LogError};
use stratus_storage::topic::{CleanupPolicy, TopicRecord};

use crate::error::GatewayError;
use crate::produce::Idempotence;

/// One partition's producer-built batch, taken out of a request.
#[derive(Debug)]
pub(crate) struct ClientBatch {
    pub(crate) partition: u32,
    pub(crate) bytes: Bytes,
}

/// Takes the entries with a `record_batch` out of `request`, leaving the
/// plain-record entries. A batch entry must not also carry records.
pub(crate) fn take_batches(request: &mut ProduceRequest) -> Result<Vec<ClientBatch>, GatewayError> {
    if request.partitions.iter().all(|g| g.record_batch.is_empty()) {
        return Ok(Vec::new());
    }
    let mut batches = Vec::new();
    let mut plain = Vec::with_capacity(request.partitions.len());
    for group in std::mem::take(&mut request.partitions) {
        if group.record_batch.is_empty() {
            plain.push(group);
            continue;
        }
        if !group.records.is_empty() {
            return Err(GatewayError::InvalidArgument(format!(
                "partition {} has both records and a record_batch; send the records in one of them",
                group.partition
            )));
        }
        batches.push(ClientBatch {
            partition: group.partition,
            bytes: group.record_batch,
        });
    }
    request.partitions = plain;
    Ok(batches)
}

/// Checks each batch (bytes, producer fields, the topic's record policies)
/// and makes it ready to append as it is.
pub(crate) fn check_batches(
    topic: &TopicRecord,
    batches: Vec<ClientBatch>,
    idempotence: Option<&Idempotence>,
) -> Result<Vec<AppendBatch>, GatewayError> {
    let mut out = Vec::with_capacity(batches.len());
    for ClientBatch { partition, bytes } in batches {
        if partition >= topic.partitions {
            return Err(LogError::PartitionNotFound {
                topic: topic.name.clone(),
                partition,
                partitions: topic.partitions,
            }
            .into());
        }
        let invalid = |problem: String| {
            GatewayError::InvalidArgument(format!(
                "the record_batch for partition {partition} is refused: {problem}"
            ))
        };
        let checked = check_client_batch(&bytes).map_err(|e| invalid(e.to_string()))?;
        let info = checked.info;
        let producer = idempotence.and_then(|i| i.producer_batch(partition));
        let stamped = (info.producer_id, info.producer_epoch, info.base_sequence);
        match producer {
            Some(p) if stamped != (p.producer_id, p.epoch, p.base_sequence) => {
                return Err(invalid(format!(
                    "its header carries producer {} epoch {} sequence {}, the request producer {} \
                     epoch {} sequence {}; stamp the batch with the request's producer fields",
                    stamped.0, stamped.1, stamped.2, p.producer_id, p.epoch, p.base_sequence
                )));
            }
            None if info.producer_id != -1 => {
                return Err(invalid(format!(
                    "its header carries producer id {} but the request is not idempotent; set \
                     producer_id and base_sequence on the request or -1 in the batch",
                    info.producer_id
                )));
            }
            _ => {}
        }
        check_records(topic, partition, &checked.records)?;
        let (first, max) = timestamps(&checked.records);
        out.push(AppendBatch {
            topic_id: topic.id,
            partition,
            batch: bytes,
            record_count: info.record_count,
            first_timestamp_ms: first,
            max_timestamp_ms: max,
            producer,
        });
    }
    Ok(out)
}

/// The same record policies plain records meet: sizes within
/// `max.message.bytes`, and a key on every record of a compacted topic.
fn check_records(
    topic: &TopicRecord,
    partition: u32,
    records: &[StoredRecord],
) -> Result<(), GatewayError> {
    let limit = topic.config.max_message_bytes;
    let compacted = topic.config.cleanup_policy == CleanupPolicy::Compact;
    for (index, record) in records.iter().enumerate() {
        if compacted && record.key.is_none() {
            return Err(GatewayError::InvalidArgument(format!(
                "record {index} for partition {partition} has no key, but topic {:?} has \
                 cleanup.policy=compact; give every record a key",
                topic.name
            )));
        }
        let size = record.payload_len();
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

/// First and largest record timestamp, as the index records them; taken from
/// the records rather than the header, which the producer wrote.
fn timestamps(records: &[StoredRecord]) -> (i64, i64) {
    let first = records.first().map_or(0, |r| r.timestamp_ms);
    let max = records
        .iter()
        .map(|r| r.timestamp_ms)
        .max()
        .unwrap_or(first);
    (first, max)
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use stratus_proto::v1::{PartitionRecords, Record};
    use stratus_format::batch::{RecordInput, encode_batch, stamp_producer};
    use stratus_storage::topic::TopicConfig;

    use super::*;
    use crate::produce::idempotence;

    fn topic(config: TopicConfig) -> TopicRecord {
        TopicRecord {
            id: 7,
            name: "t".into(),
            partitions: 2,
            config,
            created_at_ms: 0,
        }
    }

    fn batch(key: Option<&str>, value_len: usize, producer: Option<(i64, i16, i32)>) -> Bytes {
        let records = vec![RecordInput {
            key: key.map(|k| Bytes::from(k.to_owned())),
            value: Some(Bytes::from(vec![b'v'; value_len])),
            headers: Vec::new(),
            timestamp_ms: 1_700_000_000_000,
        }];
        let mut bytes = BytesMut::from(&encode_batch(&records, 1).unwrap()[..]);
        if let Some((id, epoch, seq)) = producer {
            stamp_producer(&mut bytes, id, epoch, seq).unwrap();
        }
        bytes.freeze()
    }

    fn request(entries: Vec<PartitionRecords>, producer: Option<i64>) -> ProduceRequest {
        ProduceRequest {
            topic: "t".into(),
            partitions: entries,
            producer_id: producer,
            producer_epoch: 1,
            ..ProduceRequest::default()
        }
    }

    fn entry(partition: u32, record_batch: Bytes, base_sequence: Option<i32>) -> PartitionRecords {
        PartitionRecords {
            partition,
            records: Vec::new(),
            base_sequence,
            record_batch,
        }
    }

    fn checked(
        request: &mut ProduceRequest,
        topic: &TopicRecord,
    ) -> Result<Vec<AppendBatch>, String> {
        let idem = idempotence(request).map_err(|e| e.to_string())?;
        let batches = take_batches(request).map_err(|e| e.to_string())?;
        check_batches(topic, batches, idem.as_ref()).map_err(|e| e.to_string())
    }

    #[test]
    fn a_stamped_batch_is_stored_as_it_came() {
        let t = topic(TopicConfig::default());
        let bytes = batch(Some("k"), 10, Some((5, 1, 30)));
        let mut req = request(vec![entry(1, bytes.clone(), Some(30))], Some(5));
        let out = checked(&mut req, &t).unwrap();
        assert_eq!(out[0].batch, bytes, "no re-encoding");
        assert_eq!(out[0].record_count, 1);
        assert_eq!(out[0].producer.map(|p| p.base_sequence), Some(30));
        assert!(req.partitions.is_empty());
    }

    #[test]
    fn mismatched_producer_fields_and_policies_are_refused() {
        let t = topic(TopicConfig::default());
        let mut wrong_seq = request(
            vec![entry(0, batch(None, 10, Some((5, 1, 31))), Some(30))],
            Some(5),
        );
        let err = checked(&mut wrong_seq, &t).unwrap_err();
        assert!(
            err.contains("stamp the batch with the request's producer fields"),
            "{err}"
        );

        let mut stamped_not_idempotent =
            request(vec![entry(0, batch(None, 10, Some((5, 1, 0))), None)], None);
        let err = checked(&mut stamped_not_idempotent, &t).unwrap_err();
        assert!(err.contains("not idempotent"), "{err}");

        let mut no_partition = request(vec![entry(9, batch(None, 10, None), None)], None);
        assert!(checked(&mut no_partition, &t).unwrap_err().contains("9"));

        let small = topic(TopicConfig {
            max_message_bytes: 100,
            ..TopicConfig::default()
        });
        let mut too_big = request(vec![entry(0, batch(None, 500, None), None)], None);
        let err = checked(&mut too_big, &small).unwrap_err();
        assert!(err.contains("max.message.bytes"), "{err}");

        let compacted = topic(TopicConfig {
            cleanup_policy: CleanupPolicy::Compact,
            ..TopicConfig::default()
        });
        let mut keyless = request(vec![entry(0, batch(None, 10, None), None)], None);
        let err = checked(&mut keyless, &compacted).unwrap_err();
        assert!(err.contains("cleanup.policy=compact"), "{err}");
    }

    #[test]
    fn corrupt_bytes_and_mixed_entries_are_refused_with_the_partition_named() {
        let t = topic(TopicConfig::default());
        let mut bytes = batch(None, 10, None).to_vec();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let mut corrupt = request(vec![entry(1, Bytes::from(bytes), None)], None);
        let err = checked(&mut corrupt, &t).unwrap_err();
        assert!(err.contains("partition 1") && err.contains("crc"), "{err}");

        let mut mixed = entry(0, batch(None, 10, None), None);
        mixed.records.push(Record::default());
        let mut both = request(vec![mixed], None);
        let err = checked(&mut both, &t).unwrap_err();
        assert!(err.contains("both records and a record_batch"), "{err}");
    }
}
