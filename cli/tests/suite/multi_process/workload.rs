//! What the clients do while processes die: producers that fail over from
//! gateway to gateway and remember every acknowledgement, and a watcher of
//! the consumer group's committed offsets.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use stratus_proto::v1::groups_client::GroupsClient;
use stratus_proto::v1::producer_client::ProducerClient;
use stratus_proto::v1::{FetchOffsetsRequest, PartitionRecords, ProduceRequest, Record};
use tokio::sync::watch;
use tonic::transport::{Channel, Endpoint};

/// A call's deadline: a gateway cut off mid-call must not hang a producer.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
const RECORDS_PER_CALL: usize = 10;

/// What one producer saw.
#[derive(Debug, Default)]
pub(super) struct Produced {
    /// (partition, offset) -> value, for every acknowledged record.
    pub(super) acked: BTreeMap<(u32, i64), String>,
    /// Calls that failed: their records may or may not be stored.
    pub(super) failed_calls: usize,
    pub(super) calls: usize,
}

async fn connect(url: &str) -> Option<Channel> {
    Endpoint::from_shared(url.to_owned())
        .ok()?
        .connect_timeout(Duration::from_secs(1))
        .timeout(CALL_TIMEOUT)
        .connect()
        .await
        .ok()
}

/// Produces to `partitions` round-robin through gateway `gateways[start]`,
/// moving to the next gateway whenever a call fails, until `stop`. Every
/// value is new (never resent), so a value stored twice is the cluster's
/// duplicate, not the producer's retry.
pub(super) async fn produce(
    name: String,
    gateways: Vec<String>,
    start: usize,
    topic: String,
    partitions: u32,
    stop: watch::Receiver<bool>,
) -> Produced {
    let mut out = Produced::default();
    let mut at = start;
    let mut client: Option<ProducerClient<Channel>> = None;
    let mut seq = 0usize;
    while !*stop.borrow() {
        let Some(producer) = client.as_mut() else {
            match connect(&gateways[at % gateways.len()]).await {
                Some(channel) => client = Some(ProducerClient::new(channel)),
                None => {
                    at += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            continue;
        };
        let partition = (seq % partitions as usize) as u32;
        let values: Vec<String> = (0..RECORDS_PER_CALL)
            .map(|i| format!("{name}-s{seq}-{i}"))
            .collect();
        seq += 1;
        let request = ProduceRequest {
            topic: topic.clone(),
            partitions: vec![PartitionRecords {
                partition,
                base_sequence: None,
                record_batch: Default::default(),
                records: values
                    .iter()
                    .map(|v| Record {
                        value: Some(Bytes::from(v.clone())),
                        ..Record::default()
                    })
                    .collect(),
            }],
            ..ProduceRequest::default()
        };
        out.calls += 1;
        match producer.produce(request).await {
            Ok(response) => {
                for ack in response.into_inner().partitions {
                    assert_eq!(ack.partition, partition);
                    assert_eq!(ack.record_count as usize, RECORDS_PER_CALL);
                    for (i, value) in values.iter().enumerate() {
                        let previous = out
                            .acked
                            .insert((partition, ack.base_offset + i as i64), value.clone());
                        assert!(
                            previous.is_none(),
                            "{partition}/{} acknowledged twice",
                            ack.base_offset + i as i64
                        );
                    }
                }
            }
            Err(_) => {
                out.failed_calls += 1;
                client = None;
                at += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    out
}

/// What the watcher of committed offsets saw.
#[derive(Debug, Default)]
pub(super) struct Commits {
    pub(super) samples: usize,
    /// Per partition: (generation, offset) last seen.
    pub(super) last: BTreeMap<u32, (i64, i64)>,
    /// Commits that went below an earlier one of the same generation.
    pub(super) backwards: Vec<String>,
}

/// Reads the group's committed offsets through any gateway that answers,
/// every 100 ms until `stop`, and records every offset that moved backwards
/// while its generation stayed the same.
pub(super) async fn watch_commits(
    gateways: Vec<String>,
    group: String,
    stop: watch::Receiver<bool>,
) -> Arc<Mutex<Commits>> {
    let commits = Arc::new(Mutex::new(Commits::default()));
    let mut at = 0;
    let mut client: Option<GroupsClient<Channel>> = None;
    while !*stop.borrow() {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let Some(groups) = client.as_mut() else {
            client = connect(&gateways[at % gateways.len()])
                .await
                .map(GroupsClient::new);
            at += 1;
            continue;
        };
        let request = FetchOffsetsRequest {
            group: group.clone(),
            topics: vec![],
        };
        let Ok(response) = groups.fetch_offsets(request).await else {
            client = None;
            continue;
        };
        let mut seen = commits.lock().unwrap();
        seen.samples += 1;
        for committed in response.into_inner().offsets {
            let now = (committed.generation, committed.offset);
            if let Some(before) = seen.last.insert(committed.partition, now)
                && before.0 == now.0
                && now.1 < before.1
            {
                seen.backwards.push(format!(
                    "partition {} generation {}: committed {} after {}",
                    committed.partition, now.0, now.1, before.1
                ));
            }
        }
    }
    commits
}
