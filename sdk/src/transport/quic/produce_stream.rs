//! The ordered produce path over QUIC: one long-lived bidirectional stream
//! per shard of [`OrderedProducer`], carrying `ProduceRequest`s as
//! `ProduceStreamRequest` frames, answered in order by `ProduceStreamResponse`
//! frames. Requests of one stream reach the gateway's batcher in the order
//! they were written, so an idempotent producer can keep several batches in
//! flight per partition over QUIC as it does over gRPC.
//!
//! Within one stream a lost packet still delays the requests behind it (that
//! is what order costs), but other shards' streams and other calls on the
//! connection carry on.
//!
//! [`OrderedProducer`]: crate::transport::ordered::OrderedProducer

use std::sync::Arc;

use bytes::BytesMut;
use futures::StreamExt as _;
use quinn::RecvStream;
use stratus_proto::frame::{self, Frame, Headers, MessageKind};
use stratus_proto::v1::{ErrorDetail, ProduceResponse};
use tonic::{Code, Status};

use super::{Link, lost};
use crate::limits::QUIC_MAX_ANSWER_BYTES;
use crate::transport::ordered::{Answers, Opener, OutgoingRequests};

/// Opens ordered produce streams on `link`'s connection.
pub(super) fn opener(link: &Arc<Link>) -> Opener {
    let link = Arc::clone(link);
    Arc::new(move |requests| Box::pin(open(Arc::clone(&link), requests)))
}

async fn open(link: Arc<Link>, mut requests: OutgoingRequests) -> Result<Answers, Status> {
    let connection = link.connection().await?;
    let (mut send, recv) = connection
        .open_bi()
        .await
        .map_err(|e| lost(&link.url, &e))?;
    // Writes each request as the shard queues it, and finishes the stream
    // when the shard is done with it (idle, broken, or the producer gone).
    tokio::spawn(async move {
        while let Some(request) = requests.next().await {
            let frame = Frame::from_stream_message(&request, Headers::new())
                .expect("ProduceRequest travels on produce streams");
            let Ok(bytes) = frame.to_bytes() else {
                // Unframeable (beyond any frame limit): the gateway never
                // sees it, the stream ends, and its requests fail as broken.
                tracing::warn!(
                    size = frame.encoded_len(),
                    "a produce request does not fit in a frame"
                );
                break;
            };
            if send.write_all(&bytes).await.is_err() {
                return;
            }
        }
        let _ = send.finish();
    });
    let url = link.url.clone();
    Ok(Box::pin(futures::stream::unfold(
        Some((recv, BytesMut::new(), url)),
        |state| async move {
            let (mut recv, mut buf, url) = state?;
            match next_answer(&mut recv, &mut buf, &url).await {
                Ok(Some(response)) => Some((Ok(response), Some((recv, buf, url)))),
                Ok(None) => None,
                Err(status) => Some((Err(status), None)),
            }
        },
    )))
}

/// The next answer on the stream; `None` once the gateway finished it. An
/// error frame (a refused frame, a failure of the stream) ends the stream.
async fn next_answer(
    recv: &mut RecvStream,
    buf: &mut BytesMut,
    url: &str,
) -> Result<Option<ProduceResponse>, Status> {
    loop {
        match frame::decode(buf, QUIC_MAX_ANSWER_BYTES) {
            Ok(Some(frame)) => return answer(&frame, url).map(Some),
            Ok(None) => {}
            Err(e) => {
                return Err(Status::internal(format!(
                    "bad answer frame from {url} on a produce stream: {e}"
                )));
            }
        }
        match recv.read_chunk(usize::MAX, true).await {
            Ok(Some(chunk)) => buf.extend_from_slice(&chunk.bytes),
            Ok(None) if buf.is_empty() => return Ok(None),
            Ok(None) => {
                return Err(Status::unavailable(format!(
                    "{url} ended a produce stream inside a frame; the requests are retried"
                )));
            }
            Err(e) => return Err(lost(url, &e)),
        }
    }
}

fn answer(frame: &Frame, url: &str) -> Result<ProduceResponse, Status> {
    match frame.kind {
        MessageKind::ProduceStreamResponse => frame
            .message()
            .map_err(|e| Status::internal(format!("bad ProduceResponse from {url}: {e}"))),
        MessageKind::Error => {
            let detail: ErrorDetail = frame
                .message()
                .map_err(|e| Status::internal(format!("bad error frame from {url}: {e}")))?;
            Err(Status::new(Code::from_i32(detail.code), detail.message))
        }
        other => Err(Status::internal(format!(
            "{url} answered a produce stream with {other}"
        ))),
    }
}
