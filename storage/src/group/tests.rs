//! Group state against the in-memory metadata store, with an explicit clock.

use std::collections::BTreeMap;
use std::sync::Arc;

use object_store::memory::InMemory;

use super::membership::JoinSpec;
use super::*;
use crate::log::{Log, LogConfig};
use crate::topic::TopicConfig;
use stratus_meta::memory::MemoryMetaStore;

const SESSION: i64 = 10_000;

async fn setup(partitions: u32) -> (Groups, Log) {
    let meta: Arc<dyn MetaStore> = Arc::new(MemoryMetaStore::new());
    let log = Log::new(
        meta.clone(),
        Arc::new(InMemory::new()),
        &LogConfig::default(),
    );
    log.create_topic("t", partitions, TopicConfig::default())
        .await
        .unwrap();
    let groups = Groups::new(
        meta,
        log.keys().clone(),
        GroupLimits {
            max_members: 3,
            ..GroupLimits::default()
        },
    );
    (groups, log)
}

fn spec(id: Option<&str>) -> JoinSpec {
    JoinSpec {
        member_id: id.map(str::to_owned),
        client_id: "test".into(),
        topics: vec!["t".into()],
        session_timeout_ms: SESSION,
        strategy: Strategy::Sticky,
        owned: Assignment::new(),
        await_missing_topics: false,
        topic_regex: None,
        instance_id: None,
    }
}

fn count(a: &Assignment) -> usize {
    a.values().map(Vec::len).sum()
}

#[tokio::test]
async fn partitions_move_only_after_their_owner_releases_them() {
    let (groups, _log) = setup(12).await;
    let a = groups.join("g", &spec(Some("a")), 0).await.unwrap();
    assert_eq!(count(&a.assignment), 12);
    // a consumes everything and says so.
    let a = groups.heartbeat("g", "a", &a.assignment, 1).await.unwrap();
    let b = groups.join("g", &spec(Some("b")), 2).await.unwrap();
    assert!(b.generation > a.generation);
    assert!(
        b.assignment.is_empty(),
        "b must wait until a releases: {b:?}"
    );
    assert_eq!(count(&b.pending), 6);
    // a learns of the rebalance and gives up six partitions.
    let a2 = groups.heartbeat("g", "a", &a.assignment, 3).await.unwrap();
    assert_eq!(a2.generation, b.generation);
    assert_eq!(count(&a2.assignment), 6);
    let b = groups
        .heartbeat("g", "b", &Assignment::new(), 4)
        .await
        .unwrap();
    assert!(
        b.assignment.is_empty(),
        "a still reported owning all twelve"
    );
    groups.heartbeat("g", "a", &a2.assignment, 5).await.unwrap();
    let b = groups
        .heartbeat("g", "b", &Assignment::new(), 6)
        .await
        .unwrap();
    assert_eq!(count(&b.assignment), 6);
    assert!(b.pending.is_empty());
    for (topic, ps) in &b.assignment {
        for p in ps {
            assert!(!holds(&a2.assignment, topic, *p));
        }
    }
}

/// A member consumes what its join answer gave it before its first
/// heartbeat reports it: those partitions are not free for the next joiner.
#[tokio::test]
async fn partitions_handed_out_but_not_yet_reported_are_held() {
    let (groups, _log) = setup(4).await;
    let a = groups.join("g", &spec(Some("a")), 0).await.unwrap();
    assert_eq!(count(&a.assignment), 4);
    let b = groups.join("g", &spec(Some("b")), 1).await.unwrap();
    assert!(b.assignment.is_empty(), "a may be consuming them: {b:?}");
    assert_eq!(count(&b.pending), 2);
    // a's heartbeat narrows its assignment while it still reports all four,
    // then it releases two and b gets them.
    let a = groups.heartbeat("g", "a", &a.assignment, 2).await.unwrap();
    assert_eq!(count(&a.assignment), 2);
    let b = groups
        .heartbeat("g", "b", &Assignment::new(), 3)
        .await
        .unwrap();
    assert!(b.assignment.is_empty(), "a has not released yet: {b:?}");
    groups.heartbeat("g", "a", &a.assignment, 4).await.unwrap();
    let b = groups
        .heartbeat("g", "b", &Assignment::new(), 5)
        .await
        .unwrap();
    assert_eq!(count(&b.assignment), 2);
}

