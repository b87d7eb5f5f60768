//! The `Groups` service: consumer group membership, offsets and admin, over
//! the group state in metadata (`stratus_storage::group`). Any gateway serves
//! any member; nothing here is kept between calls.

use std::collections::BTreeMap;
use std::time::Duration;

use stratus_proto::v1::groups_server::Groups as GroupsApi;
use stratus_proto::v1::{
    AssignmentStrategy, CommitOffsetsRequest, CommitOffsetsResponse, CommittedOffset,
    DeleteGroupRequest, DeleteGroupResponse, DescribeGroupRequest, DescribeGroupResponse,
    FetchOffsetsRequest, FetchOffsetsResponse, GroupMember, GroupSummary, HeartbeatRequest,
    HeartbeatResponse, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest, LeaveGroupResponse,
    ListGroupsRequest, ListGroupsResponse, MemberAssignment, PartitionLag, ResetOffsetsRequest,
    ResetOffsetsResponse, ResetTo, TopicPartitions,
};
use stratus_storage::group::{
    Assignment, CommitOffset, Committed, GroupDescription, JoinSpec, MemberState, Strategy,
};
use stratus_storage::log::{LogError, OffsetQuery, now_ms};
use stratus_storage::topic::TopicRecord;
use tonic::{Request, Response, Status};

use super::classic_groups::protocol_of;
use super::convert::partitions_or_all;
use crate::core::GatewayCore;
use crate::error::GatewayError;
use crate::limits::HEARTBEATS_PER_SESSION;

#[derive(Debug)]
pub(crate) struct GroupsService(pub(crate) GatewayCore);

fn strategy(wire: i32) -> Result<Strategy, GatewayError> {
    match AssignmentStrategy::try_from(wire) {
        Ok(AssignmentStrategy::Unspecified | AssignmentStrategy::Sticky) => Ok(Strategy::Sticky),
        Ok(AssignmentStrategy::Range) => Ok(Strategy::Range),
        Err(_) => Err(GatewayError::InvalidArgument(format!(
            "assignment strategy {wire} is unknown; use STICKY or RANGE"
        ))),
    }
}

fn wire_strategy(strategy: Strategy) -> i32 {
    match strategy {
        Strategy::Sticky => AssignmentStrategy::Sticky as i32,
        Strategy::Range => AssignmentStrategy::Range as i32,
    }
}

fn assignment(wire: Vec<TopicPartitions>) -> Assignment {
    let mut out = Assignment::new();
    for tp in wire {
        out.entry(tp.topic).or_default().extend(tp.partitions);
    }
    out
}

fn wire_assignment(a: &Assignment) -> Vec<TopicPartitions> {
    a.iter()
        .map(|(topic, partitions)| TopicPartitions {
            topic: topic.clone(),
            partitions: partitions.clone(),
        })
        .collect()
}

fn member_assignment(state: MemberState) -> MemberAssignment {
    let session = u32::try_from(state.session_timeout_ms).unwrap_or(u32::MAX);
    MemberAssignment {
        member_id: state.member_id,
        generation: state.generation,
        assignment: wire_assignment(&state.assignment),
        pending: wire_assignment(&state.pending),
        session_timeout_ms: session,
        heartbeat_interval_ms: (session / HEARTBEATS_PER_SESSION).max(1),
        strategy: wire_strategy(state.strategy),
    }
}

fn wire_committed(c: Committed) -> CommittedOffset {
    CommittedOffset {
        topic: c.topic,
        partition: c.partition,
        offset: c.record.offset,
        metadata: c.record.metadata,
        generation: c.record.generation,
        committed_at_ms: c.record.committed_ms,
    }
}

impl GroupsService {
    /// The session timeout a join asks for, within the configured bounds.
    fn session_timeout(&self, requested_ms: u32) -> Result<i64, GatewayError> {
        let limits = self.0.group_limits();
        if requested_ms == 0 {
            return Ok(limits.default_session_timeout.as_millis() as i64);
        }
        let requested = Duration::from_millis(requested_ms.into());
        if requested < limits.min_session_timeout || requested > limits.max_session_timeout {
            return Err(GatewayError::InvalidArgument(format!(
                "session timeout {requested:?} is outside this gateway's bounds {:?}..={:?}; \
                 ask for one within them (or raise groups.max_session_timeout / lower groups.min_session_timeout)",
                limits.min_session_timeout, limits.max_session_timeout
            )));
        }
        Ok(i64::from(requested_ms))
    }

