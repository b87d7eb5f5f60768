//! Turning a ProduceRequest into encoded batches: validation, routing (explicit
//! partition, Kafka's key partitioner, or one partition per call for keyless
//! records), and batch encoding. Pure functions; no I/O.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};

use bytes::BytesMut;
use stratus_proto::partitioner::partition_for_key;
use stratus_proto::v1::{self, ProduceRequest};
use stratus_format::batch::{Header, RecordInput, encode_batch, stamp_producer};
use stratus_storage::log::{AppendBatch, LogError, ProducerBatch, now_ms};
use stratus_storage::topic::{CleanupPolicy, TopicRecord};

use crate::error::GatewayError;

/// Records of one call grouped by partition, in the order they were sent.
pub(crate) type Routed = BTreeMap<u32, Vec<v1::Record>>;

/// Spreads keyless records: each call picks the next partition.
#[derive(Debug, Default)]
pub(crate) struct StickyPartitioner {
    next: AtomicU32,
}

impl StickyPartitioner {
    fn pick(&self, partitions: u32) -> u32 {
        self.next.fetch_add(1, Ordering::Relaxed) % partitions.max(1)
    }
}

/// An idempotent call's producer and each partition's base sequence.
#[derive(Debug, Clone)]
pub(crate) struct Idempotence {
    producer_id: i64,
    epoch: i16,
    base_sequences: BTreeMap<u32, i32>,
}

impl Idempotence {
    /// The producer fields a batch for `partition` must carry.
    pub(crate) fn producer_batch(&self, partition: u32) -> Option<ProducerBatch> {
        self.base_sequences.get(&partition).map(|s| ProducerBatch {
            producer_id: self.producer_id,
            epoch: self.epoch,
            base_sequence: *s,
        })
    }
}

/// Reads and checks the producer fields of a call; `None` when it is not
/// idempotent.
pub(crate) fn idempotence(request: &ProduceRequest) -> Result<Option<Idempotence>, GatewayError> {
    let Some(producer_id) = request.producer_id else {
        if let Some(group) = request
            .partitions
            .iter()
            .find(|g| g.base_sequence.is_some())
        {
            return Err(GatewayError::InvalidArgument(format!(
                "partition {} has a base_sequence but the request has no producer_id; \
                 get one with InitProducerId or leave base_sequence unset",
                group.partition
            )));
        }
        return Ok(None);
    };
    let invalid = |m: String| Err(GatewayError::InvalidArgument(m));
    if !request.records.is_empty() {
        return invalid(
            "an idempotent produce request (producer_id set) must put its records in \
             `partitions` with a base_sequence each, not in `records`: sequences are per partition"
                .to_owned(),
        );
    }
    let Ok(epoch) = i16::try_from(request.producer_epoch) else {
        return invalid(format!(
            "producer_epoch {} is out of range 0..={}; use the epoch InitProducerId returned",
            request.producer_epoch,
            i16::MAX
        ));
    };
    let mut base_sequences = BTreeMap::new();
    for group in &request.partitions {
        let Some(sequence) = group.base_sequence.filter(|s| *s >= 0) else {
            return invalid(format!(
                "partition {} has no valid base_sequence (got {:?}); an idempotent request \
                 numbers every partition's records from a base_sequence >= 0",
                group.partition, group.base_sequence
            ));
        };
        if base_sequences.insert(group.partition, sequence).is_some() {
            return invalid(format!(
                "partition {} appears twice in an idempotent request; send one batch per partition",
                group.partition
            ));
        }
    }
    Ok(Some(Idempotence {
        producer_id,
        epoch,
        base_sequences,
    }))
}

/// Groups a call's records by partition and checks them against the topic.
pub(crate) fn route(
    topic: &TopicRecord,
    request: ProduceRequest,
    keyless: &StickyPartitioner,
) -> Result<Routed, GatewayError> {
    let mut routed = Routed::new();
    for group in request.partitions {
        if group.partition >= topic.partitions {
            return Err(LogError::PartitionNotFound {
                topic: topic.name.clone(),
                partition: group.partition,
                partitions: topic.partitions,
            }
            .into());
        }
        routed
            .entry(group.partition)
            .or_default()
            .extend(group.records);
    }
    let mut keyless_partition = None;
    for record in request.records {
        let partition = match &record.key {
            Some(key) => partition_for_key(key, topic.partitions),
            None => *keyless_partition.get_or_insert_with(|| keyless.pick(topic.partitions)),
        };
        routed.entry(partition).or_default().push(record);
    }
    routed.retain(|_, records| !records.is_empty());
    if routed.is_empty() {
        return Err(GatewayError::InvalidArgument(
            "produce request has no records; add records to `partitions` or `records`".to_owned(),
        ));
    }
    for (partition, records) in &routed {
        check_sizes(topic, *partition, records)?;
    }
    Ok(routed)
}

fn check_sizes(
    topic: &TopicRecord,
    partition: u32,
    records: &[v1::Record],
) -> Result<(), GatewayError> {
    let limit = topic.config.max_message_bytes;
    let compacted = topic.config.cleanup_policy == CleanupPolicy::Compact;
    for (index, record) in records.iter().enumerate() {
        // Key compaction keeps the latest record per key: a keyless record
        // could never be compacted away (Kafka refuses them too).
        if compacted && record.key.is_none() {
            return Err(GatewayError::InvalidArgument(format!(
                "record {index} for partition {partition} has no key, but topic {:?} has \
                 cleanup.policy=compact; give every record a key",
                topic.name
            )));
        }
        let size = record.key.as_ref().map_or(0, |k| k.len())
            + record.value.as_ref().map_or(0, |v| v.len())
            + record
                .headers
                .iter()
                .map(|h| h.key.len() + h.value.len())
                .sum::<usize>();
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

/// Encodes each partition's records as one zstd RecordBatch v2, stamped with
/// the producer's id, epoch and sequence when the call is idempotent.
pub(crate) fn encode(
    topic: &TopicRecord,
    routed: Routed,
    zstd_level: i32,
    idempotence: Option<&Idempotence>,
) -> Result<Vec<AppendBatch>, GatewayError> {
    let now = now_ms();
    let mut batches = Vec::with_capacity(routed.len());
    for (partition, records) in routed {
        let inputs: Vec<RecordInput> = records
            .into_iter()
            .map(|r| RecordInput {
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
                timestamp_ms: r.timestamp_ms.unwrap_or(now),
            })
            .collect();
        let invalid = |e| GatewayError::InvalidArgument(format!("partition {partition}: {e}"));
        let mut batch = encode_batch(&inputs, zstd_level).map_err(invalid)?;
        let producer = idempotence.and_then(|i| i.producer_batch(partition));
        if let Some(p) = producer {
            let mut stamped = BytesMut::from(&batch[..]);
            stamp_producer(&mut stamped, p.producer_id, p.epoch, p.base_sequence)
                .map_err(invalid)?;
            batch = stamped.freeze();
        }
        batches.push(AppendBatch {
            topic_id: topic.id,
            partition,
            batch,
            record_count: inputs.len() as u32,
            first_timestamp_ms: inputs.first().map_or(now, |r| r.timestamp_ms),
            max_timestamp_ms: inputs.iter().map(|r| r.timestamp_ms).max().unwrap_or(now),
            producer,
        });
    }
    Ok(batches)
}
