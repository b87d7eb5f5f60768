//! One request frame in, one response frame out: decodes the protobuf
//! message, calls the same service method the gRPC server calls, and turns a
//! `Status` into an error frame. Behaviour and errors are gRPC's by
//! construction: nothing here may decide a call's outcome itself.

use std::sync::Arc;

use stratus_proto::frame::{Frame, Headers, MessageKind, WireMessage};
use stratus_proto::v1::admin_server::Admin;
use stratus_proto::v1::consumer_server::Consumer;
use stratus_proto::v1::groups_server::Groups;
use stratus_proto::v1::producer_server::Producer;
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::{Request, Response, Status};

use super::io::status_frame;
use super::status::frame_status;
use crate::service::{AdminService, ConsumerService, GroupsService, ProducerService};

/// The services a QUIC call can reach.
#[derive(Debug)]
pub(crate) struct Services {
    pub(crate) admin: AdminService,
    pub(crate) producer: ProducerService,
    pub(crate) consumer: ConsumerService,
    pub(crate) groups: GroupsService,
}

impl Services {
    /// Answers one request frame with its response or an error frame.
    pub(crate) async fn call(self: &Arc<Self>, frame: Frame) -> Frame {
        match self.route(frame).await {
            Ok(frame) => frame,
            Err(status) => status_frame(&status),
        }
    }

    async fn route(&self, frame: Frame) -> Result<Frame, Status> {
        match frame.kind {
            MessageKind::CreateTopicRequest => unary(frame, |r| self.admin.create_topic(r)).await,
            MessageKind::DeleteTopicRequest => unary(frame, |r| self.admin.delete_topic(r)).await,
            MessageKind::ListTopicsRequest => unary(frame, |r| self.admin.list_topics(r)).await,
            MessageKind::DescribeTopicRequest => {
                unary(frame, |r| self.admin.describe_topic(r)).await
            }
            MessageKind::CreatePartitionsRequest => {
                unary(frame, |r| self.admin.create_partitions(r)).await
            }
            MessageKind::AlterTopicConfigRequest => {
                unary(frame, |r| self.admin.alter_topic_config(r)).await
            }
            MessageKind::DeleteRecordsRequest => {
                unary(frame, |r| self.admin.delete_records(r)).await
            }
            MessageKind::ProduceRequest => unary(frame, |r| self.producer.produce(r)).await,
            MessageKind::InitProducerIdRequest => {
                unary(frame, |r| self.producer.init_producer_id(r)).await
            }
            MessageKind::FetchRequest => unary(frame, |r| self.consumer.fetch(r)).await,
            MessageKind::ListOffsetsRequest => {
                unary(frame, |r| self.consumer.list_offsets(r)).await
            }
            MessageKind::JoinGroupRequest => unary(frame, |r| self.groups.join_group(r)).await,
            MessageKind::HeartbeatRequest => unary(frame, |r| self.groups.heartbeat(r)).await,
            MessageKind::LeaveGroupRequest => unary(frame, |r| self.groups.leave_group(r)).await,
            MessageKind::CommitOffsetsRequest => {
                unary(frame, |r| self.groups.commit_offsets(r)).await
            }
            MessageKind::FetchOffsetsRequest => {
                unary(frame, |r| self.groups.fetch_offsets(r)).await
            }
            // Served by `produce_stream` before it gets here.
            MessageKind::ProduceStreamRequest => Err(Status::internal(
                "an ordered produce stream reached the single-call dispatcher",
            )),
            MessageKind::CreateTopicResponse
            | MessageKind::DeleteTopicResponse
            | MessageKind::ListTopicsResponse
            | MessageKind::DescribeTopicResponse
            | MessageKind::CreatePartitionsResponse
            | MessageKind::AlterTopicConfigResponse
            | MessageKind::DeleteRecordsResponse
            | MessageKind::ProduceResponse
            | MessageKind::FetchResponse
            | MessageKind::ListOffsetsResponse
            | MessageKind::InitProducerIdResponse
            | MessageKind::JoinGroupResponse
            | MessageKind::HeartbeatResponse
            | MessageKind::LeaveGroupResponse
            | MessageKind::CommitOffsetsResponse
            | MessageKind::FetchOffsetsResponse
            | MessageKind::ProduceStreamResponse
            | MessageKind::Error => Err(Status::unimplemented(format!(
                "{} is not a request; open a stream with a request message",
                frame.kind
            ))),
        }
    }
}

/// Decodes the request, carries the frame's headers over as gRPC metadata
/// (trace context reaches the services the same way on both transports),
/// calls `method` and frames its answer.
async fn unary<Req, Resp, F, Fut>(frame: Frame, method: F) -> Result<Frame, Status>
where
    Req: WireMessage,
    Resp: WireMessage,
    F: FnOnce(Request<Req>) -> Fut,
    Fut: Future<Output = Result<Response<Resp>, Status>>,
{
    let message: Req = frame.message().map_err(|e| frame_status(&e))?;
    let mut request = Request::new(message);
    *request.metadata_mut() = metadata_from(&frame.headers);
    let response = method(request).await?;
    Ok(Frame::from_message(response.get_ref(), Default::default()))
}

/// A frame's headers as gRPC metadata, so trace context reaches the services
/// the same way on both transports.
pub(crate) fn metadata_from(headers: &Headers) -> MetadataMap {
    let mut metadata = MetadataMap::new();
    for (key, value) in headers {
        // The codec admits only keys and values that are valid metadata.
        if let (Ok(key), Ok(value)) = (
            MetadataKey::from_bytes(key.as_bytes()),
            MetadataValue::try_from(value.as_str()),
        ) {
            metadata.insert(key, value);
        }
    }
    metadata
}
