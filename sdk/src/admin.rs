//! Topic administration.

use std::sync::Arc;

use stratus_proto::v1::{
    AlterTopicConfigRequest, CreatePartitionsRequest, CreateTopicRequest, DeleteRecordsRequest,
    DeleteTopicRequest, DescribeTopicRequest, ListTopicsRequest, TopicConfig, TopicDescription,
    TopicSummary,
};

use crate::error::{Error, Result};
use crate::transport::Transport;

/// Creates, grows, reconfigures, deletes, lists and describes topics, and
/// deletes records below an offset.
#[derive(Debug, Clone)]
pub struct Admin {
    transport: Arc<dyn Transport>,
}

impl Admin {
    pub(crate) fn new(transport: Arc<dyn Transport>) -> Self {
        Self { transport }
    }

    /// Creates `name` with `partitions` partitions; unset settings in `config`
    /// take the gateway's defaults.
    pub async fn create_topic(
        &self,
        name: &str,
        partitions: u32,
        config: TopicConfig,
    ) -> Result<TopicDescription> {
        let response = self
            .transport
            .create_topic(CreateTopicRequest {
                name: name.to_owned(),
                partitions,
                config: Some(config),
            })
            .await?;
        response.topic.ok_or(Error::Protocol("a topic description"))
    }

    /// Deletes `name` and makes its records unreachable.
    pub async fn delete_topic(&self, name: &str) -> Result<()> {
        self.transport
            .delete_topic(DeleteTopicRequest {
                name: name.to_owned(),
            })
            .await?;
        Ok(())
    }

    /// Every topic with its partition count.
    pub async fn list_topics(&self) -> Result<Vec<TopicSummary>> {
        Ok(self
            .transport
            .list_topics(ListTopicsRequest {})
            .await?
            .topics)
    }

    /// Grows `name` to `partitions` partitions in all (never fewer); with
    /// `validate_only` only checks. Returns the topic as it is afterwards.
    pub async fn create_partitions(
        &self,
        name: &str,
        partitions: u32,
        validate_only: bool,
    ) -> Result<TopicDescription> {
        let response = self
            .transport
            .create_partitions(CreatePartitionsRequest {
                name: name.to_owned(),
                partitions,
                validate_only,
            })
            .await?;
        response.topic.ok_or(Error::Protocol("a topic description"))
    }

    /// Replaces the settings `set` gives (unset fields keep their values)
    /// and returns those named in `reset` (Kafka names: `retention.ms`, ...)
    /// to their defaults, in one step; with `validate_only` only checks.
    pub async fn alter_topic_config(
        &self,
        name: &str,
        set: TopicConfig,
        reset: &[&str],
        validate_only: bool,
    ) -> Result<TopicDescription> {
        let response = self
            .transport
            .alter_topic_config(AlterTopicConfigRequest {
                name: name.to_owned(),
                set: Some(set),
                reset: reset.iter().map(|&n| n.to_owned()).collect(),
                validate_only,
            })
            .await?;
        response.topic.ok_or(Error::Protocol("a topic description"))
    }

    /// Makes `partition`'s records below `before` unreadable (`None`: all of
    /// them, up to the high-water mark) and returns its log start afterwards.
    pub async fn delete_records(
        &self,
        name: &str,
        partition: u32,
        before: Option<i64>,
    ) -> Result<i64> {
        let response = self
            .transport
            .delete_records(DeleteRecordsRequest {
                name: name.to_owned(),
                partition,
                before_offset: before.unwrap_or(-1),
            })
            .await?;
        Ok(response.log_start_offset)
    }

    /// A topic's settings and each partition's log start and next offset.
    pub async fn describe_topic(&self, name: &str) -> Result<TopicDescription> {
        let response = self
            .transport
            .describe_topic(DescribeTopicRequest {
                name: name.to_owned(),
            })
            .await?;
        response.topic.ok_or(Error::Protocol("a topic description"))
    }
}
