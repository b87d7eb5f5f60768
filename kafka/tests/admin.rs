//! Admin APIs through a session: CreateTopics, DeleteTopics,
//! CreatePartitions, DescribeConfigs, IncrementalAlterConfigs,
//! DescribeCluster and OffsetForLeaderEpoch.

mod support;

use std::sync::Arc;

use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use support::*;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.into())
}

fn creatable(name: &str, partitions: i32, rf: i16) -> create_topics_request::CreatableTopic {
    create_topics_request::CreatableTopic::default()
        .with_name(support::name(name))
        .with_num_partitions(partitions)
        .with_replication_factor(rf)
}

#[tokio::test]
async fn create_topics_reports_each_topic() {
    let broker = Arc::new(FakeBroker::with_topics(&[("orders", 1)]));
    let mut session = session(&broker);
    let assigned = creatable("assigned", -1, -1).with_assignments(vec![
        create_topics_request::CreatableReplicaAssignment::default().with_partition_index(0),
        create_topics_request::CreatableReplicaAssignment::default().with_partition_index(1),
    ]);
    let request = CreateTopicsRequest::default().with_topics(vec![
        creatable("fresh", -1, 3),
        creatable("orders", 2, -1),
        creatable("twice", 1, -1),
        creatable("twice", 1, -1),
        creatable("zero", 0, -1),
        creatable("norf", 1, 0),
        assigned,
    ]);
    let ResponseKind::CreateTopics(r) = ask(
        &mut session,
        ApiKey::CreateTopics,
        7,
        RequestKind::CreateTopics(request),
    )
    .await
    else {
        unreachable!()
    };
    let results: Vec<_> = r
        .topics
        .iter()
        .map(|t| (t.name.to_string(), t.error_code, t.num_partitions))
        .collect();
    assert_eq!(
        results,
        [
            ("fresh".into(), 0, 3),
            ("orders".into(), 36, -1),
            ("twice".into(), 42, -1),
            ("twice".into(), 42, -1),
            ("zero".into(), 37, -1),
            ("norf".into(), 38, -1),
            ("assigned".into(), 0, 2),
        ]
    );
    assert_eq!(r.topics[0].topic_id, broker.topic_id("fresh").unwrap());
    assert_eq!(r.topics[0].replication_factor, 1);
    assert!(
        r.topics[1]
            .error_message
            .as_deref()
            .unwrap()
            .contains("already exists")
    );
    assert!(!broker.has_topic("twice"));
}

#[tokio::test]
async fn delete_topics_by_name_and_id() {
    let broker = Arc::new(FakeBroker::with_topics(&[("a", 1), ("b", 1)]));
    let b = broker.topic_id("b").unwrap();
    let mut session = session(&broker);
    let request = DeleteTopicsRequest::default().with_topics(vec![
        delete_topics_request::DeleteTopicState::default().with_name(Some(support::name("a"))),
        delete_topics_request::DeleteTopicState::default().with_topic_id(b),
        delete_topics_request::DeleteTopicState::default().with_name(Some(support::name("gone"))),
    ]);
    let ResponseKind::DeleteTopics(r) = ask(
        &mut session,
        ApiKey::DeleteTopics,
        6,
        RequestKind::DeleteTopics(request),
    )
    .await
    else {
        unreachable!()
    };
    let results: Vec<_> = r
        .responses
        .iter()
        .map(|t| (t.name.as_ref().map(|n| n.to_string()), t.error_code))
        .collect();
    assert_eq!(
        results,
        [
            (Some("a".into()), 0),
            (Some("b".into()), 0),
            (Some("gone".into()), 3)
        ]
    );
    assert_eq!(r.responses[1].topic_id, b);
    assert!(!broker.has_topic("a") && !broker.has_topic("b"));
}

#[tokio::test]
async fn create_partitions_grows_topics() {
    let broker = Arc::new(FakeBroker::with_topics(&[("orders", 2)]));
    let mut session = session(&broker);
    let grow = |n: &str, count: i32| {
        create_partitions_request::CreatePartitionsTopic::default()
            .with_name(support::name(n))
            .with_count(count)
    };
    let request =
        CreatePartitionsRequest::default().with_topics(vec![grow("orders", 5), grow("orders", 1)]);
    let ResponseKind::CreatePartitions(r) = ask(
        &mut session,
        ApiKey::CreatePartitions,
        3,
        RequestKind::CreatePartitions(request),
    )
    .await
    else {
        unreachable!()
    };
    let codes: Vec<_> = r.results.iter().map(|t| t.error_code).collect();
    assert_eq!(codes, [0, 37]);
    let m = ask(
        &mut session,
        ApiKey::Metadata,
        12,
        metadata(Some(&["orders"])),
    )
    .await;
    let ResponseKind::Metadata(m) = m else {
        unreachable!()
    };
    assert_eq!(m.topics[0].partitions.len(), 5);
}

