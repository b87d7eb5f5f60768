//! The Prometheus `/metrics` endpoint of a real `stratus dev` process: its
//! counters match a workload exactly, its partition gauges follow the log,
//! and every query of the Grafana dashboard names a metric it exports.

mod obs;

use std::collections::BTreeSet;
use std::time::Duration;

use obs::{ObservedDev, Scrape};
use stratus_proto::v1::admin_client::AdminClient;
use stratus_proto::v1::consumer_client::ConsumerClient;
use stratus_proto::v1::groups_client::GroupsClient;
use stratus_proto::v1::producer_client::ProducerClient;
use stratus_proto::v1::{
    CommitOffsetsRequest, CreateTopicRequest, FetchRequest, JoinGroupRequest, OffsetCommit,
    PartitionRecords, ProduceRequest, Record,
};

const TOPIC: &str = "observed";
const PARTITIONS: u32 = 3;
/// The workload's consumer group commits offset 1 in partition 0.
const GROUP: &str = "observers";

/// What a workload did, to compare with the counters.
#[derive(Debug, Default)]
struct Workload {
    produce_calls: u64,
    records: u64,
    fetched: u64,
    fetch_calls: u64,
    not_found: u64,
    not_found_fetches: u64,
}

fn record(i: u64) -> Record {
    Record {
        key: None,
        value: Some(format!("value-{i}").into_bytes().into()),
        headers: Vec::new(),
        timestamp_ms: None,
    }
}

/// Produces calls of 1..=12 records spread over the partitions, one call to
/// a missing topic, then fetches every partition to its end.
async fn run_workload(server: &ObservedDev) -> Workload {
    let channel = server.channel().await;
    AdminClient::new(channel.clone())
        .create_topic(CreateTopicRequest {
            name: TOPIC.to_owned(),
            partitions: PARTITIONS,
            config: None,
        })
        .await
        .expect("create topic");
    let mut producer = ProducerClient::new(channel.clone());
    let mut done = Workload::default();
    for call in 0..40u64 {
        let count = call % 12 + 1;
        let records = (0..count).map(|i| record(done.records + i)).collect();
        producer
            .produce(ProduceRequest {
                topic: TOPIC.to_owned(),
                partitions: vec![PartitionRecords {
                    partition: (call % u64::from(PARTITIONS)) as u32,
                    records,
                    base_sequence: None,
                    record_batch: Default::default(),
                }],
                ..ProduceRequest::default()
            })
            .await
            .expect("produce");
        done.produce_calls += 1;
        done.records += count;
    }
    let missing = producer
        .produce(ProduceRequest {
            topic: "no-such-topic".to_owned(),
            records: vec![record(0)],
            ..ProduceRequest::default()
        })
        .await
        .expect_err("unknown topic");
    assert_eq!(missing.code(), tonic::Code::NotFound);
    done.not_found += 1;

    let mut consumer = ConsumerClient::new(channel);
    for partition in 0..PARTITIONS {
        let mut offset = 0;
        loop {
            let response = consumer
                .fetch(FetchRequest {
                    topic: TOPIC.to_owned(),
                    partition,
                    offset,
                    max_bytes: 1024,
                    max_wait_ms: 0,
                })
                .await
                .expect("fetch")
                .into_inner();
            done.fetch_calls += 1;
            if response.records.is_empty() {
                break;
            }
            done.fetched += response.records.len() as u64;
            offset = response.next_fetch_offset;
        }
    }
    assert_eq!(done.fetched, done.records);
    let missing = consumer
        .fetch(FetchRequest {
            topic: "no-such-topic".to_owned(),
            ..FetchRequest::default()
        })
        .await
        .expect_err("unknown topic");
    assert_eq!(missing.code(), tonic::Code::NotFound);
    done.not_found_fetches += 1;

    let mut groups = GroupsClient::new(server.channel().await);
    let member = groups
        .join_group(JoinGroupRequest {
            group: GROUP.to_owned(),
            topics: vec![TOPIC.to_owned()],
            ..JoinGroupRequest::default()
        })
        .await
        .expect("join")
        .into_inner()
        .member
        .expect("assignment");
    groups
        .commit_offsets(CommitOffsetsRequest {
            group: GROUP.to_owned(),
            member_id: member.member_id,
            generation: member.generation,
            offsets: vec![OffsetCommit {
                topic: TOPIC.to_owned(),
                partition: 0,
                offset: 1,
                metadata: String::new(),
            }],
        })
        .await
        .expect("commit");
    done
}

