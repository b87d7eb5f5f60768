//! Trace context (feature `otel`): the application's spans continue into the
//! gateway's.
//!
//! Calls carry the span current when they are made, as W3C `traceparent` /
//! `tracestate` gRPC metadata or QUIC frame headers ([`call_context`]), so a
//! consumer's poll or an admin call shows the gateway's spans under it.
//!
//! Produced records are batched, so they get more: `send` captures the span the application is in (its [`Origin`]); each
//! batch is sent under a `stratus.produce` client span ([`BatchSpan`]), the
//! child of its first record's origin and linked to the other records'
//! origins, as OpenTelemetry's messaging conventions describe batch sends.
//! The batch span's context travels in the request's `traceparent` /
//! `tracestate` fields (not call metadata: one ordered stream carries the
//! batches of many spans), so the gateway's `produce` span is its child on
//! gRPC and QUIC alike. The span lasts until the batch is answered, so its
//! duration is the batch's time to acknowledgement, retries included.
//!
//! Without the feature both types are empty and cost nothing.

#[cfg(feature = "otel")]
pub(crate) use traced::{BatchSpan, Origin, call_context};
#[cfg(not(feature = "otel"))]
pub(crate) use untraced::{BatchSpan, Origin, call_context};

/// Metadata keys of W3C trace context.
pub(crate) const TRACEPARENT: &str = "traceparent";
pub(crate) const TRACESTATE: &str = "tracestate";

#[cfg(feature = "otel")]
mod traced {
    use std::collections::HashSet;

    use opentelemetry::Context;
    use opentelemetry::trace::{SpanContext, Status, TraceContextExt as _};
    use stratus_proto::trace_context::traceparent;
    use stratus_proto::v1::ProduceRequest;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;

    use crate::error::Error;
    use crate::limits::MAX_SPAN_LINKS;

    /// The span current when a record was sent, if it is a valid one: the
    /// `tracing` span (through `tracing-opentelemetry`), else the
    /// OpenTelemetry context of an application using that API directly.
    #[derive(Debug, Clone, Default)]
    pub(crate) struct Origin(Option<Context>);

    impl Origin {
        pub(crate) fn capture() -> Self {
            let from_tracing = tracing::Span::current().context();
            if from_tracing.span().span_context().is_valid() {
                return Self(Some(from_tracing));
            }
            let current = Context::current();
            Self(current.span().span_context().is_valid().then_some(current))
        }

        fn span_context(&self) -> Option<SpanContext> {
            self.0.as_ref().map(|cx| cx.span().span_context().clone())
        }
    }

    /// The `traceparent` and `tracestate` (empty if none) of the span
    /// current now, if it is a valid one.
    pub(crate) fn call_context() -> Option<(String, String)> {
        let span = Origin::capture().span_context()?;
        Some((traceparent(&span), span.trace_state().header()))
    }

    /// The client span of one batch; dropping it ends the span.
    #[derive(Debug)]
    pub(crate) struct BatchSpan {
        span: tracing::Span,
        /// What the request carries: the batch span's context, or the first
        /// origin's when no `tracing-opentelemetry` layer records the span.
        carried: Option<SpanContext>,
    }

    impl BatchSpan {
        /// No span when no record was sent inside a traced span: untraced
        /// producers add nothing to the trace backend.
        pub(crate) fn start<'a>(
            topic: &str,
            partition: u32,
            records: usize,
            mut origins: impl Iterator<Item = &'a Origin>,
        ) -> Self {
            let Some(first) = origins.find(|o| o.0.is_some()) else {
                return Self::none();
            };
            let parent = first.0.clone().expect("found a traced origin");
            let parent_id = first.span_context().map(|s| s.span_id());
            let span = tracing::info_span!(
                parent: None,
                "stratus.produce",
                otel.kind = "client",
                messaging.system = "stratus",
                messaging.operation.type = "send",
                messaging.destination.name = %topic,
                messaging.destination.partition.id = partition,
                messaging.batch.message_count = records,
            );
            if span.set_parent(parent).is_err() {
                // No OpenTelemetry layer records `tracing` spans: the gateway
                // continues the application's span itself.
                return Self {
                    span: tracing::Span::none(),
                    carried: first.span_context(),
                };
            }
            let mut seen: HashSet<_> = parent_id.into_iter().collect();
            let mut linked = 0usize;
            for origin in origins.filter_map(Origin::span_context) {
                if seen.insert(origin.span_id()) {
                    if linked < MAX_SPAN_LINKS {
                        span.add_link(origin);
                    }
                    linked += 1;
                }
            }
            if linked > MAX_SPAN_LINKS {
                span.set_attribute("stratus.links.dropped", (linked - MAX_SPAN_LINKS) as i64);
            }
            let carried = Some(span.context().span().span_context().clone());
            Self { span, carried }
        }

        fn none() -> Self {
            Self {
                span: tracing::Span::none(),
                carried: None,
            }
        }

        /// Writes the span's context into the request.
        pub(crate) fn stamp(&self, request: &mut ProduceRequest) {
            if let Some(span) = self.carried.as_ref().filter(|s| s.is_valid()) {
                request.traceparent = traceparent(span);
                request.tracestate = span.trace_state().header();
            }
        }

        /// Records where the batch landed and after how many attempts.
        pub(crate) fn acknowledged(&self, base_offset: i64, attempts: u32) {
            self.span
                .set_attribute("messaging.kafka.offset", base_offset);
            self.span
                .set_attribute("stratus.attempts", i64::from(attempts));
        }

        /// Marks the span failed with `error`.
        pub(crate) fn failed(&self, error: &Error, attempts: u32) {
            self.span
                .set_attribute("stratus.attempts", i64::from(attempts));
            // OpenTelemetry's `error.type`: the gRPC code, or `client` for
            // errors raised before any answer (delivery timeout, closed).
            let kind = error
                .code()
                .map_or("client".to_owned(), |c| format!("{c:?}"));
            self.span.set_attribute("error.type", kind);
            self.span.set_status(Status::error(error.to_string()));
        }
    }
}

#[cfg(not(feature = "otel"))]
mod untraced {
    use stratus_proto::v1::ProduceRequest;

    use crate::error::Error;

    pub(crate) fn call_context() -> Option<(String, String)> {
        None
    }

    #[derive(Debug, Clone, Default)]
    pub(crate) struct Origin;

    impl Origin {
        pub(crate) fn capture() -> Self {
            Self
        }
    }

    #[derive(Debug)]
    pub(crate) struct BatchSpan;

    impl BatchSpan {
        pub(crate) fn start<'a>(
            _topic: &str,
            _partition: u32,
            _records: usize,
            _origins: impl Iterator<Item = &'a Origin>,
        ) -> Self {
            Self
        }

        pub(crate) fn stamp(&self, _request: &mut ProduceRequest) {}

        pub(crate) fn acknowledged(&self, _base_offset: i64, _attempts: u32) {}

        pub(crate) fn failed(&self, _error: &Error, _attempts: u32) {}
    }
}
