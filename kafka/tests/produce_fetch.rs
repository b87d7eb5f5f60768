//! Produce (acks 0, 1, -1; refusals) and Fetch (patched batches, topic ids,
//! no fetch sessions), through a session and through a connection.

mod support;

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::*;
use stratus_kafka::{Acks, ConnectionEnd, Reply};
use support::*;
use uuid::Uuid;

fn partitions(response: &ResponseKind) -> Vec<(String, i32, i16, i64)> {
    let ResponseKind::Produce(p) = response else {
        panic!("{response:?}")
    };
    p.responses
        .iter()
        .flat_map(|t| {
            t.partition_responses
                .iter()
                .map(|p| (t.name.to_string(), p.index, p.error_code, p.base_offset))
        })
        .collect()
}

#[tokio::test]
async fn produce_assigns_offsets_and_reports_errors_per_partition() {
    let broker = Arc::new(FakeBroker::with_topics(&[("orders", 2), ("broken", 1)]));
    let mut s = session(&broker);
    let request = produce(
        -1,
        &[
            ("orders", 0, 3),
            ("orders", 1, 1),
            ("missing", 0, 1),
            ("broken", 0, 1),
        ],
    );
    let response = ask(&mut s, ApiKey::Produce, 9, request).await;
    assert_eq!(
        partitions(&response),
        [
            ("orders".into(), 0, 0, 0),
            ("orders".into(), 1, 0, 0),
            ("missing".into(), 0, 3, -1),
            ("broken".into(), 0, 56, -1),
        ]
    );
    let again = ask(&mut s, ApiKey::Produce, 3, produce(1, &[("orders", 0, 2)])).await;
    assert_eq!(partitions(&again), [("orders".into(), 0, 0, 3)]);
    // v8+ carries the message.
    let ResponseKind::Produce(p) = &response else {
        unreachable!()
    };
    let message = p.responses[1].partition_responses[0]
        .error_message
        .as_deref()
        .unwrap();
    assert!(message.contains("missing"), "{message}");
}

#[tokio::test]
async fn acks_zero_gets_no_response_but_is_written() {
    let broker = Arc::new(FakeBroker::with_topics(&[("orders", 1)]));
    let frame = request_frame(ApiKey::Produce, 9, 5, &produce(0, &[("orders", 0, 4)]));
    assert_eq!(call(&mut session(&broker), &frame).await, Reply::Nothing);
    assert_eq!(broker.next_offset("orders", 0), 4);
    assert_eq!(
        broker.produce_calls(),
        [("orders".to_string(), 0, Acks::None)]
    );
}

#[tokio::test]
async fn acks_zero_then_a_request_on_one_connection() {
    // The acks=0 produce must not leave a gap: the next response read is the
    // Metadata answer, with its own correlation id.
    let broker = Arc::new(FakeBroker::with_topics(&[("orders", 1)]));
    let (mut client, served) = connect(&broker, limits());
    send(
        &mut client,
        &request_frame(ApiKey::Produce, 7, 1, &produce(0, &[("orders", 0, 1)])),
    )
    .await;
    send(
        &mut client,
        &request_frame(ApiKey::Metadata, 9, 2, &metadata(None)),
    )
    .await;
    let frame = read_frame(&mut client).await.unwrap();
    let (correlation_id, _) = parse_response(ApiKey::Metadata, 9, &frame);
    assert_eq!(correlation_id, 2);
    assert_eq!(broker.next_offset("orders", 0), 1);
    drop(client);
    assert_eq!(served.await.unwrap(), ConnectionEnd::PeerClosed);
}

#[tokio::test]
async fn failed_acks_zero_produce_closes_the_connection() {
    let broker = Arc::new(FakeBroker::with_topics(&[("broken", 1)]));
    let (mut client, served) = connect(&broker, limits());
    send(
        &mut client,
        &request_frame(ApiKey::Produce, 9, 1, &produce(0, &[("broken", 0, 1)])),
    )
    .await;
    assert!(
        read_frame(&mut client).await.is_none(),
        "no answer, just a close"
    );
    let end = served.await.unwrap();
    assert!(
        matches!(&end, ConnectionEnd::Closed(r) if r.contains("acks=0")),
        "{end:?}"
    );
}

