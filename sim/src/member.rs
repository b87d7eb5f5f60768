//! A simulated consumer-group member: joins through a random gateway,
//! heartbeats, reads its partitions from the group's committed offsets and
//! commits after each read, as an at-least-once consumer does. The nemesis
//! kills it (its task ends mid-operation, its session lapses) and starts a
//! new incarnation under a new member id.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use stratus_storage::group::{Assignment, CommitOffset, JoinSpec, MemberState, Strategy};
use stratus_storage::ids::now_ms;
use stratus_storage::log::LogError;

use crate::cluster::Cluster;
use crate::history::Event;

/// The group every member joins.
pub const GROUP: &str = "sim-group";
/// A member's session: missed heartbeats for this long remove it.
const SESSION_TIMEOUT_MS: i64 = 3_000;

/// Runs member `index`, incarnation `incarnation`, until its task is aborted.
pub async fn run_member(cluster: Arc<Cluster>, index: usize, incarnation: u32) {
    let member = format!("m{index}-{incarnation}");
    let seed = cluster.config.seed ^ (u64::from(incarnation) << 32) ^ (2000 + index as u64);
    let mut rng = StdRng::seed_from_u64(seed);
    let topic = cluster.topic.name.clone();
    let mut state: Option<MemberState> = None;
    let mut positions: BTreeMap<u32, i64> = BTreeMap::new();
    loop {
        tokio::time::sleep(Duration::from_millis(rng.random_range(100..=400))).await;
        let Some(gateway) = cluster.pick_gateway(&mut rng) else {
            continue;
        };
        let owned = state
            .as_ref()
            .map(|s| s.assignment.clone())
            .unwrap_or_default();
        let answer = match &state {
            None => {
                let spec = JoinSpec {
                    member_id: Some(member.clone()),
                    client_id: "sim".into(),
                    topics: vec![topic.clone()],
                    session_timeout_ms: SESSION_TIMEOUT_MS,
                    strategy: Strategy::Sticky,
                    owned: Assignment::new(),
                    await_missing_topics: false,
                    topic_regex: None,
                    instance_id: None,
                };
                gateway.groups.join(GROUP, &spec, now_ms()).await
            }
            Some(s) => {
                gateway
                    .groups
                    .heartbeat(GROUP, &s.member_id, &owned, now_ms())
                    .await
            }
        };
        let next = match answer {
            Ok(next) => next,
            Err(stratus_storage::group::GroupError::UnknownMember { .. }) => {
                // Removed (its session lapsed): start over from committed offsets.
                state = None;
                positions.clear();
                continue;
            }
            Err(_) => continue,
        };
        let mine: Vec<u32> = next.assignment.get(&topic).cloned().unwrap_or_default();
        cluster.history.record(Event::Assigned {
            member: member.clone(),
            generation: next.generation,
            partitions: mine.clone(),
        });
        positions.retain(|p, _| mine.contains(p));
        let generation = next.generation;
        state = Some(next);
        for partition in mine {
            let from = match positions.get(&partition) {
                Some(at) => *at,
                None => {
                    let Ok(committed) = gateway
                        .groups
                        .committed(GROUP, std::slice::from_ref(&topic))
                        .await
                    else {
                        continue;
                    };
                    committed
                        .iter()
                        .find(|c| c.partition == partition)
                        .map_or(0, |c| c.record.offset)
                }
            };
            let read_started = cluster.history.next_seq();
            let read = match gateway
                .log
                .read(&cluster.topic, partition, from, 4096)
                .await
            {
                Ok(read) => read,
                Err(e) => {
                    cluster.history.record(Event::ReadFailed {
                        reader: member.clone(),
                        partition,
                        offset: from,
                        missing_object: is_missing_object(&e),
                        error: e.to_string(),
                    });
                    continue;
                }
            };
            for record in &read.records {
                let value = record
                    .value
                    .as_ref()
                    .map(|v| String::from_utf8_lossy(v).into_owned())
                    .unwrap_or_default();
                cluster.history.record(Event::Delivered {
                    member: member.clone(),
                    generation,
                    partition,
                    offset: record.offset,
                    value,
                    read_started,
                });
            }
            positions.insert(partition, read.next_offset);
            if read.records.is_empty() {
                continue;
            }
            let commit = CommitOffset {
                topic: topic.clone(),
                partition,
                offset: read.next_offset,
                metadata: String::new(),
            };
            if gateway
                .groups
                .commit(GROUP, &member, generation, &[commit], now_ms())
                .await
                .is_ok()
            {
                cluster.history.record(Event::OffsetCommitted {
                    member: member.clone(),
                    generation,
                    partition,
                    offset: read.next_offset,
                });
            }
        }
    }
}

/// Whether a read failed because an object the index names is gone.
fn is_missing_object(e: &LogError) -> bool {
    matches!(
        e,
        LogError::ObjectStore {
            source: object_store::Error::NotFound { .. },
            ..
        }
    )
}
