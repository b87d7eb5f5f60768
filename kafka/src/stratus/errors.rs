//! Gateway errors as [`BrokerError`]s: the one place the Kafka listener
//! translates what the gateway's services said. `crate::error` then turns
//! each into its Kafka code.

use stratus_gateway::GatewayError;
use stratus_meta::MetaError;
use stratus_storage::log::LogError;

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
        LogError::InvalidSpec(spec) => {
            let text = spec.to_string();
            if text.starts_with("topic name") {
                BrokerError::InvalidTopic(text)
            } else if text.contains("partitions") {
                BrokerError::InvalidPartitions(text)
            } else {
                BrokerError::InvalidConfig(text)
            }
        }
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
