//! Topic administration and lookups, shared by every transport: create,
//! grow, reconfigure, delete, list and describe topics, delete records below
//! an offset, and resolve offsets. Keeps the topic cache coherent with what
//! this gateway changes; other gateways see a change within their cache's
//! TTL (`topic_cache_ttl`): until then their produce and fetch paths know
//! only the old partitions (a new one is not found), route keys over the old
//! count and apply the old `max.message.bytes`. Never shapes a wire message.

use std::sync::Arc;

use stratus_storage::log::{DeleteRecordsTo, Log, OffsetQuery, PartitionState};
use stratus_storage::topic::{TopicConfig, TopicRecord};

use crate::error::GatewayError;
use crate::topics::TopicCache;

/// The gateway's topic administration; cheap to clone.
#[derive(Debug, Clone)]
pub struct TopicAdmin {
    log: Arc<Log>,
    topics: Arc<TopicCache>,
}

impl TopicAdmin {
    pub(crate) fn new(log: Arc<Log>, topics: Arc<TopicCache>) -> Self {
        Self { log, topics }
    }

    /// Creates a topic with `partitions` partitions.
    pub async fn create(
        &self,
        name: &str,
        partitions: u32,
        config: TopicConfig,
    ) -> Result<TopicRecord, GatewayError> {
        let topic = self.log.create_topic(name, partitions, config).await?;
        self.topics.forget(&topic.name);
        tracing::info!(topic = %topic.name, partitions = topic.partitions, "topic created");
        Ok(topic)
    }

    /// Deletes a topic; its data goes with the compactor's next passes.
    pub async fn delete(&self, name: &str) -> Result<TopicRecord, GatewayError> {
        let topic = self.log.delete_topic(name).await?;
        self.topics.forget(name);
        tracing::info!(topic = %name, "topic deleted");
        Ok(topic)
    }

    /// Grows a topic to `total` partitions (never fewer); with
    /// `validate_only` only checks. Returns the topic as it is (or would be).
    pub async fn create_partitions(
        &self,
        name: &str,
        total: u32,
        validate_only: bool,
    ) -> Result<TopicRecord, GatewayError> {
        let topic = self
            .log
            .create_partitions(name, total, validate_only)
            .await?;
        if !validate_only {
            self.topics.forget(name);
            tracing::info!(topic = %name, partitions = topic.partitions, "partitions added");
        }
        Ok(topic)
    }

    /// Gives a topic the configuration `edit` makes of its current one, in
    /// one transaction, checked as at creation; with `validate_only` only
    /// checks. `Ok(Err(_))`: `edit` refused and nothing changed. The
    /// compactor applies retention changes from its next pass.
    pub async fn alter_config<E: Send>(
        &self,
        name: &str,
        validate_only: bool,
        edit: &(dyn Fn(&TopicConfig) -> Result<TopicConfig, E> + Sync),
    ) -> Result<Result<TopicRecord, E>, GatewayError> {
        let outcome = self
            .log
            .alter_topic_config(name, validate_only, edit)
            .await?;
        if let (Ok(topic), false) = (&outcome, validate_only) {
            self.topics.forget(name);
            tracing::info!(topic = %name, config = ?topic.config, "topic config changed");
        }
        Ok(outcome)
    }

    /// Makes a partition's records below `to` unreadable; returns its log
    /// start offset afterwards.
    pub async fn delete_records(
        &self,
        topic: &TopicRecord,
        partition: u32,
        to: DeleteRecordsTo,
    ) -> Result<i64, GatewayError> {
        let log_start = self.log.delete_records(topic, partition, to).await?;
        tracing::info!(topic = %topic.name, partition, log_start, "records deleted");
        Ok(log_start)
    }

    pub async fn list(&self) -> Result<Vec<TopicRecord>, GatewayError> {
        Ok(self.log.list_topics().await?)
    }

    /// The topic as metadata has it now.
    pub async fn describe(&self, name: &str) -> Result<TopicRecord, GatewayError> {
        Ok(self.log.topic(name).await?)
    }

    /// The topic from this gateway's cache: at most `topic_cache_ttl` old.
    pub async fn cached(&self, name: &str) -> Result<Arc<TopicRecord>, GatewayError> {
        Ok(self.topics.get(&self.log, name).await?)
    }

    /// Every partition's log start offset and high-water mark, in partition
    /// order, read in one transaction.
    pub async fn partition_states(
        &self,
        topic: &TopicRecord,
    ) -> Result<Vec<(u32, PartitionState)>, GatewayError> {
        let offsets = self.log.partition_offsets(topic).await?;
        Ok(offsets
            .into_iter()
            .map(|p| {
                let state = PartitionState {
                    log_start_offset: p.log_start_offset,
                    high_watermark: p.next_offset,
                };
                (p.partition, state)
            })
            .collect())
    }

    /// One partition's log start offset and high-water mark.
    pub async fn partition_state(
        &self,
        topic: &TopicRecord,
        partition: u32,
    ) -> Result<PartitionState, GatewayError> {
        Ok(self.log.partition_state(topic, partition).await?)
    }

    /// The earliest or latest offset, the first at or after a timestamp, or
    /// the record with the largest timestamp, with that record's timestamp;
    /// `None` when no record matches.
    pub async fn resolve_offset(
        &self,
        topic: &TopicRecord,
        partition: u32,
        query: OffsetQuery,
    ) -> Result<Option<(i64, Option<i64>)>, GatewayError> {
        Ok(self.log.resolve_offset(topic, partition, query).await?)
    }
}
