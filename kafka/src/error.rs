//! What can go wrong in a Kafka request, and the one place each kind becomes
//! a Kafka error code ([`BrokerError::code`]).
//!
//! [`Broker`](crate::Broker) implementations and the handlers both speak
//! [`BrokerError`]; no other module may write a Kafka error code. Errors that
//! end the connection instead of answering (a malformed frame) are
//! [`FrameError`](crate::FrameError)s, which have no code.

use kafka_protocol::ResponseError;
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

/// Why one part of a request (a partition, a topic, a config resource, or the
/// whole request) failed. Messages say what happened and what to do; clients
/// that show `error_message` show them verbatim.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrokerError {
    /// The topic or partition does not exist.
    #[error("{0}")]
    UnknownTopicOrPartition(String),
    /// A topic id (Fetch v13+, Metadata v10+, DeleteTopics v6) names no topic.
    #[error("no topic has id {0}; refresh metadata")]
    UnknownTopicId(Uuid),
    /// A fetch or delete-records offset is outside the partition's log.
    #[error("{0}")]
    OffsetOutOfRange(String),
    /// Record bytes fail their checksum or framing.
    #[error("{0}")]
    CorruptMessage(String),
    /// Records that are well formed but refused (bad key on a compacted topic,
    /// bad header, ...).
    #[error("{0}")]
    InvalidRecord(String),
    /// One batch is larger than the topic allows.
    #[error("{0}")]
    MessageTooLarge(String),
    /// The records of one partition in one request are too large together.
    #[error("{0}")]
    RecordListTooLarge(String),
    /// A record timestamp is outside what the topic accepts.
    #[error("{0}")]
    InvalidTimestamp(String),
    /// The topic name breaks the naming rules.
    #[error("{0}")]
    InvalidTopic(String),
    /// CreateTopics named an existing topic.
    #[error("{0}")]
    TopicAlreadyExists(String),
    /// A partition count is out of range, or smaller than the current one.
    #[error("{0}")]
    InvalidPartitions(String),
    /// A replication factor that cannot mean anything (0 or below -1).
    #[error("{0}")]
    InvalidReplicationFactor(String),
    /// A config name or value is refused.
    #[error("{0}")]
    InvalidConfig(String),
    /// The request is well formed but makes no sense (a topic named twice,
    /// an unknown resource type, ...).
    #[error("{0}")]
    InvalidRequest(String),
    /// Produce `acks` other than 0, 1 and -1.
    #[error("acks must be 0, 1 or -1 (all), not {0}")]
    InvalidRequiredAcks(i16),
    /// A create, delete or alter refused by cluster policy.
    #[error("{0}")]
    PolicyViolation(String),
    /// The request asks for something this broker does not speak.
    #[error("{0}")]
    UnsupportedVersion(String),
    /// Records in a format other than RecordBatch v2 (magic 2).
    #[error("{0}")]
    UnsupportedForMessageFormat(String),
    /// Transactions (a `transactional.id`, or transactional batches) are not
    /// supported yet. Mapped to TRANSACTIONAL_ID_AUTHORIZATION_FAILED (53),
    /// what Kafka answers a principal that may not use transactional ids: it
    /// is fatal in every client (not retried), refused before anything is
    /// written, and clients name `transactional.id` when they report it.
    /// INVALID_TXN_STATE (48) would suggest a client bug and is retried by
    /// some clients.
    #[error("transactions are not supported; remove transactional.id from the producer settings")]
    TransactionsUnsupported,
    /// An idempotent producer's sequence number skipped ahead.
    #[error("{0}")]
    OutOfOrderSequence(String),
    /// An idempotent producer's batch was already written (the earlier write
    /// stands).
    #[error("{0}")]
    DuplicateSequence(String),
    /// A producer epoch older than the latest one for its producer id.
    #[error("{0}")]
    InvalidProducerEpoch(String),
    /// The producer id is not known (its state expired).
    #[error("{0}")]
    UnknownProducerId(String),
    /// The principal may not use this topic.
    #[error("{0}")]
    TopicAuthorizationFailed(String),
    /// The principal may not perform this cluster operation.
    #[error("{0}")]
    ClusterAuthorizationFailed(String),
    /// A fetch named a fetch session; this broker never creates any
    /// (it answers every fetch with session id 0).
    #[error("fetch session {0} does not exist; fetch sessions are not supported")]
    FetchSessionNotFound(i32),
    /// DescribeCluster asked for an endpoint type other than brokers.
    #[error("endpoint type {0} is not served; ask for brokers (1)")]
    UnsupportedEndpointType(i8),
    /// Topic deletion is turned off.
    #[error("{0}")]
    TopicDeletionDisabled(String),
    /// This gateway is not serving (shutting down, or not registered); the
    /// client should refresh metadata and go to another.
    #[error("{0}")]
    NotServing(String),
    /// The metadata store or object storage is unreachable; retry.
    #[error("{0}")]
    StorageUnavailable(String),
    /// The operation did not finish within the request's timeout; its outcome
    /// is not known.
    #[error("{0}")]
    Timeout(String),
    /// A quota was exceeded; retry later.
    #[error("{0}")]
    Throttled(String),
    /// A group id that is empty, too long or has control characters.
    #[error("{0}")]
    InvalidGroupId(String),
    /// The group coordinator cannot answer now (the metadata store is
    /// unreachable); the client finds the coordinator again and retries.
    #[error("{0}")]
    CoordinatorNotAvailable(String),
    /// The member is not in the group (expired, left, never joined).
    #[error("{0}")]
    UnknownMemberId(String),
    /// The member's generation is not the group's.
    #[error("{0}")]
    IllegalGeneration(String),
    /// The group is rebalancing; the member rejoins.
    #[error("{0}")]
    RebalanceInProgress(String),
    /// Protocol type or assignors that do not match the group's.
    #[error("{0}")]
    InconsistentGroupProtocol(String),
    /// JoinGroup v4+: the member was given this id and must rejoin with it.
    #[error("rejoin with the member id {0:?} the group has given this member")]
    MemberIdRequired(String),
    /// A static member's instance id was taken over by a newer member.
    #[error("{0}")]
    FencedInstanceId(String),
    /// A KIP-848 static member joined while another member of its
    /// `group.instance.id` is still active (has not left with epoch -2).
    #[error("{0}")]
    UnreleasedInstanceId(String),
    /// The group has as many members as it may.
    #[error("{0}")]
    GroupMaxSizeReached(String),
    /// A session timeout outside the broker's bounds.
    #[error("{0}")]
    InvalidSessionTimeout(String),
    /// DeleteGroups of a group with live members.
    #[error("{0}")]
    NonEmptyGroup(String),
    /// The group does not exist.
    #[error("{0}")]
    GroupIdNotFound(String),
    /// A KIP-848 member asked for an assignor the server does not have.
    #[error("{0}")]
    UnsupportedAssignor(String),
    /// A KIP-848 member subscribed with a regular expression that does not compile.
    #[error("{0}")]
    InvalidRegularExpression(String),
    /// A KIP-848 member committed with an epoch that is not its current one.
    #[error("{0}")]
    StaleMemberEpoch(String),
    /// OffsetDelete of a topic a live member subscribes to.
    #[error("{0}")]
    GroupSubscribedToTopic(String),
    /// Committed-offset metadata over the limit.
    #[error("{0}")]
    OffsetMetadataTooLarge(String),
    /// A committed offset that cannot be one (negative).
    #[error("{0}")]
    InvalidCommitOffsetSize(String),
    /// SASL: the user name or password is wrong, or the client's SASL bytes
    /// do not parse. The connection is closed after the answer.
    #[error("{0}")]
    SaslAuthenticationFailed(String),
    /// SASL: a request out of order (SaslAuthenticate before SaslHandshake,
    /// SASL on a listener without it).
    #[error("{0}")]
    IllegalSaslState(String),
    /// SASL: a mechanism this listener does not offer.
    #[error("{0}")]
    UnsupportedSaslMechanism(String),
    /// A user (or one of its credentials) that does not exist.
    #[error("{0}")]
    ResourceNotFound(String),
    /// One request names the same user's credential twice.
    #[error("{0}")]
    DuplicateResource(String),
    /// A credential that cannot be stored (too few iterations, a bad salt).
    #[error("{0}")]
    UnacceptableCredential(String),
    /// A bug or an unexpected failure; the message says which.
    #[error("{0}")]
    Internal(String),
}

