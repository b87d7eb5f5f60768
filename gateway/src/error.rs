//! Gateway errors and their one mapping to gRPC status codes. Transports
//! build on this module; it must never depend on one (framing errors of QUIC
//! are mapped in `quic::status`).

use stratus_meta::MetaError;
use stratus_storage::group::GroupError;
use stratus_storage::log::LogError;
use stratus_storage::trigger::TriggerError;
use tonic::{Code, Status};

/// Why a gateway refused or failed a request. Messages say what to do.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(transparent)]
    Group(#[from] GroupError),
    #[error(transparent)]
    Trigger(#[from] TriggerError),
    #[error(transparent)]
    Credential(#[from] stratus_storage::credentials::CredentialError),
    #[error("{0}")]
    InvalidArgument(String),
    /// A client's record batch whose bytes fail their CRC-32C: damaged on
    /// the way, where other refusals are the client's mistake. gRPC answers
    /// both with INVALID_ARGUMENT; Kafka has a code of its own for this one.
    #[error("the record_batch for partition {partition} is refused: {problem}")]
    CorruptBatch { partition: u32, problem: String },
    #[error(
        "record {index} for partition {partition} is {size} bytes, over the topic's max.message.bytes of {limit}; \
         send smaller records or raise max.message.bytes"
    )]
    RecordTooLarge {
        index: usize,
        partition: u32,
        size: usize,
        limit: u32,
    },
    #[error(
        "gateway is at its in-flight limit ({limit} bytes of produce requests awaiting acknowledgement); \
         retry with backoff, slow down, or raise max_inflight_bytes"
    )]
    Overloaded { limit: u64 },
    #[error(
        "produce request of {size} bytes exceeds the gateway's in-flight limit of {limit} bytes; split it"
    )]
    RequestTooLarge { size: usize, limit: u64 },
    #[error("gateway is shutting down; retry on another gateway")]
    ShuttingDown,
    #[error("flush failed: {0}; nothing from this request was acknowledged, retry it")]
    FlushFailed(String),
}

impl From<GatewayError> for Status {
    fn from(err: GatewayError) -> Self {
        let code = match &err {
            GatewayError::Log(log) => log_code(log),
            GatewayError::Group(group) => group_code(group),
            GatewayError::Trigger(trigger) => trigger_code(trigger),
            GatewayError::Credential(credential) => credential_code(credential),
            GatewayError::InvalidArgument(_)
            | GatewayError::CorruptBatch { .. }
            | GatewayError::RecordTooLarge { .. }
            | GatewayError::RequestTooLarge { .. } => Code::InvalidArgument,
            GatewayError::Overloaded { .. } => Code::ResourceExhausted,
            GatewayError::ShuttingDown | GatewayError::FlushFailed(_) => Code::Unavailable,
        };
        Status::new(code, err.to_string())
    }
}

fn credential_code(err: &stratus_storage::credentials::CredentialError) -> Code {
    use stratus_storage::credentials::CredentialError as E;
    match err {
        E::BadUser(_) | E::BadCredential(_) => Code::InvalidArgument,
        E::NotFound { .. } => Code::NotFound,
        E::Corrupt { .. } => Code::Internal,
        E::Meta(_) => Code::Unavailable,
    }
}

/// FAILED_PRECONDITION tells a group member to rejoin; clients key on it.
fn group_code(err: &GroupError) -> Code {
    match err {
        GroupError::UnknownMember { .. }
        | GroupError::StaleGeneration { .. }
        | GroupError::NotAssigned { .. }
        | GroupError::GroupNotEmpty { .. }
        | GroupError::StrategyMismatch { .. }
        | GroupError::ProtocolMismatch { .. }
        | GroupError::UnreleasedInstance { .. } => Code::FailedPrecondition,
        GroupError::GroupNotFound { .. }
        | GroupError::TopicNotFound { .. }
        | GroupError::PartitionNotFound { .. } => Code::NotFound,
        GroupError::InvalidGroupId
        | GroupError::InvalidMemberId(_)
        | GroupError::InvalidArgument(_) => Code::InvalidArgument,
        GroupError::TooManyMembers { .. } | GroupError::TooManyGroups { .. } => {
            Code::ResourceExhausted
        }
        GroupError::Corrupt(_) => Code::DataLoss,
        GroupError::Meta(meta) => meta_code(meta),
    }
}

fn trigger_code(err: &TriggerError) -> Code {
    match err {
        TriggerError::Invalid(_) => Code::InvalidArgument,
        TriggerError::TopicNotFound { .. }
        | TriggerError::PartitionNotFound { .. }
        | TriggerError::NotFound { .. } => Code::NotFound,
        TriggerError::AlreadyExists { .. } => Code::AlreadyExists,
        TriggerError::Corrupt(_) => Code::DataLoss,
        TriggerError::Meta(meta) => meta_code(meta),
    }
}

fn log_code(err: &LogError) -> Code {
    match err {
        LogError::TopicNotFound { .. } | LogError::PartitionNotFound { .. } => Code::NotFound,
        LogError::TopicExists { .. } => Code::AlreadyExists,
        LogError::OffsetOutOfRange { .. } => Code::OutOfRange,
        // Not retryable as sent: the producer must resend in order or re-init.
        // Clients tell the two apart by the message's prefix.
        LogError::OutOfOrderSequence { .. } | LogError::ProducerFenced { .. } => {
            Code::FailedPrecondition
        }
        LogError::InvalidSpec(_) => Code::InvalidArgument,
        LogError::Meta(meta) => meta_code(meta),
        LogError::ObjectStore { .. } | LogError::CommitDeadlinePassed { .. } => Code::Unavailable,
        LogError::CorruptObject { .. } | LogError::CorruptMetadata { .. } => Code::DataLoss,
    }
}

fn meta_code(err: &MetaError) -> Code {
    match err {
        MetaError::KeyTooLarge { .. } | MetaError::ValueTooLarge { .. } => Code::InvalidArgument,
        // Retryable, possibly committed, or a backend failure: the client retries.
        _ => Code::Unavailable,
    }
}
