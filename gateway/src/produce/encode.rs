//! Records to bytes the log appends: plain records become one zstd
//! RecordBatch v2 per partition (stamped with the producer's fields when the
//! call is idempotent), and a batch the producer built is checked with
//! `stratus_format::batch::check_client_batch` and kept as it came, so the
//! gateway never recompresses what a client compressed. CPU-bound and pure:
//! no I/O, and the record policy is `validate`'s, called from here.

use bytes::{Bytes, BytesMut};
use stratus_format::batch::{
    BatchError, RecordInput, check_client_batch, encode_batch, stamp_producer,
};
use stratus_storage::log::{AppendBatch, ProducerBatch};
use stratus_storage::topic::TopicRecord;

use super::validate::{self, EntryProducer};
use crate::error::GatewayError;

/// Encodes one partition's records as one batch. `records` is not empty and
/// has met the record policy.
pub(crate) fn records(
    topic: &TopicRecord,
    partition: u32,
    records: &[RecordInput],
    zstd_level: i32,
    producer: Option<ProducerBatch>,
) -> Result<AppendBatch, GatewayError> {
    let invalid = |e| GatewayError::InvalidArgument(format!("partition {partition}: {e}"));
    let mut batch = encode_batch(records, zstd_level).map_err(invalid)?;
    if let Some(p) = producer {
        let mut stamped = BytesMut::from(&batch[..]);
        stamp_producer(&mut stamped, p.producer_id, p.epoch, p.base_sequence).map_err(invalid)?;
        batch = stamped.freeze();
    }
    let (first, max) = first_and_max(records.iter().map(|r| r.timestamp_ms));
    Ok(AppendBatch {
        topic_id: topic.id,
        partition,
        batch,
        record_count: records.len() as u32,
        first_timestamp_ms: first,
        max_timestamp_ms: max,
        producer,
    })
}

/// Checks a producer-built batch (bytes, producer fields, the record policy)
/// and makes it ready to append as it is.
pub(crate) fn client_batch(
    topic: &TopicRecord,
    partition: u32,
    bytes: Bytes,
    expected: EntryProducer,
) -> Result<AppendBatch, GatewayError> {
    validate::partition(topic, partition)?;
    let checked = check_client_batch(&bytes).map_err(|e| match e {
        BatchError::CrcMismatch { .. } => GatewayError::CorruptBatch {
            partition,
            problem: e.to_string(),
        },
        e => validate::batch_refused(partition, &e.to_string()),
    })?;
    let info = checked.info;
    let producer = validate::batch_producer(partition, &info, expected)?;
    let policy = checked
        .records
        .iter()
        .map(|r| (r.key.is_some(), r.payload_len()));
    validate::records(topic, partition, policy)?;
    // From the records rather than the header, which the producer wrote.
    let (first, max) = first_and_max(checked.records.iter().map(|r| r.timestamp_ms));
    Ok(AppendBatch {
        topic_id: topic.id,
        partition,
        batch: bytes,
        record_count: info.record_count,
        first_timestamp_ms: first,
        max_timestamp_ms: max,
        producer,
    })
}

/// First and largest record timestamp, as the index records them.
fn first_and_max(mut timestamps: impl Iterator<Item = i64>) -> (i64, i64) {
    let first = timestamps.next().unwrap_or(0);
    (first, timestamps.fold(first, i64::max))
}
