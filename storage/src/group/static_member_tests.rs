//! Static members of server-assigned groups, with an explicit clock.

use std::sync::Arc;

use object_store::memory::InMemory;

use crate::group::{Assignment, GroupError, GroupLimits, Groups, JoinSpec, MemberState, Strategy};
use crate::log::{Log, LogConfig};
use crate::topic::TopicConfig;
use stratus_meta::MetaStore;
use stratus_meta::memory::MemoryMetaStore;

const SESSION: i64 = 10_000;

async fn setup() -> (Groups, Log) {
    let meta: Arc<dyn MetaStore> = Arc::new(MemoryMetaStore::new());
    let log = Log::new(
        meta.clone(),
        Arc::new(InMemory::new()),
        &LogConfig::default(),
    );
    log.create_topic("t", 4, TopicConfig::default())
        .await
        .unwrap();
    let groups = Groups::new(meta, log.keys().clone(), GroupLimits::default());
    (groups, log)
}

fn spec(member: &str, instance: Option<&str>) -> JoinSpec {
    JoinSpec {
        member_id: Some(member.to_owned()),
        client_id: "test".into(),
        topics: vec!["t".into()],
        session_timeout_ms: SESSION,
        strategy: Strategy::Sticky,
        owned: Assignment::new(),
        await_missing_topics: true,
        topic_regex: None,
        instance_id: instance.map(str::to_owned),
    }
}

fn count(a: &Assignment) -> usize {
    a.values().map(Vec::len).sum()
}

/// Joins and heartbeats until the member holds its whole target.
async fn settle(groups: &Groups, member: &str, state: MemberState, now: i64) -> MemberState {
    groups
        .heartbeat("g", member, &state.assignment, now)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_static_member_that_departs_keeps_its_partitions_for_its_successor() {
    let (groups, _log) = setup().await;
    let a = groups.join("g", &spec("a", Some("i1")), 0).await.unwrap();
    let a = settle(&groups, "a", a, 1).await;
    let b = groups.join("g", &spec("b", None), 2).await.unwrap();
    // a reports what it had, learns it keeps two, then reports those two.
    let a = settle(&groups, "a", a, 3).await;
    let a = settle(&groups, "a", a, 3).await;
    let b = settle(&groups, "b", b, 4).await;
    let b = settle(&groups, "b", b, 5).await;
    assert_eq!((count(&a.assignment), count(&b.assignment)), (2, 2));
    let generation = b.generation;

    groups.depart("g", "a", 6).await.unwrap();
    // b is not given a's partitions while a's instance may come back.
    let b = groups.heartbeat("g", "b", &b.assignment, 7).await.unwrap();
    assert_eq!(count(&b.assignment), 2);
    assert_eq!(count(&b.pending), 0, "no rebalance: {b:?}");
    // The departed member itself is gone.
    let err = groups
        .heartbeat("g", "a", &a.assignment, 8)
        .await
        .unwrap_err();
    assert!(matches!(err, GroupError::UnknownMember { .. }), "{err}");

    // Its successor takes its place: same partitions, same generation.
    let a2 = groups.join("g", &spec("a2", Some("i1")), 9).await.unwrap();
    assert_eq!(a2.assignment, a.assignment);
    assert_eq!(a2.generation, generation);
    let b = groups.heartbeat("g", "b", &b.assignment, 10).await.unwrap();
    assert_eq!((b.generation, count(&b.assignment)), (generation, 2));
    let listed = groups.describe("g", 11).await.unwrap();
    let ids: Vec<&str> = listed
        .members
        .iter()
        .map(|m| m.member_id.as_str())
        .collect();
    assert_eq!(ids, ["a2", "b"]);
    assert_eq!(listed.members[0].instance_id.as_deref(), Some("i1"));
}

#[tokio::test]
async fn a_second_member_of_an_active_instance_is_refused_and_changes_nothing() {
    let (groups, _log) = setup().await;
    let a = groups.join("g", &spec("a", Some("i1")), 0).await.unwrap();
    let before = groups.describe("g", 1).await.unwrap();
    let err = groups
        .join("g", &spec("intruder", Some("i1")), 2)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, GroupError::UnreleasedInstance { member, .. } if member == "a"),
        "{err}"
    );
    assert!(err.to_string().contains("group.instance.id"), "{err}");
    assert_eq!(groups.describe("g", 1).await.unwrap(), before);
    // The holder rejoining under its own id is not an intruder.
    let again = groups.join("g", &spec("a", Some("i1")), 3).await.unwrap();
    assert_eq!(again.generation, a.generation);
}

#[tokio::test]
async fn a_departed_member_whose_session_ends_gives_its_partitions_up() {
    let (groups, _log) = setup().await;
    let a = groups.join("g", &spec("a", Some("i1")), 0).await.unwrap();
    let a = settle(&groups, "a", a, 1).await;
    let b = groups.join("g", &spec("b", None), 2).await.unwrap();
    let a = settle(&groups, "a", a, 3).await;
    let _ = settle(&groups, "a", a, 3).await;
    let b = settle(&groups, "b", b, 4).await;
    let b = settle(&groups, "b", b, 5).await;
    assert_eq!(count(&b.assignment), 2);
    groups.depart("g", "a", 6).await.unwrap();
    // Past a's deadline b gets everything; a newcomer of the instance then
    // joins as a new member and a rebalance spreads the partitions again.
    let later = 3 + SESSION + 1;
    let b = groups
        .heartbeat("g", "b", &b.assignment, later)
        .await
        .unwrap();
    let b = settle(&groups, "b", b, later + 1).await;
    assert_eq!(count(&b.assignment), 4);
    let a3 = groups
        .join("g", &spec("a3", Some("i1")), later + 2)
        .await
        .unwrap();
    assert!(a3.generation > b.generation);
    assert_eq!(count(&a3.pending) + count(&a3.assignment), 2);
}

#[tokio::test]
async fn a_dynamic_member_that_departs_leaves_at_once() {
    let (groups, _log) = setup().await;
    let a = groups.join("g", &spec("a", None), 0).await.unwrap();
    let a = settle(&groups, "a", a, 1).await;
    let b = groups.join("g", &spec("b", None), 2).await.unwrap();
    let _ = settle(&groups, "a", a, 3).await;
    let b = settle(&groups, "b", b, 4).await;
    groups.depart("g", "a", 5).await.unwrap();
    let b = groups.heartbeat("g", "b", &b.assignment, 6).await.unwrap();
    assert_eq!(count(&b.assignment), 4);
}
