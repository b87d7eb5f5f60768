//! Classic groups against the in-memory metadata store: the barrier with an
//! explicit clock, and with the real clock across two `Groups` handles (two
//! gateways) over one store.

use std::sync::Arc;

use object_store::memory::InMemory;

use super::*;
use crate::group::{CommitOffset, GroupLimits, Groups, JoinSpec, Strategy};
use crate::log::{Log, LogConfig, now_ms};
use crate::topic::TopicConfig;
use stratus_meta::MetaStore;
use stratus_meta::memory::MemoryMetaStore;

const SESSION: i64 = 10_000;

async fn setup() -> (Groups, Groups, Log) {
    let meta: Arc<dyn MetaStore> = Arc::new(MemoryMetaStore::new());
    let log = Log::new(
        meta.clone(),
        Arc::new(InMemory::new()),
        &LogConfig::default(),
    );
    log.create_topic("t", 4, TopicConfig::default())
        .await
        .unwrap();
    let limits = GroupLimits {
        max_members: 3,
        ..GroupLimits::default()
    };
    // Without the initial rebalance delay, so a first join completes at
    // once; `the_first_round_of_an_empty_group_waits_for_more_members`
    // covers the delay.
    let a =
        Groups::new(meta.clone(), log.keys().clone(), limits).with_initial_rebalance_delay_ms(0);
    let b = Groups::new(meta, log.keys().clone(), limits).with_initial_rebalance_delay_ms(0);
    (a, b, log)
}

fn join(member: &str, protocols: &[&str]) -> ClassicJoin {
    ClassicJoin {
        member_id: member.to_owned(),
        group_instance_id: None,
        client_id: "client".into(),
        client_host: "/127.0.0.1".into(),
        session_timeout_ms: SESSION,
        rebalance_timeout_ms: 30_000,
        protocol_type: "consumer".into(),
        protocols: protocols
            .iter()
            .map(|p| ((*p).to_owned(), format!("{member}:{p}").into_bytes()))
            .collect(),
        require_known_member_id: false,
    }
}

fn joined(step: JoinStep) -> JoinedGeneration {
    match step {
        JoinStep::Joined(j) => j,
        other => panic!("expected a completed join, got {other:?}"),
    }
}

fn commit(offset: i64, metadata: &str) -> CommitOffset {
    CommitOffset {
        topic: "t".into(),
        partition: 1,
        offset,
        metadata: metadata.into(),
    }
}

#[tokio::test]
async fn a_second_member_opens_a_round_that_completes_when_the_first_rejoins() {
    let (g, _, _log) = setup().await;
    let a = joined(
        g.classic_join_step("g", &join("a", &["range"]), 0)
            .await
            .unwrap(),
    );
    assert_eq!(
        (a.generation, a.leader.as_str(), a.members.len()),
        (1, "a", 1)
    );
    let b = g
        .classic_join_step("g", &join("b", &["range"]), 10)
        .await
        .unwrap();
    let JoinStep::Waiting { generation, .. } = b else {
        panic!("b must wait for a: {b:?}");
    };
    assert!(matches!(
        g.classic_heartbeat("g", "a", None, 1, 20).await,
        Err(ClassicError::RebalanceInProgress { .. })
    ));
    let a = joined(
        g.classic_join_step("g", &join("a", &["range"]), 30)
            .await
            .unwrap(),
    );
    assert_eq!((a.generation, a.leader.as_str()), (2, "a"));
    let metadata: Vec<_> = a.members.iter().map(|m| m.metadata.clone()).collect();
    assert_eq!(metadata, vec![b"a:range".to_vec(), b"b:range".to_vec()]);
    let b = joined(g.classic_join_poll("g", "b", generation, 40).await.unwrap());
    assert_eq!((b.generation, b.leader.as_str()), (2, "a"));
    assert!(b.members.is_empty(), "only the leader is told the members");
    // b syncs first and waits; the leader's sync hands out the bytes it sent.
    let sync = |member: &str, assignments: Vec<(String, Vec<u8>)>| ClassicSync {
        member_id: member.to_owned(),
        group_instance_id: None,
        generation: 2,
        protocol_type: Some("consumer".into()),
        protocol: Some("range".into()),
        assignments,
    };
    assert!(matches!(
        g.classic_sync_step("g", &sync("b", vec![]), 50)
            .await
            .unwrap(),
        SyncStep::Waiting { .. }
    ));
    let leader = g
        .classic_sync_step(
            "g",
            &sync("a", vec![("a".into(), vec![1]), ("b".into(), vec![2, 2])]),
            60,
        )
        .await
        .unwrap();
    assert!(matches!(leader, SyncStep::Assigned { assignment, .. } if assignment == vec![1]));
    let b = g
        .classic_sync_step("g", &sync("b", vec![]), 70)
        .await
        .unwrap();
    assert!(matches!(b, SyncStep::Assigned { assignment, .. } if assignment == vec![2, 2]));
    g.classic_heartbeat("g", "b", None, 2, 80).await.unwrap();
    assert!(matches!(
        g.classic_heartbeat("g", "b", None, 1, 90).await,
        Err(ClassicError::IllegalGeneration {
            given: 1,
            current: 2,
            ..
        })
    ));
    let described = g.classic_describe("g", 100).await.unwrap().unwrap();
    assert_eq!(described.state, ClassicState::Stable);
    assert_eq!(described.protocol, "range");
    assert_eq!(described.members.len(), 2);
}

