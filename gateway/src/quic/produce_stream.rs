//! An ordered produce stream over QUIC: the client writes `ProduceRequest`s
//! as `ProduceStreamRequest` frames on one stream, and the gateway answers
//! each with a `ProduceStreamResponse` frame, in order, per-request errors
//! inside the response. The requests go through the same ordered pipeline as
//! gRPC's `ProduceStream`, so a producer's batches of one partition reach the
//! sequence check in the order it sent them and it may keep several in
//! flight, where one stream per call gives no order at all.
//!
//! The stream ends when the client finishes its side (after the last answer),
//! when a frame is bad (its error frame is the last thing written), or when
//! the gateway shuts down: it stops reading, answers what it has read, and
//! finishes, so the client retries the rest elsewhere.

use std::sync::Arc;

use futures::StreamExt as _;
use stratus_proto::frame::{Frame, Headers, MessageKind};
use stratus_proto::v1::ProduceRequest;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use super::dispatch::{Services, metadata_from};
use super::io::{
    Limits, Opened, REQUEST_REFUSED, RequestError, read_frame, status_frame, write_answer,
};
use super::status::{frame_status, request_status};
use crate::limits::QUIC_STREAM_DECODE_AHEAD;

/// Serves the stream `opened` to its end.
pub(crate) async fn serve(
    opened: Opened,
    services: Arc<Services>,
    limits: Arc<Limits>,
    shutdown: watch::Receiver<bool>,
) {
    let Opened {
        first,
        permit,
        mut send,
        recv,
    } = opened;
    let metadata = metadata_from(&first.headers);
    let (requests, pending) = mpsc::channel(QUIC_STREAM_DECODE_AHEAD);
    let (refused, refusal) = oneshot::channel();
    let reader = tokio::spawn(read_requests(
        (first, permit),
        recv,
        limits,
        shutdown,
        requests,
        refused,
    ));
    let mut responses = services
        .producer
        .ordered(metadata, ReceiverStream::new(pending));
    while let Some(response) = responses.next().await {
        let frame = match response {
            Ok(response) => Frame::from_stream_message(&response, Headers::new())
                .expect("ProduceResponse travels on produce streams"),
            Err(status) => status_frame(&status),
        };
        if !write_answer(&mut send, &frame).await {
            reader.abort();
            return;
        }
    }
    // Every request read was answered; a refused frame ends the stream with
    // the reason.
    if let Ok(status) = refusal.await {
        let _ = write_answer(&mut send, &status_frame(&status)).await;
    }
    let _ = send.finish();
}

/// Decodes frames into requests for the ordered pipeline until the client
/// finishes, a frame is refused (`refused` says why), or shutdown begins.
async fn read_requests(
    first: (Frame, tokio::sync::OwnedSemaphorePermit),
    mut recv: quinn::RecvStream,
    limits: Arc<Limits>,
    mut shutdown: watch::Receiver<bool>,
    requests: mpsc::Sender<Result<ProduceRequest, Status>>,
    refused: oneshot::Sender<Status>,
) {
    let mut next = Some(first);
    loop {
        let (frame, permit) = match next.take() {
            Some(read) => read,
            None => {
                let read = tokio::select! {
                    read = read_frame(&mut recv, &limits) => read,
                    _ = shutdown.wait_for(|stopping| *stopping) => return,
                };
                match read {
                    Ok(Some(read)) => read,
                    Ok(None) | Err(RequestError::Stream(_)) => return,
                    Err(e) => {
                        let _ = recv.stop(REQUEST_REFUSED);
                        let _ = refused.send(request_status(&e));
                        return;
                    }
                }
            }
        };
        let request = if frame.kind == MessageKind::ProduceStreamRequest {
            frame
                .message::<ProduceRequest>()
                .map_err(|e| frame_status(&e))
        } else {
            Err(Status::invalid_argument(format!(
                "{} on an ordered produce stream; send only ProduceStreamRequest frames on it",
                frame.kind
            )))
        };
        // Decoded: the frame's bytes no longer count against the buffer.
        drop(permit);
        match request {
            Ok(request) => {
                if requests.send(Ok(request)).await.is_err() {
                    return;
                }
            }
            Err(status) => {
                let _ = recv.stop(REQUEST_REFUSED);
                let _ = refused.send(status);
                return;
            }
        }
    }
}
