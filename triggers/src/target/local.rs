//! The Lambda Runtime API, served by the dispatcher, so an unmodified
//! `lambda_runtime` function started with `AWS_LAMBDA_RUNTIME_API=HOST:PORT`
//! receives the trigger's batches on a laptop.
//!
//! `GET /2018-06-01/runtime/invocation/next` long-polls for the next event;
//! the function answers on `/{id}/response` or `/{id}/error`; a function that
//! fails to start reports `/runtime/init/error`. Several function processes
//! may poll at once; each invocation goes to exactly one of them. The
//! timeout counts from the moment a function takes the event, so a batch
//! waits (and is not failed) while no function is running.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};

use super::{InvokeError, Invoker};
use crate::limits::RUNTIME_API_ACCEPT_PAUSE;

type Reply = oneshot::Sender<Result<Bytes, InvokeError>>;

/// An event waiting for a function to take it.
#[derive(Debug)]
struct Pending {
    payload: Bytes,
    reply: Reply,
}

#[derive(Debug, Default)]
struct State {
    queue: VecDeque<Pending>,
    /// Events a function took, by request id.
    running: HashMap<String, Reply>,
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    arrived: Notify,
    function_arn: String,
    timeout: Duration,
}

/// A Runtime API endpoint for one trigger's function. Dropping it stops the
/// server.
#[derive(Debug)]
pub struct LocalRuntime {
    inner: Arc<Inner>,
    addr: SocketAddr,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for LocalRuntime {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl LocalRuntime {
    /// Binds `addr` and serves the Runtime API there; port 0 takes a free
    /// port, which [`LocalRuntime::local_addr`] and the log name.
    pub async fn bind(
        addr: SocketAddr,
        function_arn: String,
        timeout: Duration,
    ) -> Result<Self, String> {
        let listener = TcpListener::bind(addr).await.map_err(|e| {
            format!(
                "cannot serve the Lambda Runtime API at {addr}: {e}; another dispatcher may run this \
                 trigger's local target (stop it) or the port is taken (pick another --local \
                 address, or port 0 for a free one)"
            )
        })?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let inner = Arc::new(Inner {
            state: Mutex::new(State::default()),
            arrived: Notify::new(),
            function_arn,
            timeout,
        });
        let server = tokio::spawn(serve(listener, Arc::clone(&inner)));
        // With port 0 the listener took a free port: this line says which
        // (the trigger tests read it from `stratus dispatcher`'s log).
        tracing::info!(
            %addr,
            "serving the Lambda Runtime API of {}; start the function with AWS_LAMBDA_RUNTIME_API={addr}",
            inner.function_arn
        );
        Ok(Self {
            inner,
            addr,
            server,
        })
    }

    /// The address to give functions as `AWS_LAMBDA_RUNTIME_API`.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

#[async_trait]
impl Invoker for LocalRuntime {
    async fn invoke(&self, payload: Bytes) -> Result<Bytes, InvokeError> {
        let (reply, answer) = oneshot::channel();
        lock(&self.inner)
            .queue
            .push_back(Pending { payload, reply });
        self.inner.arrived.notify_one();
        // Dropping this future (a revoked partition) closes `answer`; the
        // event is then skipped by `next` or its answer discarded.
        answer
            .await
            .unwrap_or_else(|_| Err(InvokeError::Transport("the runtime API stopped".to_owned())))
    }
}

fn lock(inner: &Inner) -> std::sync::MutexGuard<'_, State> {
    // A panic while holding the lock leaves plain data behind; keep serving.
    inner
        .state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn serve(listener: TcpListener, inner: Arc<Inner>) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "runtime API accept failed");
                tokio::time::sleep(RUNTIME_API_ACCEPT_PAUSE).await;
                continue;
            }
        };
        let inner = Arc::clone(&inner);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let inner = Arc::clone(&inner);
                async move { Ok::<_, Infallible>(route(&inner, request).await) }
            });
            // A function that exits mid-request is not an error worth logging.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

const PREFIX: &str = "/2018-06-01/runtime/";

