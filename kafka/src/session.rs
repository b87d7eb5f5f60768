//! The sans-I/O request layer of one connection: a frame in, a response frame
//! (or nothing) out, with the [`Broker`] doing the work.
//!
//! A request passes three steps, so a connection can pipeline while produces
//! keep their order:
//!
//! 1. [`Session::handle_frame`] (synchronous): decode and check the version.
//!    An error closes the connection.
//! 2. [`Call::admit`]: the step the connection awaits one request at a time,
//!    in arrival order. Produce hands its batches to the broker here and
//!    OffsetCommit is carried out whole; every other API does nothing yet.
//! 3. [`Pending`]: the rest (waiting for durability, long-polling fetches,
//!    admin calls), run concurrently with other requests' third steps. The
//!    connection writes the [`Reply`]s in request order.
//!
//! SASL (`crate::sasl`) gates step 1: before a connection authenticates,
//! a frame of any API but ApiVersions, SaslHandshake and SaslAuthenticate
//! becomes a [`Reply::Close`]; SaslHandshake and SaslAuthenticate run whole
//! at step 2, so the next frame is gated by what they established.
//!
//! No sockets, no timers, no spawning here; that is `connection.rs`.

use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::FutureExt;
use futures::future::BoxFuture;
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind};

use crate::decode::{Decoded, Request, decode_request};
use crate::handlers::{self, produce, sasl};
use crate::limits::MAX_UNAUTHENTICATED_FRAME_BYTES;
use crate::sasl::SaslContext;
use crate::sasl::state::{Gate, SaslState};
use crate::{Broker, FrameError, KafkaConfig, encode};

/// One connection's SASL state, shared by its session and its calls. Calls
/// are admitted one at a time, so the lock is never contended.
type SharedSasl = Arc<tokio::sync::Mutex<SaslState>>;

/// What handlers need from the listener's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionOptions {
    /// Create topics that Metadata names and that do not exist.
    pub auto_create_topics: bool,
    /// Partitions of topics created without a count.
    pub default_partitions: u32,
    /// The zone of clients whose `client.id` names none.
    pub client_zone: Option<String>,
}

impl From<&KafkaConfig> for SessionOptions {
    fn from(config: &KafkaConfig) -> Self {
        Self {
            auto_create_topics: config.auto_create_topics,
            default_partitions: config.default_partitions,
            client_zone: config.client_zone.clone(),
        }
    }
}

/// The request layer of one connection.
pub struct Session<B: Broker + ?Sized> {
    broker: Arc<B>,
    options: Arc<SessionOptions>,
    sasl: SharedSasl,
}

impl<B: Broker + ?Sized> fmt::Debug for Session<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl<B: Broker + ?Sized> Session<B> {
    /// A session answering from `broker`.
    pub fn new(broker: Arc<B>, options: SessionOptions) -> Self {
        Self {
            broker,
            options: Arc::new(options),
            sasl: Arc::new(tokio::sync::Mutex::new(SaslState::new(None, None))),
        }
    }

    /// Requires SASL authentication (`context`, from `kafka.sasl`; `None`
    /// leaves it off) of a client connecting from `peer`.
    #[must_use]
    pub fn with_sasl(mut self, context: Option<Arc<SaslContext>>, peer: Option<IpAddr>) -> Self {
        self.sasl = Arc::new(tokio::sync::Mutex::new(SaslState::new(context, peer)));
        self
    }

    /// The largest next frame, when tighter than `kafka.max_frame_bytes`: a
    /// connection that has not authenticated yet sends small requests only.
    pub fn frame_limit(&self) -> Option<u32> {
        match self.sasl.try_lock() {
            Ok(state) => state.frame_limit(),
            Err(_) => Some(MAX_UNAUTHENTICATED_FRAME_BYTES),
        }
    }

    /// The user the connection authenticated as with SASL, if it did.
    pub fn user(&self) -> Option<String> {
        self.sasl
            .try_lock()
            .ok()
            .and_then(|state| state.user().map(str::to_owned))
    }

    /// Decodes one request frame (size prefix removed). `&mut self`: the
    /// session is per connection and carries its authentication state.
    pub fn handle_frame(&mut self, frame: Bytes) -> Result<Call<B>, FrameError> {
        let key = (frame.len() >= 2).then(|| i16::from_be_bytes([frame[0], frame[1]]));
        let gate = match self.sasl.try_lock() {
            Ok(state) => state.gate(key),
            Err(_) => Gate::Refuse("a request arrived while SASL authentication ran".into()),
        };
        let work = match gate {
            Gate::Serve => Work::Decoded(decode_request(frame)?),
            Gate::RawToken => Work::SaslToken(frame),
            Gate::Refuse(reason) => Work::Refused {
                key: key.and_then(|k| ApiKey::try_from(k).ok()),
                correlation_id: frame
                    .get(4..8)
                    .map_or(0, |b| i32::from_be_bytes([b[0], b[1], b[2], b[3]])),
                reason,
            },
        };
        Ok(Call {
            broker: Arc::clone(&self.broker),
            options: Arc::clone(&self.options),
            sasl: Arc::clone(&self.sasl),
            work,
        })
    }
}

/// What a frame turned out to be.
#[derive(Debug)]
enum Work {
    Decoded(Decoded),
    /// A bare SASL token (after SaslHandshake v0).
    SaslToken(Bytes),
    /// A request the connection's authentication does not allow.
    Refused {
        key: Option<ApiKey>,
        correlation_id: i32,
        reason: String,
    },
}

/// A decoded request, not yet admitted.
pub struct Call<B: Broker + ?Sized> {
    broker: Arc<B>,
    options: Arc<SessionOptions>,
    sasl: SharedSasl,
    work: Work,
}

