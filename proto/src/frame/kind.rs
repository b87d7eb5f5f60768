//! Message types carried by QUIC frames, and which protobuf message each one
//! holds.
//!
//! The numbers are on the wire: never renumber or reuse one. Requests are odd,
//! their responses the next even number; `Error` answers any request.
//!
//! `ProduceStreamRequest` opens an ordered produce stream: the client keeps
//! writing `ProduceRequest`s as frames of that kind on one stream, and the
//! gateway answers each, in order, with a `ProduceResponse` in a
//! `ProduceStreamResponse` frame (errors of one request inside it), as gRPC's
//! `ProduceStream` call does.

use crate::v1;

/// The type byte of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum MessageKind {
    CreateTopicRequest = 1,
    CreateTopicResponse = 2,
    DeleteTopicRequest = 3,
    DeleteTopicResponse = 4,
    ListTopicsRequest = 5,
    ListTopicsResponse = 6,
    DescribeTopicRequest = 7,
    DescribeTopicResponse = 8,
    ProduceRequest = 9,
    ProduceResponse = 10,
    FetchRequest = 11,
    FetchResponse = 12,
    ListOffsetsRequest = 13,
    ListOffsetsResponse = 14,
    InitProducerIdRequest = 15,
    InitProducerIdResponse = 16,
    JoinGroupRequest = 17,
    JoinGroupResponse = 18,
    HeartbeatRequest = 19,
    HeartbeatResponse = 20,
    LeaveGroupRequest = 21,
    LeaveGroupResponse = 22,
    CommitOffsetsRequest = 23,
    CommitOffsetsResponse = 24,
    FetchOffsetsRequest = 25,
    FetchOffsetsResponse = 26,
    /// A `ProduceRequest` on an ordered produce stream.
    ProduceStreamRequest = 27,
    /// A `ProduceResponse` on an ordered produce stream.
    ProduceStreamResponse = 28,
    CreatePartitionsRequest = 29,
    CreatePartitionsResponse = 30,
    AlterTopicConfigRequest = 31,
    AlterTopicConfigResponse = 32,
    DeleteRecordsRequest = 33,
    DeleteRecordsResponse = 34,
    /// The request failed; the payload is an `ErrorDetail` (gRPC status code
    /// and message).
    Error = 255,
}

impl MessageKind {
    /// Every kind, in wire order.
    pub const ALL: [MessageKind; 35] = [
        MessageKind::CreateTopicRequest,
        MessageKind::CreateTopicResponse,
        MessageKind::DeleteTopicRequest,
        MessageKind::DeleteTopicResponse,
        MessageKind::ListTopicsRequest,
        MessageKind::ListTopicsResponse,
        MessageKind::DescribeTopicRequest,
        MessageKind::DescribeTopicResponse,
        MessageKind::ProduceRequest,
        MessageKind::ProduceResponse,
        MessageKind::FetchRequest,
        MessageKind::FetchResponse,
        MessageKind::ListOffsetsRequest,
        MessageKind::ListOffsetsResponse,
        MessageKind::InitProducerIdRequest,
        MessageKind::InitProducerIdResponse,
        MessageKind::JoinGroupRequest,
        MessageKind::JoinGroupResponse,
        MessageKind::HeartbeatRequest,
        MessageKind::HeartbeatResponse,
        MessageKind::LeaveGroupRequest,
        MessageKind::LeaveGroupResponse,
        MessageKind::CommitOffsetsRequest,
        MessageKind::CommitOffsetsResponse,
        MessageKind::FetchOffsetsRequest,
        MessageKind::FetchOffsetsResponse,
        MessageKind::ProduceStreamRequest,
        MessageKind::ProduceStreamResponse,
        MessageKind::CreatePartitionsRequest,
        MessageKind::CreatePartitionsResponse,
        MessageKind::AlterTopicConfigRequest,
        MessageKind::AlterTopicConfigResponse,
        MessageKind::DeleteRecordsRequest,
        MessageKind::DeleteRecordsResponse,
        MessageKind::Error,
    ];

