//! A fetch at the end of the log waits for a commit and returns as soon as a
//! record is acknowledged; with nothing new it returns empty after max_wait.

use std::time::{Duration, Instant};

use crate::common::{DevServer, create_topic};
use bytes::Bytes;
use stratus_proto::v1::{FetchRequest, PartitionRecords, ProduceRequest, Record};

fn fetch_at(offset: i64, max_wait_ms: u32) -> FetchRequest {
    FetchRequest {
        topic: "tail".into(),
        partition: 0,
        offset,
        max_bytes: 0,
        max_wait_ms,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_at_the_end_wakes_on_commit_and_times_out_empty() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    create_topic(&server, "tail", 1, None).await;

    // Nothing arrives: the fetch waits max_wait, then answers empty.
    let mut consumer = server.consumer().await;
    let started = Instant::now();
    let empty = consumer.fetch(fetch_at(0, 300)).await.unwrap().into_inner();
    let waited = started.elapsed();
    assert!(empty.records.is_empty());
    assert_eq!(empty.next_fetch_offset, 0);
    assert!(
        waited >= Duration::from_millis(290),
        "returned after {waited:?}, before max_wait"
    );

    // A record arrives while a 20 s fetch waits: it returns with that record.
    let mut waiting = server.consumer().await;
    let fetch = tokio::spawn(async move {
        let started = Instant::now();
        let response = waiting
            .fetch(fetch_at(0, 20_000))
            .await
            .unwrap()
            .into_inner();
        (response, started.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut producer = server.producer().await;
    let acked_at = Instant::now();
    producer
        .produce(ProduceRequest {
            topic: "tail".into(),
            partitions: vec![PartitionRecords {
                base_sequence: None,
                partition: 0,
                records: vec![Record {
                    key: None,
                    value: Some(Bytes::from_static(b"hello")),
                    headers: vec![],
                    timestamp_ms: None,
                }],
                record_batch: Default::default(),
            }],
            ..ProduceRequest::default()
        })
        .await
        .unwrap();
    let ack_done = acked_at.elapsed();
    let (response, waited) = fetch.await.unwrap();
    assert_eq!(response.records.len(), 1);
    assert_eq!(response.records[0].value.as_deref(), Some(&b"hello"[..]));
    assert_eq!(response.next_fetch_offset, 1);
    assert!(
        waited < Duration::from_secs(5),
        "fetch took {waited:?}: it was not woken by the commit (produce took {ack_done:?})"
    );
}
