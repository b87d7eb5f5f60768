//! How the gateway reports itself: server spans that continue a client's
//! trace (W3C `traceparent` in gRPC metadata), the error kinds of failed
//! calls, and the observable gauges read from live gateway state. Recording
//! is a counter add or histogram record per call or flush, never per record
//! log line.

use std::sync::{Arc, Weak};

use opentelemetry::Context;
use opentelemetry::trace::TraceContextExt as _;
use stratus_proto::trace_context::extract_span_context;
use stratus_storage::log::Log;
use stratus_telemetry::KeyValue;
use tokio::sync::Semaphore;
use tonic::Code;
use tonic::metadata::MetadataMap;
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
    let meter = stratus_telemetry::meter();
    let budget: Weak<Semaphore> = Arc::downgrade(inflight);
    meter
        .u64_observable_gauge("stratus.inflight.bytes")
        .with_unit("By")
        .with_description("Produce bytes accepted but not yet acknowledged")
        .with_callback(move |observer| {
            if let Some(budget) = budget.upgrade() {
                let free = budget.available_permits() as u64;
                observer.observe(max_inflight_bytes.saturating_sub(free), &[]);
            }
        })
        .build();
    meter
        .u64_observable_gauge("stratus.inflight.limit.bytes")
        .with_unit("By")
        .with_description("The in-flight bound, max_inflight_bytes")
        .with_callback(move |observer| observer.observe(max_inflight_bytes, &[]))
        .build();
    let cache = Arc::downgrade(log);
    let hits = cache.clone();
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
    meter
        .u64_observable_gauge("stratus.chunk_cache.bytes")
        .with_unit("By")
        .with_description("Bytes held by the chunk cache")
        .with_callback(move |observer| {
            if let Some(log) = cache.upgrade() {
                observer.observe(log.cache_weight(), &[]);
            }
        })
        .build();
}
