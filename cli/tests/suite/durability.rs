//! Kill -9 durability: produce concurrently, SIGKILL `stratus dev` mid-stream,
//! restart it on the same data directory, and check that every acknowledged
//! record is readable at its acknowledged offset with its content, and that
//! offsets stay dense. Five kill points per run, at different moments.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{DevServer, S3Server, Tier, WAL_BUCKET, create_topic, read_all};
use bytes::Bytes;
use stratus_proto::v1::{PartitionRecords, ProduceRequest, Record};

const PARTITIONS: u32 = 4;
const PRODUCERS: usize = 4;
const RECORDS_PER_REQUEST: usize = 20;
/// Milliseconds of producing before each SIGKILL.
const KILL_AFTER_MS: [u64; 5] = [120, 350, 600, 900, 1400];

type Acked = Arc<Mutex<HashMap<(u32, i64), Bytes>>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_record_survives_sigkill_on_file_tier() {
    let dir = tempfile::tempdir().unwrap();
    kill_and_check(dir.path(), &Tier::File).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_record_survives_sigkill_on_s3_tier() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = S3Server::start(&dir.path().join("s3"), &[WAL_BUCKET]);
    kill_and_check(&dir.path().join("gateway"), &Tier::S3(s3)).await;
}

async fn kill_and_check(data_dir: &std::path::Path, tier: &Tier) {
    let acked: Acked = Arc::default();
    let mut attempted = 0usize;

    for (round, kill_after) in KILL_AFTER_MS.iter().enumerate() {
        let server = DevServer::start_on(data_dir, tier);
        if round == 0 {
            create_topic(&server, "events", PARTITIONS, None).await;
        }
        let mut producers = Vec::new();
        for producer in 0..PRODUCERS {
            let mut client = server.producer().await;
            let acked = Arc::clone(&acked);
            producers.push(tokio::spawn(async move {
                let mut sent = 0usize;
                for seq in 0.. {
                    let partition = (seq % PARTITIONS as usize) as u32;
                    let values: Vec<Bytes> = (0..RECORDS_PER_REQUEST)
                        .map(|i| Bytes::from(format!("r{round}-p{producer}-s{seq}-{i}")))
                        .collect();
                    let request = ProduceRequest {
                        topic: "events".into(),
                        partitions: vec![PartitionRecords {
                            base_sequence: None,
                            partition,
                            records: values
                                .iter()
                                .map(|v| Record {
                                    key: None,
                                    value: Some(v.clone()),
                                    headers: vec![],
                                    timestamp_ms: None,
                                })
                                .collect(),
                            record_batch: Default::default(),
                        }],
                        ..ProduceRequest::default()
                    };
                    sent += 1;
                    // Any error means the gateway died mid-call: stop this producer.
                    let Ok(response) = client.produce(request).await else {
                        return sent;
                    };
                    let ack = &response.into_inner().partitions[0];
                    assert_eq!(ack.partition, partition);
                    let mut acked = acked.lock().unwrap();
                    for (i, value) in values.into_iter().enumerate() {
                        acked.insert((partition, ack.base_offset + i as i64), value);
                    }
                }
                sent
            }));
        }
        tokio::time::sleep(Duration::from_millis(*kill_after)).await;
        server.kill();
        for p in producers {
            attempted += p.await.unwrap();
        }
    }

    // Restart on the same data directory and check every acknowledgement.
    let server = DevServer::start_on(data_dir, tier);
    let mut consumer = server.consumer().await;
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 1_000,
        "too few records were acknowledged ({}) to test anything",
        acked.len()
    );
    let mut stored: HashMap<(u32, i64), Bytes> = HashMap::new();
    for partition in 0..PARTITIONS {
        // read_all checks offsets are dense from 0 to the high-water mark.
        for (i, record) in read_all(&mut consumer, "events", partition)
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
    for ((partition, offset), value) in &acked {
        assert_eq!(
            stored.get(&(partition.to_owned(), *offset)),
            Some(value),
            "acknowledged record at partition {partition} offset {offset} is lost or changed"
        );
    }
    eprintln!(
        "{} requests attempted over {} kills, {} records acknowledged, {} stored",
        attempted,
        KILL_AFTER_MS.len(),
        acked.len(),
        stored.len()
    );
}

/// The same contract through the SDK's pipelined path: an idempotent
/// producer with 5 batches in flight per partition on ordered
/// `ProduceStream` calls, building zstd batches the gateway stores as they
/// are. SIGKILL mid-write, restart, and every record the SDK acknowledged
/// must be at its acknowledged offset, with offsets dense.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_sdk_record_survives_sigkill_with_pipelined_batches() {
    use stratus_sdk::{Client, ProducerConfig, ProducerRecord, TopicConfig};

    let dir = tempfile::tempdir().unwrap();
    let acked: Acked = Arc::default();
    for (round, kill_after) in [300u64, 800, 1500].into_iter().enumerate() {
        let server = DevServer::start(dir.path());
        let client = Client::connect(&server.url).await.unwrap();
        if round == 0 {
            client
                .admin()
                .create_topic("piped", PARTITIONS, TopicConfig::default())
                .await
                .unwrap();
        }
        let config = ProducerConfig::default()
            .linger(Duration::from_millis(1))
            .batch_bytes(2 * 1024)
            .max_in_flight_per_partition(5)
            .delivery_timeout(Duration::from_secs(5));
        let producer = client.producer(config).await.unwrap();
        let sending = {
            let acked = Arc::clone(&acked);
            tokio::spawn(async move {
                for i in 0usize.. {
                    let value = Bytes::from(format!("r{round}-{i}"));
                    let record = ProducerRecord::new("piped", value.clone())
                        .partition((i % PARTITIONS as usize) as u32);
                    let Ok(delivery) = producer.send(record).await else {
                        return;
                    };
                    let acked = Arc::clone(&acked);
                    tokio::spawn(async move {
                        if let Ok(d) = delivery.await {
                            acked.lock().unwrap().insert((d.partition, d.offset), value);
                        }
                    });
                }
            })
        };
        tokio::time::sleep(Duration::from_millis(kill_after)).await;
        server.kill();
        sending.abort();
    }

    let server = DevServer::start(dir.path());
    let mut consumer = server.consumer().await;
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 1_000,
        "too few records were acknowledged ({}) to test anything",
        acked.len()
    );
    let mut stored: HashMap<(u32, i64), Bytes> = HashMap::new();
    for partition in 0..PARTITIONS {
        for (i, record) in read_all(&mut consumer, "piped", partition)
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
    for ((partition, offset), value) in &acked {
        assert_eq!(
            stored.get(&(*partition, *offset)),
            Some(value),
            "acknowledged record at partition {partition} offset {offset} is lost or changed"
        );
    }
}
