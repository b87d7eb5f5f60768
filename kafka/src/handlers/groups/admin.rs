//! DescribeGroups, ListGroups and DeleteGroups, for groups of either
//! protocol (Stratus SDK groups show with the protocol type `stratus`).

use bytes::Bytes;
use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::list_groups_response::ListedGroup as WireListedGroup;
use kafka_protocol::messages::{
    DeleteGroupsRequest, DeleteGroupsResponse, DescribeGroupsRequest, DescribeGroupsResponse,
    GroupId, ListGroupsRequest, ListGroupsResponse, ResponseKind,
};
use kafka_protocol::protocol::StrBytes;

use super::str_bytes;
use crate::error::code_of;
use crate::{Broker, BrokerError, ClassicDescription};

/// DescribeGroups' state for a group that does not exist.
const DEAD: &str = "Dead";
/// `authorized_operations` when the client did not ask for them.
const OPERATIONS_NOT_ASKED: i32 = i32::MIN;

fn described(version: i16, d: &ClassicDescription) -> DescribedGroup {
    let members = d
        .members
        .iter()
        .map(|m| {
            DescribedGroupMember::default()
                .with_member_id(str_bytes(&m.member_id))
                .with_group_instance_id(if version >= 4 {
                    m.group_instance_id.as_deref().map(str_bytes)
                } else {
                    None
                })
                .with_client_id(str_bytes(&m.client_id))
                .with_client_host(str_bytes(&m.client_host))
                .with_member_metadata(Bytes::copy_from_slice(m.metadata(&d.protocol)))
                .with_member_assignment(Bytes::from(m.assignment.0.clone()))
        })
        .collect();
    DescribedGroup::default()
        .with_group_id(GroupId(str_bytes(&d.group)))
        .with_group_state(str_bytes(d.state.kafka_name()))
        .with_protocol_type(str_bytes(&d.protocol_type))
        .with_protocol_data(str_bytes(&d.protocol))
        .with_members(members)
}

pub(crate) async fn describe_groups<B: Broker + ?Sized>(
    broker: &B,
    version: i16,
    request: DescribeGroupsRequest,
) -> ResponseKind {
    let mut groups = Vec::with_capacity(request.groups.len());
    for group in &request.groups {
        let dead = DescribedGroup::default()
            .with_group_id(group.clone())
            .with_group_state(StrBytes::from_static_str(DEAD));
        let entry = match broker.describe_group(group).await {
            Ok(Some(d)) => described(version, &d),
            // From v6 a missing group is an error, as in Kafka 4; before, a
            // group in state Dead with no error.
            Ok(None) if version >= 6 => dead
                .with_error_code(BrokerError::GroupIdNotFound(String::new()).code())
                .with_error_message(Some(str_bytes(&format!("Group {} not found.", group.0)))),
            Ok(None) => dead,
            Err(e) if version >= 6 => dead
                .with_error_code(e.code())
                .with_error_message(Some(str_bytes(&e.to_string()))),
            Err(e) => dead.with_error_code(e.code()),
        };
        groups.push(if version >= 3 {
            entry.with_authorized_operations(OPERATIONS_NOT_ASKED)
        } else {
            entry
        });
    }
    ResponseKind::DescribeGroups(DescribeGroupsResponse::default().with_groups(groups))
}

pub(crate) async fn list_groups<B: Broker + ?Sized>(
    broker: &B,
    version: i16,
    request: ListGroupsRequest,
) -> ResponseKind {
    let out = ListGroupsResponse::default();
    let listed = match broker.list_groups().await {
        Ok(listed) => listed,
        Err(e) => return ResponseKind::ListGroups(out.with_error_code(e.code())),
    };
    let states: Vec<String> = if version >= 4 {
        request
            .states_filter
            .iter()
            .map(|s| s.to_ascii_lowercase())
            .collect()
    } else {
        Vec::new()
    };
    let groups = listed
        .into_iter()
        .filter(|g| {
            states.is_empty() || states.contains(&g.state.kafka_name().to_ascii_lowercase())
        })
        .map(|g| {
            let entry = WireListedGroup::default()
                .with_group_id(GroupId(str_bytes(&g.group)))
                .with_protocol_type(str_bytes(&g.protocol_type));
            if version >= 4 {
                entry.with_group_state(str_bytes(g.state.kafka_name()))
            } else {
                entry
            }
        })
        .collect();
    ResponseKind::ListGroups(out.with_groups(groups))
}

pub(crate) async fn delete_groups<B: Broker + ?Sized>(
    broker: &B,
    request: DeleteGroupsRequest,
) -> ResponseKind {
    let mut results = Vec::with_capacity(request.groups_names.len());
    for group in &request.groups_names {
        let outcome = broker.delete_group(group).await;
        results.push(
            DeletableGroupResult::default()
                .with_group_id(group.clone())
                .with_error_code(code_of(&outcome)),
        );
    }
    ResponseKind::DeleteGroups(DeleteGroupsResponse::default().with_results(results))
}