#[tokio::test]
async fn refusals_before_the_broker() {
    let broker = Arc::new(FakeBroker::with_topics(&[("orders", 2)]));
    let mut s = session(&broker);
    let bad_acks = ask(&mut s, ApiKey::Produce, 9, produce(2, &[("orders", 0, 1)])).await;
    assert_eq!(partitions(&bad_acks), [("orders".into(), 0, 21, -1)]);
    let twice = ask(
        &mut s,
        ApiKey::Produce,
        9,
        produce(1, &[("orders", 1, 1), ("orders", 1, 1)]),
    )
    .await;
    assert_eq!(
        partitions(&twice),
        [("orders".into(), 1, 0, 0), ("orders".into(), 1, 42, -1)]
    );
    let RequestKind::Produce(txn) = produce(-1, &[("orders", 0, 1)]) else {
        unreachable!()
    };
    let txn = RequestKind::Produce(txn.with_transactional_id(Some(name("txn-1").0.into())));
    let refused = ask(&mut s, ApiKey::Produce, 9, txn).await;
    assert_eq!(partitions(&refused), [("orders".into(), 0, 53, -1)]);
    assert_eq!(
        broker.produce_calls().len(),
        1,
        "only the first of the twice-named partition"
    );
}

fn fetch_request(version: i16, topic: &str, id: Uuid, offset: i64) -> RequestKind {
    let partition = fetch_request::FetchPartition::default()
        .with_partition(0)
        .with_fetch_offset(offset)
        .with_partition_max_bytes(1 << 20);
    let mut t = fetch_request::FetchTopic::default().with_partitions(vec![partition]);
    if version >= 13 {
        t.topic_id = id;
    } else {
        t.topic = name(topic);
    }
    RequestKind::Fetch(
        FetchRequest::default()
            .with_max_bytes(1 << 20)
            .with_topics(vec![t]),
    )
}

fn fetched(response: &ResponseKind) -> &fetch_response::PartitionData {
    let ResponseKind::Fetch(f) = response else {
        panic!("{response:?}")
    };
    &f.responses[0].partitions[0]
}

#[tokio::test]
async fn fetch_returns_patched_batches_by_name_and_id() {
    let broker = Arc::new(FakeBroker::with_topics(&[("orders", 1)]));
    let id = broker.topic_id("orders").unwrap();
    let mut s = session(&broker);
    ask(&mut s, ApiKey::Produce, 9, produce(-1, &[("orders", 0, 2)])).await;
    ask(&mut s, ApiKey::Produce, 9, produce(-1, &[("orders", 0, 3)])).await;
    for version in [4, 12, 13] {
        let response = ask(
            &mut s,
            ApiKey::Fetch,
            version,
            fetch_request(version, "orders", id, 2),
        )
        .await;
        let p = fetched(&response);
        assert_eq!(
            (p.error_code, p.high_watermark, p.last_stable_offset),
            (0, 5, 5),
            "v{version}"
        );
        let records: &Bytes = p.records.as_ref().unwrap();
        // Only the second batch (offsets 2..5), its base offset patched to 2.
        assert_eq!(records.len(), 61);
        assert_eq!(&records[..8], &2i64.to_be_bytes());
        let ResponseKind::Fetch(f) = &response else {
            unreachable!()
        };
        assert_eq!(f.session_id, 0);
        if version >= 13 {
            assert_eq!(f.responses[0].topic_id, id);
        } else {
            assert_eq!(&*f.responses[0].topic, "orders");
        }
    }
}

#[tokio::test]
async fn fetch_errors() {
    let broker = Arc::new(FakeBroker::with_topics(&[("orders", 1)]));
    let mut s = session(&broker);
    let unknown_id = ask(
        &mut s,
        ApiKey::Fetch,
        13,
        fetch_request(13, "", Uuid::from_u128(3), 0),
    )
    .await;
    assert_eq!(fetched(&unknown_id).error_code, 100);
    let out_of_range = ask(
        &mut s,
        ApiKey::Fetch,
        11,
        fetch_request(11, "orders", Uuid::nil(), 9),
    )
    .await;
    assert_eq!(fetched(&out_of_range).error_code, 1);
    let RequestKind::Fetch(with_session) = fetch_request(11, "orders", Uuid::nil(), 0) else {
        unreachable!()
    };
    let with_session = RequestKind::Fetch(with_session.with_session_id(17).with_session_epoch(3));
    let ResponseKind::Fetch(refused) = ask(&mut s, ApiKey::Fetch, 11, with_session).await else {
        unreachable!()
    };
    assert_eq!(refused.error_code, 70, "FETCH_SESSION_ID_NOT_FOUND");
    assert!(refused.responses.is_empty());
}

