//! The TCP listener: binds, accepts up to `max_connections` connections and
//! serves each with its own [`Session`] until shutdown.
//!
//! It owns sockets and tasks only; what a connection does is
//! `connection.rs`, what a request does is the session's.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use stratus_security::{ReloadingTls, peer_subject};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::timeout;

use crate::connection::{ConnectionEnd, ConnectionLimits, serve_connection};
use crate::sasl::SaslContext;
use crate::{Broker, ConfigError, KafkaConfig, Session, SessionOptions};

/// The listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum ListenerError {
    /// A setting is out of range.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// `kafka.tls` does not load.
    #[error(transparent)]
    Tls(#[from] stratus_security::TlsError),
    /// The address could not be bound.
    #[error(
        "cannot listen for Kafka clients on {addr}: {source}; pick a free port in kafka.listen (port 0 picks one)"
    )]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A bound Kafka listener, not serving yet.
#[derive(Debug)]
pub struct KafkaListener {
    listener: TcpListener,
    local_addr: SocketAddr,
    config: KafkaConfig,
    tls: Option<ReloadingTls>,
}

impl KafkaListener {
    /// Validates `config` and binds `config.listen`.
    pub async fn bind(config: KafkaConfig) -> Result<Self, ListenerError> {
        config.validate()?;
        // Loaded before binding, so bad files fail the start, not a client.
        let tls = if config.tls.enabled() {
            Some(ReloadingTls::start(config.tls.clone(), "kafka.tls", &[])?)
        } else {
            None
        };
        let bind = |source| ListenerError::Bind {
            addr: config.listen,
            source,
        };
        let listener = TcpListener::bind(config.listen).await.map_err(bind)?;
        let local_addr = listener.local_addr().map_err(bind)?;
        Ok(Self {
            listener,
            local_addr,
            config,
            tls,
        })
    }

    /// The address actually bound (the real port when `listen` had port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Host and port clients should be told: the advertised settings, else
    /// the bound address.
    pub fn advertised(&self) -> (String, u16) {
        let host = match &self.config.advertised_host {
            Some(host) => host.clone(),
            None => self.local_addr.ip().to_string(),
        };
        (
            host,
            self.config
                .advertised_port
                .unwrap_or(self.local_addr.port()),
        )
    }

    /// Serves connections until `shutdown` completes, then closes them all.
    pub async fn serve<B: Broker + ?Sized>(
        self,
        broker: Arc<B>,
        shutdown: impl Future<Output = ()>,
    ) {
        let limits = ConnectionLimits::from(&self.config);
        let options = SessionOptions::from(&self.config);
        let sasl = SaslContext::new(&self.config.sasl);
        let slots = Arc::new(Semaphore::new(self.config.max_connections as usize));
        let mut connections = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                accepted = self.listener.accept() => {
                    let (stream, peer) = match accepted {
                        Ok(accepted) => accepted,
                        Err(e) => {
                            // Out of file descriptors, usually: back off
                            // instead of spinning.
                            tracing::warn!(error = %e, "accepting a Kafka connection failed");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                    };
                    let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                        tracing::warn!(%peer, max = self.config.max_connections,
                            "refusing a Kafka connection: kafka.max_connections reached");
                        continue;
                    };
                    // Requests and responses are small and latency-bound.
                    let _ = stream.set_nodelay(true);
                    let session = Session::new(Arc::clone(&broker), options.clone())
                        .with_sasl(sasl.clone(), Some(peer.ip()));
                    let tls = self.tls.as_ref().map(ReloadingTls::acceptor);
                    connections.spawn(async move {
                        let end = match tls {
                            None => serve_connection(stream, session, limits).await,
                            Some(acceptor) => {
                                // A plaintext client fails here; the same
                                // bound as a stalled request applies.
                                let handshake = timeout(limits.idle_timeout, acceptor.accept(stream));
                                match handshake.await {
                                    Ok(Ok(stream)) => {
                                        let subject = peer_subject(stream.get_ref().1.peer_certificates());
                                        tracing::debug!(%peer, ?subject, "Kafka TLS connection");
                                        serve_connection(stream, session, limits).await
                                    }
                                    Ok(Err(e)) => ConnectionEnd::Io(format!("TLS handshake failed: {e}")),
                                    Err(_) => ConnectionEnd::Stalled,
                                }
                            }
                        };
                        log_end(peer, &end);
                        drop(slot);
                    });
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        connections.shutdown().await;
    }
}

fn log_end(peer: SocketAddr, end: &ConnectionEnd) {
    match end {
        ConnectionEnd::PeerClosed | ConnectionEnd::Idle => {
            tracing::debug!(%peer, ?end, "Kafka connection ended");
        }
        ConnectionEnd::FrameTooLarge { .. }
        | ConnectionEnd::Malformed(_)
        | ConnectionEnd::Stalled
        | ConnectionEnd::Closed(_) => {
            tracing::info!(%peer, ?end, "Kafka connection closed");
        }
        ConnectionEnd::Io(e) => tracing::debug!(%peer, error = %e, "Kafka connection failed"),
    }
}
