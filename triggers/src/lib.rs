//! Serverless triggers: records of a topic invoke a function.
//!
//! A dispatcher consumes each trigger through its consumer group
//! (`trigger-{name}`), in order per partition with at most one batch in
//! flight per partition, sends each batch as an AWS Kafka event
//! ([`event`]) to a [`target`] (AWS Lambda, the local Lambda Runtime API, or
//! a webhook), and commits offsets only after the function succeeded.
//! Failing batches are retried, bisected and finally sent to an on-failure
//! topic ([`deliver`]).
//!
//! The dispatcher is a client of the gateways: it never touches metadata or
//! object storage directly.

pub mod consume;
pub mod deliver;
pub mod dispatcher;
pub mod event;
pub mod failure;
pub mod limits;
pub mod record;
pub mod response;
pub mod source;
pub mod target;

pub use dispatcher::{Dispatcher, DispatcherConfig};
pub use record::{Partition, Record};
pub use stratus_format::trigger::{StartPosition, Target, TriggerSpec, wire};
