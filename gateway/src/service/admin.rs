use std::sync::Arc;

use stratus_proto::v1::admin_server::Admin;
use stratus_proto::v1::{
    CreateTopicRequest, CreateTopicResponse, DeleteTopicRequest, DeleteTopicResponse,
    DescribeTopicRequest, DescribeTopicResponse, ListTopicsRequest, ListTopicsResponse,
    PartitionDescription, TopicDescription, TopicSummary,
};
use stratus_storage::topic::TopicRecord;
use tonic::{Request, Response, Status};

use super::Shared;
use super::convert::{topic_config, topic_id, wire_config};
use crate::error::GatewayError;

#[derive(Debug)]
pub(crate) struct AdminService(pub(crate) Arc<Shared>);

impl AdminService {
    async fn describe(&self, topic: &TopicRecord) -> Result<TopicDescription, GatewayError> {
        let offsets = self.0.log.partition_offsets(topic).await?;
        Ok(TopicDescription {
            name: topic.name.clone(),
            topic_id: topic_id(topic),
            config: Some(wire_config(&topic.config)),
            partitions: offsets
                .into_iter()
                .map(|p| PartitionDescription {
                    partition: p.partition,
                    log_start_offset: p.log_start_offset,
                    next_offset: p.next_offset,
                })
                .collect(),
            created_at_ms: topic.created_at_ms,
        })
    }
}

#[tonic::async_trait]
impl Admin for AdminService {
    async fn create_topic(
        &self,
        request: Request<CreateTopicRequest>,
    ) -> Result<Response<CreateTopicResponse>, Status> {
        let request = request.into_inner();
        let config = topic_config(request.config)?;
        let topic = self
            .0
            .log
            .create_topic(&request.name, request.partitions, config)
            .await
            .map_err(GatewayError::from)?;
        self.0.topics.forget(&topic.name);
        tracing::info!(topic = %topic.name, partitions = topic.partitions, "topic created");
        Ok(Response::new(CreateTopicResponse {
            topic: Some(self.describe(&topic).await?),
        }))
    }

    async fn delete_topic(
        &self,
        request: Request<DeleteTopicRequest>,
    ) -> Result<Response<DeleteTopicResponse>, Status> {
        let name = request.into_inner().name;
        self.0
            .log
            .delete_topic(&name)
            .await
            .map_err(GatewayError::from)?;
        self.0.topics.forget(&name);
        tracing::info!(topic = %name, "topic deleted");
        Ok(Response::new(DeleteTopicResponse {}))
    }

    async fn list_topics(
        &self,
        _request: Request<ListTopicsRequest>,
    ) -> Result<Response<ListTopicsResponse>, Status> {
        let topics = self.0.log.list_topics().await.map_err(GatewayError::from)?;
        Ok(Response::new(ListTopicsResponse {
            topics: topics
                .into_iter()
                .map(|t| TopicSummary {
                    name: t.name,
                    partitions: t.partitions,
                })
                .collect(),
        }))
    }

    async fn describe_topic(
        &self,
        request: Request<DescribeTopicRequest>,
    ) -> Result<Response<DescribeTopicResponse>, Status> {
        let name = request.into_inner().name;
        let topic = self.0.log.topic(&name).await.map_err(GatewayError::from)?;
        Ok(Response::new(DescribeTopicResponse {
            topic: Some(self.describe(&topic).await?),
        }))
    }
}