    /// Partition lag and owner for every partition of the group's topics.
    pub(super) async fn lag(
        &self,
        description: &GroupDescription,
    ) -> Result<Vec<PartitionLag>, GatewayError> {
        let mut owners: BTreeMap<(&str, u32), &str> = BTreeMap::new();
        for member in &description.members {
            for (topic, partitions) in &member.assigned {
                for p in partitions {
                    owners.insert((topic.as_str(), *p), member.member_id.as_str());
                }
            }
        }
        let committed: BTreeMap<(&str, u32), i64> = description
            .offsets
            .iter()
            .map(|c| ((c.topic.as_str(), c.partition), c.record.offset))
            .collect();
        let mut topics: Vec<&str> = description
            .record
            .partitions
            .keys()
            .map(String::as_str)
            .collect();
        topics.extend(description.offsets.iter().map(|c| c.topic.as_str()));
        topics.sort_unstable();
        topics.dedup();
        let mut out = Vec::new();
        for name in topics {
            let topic = match self.0.topics().cached(name).await {
                Ok(topic) => topic,
                // A deleted topic has no lag to show.
                Err(GatewayError::Log(LogError::TopicNotFound { .. })) => continue,
                Err(e) => return Err(e),
            };
            for (partition, state) in self.0.topics().partition_states(&topic).await? {
                let committed_offset = committed.get(&(name, partition)).copied();
                let start = state.log_start_offset;
                let from = committed_offset.unwrap_or(start).max(start);
                out.push(PartitionLag {
                    topic: name.to_owned(),
                    partition,
                    committed_offset: committed_offset.unwrap_or(-1),
                    log_start_offset: start,
                    next_offset: state.high_watermark,
                    lag: (state.high_watermark - from).max(0),
                    member_id: owners
                        .get(&(name, partition))
                        .map(|m| (*m).to_owned())
                        .unwrap_or_default(),
                });
            }
        }
        Ok(out)
    }

    /// The offset a reset moves one partition to.
    async fn reset_offset(
        &self,
        topic: &TopicRecord,
        partition: u32,
        request: &ResetOffsetsRequest,
    ) -> Result<i64, GatewayError> {
        let topics = self.0.topics();
        let resolve = |query| async move {
            let found = topics.resolve_offset(topic, partition, query).await?;
            Ok::<_, GatewayError>(found.map(|(o, _)| o))
        };
        let latest =
            || async { Ok::<_, GatewayError>(resolve(OffsetQuery::Latest).await?.unwrap_or(0)) };
        match ResetTo::try_from(request.to) {
            Ok(ResetTo::Earliest) => Ok(resolve(OffsetQuery::Earliest).await?.unwrap_or(0)),
            Ok(ResetTo::Latest) => latest().await,
            Ok(ResetTo::Timestamp) => {
                match resolve(OffsetQuery::Timestamp(request.timestamp_ms)).await? {
                    Some(offset) => Ok(offset),
                    None => latest().await,
                }
            }
            Ok(ResetTo::Offset) => {
                let state = topics.partition_state(topic, partition).await?;
                Ok(request
                    .offset
                    .clamp(state.log_start_offset, state.high_watermark))
            }
            _ => Err(GatewayError::InvalidArgument(format!(
                "reset target {} is not one of EARLIEST, LATEST, TIMESTAMP or OFFSET; set `to`",
                request.to
            ))),
        }
    }
}

#[tonic::async_trait]
impl GroupsApi for GroupsService {
    async fn join_group(
        &self,
        request: Request<JoinGroupRequest>,
    ) -> Result<Response<JoinGroupResponse>, Status> {
        let r = request.into_inner();
        let spec = JoinSpec {
            member_id: (!r.member_id.is_empty()).then_some(r.member_id),
            client_id: r.client_id,
            topics: r.topics,
            session_timeout_ms: self.session_timeout(r.session_timeout_ms)?,
            strategy: strategy(r.strategy)?,
            owned: assignment(r.owned),
            await_missing_topics: false,
            topic_regex: None,
            instance_id: None,
        };
        let state = self
            .0
            .groups()
            .join(&r.group, &spec, now_ms())
            .await
            .map_err(GatewayError::from)?;
        Ok(Response::new(JoinGroupResponse {
            member: Some(member_assignment(state)),
        }))
    }

    async fn heartbeat(
        &self,
        request: Request<HeartbeatRequest>,
    ) -> Result<Response<HeartbeatResponse>, Status> {
        let r = request.into_inner();
        let state = self
            .0
            .groups()
            .heartbeat(&r.group, &r.member_id, &assignment(r.owned), now_ms())
            .await
            .map_err(GatewayError::from)?;
        Ok(Response::new(HeartbeatResponse {
            member: Some(member_assignment(state)),
        }))
    }

    async fn leave_group(
        &self,
        request: Request<LeaveGroupRequest>,
    ) -> Result<Response<LeaveGroupResponse>, Status> {
        let r = request.into_inner();
        self.0
            .groups()
            .leave(&r.group, &r.member_id, now_ms())
            .await
            .map_err(GatewayError::from)?;
        Ok(Response::new(LeaveGroupResponse {}))
    }

