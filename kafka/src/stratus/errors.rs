//! Gateway errors as [`BrokerError`]s: the one place the Kafka listener
//! translates what the gateway's services said. `crate::error` then turns
//! each into its Kafka code.

use stratus_gateway::GatewayError;
use stratus_meta::MetaError;
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
            // The produce path refuses client batches with InvalidArgument;
            // the checksum case has its own Kafka code.
            GatewayError::InvalidArgument(_) if message.contains("crc-32c") => {
                Self::CorruptMessage(message)
            }
            GatewayError::InvalidArgument(_) => Self::InvalidRecord(message),
            GatewayError::Overloaded { .. } => Self::Throttled(message),
            GatewayError::ShuttingDown => Self::NotServing(message),
            GatewayError::FlushFailed(_) => Self::StorageUnavailable(message),
            GatewayError::Group(_) | GatewayError::Trigger(_) => Self::Internal(message),
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
