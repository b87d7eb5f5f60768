//! The group APIs through a session, over storage's classic groups on an
//! in-memory store: a member's life from MEMBER_ID_REQUIRED to LeaveGroup,
//! with its metadata and assignment bytes handed out as sent, and the
//! errors Kafka clients act on.

mod support;

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use stratus_kafka::Broker;
use support::*;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.into())
}

fn join(member: &str, assignor: &str) -> RequestKind {
    RequestKind::JoinGroup(
        JoinGroupRequest::default()
            .with_group_id(GroupId(s("g")))
            .with_session_timeout_ms(10_000)
            .with_rebalance_timeout_ms(10_000)
            .with_member_id(s(member))
            .with_protocol_type(s("consumer"))
            .with_protocols(vec![
                join_group_request::JoinGroupRequestProtocol::default()
                    .with_name(s(assignor))
                    .with_metadata(Bytes::from_static(b"\x00\x01opaque")),
            ]),
    )
}

fn heartbeat(member: &str, generation: i32) -> RequestKind {
    RequestKind::Heartbeat(
        HeartbeatRequest::default()
            .with_group_id(GroupId(s("g")))
            .with_generation_id(generation)
            .with_member_id(s(member)),
    )
}

#[tokio::test]
async fn a_member_joins_syncs_heartbeats_and_leaves() {
    let broker = Arc::new(FakeBroker::with_topics(&[("orders", 2)]));
    let mut session = session(&broker);
    let ResponseKind::JoinGroup(first) =
        ask(&mut session, ApiKey::JoinGroup, 7, join("", "range")).await
    else {
        unreachable!()
    };
    assert_eq!(first.error_code, 79, "MEMBER_ID_REQUIRED");
    assert!(!first.member_id.is_empty());
    let member = first.member_id.to_string();
    let ResponseKind::JoinGroup(joined) =
        ask(&mut session, ApiKey::JoinGroup, 7, join(&member, "range")).await
    else {
        unreachable!()
    };
    assert_eq!(joined.error_code, 0);
    assert_eq!(joined.generation_id, 1);
    assert_eq!(joined.leader, joined.member_id);
    assert_eq!(joined.protocol_name.as_deref(), Some("range"));
    assert_eq!(joined.protocol_type.as_deref(), Some("consumer"));
    assert_eq!(joined.members.len(), 1);
    assert_eq!(&joined.members[0].metadata[..], b"\x00\x01opaque");

    // Another assignor is refused while the member lives.
    let ResponseKind::JoinGroup(other) =
        ask(&mut session, ApiKey::JoinGroup, 7, join("", "roundrobin")).await
    else {
        unreachable!()
    };
    let other_id = other.member_id.to_string();
    let ResponseKind::JoinGroup(other) = ask(
        &mut session,
        ApiKey::JoinGroup,
        7,
        join(&other_id, "roundrobin"),
    )
    .await
    else {
        unreachable!()
    };
    assert_eq!(other.error_code, 23, "INCONSISTENT_GROUP_PROTOCOL");

    let sync = SyncGroupRequest::default()
        .with_group_id(GroupId(s("g")))
        .with_generation_id(1)
        .with_member_id(s(&member))
        .with_protocol_type(Some(s("consumer")))
        .with_protocol_name(Some(s("range")))
        .with_assignments(vec![
            sync_group_request::SyncGroupRequestAssignment::default()
                .with_member_id(s(&member))
                .with_assignment(Bytes::from_static(b"\x00\x02assigned")),
        ]);
    let ResponseKind::SyncGroup(synced) = ask(
        &mut session,
        ApiKey::SyncGroup,
        5,
        RequestKind::SyncGroup(sync),
    )
    .await
    else {
        unreachable!()
    };
    assert_eq!(synced.error_code, 0);
    assert_eq!(&synced.assignment[..], b"\x00\x02assigned");

    let code = |r: ResponseKind| match r {
        ResponseKind::Heartbeat(h) => h.error_code,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        code(ask(&mut session, ApiKey::Heartbeat, 4, heartbeat(&member, 1)).await),
        0
    );
    assert_eq!(
        code(ask(&mut session, ApiKey::Heartbeat, 4, heartbeat(&member, 0)).await),
        22,
        "ILLEGAL_GENERATION"
    );
    assert_eq!(
        code(ask(&mut session, ApiKey::Heartbeat, 4, heartbeat("nobody", 1)).await),
        25,
        "UNKNOWN_MEMBER_ID"
    );

    let ResponseKind::DescribeGroups(described) = ask(
        &mut session,
        ApiKey::DescribeGroups,
        5,
        RequestKind::DescribeGroups(
            DescribeGroupsRequest::default().with_groups(vec![GroupId(s("g"))]),
        ),
    )
    .await
    else {
        unreachable!()
    };
    let g = &described.groups[0];
    assert_eq!(
        (g.group_state.as_str(), g.protocol_data.as_str()),
        ("Stable", "range")
    );
    assert_eq!(&g.members[0].member_assignment[..], b"\x00\x02assigned");
    assert_eq!(&g.members[0].member_metadata[..], b"\x00\x01opaque");

    // A missing group: state Dead before v6, GROUP_ID_NOT_FOUND from v6.
    for (version, code, message) in [(5, 0, None), (6, 69, Some("Group nope not found."))] {
        let ResponseKind::DescribeGroups(described) = ask(
            &mut session,
            ApiKey::DescribeGroups,
            version,
            RequestKind::DescribeGroups(
                DescribeGroupsRequest::default().with_groups(vec![GroupId(s("nope"))]),
            ),
        )
        .await
        else {
            unreachable!()
        };
        let g = &described.groups[0];
        assert_eq!(
            (g.error_code, g.group_state.as_str()),
            (code, "Dead"),
            "v{version}"
        );
        assert_eq!(g.error_message.as_deref(), message, "v{version}");
    }

    let ResponseKind::DeleteGroups(deleted) = ask(
        &mut session,
        ApiKey::DeleteGroups,
        2,
        RequestKind::DeleteGroups(
            DeleteGroupsRequest::default().with_groups_names(vec![GroupId(s("g"))]),
        ),
    )
    .await
    else {
        unreachable!()
    };
    assert_eq!(deleted.results[0].error_code, 68, "NON_EMPTY_GROUP");

    let leave = LeaveGroupRequest::default()
        .with_group_id(GroupId(s("g")))
        .with_members(vec![
            leave_group_request::MemberIdentity::default().with_member_id(s(&member)),
            leave_group_request::MemberIdentity::default().with_member_id(s("nobody")),
        ]);
    let ResponseKind::LeaveGroup(left) = ask(
        &mut session,
        ApiKey::LeaveGroup,
        5,
        RequestKind::LeaveGroup(leave),
    )
    .await
    else {
        unreachable!()
    };
    let codes: Vec<i16> = left.members.iter().map(|m| m.error_code).collect();
    assert_eq!(codes, vec![0, 25]);
    let ResponseKind::ListGroups(listed) = ask(
        &mut session,
        ApiKey::ListGroups,
        4,
        RequestKind::ListGroups(ListGroupsRequest::default()),
    )
    .await
    else {
        unreachable!()
    };
    let states: Vec<&str> = listed
        .groups
        .iter()
        .map(|g| g.group_state.as_str())
        .collect();
    assert_eq!(states, vec!["Empty"]);
}