/// Scrapes until `ready` holds (observable gauges refresh on their own clock).
async fn scrape_until(server: &ObservedDev, ready: impl Fn(&Scrape) -> bool) -> Scrape {
    for _ in 0..100 {
        let scrape = server.scrape();
        if ready(&scrape) {
            return scrape;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.scrape()
}

#[tokio::test(flavor = "multi_thread")]
async fn counters_match_what_was_produced_and_fetched() {
    let dir = tempfile::tempdir().unwrap();
    let server = ObservedDev::start(
        dir.path(),
        &[("STRATUS_TELEMETRY__PARTITION_METRICS_INTERVAL", "1s")],
    );
    let done = run_workload(&server).await;
    let expected_next = done.records as f64;
    let scrape = scrape_until(&server, |s| {
        s.sum("stratus_partition_next_offset", &[("topic", TOPIC)]) == expected_next
            && s.has("stratus_group_lag")
    })
    .await;

    let ok = [("outcome", "ok")];
    assert_eq!(
        scrape.sum("stratus_produce_requests_total", &ok),
        done.produce_calls as f64
    );
    assert_eq!(
        scrape.sum("stratus_produce_requests_total", &[("outcome", "error")]),
        done.not_found as f64
    );
    assert_eq!(
        scrape.sum("stratus_produce_errors_total", &[("kind", "not_found")]),
        done.not_found as f64
    );
    assert_eq!(
        scrape.sum("stratus_produce_records_total", &[]),
        done.records as f64
    );
    assert_eq!(
        scrape.sum("stratus_produce_ack_seconds_count", &[]),
        done.produce_calls as f64,
        "one acknowledgement latency per successful call"
    );
    assert_eq!(
        scrape.sum("stratus_fetch_records_total", &[]),
        done.fetched as f64
    );
    assert_eq!(
        scrape.sum("stratus_fetch_requests_total", &ok),
        done.fetch_calls as f64
    );
    assert_eq!(
        scrape.sum("stratus_fetch_errors_total", &[("kind", "not_found")]),
        done.not_found_fetches as f64
    );
    assert_eq!(scrape.sum("stratus_flush_errors_total", &[]), 0.0);
    // Every acknowledged byte went out in a flush and one WAL PUT per flush.
    let flushes = scrape.sum("stratus_flush_bytes_count", &[]);
    assert!(flushes >= 1.0 && flushes <= done.produce_calls as f64);
    assert_eq!(scrape.sum("stratus_wal_put_seconds_count", &[]), flushes);
    assert_eq!(
        scrape.sum("stratus_metadata_commit_seconds_count", &[]),
        flushes
    );
    assert_eq!(
        scrape.sum("stratus_produce_bytes_total", &[]),
        scrape.sum("stratus_flush_bytes_sum", &[])
    );
    assert!(
        scrape.sum(
            "stratus_object_store_requests_total",
            &[("tier", "wal"), ("operation", "put")]
        ) >= flushes,
        "object-store PUTs include every flush"
    );
    let lookups = scrape.sum("stratus_chunk_cache_lookups_total", &[]);
    assert!(lookups >= 1.0, "fetches looked chunks up");
    assert_eq!(scrape.sum("stratus_inflight_bytes", &[]), 0.0);
    assert_eq!(
        scrape.sum("stratus_inflight_limit_bytes", &[]),
        268_435_456.0
    );
    assert_eq!(
        scrape.sum("stratus_partition_next_offset", &[("topic", TOPIC)]),
        expected_next
    );
    assert_eq!(
        scrape.sum("stratus_partition_log_start_offset", &[("topic", TOPIC)]),
        0.0
    );
    // Lag: the group's committed offset 1 against partition 0's end.
    let partition_0 = [("topic", TOPIC), ("partition", "0")];
    assert_eq!(
        scrape.sum(
            "stratus_group_lag",
            &[("group", GROUP), ("topic", TOPIC), ("partition", "0")]
        ),
        scrape.sum("stratus_partition_next_offset", &partition_0) - 1.0
    );
    server.terminate();
}

/// A Kafka classic-protocol group's committed offsets (here committed by a
/// confluent-kafka consumer that assigns its own partitions) are in
/// `stratus_group_lag` like any group's.
#[tokio::test(flavor = "multi_thread")]
async fn a_kafka_classic_groups_lag_is_exported() {
    let dir = tempfile::tempdir().unwrap();
    let server = ObservedDev::start(
        dir.path(),
        &[("STRATUS_TELEMETRY__PARTITION_METRICS_INTERVAL", "1s")],
    );
    run_workload(&server).await;
    let python = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/py-venv/kafka/bin/python"
    );
    assert!(
        std::path::Path::new(python).exists(),
        "{python} is missing; install the Kafka clients with scripts/install-kafka-clients"
    );
    let commit = format!(
        "from confluent_kafka import Consumer, TopicPartition\n\
         c = Consumer({{'bootstrap.servers': '{}', 'group.id': 'kafka-classic'}})\n\
         c.commit(offsets=[TopicPartition('{TOPIC}', 0, 1)], asynchronous=False)\n\
         c.close()\n",
        server.kafka
    );
    let status = std::process::Command::new(python)
        .args(["-c", &commit])
        .status()
        .expect("run python");
    assert!(status.success(), "the Kafka commit failed");
    let labels = [
        ("group", "kafka-classic"),
        ("topic", TOPIC),
        ("partition", "0"),
    ];
    let scrape = scrape_until(&server, |s| s.has_labels("stratus_group_lag", &labels)).await;
    let partition_0 = [("topic", TOPIC), ("partition", "0")];
    assert_eq!(
        scrape.sum("stratus_group_lag", &labels),
        scrape.sum("stratus_partition_next_offset", &partition_0) - 1.0
    );
    server.terminate();
}

/// Metric names a PromQL expression mentions (identifiers starting `stratus_`).
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(start) = rest.find("stratus_") {
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.push(tail[..end].to_owned());
        rest = &tail[end..];
    }
    names
}

