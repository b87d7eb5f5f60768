//! Several gateways behind one transport: `grpc://a:7400,grpc://b:7400`.
//!
//! Gateways are stateless and any of them serves any call, so a client
//! needs only one at a time. Calls go to the current gateway; when one fails
//! in a way another gateway might not (unreachable, gone, timed out), the
//! next gateway becomes current and the error is returned as it is: the
//! producer, consumer and group member already retry retryable errors, and
//! their retry lands on the next gateway. Retrying here as well would hide
//! how long a call really took and double the retry budget.

use std::sync::Arc;

use async_trait::async_trait;
use stratus_proto::v1::{
    AlterTopicConfigRequest, AlterTopicConfigResponse, CommitOffsetsRequest, CommitOffsetsResponse,
    CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicRequest, CreateTopicResponse,
    DeleteRecordsRequest, DeleteRecordsResponse, DeleteTopicRequest, DeleteTopicResponse,
    DescribeTopicRequest, DescribeTopicResponse, FetchOffsetsRequest, FetchOffsetsResponse,
    FetchRequest, FetchResponse, HeartbeatRequest, HeartbeatResponse, InitProducerIdRequest,
    InitProducerIdResponse, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest,
    LeaveGroupResponse, ListOffsetsRequest, ListOffsetsResponse, ListTopicsRequest,
    ListTopicsResponse, ProduceRequest, ProduceResponse,
};
use tokio::sync::Mutex;
use tonic::{Code, Status};

use super::{ConnectOptions, Transport, connect_one};
use crate::error::Error;

#[derive(Debug)]
pub(crate) struct FailoverTransport {
    urls: Vec<String>,
    options: ConnectOptions,
    /// The index of the current gateway and its transport, once connected.
    current: Mutex<(usize, Option<Arc<dyn Transport>>)>,
}

impl FailoverTransport {
    /// Connects to the first gateway of `urls` that answers.
    pub(crate) async fn connect(
        urls: Vec<String>,
        options: &ConnectOptions,
    ) -> Result<Self, Error> {
        let transport = Self {
            urls,
            options: options.clone(),
            current: Mutex::new((0, None)),
        };
        transport
            .transport()
            .await
            .map_err(|status| Error::Connect {
                url: transport.urls.join(","),
                reason: status.message().to_owned(),
            })?;
        Ok(transport)
    }

    /// The current gateway's transport, connecting (and moving past gateways
    /// that do not answer) when there is none.
    async fn transport(&self) -> Result<Arc<dyn Transport>, Status> {
        let mut current = self.current.lock().await;
        if let Some(transport) = &current.1 {
            return Ok(Arc::clone(transport));
        }
        let mut reasons = Vec::new();
        for _ in 0..self.urls.len() {
            let url = &self.urls[current.0];
            match connect_one(url, &self.options).await {
                Ok(transport) => {
                    current.1 = Some(Arc::clone(&transport));
                    return Ok(transport);
                }
                Err(e) => {
                    tracing::debug!(%url, error = %e, "gateway unreachable; trying the next");
                    reasons.push(e.to_string());
                    current.0 = (current.0 + 1) % self.urls.len();
                }
            }
        }
        Err(Status::unavailable(format!(
            "no gateway answered: {}",
            reasons.join("; ")
        )))
    }

    /// Moves to the next gateway if `failed` is still the current one (a
    /// concurrent call may have moved on already).
    async fn fail_over(&self, failed: &Arc<dyn Transport>) {
        let mut current = self.current.lock().await;
        if current.1.as_ref().is_some_and(|t| Arc::ptr_eq(t, failed)) {
            tracing::debug!(url = %self.urls[current.0], "gateway failed; using the next one");
            current.1 = None;
            current.0 = (current.0 + 1) % self.urls.len();
        }
    }

    async fn with<T, F, Fut>(&self, call: F) -> Result<T, Status>
    where
        F: FnOnce(Arc<dyn Transport>) -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        let transport = self.transport().await?;
        let result = call(Arc::clone(&transport)).await;
        if let Err(status) = &result
            && gateway_failed(status)
        {
            self.fail_over(&transport).await;
        }
        result
    }
}

/// Whether the failure is the gateway's or the network's rather than the
/// request's, so another gateway may answer.
fn gateway_failed(status: &Status) -> bool {
    matches!(
        status.code(),
        Code::Unavailable | Code::Unknown | Code::Cancelled | Code::DeadlineExceeded
    )
}

#[async_trait]
impl Transport for FailoverTransport {
    async fn create_topic(&self, req: CreateTopicRequest) -> Result<CreateTopicResponse, Status> {
        self.with(|t| async move { t.create_topic(req).await })
            .await
    }

    async fn delete_topic(&self, req: DeleteTopicRequest) -> Result<DeleteTopicResponse, Status> {
        self.with(|t| async move { t.delete_topic(req).await })
            .await
    }

    async fn list_topics(&self, req: ListTopicsRequest) -> Result<ListTopicsResponse, Status> {
        self.with(|t| async move { t.list_topics(req).await }).await
    }

    async fn describe_topic(
        &self,
        req: DescribeTopicRequest,
    ) -> Result<DescribeTopicResponse, Status> {
        self.with(|t| async move { t.describe_topic(req).await })
            .await
    }

    async fn create_partitions(
        &self,
        req: CreatePartitionsRequest,
    ) -> Result<CreatePartitionsResponse, Status> {
        self.with(|t| async move { t.create_partitions(req).await })
            .await
    }

    async fn alter_topic_config(
        &self,
        req: AlterTopicConfigRequest,
    ) -> Result<AlterTopicConfigResponse, Status> {
        self.with(|t| async move { t.alter_topic_config(req).await })
            .await
    }

    async fn delete_records(
        &self,
        req: DeleteRecordsRequest,
    ) -> Result<DeleteRecordsResponse, Status> {
        self.with(|t| async move { t.delete_records(req).await })
            .await
    }

    async fn init_producer_id(
        &self,
        req: InitProducerIdRequest,
    ) -> Result<InitProducerIdResponse, Status> {
        self.with(|t| async move { t.init_producer_id(req).await })
            .await
    }

    async fn produce(&self, req: ProduceRequest) -> Result<ProduceResponse, Status> {
        self.with(|t| async move { t.produce(req).await }).await
    }

    async fn fetch(&self, req: FetchRequest) -> Result<FetchResponse, Status> {
        self.with(|t| async move { t.fetch(req).await }).await
    }

    async fn list_offsets(&self, req: ListOffsetsRequest) -> Result<ListOffsetsResponse, Status> {
        self.with(|t| async move { t.list_offsets(req).await })
            .await
    }

    async fn join_group(&self, req: JoinGroupRequest) -> Result<JoinGroupResponse, Status> {
        self.with(|t| async move { t.join_group(req).await }).await
    }

    async fn heartbeat(&self, req: HeartbeatRequest) -> Result<HeartbeatResponse, Status> {
        self.with(|t| async move { t.heartbeat(req).await }).await
    }

    async fn leave_group(&self, req: LeaveGroupRequest) -> Result<LeaveGroupResponse, Status> {
        self.with(|t| async move { t.leave_group(req).await }).await
    }

    async fn commit_offsets(
        &self,
        req: CommitOffsetsRequest,
    ) -> Result<CommitOffsetsResponse, Status> {
        self.with(|t| async move { t.commit_offsets(req).await })
            .await
    }

    async fn fetch_offsets(
        &self,
        req: FetchOffsetsRequest,
    ) -> Result<FetchOffsetsResponse, Status> {
        self.with(|t| async move { t.fetch_offsets(req).await })
            .await
    }
}
