//! `stratus consume TOPIC --group G`: consume as a member of a consumer
//! group. Joins through any of the `--server` gateways (comma-separated;
//! the next one is tried when one fails), heartbeats, consumes the
//! partitions it is assigned, commits what it printed every
//! `--commit-interval` and before giving a partition up, and leaves on exit.
//!
//! At-least-once: a record is printed before its offset is committed, so a
//! consumer killed between the two has its last uncommitted records
//! delivered again to the partition's next owner.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use stratus_proto::v1::consumer_client::ConsumerClient;
use stratus_proto::v1::groups_client::GroupsClient;
use stratus_proto::v1::{
    AssignmentStrategy, CommitOffsetsRequest, FetchOffsetsRequest, FetchRequest, FetchResponse,
    HeartbeatRequest, JoinGroupRequest, LeaveGroupRequest, ListOffsetsRequest, MemberAssignment,
    OffsetCommit, OffsetSpec, TopicPartitions,
};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

use crate::consume::{OutputFormat, print_record};

/// Longest a fetch waits at the end of a partition; short, so heartbeats
/// and commits are never held up by a long poll.
const FETCH_WAIT: Duration = Duration::from_millis(200);
/// Pause before retrying after every gateway failed.
const RETRY_PAUSE: Duration = Duration::from_millis(200);

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct GroupArgs {
    /// Consume as a member of this consumer group: partitions are shared
    /// with the group's other members and progress is committed.
    /// `--server` may list several gateways, comma-separated.
    #[arg(long, short = 'g', conflicts_with_all = ["partition", "offset", "from_beginning"])]
    pub(crate) group: Option<String>,
    /// With --group: a member whose heartbeats stop for this long loses its
    /// partitions [default: the gateway's, 10s].
    #[arg(long, value_parser = humantime::parse_duration, requires = "group")]
    session_timeout: Option<Duration>,
    /// With --group: how often printed records are committed.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "1s", requires = "group")]
    commit_interval: Duration,
    /// With --group: partition assignment, `sticky` (moves the fewest
    /// partitions) or `range`.
    #[arg(long, value_enum, default_value_t = StrategyArg::Sticky, requires = "group")]
    strategy: StrategyArg,
    /// With --group: where to start in a partition the group has no
    /// committed offset for.
    #[arg(long, value_enum, default_value_t = StartAt::Earliest, requires = "group")]
    start: StartAt,
    /// With --group: report joins, assignments and commits on stderr.
    #[arg(long, short = 'v', requires = "group")]
    verbose: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum StrategyArg {
    Sticky,
    Range,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum StartAt {
    Earliest,
    Latest,
}

/// The gateways to try, in turn.
#[derive(Debug)]
struct Gateways {
    urls: Vec<String>,
    current: usize,
    channel: Option<Channel>,
}

impl Gateways {
    fn parse(list: &str) -> anyhow::Result<Self> {
        let urls: Vec<String> = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                if s.contains("://") {
                    s.to_owned()
                } else {
                    format!("http://{s}")
                }
            })
            .collect();
        anyhow::ensure!(
            !urls.is_empty(),
            "--server is empty; give one or more gateway addresses, comma-separated"
        );
        for url in &urls {
            Endpoint::from_shared(url.clone())
                .with_context(|| format!("{url:?} is not a valid gateway address"))?;
        }
        Ok(Self {
            urls,
            current: 0,
            channel: None,
        })
    }

    /// A channel to the current gateway, moving on to the next until one answers.
    async fn channel(&mut self) -> anyhow::Result<Channel> {
        if let Some(channel) = &self.channel {
            return Ok(channel.clone());
        }
        for _ in 0..self.urls.len() {
            let url = &self.urls[self.current];
            let endpoint =
                Endpoint::from_shared(url.clone())?.connect_timeout(Duration::from_secs(2));
            match endpoint.connect().await {
                Ok(channel) => {
                    self.channel = Some(channel.clone());
                    return Ok(channel);
                }
                Err(e) => {
                    tracing::debug!(%url, error = %e, "gateway unreachable; trying the next");
                    self.current = (self.current + 1) % self.urls.len();
                }
            }
        }
        anyhow::bail!(
            "no gateway answered ({}); start one or fix --server",
            self.urls.join(", ")
        )
    }

    /// The current gateway failed: use the next one from now on.
    fn failed(&mut self) {
        self.channel = None;
        self.current = (self.current + 1) % self.urls.len();
    }
}