#[tokio::test]
async fn an_expired_member_is_removed_by_any_heartbeat_and_its_commits_are_refused() {
    let (groups, _log) = setup(4).await;
    let a = groups.join("g", &spec(Some("a")), 0).await.unwrap();
    groups.heartbeat("g", "a", &a.assignment, 0).await.unwrap();
    let b = groups.join("g", &spec(Some("b")), 0).await.unwrap();
    let a = groups
        .heartbeat("g", "a", &Assignment::new(), 1)
        .await
        .unwrap();
    assert_eq!(count(&a.assignment), 2);
    // b never heartbeats again; after its session a's heartbeat takes everything.
    let a = groups
        .heartbeat("g", "a", &a.assignment, SESSION + 100)
        .await
        .unwrap();
    assert_eq!(count(&a.assignment), 4);
    let commit = CommitOffset {
        topic: "t".into(),
        partition: 0,
        offset: 1,
        metadata: String::new(),
    };
    let err = groups
        .commit(
            "g",
            "b",
            b.generation,
            std::slice::from_ref(&commit),
            SESSION + 101,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, GroupError::UnknownMember { .. }), "{err}");
    assert!(err.to_string().contains("rejoin"));
    let err = groups
        .heartbeat("g", "b", &Assignment::new(), SESSION + 102)
        .await
        .unwrap_err();
    assert!(matches!(err, GroupError::UnknownMember { .. }));
}

#[tokio::test]
async fn stale_generation_and_unassigned_commits_are_refused() {
    let (groups, _log) = setup(2).await;
    let a = groups.join("g", &spec(Some("a")), 0).await.unwrap();
    let ok = CommitOffset {
        topic: "t".into(),
        partition: 0,
        offset: 5,
        metadata: "m".into(),
    };
    groups
        .commit("g", "a", a.generation, std::slice::from_ref(&ok), 1)
        .await
        .unwrap();
    groups.heartbeat("g", "a", &a.assignment, 1).await.unwrap();
    let b = groups.join("g", &spec(Some("b")), 2).await.unwrap();
    let a2 = groups.heartbeat("g", "a", &a.assignment, 3).await.unwrap();
    assert!(a2.generation > a.generation);
    let err = groups
        .commit("g", "a", a.generation, std::slice::from_ref(&ok), 4)
        .await
        .unwrap_err();
    assert!(matches!(err, GroupError::StaleGeneration { .. }), "{err}");
    assert!(err.to_string().contains("rejoin"));
    // b is not given a's partition 0 while a owns it.
    let b_part0 = CommitOffset {
        partition: 0,
        ..ok.clone()
    };
    let err = groups
        .commit("g", "b", b.generation, &[b_part0], 4)
        .await
        .unwrap_err();
    assert!(matches!(err, GroupError::NotAssigned { .. }), "{err}");
    let committed = groups.committed("g", &[]).await.unwrap();
    assert_eq!(committed.len(), 1);
    assert_eq!(
        (
            committed[0].record.offset,
            committed[0].record.metadata.as_str()
        ),
        (5, "m")
    );
}

#[tokio::test]
async fn limits_strategy_and_topics_are_checked_before_anything_changes() {
    let (groups, _log) = setup(2).await;
    for id in ["a", "b", "c"] {
        groups.join("g", &spec(Some(id)), 0).await.unwrap();
    }
    let err = groups.join("g", &spec(Some("d")), 0).await.unwrap_err();
    assert!(
        matches!(err, GroupError::TooManyMembers { limit: 3, .. }),
        "{err}"
    );
    let range = JoinSpec {
        strategy: Strategy::Range,
        ..spec(Some("a"))
    };
    assert!(matches!(
        groups.join("g", &range, 0).await.unwrap_err(),
        GroupError::StrategyMismatch { .. }
    ));
    let missing = JoinSpec {
        topics: vec!["nope".into()],
        ..spec(None)
    };
    assert!(matches!(
        groups.join("h", &missing, 0).await.unwrap_err(),
        GroupError::TopicNotFound { .. }
    ));
    assert!(
        groups.describe("h", 0).await.is_err(),
        "a failed join created nothing"
    );
    assert_eq!(groups.describe("g", 0).await.unwrap().members.len(), 3);
}

/// Kafka's consumer protocol lets a member subscribe to a topic before it
/// exists: it is assigned nothing of it until the topic is created, and the
/// next heartbeat then rebalances the group over it.
#[tokio::test]
async fn a_member_may_await_a_missing_topic_and_gets_it_once_created() {
    let (groups, log) = setup(2).await;
    let waiting = JoinSpec {
        topics: vec!["later".into(), "t".into()],
        await_missing_topics: true,
        ..spec(Some("a"))
    };
    let joined = groups.join("g", &waiting, 0).await.unwrap();
    assert!(joined.assignment.contains_key("t"));
    assert!(
        !joined.assignment.contains_key("later"),
        "nothing of a missing topic"
    );
    log.create_topic("later", 3, TopicConfig::default())
        .await
        .unwrap();
    let state = groups.heartbeat_owning("g", "a", None, 1).await.unwrap();
    assert_eq!(
        state.assignment.get("later").map(Vec::len),
        Some(3),
        "{state:?}"
    );
    assert!(state.generation > joined.generation, "the group rebalanced");
}

