//! The gateway without its transports: the produce path, the fetch path,
//! topic administration and consumer groups behind one cheap handle. gRPC,
//! QUIC and the Kafka listener all call these, so there is one produce path
//! and one fetch path whatever the protocol. Nothing here knows a wire
//! message; transports translate.

use std::sync::Arc;

use stratus_storage::group::{GroupLimits, Groups};
use stratus_storage::log::Log;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::admin::TopicAdmin;
use crate::config::{GatewayConfig, GroupsConfig};
use crate::fetch::FetchPath;
use crate::produce::{Batcher, BatcherSettings, InflightBudget, ProducePath};
use crate::telemetry::observe_gateway;
use crate::topics::TopicCache;

/// The services of one running gateway; clone it freely. Reach it through
/// [`GatewayHandle::core`](crate::GatewayHandle::core).
#[derive(Debug, Clone)]
pub struct GatewayCore {
    produce: ProducePath,
    fetch: FetchPath,
    topics: TopicAdmin,
    groups: Groups,
    group_limits: GroupsConfig,
    max_pipelined_requests: usize,
    batcher: Batcher,
}

impl GatewayCore {
    /// Builds the services over `log` and starts the batcher's flush task,
    /// returned for shutdown to await. `shutdown` ends long polls.
    pub(crate) fn start(
        config: &GatewayConfig,
        log: Arc<Log>,
        shutdown: watch::Receiver<bool>,
    ) -> (Self, JoinHandle<()>) {
        let topics = Arc::new(TopicCache::new(config.topic_cache_ttl));
        let budget = InflightBudget::new(config.max_inflight_bytes);
        observe_gateway(budget.semaphore(), budget.limit(), &log);
        let (batcher, flush_task) = Batcher::start(
            Arc::clone(&log),
            BatcherSettings {
                linger: config.linger,
                flush_bytes: config.flush_bytes,
                max_concurrent_flushes: config.max_concurrent_flushes,
                max_flushes_per_commit: config.max_flushes_per_commit,
            },
        );
        let groups = Groups::new(
            Arc::clone(log.meta()),
            log.keys().clone(),
            GroupLimits {
                max_members: config.groups.max_members,
                max_groups: config.groups.max_groups,
                max_member_metadata_bytes: config.groups.max_member_metadata_bytes,
                max_assignment_bytes: config.groups.max_assignment_bytes,
            },
        );
        let core = Self {
            produce: ProducePath::new(
                Arc::clone(&log),
                Arc::clone(&topics),
                budget,
                batcher.clone(),
                config.zstd_level,
            ),
            fetch: FetchPath::new(
                Arc::clone(&log),
                Arc::clone(&topics),
                config.max_fetch_bytes,
                config.max_fetch_wait,
                shutdown,
            ),
            topics: TopicAdmin::new(log, topics),
            groups,
            group_limits: config.groups.clone(),
            max_pipelined_requests: config.max_pipelined_requests,
            batcher,
        };
        (core, flush_task)
    }

    /// The produce path: admission, validation, routing, encoding, batching.
    pub fn produce(&self) -> &ProducePath {
        &self.produce
    }

    /// The fetch path: reads of many partitions, long-polling on commits.
    pub fn fetch(&self) -> &FetchPath {
        &self.fetch
    }

    /// Topic administration and offset lookups.
    pub fn topics(&self) -> &TopicAdmin {
        &self.topics
    }

    /// The cluster's consumer groups (state in metadata).
    pub fn groups(&self) -> &Groups {
        &self.groups
    }

    /// The session-timeout bounds members are held to.
    pub fn group_limits(&self) -> &GroupsConfig {
        &self.group_limits
    }

    /// Requests one ordered produce stream may have in flight.
    pub(crate) fn max_pipelined_requests(&self) -> usize {
        self.max_pipelined_requests
    }

    pub(crate) fn batcher(&self) -> &Batcher {
        &self.batcher
    }
}
