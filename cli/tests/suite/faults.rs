//! Under injected WAL-tier faults (5% errors, 1% hangs whose writes land but
//! whose answers are lost, latency spikes to 2 s) a concurrent produce and
//! consume run acknowledges only what is durable: afterwards every
//! acknowledged record is read back exactly once at its offset, nothing that
//! failed is visible, and every failed produce got a retryable status.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{DevServer, S3Server, WAL_BUCKET, create_topic};
use bytes::Bytes;
use stratus_proto::v1::{FetchRequest, PartitionRecords, ProduceRequest, Record};
use tonic::Code;

const PARTITIONS: u32 = 4;
const PRODUCE_FOR: Duration = Duration::from_secs(5);
const FAULTS: &str = "seed=11;\
    put@wal/:error=0.05,timeout=0.01,lost_ack,hang=60s;\
    get@wal/:error=0.05,timeout=0.01,hang=60s;\
    *:latency=spike(1ms,2s,0.01)";

type Seen = Arc<Mutex<HashMap<(u32, i64), Bytes>>>;

fn retryable(code: Code) -> bool {
    matches!(code, Code::Unavailable | Code::ResourceExhausted)
}

/// With retries, injected faults are mostly absorbed: a create-only PUT whose
/// answer was lost is resolved by reading the object back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_absorbed_by_retries_never_duplicate_or_lose() {
    let failures = produce_and_consume_under_faults(3).await;
    eprintln!("{failures} produce calls failed with 3 attempts per request");
}

/// Without retries, faults reach producers: they must get retryable errors,
/// and what they were refused must never become visible.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_without_retries_fail_retryably_and_hide_the_failed() {
    let failures = produce_and_consume_under_faults(1).await;
    assert!(
        failures > 0,
        "with one attempt per request, some produce calls must fail"
    );
}

/// Runs the scenario with `max_attempts` per object-store call; returns how
/// many produce calls failed.
async fn produce_and_consume_under_faults(max_attempts: u32) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let s3 = S3Server::start(&dir.path().join("s3"), &[WAL_BUCKET]);
    let mut env = s3.client_env();
    env.extend([
        ("STRATUS_WAL".to_owned(), format!("s3://{WAL_BUCKET}/wal")),
        ("STRATUS_WAL_FAULTS".to_owned(), FAULTS.to_owned()),
        (
            "STRATUS_WAL_RETRY__CALL_TIMEOUT".to_owned(),
            "3s".to_owned(),
        ),
        (
            "STRATUS_WAL_RETRY__MAX_ATTEMPTS".to_owned(),
            max_attempts.to_string(),
        ),
        // No chunk cache: every fetch issues ranged GETs through the faults.
        (
            "STRATUS_GATEWAY__CHUNK_CACHE_BYTES".to_owned(),
            "0".to_owned(),
        ),
    ]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let server = DevServer::start_with_env(&dir.path().join("gateway"), &env);
    create_topic(&server, "faulty", PARTITIONS, None).await;

    let acked: Seen = Arc::default();
    let failures: Arc<Mutex<Vec<Code>>> = Arc::default();
    let mut producers = Vec::new();
    for producer in 0..4u32 {
        let mut client = server.producer().await;
        let (acked, failures) = (Arc::clone(&acked), Arc::clone(&failures));
        producers.push(tokio::spawn(async move {
            let started = Instant::now();
            let mut seq = 0u64;
            while started.elapsed() < PRODUCE_FOR {
                let partition = (seq % u64::from(PARTITIONS)) as u32;
                let values: Vec<Bytes> = (0..10)
                    .map(|i| Bytes::from(format!("p{producer}-{seq}-{i}")))
                    .collect();
                seq += 1;
                let request = ProduceRequest {
                    topic: "faulty".into(),
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
                match client.produce(request).await {
                    Ok(response) => {
                        let base = response.into_inner().partitions[0].base_offset;
                        let mut acked = acked.lock().unwrap();
                        for (i, v) in values.into_iter().enumerate() {
                            assert!(acked.insert((partition, base + i as i64), v).is_none());
                        }
                    }
                    Err(status) => failures.lock().unwrap().push(status.code()),
                }
            }
        }));
    }

    // Consumers tail every partition while producers run, retrying fetches
    // that fail on injected GET faults.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut consumers = Vec::new();
    for partition in 0..PARTITIONS {
        let mut client = server.consumer().await;
        let stop = Arc::clone(&stop);
        consumers.push(tokio::spawn(async move {
            let mut seen: BTreeMap<i64, Bytes> = BTreeMap::new();
            let mut offset = 0;
            let mut fetch_errors = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let fetched = client
                    .fetch(FetchRequest {
                        topic: "faulty".into(),
                        partition,
                        offset,
                        max_bytes: 0,
                        max_wait_ms: 200,
                    })
                    .await;
                match fetched {
                    Ok(response) => {
                        for record in response.into_inner().records {
                            assert_eq!(record.offset, offset, "consumer saw a gap");
                            seen.insert(record.offset, record.value.unwrap_or_default());
                            offset += 1;
                        }
                    }
                    Err(status) => {
                        assert!(retryable(status.code()), "fetch failed with {status:?}");
                        fetch_errors += 1;
                    }
                }
            }
            (partition, seen, fetch_errors)
        }));
    }
    for p in producers {
        p.await.unwrap();
    }

    // Read everything back (retrying injected GET failures) and compare.
    let acked = acked.lock().unwrap().clone();
    let failures = failures.lock().unwrap().clone();
    assert!(
        acked.len() > 500,
        "too little was acknowledged ({}) to test anything",
        acked.len()
    );
    let mut stored: HashMap<(u32, i64), Bytes> = HashMap::new();
    let mut consumer = server.consumer().await;
    for partition in 0..PARTITIONS {
        let mut offset = 0;
        loop {
            let response = loop {
                match consumer
                    .fetch(FetchRequest {
                        topic: "faulty".into(),
                        partition,
                        offset,
                        max_bytes: 0,
                        max_wait_ms: 0,
                    })
                    .await
                {
                    Ok(r) => break r.into_inner(),
                    Err(status) => assert!(retryable(status.code()), "{status:?}"),
                }
            };
            if response.records.is_empty() {
                break;
            }
            for record in response.records {
                assert_eq!(record.offset, offset, "offsets must stay dense");
                stored.insert((partition, record.offset), record.value.unwrap_or_default());
                offset += 1;
            }
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut fetch_errors = 0;
    for c in consumers {
        let (partition, seen, errors) = c.await.unwrap();
        fetch_errors += errors;
        for (offset, value) in seen {
            assert_eq!(
                stored.get(&(partition, offset)),
                Some(&value),
                "a consumer saw a record that is not stored"
            );
        }
    }
    assert_eq!(
        stored.len(),
        acked.len(),
        "stored records must be exactly the acknowledged ones"
    );
    for (at, value) in &acked {
        assert_eq!(
            stored.get(at),
            Some(value),
            "acknowledged record at {at:?} lost or changed"
        );
    }
    for code in &failures {
        assert!(
            retryable(*code),
            "a produce failed with non-retryable {code:?}"
        );
    }
    eprintln!(
        "{} records acknowledged, {} produce calls failed (retryable), {} fetches failed (retryable)",
        acked.len(),
        failures.len(),
        fetch_errors
    );
    failures.len()
}