#[tokio::test]
async fn find_coordinator_answers_every_key_and_refuses_transactions() {
    let broker = Arc::new(FakeBroker::with_topics(&[]));
    let mut session = session(&broker);
    let request = FindCoordinatorRequest::default().with_coordinator_keys(vec![s("a"), s("b")]);
    let ResponseKind::FindCoordinator(found) = ask(
        &mut session,
        ApiKey::FindCoordinator,
        4,
        RequestKind::FindCoordinator(request),
    )
    .await
    else {
        unreachable!()
    };
    assert_eq!(found.coordinators.len(), 2);
    assert!(
        found
            .coordinators
            .iter()
            .all(|c| c.error_code == 0 && c.port > 0)
    );
    let txn = FindCoordinatorRequest::default()
        .with_key(s("t"))
        .with_key_type(1);
    let ResponseKind::FindCoordinator(refused) = ask(
        &mut session,
        ApiKey::FindCoordinator,
        3,
        RequestKind::FindCoordinator(txn),
    )
    .await
    else {
        unreachable!()
    };
    assert_eq!(
        refused.error_code, 53,
        "TRANSACTIONAL_ID_AUTHORIZATION_FAILED"
    );
}

fn offset_delete(group: &str, partitions: &[i32]) -> RequestKind {
    RequestKind::OffsetDelete(
        OffsetDeleteRequest::default()
            .with_group_id(GroupId(s(group)))
            .with_topics(vec![
                offset_delete_request::OffsetDeleteRequestTopic::default()
                    .with_name(TopicName(s("orders")))
                    .with_partitions(
                        partitions
                            .iter()
                            .map(|p| {
                                offset_delete_request::OffsetDeleteRequestPartition::default()
                                    .with_partition_index(*p)
                            })
                            .collect(),
                    ),
            ]),
    )
}

#[tokio::test]
async fn offset_delete_follows_kafkas_rules() {
    let broker = Arc::new(FakeBroker::with_topics(&[("orders", 2)]));
    let mut session = session(&broker);
    let ResponseKind::OffsetDelete(missing) = ask(
        &mut session,
        ApiKey::OffsetDelete,
        0,
        offset_delete("g", &[0]),
    )
    .await
    else {
        unreachable!()
    };
    assert_eq!(missing.error_code, 69, "GROUP_ID_NOT_FOUND");

    let commit = OffsetCommitRequest::default()
        .with_group_id(GroupId(s("g")))
        .with_generation_id_or_member_epoch(-1)
        .with_topics(vec![
            offset_commit_request::OffsetCommitRequestTopic::default()
                .with_name(TopicName(s("orders")))
                .with_partitions(
                    [0, 1]
                        .map(|p| {
                            offset_commit_request::OffsetCommitRequestPartition::default()
                                .with_partition_index(p)
                                .with_committed_offset(3)
                        })
                        .to_vec(),
                ),
        ]);
    let ResponseKind::OffsetCommit(committed) = ask(
        &mut session,
        ApiKey::OffsetCommit,
        8,
        RequestKind::OffsetCommit(commit),
    )
    .await
    else {
        unreachable!()
    };
    assert!(
        committed.topics[0]
            .partitions
            .iter()
            .all(|p| p.error_code == 0),
        "{committed:?}"
    );

    let ResponseKind::OffsetDelete(deleted) = ask(
        &mut session,
        ApiKey::OffsetDelete,
        0,
        offset_delete("g", &[0, 5, -1]),
    )
    .await
    else {
        unreachable!()
    };
    assert_eq!(deleted.error_code, 0);
    let codes: Vec<i16> = deleted.topics[0]
        .partitions
        .iter()
        .map(|p| p.error_code)
        .collect();
    assert_eq!(
        codes,
        vec![0, 3, 3],
        "deleted, then UNKNOWN_TOPIC_OR_PARTITION twice"
    );
    let left: Vec<_> = broker
        .fetch_offsets("g", Vec::new())
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.partition)
        .collect();
    assert_eq!(left, vec![1]);
}
