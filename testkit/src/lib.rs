//! Real peers for Stratus tests. Nothing here is a mock: [`S3Server`] is an
//! S3 implementation (`s3s-fs`) speaking HTTP on loopback, with SigV4
//! authentication and create-only PUTs (`If-None-Match: *`) honoured;
//! [`MinioServer`] is a MinIO server process of the test's own (the same
//! credentials, an independent S3 implementation); [`PostgresServer`] is a
//! PostgreSQL server of the test's own.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tokio::net::TcpListener;

mod minio;
mod postgres;

pub use minio::{MINIO_BIN_ENV, MinioServer, minio_binary};
pub use postgres::{POSTGRES_USER, PostgresServer};

/// Access key the test server accepts.
pub const ACCESS_KEY: &str = "stratus-test-access";
/// Secret key the test server accepts.
pub const SECRET_KEY: &str = "stratus-test-secret";
/// Region clients sign for.
pub const REGION: &str = "us-east-1";

/// An S3 server on a loopback port, storing objects under a directory. It runs
/// on its own thread and runtime, so it outlives any gateway a test kills and
/// works from sync and async tests alike. Stops when dropped.
#[derive(Debug)]
pub struct S3Server {
    addr: SocketAddr,
    root: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl S3Server {
    /// Starts a server storing buckets as directories of `root`, with `buckets`
    /// created empty.
    ///
    /// # Panics
    /// If the directory or the listener cannot be set up: a broken test machine.
    pub fn start(root: &Path, buckets: &[&str]) -> Self {
        for bucket in buckets {
            std::fs::create_dir_all(root.join(bucket)).expect("create bucket directory");
        }
        let (ready, started) = mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let fs_root = root.to_owned();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("s3 server runtime");
            runtime.block_on(serve(fs_root, ready, stopped));
        });
        let addr = started.recv().expect("s3 server failed to start");
        Self {
            addr,
            root: root.to_owned(),
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Where bucket `bucket`'s objects live on disk.
    pub fn bucket_dir(&self, bucket: &str) -> PathBuf {
        self.root.join(bucket)
    }

    /// The standard AWS environment a client needs to reach this server.
    pub fn client_env(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID".into(), ACCESS_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY".into(), SECRET_KEY.into()),
            ("AWS_REGION".into(), REGION.into()),
            ("AWS_ENDPOINT".into(), self.endpoint()),
            ("AWS_ALLOW_HTTP".into(), "true".into()),
        ]
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(
    root: PathBuf,
    ready: mpsc::Sender<SocketAddr>,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    let fs = s3s_fs::FileSystem::new(&root).expect("s3s-fs root");
    let mut builder = S3ServiceBuilder::new(fs);
    builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
    let service = builder.build();
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind s3 server");
    let _ = ready.send(listener.local_addr().expect("local addr"));
    let http = ConnBuilder::new(TokioExecutor::new());
    loop {
        let socket = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((socket, _)) => socket,
                Err(_) => continue,
            },
            _ = &mut stopped => return,
        };
        let _ = socket.set_nodelay(true);
        let connection = http
            .serve_connection(TokioIo::new(socket), service.clone())
            .into_owned();
        tokio::spawn(async move {
            let _ = connection.await;
        });
    }
}
