//! Metadata: gateways as brokers, topics by name and id, missing topics,
//! v0's "empty means all", and auto-creation on and off.

mod support;

use std::sync::Arc;

use kafka_protocol::messages::*;
use stratus_kafka::{Session, SessionOptions};
use support::*;
use uuid::Uuid;

fn topics(response: &MetadataResponse) -> Vec<(String, i16, usize)> {
    response
        .topics
        .iter()
        .map(|t| {
            (
                t.name.as_ref().map(|n| n.to_string()).unwrap_or_default(),
                t.error_code,
                t.partitions.len(),
            )
        })
        .collect()
}

async fn metadata_at(
    session: &mut Session<FakeBroker>,
    version: i16,
    request: RequestKind,
) -> MetadataResponse {
    match ask(session, ApiKey::Metadata, version, request).await {
        ResponseKind::Metadata(m) => m,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn lists_gateways_and_named_topics() {
    let broker = Arc::new(FakeBroker::with_topics(&[("orders", 3), ("audit", 1)]));
    let orders = broker.topic_id("orders").unwrap();
    let m = metadata_at(
        &mut session(&broker),
        12,
        metadata(Some(&["orders", "missing"])),
    )
    .await;
    assert_eq!(m.cluster_id.as_deref(), Some("stratus-test"));
    assert_eq!(m.controller_id, BrokerId(1));
    let brokers: Vec<_> = m
        .brokers
        .iter()
        .map(|b| (b.node_id.0, b.host.to_string(), b.port))
        .collect();
    assert_eq!(
        brokers,
        [(1, "gw-1.test".into(), 9092), (2, "gw-2.test".into(), 9093)]
    );
    assert_eq!(m.brokers[0].rack.as_deref(), Some("zone-a"));
    assert_eq!(
        topics(&m),
        [("orders".into(), 0, 3), ("missing".into(), 3, 0)]
    );
    let t = &m.topics[0];
    assert_eq!(t.topic_id, orders);
    let p = &t.partitions[1];
    assert_eq!(
        (p.partition_index, p.leader_id.0, p.leader_epoch),
        (1, 2, 3)
    );
    assert_eq!(p.replica_nodes, [BrokerId(2)]);
    assert_eq!(p.isr_nodes, [BrokerId(2)]);
}

#[tokio::test]
async fn null_lists_all_topics_and_v0_empty_does_too() {
    let broker = Arc::new(FakeBroker::with_topics(&[("orders", 3), ("audit", 1)]));
    let all = metadata_at(&mut session(&broker), 1, metadata(None)).await;
    assert_eq!(
        topics(&all),
        [("audit".into(), 0, 1), ("orders".into(), 0, 3)]
    );
    let v0 = metadata_at(&mut session(&broker), 0, metadata(Some(&[]))).await;
    assert_eq!(topics(&v0), topics(&all));
    // From v1 an empty list means no topics.
    let none = metadata_at(&mut session(&broker), 1, metadata(Some(&[]))).await;
    assert!(none.topics.is_empty());
}

#[tokio::test]
async fn topics_by_id_from_v10() {
    let broker = Arc::new(FakeBroker::with_topics(&[("orders", 2)]));
    let orders = broker.topic_id("orders").unwrap();
    let unknown = Uuid::from_u128(0xabc);
    let request = RequestKind::Metadata(MetadataRequest::default().with_topics(Some(vec![
        metadata_request::MetadataRequestTopic::default().with_topic_id(orders).with_name(None),
        metadata_request::MetadataRequestTopic::default().with_topic_id(unknown),
    ])));
    let m = metadata_at(&mut session(&broker), 12, request).await;
    assert_eq!(
        m.topics[0].name.as_ref().map(|n| n.as_str()),
        Some("orders")
    );
    assert_eq!(m.topics[0].topic_id, orders);
    assert_eq!(m.topics[1].error_code, 100, "UNKNOWN_TOPIC_ID");
    assert_eq!(m.topics[1].topic_id, unknown);
}

#[tokio::test]
async fn auto_creation_only_when_configured_and_allowed() {
    let broker = Arc::new(FakeBroker::default());
    let off = metadata_at(&mut session(&broker), 9, metadata(Some(&["new-topic"]))).await;
    assert_eq!(topics(&off), [("new-topic".into(), 3, 0)]);
    assert!(!broker.has_topic("new-topic"));

    let options = SessionOptions {
        auto_create_topics: true,
        default_partitions: 4,
        client_zone: None,
    };
    let mut on = Session::new(Arc::clone(&broker), options);
    // The client may forbid it (allow_auto_topic_creation = false, v4+).
    let forbid = RequestKind::Metadata(match metadata(Some(&["new-topic"])) {
        RequestKind::Metadata(m) => m.with_allow_auto_topic_creation(false),
        _ => unreachable!(),
    });
    let forbidden = metadata_at(&mut on, 9, forbid).await;
    assert_eq!(topics(&forbidden), [("new-topic".into(), 3, 0)]);
    let created = metadata_at(&mut on, 9, metadata(Some(&["new-topic", "bad name"]))).await;
    assert_eq!(
        topics(&created),
        [("new-topic".into(), 0, 4), ("bad name".into(), 17, 0)]
    );
    assert!(broker.has_topic("new-topic"));
}
