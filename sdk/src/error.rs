//! The SDK's one error type: what went wrong and what the caller should do.

use tonic::Code;

/// Errors from the Stratus SDK.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("invalid gateway URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("{reason}")]
    UnsupportedTransport { url: String, reason: String },
    #[error(
        "cannot reach a gateway at {url}: {reason}; check the address or start one with `stratus dev`"
    )]
    Connect { url: String, reason: String },
    #[error("TLS setup failed: {0}")]
    Tls(String),
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The gateway refused or failed the call; its message says what to do.
    #[error("{} ({:?})", .0.message(), .0.code())]
    Status(tonic::Status),
    /// Another session of this producer re-initialised its id; this one may not
    /// write any more. Create a new producer.
    #[error("{0}")]
    Fenced(String),
    /// The gateway saw a gap in this producer's sequence numbers, so records
    /// before this batch were lost; the batch was not written.
    #[error("{0}")]
    OutOfOrderSequence(String),
    #[error(
        "record of {size} bytes is larger than the producer's buffer ({limit} bytes); raise buffer_bytes"
    )]
    RecordTooLarge { size: usize, limit: usize },
    #[error("partition {partition} does not exist; topic {topic:?} has {partitions} partitions")]
    UnknownPartition {
        topic: String,
        partition: u32,
        partitions: u32,
    },
    /// Retries went on for the whole delivery timeout. The records may or may
    /// not have been written; an idempotent producer stops after this, so
    /// create a new one.
    #[error(
        "no acknowledgement for {topic}/{partition} within the delivery timeout after {attempts} attempts (last error: {last_error}); the records may or may not have been written"
    )]
    DeliveryTimeout {
        topic: String,
        partition: u32,
        attempts: u32,
        last_error: String,
    },
    #[error("the producer is closed")]
    Closed,
    #[error("the gateway answered without {0}; is it a Stratus gateway of a compatible version?")]
    Protocol(&'static str),
}

impl Error {
    /// The gRPC status code, when the gateway gave one.
    pub fn code(&self) -> Option<Code> {
        match self {
            Error::Status(status) => Some(status.code()),
            _ => None,
        }
    }
}

impl From<tonic::Status> for Error {
    fn from(status: tonic::Status) -> Self {
        // The gateway marks these in the message (gateway/src/error.rs), and
        // they need action from the producer, not a plain retry.
        if status.code() == Code::FailedPrecondition {
            if status.message().starts_with("producer fenced") {
                return Error::Fenced(status.message().to_owned());
            }
            if status.message().starts_with("out-of-order sequence") {
                return Error::OutOfOrderSequence(status.message().to_owned());
            }
        }
        Error::Status(status)
    }
}

/// Codes after which the same call may succeed: the gateway was busy, gone, or
/// the answer was lost. With idempotence a produce retry never writes twice.
pub(crate) fn is_retryable(status: &tonic::Status) -> bool {
    matches!(
        status.code(),
        Code::Unavailable
            | Code::ResourceExhausted
            | Code::DeadlineExceeded
            | Code::Aborted
            | Code::Unknown
            | Code::Cancelled
    )
}

/// A result of the SDK.
pub type Result<T, E = Error> = std::result::Result<T, E>;