impl<B: Broker + ?Sized> fmt::Debug for Call<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("work", &self.work)
            .finish_non_exhaustive()
    }
}

impl<B: Broker + ?Sized> Call<B> {
    /// The API called.
    pub fn api_key(&self) -> ApiKey {
        match &self.work {
            Work::Decoded(Decoded::Request(r)) => r.api_key,
            Work::Decoded(Decoded::ApiVersionsFallback { .. }) => ApiKey::ApiVersions,
            Work::SaslToken(_) => ApiKey::SaslAuthenticate,
            Work::Refused { key, .. } => key.unwrap_or(ApiKey::ApiVersions),
        }
    }

    /// The correlation id the answer carries.
    pub fn correlation_id(&self) -> i32 {
        match &self.work {
            Work::Decoded(Decoded::Request(r)) => r.header.correlation_id,
            Work::Decoded(Decoded::ApiVersionsFallback { correlation_id })
            | Work::Refused { correlation_id, .. } => *correlation_id,
            Work::SaslToken(_) => 0,
        }
    }

    /// Step 2: awaited in arrival order; returns the rest of the work.
    pub async fn admit(self) -> Pending {
        let Self {
            broker,
            options,
            sasl,
            work,
        } = self;
        let request = match work {
            Work::Refused { reason, .. } => return Pending::ready(Reply::Close(reason)),
            Work::SaslToken(token) => {
                let mut state = sasl.lock().await;
                return Pending::ready(match sasl::raw_token(&mut state, &*broker, &token).await {
                    Ok(answer) => Reply::Frame(encode::raw_token_frame(&answer)),
                    Err(reason) => Reply::Close(reason),
                });
            }
            Work::Decoded(Decoded::ApiVersionsFallback { correlation_id }) => {
                return Pending::ready(framed(encode::api_versions_fallback(correlation_id)));
            }
            Work::Decoded(Decoded::Request(request)) => *request,
        };
        let Request {
            header,
            api_key,
            version,
            body,
        } = request;
        let correlation_id = header.correlation_id;
        match body {
            RequestKind::Produce(produce) => {
                let admitted = produce::admit(&*broker, version, produce).await;
                Pending::new(async move {
                    match admitted.finish().await {
                        Ok(Some(response)) => framed(encode::response_frame(
                            api_key,
                            version,
                            correlation_id,
                            &response,
                        )),
                        Ok(None) => Reply::Nothing,
                        Err(reason) => Reply::Close(reason),
                    }
                })
            }
            RequestKind::SaslHandshake(r) => {
                let response = sasl::handshake(&mut *sasl.lock().await, version, &r);
                Pending::ready(framed(encode::response_frame(
                    api_key,
                    version,
                    correlation_id,
                    &response,
                )))
            }
            RequestKind::SaslAuthenticate(r) => {
                let mut state = sasl.lock().await;
                let done = sasl::authenticate(&mut state, &*broker, version, &r).await;
                let frame = framed(encode::response_frame(
                    api_key,
                    version,
                    correlation_id,
                    &done.response,
                ));
                Pending::ready(match (frame, done.close) {
                    (Reply::Frame(frame), Some(reason)) => Reply::FrameThenClose(frame, reason),
                    (reply, _) => reply,
                })
            }
            // Kafka applies a connection's requests one at a time, and a
            // consumer committing asynchronously relies on it: commits of
            // offsets 48, 49 and 50 in flight together must leave 50, so
            // each is finished before the next request is admitted.
            body @ RequestKind::OffsetCommit(_) => {
                Pending::ready(dispatch(&*broker, &options, &header, api_key, version, body).await)
            }
            body => Pending::new(async move {
                dispatch(&*broker, &options, &header, api_key, version, body).await
            }),
        }
    }
}

async fn dispatch<B: Broker + ?Sized>(
    broker: &B,
    options: &SessionOptions,
    header: &RequestHeader,
    api_key: ApiKey,
    version: i16,
    body: RequestKind,
) -> Reply {
    let client_id = header.client_id.as_deref().unwrap_or_default();
    match handlers::dispatch(broker, options, version, client_id, body).await {
        Ok(response) => framed(encode::response_frame(
            api_key,
            version,
            header.correlation_id,
            &response,
        )),
        Err(reason) => Reply::Close(reason),
    }
}

fn framed(encoded: Result<Bytes, String>) -> Reply {
    match encoded {
        Ok(frame) => Reply::Frame(frame),
        Err(reason) => {
            tracing::error!(%reason, "cannot encode a Kafka response; closing the connection");
            Reply::Close(reason)
        }
    }
}

/// What the connection does once a request is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Write this frame (size prefix included).
    Frame(Bytes),
    /// Write nothing: a produce with acks=0 that succeeded.
    Nothing,
    /// Write this frame, then close the connection: a failed SASL
    /// authentication, answered as Kafka does.
    FrameThenClose(Bytes, String),
    /// Close the connection without answering: a produce with acks=0 failed
    /// (Kafka's way to tell such a producer), or no correct answer exists.
    Close(String),
}

/// Step 3 of a request: its remaining work, resolving to its [`Reply`].
pub struct Pending(BoxFuture<'static, Reply>);

impl Pending {
    fn new(work: impl Future<Output = Reply> + Send + 'static) -> Self {
        Self(work.boxed())
    }

    fn ready(reply: Reply) -> Self {
        Self(futures::future::ready(reply).boxed())
    }
}

impl fmt::Debug for Pending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pending")
    }
}

impl Future for Pending {
    type Output = Reply;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Reply> {
        self.0.poll_unpin(cx)
    }
}
