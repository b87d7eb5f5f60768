//! The QUIC endpoint: the gRPC services' protobuf messages over QUIC, for
//! producers on lossy links, where one lost packet must not stall every call
//! on a connection the way it stalls HTTP/2 over TCP.
//!
//! One bidirectional stream per call carries one request frame and one answer
//! frame (`stratus_proto::frame`); an ordered produce stream carries many
//! produce requests, answered in order (`produce_stream`). Calls go to the same service methods the
//! gRPC server uses, so behaviour and errors are identical. TLS 1.3 always,
//! ALPN `stratus/1`. A bad frame is answered with an error frame and ends its
//! stream only; the connection and its other streams carry on.
//!
//! Limits: connections, streams per connection (QUIC flow control makes a
//! client wait for a free one), frame size, request bytes buffered across the
//! endpoint, idle time.

mod dispatch;
mod io;
mod produce_stream;
mod status;
mod stream;
mod tls;

use std::net::SocketAddr;
use std::sync::Arc;

use quinn::{Connection, Endpoint, Incoming, VarInt};
use tokio::sync::{Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};

pub(crate) use dispatch::Services;
pub use tls::{CertificateFiles, TlsError, self_signed_in};

use crate::config::QuicConfig;
use crate::limits::{QUIC_CLOSE_GRACE, QUIC_MAX_UNI_STREAMS};
use io::Limits;

/// Why the QUIC endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum QuicStartError {
    #[error(
        "QUIC needs a TLS certificate: set gateway.quic.cert and gateway.quic.key \
         (PEM files), or turn QUIC off with gateway.quic.enabled = false"
    )]
    NoCertificate,
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("invalid setting `quic.idle_timeout`: {0}")]
    IdleTimeout(String),
    #[error(
        "cannot listen for QUIC on UDP {addr}: {source}; choose another gateway.quic.listen \
         or set gateway.quic.enabled = false"
    )]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A running QUIC endpoint.
#[derive(Debug)]
pub(crate) struct QuicHandle {
    pub(crate) local_addr: SocketAddr,
    pub(crate) task: JoinHandle<()>,
}

/// Binds the endpoint and serves until `shutdown` flips, then lets calls in
/// flight finish before closing connections.
pub(crate) fn start(
    config: &QuicConfig,
    services: Services,
    shutdown: watch::Receiver<bool>,
) -> Result<QuicHandle, QuicStartError> {
    if config.cert.as_os_str().is_empty() {
        return Err(QuicStartError::NoCertificate);
    }
    let crypto = tls::server_crypto(&config.cert, &config.key)?;
    let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(crypto)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let mut server = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    let mut transport = quinn::TransportConfig::default();
    transport
        .max_concurrent_bidi_streams(VarInt::from_u32(config.max_concurrent_streams))
        .max_concurrent_uni_streams(VarInt::from_u32(QUIC_MAX_UNI_STREAMS))
        .receive_window(VarInt::from_u32(
            u32::try_from(config.receive_window).unwrap_or(u32::MAX),
        ))
        .max_idle_timeout(Some(config.idle_timeout.try_into().map_err(
            |e: quinn::VarIntBoundsExceeded| QuicStartError::IdleTimeout(e.to_string()),
        )?));
    server.transport_config(Arc::new(transport));
    let reset = tls::stateless_reset(&config.key)?;
    let mut endpoint_config = quinn::EndpointConfig::new(reset.token_key);
    let connection_id_key = reset.connection_id_key;
    endpoint_config.cid_generator(move || {
        Box::new(quinn_proto::HashedConnectionIdGenerator::from_key(
            connection_id_key,
        ))
    });
    let bind = |source| QuicStartError::Bind {
        addr: config.listen,
        source,
    };
    let socket = std::net::UdpSocket::bind(config.listen).map_err(bind)?;
    let runtime = quinn::default_runtime()
        .ok_or_else(|| bind(std::io::Error::other("no Tokio runtime to run QUIC on")))?;
    let endpoint = Endpoint::new(endpoint_config, Some(server), socket, runtime).map_err(bind)?;
    let local_addr = endpoint
        .local_addr()
        .map_err(|source| QuicStartError::Bind {
            addr: config.listen,
            source,
        })?;
    let limits = Arc::new(Limits {
        max_frame_bytes: config.max_frame_bytes as usize,
        buffered: Arc::new(Semaphore::new(config.max_buffered_bytes as usize)),
    });
    let task = tokio::spawn(accept_loop(
        endpoint,
        Arc::new(services),
        limits,
        config.max_connections as usize,
        shutdown,
    ));
    tracing::info!(%local_addr, "QUIC endpoint listening");
    Ok(QuicHandle { local_addr, task })
}

async fn accept_loop(
    endpoint: Endpoint,
    services: Arc<Services>,
    limits: Arc<Limits>,
    max_connections: usize,
    shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    let mut stop = shutdown.clone();
    loop {
        tokio::select! {
            incoming = endpoint.accept() => {
                let Some(incoming) = incoming else { break };
                if connections.len() >= max_connections {
                    tracing::warn!(max_connections, "refusing a QUIC connection: quic.max_connections reached");
                    incoming.refuse();
                    continue;
                }
                connections.spawn(serve_connection(
                    incoming,
                    Arc::clone(&services),
                    Arc::clone(&limits),
                    shutdown.clone(),
                ));
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = stop.wait_for(|stopping| *stopping) => break,
        }
    }
    // Connections see the shutdown too: they finish their calls and close.
    while connections.join_next().await.is_some() {}
    endpoint.close(VarInt::from_u32(0), b"gateway shutting down");
    let _ = tokio::time::timeout(QUIC_CLOSE_GRACE, endpoint.wait_idle()).await;
}

async fn serve_connection(
    incoming: Incoming,
    services: Arc<Services>,
    limits: Arc<Limits>,
    mut shutdown: watch::Receiver<bool>,
) {
    let connection: Connection = match incoming.await {
        Ok(connection) => connection,
        Err(e) => {
            tracing::debug!(error = %e, "QUIC handshake failed");
            return;
        }
    };
    let mut calls = JoinSet::new();
    // Ordered produce streams stop reading when shutdown begins.
    let streams_see = shutdown.clone();
    loop {
        tokio::select! {
            accepted = connection.accept_bi() => match accepted {
                Ok((send, recv)) => {
                    calls.spawn(stream::serve(
                        send,
                        recv,
                        Arc::clone(&services),
                        Arc::clone(&limits),
                        streams_see.clone(),
                    ));
                }
                Err(e) => {
                    tracing::debug!(remote = %connection.remote_address(), reason = %e, "QUIC connection ended");
                    break;
                }
            },
            Some(_) = calls.join_next(), if !calls.is_empty() => {}
            _ = shutdown.wait_for(|stopping| *stopping) => break,
        }
    }
    while calls.join_next().await.is_some() {}
    connection.close(VarInt::from_u32(0), b"gateway shutting down");
}
