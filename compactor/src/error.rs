use stratus_format::batch::BatchError;
use stratus_format::segment::SegmentError;
use stratus_meta::MetaError;
use stratus_storage::log::LogError;

/// What can stop a compaction job. A failed job changes nothing that a
/// later run cannot finish or clean up.
#[derive(Debug, thiserror::Error)]
pub enum CompactError {
    #[error(transparent)]
    Log(#[from] LogError),
    #[error("metadata store: {0}")]
    Meta(#[from] MetaError),
    #[error("object store {operation} of {key:?} failed: {source}")]
    ObjectStore {
        operation: &'static str,
        key: String,
        source: object_store::Error,
    },
    #[error("segment: {0}")]
    Segment(#[from] SegmentError),
    #[error("record batch in {key:?}: {source}")]
    Batch { key: String, source: BatchError },
    #[error(
        "a block of topic {topic_id:032x} partition {partition} would span {span} offsets, more \
         than an index entry can hold; lower compactor.block_bytes"
    )]
    BlockSpan {
        topic_id: u128,
        partition: u32,
        span: i64,
    },
    #[error(
        "cannot sweep the staging files of the file:// tier in {dir}: {reason}; check that the \
         compactor may list and delete files there"
    )]
    StagingSweep { dir: String, reason: String },
    #[error("failpoint {0} fired")]
    Failpoint(&'static str),
}
