//! Gateway errors as [`BrokerError`]s: the one place the Kafka listener
//! translates what the gateway's services said. `crate::error` then turns
//! each into its Kafka code.

use stratus_gateway::GatewayError;
use stratus_meta::MetaError;
use stratus_storage::group::GroupError;
use stratus_storage::group::classic::{ClassicError, CommitRefusal, OffsetDeleteRefusal};
use stratus_storage::log::LogError;
use stratus_storage::topic::TopicSpecError;

use crate::BrokerError;

impl From<GatewayError> for BrokerError {
    fn from(err: GatewayError) -> Self {
        let message = err.to_string();
        match err {
            GatewayError::Log(log) => from_log(log, message),
            GatewayError::RecordTooLarge { .. } | GatewayError::RequestTooLarge { .. } => {
                Self::MessageTooLarge(message)
            }
            GatewayError::CorruptBatch { .. } => Self::CorruptMessage(message),
            GatewayError::InvalidArgument(_) => Self::InvalidRecord(message),
            GatewayError::Overloaded { .. } => Self::Throttled(message),
            GatewayError::ShuttingDown => Self::NotServing(message),
            GatewayError::FlushFailed(_) => Self::StorageUnavailable(message),
            GatewayError::Group(_) | GatewayError::Trigger(_) | GatewayError::Credential(_) => {
                Self::Internal(message)
            }
        }
    }
}

impl From<ClassicError> for BrokerError {
    fn from(err: ClassicError) -> Self {
        let message = err.to_string();
        match err {
            ClassicError::UnknownMember { .. } => Self::UnknownMemberId(message),
            ClassicError::IllegalGeneration { .. } => Self::IllegalGeneration(message),
            ClassicError::RebalanceInProgress { .. } => Self::RebalanceInProgress(message),
            ClassicError::FencedInstanceId { .. } => Self::FencedInstanceId(message),
            ClassicError::InconsistentProtocol(_) => Self::InconsistentGroupProtocol(message),
            ClassicError::MemberIdRequired(id) => Self::MemberIdRequired(id),
            ClassicError::GroupFull { .. } => Self::GroupMaxSizeReached(message),
            ClassicError::InvalidSessionTimeout(_) => Self::InvalidSessionTimeout(message),
            ClassicError::InvalidRequest(_) => Self::InvalidRequest(message),
            ClassicError::NotEmpty { .. } => Self::NonEmptyGroup(message),
            ClassicError::NotFound { .. } => Self::GroupIdNotFound(message),
            ClassicError::Group(group) => group.into(),
        }
    }
}

impl From<CommitRefusal> for BrokerError {
    fn from(refusal: CommitRefusal) -> Self {
        let message = refusal.to_string();
        match refusal {
            CommitRefusal::UnknownTopicOrPartition { .. } => Self::UnknownTopicOrPartition(message),
            CommitRefusal::MetadataTooLarge { .. } => Self::OffsetMetadataTooLarge(message),
            CommitRefusal::InvalidOffset(_) => Self::InvalidCommitOffsetSize(message),
        }
    }
}

impl From<OffsetDeleteRefusal> for BrokerError {
    fn from(refusal: OffsetDeleteRefusal) -> Self {
        let message = refusal.to_string();
        match refusal {
            OffsetDeleteRefusal::UnknownTopicOrPartition { .. } => {
                Self::UnknownTopicOrPartition(message)
            }
            OffsetDeleteRefusal::SubscribedToTopic { .. } => Self::GroupSubscribedToTopic(message),
        }
    }
}

impl From<GroupError> for BrokerError {
    fn from(err: GroupError) -> Self {
        let message = err.to_string();
        match err {
            GroupError::InvalidGroupId => Self::InvalidGroupId(message),
            GroupError::InvalidMemberId(_) => Self::UnknownMemberId(message),
            GroupError::GroupNotFound { .. } => Self::GroupIdNotFound(message),
            GroupError::UnknownMember { .. } => Self::UnknownMemberId(message),
            GroupError::StaleGeneration { .. } => Self::IllegalGeneration(message),
            GroupError::GroupNotEmpty { .. } => Self::NonEmptyGroup(message),
            GroupError::TooManyMembers { .. } | GroupError::TooManyGroups { .. } => {
                Self::GroupMaxSizeReached(message)
            }
            GroupError::StrategyMismatch { .. } | GroupError::ProtocolMismatch { .. } => {
                Self::InconsistentGroupProtocol(message)
            }
            GroupError::NotAssigned { .. } => Self::IllegalGeneration(message),
            GroupError::UnreleasedInstance { .. } => Self::UnreleasedInstanceId(message),
            GroupError::TopicNotFound { .. } | GroupError::PartitionNotFound { .. } => {
                Self::UnknownTopicOrPartition(message)
            }
            GroupError::InvalidArgument(_) => Self::InvalidRequest(message),
            GroupError::Corrupt(_) => Self::Internal(message),
            // Retriable for the client: it finds the coordinator again.
            GroupError::Meta(_) => Self::CoordinatorNotAvailable(message),
        }
    }
}

