//! ProduceStream answers in order with dense offsets; Subscribe tails a
//! partition; ListOffsets resolves earliest, latest and by timestamp.

use std::time::Duration;

use crate::common::{DevServer, create_topic};
use bytes::Bytes;
use stratus_proto::v1::{
    ListOffsetsRequest, OffsetSpec, PartitionRecords, ProduceRequest, Record, SubscribeRequest,
};

fn request(correlation_id: u64, values: &[String], timestamp_ms: i64) -> ProduceRequest {
    ProduceRequest {
        topic: "stream".into(),
        partitions: vec![PartitionRecords {
            base_sequence: None,
            partition: 0,
            records: values
                .iter()
                .map(|v| Record {
                    key: None,
                    value: Some(Bytes::from(v.clone())),
                    headers: vec![],
                    timestamp_ms: Some(timestamp_ms),
                })
                .collect(),
            record_batch: Default::default(),
        }],
        correlation_id,
        ..ProduceRequest::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_stream_subscribe_and_list_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    create_topic(&server, "stream", 1, None).await;

    // Subscribe first, from offset 0, before anything exists.
    let mut subscription = server
        .consumer()
        .await
        .subscribe(SubscribeRequest {
            topic: "stream".into(),
            partition: 0,
            offset: 0,
            max_bytes_per_message: 0,
        })
        .await
        .unwrap()
        .into_inner();

    // 200 pipelined requests of 5 records on one stream, timestamps rising.
    let requests: Vec<ProduceRequest> = (0..200u64)
        .map(|i| {
            let values: Vec<String> = (0..5).map(|j| format!("m{}", i * 5 + j)).collect();
            request(i, &values, 1_000 + i as i64)
        })
        .collect();
    let mut responses = server
        .producer()
        .await
        .produce_stream(tokio_stream::iter(requests))
        .await
        .unwrap()
        .into_inner();
    let mut expected_base = 0;
    for i in 0..200u64 {
        let response = responses
            .message()
            .await
            .unwrap()
            .expect("one response per request");
        assert_eq!(
            response.correlation_id, i,
            "responses come back in request order"
        );
        assert!(response.error.is_none(), "{:?}", response.error);
        assert_eq!(response.partitions[0].base_offset, expected_base);
        expected_base += 5;
    }

    // The subscription delivers all 1,000 records in order.
    let mut next = 0i64;
    while next < 1_000 {
        let batch = tokio::time::timeout(Duration::from_secs(10), subscription.message())
            .await
            .expect("subscription stalled")
            .unwrap()
            .expect("subscription ended");
        for record in batch.records {
            assert_eq!(record.offset, next);
            assert_eq!(record.value, Some(Bytes::from(format!("m{next}"))));
            next += 1;
        }
    }

    let list = |spec: OffsetSpec, timestamp_ms: i64| ListOffsetsRequest {
        topic: "stream".into(),
        partitions: vec![0],
        spec: spec as i32,
        timestamp_ms,
    };
    let mut consumer = server.consumer().await;
    let offset_of = |r: stratus_proto::v1::ListOffsetsResponse| r.partitions[0].offset;
    let earliest = consumer
        .list_offsets(list(OffsetSpec::Earliest, 0))
        .await
        .unwrap()
        .into_inner();
    let latest = consumer
        .list_offsets(list(OffsetSpec::Latest, 0))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(offset_of(earliest), 0);
    assert_eq!(offset_of(latest), 1_000);
    // Request i carried timestamp 1000 + i: the first record at or after 1100 is offset 500.
    let at = consumer
        .list_offsets(list(OffsetSpec::Timestamp, 1_100))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(at.partitions[0].offset, 500);
    assert_eq!(at.partitions[0].timestamp_ms, 1_100);
    let before_all = consumer
        .list_offsets(list(OffsetSpec::Timestamp, 0))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(offset_of(before_all), 0);
    let after_all = consumer
        .list_offsets(list(OffsetSpec::Timestamp, 5_000))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(offset_of(after_all), -1, "no record is that recent");
}
