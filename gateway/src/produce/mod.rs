//! The one produce path of the gateway, shared by gRPC, QUIC and the Kafka
//! listener. A call goes through, in order:
//!
//! - `admit`: counted against the in-flight budget before any work;
//! - `validate`: the call's shape and the one record policy;
//! - `route`: explicit partition, murmur2 over the key, or sticky keyless;
//! - `encode`: records into RecordBatch v2, client batches checked as sent;
//! - `batcher`: one WAL object per flush, one metadata transaction, and the
//!   one place an acknowledgement is released, after both.
//!
//! `prepare` strings validate, route and encode together (pure), and `path`
//! is the entry point transports call ([`ProducePath`]). This module only
//! declares and re-exports; nothing here may reach a transport.

mod admit;
mod batcher;
mod encode;
mod path;
mod prepare;
mod request;
mod route;
mod validate;

pub(crate) use admit::InflightBudget;
pub use admit::{Admission, Admitted};
pub use batcher::{Batcher, BatcherSettings, BatcherStats, Ticket};
pub(crate) use path::Prepared;
pub use path::{PendingProduce, ProducePath};
pub use request::{
    PartitionAck, PartitionData, PartitionProduce, Produce, ProduceRecord, ProducerFields,
};
