//! The membership task against a fake coordinator, in paused time: auto-commit
//! keeps its own interval, whatever heartbeat interval the gateway asks for.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use stratus_proto::v1::*;
use tokio::time::Instant;
use tonic::Status;

use super::membership::{self, Shared};
use super::{GroupConfig, TopicPartition};
use crate::transport::Transport;

/// The heartbeat interval a gateway gives under its default 10 s session.
const HEARTBEAT_INTERVAL_MS: u32 = 3_333;
const COMMIT_INTERVAL: Duration = Duration::from_secs(1);

/// A coordinator with one member owning `t/0`; it records when commits came.
#[derive(Debug, Default)]
struct Coordinator {
    commits: Mutex<Vec<Instant>>,
    heartbeats: Mutex<u32>,
}

fn assignment() -> MemberAssignment {
    MemberAssignment {
        member_id: "m1".into(),
        generation: 1,
        assignment: vec![TopicPartitions {
            topic: "t".into(),
            partitions: vec![0],
        }],
        session_timeout_ms: 10_000,
        heartbeat_interval_ms: HEARTBEAT_INTERVAL_MS,
        ..MemberAssignment::default()
    }
}

fn unused<T>() -> Result<T, Status> {
    Err(Status::unimplemented("not part of the fake coordinator"))
}

#[async_trait]
impl Transport for Coordinator {
    async fn create_topic(&self, _: CreateTopicRequest) -> Result<CreateTopicResponse, Status> {
        unused()
    }
    async fn delete_topic(&self, _: DeleteTopicRequest) -> Result<DeleteTopicResponse, Status> {
        unused()
    }
    async fn list_topics(&self, _: ListTopicsRequest) -> Result<ListTopicsResponse, Status> {
        unused()
    }
    async fn describe_topic(
        &self,
        _: DescribeTopicRequest,
    ) -> Result<DescribeTopicResponse, Status> {
        unused()
    }
    async fn create_partitions(
        &self,
        _: CreatePartitionsRequest,
    ) -> Result<CreatePartitionsResponse, Status> {
        unused()
    }
    async fn alter_topic_config(
        &self,
        _: AlterTopicConfigRequest,
    ) -> Result<AlterTopicConfigResponse, Status> {
        unused()
    }
    async fn delete_records(
        &self,
        _: DeleteRecordsRequest,
    ) -> Result<DeleteRecordsResponse, Status> {
        unused()
    }
    async fn init_producer_id(
        &self,
        _: InitProducerIdRequest,
    ) -> Result<InitProducerIdResponse, Status> {
        unused()
    }
    async fn produce(&self, _: ProduceRequest) -> Result<ProduceResponse, Status> {
        unused()
    }
    async fn fetch(&self, _: FetchRequest) -> Result<FetchResponse, Status> {
        unused()
    }
    async fn list_offsets(&self, _: ListOffsetsRequest) -> Result<ListOffsetsResponse, Status> {
        unused()
    }
    async fn join_group(&self, _: JoinGroupRequest) -> Result<JoinGroupResponse, Status> {
        Ok(JoinGroupResponse {
            member: Some(assignment()),
        })
    }
    async fn heartbeat(&self, _: HeartbeatRequest) -> Result<HeartbeatResponse, Status> {
        *self.heartbeats.lock().unwrap() += 1;
        Ok(HeartbeatResponse {
            member: Some(assignment()),
        })
    }
    async fn leave_group(&self, _: LeaveGroupRequest) -> Result<LeaveGroupResponse, Status> {
        Ok(LeaveGroupResponse::default())
    }
    async fn commit_offsets(
        &self,
        _: CommitOffsetsRequest,
    ) -> Result<CommitOffsetsResponse, Status> {
        self.commits.lock().unwrap().push(Instant::now());
        Ok(CommitOffsetsResponse::default())
    }
    async fn fetch_offsets(&self, _: FetchOffsetsRequest) -> Result<FetchOffsetsResponse, Status> {
        Ok(FetchOffsetsResponse {
            offsets: vec![CommittedOffset {
                topic: "t".into(),
                partition: 0,
                offset: 0,
                ..CommittedOffset::default()
            }],
        })
    }
}

#[tokio::test(start_paused = true)]
async fn auto_commit_keeps_its_interval_when_heartbeats_are_slower() {
    let coordinator = Arc::new(Coordinator::default());
    let mut config = GroupConfig::new("g", ["t"]);
    config.auto_commit = Some(COMMIT_INTERVAL);
    let shared = Arc::new(Shared::new(coordinator.clone(), config));
    shared.join().await.unwrap();
    let task = tokio::spawn(membership::run(Arc::clone(&shared)));
    let started = Instant::now();
    let tp = TopicPartition {
        topic: "t".into(),
        partition: 0,
    };
    // The application processes a record every 100 ms for 10 s.
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut state = shared.state();
        let pos = state.owned.get_mut(&tp).expect("t/0 is owned");
        pos.next += 1;
        pos.processed = pos.next;
    }
    task.abort();
    let commits = coordinator.commits.lock().unwrap().clone();
    let heartbeats = *coordinator.heartbeats.lock().unwrap();
    assert!(
        (2..=3).contains(&heartbeats),
        "{heartbeats} heartbeats in 10 s at the gateway's 3.3 s interval"
    );
    assert!(
        commits.len() >= 9,
        "{} commits in 10 s with a 1 s commit interval (committing at heartbeats gives 3)",
        commits.len()
    );
    let mut previous = started;
    for at in commits {
        let gap = at - previous;
        assert!(
            gap <= COMMIT_INTERVAL + Duration::from_millis(150),
            "{gap:?} between commits; the commit interval is {COMMIT_INTERVAL:?}"
        );
        previous = at;
    }
}
