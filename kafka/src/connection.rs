//! One Kafka connection over any byte stream: size-prefixed frames in,
//! responses out in request order, several requests in flight at once.
//!
//! Bounds are applied before anything is allocated or decoded: the 4-byte
//! size prefix is checked against `max_frame_bytes` before the body is read
//! (a larger one closes the connection), and a request permit plus one byte
//! permit per body byte are taken before the body is read, held until its
//! response is written. A full budget stops reading, which stops the client
//! through TCP flow control.
//!
//! Requests are admitted one at a time in arrival order (see `session`), then
//! run as their own tasks; a writer task awaits them in order. Anything
//! malformed ends this connection only. This module must never look inside a
//! request: that is the session's.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinHandle;
use tokio::time::timeout;

use crate::limits::FRAME_PREFIX_BYTES;
use crate::{Broker, FrameError, KafkaConfig, Reply, Session};

/// The per-connection bounds, from [`KafkaConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Largest request body.
    pub max_frame_bytes: u32,
    /// Requests read and not yet answered.
    pub max_in_flight_requests: u32,
    /// Request bytes read and not yet answered; at least `max_frame_bytes`.
    pub max_in_flight_bytes: u32,
    /// Longest silence with nothing in flight, longest stall mid-frame, and
    /// longest wait for the client to take a response.
    pub idle_timeout: Duration,
}

