//! Consumer groups across two gateways that share one metadata store and one
//! WAL tier, with real `stratus consume --group` processes as members.
//!
//! The gateways run in this test process, over one embedded (redb) store
//! opened once: redb is single-process, so two `stratus gateway` processes
//! cannot share it, and FoundationDB (the shared store in production) cannot
//! run on the test machines. Everything else is real: gRPC over loopback,
//! the durable redb file (reopened to restart every gateway), a `file://`
//! WAL tier, and consumers that are separate processes killed with SIGKILL.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::group_consumer::{GroupConsumer, Seen};
use stratus_gateway::{Gateway, GatewayConfig, GatewayHandle};
use stratus_meta::MetaStore;
use stratus_meta::redb_store::RedbMetaStore;
use stratus_proto::v1::admin_client::AdminClient;
use stratus_proto::v1::groups_client::GroupsClient;
use stratus_proto::v1::producer_client::ProducerClient;
use stratus_proto::v1::{
    CreateTopicRequest, DescribeGroupRequest, DescribeGroupResponse, FetchOffsetsRequest,
    PartitionRecords, ProduceRequest, Record,
};
use stratus_storage::log::{Log, LogConfig};
use stratus_tier::open_tier;
use tokio::sync::watch;
use tonic::transport::Channel;

const TOPIC: &str = "orders";
const GROUP: &str = "billing";
const PARTITIONS: u32 = 12;
const SESSION: Duration = Duration::from_secs(3);

/// Gateways over one metadata store and WAL tier in `dir`.
struct Cluster {
    dir: PathBuf,
    meta: Option<Arc<dyn MetaStore>>,
}

impl Cluster {
    fn open(dir: &Path) -> Self {
        let meta: Arc<dyn MetaStore> =
            Arc::new(RedbMetaStore::open(&dir.join("meta.redb")).expect("open redb"));
        Self {
            dir: dir.to_owned(),
            meta: Some(meta),
        }
    }

    async fn gateway(&self) -> GatewayHandle {
        let wal_dir = self.dir.join("wal");
        std::fs::create_dir_all(&wal_dir).unwrap();
        let wal = open_tier(&format!("file://{}", wal_dir.display())).expect("wal tier");
        let meta = Arc::clone(self.meta.as_ref().expect("store open"));
        let log = Arc::new(Log::new(meta, wal, &LogConfig::default()));
        let mut config = GatewayConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..GatewayConfig::default()
        };
        // Members talk gRPC; an in-process gateway has no certificate for QUIC.
        config.quic.enabled = false;
        Gateway::start(config, log).await.expect("start gateway")
    }

    /// Closes the store (every gateway must be shut down) and opens it again.
    async fn reopen(&mut self) {
        let meta = self.meta.take().expect("store open");
        // Connection tasks of a stopped server may take a moment to end.
        for _ in 0..100 {
            if Arc::strong_count(&meta) == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(
            Arc::strong_count(&meta),
            1,
            "a gateway still holds the store"
        );
        drop(meta);
        *self = Self::open(&self.dir.clone());
    }
}

fn url(handle: &GatewayHandle) -> String {
    format!("http://{}", handle.local_addr())
}

async fn channel(url: &str) -> Channel {
    Channel::from_shared(url.to_owned())
        .unwrap()
        .connect()
        .await
        .expect("connect")
}

