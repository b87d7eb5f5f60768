//! One QUIC call: read one request frame from a bidirectional stream, answer
//! with one frame, finish (or, for a `ProduceStreamRequest`, serve an ordered
//! produce stream). A bad frame gets an error frame and ends this stream only.

use std::sync::Arc;

use quinn::{RecvStream, SendStream};
use stratus_proto::frame::MessageKind;
use tokio::sync::watch;

use super::dispatch::Services;
use super::io::{
    Limits, Opened, REQUEST_REFUSED, RequestError, read_frame, status_frame, write_answer,
};
use super::produce_stream;
use super::status::request_status;

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
            status_frame(&request_status(&e))
        }
    };
    // A client that went away needs no answer; its stream just ends.
    if write_answer(&mut send, &response).await {
        let _ = send.finish();
    }
}