    async fn commit_offsets(
        &self,
        request: Request<CommitOffsetsRequest>,
    ) -> Result<Response<CommitOffsetsResponse>, Status> {
        let r = request.into_inner();
        let offsets: Vec<CommitOffset> = r
            .offsets
            .into_iter()
            .map(|o| CommitOffset {
                topic: o.topic,
                partition: o.partition,
                offset: o.offset,
                metadata: o.metadata,
            })
            .collect();
        self.0
            .groups()
            .commit(&r.group, &r.member_id, r.generation, &offsets, now_ms())
            .await
            .map_err(GatewayError::from)?;
        Ok(Response::new(CommitOffsetsResponse {}))
    }

    async fn fetch_offsets(
        &self,
        request: Request<FetchOffsetsRequest>,
    ) -> Result<Response<FetchOffsetsResponse>, Status> {
        let r = request.into_inner();
        let offsets = self
            .0
            .groups()
            .committed(&r.group, &r.topics)
            .await
            .map_err(GatewayError::from)?;
        Ok(Response::new(FetchOffsetsResponse {
            offsets: offsets.into_iter().map(wire_committed).collect(),
        }))
    }

    async fn list_groups(
        &self,
        _request: Request<ListGroupsRequest>,
    ) -> Result<Response<ListGroupsResponse>, Status> {
        let groups = self
            .0
            .groups()
            .list(now_ms())
            .await
            .map_err(GatewayError::from)?;
        Ok(Response::new(ListGroupsResponse {
            groups: groups
                .into_iter()
                .map(|g| {
                    let (protocol, classic_assignor) = protocol_of(&g.kind);
                    GroupSummary {
                        group: g.group,
                        generation: g.generation,
                        members: u32::try_from(g.members).unwrap_or(u32::MAX),
                        topics: g.topics,
                        strategy: wire_strategy(g.strategy),
                        protocol: protocol.to_owned(),
                        classic_assignor,
                    }
                })
                .collect(),
        }))
    }

    async fn describe_group(
        &self,
        request: Request<DescribeGroupRequest>,
    ) -> Result<Response<DescribeGroupResponse>, Status> {
        let group = request.into_inner().group;
        let now = now_ms();
        if let Some(classic) = self.describe_classic(&group, now).await? {
            return Ok(Response::new(classic));
        }
        let description = self
            .0
            .groups()
            .describe(&group, now)
            .await
            .map_err(GatewayError::from)?;
        let partitions = self.lag(&description).await?;
        let state = if description.members.is_empty() {
            "empty"
        } else if description.members.iter().any(|m| m.target != m.assigned) {
            "rebalancing"
        } else {
            "stable"
        };
        let members = description
            .members
            .iter()
            .map(|m| GroupMember {
                member_id: m.member_id.clone(),
                client_id: m.client_id.clone(),
                topics: m.topics.clone(),
                assignment: wire_assignment(&m.assigned),
                target: wire_assignment(&m.target),
                generation: m.generation,
                session_timeout_ms: u32::try_from(m.session_timeout_ms).unwrap_or(u32::MAX),
                expires_in_ms: m.deadline_ms - now,
            })
            .collect();
        Ok(Response::new(DescribeGroupResponse {
            group: description.group,
            generation: description.record.generation,
            strategy: wire_strategy(description.record.strategy),
            state: state.to_owned(),
            members,
            partitions,
            protocol: "consumer".to_owned(),
            classic_assignor: String::new(),
        }))
    }

    async fn delete_group(
        &self,
        request: Request<DeleteGroupRequest>,
    ) -> Result<Response<DeleteGroupResponse>, Status> {
        let group = request.into_inner().group;
        self.0
            .groups()
            .delete(&group, now_ms())
            .await
            .map_err(GatewayError::from)?;
        Ok(Response::new(DeleteGroupResponse {}))
    }

    async fn reset_offsets(
        &self,
        request: Request<ResetOffsetsRequest>,
    ) -> Result<Response<ResetOffsetsResponse>, Status> {
        let r = request.into_inner();
        let topic = self.0.topics().cached(&r.topic).await?;
        let partitions = partitions_or_all(r.partitions.clone(), topic.partitions);
        let mut offsets = Vec::with_capacity(partitions.len());
        for partition in partitions {
            let offset = self.reset_offset(&topic, partition, &r).await?;
            offsets.push(CommitOffset {
                topic: topic.name.clone(),
                partition,
                offset,
                metadata: String::new(),
            });
        }
        let now = now_ms();
        if !r.dry_run {
            self.0
                .groups()
                .reset(&r.group, &offsets, now)
                .await
                .map_err(GatewayError::from)?;
        }
        Ok(Response::new(ResetOffsetsResponse {
            offsets: offsets
                .into_iter()
                .map(|o| CommittedOffset {
                    topic: o.topic,
                    partition: o.partition,
                    offset: o.offset,
                    metadata: o.metadata,
                    generation: -1,
                    committed_at_ms: now,
                })
                .collect(),
        }))
    }
}