impl BrokerError {
    /// The Kafka error code this error is answered with: the only mapping
    /// from Stratus errors to Kafka codes.
    pub fn code(&self) -> i16 {
        let kind = match self {
            Self::UnknownTopicOrPartition(_) => ResponseError::UnknownTopicOrPartition,
            Self::UnknownTopicId(_) => ResponseError::UnknownTopicId,
            Self::OffsetOutOfRange(_) => ResponseError::OffsetOutOfRange,
            Self::CorruptMessage(_) => ResponseError::CorruptMessage,
            Self::InvalidRecord(_) => ResponseError::InvalidRecord,
            Self::MessageTooLarge(_) => ResponseError::MessageTooLarge,
            Self::RecordListTooLarge(_) => ResponseError::RecordListTooLarge,
            Self::InvalidTimestamp(_) => ResponseError::InvalidTimestamp,
            Self::InvalidTopic(_) => ResponseError::InvalidTopicException,
            Self::TopicAlreadyExists(_) => ResponseError::TopicAlreadyExists,
            Self::InvalidPartitions(_) => ResponseError::InvalidPartitions,
            Self::InvalidReplicationFactor(_) => ResponseError::InvalidReplicationFactor,
            Self::InvalidConfig(_) => ResponseError::InvalidConfig,
            Self::InvalidRequest(_) => ResponseError::InvalidRequest,
            Self::InvalidRequiredAcks(_) => ResponseError::InvalidRequiredAcks,
            Self::PolicyViolation(_) => ResponseError::PolicyViolation,
            Self::UnsupportedVersion(_) => ResponseError::UnsupportedVersion,
            Self::UnsupportedForMessageFormat(_) => ResponseError::UnsupportedForMessageFormat,
            Self::TransactionsUnsupported => ResponseError::TransactionalIdAuthorizationFailed,
            Self::OutOfOrderSequence(_) => ResponseError::OutOfOrderSequenceNumber,
            Self::DuplicateSequence(_) => ResponseError::DuplicateSequenceNumber,
            Self::InvalidProducerEpoch(_) => ResponseError::InvalidProducerEpoch,
            Self::UnknownProducerId(_) => ResponseError::UnknownProducerId,
            Self::TopicAuthorizationFailed(_) => ResponseError::TopicAuthorizationFailed,
            Self::ClusterAuthorizationFailed(_) => ResponseError::ClusterAuthorizationFailed,
            Self::FetchSessionNotFound(_) => ResponseError::FetchSessionIdNotFound,
            Self::UnsupportedEndpointType(_) => ResponseError::UnsupportedEndpointType,
            Self::TopicDeletionDisabled(_) => ResponseError::TopicDeletionDisabled,
            Self::NotServing(_) => ResponseError::NotLeaderOrFollower,
            Self::StorageUnavailable(_) => ResponseError::KafkaStorageError,
            Self::Timeout(_) => ResponseError::RequestTimedOut,
            Self::Throttled(_) => ResponseError::ThrottlingQuotaExceeded,
            Self::InvalidGroupId(_) => ResponseError::InvalidGroupId,
            Self::CoordinatorNotAvailable(_) => ResponseError::CoordinatorNotAvailable,
            Self::UnknownMemberId(_) => ResponseError::UnknownMemberId,
            Self::IllegalGeneration(_) => ResponseError::IllegalGeneration,
            Self::RebalanceInProgress(_) => ResponseError::RebalanceInProgress,
            Self::InconsistentGroupProtocol(_) => ResponseError::InconsistentGroupProtocol,
            Self::MemberIdRequired(_) => ResponseError::MemberIdRequired,
            Self::GroupMaxSizeReached(_) => ResponseError::GroupMaxSizeReached,
            Self::FencedInstanceId(_) => ResponseError::FencedInstanceId,
            Self::UnreleasedInstanceId(_) => ResponseError::UnreleasedInstanceId,
            Self::InvalidSessionTimeout(_) => ResponseError::InvalidSessionTimeout,
            Self::NonEmptyGroup(_) => ResponseError::NonEmptyGroup,
            Self::GroupIdNotFound(_) => ResponseError::GroupIdNotFound,
            Self::GroupSubscribedToTopic(_) => ResponseError::GroupSubscribedToTopic,
            Self::UnsupportedAssignor(_) => ResponseError::UnsupportedAssignor,
            Self::InvalidRegularExpression(_) => ResponseError::InvalidRegularExpression,
            Self::StaleMemberEpoch(_) => ResponseError::StaleMemberEpoch,
            Self::OffsetMetadataTooLarge(_) => ResponseError::OffsetMetadataTooLarge,
            Self::InvalidCommitOffsetSize(_) => ResponseError::InvalidCommitOffsetSize,
            Self::SaslAuthenticationFailed(_) => ResponseError::SaslAuthenticationFailed,
            Self::IllegalSaslState(_) => ResponseError::IllegalSaslState,
            Self::UnsupportedSaslMechanism(_) => ResponseError::UnsupportedSaslMechanism,
            Self::ResourceNotFound(_) => ResponseError::ResourceNotFound,
            Self::DuplicateResource(_) => ResponseError::DuplicateResource,
            Self::UnacceptableCredential(_) => ResponseError::UnacceptableCredential,
            Self::Internal(_) => ResponseError::UnknownServerError,
        };
        kind.code()
    }

