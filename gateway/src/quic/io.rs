//! Frames on one QUIC stream: reading exactly one request frame within the
//! endpoint's memory bounds, and writing an answer frame. Knows nothing of
//! services or of what a frame means; `stream` and `produce_stream` decide.

use std::sync::Arc;

use bytes::BytesMut;
use quinn::{RecvStream, SendStream, VarInt};
use stratus_proto::frame::{self, Frame, FrameError, LENGTH_BYTES};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::Status;

/// Application error code of a STOP_SENDING sent after refusing a request, so
/// a client still writing an oversized frame stops at once.
pub(crate) const REQUEST_REFUSED: VarInt = VarInt::from_u32(1);

/// Bounds on what one endpoint reads.
#[derive(Debug)]
pub(crate) struct Limits {
    pub(crate) max_frame_bytes: usize,
    /// Request bytes held across all connections; a request waits here,
    /// unread, until its whole frame fits.
    pub(crate) buffered: Arc<Semaphore>,
}

/// Why a request could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RequestError {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error(
        "stream ended after {received} bytes, before a complete request frame; \
         send one whole frame, then finish the stream"
    )]
    Truncated { received: usize },
    /// The peer reset the stream or the connection went away: nobody to answer.
    #[error("stream failed: {0}")]
    Stream(#[from] quinn::ReadError),
}

/// A stream whose first frame has been read.
pub(crate) struct Opened {
    pub(crate) first: Frame,
    /// The first frame's share of `Limits::buffered`.
    pub(crate) permit: OwnedSemaphorePermit,
    pub(crate) send: SendStream,
    pub(crate) recv: RecvStream,
}

/// The error frame for `status`: its gRPC code and message.
pub(crate) fn status_frame(status: &Status) -> Frame {
    Frame::error(status.code() as i32, status.message())
}

/// Writes an answer frame (an error frame if it cannot be framed); false
/// once the client is gone.
pub(crate) async fn write_answer(send: &mut SendStream, answer: &Frame) -> bool {
    let bytes = match answer.to_bytes() {
        Ok(bytes) => bytes,
        Err(e) => {
            let status = Status::internal(format!("cannot frame the response: {e}"));
            match status_frame(&status).to_bytes() {
                Ok(bytes) => bytes,
                Err(_) => return false,
            }
        }
    };
    send.write_all(&bytes).await.is_ok()
}

/// Reads exactly one frame; `None` when the stream ends before its first
/// byte. Bytes past the length prefix and type are read only once the
/// frame's whole size is reserved in `limits.buffered`, and never more than
/// the frame, so memory stays within the configured bounds.
pub(crate) async fn read_frame(
    recv: &mut RecvStream,
    limits: &Limits,
) -> Result<Option<(Frame, OwnedSemaphorePermit)>, RequestError> {
    let mut buf = BytesMut::new();
    let mut reserved: Option<(usize, OwnedSemaphorePermit)> = None;
    loop {
        if let Some(frame) = frame::decode(&mut buf, limits.max_frame_bytes)? {
            let (_, permit) = reserved.expect("a whole frame was reserved before it was read");
            return Ok(Some((frame, permit)));
        }
        if reserved.is_none() && buf.len() > LENGTH_BYTES {
            // `decode` has checked the length against the limit and the type.
            let size = LENGTH_BYTES + u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
            let permit = Arc::clone(&limits.buffered)
                .acquire_many_owned(size as u32)
                .await
                .expect("the buffer semaphore is never closed");
            buf.reserve(size - buf.len());
            reserved = Some((size, permit));
        }
        let want = match &reserved {
            Some((size, _)) => size - buf.len(),
            None => LENGTH_BYTES + 1 - buf.len(),
        };
        match recv.read_chunk(want, true).await? {
            Some(chunk) => buf.extend_from_slice(&chunk.bytes),
            None if buf.is_empty() => return Ok(None),
            None => {
                return Err(RequestError::Truncated {
                    received: buf.len(),
                });
            }
        }
    }
}