/// Produces two records to every partition every 50 ms until told to stop;
/// returns every acknowledged value.
fn produce_continuously(
    url: String,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<Vec<String>> {
    tokio::spawn(async move {
        let mut producer = ProducerClient::new(channel(&url).await);
        let mut acked = Vec::new();
        let mut seq = 0u64;
        while !*stop.borrow() {
            let mut values = Vec::new();
            let partitions = (0..PARTITIONS)
                .map(|partition| PartitionRecords {
                    partition,
                    base_sequence: None,
                    record_batch: Default::default(),
                    records: (0..2)
                        .map(|_| {
                            seq += 1;
                            let value = format!("v{seq}");
                            values.push(value.clone());
                            Record {
                                value: Some(value.into_bytes().into()),
                                ..Record::default()
                            }
                        })
                        .collect(),
                })
                .collect();
            producer
                .produce(ProduceRequest {
                    topic: TOPIC.to_owned(),
                    partitions,
                    ..ProduceRequest::default()
                })
                .await
                .expect("produce");
            acked.extend(values);
            tokio::select! {
                _ = stop.changed() => {}
                () = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
        }
        acked
    })
}

async fn describe(url: &str) -> DescribeGroupResponse {
    try_describe(url).await.expect("describe group")
}

async fn try_describe(url: &str) -> Result<DescribeGroupResponse, tonic::Status> {
    GroupsClient::new(channel(url).await)
        .describe_group(DescribeGroupRequest {
            group: GROUP.to_owned(),
        })
        .await
        .map(tonic::Response::into_inner)
}

/// Waits until the group has `members` members, each holding its target.
async fn wait_stable(url: &str, members: usize) -> Duration {
    let start = Instant::now();
    loop {
        // The group exists once its first member joined.
        let Ok(d) = try_describe(url).await else {
            assert!(start.elapsed() < Duration::from_secs(60), "nobody joined");
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        if d.members.len() == members && d.state == "stable" {
            let held: usize = d
                .members
                .iter()
                .flat_map(|m| &m.assignment)
                .map(|tp| tp.partitions.len())
                .sum();
            if held == PARTITIONS as usize {
                return start.elapsed();
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "group never settled: {d:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// How often each (partition, offset) was printed, over all consumers.
fn deliveries(all: &[Vec<Seen>]) -> BTreeMap<(u32, i64), usize> {
    let mut count = BTreeMap::new();
    for seen in all {
        for s in seen {
            *count.entry((s.partition, s.offset)).or_default() += 1;
        }
    }
    count
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_two_gateways_kill_a_member_kill_a_gateway_restart_everything() {
    let dir = tempfile::tempdir().unwrap();
    let mut cluster = Cluster::open(dir.path());
    let (a, b) = (cluster.gateway().await, cluster.gateway().await);
    let (url_a, url_b) = (url(&a), url(&b));
    AdminClient::new(channel(&url_a).await)
        .create_topic(CreateTopicRequest {
            name: TOPIC.to_owned(),
            partitions: PARTITIONS,
            config: None,
        })
        .await
        .expect("create topic");

    let (stop, stopped) = watch::channel(false);
    let producer = produce_continuously(url_b.clone(), stopped);
    let session = format!("{}s", SESSION.as_secs());
    let extra = [
        "--session-timeout",
        session.as_str(),
        "--commit-interval",
        "300ms",
    ];
    // Two members reach the group through gateway A, one through B.
    let via_a = format!("{url_a},{url_b}");
    let via_b = format!("{url_b},{url_a}");
    let mut c1 = GroupConsumer::start(&via_a, TOPIC, GROUP, &extra);
    let mut c2 = GroupConsumer::start(&via_a, TOPIC, GROUP, &extra);
    let mut c3 = GroupConsumer::start(&via_b, TOPIC, GROUP, &extra);
    wait_stable(&url_b, 3).await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    // Steady state: every record so far went to exactly one member.
    let so_far = deliveries(&[c1.seen(), c2.seen(), c3.seen()]);
    assert!(
        so_far.len() > 500,
        "consumers made little progress: {}",
        so_far.len()
    );
    let twice: Vec<_> = so_far.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "records delivered more than once in steady state: {twice:?}"
    );
    for (name, c) in [("c1", &c1), ("c2", &c2), ("c3", &c3)] {
        let partitions: BTreeSet<u32> = c.seen().iter().map(|s| s.partition).collect();
        assert!(!partitions.is_empty(), "{name} got no partition");
    }

    // Kill one member: its partitions move once its session expires.
    c2.kill();
    let killed_at = Instant::now();
    let c2_seen = c2.seen();
    let c2_commits = c2.commits();
    wait_stable(&url_b, 2).await;
    println!(
        "partitions of the killed member moved after {:?} (session timeout {SESSION:?})",
        killed_at.elapsed()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Kill gateway A: c1 reaches the group through B from now on.
    a.shutdown().await;
    let c1_before = c1.seen().len();
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        c1.seen().len() > c1_before,
        "c1 stopped consuming when its gateway went away"
    );

    let _ = stop.send(true);
    let produced = producer.await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got: BTreeSet<String> = [c1.seen(), c2_seen.clone(), c3.seen()]
            .iter()
            .flatten()
            .map(|s| s.value.clone())
            .collect();
        if produced.iter().all(|v| got.contains(v)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} produced records never consumed",
            produced.iter().filter(|v| !got.contains(*v)).count(),
            produced.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The killed member's uncommitted window is re-delivered by its
    // partitions' new owners; wait until everything is committed.
    loop {
        let d = describe(&url_b).await;
        if d.partitions.len() == PARTITIONS as usize && d.partitions.iter().all(|p| p.lag == 0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the group never caught up: {d:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    c1.terminate();
    c3.terminate();

    // The union is what was produced, and only the killed member's
    // uncommitted window was delivered twice.
    let all = [c1.seen(), c2_seen.clone(), c3.seen()];
    let values: BTreeSet<&String> = all.iter().flatten().map(|s| &s.value).collect();
    let produced_set: BTreeSet<&String> = produced.iter().collect();
    assert_eq!(
        values, produced_set,
        "consumed set differs from produced set"
    );
    let mut window: BTreeMap<u32, (i64, i64)> = BTreeMap::new();
    for s in &c2_seen {
        let w = window.entry(s.partition).or_insert((s.offset, s.offset));
        w.0 = w.0.min(s.offset);
        w.1 = w.1.max(s.offset);
    }
    for (p, w) in &mut window {
        // Records at or after the last commit it reported were uncommitted.
        if let Some(committed) = c2_commits.get(p) {
            w.0 = w.0.max(*committed);
        }
    }
    let window_size: i64 = window
        .values()
        .map(|(from, to)| (to - from + 1).max(0))
        .sum();
    let counts = deliveries(&all);
    let redelivered: Vec<(u32, i64)> = counts
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(k, _)| *k)
        .collect();
    for (p, o) in &redelivered {
        let (from, to) = window.get(p).copied().unwrap_or((1, 0));
        assert!(
            (from..=to).contains(o),
            "{p}@{o} delivered twice outside the killed member's uncommitted window {from}..={to}"
        );
    }
    assert!(counts.values().all(|n| *n <= 2));
    println!(
        "re-deliveries after the kill: {} (uncommitted window {window_size} records)",
        redelivered.len()
    );
    assert!(redelivered.len() as i64 <= window_size);

    // Every member stopped cleanly after committing: nothing left to consume.
    let d = describe(&url_b).await;
    assert_eq!(d.state, "empty");
    assert!(
        d.partitions
            .iter()
            .all(|p| p.lag == 0 && p.committed_offset == p.next_offset),
        "{d:?}"
    );
    let before = GroupsClient::new(channel(&url_b).await)
        .fetch_offsets(FetchOffsetsRequest {
            group: GROUP.to_owned(),
            topics: vec![],
        })
        .await
        .unwrap()
        .into_inner()
        .offsets;
    assert_eq!(before.len(), PARTITIONS as usize);

    // Restart every gateway (and the store under them): offsets survive.
    b.shutdown().await;
    cluster.reopen().await;
    let (a2, b2) = (cluster.gateway().await, cluster.gateway().await);
    for gateway in [&a2, &b2] {
        let after = GroupsClient::new(channel(&url(gateway)).await)
            .fetch_offsets(FetchOffsetsRequest {
                group: GROUP.to_owned(),
                topics: vec![],
            })
            .await
            .unwrap()
            .into_inner()
            .offsets;
        let key = |o: &stratus_proto::v1::CommittedOffset| (o.partition, o.offset);
        assert_eq!(
            after.iter().map(key).collect::<Vec<_>>(),
            before.iter().map(key).collect::<Vec<_>>()
        );
    }
    a2.shutdown().await;
    b2.shutdown().await;
}
