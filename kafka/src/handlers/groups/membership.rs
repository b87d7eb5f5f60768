//! JoinGroup, SyncGroup, Heartbeat and LeaveGroup of the classic protocol:
//! requests to [`Broker`] calls, outcomes to responses at the request's
//! version. Metadata and assignments pass through as bytes.

use bytes::Bytes;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::{
    HeartbeatRequest, HeartbeatResponse, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest,
    LeaveGroupResponse, ResponseKind, SyncGroupRequest, SyncGroupResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::str_bytes;
use crate::{Broker, BrokerError, ClassicJoin, ClassicSync, Leaving, SyncStep};

pub(crate) async fn join_group<B: Broker + ?Sized>(
    broker: &B,
    version: i16,
    client_id: &str,
    request: JoinGroupRequest,
) -> ResponseKind {
    let session = i64::from(request.session_timeout_ms);
    // v0 has no rebalance timeout: Kafka uses the session timeout.
    let rebalance = if version >= 1 {
        i64::from(request.rebalance_timeout_ms)
    } else {
        session
    };
    let join = ClassicJoin {
        member_id: request.member_id.to_string(),
        group_instance_id: request.group_instance_id.as_ref().map(|i| i.to_string()),
        client_id: client_id.to_owned(),
        client_host: String::new(),
        session_timeout_ms: session,
        rebalance_timeout_ms: rebalance,
        protocol_type: request.protocol_type.to_string(),
        protocols: request
            .protocols
            .iter()
            .map(|p| (p.name.to_string(), p.metadata.to_vec()))
            .collect(),
        require_known_member_id: version >= 4,
    };
    let out = JoinGroupResponse::default();
    ResponseKind::JoinGroup(match broker.join_group(&request.group_id, join).await {
        Ok(joined) => {
            let members = joined
                .members
                .into_iter()
                .map(|m| {
                    JoinGroupResponseMember::default()
                        .with_member_id(str_bytes(&m.member_id))
                        .with_group_instance_id(if version >= 5 {
                            m.group_instance_id.as_deref().map(str_bytes)
                        } else {
                            None
                        })
                        .with_metadata(Bytes::from(m.metadata))
                })
                .collect();
            let out = out
                .with_generation_id(generation(joined.generation))
                .with_protocol_name(Some(str_bytes(&joined.protocol)))
                .with_leader(str_bytes(&joined.leader))
                .with_member_id(str_bytes(&joined.member_id))
                .with_members(members);
            if version >= 7 {
                out.with_protocol_type(Some(str_bytes(&joined.protocol_type)))
            } else {
                out
            }
        }
        Err(e) => {
            let member_id = match &e {
                BrokerError::MemberIdRequired(id) => str_bytes(id),
                _ => request.member_id.clone(),
            };
            let out = out
                .with_error_code(e.code())
                .with_generation_id(-1)
                .with_member_id(member_id)
                .with_leader(StrBytes::default());
            // Before v7 the protocol name is not nullable.
            if version >= 7 {
                out.with_protocol_name(None)
            } else {
                out.with_protocol_name(Some(StrBytes::default()))
            }
        }
    })
}

/// A generation as Kafka carries it; Stratus never reaches `i32::MAX`
/// rounds, but saturate rather than wrap if it did.
fn generation(g: i64) -> i32 {
    i32::try_from(g).unwrap_or(i32::MAX)
}

pub(crate) async fn sync_group<B: Broker + ?Sized>(
    broker: &B,
    version: i16,
    request: SyncGroupRequest,
) -> ResponseKind {
    let carries_protocol = version >= 5;
    let sync = ClassicSync {
        member_id: request.member_id.to_string(),
        group_instance_id: (version >= 3)
            .then(|| request.group_instance_id.as_ref().map(|i| i.to_string()))
            .flatten(),
        generation: i64::from(request.generation_id),
        protocol_type: carries_protocol
            .then(|| request.protocol_type.as_ref().map(|p| p.to_string()))
            .flatten(),
        protocol: carries_protocol
            .then(|| request.protocol_name.as_ref().map(|p| p.to_string()))
            .flatten(),
        assignments: request
            .assignments
            .iter()
            .map(|a| (a.member_id.to_string(), a.assignment.to_vec()))
            .collect(),
    };
    let out = SyncGroupResponse::default();
    ResponseKind::SyncGroup(match broker.sync_group(&request.group_id, sync).await {
        Ok(SyncStep::Assigned {
            assignment,
            protocol_type,
            protocol,
        }) => {
            let out = out.with_assignment(Bytes::from(assignment));
            if carries_protocol {
                out.with_protocol_type(Some(str_bytes(&protocol_type)))
                    .with_protocol_name(Some(str_bytes(&protocol)))
            } else {
                out
            }
        }
        Ok(SyncStep::Waiting { .. }) => out.with_error_code(
            BrokerError::RebalanceInProgress("the leader has not assigned yet; rejoin".into())
                .code(),
        ),
        Err(e) => out.with_error_code(e.code()),
    })
}

pub(crate) async fn heartbeat<B: Broker + ?Sized>(
    broker: &B,
    version: i16,
    request: HeartbeatRequest,
) -> ResponseKind {
    let instance = (version >= 3)
        .then_some(request.group_instance_id.as_deref())
        .flatten();
    let outcome = broker
        .heartbeat(
            &request.group_id,
            &request.member_id,
            instance,
            i64::from(request.generation_id),
        )
        .await;
    ResponseKind::Heartbeat(
        HeartbeatResponse::default().with_error_code(crate::error::code_of(&outcome)),
    )
}

pub(crate) async fn leave_group<B: Broker + ?Sized>(
    broker: &B,
    version: i16,
    request: LeaveGroupRequest,
) -> ResponseKind {
    let leaving: Vec<Leaving> = if version >= 3 {
        request
            .members
            .iter()
            .map(|m| Leaving {
                member_id: m.member_id.to_string(),
                group_instance_id: m.group_instance_id.as_ref().map(|i| i.to_string()),
            })
            .collect()
    } else {
        vec![Leaving {
            member_id: request.member_id.to_string(),
            group_instance_id: None,
        }]
    };
    let out = LeaveGroupResponse::default();
    let outcomes = match broker.leave_group(&request.group_id, leaving.clone()).await {
        Ok(outcomes) => outcomes,
        Err(e) => return ResponseKind::LeaveGroup(out.with_error_code(e.code())),
    };
    if version < 3 {
        let code = outcomes.first().map_or(0, crate::error::code_of);
        return ResponseKind::LeaveGroup(out.with_error_code(code));
    }
    let members = leaving
        .iter()
        .zip(outcomes)
        .map(|(l, outcome)| {
            MemberResponse::default()
                .with_member_id(str_bytes(match &outcome {
                    Ok(id) => id,
                    Err(_) => &l.member_id,
                }))
                .with_group_instance_id(l.group_instance_id.as_deref().map(str_bytes))
                .with_error_code(crate::error::code_of(&outcome))
        })
        .collect();
    ResponseKind::LeaveGroup(out.with_members(members))
}
