//! Produce 100,000 records with keys, headers and timestamps from 4 concurrent
//! producers into an 8-partition topic of a real `stratus dev`, and read them
//! all back.

use std::collections::HashMap;

use crate::common::{DevServer, S3Server, Tier, WAL_BUCKET, create_topic, read_all};
use bytes::Bytes;
use stratus_proto::partitioner::partition_for_key;
use stratus_proto::v1::{Header, ProduceRequest, Record};

const PARTITIONS: u32 = 8;
const PRODUCERS: usize = 4;
const RECORDS_PER_PRODUCER: usize = 25_000;
const RECORDS_PER_REQUEST: usize = 250;

/// Producer timestamps start an hour ago: recent enough that the in-process
/// compactor's default 7-day retention keeps them.
fn base_timestamp_ms() -> i64 {
    static BASE: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *BASE.get_or_init(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        now.as_millis() as i64 - 3_600_000
    })
}

fn record(producer: usize, seq: usize) -> Record {
    // Keys repeat so several records share a partition by key; the first keys
    // are Kafka's own murmur2 test vectors.
    let key = match (producer, seq) {
        (0, 0) => "21".to_owned(),
        (0, 1) => "foobar".to_owned(),
        (0, 2) => "abc".to_owned(),
        _ => format!("key-{}", (producer * 7919 + seq) % 5000),
    };
    Record {
        key: Some(Bytes::from(key)),
        value: Some(Bytes::from(format!(
            "p{producer}-s{seq}-{}",
            "x".repeat(seq % 200)
        ))),
        headers: vec![
            Header {
                key: "producer".into(),
                value: Bytes::from(producer.to_string()),
            },
            Header {
                key: "seq".into(),
                value: Bytes::from(seq.to_string()),
            },
        ],
        timestamp_ms: Some(base_timestamp_ms() + (producer * RECORDS_PER_PRODUCER + seq) as i64),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_thousand_records_round_trip_on_file_tier() {
    let dir = tempfile::tempdir().unwrap();
    round_trip(dir.path(), &Tier::File).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_thousand_records_round_trip_on_s3_tier() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = S3Server::start(&dir.path().join("s3"), &[WAL_BUCKET]);
    let bucket = s3.bucket_dir(WAL_BUCKET);
    round_trip(&dir.path().join("gateway"), &Tier::S3(s3)).await;
    // The records went through S3 (s3s-fs keeps objects as files), not the data dir.
    let objects =
        std::fs::read_dir(bucket.join("wal").join("wal")).expect("wal objects in the bucket");
    assert!(objects.count() > 0);
    assert!(!dir.path().join("gateway").join("wal").exists());
}

async fn round_trip(data_dir: &std::path::Path, tier: &Tier) {
    let server = DevServer::start_on(data_dir, tier);
    create_topic(&server, "orders", PARTITIONS, None).await;

    let mut producers = Vec::new();
    for producer in 0..PRODUCERS {
        let mut client = server.producer().await;
        producers.push(tokio::spawn(async move {
            let mut seq = 0;
            while seq < RECORDS_PER_PRODUCER {
                let records: Vec<Record> = (seq..seq + RECORDS_PER_REQUEST)
                    .map(|s| record(producer, s))
                    .collect();
                seq += RECORDS_PER_REQUEST;
                let response = client
                    .produce(ProduceRequest {
                        topic: "orders".into(),
                        records,
                        ..ProduceRequest::default()
                    })
                    .await
                    .expect("produce")
                    .into_inner();
                let acked: u32 = response.partitions.iter().map(|p| p.record_count).sum();
                assert_eq!(acked as usize, RECORDS_PER_REQUEST);
            }
        }));
    }
    for p in producers {
        p.await.unwrap();
    }

    let mut consumer = server.consumer().await;
    let mut seen: HashMap<(usize, usize), (u32, i64)> = HashMap::new();
    for partition in 0..PARTITIONS {
        let records = read_all(&mut consumer, "orders", partition).await;
        for (expected_offset, r) in records.iter().enumerate() {
            assert_eq!(
                r.offset, expected_offset as i64,
                "offsets must be dense from 0"
            );
            let key = r.key.clone().expect("every record has a key");
            assert_eq!(
                partition_for_key(&key, PARTITIONS),
                partition,
                "key {key:?} is not where Kafka's partitioner puts it"
            );
            let header = |name: &str| -> usize {
                let h = r.headers.iter().find(|h| h.key == name).expect("header");
                std::str::from_utf8(&h.value).unwrap().parse().unwrap()
            };
            let (producer, seq) = (header("producer"), header("seq"));
            let expected = record(producer, seq);
            assert_eq!(r.key, expected.key);
            assert_eq!(r.value, expected.value);
            assert_eq!(r.headers, expected.headers);
            assert_eq!(Some(r.timestamp_ms), expected.timestamp_ms);
            assert!(
                seen.insert((producer, seq), (partition, r.offset))
                    .is_none(),
                "duplicate record"
            );
        }
    }
    assert_eq!(
        seen.len(),
        PRODUCERS * RECORDS_PER_PRODUCER,
        "every record is read back once"
    );

    // Per producer and key, records keep the order they were sent in.
    let mut last: HashMap<(usize, Bytes), (usize, i64)> = HashMap::new();
    for ((producer, seq), (_, offset)) in {
        let mut all: Vec<_> = seen.into_iter().collect();
        all.sort();
        all
    } {
        let key = record(producer, seq).key.unwrap();
        if let Some((_, previous)) = last.insert((producer, key), (seq, offset)) {
            assert!(
                previous < offset,
                "records of one key must keep their order"
            );
        }
    }

    // Kafka's murmur2 vectors: "21" hashes to -973932308, toPositive % 8 = 4.
    assert_eq!(partition_for_key(b"21", PARTITIONS), 1_173_551_340 % 8);
}
