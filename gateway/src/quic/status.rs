//! The one mapping of QUIC framing errors to gRPC status codes. Service
//! errors arrive as `Status` already (through `crate::error`); this covers
//! what fails before a service is reached.

use stratus_proto::frame::FrameError;
use tonic::{Code, Status};

use super::io::RequestError;

/// The status a QUIC request gets for a frame the codec refused.
pub(crate) fn frame_status(err: &FrameError) -> Status {
    let code = match err {
        FrameError::UnknownKind(_) | FrameError::UnexpectedKind { .. } => Code::Unimplemented,
        FrameError::TooLarge { .. }
        | FrameError::TooShort(_)
        | FrameError::HeaderOverrun { .. }
        | FrameError::TooManyHeaders { .. }
        | FrameError::InvalidHeaderKey { .. }
        | FrameError::InvalidHeaderValue { .. }
        | FrameError::DuplicateHeader { .. }
        | FrameError::BadPayload { .. } => Code::InvalidArgument,
    };
    Status::new(code, err.to_string())
}

/// The status a QUIC request that could not be read is answered with.
pub(crate) fn request_status(err: &RequestError) -> Status {
    match err {
        RequestError::Frame(frame) => frame_status(frame),
        RequestError::Truncated { .. } => Status::invalid_argument(err.to_string()),
        RequestError::Stream(_) => Status::cancelled(err.to_string()),
    }
}
