//! The WAL and segment tiers on MinIO, a separate S3 server process
//! (`scripts/install-minio` builds it; without it these tests fail naming
//! that script): a gateway produces, compacts and serves reads from MinIO
//! buckets, and a gateway SIGKILLed mid-write loses no acknowledged record.
//! Where the s3s-fs tests look at files on disk, these list the buckets
//! through MinIO's own S3 API.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{DevServer, create_topic, read_all};
use bytes::Bytes;
use stratus_proto::v1::producer_client::ProducerClient;
use stratus_proto::v1::{PartitionRecords, ProduceRequest, Record};
use stratus_testkit::MinioServer;
use tonic::transport::Channel;

const WAL_BUCKET: &str = "stratus-wal";
const SEGMENT_BUCKET: &str = "stratus-segments";
const PARTITIONS: u32 = 4;

/// Where every acknowledged record must be: (partition, offset) -> value.
type Acked = BTreeMap<(u32, i64), Bytes>;

/// Compaction that is due at once: a pass every 200 ms, WAL chunks
/// compacted as soon as seen, unreferenced objects deleted after 1 s.
const EAGER: &[(&str, &str)] = &[
    ("STRATUS_COMPACTOR__INTERVAL", "200ms"),
    ("STRATUS_COMPACTOR__WAL_MAX_AGE", "0s"),
    ("STRATUS_COMPACTOR__OBJECT_GRACE", "1s"),
    ("STRATUS_COMPACTOR__SEGMENT_BYTES", "65536"),
    ("STRATUS_COMPACTOR__BLOCK_BYTES", "8192"),
];

/// `stratus dev` on `data_dir` (its embedded metadata), with the WAL in one
/// MinIO bucket and segments in another, plus `extra` settings.
fn gateway(data_dir: &Path, minio: &MinioServer, extra: &[(&str, &str)]) -> DevServer {
    let mut env = minio.client_env();
    env.push(("STRATUS_WAL".into(), format!("s3://{WAL_BUCKET}/wal")));
    env.push((
        "STRATUS_SEGMENTS".into(),
        format!("s3://{SEGMENT_BUCKET}/seg"),
    ));
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    DevServer::start_with_env(data_dir, &env)
}

/// One produce of `per_partition` records to every partition; returns what
/// was acknowledged, or `None` when the call failed (the gateway died).
async fn produce_round(
    producer: &mut ProducerClient<Channel>,
    topic: &str,
    name: &str,
    per_partition: usize,
) -> Option<Acked> {
    let values: Vec<Vec<Bytes>> = (0..PARTITIONS)
        .map(|partition| {
            (0..per_partition)
                .map(|i| Bytes::from(format!("{name}-p{partition}-{i}-{}", "x".repeat(i * 7))))
                .collect()
        })
        .collect();
    let request = ProduceRequest {
        topic: topic.to_owned(),
        partitions: (0..PARTITIONS)
            .map(|partition| PartitionRecords {
                partition,
                base_sequence: None,
                record_batch: Default::default(),
                records: values[partition as usize]
                    .iter()
                    .map(|value| Record {
                        value: Some(value.clone()),
                        ..Record::default()
                    })
                    .collect(),
            })
            .collect(),
        ..ProduceRequest::default()
    };
    let response = producer.produce(request).await.ok()?.into_inner();
    let mut acked = Acked::new();
    for ack in response.partitions {
        assert_eq!(ack.record_count as usize, per_partition);
        for (i, value) in values[ack.partition as usize].iter().enumerate() {
            acked.insert((ack.partition, ack.base_offset + i as i64), value.clone());
        }
    }
    Some(acked)
}

