use crate::topic::TopicSpecError;
use stratus_meta::MetaError;

/// What can go wrong in the partition log. Messages say what to do.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("topic {name:?} not found; create it with `stratus topic create {name}`")]
    TopicNotFound { name: String },
    #[error("topic {name:?} already exists; choose another name or delete it first")]
    TopicExists { name: String },
    #[error("partition {partition} does not exist: topic {topic:?} has partitions 0..{partitions}")]
    PartitionNotFound {
        topic: String,
        partition: u32,
        partitions: u32,
    },
    #[error(
        "offset {offset} is out of range for {topic:?} partition {partition}: valid offsets are {log_start}..={next_offset}"
    )]
    OffsetOutOfRange {
        topic: String,
        partition: u32,
        offset: i64,
        log_start: i64,
        next_offset: i64,
    },
    #[error(transparent)]
    InvalidSpec(#[from] TopicSpecError),
    #[error("metadata store: {0}")]
    Meta(#[from] MetaError),
    #[error("object store {operation} of {key:?} failed: {source}")]
    ObjectStore {
        operation: &'static str,
        key: String,
        source: object_store::Error,
    },
    #[error("object {key:?} is corrupt: {reason}")]
    CorruptObject { key: String, reason: String },
    #[error(
        "wal object {key:?} was written {age_ms} ms ago, past the commit deadline; nothing was \
         committed: retry the produce (the object will be garbage-collected)"
    )]
    CommitDeadlinePassed { key: String, age_ms: i64 },
    #[error(
        "out-of-order sequence: producer {producer_id} sent base sequence {base_sequence} to partition \
         {partition}, which does not follow the last batch it wrote there; nothing was written: send a \
         producer's batches in sequence order (after an earlier batch is retried, resend this one)"
    )]
    OutOfOrderSequence {
        producer_id: i64,
        partition: u32,
        base_sequence: i32,
    },
    #[error(
        "producer fenced: producer {producer_id} epoch {epoch} is not current (a newer session \
         re-initialised it, or the id is unknown); nothing was written: call InitProducerId for a \
         new id or epoch"
    )]
    ProducerFenced { producer_id: i64, epoch: i16 },
    #[error("metadata is corrupt: {reason}")]
    CorruptMetadata { reason: String },
}
