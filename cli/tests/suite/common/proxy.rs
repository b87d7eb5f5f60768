//! A TCP proxy between a client and a gateway that loses replies: it forwards
//! every byte the client sends, and every `drop_every`-th chunk the gateway
//! sends back (after the connection's HTTP/2 preamble) it closes both sides
//! instead of relaying it. A produce whose request reached the gateway is
//! committed there, but its acknowledgement never arrives. The upstream can
//! be switched, so a restarted gateway takes over behind the same address.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug)]
pub struct LossyProxy {
    pub addr: SocketAddr,
    upstream: Arc<Mutex<String>>,
    dropped: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl LossyProxy {
    /// Proxies to `upstream` (`host:port`); 0 for `drop_every` loses nothing.
    pub async fn start(upstream: &str, drop_every: u64) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let upstream = Arc::new(Mutex::new(upstream.to_owned()));
        let dropped = Arc::new(AtomicU64::new(0));
        let chunks = Arc::new(AtomicU64::new(0));
        let (up, drops) = (upstream.clone(), dropped.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                let target = up.lock().unwrap().clone();
                let (drops, chunks) = (drops.clone(), chunks.clone());
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(&target).await {
                        relay(client, server, drop_every, &chunks, &drops).await;
                    }
                });
            }
        });
        Self {
            addr,
            upstream,
            dropped,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("grpc://{}", self.addr)
    }

    /// New connections go to `upstream` from now on.
    pub fn switch(&self, upstream: &str) {
        *self.upstream.lock().unwrap() = upstream.to_owned();
    }

    /// Replies lost so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl Drop for LossyProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn relay(
    client: TcpStream,
    server: TcpStream,
    drop_every: u64,
    chunks: &AtomicU64,
    dropped: &AtomicU64,
) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let upstream = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if server_write.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            }
        }
    };
    let downstream = async {
        let mut buf = vec![0u8; 64 * 1024];
        let mut seen = 0u64;
        loop {
            let n = match server_read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            seen += 1;
            // The first chunks are the server's HTTP/2 preamble and settings.
            let lose = drop_every > 0
                && seen > 2
                && chunks.fetch_add(1, Ordering::Relaxed) % drop_every == drop_every - 1;
            if lose {
                dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            if client_write.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    // Whichever side ends first closes both.
    tokio::select! {
        () = upstream => {}
        () = downstream => {}
    }
}
