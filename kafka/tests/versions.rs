//! Every advertised (API, version) has a handler: a request of it, encoded by
//! kafka-protocol's client side, goes through a session and comes back as a
//! response that decodes at that version with nothing left over. The
//! requests name existing and missing topics, so both success and error
//! shapes are encoded at every version.

mod support;

use kafka_protocol::messages::*;
use stratus_kafka::Reply;
use stratus_kafka::versions::ADVERTISED;
use support::requests::{requests, seeded};
use support::*;

#[tokio::test]
async fn every_advertised_version_is_handled_and_answers_in_its_version() {
    let mut answered = 0;
    for api in ADVERTISED {
        for version in api.min..=api.max {
            let broker = seeded().await;
            let orders = broker.topic_id("orders").unwrap();
            for request in requests(api.key, version, orders) {
                let frame = request_frame(api.key, version, 1000 + i32::from(version), &request);
                let mut session = session(&broker);
                match call(&mut session, &frame).await {
                    // A SASL failure is answered, then the connection closes.
                    Reply::Frame(response) | Reply::FrameThenClose(response, _) => {
                        let (correlation_id, kind) = parse_response(api.key, version, &response);
                        assert_eq!(correlation_id, 1000 + i32::from(version));
                        assert_eq!(
                            std::mem::discriminant(&kind),
                            std::mem::discriminant(&expected_kind(api.key)),
                            "{:?} v{version} answered with another API",
                            api.key
                        );
                        answered += 1;
                    }
                    other => panic!("{:?} v{version}: {other:?}", api.key),
                }
            }
        }
    }
    assert!(answered > 80, "{answered}");
}

fn expected_kind(key: ApiKey) -> ResponseKind {
    use ResponseKind as R;
    match key {
        ApiKey::Produce => R::Produce(Default::default()),
        ApiKey::Fetch => R::Fetch(Default::default()),
        ApiKey::ListOffsets => R::ListOffsets(Default::default()),
        ApiKey::Metadata => R::Metadata(Default::default()),
        ApiKey::ApiVersions => R::ApiVersions(Default::default()),
        ApiKey::CreateTopics => R::CreateTopics(Default::default()),
        ApiKey::DeleteTopics => R::DeleteTopics(Default::default()),
        ApiKey::DeleteRecords => R::DeleteRecords(Default::default()),
        ApiKey::InitProducerId => R::InitProducerId(Default::default()),
        ApiKey::OffsetForLeaderEpoch => R::OffsetForLeaderEpoch(Default::default()),
        ApiKey::DescribeConfigs => R::DescribeConfigs(Default::default()),
        ApiKey::CreatePartitions => R::CreatePartitions(Default::default()),
        ApiKey::IncrementalAlterConfigs => R::IncrementalAlterConfigs(Default::default()),
        ApiKey::DescribeCluster => R::DescribeCluster(Default::default()),
        ApiKey::FindCoordinator => R::FindCoordinator(Default::default()),
        ApiKey::JoinGroup => R::JoinGroup(Default::default()),
        ApiKey::SyncGroup => R::SyncGroup(Default::default()),
        ApiKey::Heartbeat => R::Heartbeat(Default::default()),
        ApiKey::LeaveGroup => R::LeaveGroup(Default::default()),
        ApiKey::OffsetCommit => R::OffsetCommit(Default::default()),
        ApiKey::OffsetFetch => R::OffsetFetch(Default::default()),
        ApiKey::DescribeGroups => R::DescribeGroups(Default::default()),
        ApiKey::ListGroups => R::ListGroups(Default::default()),
        ApiKey::DeleteGroups => R::DeleteGroups(Default::default()),
        ApiKey::OffsetDelete => R::OffsetDelete(Default::default()),
        ApiKey::ConsumerGroupHeartbeat => R::ConsumerGroupHeartbeat(Default::default()),
        ApiKey::ConsumerGroupDescribe => R::ConsumerGroupDescribe(Default::default()),
        ApiKey::SaslHandshake => R::SaslHandshake(Default::default()),
        ApiKey::SaslAuthenticate => R::SaslAuthenticate(Default::default()),
        ApiKey::DescribeUserScramCredentials => R::DescribeUserScramCredentials(Default::default()),
        ApiKey::AlterUserScramCredentials => R::AlterUserScramCredentials(Default::default()),
        other => panic!("no response kind for {other:?}"),
    }
}

#[tokio::test]
async fn versions_outside_the_table_close_the_connection() {
    let broker = seeded().await;
    for (key, version) in [
        (ApiKey::Produce, 12),
        (ApiKey::Fetch, 14),
        (ApiKey::Metadata, 13),
    ] {
        let request = match key {
            ApiKey::Produce => produce(1, &[("orders", 0, 1)]),
            ApiKey::Fetch => RequestKind::Fetch(FetchRequest::default()),
            _ => metadata(None),
        };
        let frame = request_frame(key, version, 1, &request);
        let err = session(&broker).handle_frame(body(&frame)).unwrap_err();
        assert!(err.to_string().contains("ApiVersions"), "{err}");
    }
}