/// Whether a call failed because of the gateway or the network, so the
/// same call through another gateway may succeed.
fn is_transient(status: &Status) -> bool {
    matches!(
        status.code(),
        Code::Unavailable
            | Code::Unknown
            | Code::Cancelled
            | Code::DeadlineExceeded
            | Code::Aborted
            | Code::Internal
    )
}

/// Where this member is in one partition.
#[derive(Debug, Clone, Copy)]
struct Position {
    /// Next offset to print.
    next: i64,
    /// Last offset committed (or found committed).
    committed: i64,
}

struct Member {
    gateways: Gateways,
    group: String,
    topic: String,
    args: GroupArgs,
    member_id: String,
    generation: i64,
    heartbeat_interval: Duration,
    owned: BTreeMap<u32, Position>,
}

pub(crate) async fn run(
    servers: &str,
    topic: String,
    args: GroupArgs,
    format: OutputFormat,
    max_records: Option<u64>,
) -> anyhow::Result<()> {
    let group = args.group.clone().context("--group is required")?;
    let mut member = Member {
        gateways: Gateways::parse(servers)?,
        group,
        topic,
        args,
        member_id: String::new(),
        generation: 0,
        heartbeat_interval: Duration::from_secs(1),
        owned: BTreeMap::new(),
    };
    member.join().await?;
    let result = member.consume(format, max_records).await;
    // Commit what was printed and leave, so partitions move at once.
    let finished = async {
        member.commit(None).await?;
        member.leave().await
    }
    .await;
    result.and(finished)
}

impl Member {
    fn log(&self, message: std::fmt::Arguments<'_>) {
        if self.args.verbose {
            eprintln!("[{}] {message}", self.group);
        }
    }

    fn owned_wire(&self) -> Vec<TopicPartitions> {
        if self.owned.is_empty() {
            return Vec::new();
        }
        vec![TopicPartitions {
            topic: self.topic.clone(),
            partitions: self.owned.keys().copied().collect(),
        }]
    }

    /// Runs `call` against the current gateway, moving to the next one on
    /// transient failures until `deadline` passes.
    async fn call<T, F, Fut>(&mut self, what: &str, mut call: F) -> Result<T, Status>
    where
        F: FnMut(Channel) -> Fut,
        Fut: std::future::Future<Output = Result<T, Status>>,
    {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let status = match self.gateways.channel().await {
                Ok(channel) => match call(channel).await {
                    Ok(value) => return Ok(value),
                    Err(status) if is_transient(&status) => status,
                    Err(status) => return Err(status),
                },
                Err(e) => Status::unavailable(e.to_string()),
            };
            self.gateways.failed();
            if tokio::time::Instant::now() >= deadline {
                return Err(status);
            }
            tracing::debug!(what, error = %status.message(), "retrying through another gateway");
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }

    async fn join(&mut self) -> anyhow::Result<()> {
        let request = JoinGroupRequest {
            group: self.group.clone(),
            member_id: self.member_id.clone(),
            client_id: "stratus-cli".to_owned(),
            topics: vec![self.topic.clone()],
            session_timeout_ms: self
                .args
                .session_timeout
                .map_or(0, |d| d.as_millis() as u32),
            strategy: match self.args.strategy {
                StrategyArg::Sticky => AssignmentStrategy::Sticky,
                StrategyArg::Range => AssignmentStrategy::Range,
            } as i32,
            owned: self.owned_wire(),
        };
        let response = self
            .call("join", |channel| {
                let request = request.clone();
                async move { GroupsClient::new(channel).join_group(request).await }
            })
            .await
            .map_err(crate::client::status)?
            .into_inner();
        let assignment = response
            .member
            .context("gateway answered a join without an assignment")?;
        self.member_id.clone_from(&assignment.member_id);
        self.heartbeat_interval =
            Duration::from_millis(assignment.heartbeat_interval_ms.max(50).into());
        self.log(format_args!(
            "joined as {} (generation {})",
            assignment.member_id, assignment.generation
        ));
        self.apply(&assignment).await
    }

    async fn leave(&mut self) -> anyhow::Result<()> {
        let request = LeaveGroupRequest {
            group: self.group.clone(),
            member_id: self.member_id.clone(),
        };
        self.call("leave", |channel| {
            let request = request.clone();
            async move { GroupsClient::new(channel).leave_group(request).await }
        })
        .await
        .map_err(crate::client::status)?;
        self.log(format_args!("left"));
        Ok(())
    }