#[tokio::test]
async fn list_offsets_and_delete_records() {
    let broker = Arc::new(FakeBroker::with_topics(&[("orders", 1)]));
    let mut s = session(&broker);
    ask(&mut s, ApiKey::Produce, 9, produce(-1, &[("orders", 0, 5)])).await;
    let offsets = |stamp: i64| {
        RequestKind::ListOffsets(ListOffsetsRequest::default().with_topics(vec![
            list_offsets_request::ListOffsetsTopic::default()
                .with_name(name("orders"))
                .with_partitions(vec![
                    list_offsets_request::ListOffsetsPartition::default().with_timestamp(stamp),
                ]),
        ]))
    };
    let offset_of = |r: &ResponseKind| {
        let ResponseKind::ListOffsets(l) = r else {
            panic!()
        };
        let p = &l.topics[0].partitions[0];
        (p.error_code, p.offset, p.leader_epoch)
    };
    assert_eq!(
        offset_of(&ask(&mut s, ApiKey::ListOffsets, 8, offsets(-1)).await),
        (0, 5, 3)
    );
    assert_eq!(
        offset_of(&ask(&mut s, ApiKey::ListOffsets, 8, offsets(-2)).await),
        (0, 0, 3)
    );
    // v1 has no leader epoch; an unknown special timestamp is refused.
    assert_eq!(
        offset_of(&ask(&mut s, ApiKey::ListOffsets, 1, offsets(-1)).await),
        (0, 5, -1)
    );
    assert_eq!(
        offset_of(&ask(&mut s, ApiKey::ListOffsets, 6, offsets(-3)).await).0,
        42
    );
    // From v7, -3 asks for the record with the largest timestamp.
    let ResponseKind::ListOffsets(max) = ask(&mut s, ApiKey::ListOffsets, 7, offsets(-3)).await
    else {
        unreachable!()
    };
    let p = &max.topics[0].partitions[0];
    assert_eq!((p.error_code, p.offset, p.timestamp), (0, 4, 0));
    let delete = RequestKind::DeleteRecords(DeleteRecordsRequest::default().with_topics(vec![
        delete_records_request::DeleteRecordsTopic::default()
            .with_name(name("orders"))
            .with_partitions(vec![
                delete_records_request::DeleteRecordsPartition::default().with_offset(3),
            ]),
    ]));
    let ResponseKind::DeleteRecords(d) = ask(&mut s, ApiKey::DeleteRecords, 2, delete).await else {
        unreachable!()
    };
    assert_eq!(d.topics[0].partitions[0].low_watermark, 3);
    assert_eq!(
        offset_of(&ask(&mut s, ApiKey::ListOffsets, 8, offsets(-2)).await),
        (0, 3, 3)
    );
}

#[tokio::test]
async fn init_producer_id_refuses_transactions() {
    let broker = Arc::new(FakeBroker::default());
    let mut s = session(&broker);
    let plain =
        RequestKind::InitProducerId(InitProducerIdRequest::default().with_transactional_id(None));
    let ResponseKind::InitProducerId(r) = ask(&mut s, ApiKey::InitProducerId, 4, plain).await
    else {
        unreachable!()
    };
    assert_eq!(
        (r.error_code, r.producer_id.0, r.producer_epoch),
        (0, 1001, 0)
    );
    let txn = RequestKind::InitProducerId(
        InitProducerIdRequest::default().with_transactional_id(Some(name("txn").0.into())),
    );
    let ResponseKind::InitProducerId(r) = ask(&mut s, ApiKey::InitProducerId, 4, txn).await else {
        unreachable!()
    };
    assert_eq!((r.error_code, r.producer_id.0), (53, -1));
}
