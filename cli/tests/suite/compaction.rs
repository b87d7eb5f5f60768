//! `stratus dev` compacts in-process: WAL objects become segments and are
//! deleted, every acknowledged record stays readable with its offset, and a
//! compacted topic keeps only the latest value per key, on the file tier and
//! on a real S3 server.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::common::{DevServer, S3Server, Tier, WAL_BUCKET, create_topic, read_all};
use bytes::Bytes;
use stratus_proto::v1::{CleanupPolicy, PartitionRecords, ProduceRequest, Record, TopicConfig};

const PARTITIONS: u32 = 4;

/// Compaction that is due at once: a pass every 200 ms, WAL chunks
/// compacted as soon as seen, unreferenced objects deleted after 1 s.
const EAGER: &[(&str, &str)] = &[
    ("STRATUS_COMPACTOR__INTERVAL", "200ms"),
    ("STRATUS_COMPACTOR__WAL_MAX_AGE", "0s"),
    ("STRATUS_COMPACTOR__OBJECT_GRACE", "1s"),
    ("STRATUS_COMPACTOR__SEGMENT_BYTES", "65536"),
    ("STRATUS_COMPACTOR__BLOCK_BYTES", "8192"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_compacts_the_file_tier() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start_with_env(dir.path(), EAGER);
    compacts(&server, &dir.path().join("wal")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_compacts_on_s3() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = S3Server::start(&dir.path().join("s3"), &[WAL_BUCKET]);
    let bucket = s3.bucket_dir(WAL_BUCKET);
    let tier = Tier::S3(s3);
    let mut env: Vec<(String, String)> = tier.env();
    env.extend(
        EAGER
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let server = DevServer::start_with_env(&dir.path().join("gateway"), &env);
    compacts(&server, &bucket.join("wal")).await;
}

async fn compacts(server: &DevServer, wal_root: &Path) {
    create_topic(server, "events", PARTITIONS, None).await;
    let mut producer = server.producer().await;
    let mut acked: BTreeMap<(u32, i64), Bytes> = BTreeMap::new();
    for round in 0..40 {
        let request = ProduceRequest {
            topic: "events".into(),
            partitions: (0..PARTITIONS)
                .map(|partition| PartitionRecords {
                    base_sequence: None,
                    record_batch: Default::default(),
                    partition,
                    records: (0..25)
                        .map(|i| Record {
                            key: None,
                            value: Some(Bytes::from(format!(
                                "r{round}-p{partition}-{i}-{}",
                                "x".repeat(i * 10)
                            ))),
                            headers: vec![],
                            timestamp_ms: None,
                        })
                        .collect(),
                })
                .collect(),
            ..ProduceRequest::default()
        };
        let values: Vec<Vec<Bytes>> = request
            .partitions
            .iter()
            .map(|p| p.records.iter().map(|r| r.value.clone().unwrap()).collect())
            .collect();
        let response = producer.produce(request).await.unwrap().into_inner();
        for ack in response.partitions {
            for (i, value) in values[ack.partition as usize].iter().enumerate() {
                acked.insert((ack.partition, ack.base_offset + i as i64), value.clone());
            }
        }
    }
    // Every WAL object is compacted into segments and then deleted.
    let wal_dir = wal_root.join("wal");
    let seg_dir = wal_root.join("seg");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let wal_objects = count_files(&wal_dir);
        let segments = count_files(&seg_dir);
        if wal_objects == 0 && segments > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "compaction did not finish: {wal_objects} WAL objects, {segments} segments remain"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut consumer = server.consumer().await;
    let mut seen = 0;
    for partition in 0..PARTITIONS {
        for record in read_all(&mut consumer, "events", partition).await {
            assert_eq!(
                acked.get(&(partition, record.offset)),
                record.value.as_ref(),
                "partition {partition} offset {}",
                record.offset
            );
            seen += 1;
        }
    }
    assert_eq!(seen, acked.len(), "every acknowledged record reads back");

    // A compacted topic keeps the latest value per key (tombstones included
    // until delete.retention.ms).
    let config = TopicConfig {
        cleanup_policy: CleanupPolicy::Compact as i32,
        max_compaction_lag_ms: Some(1),
        ..TopicConfig::default()
    };
    create_topic(server, "latest", 1, Some(config)).await;
    for (key, value) in [
        ("a", Some("1")),
        ("b", Some("1")),
        ("a", Some("2")),
        ("b", None),
        ("c", Some("1")),
    ] {
        producer
            .produce(ProduceRequest {
                topic: "latest".into(),
                partitions: vec![PartitionRecords {
                    base_sequence: None,
                    partition: 0,
                    records: vec![Record {
                        key: Some(Bytes::from(key)),
                        value: value.map(Bytes::from),
                        headers: vec![],
                        timestamp_ms: None,
                    }],
                    record_batch: Default::default(),
                }],
                ..ProduceRequest::default()
            })
            .await
            .unwrap();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let records = read_all(&mut consumer, "latest", 0).await;
        let got: Vec<(i64, String, Option<String>)> = records
            .iter()
            .map(|r| {
                let text = |b: &Bytes| String::from_utf8_lossy(b).into_owned();
                (
                    r.offset,
                    text(r.key.as_ref().unwrap()),
                    r.value.as_ref().map(text),
                )
            })
            .collect();
        let expected = vec![
            (2, "a".to_owned(), Some("2".to_owned())),
            (3, "b".to_owned(), None),
            (4, "c".to_owned(), Some("1".to_owned())),
        ];
        if got == expected {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not compacted: {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A keyless record cannot be compacted, so a compacted topic refuses it.
    let keyless = producer
        .produce(ProduceRequest {
            topic: "latest".into(),
            records: vec![Record {
                key: None,
                value: Some(Bytes::from_static(b"x")),
                headers: vec![],
                timestamp_ms: None,
            }],
            ..ProduceRequest::default()
        })
        .await
        .unwrap_err();
    assert_eq!(keyless.code(), tonic::Code::InvalidArgument);
    assert!(
        keyless.message().contains("cleanup.policy=compact"),
        "{}",
        keyless.message()
    );
}

fn count_files(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            let path = e.path();
            if path.is_dir() {
                count_files(&path)
            } else {
                usize::from(!path.to_string_lossy().contains('#'))
            }
        })
        .sum()
}
