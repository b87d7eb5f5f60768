//! The workload file parser, built for fuzzing, and the property its target
//! checks ([`check`]).
//!
//! This crate compiles the parser's own source file (`src/workload.rs` of
//! stratus-loadtest) as a module rather than depending on stratus-loadtest:
//! that crate brings the load tool's drivers (librdkafka built from source,
//! the NATS client, the SDK and its TLS stack), none of which the parser
//! uses, and instrumented for fuzzing they take most of an hour to build.
//! The parser needs only serde, serde_norway, humantime-serde and thiserror;
//! should it ever need more of the crate, depend on the crate instead.

#[allow(dead_code)]
#[path = "../../src/workload.rs"]
mod workload;

mod check;

pub use check::workload_parse;