async fn route(inner: &Arc<Inner>, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return answer(StatusCode::NOT_FOUND, "unknown path");
    };
    let method = request.method().clone();
    let body = match request.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(e) => return answer(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    match (method, rest.split('/').collect::<Vec<_>>().as_slice()) {
        (Method::GET, ["invocation", "next"]) => next(inner).await,
        (Method::POST, ["invocation", id, "response"]) => finish(inner, id, Ok(body)),
        (Method::POST, ["invocation", id, "error"]) => finish(
            inner,
            id,
            Err(InvokeError::from_error_body(&body, "Unhandled")),
        ),
        (Method::POST, ["init", "error"]) => init_error(inner, &body),
        _ => answer(StatusCode::NOT_FOUND, "unknown path"),
    }
}

/// Hands the next event to a polling function, waiting until there is one.
async fn next(inner: &Arc<Inner>) -> Response<Full<Bytes>> {
    loop {
        let arrived = inner.arrived.notified();
        if let Some(pending) = take_next(inner) {
            return pending;
        }
        arrived.await;
    }
}

fn take_next(inner: &Arc<Inner>) -> Option<Response<Full<Bytes>>> {
    let mut state = lock(inner);
    while let Some(pending) = state.queue.pop_front() {
        if pending.reply.is_closed() {
            continue;
        }
        let id = ulid::Ulid::generate().to_string();
        let deadline = SystemTime::now() + inner.timeout;
        state.running.insert(id.clone(), pending.reply);
        let deadline_ms = deadline
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        let timer = Arc::clone(inner);
        let timed_out = id.clone();
        tokio::spawn(async move {
            tokio::time::sleep(timer.timeout).await;
            let reply = lock(&timer).running.remove(&timed_out);
            if let Some(reply) = reply {
                let _ = reply.send(Err(InvokeError::Timeout(timer.timeout)));
            }
        });
        let mut response = Response::new(Full::new(pending.payload));
        let headers = response.headers_mut();
        let mut set = |name: &'static str, value: String| {
            if let Ok(value) = value.parse() {
                headers.insert(name, value);
            }
        };
        set("content-type", "application/json".to_owned());
        set("lambda-runtime-aws-request-id", id.clone());
        set("lambda-runtime-deadline-ms", deadline_ms.to_string());
        set(
            "lambda-runtime-invoked-function-arn",
            inner.function_arn.clone(),
        );
        set("lambda-runtime-trace-id", format!("Root=1-{id}"));
        // Another waiting function may take the next queued event.
        if !state.queue.is_empty() {
            inner.arrived.notify_one();
        }
        return Some(response);
    }
    None
}

fn finish(
    inner: &Arc<Inner>,
    id: &str,
    outcome: Result<Bytes, InvokeError>,
) -> Response<Full<Bytes>> {
    match lock(inner).running.remove(id) {
        Some(reply) => {
            let _ = reply.send(outcome);
            answer(StatusCode::ACCEPTED, "accepted")
        }
        None => answer(
            StatusCode::BAD_REQUEST,
            "unknown or expired request id (the invocation timed out or was already answered)",
        ),
    }
}

/// A function that cannot start fails the events waiting for it, so they are
/// retried (and eventually reach the on-failure topic) instead of waiting forever.
fn init_error(inner: &Arc<Inner>, body: &[u8]) -> Response<Full<Bytes>> {
    let error = match InvokeError::from_error_body(body, "InitError") {
        InvokeError::Function {
            error_type,
            message,
        } => InvokeError::Function {
            error_type,
            message: format!("function failed to initialize: {message}"),
        },
        other => other,
    };
    tracing::warn!(%error, "function reported an init error");
    let waiting: Vec<Pending> = lock(inner).queue.drain(..).collect();
    for pending in waiting {
        let _ = pending.reply.send(Err(error.clone()));
    }
    answer(StatusCode::ACCEPTED, "accepted")
}

fn answer(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let body = serde_json::json!({ "errorMessage": message, "errorType": status.as_str() });
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response
}
