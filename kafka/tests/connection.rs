//! The connection loop over an in-memory pipe: pipelining with answers in
//! request order, in-flight bounds, idle and stall timeouts, and bad input
//! (oversized, negative, truncated, garbage, unknown api key) closing only
//! the connection it arrived on.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_protocol::messages::*;
use stratus_kafka::{ConnectionEnd, ConnectionLimits, FrameError};
use support::fake::SLOW_APPEND;
use support::*;
use tokio::io::AsyncWriteExt;
use tokio::time::timeout;

const SOON: Duration = Duration::from_secs(2);

fn correlation(key: ApiKey, version: i16, frame: &bytes::Bytes) -> i32 {
    parse_response(key, version, frame).0
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_request_order() {
    let broker = Arc::new(FakeBroker::with_topics(&[
        ("slow-orders", 1),
        ("orders", 1),
    ]));
    let (mut client, _served) = connect(&broker, limits());
    let sent = [
        (ApiKey::Produce, 9, 1, produce(-1, &[("slow-orders", 0, 1)])),
        (ApiKey::Metadata, 12, 2, metadata(None)),
        (ApiKey::Produce, 9, 3, produce(1, &[("orders", 0, 1)])),
        (ApiKey::Produce, 9, 4, produce(-1, &[("slow-orders", 0, 2)])),
        (
            ApiKey::ApiVersions,
            3,
            5,
            RequestKind::ApiVersions(ApiVersionsRequest::default()),
        ),
    ];
    let started = Instant::now();
    for (key, version, id, request) in &sent {
        send(&mut client, &request_frame(*key, *version, *id, request)).await;
    }
    for (key, version, id, _) in &sent {
        let frame = timeout(SOON, read_frame(&mut client))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(correlation(*key, *version, &frame), *id);
    }
    // The two slow produces waited for durability at the same time.
    let took = started.elapsed();
    assert!(took >= SLOW_APPEND && took < SLOW_APPEND * 2, "{took:?}");
    // Produces reached the broker in arrival order.
    let calls: Vec<_> = broker
        .produce_calls()
        .into_iter()
        .map(|(t, _, _)| t)
        .collect();
    assert_eq!(calls, ["slow-orders", "orders", "slow-orders"]);
    assert_eq!(broker.next_offset("slow-orders", 0), 3);
}

#[tokio::test]
async fn in_flight_requests_are_bounded() {
    let broker = Arc::new(FakeBroker::with_topics(&[("slow-orders", 1)]));
    let limits = ConnectionLimits {
        max_in_flight_requests: 1,
        ..limits()
    };
    let (mut client, _served) = connect(&broker, limits);
    for id in [1, 2] {
        send(
            &mut client,
            &request_frame(
                ApiKey::Produce,
                9,
                id,
                &produce(-1, &[("slow-orders", 0, 1)]),
            ),
        )
        .await;
    }
    tokio::time::sleep(SLOW_APPEND / 2).await;
    assert_eq!(
        broker.produce_calls().len(),
        1,
        "the second request is not read yet"
    );
    for id in [1, 2] {
        let frame = timeout(SOON, read_frame(&mut client))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(correlation(ApiKey::Produce, 9, &frame), id);
    }
    assert_eq!(broker.produce_calls().len(), 2);
}

#[tokio::test]
async fn in_flight_bytes_are_bounded() {
    let broker = Arc::new(FakeBroker::with_topics(&[("slow-orders", 1)]));
    let frame = request_frame(
        ApiKey::Produce,
        9,
        1,
        &produce(-1, &[("slow-orders", 0, 1)]),
    );
    // Room for one request's bytes, not two.
    let limits = ConnectionLimits {
        max_frame_bytes: frame.len() as u32,
        max_in_flight_bytes: frame.len() as u32 + 10,
        ..limits()
    };
    let (mut client, _served) = connect(&broker, limits);
    send(&mut client, &frame).await;
    send(&mut client, &frame).await;
    tokio::time::sleep(SLOW_APPEND / 2).await;
    assert_eq!(broker.produce_calls().len(), 1);
    for _ in 0..2 {
        timeout(SOON, read_frame(&mut client))
            .await
            .unwrap()
            .unwrap();
    }
    assert_eq!(broker.produce_calls().len(), 2);
}

#[tokio::test]
async fn oversized_and_negative_sizes_are_refused_before_the_body() {
    let broker = Arc::new(FakeBroker::default());
    for len in [i32::MAX, 1024 * 1024 + 1, -1, i32::MIN] {
        let (mut client, served) = connect(&broker, limits());
        // Only the prefix: the body never comes, so an answer proves the
        // listener decided without reading (or allocating) it.
        client.write_all(&len.to_be_bytes()).await.unwrap();
        let end = timeout(SOON, served)
            .await
            .expect("refused at once")
            .unwrap();
        assert_eq!(
            end,
            ConnectionEnd::FrameTooLarge {
                len,
                max: 1024 * 1024
            }
        );
        assert!(read_frame(&mut client).await.is_none());
    }
}

#[tokio::test]
async fn bad_frames_close_only_their_connection() {
    let broker = Arc::new(FakeBroker::with_topics(&[("orders", 1)]));
    let (mut healthy, _healthy_served) = connect(&broker, limits());
    let metadata_v1 = request_frame(ApiKey::Metadata, 1, 9, &metadata(Some(&["orders"])));
    let truncated_body = {
        // A valid Metadata v1 header, then a topic count of 5 and nothing.
        let mut f = metadata_v1[..metadata_v1.len() - 10].to_vec();
        let len = (f.len() - 4) as i32;
        f[..4].copy_from_slice(&len.to_be_bytes());
        f
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", [&8i32.to_be_bytes()[..], &[0xff; 8]].concat()),
        (
            "unknown api key",
            [&8i32.to_be_bytes()[..], &[0x13, 0x37, 0, 0, 0, 0, 0, 1]].concat(),
        ),
        ("too short", [&3i32.to_be_bytes()[..], &[0, 3, 0]].concat()),
        ("empty", 0i32.to_be_bytes().to_vec()),
        ("truncated body", truncated_body),
        (
            "unadvertised version",
            request_frame(ApiKey::Produce, 12, 1, &produce(1, &[])).to_vec(),
        ),
    ];
    for (what, bytes) in cases {
        let (mut client, served) = connect(&broker, limits());
        client.write_all(&bytes).await.unwrap();
        let end = timeout(SOON, served).await.unwrap().unwrap();
        assert!(
            matches!(end, ConnectionEnd::Malformed(_)),
            "{what}: {end:?}"
        );
        assert!(read_frame(&mut client).await.is_none(), "{what}: answered");
        // The other connection still works.
        send(&mut healthy, &metadata_v1).await;
        let frame = timeout(SOON, read_frame(&mut healthy))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(correlation(ApiKey::Metadata, 1, &frame), 9, "{what}");
    }
}

#[tokio::test]
async fn unknown_api_key_is_named() {
    let broker = Arc::new(FakeBroker::default());
    let (mut client, served) = connect(&broker, limits());
    client
        .write_all(&[0, 0, 0, 8, 0x7f, 0x00, 0, 0, 0, 0, 0, 5])
        .await
        .unwrap();
    assert_eq!(
        timeout(SOON, served).await.unwrap().unwrap(),
        ConnectionEnd::Malformed(FrameError::UnknownApiKey {
            key: 0x7f00,
            correlation_id: 5
        })
    );
}

#[tokio::test]
async fn a_frame_cut_short_by_the_client_ends_the_connection() {
    let broker = Arc::new(FakeBroker::default());
    let (mut client, served) = connect(&broker, limits());
    client.write_all(&100i32.to_be_bytes()).await.unwrap();
    client.write_all(&[0; 10]).await.unwrap();
    drop(client);
    let end = timeout(SOON, served).await.unwrap().unwrap();
    assert!(
        matches!(&end, ConnectionEnd::Io(e) if e.contains("100-byte")),
        "{end:?}"
    );
}

#[tokio::test]
async fn idle_connections_close_but_not_while_a_request_is_in_flight() {
    let broker = Arc::new(FakeBroker::with_topics(&[("slow-orders", 1)]));
    let limits = ConnectionLimits {
        idle_timeout: SLOW_APPEND / 3,
        ..limits()
    };
    let (mut client, served) = connect(&broker, limits);
    send(
        &mut client,
        &request_frame(
            ApiKey::Produce,
            9,
            1,
            &produce(-1, &[("slow-orders", 0, 1)]),
        ),
    )
    .await;
    // Answered after three idle timeouts of silence: the request kept it open.
    let frame = timeout(SOON, read_frame(&mut client))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(correlation(ApiKey::Produce, 9, &frame), 1);
    let end = timeout(SOON, served).await.unwrap().unwrap();
    assert_eq!(end, ConnectionEnd::Idle);
}

#[tokio::test]
async fn a_stalled_frame_times_out() {
    let broker = Arc::new(FakeBroker::default());
    let limits = ConnectionLimits {
        idle_timeout: Duration::from_millis(100),
        ..limits()
    };
    for partial in [&[0u8, 0][..], &[0, 0, 0, 20, 0, 3, 0, 1][..]] {
        let (mut client, served) = connect(&broker, limits);
        client.write_all(partial).await.unwrap();
        assert_eq!(
            timeout(SOON, served).await.unwrap().unwrap(),
            ConnectionEnd::Stalled
        );
        drop(client);
    }
}

#[tokio::test]
async fn closing_between_requests_still_answers_what_was_sent() {
    let broker = Arc::new(FakeBroker::with_topics(&[("slow-orders", 1)]));
    let (client, served) = connect(&broker, limits());
    let (mut reader, mut writer) = tokio::io::split(client);
    send(
        &mut writer,
        &request_frame(
            ApiKey::Produce,
            9,
            1,
            &produce(-1, &[("slow-orders", 0, 1)]),
        ),
    )
    .await;
    writer.shutdown().await.unwrap();
    let frame = timeout(SOON, read_frame(&mut reader))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(correlation(ApiKey::Produce, 9, &frame), 1);
    assert_eq!(
        timeout(SOON, served).await.unwrap().unwrap(),
        ConnectionEnd::PeerClosed
    );
}

#[tokio::test]
async fn a_client_that_stops_reading_is_dropped() {
    let broker = Arc::new(FakeBroker::with_topics(&[("orders", 64)]));
    let limits = ConnectionLimits {
        idle_timeout: Duration::from_millis(200),
        ..limits()
    };
    // A pipe that holds far less than one Metadata answer for 64 partitions.
    let (mut client, server) = tokio::io::duplex(64);
    let served = tokio::spawn(stratus_kafka::serve_connection(
        server,
        session(&broker),
        limits,
    ));
    send(
        &mut client,
        &request_frame(ApiKey::Metadata, 12, 1, &metadata(None)),
    )
    .await;
    assert_eq!(
        timeout(SOON, served).await.unwrap().unwrap(),
        ConnectionEnd::Stalled
    );
}
