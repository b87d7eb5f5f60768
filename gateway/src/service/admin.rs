//! The gRPC `Admin` service: topic administration over `crate::admin`.
//! Translation only; the rules are `TopicAdmin`'s and storage's.

use stratus_proto::v1::admin_server::Admin;
use stratus_proto::v1::{
    AlterTopicConfigRequest, AlterTopicConfigResponse, CreatePartitionsRequest,
    CreatePartitionsResponse, CreateTopicRequest, CreateTopicResponse, DeleteRecordsRequest,
    DeleteRecordsResponse, DeleteTopicRequest, DeleteTopicResponse, DescribeTopicRequest,
    DescribeTopicResponse, ListTopicsRequest, ListTopicsResponse, PartitionDescription,
    TopicDescription, TopicSummary,
};
use stratus_storage::log::DeleteRecordsTo;
use stratus_storage::topic::{TopicConfig, TopicRecord};
use tonic::{Request, Response, Status};

use super::convert::{overlay_config, topic_config, topic_id, wire_config};
use crate::core::GatewayCore;
use crate::error::GatewayError;

#[derive(Debug)]
pub(crate) struct AdminService(pub(crate) GatewayCore);

impl AdminService {
    async fn describe(&self, topic: &TopicRecord) -> Result<TopicDescription, GatewayError> {
        let states = self.0.topics().partition_states(topic).await?;
        Ok(TopicDescription {
            name: topic.name.clone(),
            topic_id: topic_id(topic),
            config: Some(wire_config(&topic.config)),
            partitions: states
                .into_iter()
                .map(|(partition, state)| PartitionDescription {
                    partition,
                    log_start_offset: state.log_start_offset,
                    next_offset: state.high_watermark,
                })
                .collect(),
            created_at_ms: topic.created_at_ms,
        })
    }
}

/// The settings an AlterTopicConfig request makes of `current`.
fn altered_config(
    current: &TopicConfig,
    set: Option<stratus_proto::v1::TopicConfig>,
    reset: &[String],
) -> Result<TopicConfig, GatewayError> {
    let mut config = match set {
        Some(set) => overlay_config(current, set)?,
        None => current.clone(),
    };
    for name in reset {
        if !config.reset(name) {
            return Err(GatewayError::InvalidArgument(format!(
                "there is no topic setting {name:?} to reset; the settings are {}",
                TopicConfig::NAMES.join(", ")
            )));
        }
    }
    Ok(config)
}

#[tonic::async_trait]
impl Admin for AdminService {
    async fn create_topic(
        &self,
        request: Request<CreateTopicRequest>,
    ) -> Result<Response<CreateTopicResponse>, Status> {
        let request = request.into_inner();
        let config = topic_config(request.config)?;
        let topics = self.0.topics();
        let topic = topics
            .create(&request.name, request.partitions, config)
            .await?;
        Ok(Response::new(CreateTopicResponse {
            topic: Some(self.describe(&topic).await?),
        }))
    }

    async fn delete_topic(
        &self,
        request: Request<DeleteTopicRequest>,
    ) -> Result<Response<DeleteTopicResponse>, Status> {
        let name = request.into_inner().name;
        self.0.topics().delete(&name).await?;
        Ok(Response::new(DeleteTopicResponse {}))
    }

    async fn list_topics(
        &self,
        _request: Request<ListTopicsRequest>,
    ) -> Result<Response<ListTopicsResponse>, Status> {
        let topics = self.0.topics().list().await?;
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

    async fn create_partitions(
        &self,
        request: Request<CreatePartitionsRequest>,
    ) -> Result<Response<CreatePartitionsResponse>, Status> {
        let request = request.into_inner();
        let topic = self
            .0
            .topics()
            .create_partitions(&request.name, request.partitions, request.validate_only)
            .await?;
        Ok(Response::new(CreatePartitionsResponse {
            topic: Some(self.describe(&topic).await?),
        }))
    }

    async fn alter_topic_config(
        &self,
        request: Request<AlterTopicConfigRequest>,
    ) -> Result<Response<AlterTopicConfigResponse>, Status> {
        let request = request.into_inner();
        let (set, reset) = (request.set, request.reset);
        let edit = |current: &TopicConfig| altered_config(current, set, &reset);
        let topic = self
            .0
            .topics()
            .alter_config(&request.name, request.validate_only, &edit)
            .await??;
        Ok(Response::new(AlterTopicConfigResponse {
            topic: Some(self.describe(&topic).await?),
        }))
    }

    async fn delete_records(
        &self,
        request: Request<DeleteRecordsRequest>,
    ) -> Result<Response<DeleteRecordsResponse>, Status> {
        let request = request.into_inner();
        let to = match request.before_offset {
            -1 => DeleteRecordsTo::HighWatermark,
            offset => DeleteRecordsTo::Offset(offset),
        };
        let topics = self.0.topics();
        let topic = topics.describe(&request.name).await?;
        let log_start_offset = topics.delete_records(&topic, request.partition, to).await?;
        Ok(Response::new(DeleteRecordsResponse { log_start_offset }))
    }

    async fn describe_topic(
        &self,
        request: Request<DescribeTopicRequest>,
    ) -> Result<Response<DescribeTopicResponse>, Status> {
        let name = request.into_inner().name;
        let topic = self.0.topics().describe(&name).await?;
        Ok(Response::new(DescribeTopicResponse {
            topic: Some(self.describe(&topic).await?),
        }))
    }
}
