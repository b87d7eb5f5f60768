//! From a call to the batches the log appends, for a topic already looked
//! up: the call's shape, the client batches, routing, the record policy and
//! encoding, in that order, so a call is refused for its first problem
//! before any record is encoded. Pure and CPU-bound; the I/O around it
//! (admission, the topic lookup, the batcher) is `path`'s.

use std::collections::BTreeMap;

use stratus_storage::log::{AppendBatch, now_ms};
use stratus_storage::topic::TopicRecord;

use super::encode;
use super::request::{PartitionData, Produce};
use super::route::{self, StickyPartitioner};
use super::validate;
use crate::error::GatewayError;

/// The batches to append for `produce`, one per partition entry: client
/// batches in the order they were sent, or, when the call has records, all
/// batches in partition order.
pub(crate) fn prepare(
    topic: &TopicRecord,
    produce: Produce,
    keyless: &StickyPartitioner,
    zstd_level: i32,
) -> Result<Vec<AppendBatch>, GatewayError> {
    let producers = validate::producers(&produce)?;
    let mut batches = Vec::new();
    let mut explicit = Vec::new();
    let mut record_producers = BTreeMap::new();
    for (entry, producer) in produce.partitions.into_iter().zip(producers) {
        match entry.data {
            PartitionData::Batch(bytes) => {
                batches.push(encode::client_batch(
                    topic,
                    entry.partition,
                    bytes,
                    producer,
                )?);
            }
            PartitionData::Records(records) => {
                if let Some(p) = producer.for_records() {
                    record_producers.insert(entry.partition, p);
                }
                explicit.push((entry.partition, records));
            }
        }
    }
    // A call of client batches only has nothing to route.
    if !batches.is_empty() && explicit.is_empty() && produce.unrouted.is_empty() {
        return Ok(batches);
    }
    let routed = route::route(topic, explicit, produce.unrouted, keyless)?;
    validate::nothing_to_write(&routed)?;
    let now = now_ms();
    let inputs: BTreeMap<u32, Vec<_>> = routed
        .into_iter()
        .map(|(partition, records)| {
            let inputs = records.into_iter().map(|r| r.into_input(now)).collect();
            (partition, inputs)
        })
        .collect();
    for (partition, records) in &inputs {
        let policy = records.iter().map(|r| (r.key.is_some(), r.payload_len()));
        validate::records(topic, *partition, policy)?;
    }
    validate::one_entry_per_partition(batches.iter().map(|b| b.partition), &inputs)?;
    for (partition, records) in &inputs {
        let producer = record_producers.get(partition).copied();
        batches.push(encode::records(
            topic, *partition, records, zstd_level, producer,
        )?);
    }
    batches.sort_by_key(|b| b.partition);
    Ok(batches)
}

#[cfg(test)]
mod tests {
    use bytes::{Bytes, BytesMut};
    use stratus_format::batch::{RecordInput, encode_batch, stamp_producer};
    use stratus_storage::topic::{CleanupPolicy, TopicConfig};

    use super::*;
    use crate::produce::request::{PartitionProduce, ProduceRecord, ProducerFields};

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

    fn entry(partition: u32, data: PartitionData, base_sequence: Option<i32>) -> PartitionProduce {
        PartitionProduce {
            partition,
            data,
            base_sequence,
        }
    }

    fn call(partitions: Vec<PartitionProduce>, producer_id: Option<i64>) -> Produce {
        Produce {
            topic: "t".into(),
            partitions,
            unrouted: Vec::new(),
            producer: producer_id.map_or(ProducerFields::None, |producer_id| {
                ProducerFields::Request {
                    producer_id,
                    epoch: 1,
                }
            }),
        }
    }

    /// A client batch for one partition, then a record for another (or the
    /// same) partition.
    fn batch_then_records(batch_partition: u32, partition: u32, record: ProduceRecord) -> Produce {
        let records = PartitionData::Records(vec![record]);
        let client = PartitionData::Batch(batch(None, 10, None));
        let entries = vec![
            entry(batch_partition, client, None),
            entry(partition, records, None),
        ];
        call(entries, None)
    }

    fn prepared(produce: Produce, topic: &TopicRecord) -> Result<Vec<AppendBatch>, String> {
        prepare(topic, produce, &StickyPartitioner::default(), 1).map_err(|e| e.to_string())
    }

