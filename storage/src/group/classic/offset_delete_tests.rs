//! OffsetDelete's rules against the in-memory store: a missing group, a
//! live consumer protecting its topics, a non-consumer group refusing as a
//! whole, unknown partitions, and a Stratus SDK member's topics.

use std::sync::Arc;

use object_store::memory::InMemory;

use super::offset_delete::subscribed_topics;
use super::*;
use crate::group::{CommitOffset, GroupLimits, Groups, JoinSpec, Strategy};
use crate::log::{Log, LogConfig};
use crate::topic::TopicConfig;
use stratus_meta::memory::MemoryMetaStore;

async fn setup() -> (Groups, Log) {
    let meta: Arc<dyn stratus_meta::MetaStore> = Arc::new(MemoryMetaStore::new());
    let log = Log::new(
        meta.clone(),
        Arc::new(InMemory::new()),
        &LogConfig::default(),
    );
    for t in ["t", "u"] {
        log.create_topic(t, 2, TopicConfig::default())
            .await
            .unwrap();
    }
    let groups = Groups::new(meta, log.keys().clone(), GroupLimits::default())
        .with_initial_rebalance_delay_ms(0);
    (groups, log)
}

/// A `ConsumerProtocolSubscription` v0 naming `topics`.
fn subscription(topics: &[&str]) -> Vec<u8> {
    let mut out = 0i16.to_be_bytes().to_vec();
    out.extend((topics.len() as i32).to_be_bytes());
    for t in topics {
        out.extend((t.len() as i16).to_be_bytes());
        out.extend(t.as_bytes());
    }
    out.extend((-1i32).to_be_bytes()); // no user data
    out
}

fn join(protocol_type: &str, topics: &[&str]) -> ClassicJoin {
    ClassicJoin {
        member_id: "m".into(),
        group_instance_id: None,
        client_id: "client".into(),
        client_host: "/127.0.0.1".into(),
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 10_000,
        protocol_type: protocol_type.into(),
        protocols: vec![("range".into(), subscription(topics))],
        require_known_member_id: false,
    }
}

fn offset(topic: &str, partition: u32) -> CommitOffset {
    CommitOffset {
        topic: topic.into(),
        partition,
        offset: 5,
        metadata: String::new(),
    }
}

fn parts(list: &[(&str, u32)]) -> Vec<(String, u32)> {
    list.iter().map(|(t, p)| ((*t).to_owned(), *p)).collect()
}

async fn committed(g: &Groups) -> Vec<(String, u32)> {
    let mut out: Vec<_> = g
        .committed("g", &[])
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.topic, c.partition))
        .collect();
    out.sort();
    out
}

#[test]
fn subscriptions_decode_and_garbage_does_not() {
    assert_eq!(
        subscribed_topics(&subscription(&["a", "bc"])),
        Some(vec!["a".to_owned(), "bc".to_owned()])
    );
    assert_eq!(subscribed_topics(b"\x00\x01opaque"), None);
    // A count far beyond the bytes is refused without allocating for it.
    assert_eq!(
        subscribed_topics(b"\x00\x00\x7f\xff\xff\xff\x00\x01a"),
        None
    );
    assert_eq!(subscribed_topics(b""), None);
}

#[tokio::test]
async fn a_missing_group_is_not_found() {
    let (g, _log) = setup().await;
    let err = g
        .delete_offsets("g", &parts(&[("t", 0)]), 0)
        .await
        .unwrap_err();
    assert!(matches!(err, ClassicError::NotFound { .. }), "{err}");
}

#[tokio::test]
async fn an_empty_group_loses_the_named_offsets_and_keeps_the_rest() {
    let (g, _log) = setup().await;
    let all = [offset("t", 0), offset("t", 1), offset("u", 0)];
    g.classic_commit("g", "", None, -1, &all, 0).await.unwrap();
    let out = g
        .delete_offsets("g", &parts(&[("t", 0), ("t", 9), ("nope", 0)]), 1)
        .await
        .unwrap();
    assert_eq!(out[0], Ok(()));
    assert!(matches!(
        out[1],
        Err(OffsetDeleteRefusal::UnknownTopicOrPartition { partition: 9, .. })
    ));
    assert!(matches!(
        out[2],
        Err(OffsetDeleteRefusal::UnknownTopicOrPartition { .. })
    ));
    assert_eq!(committed(&g).await, parts(&[("t", 1), ("u", 0)]));
    // Deleting an offset that is not committed is not an error (as in Kafka).
    assert_eq!(
        g.delete_offsets("g", &parts(&[("t", 0)]), 2).await.unwrap(),
        vec![Ok(())]
    );
}

#[tokio::test]
async fn a_live_consumer_protects_the_topics_it_subscribes_to() {
    let (g, _log) = setup().await;
    g.classic_commit("g", "", None, -1, &[offset("t", 0), offset("u", 0)], 0)
        .await
        .unwrap();
    let joined = g
        .classic_join_step("g", &join("consumer", &["t"]), 1)
        .await
        .unwrap();
    assert!(matches!(joined, JoinStep::Joined(_)), "{joined:?}");
    let out = g
        .delete_offsets("g", &parts(&[("t", 0), ("u", 0)]), 2)
        .await
        .unwrap();
    assert!(
        matches!(&out[0], Err(OffsetDeleteRefusal::SubscribedToTopic { topic }) if topic == "t")
    );
    assert_eq!(out[1], Ok(()));
    assert_eq!(committed(&g).await, parts(&[("t", 0)]));
    // Once its session has run out the topic is free again.
    let late = 1 + 10_000 + 1;
    assert_eq!(
        g.delete_offsets("g", &parts(&[("t", 0)]), late)
            .await
            .unwrap(),
        vec![Ok(())]
    );
}

#[tokio::test]
async fn a_live_group_of_another_protocol_refuses_as_a_whole() {
    let (g, _log) = setup().await;
    g.classic_join_step("g", &join("connect", &["t"]), 0)
        .await
        .unwrap();
    let err = g
        .delete_offsets("g", &parts(&[("u", 0)]), 1)
        .await
        .unwrap_err();
    assert!(matches!(err, ClassicError::NotEmpty { .. }), "{err}");
}

#[tokio::test]
async fn a_stratus_member_protects_its_topics_too() {
    let (g, _log) = setup().await;
    let spec = JoinSpec {
        member_id: None,
        client_id: "sdk".into(),
        topics: vec!["t".into()],
        session_timeout_ms: 10_000,
        strategy: Strategy::Sticky,
        owned: Default::default(),
        await_missing_topics: false,
        topic_regex: None,
        instance_id: None,
    };
    g.join("g", &spec, 0).await.unwrap();
    let out = g
        .delete_offsets("g", &parts(&[("t", 1), ("u", 1)]), 1)
        .await
        .unwrap();
    assert!(matches!(
        out[0],
        Err(OffsetDeleteRefusal::SubscribedToTopic { .. })
    ));
    assert_eq!(out[1], Ok(()));
}
