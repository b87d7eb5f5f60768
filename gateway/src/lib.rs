//! The stateless Stratus gateway: one produce path (admission, validation,
//! routing, encoding, and the cross-partition batcher that turns many
//! produce calls into one WAL object and one metadata transaction), one
//! fetch path long-polling on commits, topic administration, and the
//! transports over them (gRPC, QUIC; the Kafka listener through
//! [`GatewayCore`]).
//!
//! A gateway holds no state that matters: everything acknowledged is in the
//! WAL tier and the metadata store, so any gateway can serve any request.
//!
//! Modules depend one way: transports (`server`, `service`, `quic`) on
//! `core`, `core` on the paths (`produce`, `fetch`, `admin`), and all of them
//! on `config`, `limits`, `error`, `topics` and `telemetry`, which depend on
//! no transport.

mod admin;
mod config;
mod core;
mod error;
mod fetch;
mod limits;
mod partition_gauges;
mod produce;
mod quic;
mod server;
mod service;
mod telemetry;
mod tls_incoming;
mod topics;

pub use admin::TopicAdmin;
pub use config::{ConfigError, GatewayConfig, GroupsConfig, QuicConfig};
pub use core::GatewayCore;
pub use error::GatewayError;
pub use fetch::{Fetch, FetchPartition, FetchPath, Fetched, FetchedBatches};
pub use partition_gauges::PartitionGauges;
pub use produce::{
    Admission, Admitted, Batcher, BatcherSettings, BatcherStats, PartitionAck, PartitionData,
    PartitionProduce, PendingProduce, Produce, ProducePath, ProduceRecord, ProducerFields, Ticket,
};
pub use quic::{CertificateFiles, QuicStartError, TlsError, self_signed_in};
pub use server::{Gateway, GatewayHandle, StartError};
pub use stratus_security::TlsConfig as ListenerTlsConfig;
pub use tls_incoming::ClientTls;
