//! The gRPC services: thin adapters that translate messages (`convert`),
//! call the transport-neutral services of `crate::core`, and turn errors into
//! statuses through the one mapping in `crate::error`. QUIC calls these same
//! adapters. This module only declares and re-exports.

mod admin;
mod classic_groups;
mod consumer;
mod convert;
mod groups;
mod produce_stream;
mod producer;
mod triggers;
mod users;

pub(crate) use admin::AdminService;
pub(crate) use consumer::ConsumerService;
pub(crate) use groups::GroupsService;
pub(crate) use producer::ProducerService;
pub(crate) use triggers::TriggersService;
pub(crate) use users::UsersService;