    /// The kind with wire number `byte`, if there is one.
    pub fn from_u8(byte: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| *kind as u8 == byte)
    }

    /// Whether a client may send this kind to open a call.
    pub fn is_request(self) -> bool {
        self != MessageKind::Error && (self as u8) % 2 == 1
    }

    /// The kind that answers this request, if this is a request.
    pub fn response(self) -> Option<Self> {
        if self.is_request() {
            Self::from_u8(self as u8 + 1)
        } else {
            None
        }
    }

    /// A name for errors and logs, matching the protobuf message.
    pub fn name(self) -> &'static str {
        match self {
            MessageKind::CreateTopicRequest => "CreateTopicRequest",
            MessageKind::CreateTopicResponse => "CreateTopicResponse",
            MessageKind::DeleteTopicRequest => "DeleteTopicRequest",
            MessageKind::DeleteTopicResponse => "DeleteTopicResponse",
            MessageKind::ListTopicsRequest => "ListTopicsRequest",
            MessageKind::ListTopicsResponse => "ListTopicsResponse",
            MessageKind::DescribeTopicRequest => "DescribeTopicRequest",
            MessageKind::DescribeTopicResponse => "DescribeTopicResponse",
            MessageKind::ProduceRequest => "ProduceRequest",
            MessageKind::ProduceResponse => "ProduceResponse",
            MessageKind::FetchRequest => "FetchRequest",
            MessageKind::FetchResponse => "FetchResponse",
            MessageKind::ListOffsetsRequest => "ListOffsetsRequest",
            MessageKind::ListOffsetsResponse => "ListOffsetsResponse",
            MessageKind::InitProducerIdRequest => "InitProducerIdRequest",
            MessageKind::InitProducerIdResponse => "InitProducerIdResponse",
            MessageKind::JoinGroupRequest => "JoinGroupRequest",
            MessageKind::JoinGroupResponse => "JoinGroupResponse",
            MessageKind::HeartbeatRequest => "HeartbeatRequest",
            MessageKind::HeartbeatResponse => "HeartbeatResponse",
            MessageKind::LeaveGroupRequest => "LeaveGroupRequest",
            MessageKind::LeaveGroupResponse => "LeaveGroupResponse",
            MessageKind::CommitOffsetsRequest => "CommitOffsetsRequest",
            MessageKind::CommitOffsetsResponse => "CommitOffsetsResponse",
            MessageKind::FetchOffsetsRequest => "FetchOffsetsRequest",
            MessageKind::FetchOffsetsResponse => "FetchOffsetsResponse",
            MessageKind::ProduceStreamRequest => "ProduceStreamRequest",
            MessageKind::ProduceStreamResponse => "ProduceStreamResponse",
            MessageKind::CreatePartitionsRequest => "CreatePartitionsRequest",
            MessageKind::CreatePartitionsResponse => "CreatePartitionsResponse",
            MessageKind::AlterTopicConfigRequest => "AlterTopicConfigRequest",
            MessageKind::AlterTopicConfigResponse => "AlterTopicConfigResponse",
            MessageKind::DeleteRecordsRequest => "DeleteRecordsRequest",
            MessageKind::DeleteRecordsResponse => "DeleteRecordsResponse",
            MessageKind::Error => "Error",
        }
    }
}

impl std::fmt::Display for MessageKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.name(), *self as u8)
    }
}

/// A protobuf message that travels in frames of one kind (and, for the
/// produce messages, also on ordered produce streams).
pub trait WireMessage: prost::Message + Default {
    const KIND: MessageKind;
    /// The kind of its frames on an ordered produce stream, if it has one.
    const STREAM_KIND: Option<MessageKind> = None;
}

macro_rules! wire_messages {
    ($($ty:ident),* $(,)?) => {
        $(impl WireMessage for v1::$ty {
            const KIND: MessageKind = MessageKind::$ty;
        })*
    };
}

