//! The gRPC listener's TLS: TCP connections from tonic's `TcpIncoming` go
//! through a rustls handshake (off the accept loop, bounded in number and
//! time) before tonic sees them, each carrying its client's identity.
//! A client that speaks plaintext to this port fails the handshake and is
//! dropped; there is no fallback.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::StreamExt;
use stratus_security::{ReloadingTls, peer_subject};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::{Connected, TcpIncoming};

use crate::limits::{TLS_HANDSHAKE_TIMEOUT, TLS_MAX_PENDING_HANDSHAKES};

/// What a TLS connection tells the services about its client; in each
/// request's extensions (`request.extensions().get::<ClientTls>()`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientTls {
    /// The client's address.
    pub remote_addr: Option<SocketAddr>,
    /// The subject of its verified certificate (mutual TLS), e.g. `CN=alice`.
    pub subject: Option<String>,
}

/// A connection after its handshake.
#[derive(Debug)]
pub(crate) struct TlsIo {
    stream: tokio_rustls::server::TlsStream<TcpStream>,
    client: ClientTls,
}

impl Connected for TlsIo {
    type ConnectInfo = ClientTls;

    fn connect_info(&self) -> ClientTls {
        self.client.clone()
    }
}

impl AsyncRead for TlsIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// Connections of `incoming` that complete a handshake with `tls`, until
/// `shutdown` turns true.
pub(crate) fn incoming(
    mut tcp: TcpIncoming,
    tls: ReloadingTls,
    mut shutdown: watch::Receiver<bool>,
) -> ReceiverStream<io::Result<TlsIo>> {
    let (tx, rx) = mpsc::channel(64);
    let slots = Arc::new(Semaphore::new(TLS_MAX_PENDING_HANDSHAKES));
    tokio::spawn(async move {
        loop {
            let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
                return;
            };
            let stream = tokio::select! {
                _ = shutdown.wait_for(|stopping| *stopping) => return,
                next = tcp.next() => match next {
                    Some(Ok(stream)) => stream,
                    Some(Err(e)) => {
                        tracing::debug!(error = %e, "accepting a gRPC connection failed");
                        continue;
                    }
                    None => return,
                },
            };
            let acceptor = tls.acceptor();
            let tx = tx.clone();
            tokio::spawn(async move {
                let remote_addr = stream.peer_addr().ok();
                let handshake =
                    tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream));
                let stream = match handshake.await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(e)) => {
                        tracing::debug!(peer = ?remote_addr, error = %e, "gRPC TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(peer = ?remote_addr, "gRPC TLS handshake timed out");
                        return;
                    }
                };
                drop(slot);
                let subject = peer_subject(stream.get_ref().1.peer_certificates());
                let client = ClientTls {
                    remote_addr,
                    subject,
                };
                let _ = tx.send(Ok(TlsIo { stream, client })).await;
            });
        }
    });
    ReceiverStream::new(rx)
}