#[tokio::test]
async fn a_dead_member_is_expired_by_the_others_heartbeats() {
    let (g, _, _log) = setup().await;
    joined(
        g.classic_join_step("g", &join("a", &["range"]), 0)
            .await
            .unwrap(),
    );
    let b = g
        .classic_join_step("g", &join("b", &["range"]), 0)
        .await
        .unwrap();
    assert!(matches!(b, JoinStep::Waiting { .. }));
    joined(
        g.classic_join_step("g", &join("a", &["range"]), 1)
            .await
            .unwrap(),
    );
    // b never heartbeats; a does, past b's session.
    g.classic_heartbeat("g", "a", None, 2, 5_000).await.unwrap();
    assert!(matches!(
        g.classic_heartbeat("g", "a", None, 2, SESSION + 10).await,
        Err(ClassicError::RebalanceInProgress { .. })
    ));
    let a = joined(
        g.classic_join_step("g", &join("a", &["range"]), SESSION + 20)
            .await
            .unwrap(),
    );
    assert_eq!(a.generation, 3);
    assert_eq!(a.members.len(), 1, "b was removed: {a:?}");
    assert!(matches!(
        g.classic_heartbeat("g", "b", None, 3, SESSION + 30).await,
        Err(ClassicError::UnknownMember { .. })
    ));
}

#[tokio::test]
async fn a_member_that_does_not_rejoin_is_dropped_at_the_deadline() {
    let (g, _, _log) = setup().await;
    let mut b = join("b", &["range"]);
    b.rebalance_timeout_ms = 1_000;
    let mut a = join("a", &["range"]);
    a.rebalance_timeout_ms = 1_000;
    joined(g.classic_join_step("g", &a, 0).await.unwrap());
    let step = g.classic_join_step("g", &b, 2).await.unwrap();
    let JoinStep::Waiting {
        generation,
        wake_at_ms,
        ..
    } = step
    else {
        panic!("{step:?}");
    };
    // a keeps heartbeating but never rejoins.
    g.classic_heartbeat("g", "a", None, 1, 500)
        .await
        .unwrap_err();
    let b = joined(
        g.classic_join_poll("g", "b", generation, wake_at_ms.max(1_002))
            .await
            .unwrap(),
    );
    assert_eq!((b.leader.as_str(), b.members.len()), ("b", 1));
}