wire_messages!(
    CreateTopicRequest,
    CreateTopicResponse,
    DeleteTopicRequest,
    DeleteTopicResponse,
    ListTopicsRequest,
    ListTopicsResponse,
    DescribeTopicRequest,
    DescribeTopicResponse,
    FetchRequest,
    FetchResponse,
    ListOffsetsRequest,
    ListOffsetsResponse,
    InitProducerIdRequest,
    InitProducerIdResponse,
    JoinGroupRequest,
    JoinGroupResponse,
    HeartbeatRequest,
    HeartbeatResponse,
    LeaveGroupRequest,
    LeaveGroupResponse,
    CommitOffsetsRequest,
    CommitOffsetsResponse,
    FetchOffsetsRequest,
    FetchOffsetsResponse,
    CreatePartitionsRequest,
    CreatePartitionsResponse,
    AlterTopicConfigRequest,
    AlterTopicConfigResponse,
    DeleteRecordsRequest,
    DeleteRecordsResponse,
);

impl WireMessage for v1::ProduceRequest {
    const KIND: MessageKind = MessageKind::ProduceRequest;
    const STREAM_KIND: Option<MessageKind> = Some(MessageKind::ProduceStreamRequest);
}

impl WireMessage for v1::ProduceResponse {
    const KIND: MessageKind = MessageKind::ProduceResponse;
    const STREAM_KIND: Option<MessageKind> = Some(MessageKind::ProduceStreamResponse);
}

impl WireMessage for v1::ErrorDetail {
    const KIND: MessageKind = MessageKind::Error;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The wire numbers, pinned: a change here breaks every deployed client.
    #[test]
    fn numbers_are_stable() {
        let numbers: Vec<(u8, &str)> = MessageKind::ALL
            .iter()
            .map(|k| (*k as u8, k.name()))
            .collect();
        assert_eq!(
            numbers,
            vec![
                (1, "CreateTopicRequest"),
                (2, "CreateTopicResponse"),
                (3, "DeleteTopicRequest"),
                (4, "DeleteTopicResponse"),
                (5, "ListTopicsRequest"),
                (6, "ListTopicsResponse"),
                (7, "DescribeTopicRequest"),
                (8, "DescribeTopicResponse"),
                (9, "ProduceRequest"),
                (10, "ProduceResponse"),
                (11, "FetchRequest"),
                (12, "FetchResponse"),
                (13, "ListOffsetsRequest"),
                (14, "ListOffsetsResponse"),
                (15, "InitProducerIdRequest"),
                (16, "InitProducerIdResponse"),
                (17, "JoinGroupRequest"),
                (18, "JoinGroupResponse"),
                (19, "HeartbeatRequest"),
                (20, "HeartbeatResponse"),
                (21, "LeaveGroupRequest"),
                (22, "LeaveGroupResponse"),
                (23, "CommitOffsetsRequest"),
                (24, "CommitOffsetsResponse"),
                (25, "FetchOffsetsRequest"),
                (26, "FetchOffsetsResponse"),
                (27, "ProduceStreamRequest"),
                (28, "ProduceStreamResponse"),
                (29, "CreatePartitionsRequest"),
                (30, "CreatePartitionsResponse"),
                (31, "AlterTopicConfigRequest"),
                (32, "AlterTopicConfigResponse"),
                (33, "DeleteRecordsRequest"),
                (34, "DeleteRecordsResponse"),
                (255, "Error"),
            ]
        );
    }

    #[test]
    fn every_byte_maps_to_at_most_one_kind() {
        for byte in 0..=u8::MAX {
            if let Some(kind) = MessageKind::from_u8(byte) {
                assert_eq!(kind as u8, byte);
            }
        }
        assert_eq!(
            MessageKind::ProduceRequest.response(),
            Some(MessageKind::ProduceResponse)
        );
        assert_eq!(MessageKind::ProduceResponse.response(), None);
        assert!(!MessageKind::Error.is_request());
    }
}