    /// Heartbeats; a member the group no longer knows rejoins.
    async fn heartbeat(&mut self) -> anyhow::Result<()> {
        let request = HeartbeatRequest {
            group: self.group.clone(),
            member_id: self.member_id.clone(),
            generation: self.generation,
            owned: self.owned_wire(),
        };
        let response = self
            .call("heartbeat", |channel| {
                let request = request.clone();
                async move { GroupsClient::new(channel).heartbeat(request).await }
            })
            .await;
        match response {
            Ok(response) => {
                let assignment = response
                    .into_inner()
                    .member
                    .context("heartbeat without an assignment")?;
                self.apply(&assignment).await
            }
            Err(status) if status.code() == Code::FailedPrecondition => {
                // Our session expired: our partitions may be someone else's now.
                self.log(format_args!("{}; rejoining", status.message()));
                self.owned.clear();
                self.join().await
            }
            Err(status) => Err(crate::client::status(status)),
        }
    }

    /// Takes a new assignment: commits and drops revoked partitions, finds
    /// the starting offset of new ones.
    async fn apply(&mut self, assignment: &MemberAssignment) -> anyhow::Result<()> {
        self.generation = assignment.generation;
        let assigned: Vec<u32> = assignment
            .assignment
            .iter()
            .filter(|tp| tp.topic == self.topic)
            .flat_map(|tp| tp.partitions.iter().copied())
            .collect();
        let revoked: Vec<u32> = self
            .owned
            .keys()
            .copied()
            .filter(|p| !assigned.contains(p))
            .collect();
        if !revoked.is_empty() {
            self.commit(Some(&revoked)).await?;
            for p in &revoked {
                self.owned.remove(p);
            }
            self.log(format_args!(
                "revoked {}/{revoked:?} (generation {})",
                self.topic, self.generation
            ));
        }
        let added: Vec<u32> = assigned
            .iter()
            .copied()
            .filter(|p| !self.owned.contains_key(p))
            .collect();
        if !added.is_empty() {
            let starts = self.starting_offsets(&added).await?;
            self.owned.extend(starts);
            self.log(format_args!(
                "assigned {}/{added:?} (generation {})",
                self.topic, self.generation
            ));
        }
        Ok(())
    }

    /// Committed offsets of `partitions`, or `--start` where none is committed.
    async fn starting_offsets(
        &mut self,
        partitions: &[u32],
    ) -> anyhow::Result<BTreeMap<u32, Position>> {
        let request = FetchOffsetsRequest {
            group: self.group.clone(),
            topics: vec![self.topic.clone()],
        };
        let committed = self
            .call("fetch offsets", |channel| {
                let request = request.clone();
                async move { GroupsClient::new(channel).fetch_offsets(request).await }
            })
            .await
            .map_err(crate::client::status)?
            .into_inner()
            .offsets;
        let mut out = BTreeMap::new();
        let mut missing = Vec::new();
        for &p in partitions {
            match committed.iter().find(|c| c.partition == p) {
                Some(c) => {
                    out.insert(
                        p,
                        Position {
                            next: c.offset,
                            committed: c.offset,
                        },
                    );
                }
                None => missing.push(p),
            }
        }
        if !missing.is_empty() {
            let spec = match self.args.start {
                StartAt::Earliest => OffsetSpec::Earliest,
                StartAt::Latest => OffsetSpec::Latest,
            };
            for (p, offset) in self.list_offsets(&missing, spec).await? {
                out.insert(
                    p,
                    Position {
                        next: offset,
                        committed: -1,
                    },
                );
            }
        }
        Ok(out)
    }

    async fn list_offsets(
        &mut self,
        partitions: &[u32],
        spec: OffsetSpec,
    ) -> anyhow::Result<Vec<(u32, i64)>> {
        let request = ListOffsetsRequest {
            topic: self.topic.clone(),
            partitions: partitions.to_vec(),
            spec: spec as i32,
            timestamp_ms: 0,
        };
        let found = self
            .call("list offsets", |channel| {
                let request = request.clone();
                async move { ConsumerClient::new(channel).list_offsets(request).await }
            })
            .await
            .map_err(crate::client::status)?
            .into_inner()
            .partitions;
        Ok(found
            .into_iter()
            .map(|p| (p.partition, p.offset.max(0)))
            .collect())
    }