#[tokio::test]
async fn first_joins_need_a_member_id_and_protocols_must_agree() {
    let (g, _, _log) = setup().await;
    let mut first = join("", &["range", "roundrobin"]);
    first.require_known_member_id = true;
    let id = match g.classic_join_step("g", &first, 0).await {
        Err(ClassicError::MemberIdRequired(id)) => id,
        other => panic!("{other:?}"),
    };
    assert!(id.starts_with("client-"), "{id}");
    assert!(
        g.classic_describe("g", 0).await.unwrap().is_none(),
        "nothing was written"
    );
    let a = joined(
        g.classic_join_step("g", &join(&id, &["range", "roundrobin"]), 1)
            .await
            .unwrap(),
    );
    assert_eq!(a.protocol, "range");
    assert!(matches!(
        g.classic_join_step("g", &join("b", &["cooperative-sticky"]), 2).await,
        Err(ClassicError::InconsistentProtocol(m)) if m.contains("range, roundrobin")
    ));
    let mut other_type = join("b", &["range"]);
    other_type.protocol_type = "connect".into();
    assert!(matches!(
        g.classic_join_step("g", &other_type, 2).await,
        Err(ClassicError::InconsistentProtocol(_))
    ));
    // A first join that would need a member id is refused for its protocols
    // first, as in Kafka: no id is handed to a member the group cannot take.
    let mut unfit = join("", &["cooperative-sticky"]);
    unfit.require_known_member_id = true;
    assert!(matches!(
        g.classic_join_step("g", &unfit, 2).await,
        Err(ClassicError::InconsistentProtocol(_))
    ));
    // The most preferred protocol common to all wins.
    let b = g
        .classic_join_step("g", &join("b", &["roundrobin"]), 3)
        .await
        .unwrap();
    assert!(matches!(b, JoinStep::Waiting { .. }));
    let a = joined(
        g.classic_join_step("g", &join(&id, &["range", "roundrobin"]), 4)
            .await
            .unwrap(),
    );
    assert_eq!(a.protocol, "roundrobin");
}

#[tokio::test]
async fn oversized_or_bad_joins_change_nothing() {
    let (g, _, _log) = setup().await;
    let mut big = join("a", &["range"]);
    big.protocols[0].1 = vec![0; crate::limits::DEFAULT_CLASSIC_METADATA_BYTES + 1];
    assert!(matches!(
        g.classic_join_step("g", &big, 0).await,
        Err(ClassicError::InvalidRequest(_))
    ));
    let mut short = join("a", &["range"]);
    short.session_timeout_ms = 1;
    assert!(matches!(
        g.classic_join_step("g", &short, 0).await,
        Err(ClassicError::InvalidSessionTimeout(1))
    ));
    assert!(g.classic_describe("g", 0).await.unwrap().is_none());
    for m in ["a", "b", "c"] {
        g.classic_join_step("g", &join(m, &["range"]), 0)
            .await
            .unwrap();
    }
    assert!(matches!(
        g.classic_join_step("g", &join("d", &["range"]), 0).await,
        Err(ClassicError::GroupFull { limit: 3, .. })
    ));
}

#[tokio::test]
async fn commits_are_fenced_by_generation_and_member() {
    let (g, _, _log) = setup().await;
    // No members: a commit without a member is allowed and creates the group.
    let ok = g
        .classic_commit("g", "", None, -1, &[commit(5, "meta")], 0)
        .await
        .unwrap();
    assert_eq!(ok, vec![Ok(())]);
    let listed = g.classic_list(0).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].state, ClassicState::Empty);
    let a = joined(
        g.classic_join_step("g", &join("a", &["range"]), 1)
            .await
            .unwrap(),
    );
    assert!(matches!(
        g.classic_commit("g", "", None, -1, &[commit(6, "")], 2)
            .await,
        Err(ClassicError::UnknownMember { .. })
    ));
    assert!(matches!(
        g.classic_commit("g", "zz", None, a.generation, &[commit(6, "")], 2)
            .await,
        Err(ClassicError::UnknownMember { .. })
    ));
    // Completing: the leader has not assigned yet.
    assert!(matches!(
        g.classic_commit("g", "a", None, a.generation, &[commit(6, "")], 2)
            .await,
        Err(ClassicError::RebalanceInProgress { .. })
    ));
    let sync = ClassicSync {
        member_id: "a".into(),
        group_instance_id: None,
        generation: a.generation,
        protocol_type: None,
        protocol: None,
        assignments: vec![],
    };
    g.classic_sync_step("g", &sync, 3).await.unwrap();
    assert!(matches!(
        g.classic_commit("g", "a", None, a.generation - 1, &[commit(6, "")], 4)
            .await,
        Err(ClassicError::IllegalGeneration { .. })
    ));
    let mut missing = commit(1, "");
    missing.topic = "nope".into();
    let outcomes = g
        .classic_commit(
            "g",
            "a",
            None,
            a.generation,
            &[commit(7, "x\u{1}y"), missing],
            5,
        )
        .await
        .unwrap();
    assert!(outcomes[0].is_ok());
    assert!(matches!(
        outcomes[1],
        Err(CommitRefusal::UnknownTopicOrPartition { .. })
    ));
    let committed = g.committed("g", &[]).await.unwrap();
    assert_eq!(committed.len(), 1);
    assert_eq!(
        (
            committed[0].record.offset,
            committed[0].record.metadata.as_str()
        ),
        (7, "x\u{1}y")
    );
    assert_eq!(committed[0].record.generation, a.generation);
    // A live group cannot be deleted; an empty one can, offsets and all.
    assert!(matches!(
        g.classic_delete("g", 6).await,
        Err(ClassicError::NotEmpty { .. })
    ));
    let left = g
        .classic_leave(
            "g",
            &[
                Leaving {
                    member_id: "a".into(),
                    group_instance_id: None,
                },
                Leaving {
                    member_id: "x".into(),
                    group_instance_id: None,
                },
            ],
            7,
        )
        .await
        .unwrap();
    assert!(left[0].is_ok() && matches!(left[1], Err(ClassicError::UnknownMember { .. })));
    assert_eq!(
        g.classic_describe("g", 8).await.unwrap().unwrap().state,
        ClassicState::Empty
    );
    g.classic_delete("g", 8).await.unwrap();
    assert!(g.committed("g", &[]).await.unwrap().is_empty());
    assert!(matches!(
        g.classic_delete("g", 9).await,
        Err(ClassicError::NotFound { .. })
    ));
}

