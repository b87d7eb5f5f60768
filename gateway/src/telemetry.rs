//! How the gateway reports itself: server spans that continue a client's
//! trace (W3C `traceparent` in gRPC metadata), the error kinds of failed
//! calls, and the observable gauges read from live gateway state. Recording
//! is a counter add or histogram record per call or flush, never per record
//! log line.

use std::sync::{Arc, Weak};

use opentelemetry::Context;
use opentelemetry::trace::TraceContextExt as _;
use stratus_proto::trace_context::{extract_span_context, span_context_from};
use stratus_proto::v1::{ProduceRequest, ProduceResponse};
use stratus_storage::log::Log;
use stratus_telemetry::KeyValue;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tonic::metadata::MetadataMap;
use tonic::{Code, Status};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// A server span for one call, the child of the caller's span when the call
/// carries a `traceparent`.
pub(crate) fn server_span(span: tracing::Span, metadata: &MetadataMap) -> tracing::Span {
    server_span_from(span, extract_span_context(metadata))
}

/// A server span whose parent is `parent`, when there is one.
pub(crate) fn server_span_from(
    span: tracing::Span,
    parent: Option<opentelemetry::trace::SpanContext>,
) -> tracing::Span {
    if let Some(parent) = parent {
        // Fails only when no OpenTelemetry layer is installed: nothing to link.
        let _ = span.set_parent(Context::new().with_remote_span_context(parent));
    }
    span
}

/// The server span of one produce request: the child of the client span
/// named in the request, else of the one in the call's metadata.
pub(crate) fn produce_span(request: &ProduceRequest, metadata: &MetadataMap) -> tracing::Span {
    let span = tracing::info_span!("produce", otel.kind = "server", topic = %request.topic);
    match span_context_from(&request.traceparent, &request.tracestate) {
        Some(parent) => server_span_from(span, Some(parent)),
        None => server_span(span, metadata),
    }
}

/// Counts one answered produce request; `started` is when it was received.
pub(crate) fn record_produce(started: Instant, result: &Result<ProduceResponse, Status>) {
    let metrics = stratus_telemetry::metrics();
    match result {
        Ok(response) if response.error.is_none() => {
            metrics.produce_requests.add(1, &outcome(true));
            metrics
                .produce_ack_seconds
                .record(started.elapsed().as_secs_f64(), &[]);
        }
        Ok(response) => {
            let code = response.error.as_ref().map_or(0, |e| e.code);
            metrics.produce_requests.add(1, &outcome(false));
            metrics.produce_errors.add(1, &kind(Code::from_i32(code)));
        }
        Err(status) => {
            metrics.produce_requests.add(1, &outcome(false));
            metrics.produce_errors.add(1, &kind(status.code()));
        }
    }
}

/// The label of a failed call: its gRPC status code in snake case.
pub(crate) fn error_kind(code: Code) -> &'static str {
    match code {
        Code::Ok => "ok",
        Code::Cancelled => "cancelled",
        Code::Unknown => "unknown",
        Code::InvalidArgument => "invalid_argument",
        Code::DeadlineExceeded => "deadline_exceeded",
        Code::NotFound => "not_found",
        Code::AlreadyExists => "already_exists",
        Code::PermissionDenied => "permission_denied",
        Code::ResourceExhausted => "resource_exhausted",
        Code::FailedPrecondition => "failed_precondition",
        Code::Aborted => "aborted",
        Code::OutOfRange => "out_of_range",
        Code::Unimplemented => "unimplemented",
        Code::Internal => "internal",
        Code::Unavailable => "unavailable",
        Code::DataLoss => "data_loss",
        Code::Unauthenticated => "unauthenticated",
    }
}

/// `outcome="ok"` or `outcome="error"`.
pub(crate) fn outcome(ok: bool) -> [KeyValue; 1] {
    [KeyValue::new("outcome", if ok { "ok" } else { "error" })]
}

/// `kind=<gRPC code>`.
pub(crate) fn kind(code: Code) -> [KeyValue; 1] {
    [KeyValue::new("kind", error_kind(code))]
}

/// Registers the gauges read from a running gateway: produce bytes in flight
/// against their bound, and the chunk cache. They hold weak references, so a
/// stopped gateway reports nothing rather than being kept alive.
pub(crate) fn observe_gateway(inflight: &Arc<Semaphore>, max_inflight_bytes: u64, log: &Arc<Log>) {
    bytes_gauge(
        "stratus.inflight.bytes",
        "Produce bytes accepted but not yet acknowledged",
        Arc::downgrade(inflight),
        move |budget| max_inflight_bytes.saturating_sub(budget.available_permits() as u64),
    );
    let meter = stratus_telemetry::meter();
    meter
        .u64_observable_gauge("stratus.inflight.limit.bytes")
        .with_unit("By")
        .with_description("The in-flight bound, max_inflight_bytes")
        .with_callback(move |observer| observer.observe(max_inflight_bytes, &[]))
        .build();
    let hits = Arc::downgrade(log);
    meter
        .u64_observable_counter("stratus.chunk_cache.lookups")
        .with_description("Chunk cache lookups of readers, by result (hit or miss)")
        .with_callback(move |observer| {
            if let Some(log) = hits.upgrade() {
                let (hit, miss) = log.cache_stats();
                observer.observe(hit, &[KeyValue::new("result", "hit")]);
                observer.observe(miss, &[KeyValue::new("result", "miss")]);
            }
        })
        .build();
    bytes_gauge(
        "stratus.chunk_cache.bytes",
        "Bytes held by the chunk cache",
        Arc::downgrade(log),
        Log::cache_weight,
    );
}

/// A gauge in bytes, read from `source` for as long as it lives.
fn bytes_gauge<T: Send + Sync + 'static>(
    name: &'static str,
    description: &'static str,
    source: Weak<T>,
    read: impl Fn(&T) -> u64 + Send + Sync + 'static,
) {
    stratus_telemetry::meter()
        .u64_observable_gauge(name)
        .with_unit("By")
        .with_description(description)
        .with_callback(move |observer| {
            if let Some(source) = source.upgrade() {
                observer.observe(read(&source), &[]);
            }
        })
        .build();
}
