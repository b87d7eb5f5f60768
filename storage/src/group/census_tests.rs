//! `max_groups` across both protocols, against the in-memory store.

use std::sync::Arc;

use object_store::memory::InMemory;

use crate::group::classic::{ClassicError, ClassicJoin, JoinStep};
use crate::group::{Assignment, CommitOffset, GroupError, GroupLimits, Groups, JoinSpec, Strategy};
use crate::log::{Log, LogConfig};
use crate::topic::TopicConfig;
use stratus_meta::MetaStore;
use stratus_meta::memory::MemoryMetaStore;

const SESSION: i64 = 10_000;

async fn setup(max_groups: usize) -> (Arc<dyn MetaStore>, Log, Groups) {
    let meta: Arc<dyn MetaStore> = Arc::new(MemoryMetaStore::new());
    let log = Log::new(
        meta.clone(),
        Arc::new(InMemory::new()),
        &LogConfig::default(),
    );
    log.create_topic("t", 2, TopicConfig::default())
        .await
        .unwrap();
    let groups = limited(&meta, &log, max_groups);
    (meta, log, groups)
}

fn limited(meta: &Arc<dyn MetaStore>, log: &Log, max_groups: usize) -> Groups {
    let limits = GroupLimits {
        max_groups,
        ..GroupLimits::default()
    };
    Groups::new(meta.clone(), log.keys().clone(), limits).with_initial_rebalance_delay_ms(0)
}

fn sdk(member: &str) -> JoinSpec {
    JoinSpec {
        member_id: Some(member.to_owned()),
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

fn kafka(member: &str) -> ClassicJoin {
    ClassicJoin {
        member_id: member.to_owned(),
        group_instance_id: None,
        client_id: "client".into(),
        client_host: "/127.0.0.1".into(),
        session_timeout_ms: SESSION,
        rebalance_timeout_ms: 30_000,
        protocol_type: "consumer".into(),
        protocols: vec![("range".into(), b"meta".to_vec())],
        require_known_member_id: false,
    }
}

fn offset() -> CommitOffset {
    CommitOffset {
        topic: "t".into(),
        partition: 0,
        offset: 1,
        metadata: String::new(),
    }
}

fn is_too_many(err: &GroupError) -> bool {
    matches!(err, GroupError::TooManyGroups { limit: 2 })
}

#[tokio::test]
async fn a_cluster_at_max_groups_refuses_new_groups_of_either_protocol_and_nothing_else() {
    let (_meta, _log, groups) = setup(2).await;
    groups.join("sdk", &sdk("a"), 0).await.unwrap();
    let step = groups.classic_join_step("kafka", &kafka("k"), 0).await;
    assert!(matches!(step, Ok(JoinStep::Joined(_))), "{step:?}");

    // A new group is refused whichever way it would be created.
    let err = groups.join("third", &sdk("a"), 1).await.unwrap_err();
    assert!(is_too_many(&err), "{err}");
    assert!(
        err.to_string().contains("gateway.groups.max_groups"),
        "{err}"
    );
    let err = groups
        .classic_join_step("third", &kafka("k"), 1)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClassicError::Group(e) if is_too_many(e)),
        "{err}"
    );
    let err = groups
        .classic_commit("third", "", None, -1, &[offset()], 1)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClassicError::Group(e) if is_too_many(e)),
        "{err}"
    );
    let err = groups.reset("third", &[offset()], 1).await.unwrap_err();
    assert!(is_too_many(&err), "{err}");
    // ... and left no trace.
    assert!(groups.describe("third", 1).await.is_err());
    let listed: Vec<String> = groups
        .list(1)
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.group)
        .collect();
    assert_eq!(listed, ["kafka", "sdk"]);

    // Existing groups carry on: new members, commits, a group known to both
    // protocols counts once.
    groups.join("sdk", &sdk("b"), 2).await.unwrap();
    groups
        .classic_commit("kafka", "", None, -1, &[offset()], SESSION + 100)
        .await
        .unwrap();

    // Deleting a group makes room for one more, not two.
    groups.delete("sdk", 3 * SESSION).await.unwrap();
    groups.join("third", &sdk("a"), 3 * SESSION).await.unwrap();
    let err = groups
        .join("fourth", &sdk("a"), 3 * SESSION)
        .await
        .unwrap_err();
    assert!(is_too_many(&err), "{err}");
    groups.classic_delete("kafka", 5 * SESSION).await.unwrap();
    groups.join("fourth", &sdk("a"), 5 * SESSION).await.unwrap();
}

#[tokio::test]
async fn a_cluster_without_a_stored_count_counts_the_groups_it_has() {
    let (meta, log, unlimited) = setup(1000).await;
    unlimited.join("one", &sdk("a"), 0).await.unwrap();
    unlimited
        .classic_commit("two", "", None, -1, &[offset()], 0)
        .await
        .unwrap();
    // As a cluster from before the count existed.
    let mut tx = meta.begin().await.unwrap();
    tx.clear(&log.keys().group_count()).unwrap();
    tx.commit().await.unwrap();

    let groups = limited(&meta, &log, 2);
    let err = groups.join("three", &sdk("a"), 1).await.unwrap_err();
    assert!(is_too_many(&err), "{err}");
    groups.delete("one", 2 * SESSION).await.unwrap();
    groups.join("three", &sdk("a"), 2 * SESSION).await.unwrap();
}
