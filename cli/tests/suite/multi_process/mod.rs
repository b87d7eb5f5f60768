//! A cluster of separate processes on one machine: three `stratus gateway`
//! processes, two `stratus compactor` processes and a `stratus dispatcher`
//! running a webhook trigger, on one PostgreSQL metadata store
//! (scripts/install-postgres) and one MinIO bucket (scripts/install-minio);
//! without either the test fails naming the script.
//!
//! Producers and `stratus consume --group` consumers are spread over the
//! gateways and fail over between them while gateways and compactors are
//! SIGKILLed at random (one at a time, restarted after a pause; the choices
//! come from a seed, printed, and set with `STRATUS_CHAOS_SEED`). The run
//! lasts `STRATUS_CHAOS_SECS` seconds of faults (30 by default, so the test
//! stays about two minutes; set it higher for a soak). Then, with every
//! process running again:
//!
//! - every acknowledged record is stored exactly once, at its acknowledged
//!   offset, and offsets are dense in every partition;
//! - the consumer group and the trigger received every acknowledged record
//!   (at least once: a consumer's uncommitted records are delivered again);
//! - no committed group offset moved backwards within a generation;
//! - no index entry in metadata names an object missing from the bucket.

mod checks;
mod processes;
mod webhook;
mod workload;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::free_port;
use crate::common::group_consumer::GroupConsumer;
use processes::Proc;
use stratus_proto::v1::admin_client::AdminClient;
use stratus_proto::v1::consumer_client::ConsumerClient;
use stratus_proto::v1::{CreateTopicRequest, TopicConfig};
use stratus_storage::log::TierKind;
use stratus_testkit::{MinioServer, PostgresServer};
use tokio::sync::watch;
use tonic::transport::Channel;

const BUCKET: &str = "stratus";
const TOPIC: &str = "orders";
const PARTITIONS: u32 = 6;
const GROUP: &str = "billing";
const GATEWAYS: usize = 3;
const COMPACTORS: usize = 2;
const PRODUCERS: usize = 4;
const CONSUMERS: usize = 2;
/// Seconds of faults by default; `STRATUS_CHAOS_SECS` overrides it.
const DEFAULT_CHAOS_SECS: u64 = 30;
/// How long consumers and the trigger may take to catch up afterwards.
const CATCH_UP: Duration = Duration::from_secs(90);

/// splitmix64: small, seedable, and the same sequence everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[low, high)` milliseconds.
    fn millis(&mut self, low: u64, high: u64) -> Duration {
        Duration::from_millis(low + self.next() % (high - low))
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text:?} is not a whole number")),
        Err(_) => default,
    }
}