#[tokio::test]
async fn reset_and_delete_need_an_empty_group_and_groups_are_independent() {
    let (groups, _log) = setup(2).await;
    let a = groups.join("g", &spec(Some("a")), 0).await.unwrap();
    let h = groups.join("h", &spec(Some("a")), 0).await.unwrap();
    let at = |offset| CommitOffset {
        topic: "t".into(),
        partition: 1,
        offset,
        metadata: String::new(),
    };
    groups
        .commit("g", "a", a.generation, &[at(3)], 1)
        .await
        .unwrap();
    groups
        .commit("h", "a", h.generation, &[at(9)], 1)
        .await
        .unwrap();
    let err = groups.reset("g", &[at(0)], 2).await.unwrap_err();
    assert!(
        matches!(err, GroupError::GroupNotEmpty { members: 1, .. }),
        "{err}"
    );
    assert!(matches!(
        groups.delete("g", 2).await.unwrap_err(),
        GroupError::GroupNotEmpty { .. }
    ));
    groups.leave("g", "a", 3).await.unwrap();
    groups.reset("g", &[at(0)], 4).await.unwrap();
    assert_eq!(
        groups.committed("g", &[]).await.unwrap()[0].record.offset,
        0
    );
    assert_eq!(
        groups.committed("h", &[]).await.unwrap()[0].record.offset,
        9
    );
    let names: Vec<String> = groups
        .list(5)
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.group)
        .collect();
    assert_eq!(names, ["g", "h"]);
    groups.delete("g", 5).await.unwrap();
    assert!(matches!(
        groups.describe("g", 5).await.unwrap_err(),
        GroupError::GroupNotFound { .. }
    ));
    assert_eq!(groups.describe("h", 5).await.unwrap().offsets.len(), 1);
    // A session that expired counts as gone.
    groups.reset("h", &[at(1)], SESSION + 10).await.unwrap();
}

#[tokio::test]
async fn a_recreated_topic_does_not_inherit_offsets_and_a_grown_topic_rebalances() {
    let (groups, log) = setup(2).await;
    let a = groups.join("g", &spec(Some("a")), 0).await.unwrap();
    let c = CommitOffset {
        topic: "t".into(),
        partition: 0,
        offset: 3,
        metadata: String::new(),
    };
    groups
        .commit("g", "a", a.generation, &[c], 1)
        .await
        .unwrap();
    groups.leave("g", "a", 2).await.unwrap();
    log.delete_topic("t").await.unwrap();
    log.create_topic("t", 3, TopicConfig::default())
        .await
        .unwrap();
    assert!(groups.committed("g", &[]).await.unwrap().is_empty());
    let a = groups.join("g", &spec(Some("a")), 3).await.unwrap();
    assert_eq!(
        a.assignment,
        BTreeMap::from([("t".to_owned(), vec![0, 1, 2])])
    );
}

#[tokio::test]
async fn a_server_chosen_member_id_is_valid_whatever_the_client_id() {
    let (groups, _log) = setup(1).await;
    for client_id in ["😀".repeat(100), "é".repeat(100), "c".repeat(300)] {
        let spec = JoinSpec {
            client_id: client_id.clone(),
            ..spec(None)
        };
        let state = groups.join("g", &spec, 0).await.unwrap();
        assert!(state.member_id.len() <= MAX_ID_LEN, "{}", state.member_id);
        let prefix = state.member_id.rsplit_once('-').unwrap().0;
        assert!(client_id.starts_with(prefix) && !prefix.is_empty());
        groups.leave("g", &state.member_id, 1).await.unwrap();
    }
}

#[tokio::test]
async fn a_heartbeat_without_a_report_keeps_the_last_one() {
    let (groups, _log) = setup(4).await;
    let a = groups.join("g", &spec(Some("a")), 0).await.unwrap();
    // a reports owning everything once, then heartbeats without reports.
    groups
        .heartbeat_owning("g", "a", Some(&a.assignment), 1)
        .await
        .unwrap();
    let b = groups.join("g", &spec(Some("b")), 2).await.unwrap();
    assert!(b.assignment.is_empty(), "a still owns all: {b:?}");
    let a2 = groups.heartbeat_owning("g", "a", None, 3).await.unwrap();
    assert_eq!(count(&a2.assignment), 2, "a is told to give up half");
    // Without a new report, a is still taken to own all four.
    let b2 = groups.heartbeat_owning("g", "b", None, 4).await.unwrap();
    assert!(b2.assignment.is_empty(), "{b2:?}");
    // Once a reports the half it kept, b gets the rest.
    groups
        .heartbeat_owning("g", "a", Some(&a2.assignment), 5)
        .await
        .unwrap();
    let b3 = groups.heartbeat_owning("g", "b", None, 6).await.unwrap();
    assert_eq!(count(&b3.assignment), 2);
}
