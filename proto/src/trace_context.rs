//! W3C trace context (<https://www.w3.org/TR/trace-context/>) in gRPC
//! metadata. A client that sends its span's context in the `traceparent`
//! (and optionally `tracestate`) metadata entry of a call gets the gateway's
//! spans for that call as children of its span.
//!
//! Any gRPC client can set the header itself:
//! `traceparent: 00-<32 hex trace id>-<16 hex parent span id>-<2 hex flags>`
//! (flags `01` = sampled). [`inject`] does it from an OpenTelemetry context,
//! [`extract`] is what the gateway reads. No global propagator is needed.

use opentelemetry::Context;
use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState,
};
use tonic::metadata::{MetadataMap, MetadataValue};

/// Metadata key of the W3C `traceparent`.
pub const TRACEPARENT: &str = "traceparent";
/// Metadata key of the W3C `tracestate`.
pub const TRACESTATE: &str = "tracestate";

/// Writes the span context of `cx` (if valid) into `metadata`.
pub fn inject(cx: &Context, metadata: &mut MetadataMap) {
    inject_span_context(cx.span().span_context(), metadata);
}

/// Writes `span` as the parent of the call's server spans into `metadata`.
pub fn inject_span_context(span: &SpanContext, metadata: &mut MetadataMap) {
    if !span.is_valid() {
        return;
    }
    if let Ok(value) = MetadataValue::try_from(traceparent(span)) {
        metadata.insert(TRACEPARENT, value);
    }
    let state = span.trace_state().header();
    if !state.is_empty()
        && let Ok(value) = MetadataValue::try_from(state)
    {
        metadata.insert(TRACESTATE, value);
    }
}

/// The `traceparent` value for `span`.
pub fn traceparent(span: &SpanContext) -> String {
    format!(
        "00-{}-{}-{:02x}",
        span.trace_id(),
        span.span_id(),
        span.trace_flags().to_u8()
    )
}

/// The remote parent carried by a call's metadata, or an empty context when
/// it carries none (or a malformed one, which W3C says to ignore).
pub fn extract(metadata: &MetadataMap) -> Context {
    match extract_span_context(metadata) {
        Some(span) => Context::new().with_remote_span_context(span),
        None => Context::new(),
    }
}

/// The remote span context in a call's metadata, if present and well formed.
pub fn extract_span_context(metadata: &MetadataMap) -> Option<SpanContext> {
    let header = metadata.get(TRACEPARENT)?.to_str().ok()?;
    let state = metadata
        .get(TRACESTATE)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.parse::<TraceState>().ok())
        .unwrap_or_default();
    parse_traceparent(header, state)
}

/// The remote span context of a `traceparent` (and `tracestate`) carried in
/// a message rather than in metadata, if well formed.
pub fn span_context_from(traceparent: &str, tracestate: &str) -> Option<SpanContext> {
    let state = tracestate.parse::<TraceState>().unwrap_or_default();
    parse_traceparent(traceparent, state)
}

fn parse_traceparent(header: &str, state: TraceState) -> Option<SpanContext> {
    let mut parts = header.trim().split('-');
    let version = parts.next()?;
    let (trace_id, span_id, flags) = (parts.next()?, parts.next()?, parts.next()?);
    // Version 00 has exactly four fields; later versions may append more.
    if version.len() != 2 || version == "ff" || (version == "00" && parts.next().is_some()) {
        return None;
    }
    let is_hex = |s: &str, len: usize| {
        s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    if !is_hex(version, 2) || !is_hex(trace_id, 32) || !is_hex(span_id, 16) || !is_hex(flags, 2) {
        return None;
    }
    let trace_id = TraceId::from_hex(trace_id).ok()?;
    let span_id = SpanId::from_hex(span_id).ok()?;
    let flags = TraceFlags::new(u8::from_str_radix(flags, 16).ok()? & TraceFlags::SAMPLED.to_u8());
    let span = SpanContext::new(trace_id, span_id, flags, true, state);
    span.is_valid().then_some(span)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_metadata() {
        let span = SpanContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        );
        let mut metadata = MetadataMap::new();
        inject_span_context(&span, &mut metadata);
        assert_eq!(
            metadata.get(TRACEPARENT).unwrap(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        );
        let back = extract_span_context(&metadata).unwrap();
        assert_eq!(back.trace_id(), span.trace_id());
        assert_eq!(back.span_id(), span.span_id());
        assert!(back.is_sampled() && back.is_remote());
    }

    #[test]
    fn malformed_headers_are_ignored() {
        for bad in [
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        ] {
            let mut metadata = MetadataMap::new();
            metadata.insert(TRACEPARENT, bad.parse().unwrap());
            assert!(extract_span_context(&metadata).is_none(), "{bad}");
        }
    }
}