#[tokio::test]
async fn a_group_name_has_one_protocol_at_a_time() {
    let (g, _, _log) = setup().await;
    let now = now_ms();
    let spec = JoinSpec {
        member_id: Some("s".into()),
        client_id: "sdk".into(),
        topics: vec!["t".into()],
        session_timeout_ms: SESSION,
        strategy: Strategy::Sticky,
        owned: Default::default(),
        await_missing_topics: false,
        topic_regex: None,
        instance_id: None,
    };
    g.join("sdk", &spec, now).await.unwrap();
    assert!(matches!(
        g.classic_join_step("sdk", &join("a", &["range"]), now).await,
        Err(ClassicError::InconsistentProtocol(m)) if m.contains("Stratus SDK")
    ));
    joined(
        g.classic_join_step("kafka", &join("a", &["range"]), now)
            .await
            .unwrap(),
    );
    assert!(matches!(
        g.join("kafka", &spec, now).await,
        Err(crate::group::GroupError::ProtocolMismatch { members: 1, .. })
    ));
    let listed = g.classic_list(now).await.unwrap();
    let kinds: Vec<(&str, &str)> = listed
        .iter()
        .map(|l| (l.group.as_str(), l.protocol_type.as_str()))
        .collect();
    assert_eq!(
        kinds,
        vec![("kafka", "consumer"), ("sdk", STRATUS_PROTOCOL_TYPE)]
    );
}

