//! One QUIC call: read one request frame from a bidirectional stream, answer
//! with one frame, finish (or, for a `ProduceStreamRequest`, serve an ordered
//! produce stream). A bad frame gets an error frame and ends this stream only.

use std::sync::Arc;

use bytes::BytesMut;
use quinn::{RecvStream, SendStream, VarInt};
use stratus_proto::frame::{self, Frame, FrameError, LENGTH_BYTES, MessageKind};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tonic::Status;

use super::dispatch::{Services, status_frame};
use super::produce_stream;
use crate::error::quic_request_status;

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

/// Serves one call to completion; a stream opened with a
/// `ProduceStreamRequest` is an ordered produce stream ([`produce_stream`]).
pub(crate) async fn serve(
    mut send: SendStream,
    mut recv: RecvStream,
    services: Arc<Services>,
    limits: Arc<Limits>,
    shutdown: watch::Receiver<bool>,
) {
    let read = read_frame(&mut recv, &limits)
        .await
        .and_then(|frame| frame.ok_or(RequestError::Truncated { received: 0 }));
    let response = match read {
        Ok((request, permit)) if request.kind == MessageKind::ProduceStreamRequest => {
            let stream = Opened {
                first: request,
                permit,
                send,
                recv,
            };
            return produce_stream::serve(stream, services, limits, shutdown).await;
        }
        Ok((request, permit)) => {
            let response = services.call(request).await;
            drop(permit);
            response
        }
        Err(RequestError::Stream(e)) => {
            tracing::debug!(error = %e, "QUIC request stream failed");
            return;
        }
        Err(e) => {
            tracing::debug!(error = %e, "refusing a QUIC request");
            let _ = recv.stop(REQUEST_REFUSED);
            status_frame(&quic_request_status(&e))
        }
    };
    // A client that went away needs no answer; its stream just ends.
    if write_answer(&mut send, &response).await {
        let _ = send.finish();
    }
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

/// A stream whose first frame has been read.
pub(crate) struct Opened {
    pub(crate) first: Frame,
    /// The first frame's share of `Limits::buffered`.
    pub(crate) permit: OwnedSemaphorePermit,
    pub(crate) send: SendStream,
    pub(crate) recv: RecvStream,
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
