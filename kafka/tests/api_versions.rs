//! ApiVersions at every version, and the v0 fallback for versions newer than
//! any we know (what kafka-python and the Java client send first).

mod support;

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use stratus_kafka::Reply;
use stratus_kafka::versions::ADVERTISED;
use support::*;

fn table(response: &ApiVersionsResponse) -> Vec<(i16, i16, i16)> {
    response
        .api_keys
        .iter()
        .map(|a| (a.api_key, a.min_version, a.max_version))
        .collect()
}

fn advertised() -> Vec<(i16, i16, i16)> {
    ADVERTISED
        .iter()
        .map(|a| (a.key as i16, a.min, a.max))
        .collect()
}

#[tokio::test]
async fn every_version_lists_the_advertised_table() {
    let broker = Arc::new(FakeBroker::default());
    for version in 0..=4 {
        let mut request = ApiVersionsRequest::default();
        if version >= 3 {
            request.client_software_name = StrBytes::from_static_str("kafka-python");
            request.client_software_version = StrBytes::from_static_str("2.2.0");
        }
        let response = ask(
            &mut session(&broker),
            ApiKey::ApiVersions,
            version,
            RequestKind::ApiVersions(request),
        )
        .await;
        let ResponseKind::ApiVersions(response) = response else {
            unreachable!()
        };
        assert_eq!(response.error_code, 0, "v{version}");
        assert_eq!(table(&response), advertised(), "v{version}");
    }
}

/// A raw ApiVersions request at `version`, with a body we cannot know (a
/// future version's): header v2, then garbage.
fn future_api_versions(version: i16, correlation_id: i32) -> Bytes {
    let mut out = BytesMut::new();
    out.put_i32(0);
    out.put_i16(ApiKey::ApiVersions as i16);
    out.put_i16(version);
    out.put_i32(correlation_id);
    out.put_i16(4);
    out.put_slice(b"java");
    out.put_u8(0); // no tagged fields
    out.put_slice(&[0xde, 0xad, 0xbe, 0xef]);
    let len = (out.len() - 4) as i32;
    out[..4].copy_from_slice(&len.to_be_bytes());
    out.freeze()
}

#[tokio::test]
async fn newer_versions_get_the_v0_fallback() {
    let broker = Arc::new(FakeBroker::default());
    for version in [5, 9, i16::MAX] {
        let frame = future_api_versions(version, 77);
        let Reply::Frame(reply) = call(&mut session(&broker), &frame).await else {
            panic!("v{version}: no answer");
        };
        // Answered as v0 under header v0, whatever version was asked.
        let (correlation_id, response) = parse_response(ApiKey::ApiVersions, 0, &reply);
        assert_eq!(correlation_id, 77);
        let ResponseKind::ApiVersions(response) = response else {
            unreachable!()
        };
        assert_eq!(response.error_code, 35, "UNSUPPORTED_VERSION");
        assert_eq!(table(&response), advertised());
        // The client retries at the highest ApiVersions version listed.
        let retry = response
            .api_keys
            .iter()
            .find(|a| a.api_key == ApiKey::ApiVersions as i16)
            .unwrap();
        assert_eq!(retry.max_version, 4);
    }
}

#[tokio::test]
async fn fallback_and_retry_on_one_connection() {
    let broker = Arc::new(FakeBroker::default());
    let (mut client, _served) = connect(&broker, limits());
    send(&mut client, &future_api_versions(7, 1)).await;
    let first = read_frame(&mut client).await.expect("fallback answer");
    let (_, ResponseKind::ApiVersions(first)) = parse_response(ApiKey::ApiVersions, 0, &first)
    else {
        unreachable!()
    };
    assert_eq!(first.error_code, 35);
    let retry = request_frame(
        ApiKey::ApiVersions,
        3,
        2,
        &RequestKind::ApiVersions(ApiVersionsRequest::default()),
    );
    send(&mut client, &retry).await;
    let second = read_frame(&mut client).await.expect("v3 answer");
    let (correlation_id, ResponseKind::ApiVersions(second)) =
        parse_response(ApiKey::ApiVersions, 3, &second)
    else {
        unreachable!()
    };
    assert_eq!(correlation_id, 2);
    assert_eq!(second.error_code, 0);
    assert_eq!(second.finalized_features_epoch, -1);
}