/// The settings every process of the cluster shares.
fn shared_env(minio: &MinioServer) -> Vec<(String, String)> {
    let mut env = minio.client_env();
    env.extend(
        [
            // Compaction that is due at once, so kills land mid-compaction
            // and reads move from WAL objects to segments during the run.
            ("STRATUS_COMPACTOR__INTERVAL", "300ms"),
            ("STRATUS_COMPACTOR__WAL_MAX_AGE", "0s"),
            ("STRATUS_COMPACTOR__OBJECT_GRACE", "2s"),
            ("STRATUS_COMPACTOR__SEGMENT_BYTES", "65536"),
            ("STRATUS_COMPACTOR__BLOCK_BYTES", "8192"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    env
}

fn storage_args(postgres: &PostgresServer, data_dir: &Path) -> Vec<String> {
    vec![
        "--metadata".into(),
        postgres.url(),
        "--wal".into(),
        format!("s3://{BUCKET}/wal"),
        "--segments".into(),
        format!("s3://{BUCKET}/segments"),
        "--data-dir".into(),
        data_dir.display().to_string(),
    ]
}

async fn channel(url: &str) -> Channel {
    for _ in 0..100 {
        if let Ok(channel) = Channel::from_shared(url.to_owned())
            .unwrap()
            .connect()
            .await
        {
            return channel;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("gateway {url} never accepted a connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_of_processes_keeps_every_acknowledged_record_through_sigkills() {
    let seed = env_u64("STRATUS_CHAOS_SEED", 0x5eed_2026);
    let chaos = Duration::from_secs(env_u64("STRATUS_CHAOS_SECS", DEFAULT_CHAOS_SECS));
    eprintln!("multi_process: seed {seed:#x} (STRATUS_CHAOS_SEED), {chaos:?} of faults");
    let mut rng = Rng(seed);
    let postgres = PostgresServer::start();
    let minio = MinioServer::start(&[BUCKET]);
    let root = tempfile::tempdir().unwrap();
    let env = shared_env(&minio);

    // Fixed ports: a restarted gateway is where its clients left it.
    let listens: Vec<String> = (0..GATEWAYS)
        .map(|_| format!("127.0.0.1:{}", free_port()))
        .collect();
    let urls: Vec<String> = listens.iter().map(|l| format!("http://{l}")).collect();
    let servers = urls.join(",");
    let mut gateways: Vec<Proc> = (0..GATEWAYS)
        .map(|i| {
            let name = format!("gateway-{i}");
            let mut args = vec!["gateway".to_owned()];
            args.extend(storage_args(&postgres, &root.path().join(&name)));
            args.extend(["--listen".into(), listens[i].clone()]);
            let mut env = env.clone();
            env.extend(
                [
                    ("STRATUS_GATEWAY__QUIC__ENABLED", "false".to_owned()),
                    (
                        "STRATUS_KAFKA__LISTEN",
                        format!("127.0.0.1:{}", free_port()),
                    ),
                ]
                .map(|(k, v)| (k.to_owned(), v)),
            );
            Proc::new(
                &name,
                args,
                env,
                "stratus gateway listening on",
                root.path(),
            )
        })
        .collect();
    for gateway in &mut gateways {
        gateway.start();
    }

    let mut compactors: Vec<Proc> = (0..COMPACTORS)
        .map(|i| {
            let name = format!("compactor-{i}");
            let mut args = vec!["compactor".to_owned()];
            args.extend(storage_args(&postgres, &root.path().join(&name)));
            Proc::new(&name, args, env.clone(), "stratus compactor", root.path())
        })
        .collect();
    for compactor in &mut compactors {
        compactor.start();
    }

    AdminClient::new(channel(&urls[0]).await)
        .create_topic(CreateTopicRequest {
            name: TOPIC.into(),
            partitions: PARTITIONS,
            config: Some(TopicConfig::default()),
        })
        .await
        .expect("create topic");

    let hook = webhook::Webhook::start();
    let trigger = std::process::Command::new(env!("CARGO_BIN_EXE_stratus"))
        .args(["trigger", "create", "ship", "--topic", TOPIC])
        .args(["--webhook", &hook.url(), "--batching-window", "0s"])
        .args(["--server", &urls[1]])
        .output()
        .expect("run stratus trigger create");
    assert!(
        trigger.status.success(),
        "stratus trigger create: {}",
        String::from_utf8_lossy(&trigger.stderr)
    );
    let mut dispatcher = Proc::new(
        "dispatcher",
        vec![
            "dispatcher".into(),
            "--server".into(),
            servers.clone(),
            "--refresh".into(),
            "1s".into(),
        ],
        Vec::new(),
        "stratus dispatcher running",
        root.path(),
    );
    dispatcher.start();

    // Consumers and producers each start at a different gateway.
    let rotated = |start: usize| -> String {
        (0..GATEWAYS)
            .map(|i| urls[(start + i) % GATEWAYS].clone())
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut consumers: Vec<GroupConsumer> = (0..CONSUMERS)
        .map(|i| GroupConsumer::start(&rotated(i + 1), TOPIC, GROUP, &[]))
        .collect();
    let (stop, stopped) = watch::channel(false);
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            tokio::spawn(workload::produce(
                format!("p{p}"),
                urls.clone(),
                p,
                TOPIC.to_owned(),
                PARTITIONS,
                stopped.clone(),
            ))
        })
        .collect();
    let commits = tokio::spawn(workload::watch_commits(
        urls.clone(),
        GROUP.to_owned(),
        stopped.clone(),
    ));

    // Faults: one process at a time, SIGKILLed and restarted.
    let mut kills: BTreeMap<String, usize> = BTreeMap::new();
    let started = Instant::now();
    while started.elapsed() < chaos {
        tokio::time::sleep(rng.millis(1_000, 3_000)).await;
        let victim = (rng.next() % (GATEWAYS + COMPACTORS) as u64) as usize;
        let process = if victim < GATEWAYS {
            &mut gateways[victim]
        } else {
            &mut compactors[victim - GATEWAYS]
        };
        process.kill();
        *kills.entry(process.name.clone()).or_default() += 1;
        tokio::time::sleep(rng.millis(300, 2_500)).await;
        process.start();
    }
    stop.send(true).unwrap();
    let mut acked = BTreeMap::new();
    let (mut calls, mut failed_calls) = (0, 0);
    for producer in producers {
        let produced = producer.await.expect("producer");
        calls += produced.calls;
        failed_calls += produced.failed_calls;
        for (at, value) in produced.acked {
            assert!(
                acked.insert(at, value).is_none(),
                "two producers were acknowledged the same offset {at:?}"
            );
        }
    }
    let commits = commits.await.expect("commit watcher");
    assert!(
        acked.len() > 1_000,
        "too few records were acknowledged ({}) to test anything; {failed_calls} of {calls} \
         calls failed. gateway-0 log:\n{}",
        acked.len(),
        gateways[0].log_tail()
    );

    // The consumers and the trigger catch up on everything acknowledged.
    let deadline = Instant::now() + CATCH_UP;
    loop {
        let seen: BTreeSet<(u32, i64)> = consumers
            .iter()
            .flat_map(GroupConsumer::seen)
            .map(|s| (s.partition, s.offset))
            .collect();
        let delivered = hook.delivered.lock().unwrap().clone();
        let unseen = acked.keys().filter(|at| !seen.contains(at)).count();
        let undelivered = acked
            .keys()
            .filter(|at| !delivered.contains_key(at))
            .count();
        if unseen == 0 && undelivered == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "after {CATCH_UP:?}, {unseen} acknowledged records were never consumed by the group \
             and {undelivered} never reached the webhook (of {}). dispatcher log:\n{}",
            acked.len(),
            dispatcher.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for consumer in &mut consumers {
        consumer.terminate();
    }
    let consumed: Vec<_> = consumers.iter().flat_map(GroupConsumer::seen).collect();
    let distinct: BTreeSet<(u32, i64)> = consumed.iter().map(|s| (s.partition, s.offset)).collect();
    for seen in &consumed {
        if let Some(expected) = acked.get(&(seen.partition, seen.offset)) {
            assert_eq!(
                &seen.value, expected,
                "the group read another record at {}/{}",
                seen.partition, seen.offset
            );
        }
    }
    let delivered = hook.delivered.lock().unwrap().clone();
    let webhook_redelivered: usize = delivered.values().map(|n| n - 1).sum();
    dispatcher.terminate();
    {
        let commits = commits.lock().unwrap();
        assert!(
            commits.backwards.is_empty(),
            "committed offsets moved backwards within a generation:\n  {}",
            commits.backwards.join("\n  ")
        );
        assert!(
            commits.samples > 0,
            "the commit watcher never reached a gateway"
        );
    }

    // Quiesce the compactors, then check the log and the index.
    for compactor in &mut compactors {
        compactor.kill();
    }
    let mut consumer =
        ConsumerClient::new(channel(&urls[2]).await).max_decoding_message_size(usize::MAX);
    let figures = checks::check_log(&mut consumer, TOPIC, PARTITIONS, &acked).await;
    let listing: BTreeSet<String> = minio.list(BUCKET, "").into_iter().collect();
    let index = checks::check_index_objects(
        &postgres.url(),
        TOPIC,
        PARTITIONS,
        |tier| match tier {
            TierKind::Wal => "wal/".to_owned(),
            TierKind::Segment => "segments/".to_owned(),
        },
        &listing,
    )
    .await;
    let commits = commits.lock().unwrap();
    eprintln!(
        "multi_process: seed {seed:#x}, {:?} of faults; kills {kills:?} ({} in all); \
         {calls} produce calls, {failed_calls} failed; {} records acknowledged, {} stored \
         ({} stored from failed calls); group consumed {} records, {} distinct ({} \
         re-deliveries); webhook {} records, {webhook_redelivered} re-deliveries; \
         {} commit samples; index entries {index:?}; {} objects in the bucket",
        started.elapsed(),
        kills.values().sum::<usize>(),
        acked.len(),
        figures.stored,
        figures.unacknowledged_stored,
        consumed.len(),
        distinct.len(),
        consumed.len() - distinct.len(),
        delivered.len(),
        commits.samples,
        listing.len(),
    );
}