    /// Commits printed-but-uncommitted positions (of `only`, or all). A
    /// refused commit (the group moved on) is not an error: the records
    /// will be delivered again to the partition's new owner.
    async fn commit(&mut self, only: Option<&[u32]>) -> anyhow::Result<()> {
        let offsets: Vec<OffsetCommit> = self
            .owned
            .iter()
            .filter(|(p, pos)| pos.next != pos.committed && only.is_none_or(|o| o.contains(p)))
            .map(|(p, pos)| OffsetCommit {
                topic: self.topic.clone(),
                partition: *p,
                offset: pos.next,
                metadata: String::new(),
            })
            .collect();
        if offsets.is_empty() || self.member_id.is_empty() {
            return Ok(());
        }
        let request = CommitOffsetsRequest {
            group: self.group.clone(),
            member_id: self.member_id.clone(),
            generation: self.generation,
            offsets: offsets.clone(),
        };
        let result = self
            .call("commit", |channel| {
                let request = request.clone();
                async move { GroupsClient::new(channel).commit_offsets(request).await }
            })
            .await;
        match result {
            Ok(_) => {
                for o in &offsets {
                    if let Some(pos) = self.owned.get_mut(&o.partition) {
                        pos.committed = o.offset;
                    }
                    self.log(format_args!(
                        "committed {}/{}@{}",
                        o.topic, o.partition, o.offset
                    ));
                }
                Ok(())
            }
            Err(status) if status.code() == Code::FailedPrecondition => {
                self.log(format_args!("commit refused: {}", status.message()));
                Ok(())
            }
            Err(status) => Err(crate::client::status(status)),
        }
    }

    /// One fetch from every owned partition at once.
    async fn fetch_round(&mut self) -> Vec<(u32, Result<FetchResponse, Status>)> {
        if self.owned.is_empty() {
            tokio::time::sleep(FETCH_WAIT).await;
            return Vec::new();
        }
        let channel = match self.gateways.channel().await {
            Ok(channel) => channel,
            Err(e) => {
                tokio::time::sleep(RETRY_PAUSE).await;
                return vec![(0, Err(Status::unavailable(e.to_string())))];
            }
        };
        let client = ConsumerClient::new(channel).max_decoding_message_size(usize::MAX);
        let fetches = self.owned.iter().map(|(&partition, pos)| {
            let mut client = client.clone();
            let request = FetchRequest {
                topic: self.topic.clone(),
                partition,
                offset: pos.next,
                max_bytes: 0,
                max_wait_ms: FETCH_WAIT.as_millis() as u32,
            };
            async move {
                (
                    partition,
                    client.fetch(request).await.map(tonic::Response::into_inner),
                )
            }
        });
        futures::future::join_all(fetches).await
    }

    async fn consume(
        &mut self,
        format: OutputFormat,
        max_records: Option<u64>,
    ) -> anyhow::Result<()> {
        let mut heartbeat = tokio::time::interval(self.heartbeat_interval);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut commit = tokio::time::interval(self.args.commit_interval);
        commit.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let stop = crate::serve::wait_for_signal();
        tokio::pin!(stop);
        let mut printed = 0u64;
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        loop {
            tokio::select! {
                biased;
                () = &mut stop => return Ok(()),
                _ = heartbeat.tick() => self.heartbeat().await?,
                _ = commit.tick() => self.commit(None).await?,
                results = self.fetch_round() => {
                    for (partition, result) in results {
                        let response = match result {
                            Ok(response) => response,
                            Err(status) => {
                                self.fetch_failed(partition, &status).await?;
                                continue;
                            }
                        };
                        for record in response.records {
                            let Some(pos) = self.owned.get_mut(&partition) else { break };
                            if record.offset < pos.next {
                                continue;
                            }
                            let printable = stratus_sdk::ConsumerRecord {
                                partition,
                                offset: record.offset,
                                timestamp_ms: record.timestamp_ms,
                                key: record.key.clone(),
                                value: record.value.clone(),
                                headers: record.headers.clone(),
                            };
                            match print_record(&mut out, format, &printable) {
                                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
                                other => other?,
                            }
                            pos.next = record.offset + 1;
                            printed += 1;
                            if max_records.is_some_and(|max| printed >= max) {
                                out.flush()?;
                                return Ok(());
                            }
                        }
                    }
                    match out.flush() {
                        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
                        other => other?,
                    }
                }
            }
        }
    }

    async fn fetch_failed(&mut self, partition: u32, status: &Status) -> anyhow::Result<()> {
        if is_transient(status) {
            self.gateways.failed();
            tokio::time::sleep(RETRY_PAUSE).await;
            return Ok(());
        }
        if status.code() == Code::OutOfRange {
            // Retention removed records past our position: go to the log start.
            let earliest = self
                .list_offsets(&[partition], OffsetSpec::Earliest)
                .await?;
            for (p, offset) in earliest {
                if let Some(pos) = self.owned.get_mut(&p) {
                    eprintln!(
                        "warning: {}/{p}@{} is gone (retention); continuing at {offset}",
                        self.topic, pos.next
                    );
                    pos.next = offset;
                }
            }
            return Ok(());
        }
        Err(crate::client::status(status.clone()))
    }
}