fn from_log(err: LogError, message: String) -> BrokerError {
    match err {
        LogError::TopicNotFound { .. } | LogError::PartitionNotFound { .. } => {
            BrokerError::UnknownTopicOrPartition(message)
        }
        LogError::TopicExists { .. } => BrokerError::TopicAlreadyExists(message),
        LogError::OffsetOutOfRange { .. } => BrokerError::OffsetOutOfRange(message),
        LogError::OutOfOrderSequence { .. } => BrokerError::OutOfOrderSequence(message),
        LogError::ProducerFenced { .. } => BrokerError::InvalidProducerEpoch(message),
        LogError::InvalidSpec(spec) => from_spec(spec),
        LogError::Meta(MetaError::KeyTooLarge { .. } | MetaError::ValueTooLarge { .. }) => {
            BrokerError::InvalidRequest(message)
        }
        LogError::Meta(_)
        | LogError::ObjectStore { .. }
        | LogError::CommitDeadlinePassed { .. } => BrokerError::StorageUnavailable(message),
        LogError::CorruptObject { .. } | LogError::CorruptMetadata { .. } => {
            BrokerError::Internal(message)
        }
    }
}

fn from_spec(spec: TopicSpecError) -> BrokerError {
    match spec {
        TopicSpecError::Name(_) => BrokerError::InvalidTopic(spec.to_string()),
        TopicSpecError::PartitionCount(_) => BrokerError::InvalidPartitions(spec.to_string()),
        // Kafka's own words (its controller's), which admin tools show and
        // some match on.
        TopicSpecError::PartitionsNotIncreased {
            topic,
            current,
            requested,
        } => BrokerError::InvalidPartitions(if requested == current {
            format!("Topic already has {current} partition(s).")
        } else {
            format!(
                "The topic {topic} currently has {current} partition(s); {requested} would not \
                 be an increase."
            )
        }),
        TopicSpecError::RetentionMs(_)
        | TopicSpecError::RetentionBytes(_)
        | TopicSpecError::MaxMessageBytes(_)
        | TopicSpecError::DeleteRetentionMs(_)
        | TopicSpecError::MaxCompactionLagMs(_) => BrokerError::InvalidConfig(spec.to_string()),
    }
}

impl From<stratus_storage::credentials::CredentialError> for BrokerError {
    fn from(err: stratus_storage::credentials::CredentialError) -> Self {
        use stratus_storage::credentials::CredentialError as E;
        let message = err.to_string();
        match err {
            E::BadUser(_) | E::BadCredential(_) => Self::UnacceptableCredential(message),
            E::NotFound { .. } => Self::ResourceNotFound(message),
            E::Corrupt { .. } => Self::Internal(message),
            E::Meta(_) => Self::StorageUnavailable(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_counts_that_do_not_grow_get_kafkas_messages() {
        let spec = |requested| {
            from_spec(TopicSpecError::PartitionsNotIncreased {
                topic: "orders".into(),
                current: 3,
                requested,
            })
        };
        assert_eq!(
            spec(3),
            BrokerError::InvalidPartitions("Topic already has 3 partition(s).".into())
        );
        assert_eq!(
            spec(2),
            BrokerError::InvalidPartitions(
                "The topic orders currently has 3 partition(s); 2 would not be an increase.".into()
            )
        );
        assert!(matches!(
            from_spec(TopicSpecError::PartitionCount(0)),
            BrokerError::InvalidPartitions(_)
        ));
        assert!(matches!(
            from_spec(TopicSpecError::RetentionMs(0)),
            BrokerError::InvalidConfig(m) if m.contains("retention.ms")
        ));
    }
}
