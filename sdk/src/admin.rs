//! Topic administration.

use std::sync::Arc;

use stratus_proto::v1::{
    CreateTopicRequest, DeleteTopicRequest, DescribeTopicRequest, ListTopicsRequest, TopicConfig,
    TopicDescription, TopicSummary,
};

use crate::error::{Error, Result};
use crate::transport::Transport;

/// Creates, deletes, lists and describes topics.
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
