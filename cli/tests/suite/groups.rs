//! Consumer groups against a real `stratus dev` process: committed offsets
//! survive a restart, `stratus group reset-offsets|describe|list|delete`,
//! fencing of stale members, and independence of groups on one topic.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::group_consumer::GroupConsumer;
use crate::common::{DevServer, create_topic};
use stratus_proto::v1::groups_client::GroupsClient;
use stratus_proto::v1::{
    CommitOffsetsRequest, FetchOffsetsRequest, HeartbeatRequest, JoinGroupRequest,
    LeaveGroupRequest, OffsetCommit, PartitionRecords, ProduceRequest, Record, TopicPartitions,
};
use tonic::Code;
use tonic::transport::Channel;

/// Runs the `stratus` binary; returns (success, stdout, stderr).
fn stratus(server: &DevServer, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_stratus"))
        .args(args)
        .args(["--server", &server.url])
        .output()
        .expect("run stratus");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Ten records to each of 3 partitions at `timestamp_ms`, values `{tag}-{p}-{i}`.
async fn produce(server: &DevServer, topic: &str, tag: &str, timestamp_ms: i64) {
    let partitions = (0..3)
        .map(|p| PartitionRecords {
            partition: p,
            base_sequence: None,
            record_batch: Default::default(),
            records: (0..10)
                .map(|i| Record {
                    value: Some(format!("{tag}-{p}-{i}").into_bytes().into()),
                    timestamp_ms: Some(timestamp_ms),
                    ..Record::default()
                })
                .collect(),
        })
        .collect();
    server
        .producer()
        .await
        .produce(ProduceRequest {
            topic: topic.to_owned(),
            partitions,
            ..ProduceRequest::default()
        })
        .await
        .expect("produce");
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn groups(server: &DevServer) -> GroupsClient<Channel> {
    GroupsClient::new(server.channel().await)
}

/// Committed offset per partition.
async fn committed(server: &DevServer, group: &str) -> BTreeMap<u32, i64> {
    groups(server)
        .await
        .fetch_offsets(FetchOffsetsRequest {
            group: group.to_owned(),
            topics: vec![],
        })
        .await
        .expect("fetch offsets")
        .into_inner()
        .offsets
        .into_iter()
        .map(|o| (o.partition, o.offset))
        .collect()
}

/// Consumes `n` records with a fresh member of `group` and returns their values, sorted.
fn consume_n(server: &DevServer, topic: &str, group: &str, n: usize) -> Vec<String> {
    let mut consumer = GroupConsumer::start(&server.url, topic, group, &["-n", &n.to_string()]);
    consumer.wait();
    let mut values: Vec<String> = consumer.seen().into_iter().map(|s| s.value).collect();
    values.sort();
    values
}

fn all(topic_tag: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = topic_tag
        .iter()
        .flat_map(|tag| (0..3).flat_map(move |p| (0..10).map(move |i| format!("{tag}-{p}-{i}"))))
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_survive_a_restart_and_reset_offsets_moves_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = DevServer::start(dir.path());
    create_topic(&server, "events", 3, None).await;
    // Recent timestamps: the in-process compactor's retention would remove 1970 ones.
    let now = now_ms();
    produce(&server, "events", "old", now - 60_000).await;
    produce(&server, "events", "new", now).await;

    assert_eq!(consume_n(&server, "events", "g", 60), all(&["new", "old"]));
    let (ok, out, err) = stratus(&server, &["group", "describe", "g"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("state empty") && out.contains("total lag 0"),
        "{out}"
    );

    server.terminate();
    server = DevServer::start(dir.path());
    assert_eq!(
        committed(&server, "g").await,
        BTreeMap::from([(0, 20), (1, 20), (2, 20)])
    );
    let (ok, out, _) = stratus(&server, &["group", "list"]);
    assert!(ok && out.lines().any(|l| l.starts_with("g ")), "{out}");

    // While a member is live, offsets cannot be reset.
    let mut live = GroupConsumer::start(&server.url, "events", "g", &[]);
    let start = Instant::now();
    while !stratus(&server, &["group", "describe", "g"])
        .1
        .contains("state stable")
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the member never joined"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (ok, _, err) = stratus(
        &server,
        &[
            "group",
            "reset-offsets",
            "g",
            "--topic",
            "events",
            "--to",
            "earliest",
        ],
    );
    assert!(!ok && err.contains("active members"), "{err}");
    live.terminate();

    let reset = |to: &[&str]| {
        let mut args = vec!["group", "reset-offsets", "g", "--topic", "events"];
        args.extend_from_slice(to);
        let (ok, out, err) = stratus(&server, &args);
        assert!(ok, "reset {to:?}: {err}");
        out
    };
    reset(&["--to", "earliest"]);
    assert_eq!(
        committed(&server, "g").await,
        BTreeMap::from([(0, 0), (1, 0), (2, 0)])
    );
    assert_eq!(consume_n(&server, "events", "g", 60), all(&["new", "old"]));

    let at = now.to_string();
    reset(&["--to", "timestamp", "--timestamp", &at]);
    assert_eq!(
        committed(&server, "g").await,
        BTreeMap::from([(0, 10), (1, 10), (2, 10)])
    );
    assert_eq!(consume_n(&server, "events", "g", 30), all(&["new"]));

    let out = reset(&[
        "--to",
        "offset",
        "--offset",
        "5",
        "--partition",
        "1",
        "--dry-run",
    ]);
    assert!(
        out.contains("events/1@5") && out.contains("dry run"),
        "{out}"
    );
    assert_eq!(
        committed(&server, "g").await,
        BTreeMap::from([(0, 20), (1, 20), (2, 20)])
    );
    reset(&["--to", "offset", "--offset", "5", "--partition", "1"]);
    assert_eq!(
        committed(&server, "g").await,
        BTreeMap::from([(0, 20), (1, 5), (2, 20)])
    );
    reset(&["--to", "latest"]);
    assert_eq!(
        committed(&server, "g").await,
        BTreeMap::from([(0, 20), (1, 20), (2, 20)])
    );

    let (ok, out, err) = stratus(&server, &["group", "delete", "g"]);
    assert!(ok, "{err}");
    assert!(out.contains("deleted group g"));
    let (ok, _, err) = stratus(&server, &["group", "describe", "g"]);
    assert!(!ok && err.contains("not found"), "{err}");
}

fn join(group: &str, member: &str, session_ms: u32) -> JoinGroupRequest {
    JoinGroupRequest {
        group: group.to_owned(),
        member_id: member.to_owned(),
        client_id: "test".to_owned(),
        topics: vec!["t".to_owned()],
        session_timeout_ms: session_ms,
        ..JoinGroupRequest::default()
    }
}

fn commit(member: &str, generation: i64, partition: u32, offset: i64) -> CommitOffsetsRequest {
    CommitOffsetsRequest {
        group: "g".to_owned(),
        member_id: member.to_owned(),
        generation,
        offsets: vec![OffsetCommit {
            topic: "t".to_owned(),
            partition,
            offset,
            metadata: String::new(),
        }],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_members_are_fenced_and_groups_on_one_topic_are_independent() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    create_topic(&server, "t", 3, None).await;
    let mut client = groups(&server).await;

    let a = client
        .join_group(join("g", "a", 0))
        .await
        .unwrap()
        .into_inner()
        .member
        .unwrap();
    let owned = a.assignment.clone();
    let hb = |member: &str, generation: i64, owned: Vec<TopicPartitions>| HeartbeatRequest {
        group: "g".to_owned(),
        member_id: member.to_owned(),
        generation,
        owned,
    };
    client
        .heartbeat(hb("a", a.generation, owned.clone()))
        .await
        .unwrap();
    let b = client
        .join_group(join("g", "b", 0))
        .await
        .unwrap()
        .into_inner()
        .member
        .unwrap();
    assert!(b.generation > a.generation);
    // a learns of the rebalance in its heartbeat; a commit that still carries
    // its old generation (a stale consumer instance) is refused and told to rejoin.
    let a2 = client
        .heartbeat(hb("a", a.generation, owned))
        .await
        .unwrap()
        .into_inner()
        .member
        .unwrap();
    assert_eq!(a2.generation, b.generation);
    let held = a2.assignment[0].partitions[0];
    let err = client
        .commit_offsets(commit("a", a.generation, held, 1))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("rejoin"), "{}", err.message());
    // With the current generation it may commit what it holds.
    client
        .commit_offsets(commit("a", a2.generation, held, 1))
        .await
        .unwrap();

    // A member whose session expired is removed by another's heartbeat; its commit is refused.
    let c = client
        .join_group(join("g", "c", 1000))
        .await
        .unwrap()
        .into_inner()
        .member
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    client
        .heartbeat(hb("a", a2.generation, vec![]))
        .await
        .unwrap();
    let err = client
        .commit_offsets(commit("c", c.generation, 0, 1))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("rejoin"), "{}", err.message());

    // A session timeout outside the gateway's bounds is refused, naming them.
    let err = client.join_group(join("g", "d", 10)).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("session timeout"),
        "{}",
        err.message()
    );
    for member in ["a", "b"] {
        client
            .leave_group(LeaveGroupRequest {
                group: "g".to_owned(),
                member_id: member.to_owned(),
            })
            .await
            .unwrap();
    }

    // Two groups on one topic each get every record and keep their own offsets.
    produce(&server, "t", "x", now_ms()).await;
    assert_eq!(consume_n(&server, "t", "one", 30), all(&["x"]));
    assert_eq!(consume_n(&server, "t", "two", 30), all(&["x"]));
    let (ok, _, err) = stratus(
        &server,
        &[
            "group",
            "reset-offsets",
            "one",
            "--topic",
            "t",
            "--to",
            "earliest",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(
        committed(&server, "one").await,
        BTreeMap::from([(0, 0), (1, 0), (2, 0)])
    );
    assert_eq!(
        committed(&server, "two").await,
        BTreeMap::from([(0, 10), (1, 10), (2, 10)])
    );
}
