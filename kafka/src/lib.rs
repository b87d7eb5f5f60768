//! The Kafka wire-protocol listener of a Stratus gateway, so unmodified Kafka
//! clients can produce, fetch and administer topics.
//!
//! Layers, each in its own module:
//!
//! - [`versions`]: the APIs and versions advertised, exactly those handled;
//! - `decode`/`encode`: frames to kafka-protocol messages and back, with a
//!   guard against counts the frame cannot back; no I/O;
//! - [`Session`]: the sans-I/O request layer of one connection, calling a
//!   [`Broker`] (the gateway's services, in Stratus terms);
//! - [`sasl`]: SASL authentication (PLAIN, SCRAM) of a connection;
//! - [`serve_connection`] and [`KafkaListener`]: the tokio loops.
//!
//! Kafka error codes come from [`BrokerError::code`] only; every bound is in
//! [`limits`]. This crate must never depend on the gateway: the gateway
//! implements [`Broker`] and embeds the listener.

mod broker;
mod config;
mod connection;
mod decode;
mod encode;
mod error;
mod handlers;
pub mod limits;
mod listener;
pub mod sasl;
mod session;
pub mod stratus;
pub mod versions;
pub mod zone;

pub use broker::*;
pub use config::{ConfigError, KafkaConfig};
pub use connection::{ConnectionEnd, ConnectionLimits, serve_connection};
pub use decode::{Decoded, FrameError, Request, decode_request};
pub use error::BrokerError;
pub use listener::{KafkaListener, ListenerError};
pub use session::{Call, Pending, Reply, Session, SessionOptions};
