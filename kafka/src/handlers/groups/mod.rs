//! The consumer-group APIs: FindCoordinator, the classic protocol's
//! JoinGroup, SyncGroup, Heartbeat and LeaveGroup, OffsetCommit and
//! OffsetFetch, OffsetDelete, and DescribeGroups, ListGroups and DeleteGroups,
//! and the consumer-group protocol's ConsumerGroupHeartbeat and
//! ConsumerGroupDescribe (KIP-848). Thin:
//! the group state machines are `stratus_storage::group` (server-assigned)
//! and `stratus_storage::group::classic`, reached through the [`Broker`].

mod admin;
mod consumer_describe;
mod consumer_heartbeat;
mod membership;
mod offset_delete;
mod offsets;

use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{
    BrokerId, FindCoordinatorRequest, FindCoordinatorResponse, ResponseKind,
};
use kafka_protocol::protocol::StrBytes;

pub(crate) use admin::{delete_groups, describe_groups, list_groups};
pub(crate) use consumer_describe::consumer_group_describe;
pub(crate) use consumer_heartbeat::consumer_group_heartbeat;
pub(crate) use membership::{heartbeat, join_group, leave_group, sync_group};
pub(crate) use offset_delete::offset_delete;
pub(crate) use offsets::{offset_commit, offset_fetch};

use super::str_bytes;
use crate::{Broker, BrokerError, BrokerNode};

/// FindCoordinator's key type for consumer groups (1 is transactions).
const KEY_TYPE_GROUP: i8 = 0;

async fn coordinator<B: Broker + ?Sized>(
    broker: &B,
    key_type: i8,
    key: &str,
) -> Result<BrokerNode, BrokerError> {
    if key_type != KEY_TYPE_GROUP {
        // Transactions are not supported: refuse as InitProducerId does,
        // fatally, rather than with a retriable "not available".
        return Err(BrokerError::TransactionsUnsupported);
    }
    broker.find_coordinator(key).await
}

pub(crate) async fn find_coordinator<B: Broker + ?Sized>(
    broker: &B,
    version: i16,
    request: FindCoordinatorRequest,
) -> ResponseKind {
    let key_type = if version >= 1 { request.key_type } else { 0 };
    if version >= 4 {
        let mut coordinators = Vec::with_capacity(request.coordinator_keys.len());
        for key in &request.coordinator_keys {
            let entry = Coordinator::default().with_key(key.clone());
            coordinators.push(match coordinator(broker, key_type, key).await {
                Ok(node) => entry
                    .with_node_id(BrokerId(node.id))
                    .with_host(str_bytes(&node.host))
                    .with_port(i32::from(node.port)),
                Err(e) => entry
                    .with_node_id(BrokerId(-1))
                    .with_host(StrBytes::default())
                    .with_port(-1)
                    .with_error_code(e.code())
                    .with_error_message(e.message()),
            });
        }
        return ResponseKind::FindCoordinator(
            FindCoordinatorResponse::default().with_coordinators(coordinators),
        );
    }
    let out = FindCoordinatorResponse::default();
    ResponseKind::FindCoordinator(match coordinator(broker, key_type, &request.key).await {
        Ok(node) => out
            .with_node_id(BrokerId(node.id))
            .with_host(str_bytes(&node.host))
            .with_port(i32::from(node.port)),
        Err(e) => {
            let out = out
                .with_node_id(BrokerId(-1))
                .with_port(-1)
                .with_error_code(e.code());
            if version >= 1 {
                out.with_error_message(e.message())
            } else {
                out
            }
        }
    })
}
