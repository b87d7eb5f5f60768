//! The gRPC services. Each handler validates, calls the log or the batcher,
//! and converts errors through the one mapping in `crate::error`.

mod admin;
mod consumer;
mod convert;
mod groups;
mod producer;
mod triggers;

use std::sync::Arc;

use stratus_storage::group::Groups;
use stratus_storage::log::Log;
use tokio::sync::watch;

use crate::batcher::Batcher;
use crate::config::GatewayConfig;
use crate::produce::StickyPartitioner;
use crate::topics::TopicCache;

pub(crate) use admin::AdminService;
pub(crate) use consumer::ConsumerService;
pub(crate) use groups::GroupsService;
pub(crate) use producer::ProducerService;
pub(crate) use triggers::TriggersService;

/// What every service of one gateway shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) log: Arc<Log>,
    pub(crate) groups: Groups,
    pub(crate) batcher: Batcher,
    pub(crate) topics: TopicCache,
    pub(crate) keyless: StickyPartitioner,
    pub(crate) config: GatewayConfig,
    /// Flips to `true` when the gateway starts shutting down; long polls and
    /// subscriptions end early.
    pub(crate) shutdown: watch::Receiver<bool>,
}

impl Shared {
    /// Resolves when shutdown begins.
    pub(crate) async fn shutting_down(&self) {
        let mut shutdown = self.shutdown.clone();
        // An error means the sender is gone, which also means shutdown.
        let _ = shutdown.wait_for(|stopping| *stopping).await;
    }
}