impl From<&KafkaConfig> for ConnectionLimits {
    fn from(config: &KafkaConfig) -> Self {
        Self {
            max_frame_bytes: config.max_frame_bytes,
            max_in_flight_requests: config.max_in_flight_requests,
            // `validate` caps it at u32::MAX.
            max_in_flight_bytes: u32::try_from(config.max_in_flight_bytes).unwrap_or(u32::MAX),
            idle_timeout: config.idle_timeout,
        }
    }
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionEnd {
    /// The client closed it between requests.
    PeerClosed,
    /// Nothing in flight and no request for `idle_timeout`.
    Idle,
    /// A request started and did not finish arriving within `idle_timeout`,
    /// or the client did not take a response for that long.
    Stalled,
    /// A size prefix above `max_frame_bytes` (or negative); the body was not read.
    FrameTooLarge {
        /// The size the prefix claimed.
        len: i32,
        /// The limit.
        max: u32,
    },
    /// A frame that is not a request we answer.
    Malformed(FrameError),
    /// A handler asked to close (a failed acks=0 produce, an unanswerable
    /// request).
    Closed(String),
    /// Reading or writing failed, or the client closed mid-frame.
    Io(String),
}

/// Serves one connection until it ends, and says why it ended.
pub async fn serve_connection<S, B>(
    io: S,
    mut session: Session<B>,
    limits: ConnectionLimits,
) -> ConnectionEnd
where
    S: AsyncRead + AsyncWrite + Send + 'static,
    B: Broker + ?Sized,
{
    let (mut reader, writer) = tokio::io::split(io);
    let budget = Budget {
        requests: Arc::new(Semaphore::new(limits.max_in_flight_requests as usize)),
        bytes: Arc::new(Semaphore::new(limits.max_in_flight_bytes as usize)),
        max_requests: limits.max_in_flight_requests as usize,
    };
    let (tx, rx) = mpsc::channel(limits.max_in_flight_requests.max(1) as usize);
    let mut writer = AbortOnDrop(tokio::spawn(write_loop(writer, rx, limits.idle_timeout)));
    tokio::select! {
        end = read_loop(&mut reader, &mut session, &limits, &budget, tx) => {
            if end != ConnectionEnd::PeerClosed {
                return end;
            }
            // The client finished sending; answer what it already sent.
            match (&mut writer.0).await {
                Ok(Some(end)) => end,
                Ok(None) => ConnectionEnd::PeerClosed,
                Err(e) => ConnectionEnd::Io(format!("the response writer failed: {e}")),
            }
        }
        written = &mut writer.0 => match written {
            Ok(Some(end)) => end,
            Ok(None) => ConnectionEnd::PeerClosed,
            Err(e) => ConnectionEnd::Io(format!("the response writer failed: {e}")),
        },
    }
}

struct Budget {
    requests: Arc<Semaphore>,
    bytes: Arc<Semaphore>,
    max_requests: usize,
}

/// A request being handled, and its share of the budget.
struct InFlight {
    task: AbortOnDrop<Reply>,
    _request: OwnedSemaphorePermit,
    _bytes: OwnedSemaphorePermit,
}

/// A task that stops when the connection drops it: a closed connection
/// should not keep fetches long-polling. (Dropping a produce's wait does not
/// cancel its write; see `PendingAppend`.)
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn read_loop<R, B>(
    reader: &mut R,
    session: &mut Session<B>,
    limits: &ConnectionLimits,
    budget: &Budget,
    tx: mpsc::Sender<InFlight>,
) -> ConnectionEnd
where
    R: AsyncRead + Unpin,
    B: Broker + ?Sized,
{
    loop {
        let len = match read_prefix(reader, limits.idle_timeout, budget).await {
            Ok(len) => len,
            Err(end) => return end,
        };
        // Before SASL authentication the session allows small frames only.
        let max = session
            .frame_limit()
            .map_or(limits.max_frame_bytes, |l| l.min(limits.max_frame_bytes));
        let Some(len) = u32::try_from(len).ok().filter(|&l| l <= max) else {
            return ConnectionEnd::FrameTooLarge { len, max };
        };
        // Count the request before reading or allocating its body. Neither
        // semaphore is ever closed, and `len <= max_frame_bytes <=
        // max_in_flight_bytes`, so both acquisitions finish.
        let (Ok(request), Ok(bytes)) = (
            Arc::clone(&budget.requests).acquire_owned().await,
            Arc::clone(&budget.bytes).acquire_many_owned(len).await,
        ) else {
            return ConnectionEnd::Io("the connection's budget was closed".into());
        };
        let mut body = vec![0; len as usize];
        match timeout(limits.idle_timeout, reader.read_exact(&mut body)).await {
            Err(_) => return ConnectionEnd::Stalled,
            Ok(Err(e)) => return ConnectionEnd::Io(format!("reading a {len}-byte request: {e}")),
            Ok(Ok(_)) => {}
        }
        let call = match session.handle_frame(Bytes::from(body)) {
            Ok(call) => call,
            Err(e) => return ConnectionEnd::Malformed(e),
        };
        let pending = call.admit().await;
        let item = InFlight {
            task: AbortOnDrop(tokio::spawn(pending)),
            _request: request,
            _bytes: bytes,
        };
        if tx.send(item).await.is_err() {
            // The writer stopped; `serve_connection` reports why.
            return ConnectionEnd::Io("the response writer stopped".into());
        }
    }
}

/// Reads a size prefix. Silence is fine while requests are in flight (a
/// fetch may be long-polling); with nothing in flight it is idleness.
async fn read_prefix<R: AsyncRead + Unpin>(
    reader: &mut R,
    idle: Duration,
    budget: &Budget,
) -> Result<i32, ConnectionEnd> {
    let mut prefix = [0u8; FRAME_PREFIX_BYTES];
    let mut filled = 0;
    while filled < FRAME_PREFIX_BYTES {
        // `read` is cancel-safe: a timeout loses no bytes.
        match timeout(idle, reader.read(&mut prefix[filled..])).await {
            Err(_) if filled > 0 => return Err(ConnectionEnd::Stalled),
            Err(_) if budget.requests.available_permits() == budget.max_requests => {
                return Err(ConnectionEnd::Idle);
            }
            Err(_) => {}
            Ok(Ok(0)) if filled == 0 => return Err(ConnectionEnd::PeerClosed),
            Ok(Ok(0)) => {
                return Err(ConnectionEnd::Io(
                    "the client closed the connection in the middle of a size prefix".into(),
                ));
            }
            Ok(Ok(n)) => filled += n,
            Ok(Err(e)) => return Err(ConnectionEnd::Io(format!("reading a size prefix: {e}"))),
        }
    }
    Ok(i32::from_be_bytes(prefix))
}

/// Writes replies in request order. `None`: every request was answered and
/// the reader is done.
async fn write_loop<W: AsyncWrite + Unpin>(
    mut writer: W,
    mut rx: mpsc::Receiver<InFlight>,
    idle: Duration,
) -> Option<ConnectionEnd> {
    while let Some(mut item) = rx.recv().await {
        let reply = match (&mut item.task.0).await {
            Ok(reply) => reply,
            Err(e) => {
                return Some(ConnectionEnd::Closed(format!(
                    "a request handler failed: {e}"
                )));
            }
        };
        match reply {
            Reply::Frame(frame) => match timeout(idle, write_frame(&mut writer, &frame)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Some(ConnectionEnd::Io(format!("writing a response: {e}"))),
                // A client that stops reading would hold its budget forever.
                Err(_) => return Some(ConnectionEnd::Stalled),
            },
            Reply::Nothing => {}
            Reply::FrameThenClose(frame, reason) => {
                if let Ok(Ok(())) = timeout(idle, write_frame(&mut writer, &frame)).await {
                    let _ = writer.shutdown().await;
                }
                return Some(ConnectionEnd::Closed(reason));
            }
            Reply::Close(reason) => {
                let _ = writer.shutdown().await;
                return Some(ConnectionEnd::Closed(reason));
            }
        }
        // The permits go back only now, once the answer is on its way.
        drop(item);
    }
    let _ = writer.shutdown().await;
    None
}

async fn write_frame<W: AsyncWrite + Unpin>(writer: &mut W, frame: &Bytes) -> std::io::Result<()> {
    writer.write_all(frame).await?;
    writer.flush().await
}