fn collect_queries(value: &serde_json::Value, out: &mut Vec<(String, String)>) {
    let Some(panels) = value.get("panels").and_then(|p| p.as_array()) else {
        return;
    };
    for panel in panels {
        let title = panel["title"].as_str().unwrap_or_default().to_owned();
        if let Some(targets) = panel.get("targets").and_then(|t| t.as_array()) {
            assert!(!targets.is_empty(), "panel {title:?} has no query");
            for target in targets {
                let expr = target["expr"]
                    .as_str()
                    .unwrap_or_else(|| panic!("panel {title:?} has a target without expr"));
                out.push((title.clone(), expr.to_owned()));
            }
        } else if panel["type"] != "row" {
            panic!("panel {title:?} has no targets");
        }
        collect_queries(panel, out);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_dashboard_query_names_an_exported_metric() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/grafana/stratus.json");
    let text = std::fs::read_to_string(path).expect("read the dashboard");
    let dashboard: serde_json::Value = serde_json::from_str(&text).expect("dashboard is JSON");
    let mut queries = Vec::new();
    collect_queries(&dashboard, &mut queries);
    for variable in dashboard["templating"]["list"].as_array().unwrap() {
        if let Some(query) = variable["query"].as_str()
            && variable["type"] == "query"
        {
            queries.push((format!("variable {}", variable["name"]), query.to_owned()));
        }
    }
    assert!(
        queries.len() >= 10,
        "the dashboard has {} queries",
        queries.len()
    );

    let dir = tempfile::tempdir().unwrap();
    let server = ObservedDev::start(
        dir.path(),
        &[("STRATUS_TELEMETRY__PARTITION_METRICS_INTERVAL", "1s")],
    );
    run_workload(&server).await;
    let scrape = scrape_until(&server, |s| {
        s.has("stratus_partition_next_offset") && s.has("stratus_group_lag")
    })
    .await;
    let mut missing = BTreeSet::new();
    for (title, expr) in &queries {
        let names = metric_names(expr);
        assert!(
            !names.is_empty(),
            "panel {title:?}: {expr} names no stratus metric"
        );
        for name in names {
            if !scrape.has(&name) {
                missing.insert(format!("{title}: {name}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "dashboard queries name metrics the gateway does not export:\n  {}\nexported: {:?}",
        missing.into_iter().collect::<Vec<_>>().join("\n  "),
        scrape.families.keys().collect::<Vec<_>>()
    );
    server.terminate();
}

#[tokio::test(flavor = "multi_thread")]
async fn stratus_status_shows_the_workload() {
    let dir = tempfile::tempdir().unwrap();
    let server = ObservedDev::start(dir.path(), &[]);
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_stratus"))
        .args([
            "status",
            "--once",
            "--interval",
            "3s",
            "--metrics",
            &server.metrics,
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn stratus status");
    // Give the first scrape a moment, then produce inside the window.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let done = run_workload(&server).await;
    let output = status.wait_with_output().expect("stratus status");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let produced: f64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("produce"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no produce line in:\n{stdout}"));
    assert!(
        produced > 0.0 && produced <= done.records as f64,
        "produce rate {produced} for {} records in 3 s:\n{stdout}",
        done.records
    );
    for expected in [
        "ack      p50",
        "errors   produce: not_found",
        "inflight",
        "storage",
        "lag      ",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }

    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_stratus"))
        .args(["status", "--once", "--metrics", "ftp://127.0.0.1/metrics"])
        .output()
        .expect("stratus status");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("must start with http://"));
    server.terminate();
}