    #[test]
    fn a_stamped_batch_is_stored_as_it_came() {
        let t = topic(TopicConfig::default());
        let bytes = batch(Some("k"), 10, Some((5, 1, 30)));
        let produce = call(
            vec![entry(1, PartitionData::Batch(bytes.clone()), Some(30))],
            Some(5),
        );
        let out = prepared(produce, &t).unwrap();
        assert_eq!(out[0].batch, bytes, "no re-encoding");
        assert_eq!(out[0].record_count, 1);
        assert_eq!(out[0].producer.map(|p| p.base_sequence), Some(30));
    }

    #[test]
    fn batch_headers_name_the_producer() {
        let t = topic(TopicConfig::default());
        let mut produce = call(
            vec![entry(
                0,
                PartitionData::Batch(batch(None, 10, Some((9, 2, 4)))),
                None,
            )],
            None,
        );
        produce.producer = ProducerFields::BatchHeaders;
        let out = prepared(produce, &t).unwrap();
        let p = out[0].producer.unwrap();
        assert_eq!((p.producer_id, p.epoch, p.base_sequence), (9, 2, 4));
    }

    #[test]
    fn mismatched_producer_fields_and_policies_are_refused() {
        let t = topic(TopicConfig::default());
        let single = |partition, bytes, sequence, producer| {
            call(
                vec![entry(partition, PartitionData::Batch(bytes), sequence)],
                producer,
            )
        };
        let wrong_seq = single(0, batch(None, 10, Some((5, 1, 31))), Some(30), Some(5));
        let err = prepared(wrong_seq, &t).unwrap_err();
        assert!(
            err.contains("stamp the batch with the request's producer fields"),
            "{err}"
        );

        let not_idempotent = single(0, batch(None, 10, Some((5, 1, 0))), None, None);
        let err = prepared(not_idempotent, &t).unwrap_err();
        assert!(err.contains("not idempotent"), "{err}");

        let no_partition = single(9, batch(None, 10, None), None, None);
        assert!(prepared(no_partition, &t).unwrap_err().contains('9'));

        let small = topic(TopicConfig {
            max_message_bytes: 100,
            ..TopicConfig::default()
        });
        let too_big = single(0, batch(None, 500, None), None, None);
        let err = prepared(too_big, &small).unwrap_err();
        assert!(err.contains("max.message.bytes"), "{err}");

        let compacted = topic(TopicConfig {
            cleanup_policy: CleanupPolicy::Compact,
            ..TopicConfig::default()
        });
        let keyless = single(0, batch(None, 10, None), None, None);
        let err = prepared(keyless, &compacted).unwrap_err();
        assert!(err.contains("cleanup.policy=compact"), "{err}");
    }

    #[test]
    fn corrupt_bytes_and_doubled_partitions_are_refused_with_the_partition_named() {
        let t = topic(TopicConfig::default());
        let mut bytes = batch(None, 10, None).to_vec();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let corrupt = call(
            vec![entry(1, PartitionData::Batch(Bytes::from(bytes)), None)],
            None,
        );
        let err = prepared(corrupt, &t).unwrap_err();
        assert!(err.contains("partition 1") && err.contains("crc"), "{err}");

        let both = batch_then_records(0, 0, ProduceRecord::default());
        let err = prepared(both, &t).unwrap_err();
        assert!(err.contains("both a record_batch and records"), "{err}");
    }

    #[test]
    fn records_are_encoded_in_partition_order_after_client_batches_are_checked() {
        let t = topic(TopicConfig::default());
        let record = ProduceRecord {
            value: Some(Bytes::from_static(b"v")),
            timestamp_ms: Some(5),
            ..ProduceRecord::default()
        };
        let mixed = batch_then_records(1, 0, record);
        let out = prepared(mixed, &t).unwrap();
        assert_eq!(out.iter().map(|b| b.partition).collect::<Vec<_>>(), [0, 1]);
        assert_eq!((out[0].first_timestamp_ms, out[0].max_timestamp_ms), (5, 5));
        let empty = call(vec![entry(0, PartitionData::Records(vec![]), None)], None);
        assert!(prepared(empty, &t).unwrap_err().contains("no records"));
    }
}