    /// The message for a response's `error_message` field.
    pub(crate) fn message(&self) -> Option<StrBytes> {
        Some(StrBytes::from_string(self.to_string()))
    }

    /// The error for a topic that is not there.
    pub(crate) fn unknown_topic(topic: &str) -> Self {
        Self::UnknownTopicOrPartition(format!(
            "topic {topic:?} not found; create it first (auto-creation is off unless kafka.auto_create_topics is set)"
        ))
    }

    /// The error for a partition beyond a topic's count.
    pub(crate) fn unknown_partition(topic: &str, partition: i32) -> Self {
        Self::UnknownTopicOrPartition(format!(
            "topic {topic:?} has no partition {partition}; refresh metadata"
        ))
    }
}

/// Error code of an outcome: 0 for success.
pub(crate) fn code_of<T>(outcome: &Result<T, BrokerError>) -> i16 {
    match outcome {
        Ok(_) => 0,
        Err(e) => e.code(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_kafka() {
        let s = String::new;
        let cases = [
            (BrokerError::OffsetOutOfRange(s()), 1),
            (BrokerError::CorruptMessage(s()), 2),
            (BrokerError::UnknownTopicOrPartition(s()), 3),
            (BrokerError::NotServing(s()), 6),
            (BrokerError::Timeout(s()), 7),
            (BrokerError::MessageTooLarge(s()), 10),
            (BrokerError::InvalidTopic(s()), 17),
            (BrokerError::RecordListTooLarge(s()), 18),
            (BrokerError::InvalidRequiredAcks(2), 21),
            (BrokerError::UnsupportedVersion(s()), 35),
            (BrokerError::TopicAlreadyExists(s()), 36),
            (BrokerError::InvalidPartitions(s()), 37),
            (BrokerError::InvalidReplicationFactor(s()), 38),
            (BrokerError::InvalidConfig(s()), 40),
            (BrokerError::InvalidRequest(s()), 42),
            (BrokerError::UnsupportedForMessageFormat(s()), 43),
            (BrokerError::PolicyViolation(s()), 44),
            (BrokerError::OutOfOrderSequence(s()), 45),
            (BrokerError::DuplicateSequence(s()), 46),
            (BrokerError::InvalidProducerEpoch(s()), 47),
            (BrokerError::TransactionsUnsupported, 53),
            (BrokerError::StorageUnavailable(s()), 56),
            (BrokerError::UnknownProducerId(s()), 59),
            (BrokerError::FetchSessionNotFound(7), 70),
            (BrokerError::UnknownTopicId(Uuid::nil()), 100),
            (BrokerError::CoordinatorNotAvailable(s()), 15),
            (BrokerError::IllegalGeneration(s()), 22),
            (BrokerError::InconsistentGroupProtocol(s()), 23),
            (BrokerError::InvalidGroupId(s()), 24),
            (BrokerError::UnknownMemberId(s()), 25),
            (BrokerError::InvalidSessionTimeout(s()), 26),
            (BrokerError::RebalanceInProgress(s()), 27),
            (BrokerError::InvalidCommitOffsetSize(s()), 28),
            (BrokerError::OffsetMetadataTooLarge(s()), 12),
            (BrokerError::NonEmptyGroup(s()), 68),
            (BrokerError::GroupSubscribedToTopic(s()), 86),
            (BrokerError::UnsupportedAssignor(s()), 112),
            (BrokerError::InvalidRegularExpression(s()), 128),
            (BrokerError::StaleMemberEpoch(s()), 113),
            (BrokerError::GroupIdNotFound(s()), 69),
            (BrokerError::MemberIdRequired(s()), 79),
            (BrokerError::GroupMaxSizeReached(s()), 81),
            (BrokerError::FencedInstanceId(s()), 82),
            (BrokerError::UnreleasedInstanceId(s()), 111),
            (BrokerError::UnsupportedSaslMechanism(s()), 33),
            (BrokerError::IllegalSaslState(s()), 34),
            (BrokerError::SaslAuthenticationFailed(s()), 58),
            (BrokerError::ResourceNotFound(s()), 91),
            (BrokerError::DuplicateResource(s()), 92),
            (BrokerError::UnacceptableCredential(s()), 93),
            (BrokerError::Internal(s()), -1),
        ];
        for (error, code) in cases {
            assert_eq!(error.code(), code, "{error:?}");
        }
    }

    #[test]
    fn messages_are_prescriptive() {
        let e = BrokerError::unknown_topic("orders");
        assert!(e.to_string().contains("\"orders\" not found; create it"));
        assert!(
            BrokerError::TransactionsUnsupported
                .to_string()
                .contains("remove transactional.id")
        );
    }
}