/// Reads every partition and checks offsets are dense from 0 and every
/// acknowledged record is at its offset with its value; returns how many
/// records the topic holds.
async fn check_log(server: &DevServer, topic: &str, acked: &Acked) -> usize {
    let mut consumer = server.consumer().await;
    let mut stored = Acked::new();
    for partition in 0..PARTITIONS {
        for (i, record) in read_all(&mut consumer, topic, partition)
            .await
            .into_iter()
            .enumerate()
        {
            assert_eq!(
                record.offset, i as i64,
                "offsets of partition {partition} are not dense"
            );
            stored.insert((partition, record.offset), record.value.unwrap_or_default());
        }
    }
    for ((partition, offset), value) in acked {
        assert_eq!(
            stored.get(&(*partition, *offset)),
            Some(value),
            "acknowledged record at partition {partition} offset {offset} is lost or changed"
        );
    }
    stored.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_on_minio_compacts_the_wal_into_segments_and_serves_both() {
    let minio = MinioServer::start(&[WAL_BUCKET, SEGMENT_BUCKET]);
    let dir = tempfile::tempdir().unwrap();
    let server = gateway(dir.path(), &minio, EAGER);
    create_topic(&server, "events", PARTITIONS, None).await;
    let mut producer = server.producer().await;
    let mut acked = Acked::new();
    for round in 0..40 {
        let round = produce_round(&mut producer, "events", &format!("r{round}"), 25)
            .await
            .expect("produce to a gateway on MinIO");
        acked.extend(round);
    }
    // Read back while WAL objects are still there or being compacted.
    assert_eq!(check_log(&server, "events", &acked).await, acked.len());

    // Every WAL object becomes part of a segment in the other bucket and is
    // then deleted from the WAL bucket.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let wal = minio.list(WAL_BUCKET, "wal/wal/");
        let segments = minio.list(SEGMENT_BUCKET, "");
        if wal.is_empty() && !segments.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "compaction did not finish: WAL objects {wal:?}, segments {segments:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Now every read comes from segments on MinIO.
    assert_eq!(check_log(&server, "events", &acked).await, acked.len());
    // And a gateway started again on the same metadata reads the same log.
    server.terminate();
    let again = gateway(dir.path(), &minio, &[]);
    assert_eq!(check_log(&again, "events", &acked).await, acked.len());
}

/// Milliseconds of producing before each SIGKILL.
const KILL_AFTER_MS: [u64; 4] = [150, 400, 800, 1300];
const PRODUCERS: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_record_survives_sigkill_mid_write_on_minio() {
    let minio = MinioServer::start(&[WAL_BUCKET, SEGMENT_BUCKET]);
    let dir = tempfile::tempdir().unwrap();
    let acked: Arc<Mutex<Acked>> = Arc::default();
    let mut attempted = 0;
    for (round, kill_after) in KILL_AFTER_MS.iter().enumerate() {
        // Compaction runs too, so kills also land mid-compaction.
        let server = gateway(dir.path(), &minio, EAGER);
        if round == 0 {
            create_topic(&server, "events", PARTITIONS, None).await;
        }
        let mut producers = Vec::new();
        for producer in 0..PRODUCERS {
            let mut client = server.producer().await;
            let acked = Arc::clone(&acked);
            producers.push(tokio::spawn(async move {
                let mut sent = 0;
                for seq in 0.. {
                    sent += 1;
                    let name = format!("k{round}-w{producer}-s{seq}");
                    // A failed call's records may or may not be stored.
                    let Some(round) = produce_round(&mut client, "events", &name, 5).await else {
                        return sent;
                    };
                    acked.lock().unwrap().extend(round);
                }
                sent
            }));
        }
        tokio::time::sleep(Duration::from_millis(*kill_after)).await;
        server.kill();
        for producer in producers {
            attempted += producer.await.unwrap();
        }
    }
    let server = gateway(dir.path(), &minio, &[]);
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 500,
        "too few records were acknowledged ({}) to test anything",
        acked.len()
    );
    let stored = check_log(&server, "events", &acked).await;
    eprintln!(
        "minio: {attempted} requests over {} SIGKILLs, {} records acknowledged, {stored} stored",
        KILL_AFTER_MS.len(),
        acked.len()
    );
}