#[tokio::test]
async fn configs_round_trip() {
    let broker = Arc::new(FakeBroker::with_topics(&[("orders", 1)]));
    let mut session = session(&broker);
    let set = incremental_alter_configs_request::AlterableConfig::default()
        .with_name(s("retention.ms"))
        .with_config_operation(0)
        .with_value(Some(s("60000")));
    let missing_value = incremental_alter_configs_request::AlterableConfig::default()
        .with_name(s("retention.ms"))
        .with_config_operation(0)
        .with_value(None);
    let alter = IncrementalAlterConfigsRequest::default().with_resources(vec![
        incremental_alter_configs_request::AlterConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(s("orders"))
            .with_configs(vec![set]),
        incremental_alter_configs_request::AlterConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(s("orders"))
            .with_configs(vec![missing_value]),
        incremental_alter_configs_request::AlterConfigsResource::default()
            .with_resource_type(16)
            .with_resource_name(s("x")),
    ]);
    let ResponseKind::IncrementalAlterConfigs(r) = ask(
        &mut session,
        ApiKey::IncrementalAlterConfigs,
        1,
        RequestKind::IncrementalAlterConfigs(alter),
    )
    .await
    else {
        unreachable!()
    };
    let codes: Vec<_> = r.responses.iter().map(|t| t.error_code).collect();
    assert_eq!(codes, [0, 40, 42]);
    let describe = DescribeConfigsRequest::default()
        .with_include_documentation(true)
        .with_resources(vec![
            describe_configs_request::DescribeConfigsResource::default()
                .with_resource_type(2)
                .with_resource_name(s("orders")),
        ]);
    let ResponseKind::DescribeConfigs(r) = ask(
        &mut session,
        ApiKey::DescribeConfigs,
        4,
        RequestKind::DescribeConfigs(describe),
    )
    .await
    else {
        unreachable!()
    };
    let config = &r.results[0].configs[0];
    assert_eq!(
        (&*config.name, config.value.as_deref()),
        ("retention.ms", Some(&*s("60000")))
    );
    assert_eq!((config.config_source, config.config_type), (1, 5));
    assert!(config.documentation.is_some());
}

#[tokio::test]
async fn describe_cluster_lists_gateways() {
    let broker = Arc::new(FakeBroker::default());
    let mut session = session(&broker);
    let ResponseKind::DescribeCluster(r) = ask(
        &mut session,
        ApiKey::DescribeCluster,
        1,
        RequestKind::DescribeCluster(DescribeClusterRequest::default()),
    )
    .await
    else {
        unreachable!()
    };
    assert_eq!(
        (r.error_code, &*r.cluster_id, r.controller_id.0),
        (0, "stratus-test", 1)
    );
    assert_eq!(r.brokers.len(), 2);
    let ResponseKind::DescribeCluster(r) = ask(
        &mut session,
        ApiKey::DescribeCluster,
        1,
        RequestKind::DescribeCluster(DescribeClusterRequest::default().with_endpoint_type(2)),
    )
    .await
    else {
        unreachable!()
    };
    assert_eq!(r.error_code, 115, "UNSUPPORTED_ENDPOINT_TYPE");
}

#[tokio::test]
async fn offset_for_leader_epoch_never_reports_truncation() {
    let broker = Arc::new(FakeBroker::with_topics(&[("orders", 1)]));
    let mut session = session(&broker);
    ask(
        &mut session,
        ApiKey::Produce,
        9,
        produce(-1, &[("orders", 0, 7)]),
    )
    .await;
    let ask_epoch = |epoch: i32, partition: i32| {
        RequestKind::OffsetForLeaderEpoch(OffsetForLeaderEpochRequest::default().with_topics(vec![
            offset_for_leader_epoch_request::OffsetForLeaderTopic::default()
                .with_topic(support::name("orders"))
                .with_partitions(vec![
                    offset_for_leader_epoch_request::OffsetForLeaderPartition::default()
                        .with_partition(partition)
                        .with_leader_epoch(epoch),
                ]),
        ]))
    };
    let answer = |r: ResponseKind| {
        let ResponseKind::OffsetForLeaderEpoch(r) = r else {
            unreachable!()
        };
        let p = &r.topics[0].partitions[0];
        (p.error_code, p.leader_epoch, p.end_offset)
    };
    // Any epoch reached so far ends at the log end.
    assert_eq!(
        answer(
            ask(
                &mut session,
                ApiKey::OffsetForLeaderEpoch,
                4,
                ask_epoch(3, 0)
            )
            .await
        ),
        (0, 3, 7)
    );
    assert_eq!(
        answer(
            ask(
                &mut session,
                ApiKey::OffsetForLeaderEpoch,
                4,
                ask_epoch(1, 0)
            )
            .await
        ),
        (0, 1, 7)
    );
    // A future epoch is unknown; a missing partition is an error.
    assert_eq!(
        answer(
            ask(
                &mut session,
                ApiKey::OffsetForLeaderEpoch,
                2,
                ask_epoch(4, 0)
            )
            .await
        ),
        (0, -1, -1)
    );
    assert_eq!(
        answer(
            ask(
                &mut session,
                ApiKey::OffsetForLeaderEpoch,
                3,
                ask_epoch(3, 9)
            )
            .await
        )
        .0,
        3
    );
}
