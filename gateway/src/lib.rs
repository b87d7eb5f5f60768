//! The stateless Stratus gateway: gRPC services over the partition log, the
//! cross-partition batcher that turns many produce calls into one WAL object
//! and one metadata transaction, and long-polling fetches woken by commits.
//!
//! A gateway holds no state that matters: everything acknowledged is in the WAL
//! tier and the metadata store, so any gateway can serve any request.

mod batcher;
mod config;
mod error;
mod partition_gauges;
mod produce;
mod produce_batch;
mod quic;
mod server;
mod service;
mod telemetry;
mod topics;

pub use batcher::{Admission, Batcher, BatcherSettings, BatcherStats, Ticket};
pub use config::{ConfigError, GatewayConfig};
pub use error::GatewayError;
pub use partition_gauges::PartitionGauges;
pub use quic::{CertificateFiles, QuicConfig, QuicStartError, TlsError, self_signed_in};
pub use server::{Gateway, GatewayHandle, StartError};
