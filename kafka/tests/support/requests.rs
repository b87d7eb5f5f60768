//! Requests of every advertised API worth answering, at any advertised
//! version: existing and missing topics, edge values. Used by the versions
//! test and to write the fuzz seed corpus.

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use stratus_kafka::{Acks, Broker, ProduceBatch};
use uuid::Uuid;

use super::{FakeBroker, fake, metadata, produce};

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.into())
}

/// Requests of `key` at `version` worth answering: existing and missing
/// topics, edge values.
pub fn requests(key: ApiKey, version: i16, orders: Uuid) -> Vec<RequestKind> {
    use RequestKind as K;
    match key {
        ApiKey::Produce => vec![produce(
            -1,
            &[("orders", 0, 2), ("orders", 1, 1), ("missing", 0, 1)],
        )],
        ApiKey::Fetch => {
            let partitions = vec![
                fetch_request::FetchPartition::default()
                    .with_partition(0)
                    .with_fetch_offset(0)
                    .with_partition_max_bytes(1 << 20),
                fetch_request::FetchPartition::default()
                    .with_partition(1)
                    .with_fetch_offset(7)
                    .with_partition_max_bytes(1 << 20),
            ];
            let topic = |name: &str, id: Uuid| {
                let t = fetch_request::FetchTopic::default().with_partitions(partitions.clone());
                if version >= 13 {
                    t.with_topic_id(id)
                } else {
                    t.with_topic(super::name(name))
                }
            };
            vec![K::Fetch(
                FetchRequest::default()
                    .with_max_wait_ms(0)
                    .with_max_bytes(1 << 20)
                    .with_topics(vec![
                        topic("orders", orders),
                        topic("missing", Uuid::from_u128(9)),
                    ]),
            )]
        }
        ApiKey::ListOffsets => {
            let mut stamps = vec![-1, -2, 1_000];
            if version >= 7 {
                stamps.push(-3);
            }
            if version >= 8 {
                stamps.push(-4);
            }
            stamps.push(-9);
            let partitions = stamps
                .into_iter()
                .map(|t| list_offsets_request::ListOffsetsPartition::default().with_timestamp(t))
                .collect::<Vec<_>>();
            let topics = ["orders", "missing"]
                .into_iter()
                .map(|n| {
                    list_offsets_request::ListOffsetsTopic::default()
                        .with_name(super::name(n))
                        .with_partitions(partitions.clone())
                })
                .collect();
            vec![K::ListOffsets(
                ListOffsetsRequest::default().with_topics(topics),
            )]
        }
        ApiKey::Metadata => {
            let mut all = vec![metadata(Some(&["orders", "missing"]))];
            all.push(if version == 0 {
                metadata(Some(&[]))
            } else {
                metadata(None)
            });
            if version >= 10 {
                let by_id = metadata_request::MetadataRequestTopic::default().with_topic_id(orders);
                let unknown = metadata_request::MetadataRequestTopic::default()
                    .with_topic_id(Uuid::from_u128(7));
                all.push(K::Metadata(
                    MetadataRequest::default().with_topics(Some(vec![by_id, unknown])),
                ));
            }
            all
        }
        ApiKey::ApiVersions => {
            let mut r = ApiVersionsRequest::default();
            if version >= 3 {
                r = r
                    .with_client_software_name(s("stratus-test"))
                    .with_client_software_version(s("1.0"));
            }
            vec![K::ApiVersions(r)]
        }
        ApiKey::CreateTopics => {
            let fresh = create_topics_request::CreatableTopic::default()
                .with_name(super::name("fresh"))
                .with_num_partitions(2)
                .with_replication_factor(-1)
                .with_configs(vec![
                    create_topics_request::CreatableTopicConfig::default()
                        .with_name(s("retention.ms"))
                        .with_value(Some(s("1000"))),
                ]);
            let exists = create_topics_request::CreatableTopic::default()
                .with_name(super::name("orders"))
                .with_num_partitions(-1)
                .with_replication_factor(3);
            let bad = create_topics_request::CreatableTopic::default()
                .with_name(super::name("zero"))
                .with_num_partitions(0)
                .with_replication_factor(-1);
            vec![K::CreateTopics(
                CreateTopicsRequest::default().with_topics(vec![fresh, exists, bad]),
            )]
        }
        ApiKey::DeleteTopics => {
            let r = if version >= 6 {
                DeleteTopicsRequest::default().with_topics(vec![
                    delete_topics_request::DeleteTopicState::default()
                        .with_name(Some(super::name("orders"))),
                    delete_topics_request::DeleteTopicState::default()
                        .with_topic_id(Uuid::from_u128(5)),
                ])
            } else {
                DeleteTopicsRequest::default()
                    .with_topic_names(vec![super::name("orders"), super::name("missing")])
            };
            vec![K::DeleteTopics(r)]
        }
        ApiKey::DeleteRecords => {
            let partitions = [(0, -1), (1, 0), (1, -5)]
                .into_iter()
                .map(|(p, o)| {
                    delete_records_request::DeleteRecordsPartition::default()
                        .with_partition_index(p)
                        .with_offset(o)
                })
                .collect();
            vec![K::DeleteRecords(
                DeleteRecordsRequest::default().with_topics(vec![
                    delete_records_request::DeleteRecordsTopic::default()
                        .with_name(super::name("orders"))
                        .with_partitions(partitions),
                ]),
            )]
        }
        ApiKey::InitProducerId => vec![
            K::InitProducerId(InitProducerIdRequest::default().with_transactional_id(None)),
            K::InitProducerId(
                InitProducerIdRequest::default().with_transactional_id(Some(s("txn-1").into())),
            ),
        ],
        ApiKey::OffsetForLeaderEpoch => {
            let partitions = [(0, 3), (1, 9), (5, 3)]
                .into_iter()
                .map(|(p, e)| {
                    offset_for_leader_epoch_request::OffsetForLeaderPartition::default()
                        .with_partition(p)
                        .with_leader_epoch(e)
                        .with_current_leader_epoch(3)
                })
                .collect::<Vec<_>>();
            let topics = ["orders", "missing"]
                .into_iter()
                .map(|n| {
                    offset_for_leader_epoch_request::OffsetForLeaderTopic::default()
                        .with_topic(super::name(n))
                        .with_partitions(partitions.clone())
                })
                .collect();
            let mut r = OffsetForLeaderEpochRequest::default().with_topics(topics);
            if version >= 3 {
                r.replica_id = BrokerId(-1);
            }
            vec![K::OffsetForLeaderEpoch(r)]
        }
        ApiKey::DescribeConfigs => {
            let resources = vec![
                describe_configs_request::DescribeConfigsResource::default()
                    .with_resource_type(2)
                    .with_resource_name(s("orders")),
                describe_configs_request::DescribeConfigsResource::default()
                    .with_resource_type(4)
                    .with_resource_name(s("1"))
                    .with_configuration_keys(Some(vec![s("log.retention.ms")])),
                describe_configs_request::DescribeConfigsResource::default()
                    .with_resource_type(8)
                    .with_resource_name(s("1")),
            ];
            let mut r = DescribeConfigsRequest::default().with_resources(resources);
            if version >= 3 {
                r.include_documentation = true;
            }
            vec![K::DescribeConfigs(r)]
        }
        ApiKey::CreatePartitions => {
            let topics = [("orders", 4), ("missing", 2), ("orders", 0)]
                .into_iter()
                .map(|(n, c)| {
                    create_partitions_request::CreatePartitionsTopic::default()
                        .with_name(super::name(n))
                        .with_count(c)
                })
                .collect();
            vec![K::CreatePartitions(
                CreatePartitionsRequest::default().with_topics(topics),
            )]
        }
        ApiKey::IncrementalAlterConfigs => {
            let set = incremental_alter_configs_request::AlterableConfig::default()
                .with_name(s("retention.ms"))
                .with_config_operation(0)
                .with_value(Some(s("1000")));
            let bad_op = incremental_alter_configs_request::AlterableConfig::default()
                .with_name(s("retention.ms"))
                .with_config_operation(9);
            let resources = vec![
                incremental_alter_configs_request::AlterConfigsResource::default()
                    .with_resource_type(2)
                    .with_resource_name(s("orders"))
                    .with_configs(vec![set.clone()]),
                incremental_alter_configs_request::AlterConfigsResource::default()
                    .with_resource_type(4)
                    .with_resource_name(s("1"))
                    .with_configs(vec![set]),
                incremental_alter_configs_request::AlterConfigsResource::default()
                    .with_resource_type(2)
                    .with_resource_name(s("orders"))
                    .with_configs(vec![bad_op]),
            ];
            vec![K::IncrementalAlterConfigs(
                IncrementalAlterConfigsRequest::default().with_resources(resources),
            )]
        }
        ApiKey::DescribeCluster => {
            let mut all = vec![K::DescribeCluster(DescribeClusterRequest::default())];
            if version >= 1 {
                all.push(K::DescribeCluster(
                    DescribeClusterRequest::default().with_endpoint_type(2),
                ));
            }
            all
        }
        ApiKey::FindCoordinator => {
            let r = if version >= 4 {
                FindCoordinatorRequest::default().with_coordinator_keys(vec![s("g"), s("")])
            } else {
                FindCoordinatorRequest::default().with_key(s("g"))
            };
            let mut all = vec![K::FindCoordinator(r)];
            if version >= 1 {
                let txn = FindCoordinatorRequest::default().with_key_type(1);
                all.push(K::FindCoordinator(if version >= 4 {
                    txn.with_coordinator_keys(vec![s("txn")])
                } else {
                    txn.with_key(s("txn"))
                }));
            }
            all
        }
        ApiKey::JoinGroup => {
            let protocol = join_group_request::JoinGroupRequestProtocol::default()
                .with_name(s("range"))
                .with_metadata(bytes::Bytes::from_static(b"\0\x01meta"));
            let r = JoinGroupRequest::default()
                .with_group_id(GroupId(s("g")))
                .with_session_timeout_ms(10_000)
                .with_rebalance_timeout_ms(if version >= 1 { 10_000 } else { -1 })
                .with_protocol_type(s("consumer"))
                .with_protocols(vec![protocol]);
            // Two groups: a second member of one group would wait for the
            // first to rejoin.
            vec![
                K::JoinGroup(r.clone()),
                K::JoinGroup(r.with_group_id(GroupId(s("h"))).with_member_id(s("m"))),
            ]
        }
        ApiKey::SyncGroup => {
            let assignment = sync_group_request::SyncGroupRequestAssignment::default()
                .with_member_id(s("m"))
                .with_assignment(bytes::Bytes::from_static(b"\0\x01"));
            let mut r = SyncGroupRequest::default()
                .with_group_id(GroupId(s("g")))
                .with_generation_id(1)
                .with_member_id(s("m"))
                .with_assignments(vec![assignment]);
            if version >= 5 {
                r = r
                    .with_protocol_type(Some(s("consumer")))
                    .with_protocol_name(Some(s("range")));
            }
            vec![K::SyncGroup(r)]
        }
        ApiKey::Heartbeat => vec![K::Heartbeat(
            HeartbeatRequest::default()
                .with_group_id(GroupId(s("g")))
                .with_generation_id(1)
                .with_member_id(s("m")),
        )],
        ApiKey::LeaveGroup => {
            let r = LeaveGroupRequest::default().with_group_id(GroupId(s("g")));
            vec![K::LeaveGroup(if version >= 3 {
                r.with_members(vec![
                    leave_group_request::MemberIdentity::default().with_member_id(s("m")),
                ])
            } else {
                r.with_member_id(s("m"))
            })]
        }
        ApiKey::OffsetCommit => {
            let partitions = [(0, 5), (7, 1), (-1, 1)]
                .into_iter()
                .map(|(p, o)| {
                    offset_commit_request::OffsetCommitRequestPartition::default()
                        .with_partition_index(p)
                        .with_committed_offset(o)
                        .with_committed_metadata(Some(s("meta")))
                })
                .collect::<Vec<_>>();
            let topics = ["orders", "missing"]
                .into_iter()
                .map(|n| {
                    offset_commit_request::OffsetCommitRequestTopic::default()
                        .with_name(super::name(n))
                        .with_partitions(partitions.clone())
                })
                .collect();
            vec![K::OffsetCommit(
                OffsetCommitRequest::default()
                    .with_group_id(GroupId(s("g")))
                    .with_generation_id_or_member_epoch(-1)
                    .with_topics(topics),
            )]
        }
        ApiKey::OffsetFetch => {
            if version >= 8 {
                let topics = offset_fetch_request::OffsetFetchRequestTopics::default()
                    .with_name(super::name("orders"))
                    .with_partition_indexes(vec![0, 1]);
                let groups = vec![
                    offset_fetch_request::OffsetFetchRequestGroup::default()
                        .with_group_id(GroupId(s("g")))
                        .with_topics(Some(vec![topics])),
                    offset_fetch_request::OffsetFetchRequestGroup::default()
                        .with_group_id(GroupId(s("h")))
                        .with_topics(None),
                ];
                vec![K::OffsetFetch(
                    OffsetFetchRequest::default().with_groups(groups),
                )]
            } else {
                let topics = offset_fetch_request::OffsetFetchRequestTopic::default()
                    .with_name(super::name("orders"))
                    .with_partition_indexes(vec![0, 1]);
                let mut all = vec![K::OffsetFetch(
                    OffsetFetchRequest::default()
                        .with_group_id(GroupId(s("g")))
                        .with_topics(Some(vec![topics])),
                )];
                if version >= 2 {
                    all.push(K::OffsetFetch(
                        OffsetFetchRequest::default()
                            .with_group_id(GroupId(s("g")))
                            .with_topics(None),
                    ));
                }
                all
            }
        }
        ApiKey::DescribeGroups => vec![K::DescribeGroups(
            DescribeGroupsRequest::default().with_groups(vec![
                GroupId(s("g")),
                GroupId(s("h")),
                GroupId(s("")),
            ]),
        )],
        ApiKey::ListGroups => {
            let mut r = ListGroupsRequest::default();
            if version >= 4 {
                r = r.with_states_filter(vec![s("Stable")]);
            }
            vec![K::ListGroups(r)]
        }
        ApiKey::DeleteGroups => vec![K::DeleteGroups(
            DeleteGroupsRequest::default().with_groups_names(vec![GroupId(s("g"))]),
        )],
        ApiKey::OffsetDelete => vec![K::OffsetDelete(
            OffsetDeleteRequest::default()
                .with_group_id(GroupId(s("g")))
                .with_topics(vec![
                    offset_delete_request::OffsetDeleteRequestTopic::default()
                        .with_name(TopicName(s("orders")))
                        .with_partitions(vec![
                            offset_delete_request::OffsetDeleteRequestPartition::default()
                                .with_partition_index(0),
                        ]),
                ]),
        )],
        ApiKey::ConsumerGroupHeartbeat => vec![K::ConsumerGroupHeartbeat(
            ConsumerGroupHeartbeatRequest::default()
                .with_group_id(GroupId(s("g")))
                .with_member_epoch(0)
                .with_rebalance_timeout_ms(30_000)
                .with_subscribed_topic_names(Some(vec![TopicName(s("orders"))])),
        )],
        ApiKey::ConsumerGroupDescribe => vec![K::ConsumerGroupDescribe(
            ConsumerGroupDescribeRequest::default().with_group_ids(vec![GroupId(s("g"))]),
        )],
        ApiKey::SaslHandshake => vec![K::SaslHandshake(
            SaslHandshakeRequest::default().with_mechanism(s("SCRAM-SHA-512")),
        )],
        ApiKey::SaslAuthenticate => vec![K::SaslAuthenticate(
            SaslAuthenticateRequest::default().with_auth_bytes(bytes::Bytes::from_static(
                b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
            )),
        )],
        ApiKey::DescribeUserScramCredentials => vec![
            K::DescribeUserScramCredentials(DescribeUserScramCredentialsRequest::default()),
            K::DescribeUserScramCredentials(
                DescribeUserScramCredentialsRequest::default().with_users(Some(vec![
                    describe_user_scram_credentials_request::UserName::default()
                        .with_name(s("alice")),
                ])),
            ),
        ],
        ApiKey::AlterUserScramCredentials => vec![K::AlterUserScramCredentials(
            AlterUserScramCredentialsRequest::default()
                .with_upsertions(vec![
                    alter_user_scram_credentials_request::ScramCredentialUpsertion::default()
                        .with_name(s("alice"))
                        .with_mechanism(2)
                        .with_iterations(4096)
                        .with_salt(bytes::Bytes::from_static(b"salt"))
                        .with_salted_password(bytes::Bytes::from(vec![7u8; 64])),
                ])
                .with_deletions(vec![
                    alter_user_scram_credentials_request::ScramCredentialDeletion::default()
                        .with_name(s("bob"))
                        .with_mechanism(1),
                ]),
        )],
        other => panic!("{other:?} is advertised but this test has no request for it; add one"),
    }
}

pub async fn seeded() -> Arc<FakeBroker> {
    let broker = Arc::new(FakeBroker::with_topics(&[("orders", 2)]));
    for partition in [0, 1] {
        let batch = ProduceBatch {
            topic: "orders".into(),
            partition,
            records: fake::batch(3),
            acks: Acks::All,
            timeout: Duration::from_secs(1),
        };
        broker.produce(batch).await.unwrap().await.unwrap();
    }
    broker
}