/// Two gateways, real clock: members joining through different `Groups`
/// handles meet in one generation through the store's watches.
#[tokio::test]
async fn members_on_two_gateways_meet_in_one_generation() {
    let (ga, gb, _log) = setup().await;
    let a = ga.classic_join("g", &join("a", &["range"])).await.unwrap();
    assert_eq!(a.generation, 1);
    let b_join = tokio::spawn(async move { gb.classic_join("g", &join("b", &["range"])).await });
    // a learns of the round from its heartbeat and rejoins on its gateway.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match ga.classic_heartbeat("g", "a", None, 1, now_ms()).await {
            Err(ClassicError::RebalanceInProgress { .. }) => break,
            Ok(()) => assert!(tokio::time::Instant::now() < deadline, "no round opened"),
            Err(e) => panic!("{e}"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let a = ga.classic_join("g", &join("a", &["range"])).await.unwrap();
    let b = tokio::time::timeout(std::time::Duration::from_secs(5), b_join)
        .await
        .expect("b's join must complete with a's")
        .unwrap()
        .unwrap();
    assert_eq!((a.generation, b.generation), (2, 2));
    assert_eq!((a.leader.as_str(), b.leader.as_str()), ("a", "a"));
    assert_eq!(a.members.len(), 2);
    // b's sync waits on its gateway for the leader's on the other.
    let sync = |member: &str, assignments| ClassicSync {
        member_id: member.to_owned(),
        group_instance_id: None,
        generation: 2,
        protocol_type: None,
        protocol: None,
        assignments,
    };
    let gb2 =
        Groups::new(ga.meta.clone(), ga.keys.clone(), ga.limits).with_initial_rebalance_delay_ms(0);
    let waiting = tokio::spawn(async move { gb2.classic_sync("g", &sync("b", vec![])).await });
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    ga.classic_sync("g", &sync("a", vec![("b".into(), vec![9])]))
        .await
        .unwrap();
    let b = tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(matches!(b, SyncStep::Assigned { assignment, .. } if assignment == vec![9]));
}

#[tokio::test]
async fn a_restarted_static_member_takes_its_place_back_without_a_rebalance() {
    let (g, _, _log) = setup().await;
    let mut b = join("", &["range"]);
    b.group_instance_id = Some("instance-b".into());
    b.require_known_member_id = true;
    joined(
        g.classic_join_step("g", &join("a", &["range"]), 0)
            .await
            .unwrap(),
    );
    // A static member needs no MEMBER_ID_REQUIRED round.
    let step = g.classic_join_step("g", &b, 1).await.unwrap();
    let JoinStep::Waiting {
        member_id: old_b, ..
    } = step
    else {
        panic!("{step:?}");
    };
    let a = joined(
        g.classic_join_step("g", &join("a", &["range"]), 2)
            .await
            .unwrap(),
    );
    let sync = ClassicSync {
        member_id: "a".into(),
        group_instance_id: None,
        generation: a.generation,
        protocol_type: None,
        protocol: None,
        assignments: vec![("a".into(), vec![1]), (old_b.clone(), vec![2])],
    };
    g.classic_sync_step("g", &sync, 3).await.unwrap();
    // b restarts: same instance id, no member id.
    let back = joined(g.classic_join_step("g", &b, 4).await.unwrap());
    assert_ne!(back.member_id, old_b);
    assert_eq!(back.generation, a.generation, "no rebalance");
    let resync = ClassicSync {
        member_id: back.member_id.clone(),
        group_instance_id: Some("instance-b".into()),
        generation: back.generation,
        protocol_type: None,
        protocol: None,
        assignments: vec![],
    };
    assert!(matches!(
        g.classic_sync_step("g", &resync, 5).await.unwrap(),
        SyncStep::Assigned { assignment, .. } if assignment == vec![2]
    ));
    // The old incarnation is fenced, not merely unknown.
    assert!(matches!(
        g.classic_heartbeat("g", &old_b, Some("instance-b"), a.generation, 6)
            .await,
        Err(ClassicError::FencedInstanceId { .. })
    ));
    assert!(matches!(
        g.classic_commit(
            "g",
            &old_b,
            Some("instance-b"),
            a.generation,
            &[commit(1, "")],
            6
        )
        .await,
        Err(ClassicError::FencedInstanceId { .. })
    ));
    g.classic_heartbeat("g", "a", None, a.generation, 7)
        .await
        .unwrap();
    let left = g
        .classic_leave(
            "g",
            &[Leaving {
                member_id: String::new(),
                group_instance_id: Some("instance-b".into()),
            }],
            8,
        )
        .await
        .unwrap();
    assert!(
        matches!(left.as_slice(), [Ok(id)] if *id == back.member_id),
        "{left:?}"
    );
}

#[tokio::test]
async fn the_first_round_of_an_empty_group_waits_for_more_members() {
    let (g, _, _log) = setup().await;
    let g = g.with_initial_rebalance_delay_ms(3_000);
    let a = g
        .classic_join_step("g", &join("a", &["range"]), 0)
        .await
        .unwrap();
    let JoinStep::Waiting {
        generation,
        wake_at_ms,
        ..
    } = a
    else {
        panic!("the first join must wait: {a:?}");
    };
    assert_eq!(wake_at_ms, 3_000);
    // b joins within the delay, which it extends; both land in generation 1.
    let b = g
        .classic_join_step("g", &join("b", &["range"]), 2_000)
        .await
        .unwrap();
    assert!(
        matches!(
            b,
            JoinStep::Waiting {
                wake_at_ms: 5_000,
                ..
            }
        ),
        "{b:?}"
    );
    assert!(matches!(
        g.classic_join_poll("g", "a", generation, 4_000)
            .await
            .unwrap(),
        JoinStep::Waiting { .. }
    ));
    let a = joined(
        g.classic_join_poll("g", "a", generation, 5_000)
            .await
            .unwrap(),
    );
    let b = joined(
        g.classic_join_poll("g", "b", generation, 5_001)
            .await
            .unwrap(),
    );
    assert_eq!((a.generation, b.generation, a.members.len()), (1, 1, 2));
    // A later round of the now non-empty group has no delay.
    let sync = ClassicSync {
        member_id: a.leader.clone(),
        group_instance_id: None,
        generation: 1,
        protocol_type: None,
        protocol: None,
        assignments: vec![],
    };
    g.classic_sync_step("g", &sync, 5_002).await.unwrap();
    let c = g
        .classic_join_step("g", &join("c", &["range"]), 5_003)
        .await
        .unwrap();
    assert!(matches!(c, JoinStep::Waiting { .. }));
    g.classic_join_step("g", &join("a", &["range"]), 5_004)
        .await
        .unwrap();
    let b = joined(
        g.classic_join_step("g", &join("b", &["range"]), 5_005)
            .await
            .unwrap(),
    );
    assert_eq!(
        b.generation, 2,
        "the last rejoin completes the round at once"
    );
}

#[tokio::test]
async fn a_static_member_back_after_its_session_ran_out_causes_a_rebalance() {
    let (g, _, _log) = setup().await;
    let mut b = join("", &["range"]);
    b.group_instance_id = Some("instance-b".into());
    joined(
        g.classic_join_step("g", &join("a", &["range"]), 0)
            .await
            .unwrap(),
    );
    g.classic_join_step("g", &b, 1).await.unwrap();
    let a = joined(
        g.classic_join_step("g", &join("a", &["range"]), 2)
            .await
            .unwrap(),
    );
    assert_eq!(a.members.len(), 2);
    // b is silent past its session (a heartbeats, but not after b's
    // deadline); then it comes back.
    g.classic_heartbeat("g", "a", None, a.generation, SESSION - 10)
        .await
        .unwrap();
    let back = g.classic_join_step("g", &b, SESSION + 50).await.unwrap();
    assert!(
        matches!(back, JoinStep::Waiting { .. }),
        "a static member whose session ran out must not take its place back silently: {back:?}"
    );
}

#[tokio::test]
async fn a_sync_waiting_for_a_dead_leader_ends_with_its_session() {
    let (g, _, _log) = setup().await;
    joined(
        g.classic_join_step("g", &join("a", &["range"]), 0)
            .await
            .unwrap(),
    );
    g.classic_join_step("g", &join("b", &["range"]), 1)
        .await
        .unwrap();
    let a = joined(
        g.classic_join_step("g", &join("a", &["range"]), 2)
            .await
            .unwrap(),
    );
    let sync = ClassicSync {
        member_id: "b".into(),
        group_instance_id: None,
        generation: a.generation,
        protocol_type: None,
        protocol: None,
        assignments: vec![],
    };
    // The leader a never syncs: b waits for a's session, not the 30 s
    // rebalance timeout.
    let waiting = g.classic_sync_step("g", &sync, 3).await.unwrap();
    assert_eq!(
        waiting,
        SyncStep::Waiting {
            wake_at_ms: 2 + SESSION + 1
        }
    );
    assert!(matches!(
        g.classic_sync_step("g", &sync, 2 + SESSION + 1).await,
        Err(ClassicError::RebalanceInProgress { .. })
    ));
}

#[tokio::test]
async fn a_restarted_static_leader_keeps_leading_without_a_rebalance() {
    let (g, _, _log) = setup().await;
    let mut a = join("", &["range"]);
    a.group_instance_id = Some("instance-a".into());
    let first = joined(g.classic_join_step("g", &a, 0).await.unwrap());
    let sync = ClassicSync {
        member_id: first.member_id.clone(),
        group_instance_id: Some("instance-a".into()),
        generation: first.generation,
        protocol_type: None,
        protocol: None,
        assignments: vec![(first.member_id.clone(), vec![7])],
    };
    g.classic_sync_step("g", &sync, 1).await.unwrap();
    let back = joined(g.classic_join_step("g", &a, 2).await.unwrap());
    assert_eq!(back.generation, first.generation, "no rebalance");
    // Told the old id as the leader, so it does not assign again.
    assert_eq!(back.leader, first.member_id);
    assert!(back.members.is_empty());
    let resync = ClassicSync {
        member_id: back.member_id.clone(),
        assignments: vec![],
        ..sync
    };
    assert!(matches!(
        g.classic_sync_step("g", &resync, 3).await.unwrap(),
        SyncStep::Assigned { assignment, .. } if assignment == vec![7]
    ));
}
