//! The in-flight bound: a gateway full of unacknowledged produce bytes refuses
//! more with RESOURCE_EXHAUSTED and a message saying what to do; settings
//! come from the environment; SIGTERM flushes and answers in-flight calls.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{DevServer, create_topic, read_all};
use bytes::Bytes;
use stratus_proto::v1::{PartitionRecords, ProduceRequest, Record};
use tonic::Code;

/// Incompressible bytes, so the encoded batch is as large as the input.
fn noise(len: usize, seed: u64) -> Bytes {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn request(partition: u32, value: Bytes) -> ProduceRequest {
    ProduceRequest {
        topic: "bounded".into(),
        partitions: vec![PartitionRecords {
            base_sequence: None,
            partition,
            records: vec![Record {
                key: None,
                value: Some(value),
                headers: vec![],
                timestamp_ms: None,
            }],
            record_batch: Default::default(),
        }],
        ..ProduceRequest::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_gateway_answers_resource_exhausted() {
    let dir = tempfile::tempdir().unwrap();
    // Settings through the environment layer: 64 KiB in flight, a long linger
    // so calls pile up.
    let server = DevServer::start_with_env(
        dir.path(),
        &[
            ("STRATUS_GATEWAY__MAX_INFLIGHT_BYTES", "65536"),
            ("STRATUS_GATEWAY__MAX_REQUEST_BYTES", "65536"),
            ("STRATUS_GATEWAY__LINGER", "300ms"),
        ],
    );
    create_topic(&server, "bounded", 1, None).await;
    let mut calls = Vec::new();
    for i in 0..8 {
        let mut producer = server.producer().await;
        calls.push(tokio::spawn(async move {
            producer.produce(request(0, noise(20_000, i))).await
        }));
    }
    let mut accepted = 0;
    let mut refused = 0;
    for call in calls {
        match call.await.unwrap() {
            Ok(_) => accepted += 1,
            Err(status) => {
                assert_eq!(
                    status.code(),
                    Code::ResourceExhausted,
                    "{}",
                    status.message()
                );
                assert!(
                    status.message().contains("max_inflight_bytes"),
                    "{}",
                    status.message()
                );
                refused += 1;
            }
        }
    }
    assert!(accepted >= 1, "some calls fit the budget");
    assert!(refused >= 1, "8 x 20 KB cannot fit in 64 KiB at once");
    // Once the flush is acknowledged, the budget is free again.
    let mut producer = server.producer().await;
    producer
        .produce(request(0, noise(20_000, 99)))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_answers_every_in_flight_produce() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start_with_env(dir.path(), &[("STRATUS_GATEWAY__LINGER", "50ms")]);
    create_topic(&server, "bounded", 2, None).await;
    let acked: Arc<Mutex<HashMap<(u32, i64), Bytes>>> = Arc::default();
    let mut producers = Vec::new();
    for p in 0..4u64 {
        let mut producer = server.producer().await;
        let acked = Arc::clone(&acked);
        producers.push(tokio::spawn(async move {
            for i in 0.. {
                let value = Bytes::from(format!("p{p}-{i}"));
                let partition = (i % 2) as u32;
                match producer.produce(request(partition, value.clone())).await {
                    Ok(r) => {
                        let base = r.into_inner().partitions[0].base_offset;
                        acked.lock().unwrap().insert((partition, base), value);
                    }
                    Err(_) => return,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.terminate();
    for p in producers {
        tokio::time::timeout(Duration::from_secs(10), p)
            .await
            .expect("a produce call was left hanging by shutdown")
            .unwrap();
    }
    let server = DevServer::start(dir.path());
    let mut consumer = server.consumer().await;
    let acked = acked.lock().unwrap().clone();
    assert!(!acked.is_empty());
    for partition in 0..2 {
        let records = read_all(&mut consumer, "bounded", partition).await;
        for ((p, offset), value) in acked.iter().filter(|((p, _), _)| *p == partition) {
            assert_eq!(
                records[*offset as usize].value.as_ref(),
                Some(value),
                "partition {p} offset {offset}"
            );
        }
    }
}
