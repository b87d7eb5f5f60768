//! Async Rust client for Stratus.
//!
//! ```no_run
//! # async fn run() -> stratus_sdk::Result<()> {
//! use stratus_sdk::{Client, ProducerConfig, ProducerRecord};
//! let client = Client::connect("grpc://127.0.0.1:7400").await?;
//! let producer = client.producer(ProducerConfig::default()).await?;
//! let delivery = producer.send(ProducerRecord::new("orders", "hello").key("alice")).await?;
//! let at = delivery.await?;
//! println!("written to partition {} at offset {}", at.partition, at.offset);
//! # Ok(()) }
//! ```
//!
//! The transport is chosen by the URL: `grpc://`, `grpcs://` (TLS, trusting
//! [`ClientBuilder::ca_file`]) or `quic://`; several comma-separated URLs
//! name gateways to fail over between. Consumer groups:
//! [`Client::group_consumer`].

mod admin;
mod client;
mod consumer;
mod error;
mod group;
pub mod limits;
mod producer;
mod trace;
mod transport;

pub use admin::Admin;
pub use client::{Client, ClientBuilder};
pub use consumer::{Consumer, ConsumerRecord, Offset};
pub use error::{Error, Result};
pub use group::{
    Assignor, GroupConfig, GroupConsumer, GroupEvent, PartitionLag, StartFrom, TopicPartition,
};
pub use producer::{
    Compression, Delivery, DeliveryFuture, Producer, ProducerConfig, ProducerIdentity,
    ProducerRecord, ProducerStatsSnapshot, STAGE_BUCKET_BOUNDS, StageSnapshot, StickyPartitioning,
};
pub use stratus_proto::v1::{CleanupPolicy, Header, TopicConfig, TopicDescription, TopicSummary};
