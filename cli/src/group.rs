//! `stratus group list|describe|reset-offsets|delete`: consumer group admin.

use stratus_proto::v1::groups_client::GroupsClient;
use stratus_proto::v1::{
    AssignmentStrategy, DeleteGroupRequest, DescribeGroupRequest, ListGroupsRequest,
    ResetOffsetsRequest, ResetTo, TopicPartitions,
};
use tonic::transport::Channel;

use crate::client::{ServerArgs, status};

#[derive(Debug, clap::Subcommand)]
pub(crate) enum GroupCommand {
    /// List consumer groups, Kafka classic-protocol groups included, with
    /// their live member count and who assigns their partitions.
    List {
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Show a group's members, their assignment, and each partition's
    /// committed offset and lag (a Kafka classic group: its state, members,
    /// offsets and lag).
    Describe {
        group: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Move a group's committed offsets (the group must have no live members).
    ResetOffsets(ResetArgs),
    /// Delete a group with no live members, and its committed offsets.
    Delete {
        group: String,
        #[command(flatten)]
        server: ServerArgs,
    },
}

#[derive(Debug, clap::Args)]
pub(crate) struct ResetArgs {
    group: String,
    /// Topic whose offsets to reset.
    #[arg(long, short = 't')]
    topic: String,
    /// Partitions to reset (repeatable); all by default.
    #[arg(long, short = 'p')]
    partition: Vec<u32>,
    /// Where to: `earliest`, `latest`, `timestamp` (with --timestamp) or
    /// `offset` (with --offset, clamped to the partition's range).
    #[arg(long, value_enum)]
    to: ResetTarget,
    /// For `--to timestamp`: milliseconds since the epoch, or RFC 3339
    /// (`2026-11-30T12:00:00Z`). Each partition moves to its first record at
    /// or after it (its end when none is that recent).
    #[arg(long, required_if_eq("to", "timestamp"))]
    timestamp: Option<String>,
    /// For `--to offset`.
    #[arg(long, required_if_eq("to", "offset"))]
    offset: Option<i64>,
    /// Show the new offsets without writing them.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    server: ServerArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ResetTarget {
    Earliest,
    Latest,
    Timestamp,
    Offset,
}

async fn client(server: &ServerArgs) -> anyhow::Result<GroupsClient<Channel>> {
    Ok(GroupsClient::new(server.channel().await?))
}

pub(crate) async fn run(command: GroupCommand) -> anyhow::Result<()> {
    match command {
        GroupCommand::List { server } => list(&server).await,
        GroupCommand::Describe { group, server } => describe(&server, group).await,
        GroupCommand::ResetOffsets(args) => reset(args).await,
        GroupCommand::Delete { group, server } => {
            client(&server)
                .await?
                .delete_group(DeleteGroupRequest {
                    group: group.clone(),
                })
                .await
                .map_err(status)?;
            println!("deleted group {group}");
            Ok(())
        }
    }
}

async fn list(server: &ServerArgs) -> anyhow::Result<()> {
    let groups = client(server)
        .await?
        .list_groups(ListGroupsRequest {})
        .await
        .map_err(status)?
        .into_inner()
        .groups;
    println!(
        "{:<32} {:>8} {:>10} {:<24} TOPICS",
        "GROUP", "MEMBERS", "GENERATION", "ASSIGNMENT"
    );
    for g in groups {
        println!(
            "{:<32} {:>8} {:>10} {:<24} {}",
            g.group,
            g.members,
            g.generation,
            assignment_name(&g.protocol, &g.classic_assignor, g.strategy),
            g.topics.join(",")
        );
    }
    Ok(())
}

/// Who assigns a group's partitions, and how: the server's strategy, or a
/// Kafka classic group's leader with the assignor its members chose.
fn assignment_name(protocol: &str, classic_assignor: &str, strategy: i32) -> String {
    match (protocol, classic_assignor) {
        ("classic", "") => "kafka classic".to_owned(),
        ("classic", assignor) => format!("kafka classic ({assignor})"),
        _ => strategy_name(strategy).to_owned(),
    }
}

fn strategy_name(wire: i32) -> &'static str {
    match AssignmentStrategy::try_from(wire) {
        Ok(AssignmentStrategy::Range) => "range",
        _ => "sticky",
    }
}

fn partitions_text(tps: &[TopicPartitions]) -> String {
    if tps.is_empty() {
        return "-".to_owned();
    }
    tps.iter()
        .map(|tp| {
            let ps: Vec<String> = tp.partitions.iter().map(u32::to_string).collect();
            format!("{}/{}", tp.topic, ps.join(","))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

async fn describe(server: &ServerArgs, group: String) -> anyhow::Result<()> {
    let d = client(server)
        .await?
        .describe_group(DescribeGroupRequest { group })
        .await
        .map_err(status)?
        .into_inner();
    println!(
        "group {}  state {}  generation {}  assignment {}",
        d.group,
        d.state,
        d.generation,
        assignment_name(&d.protocol, &d.classic_assignor, d.strategy)
    );
    println!();
    println!(
        "{:<48} {:<16} {:>10} ASSIGNMENT",
        "MEMBER", "CLIENT", "EXPIRES"
    );
    for m in &d.members {
        let pending = if m.assignment == m.target {
            String::new()
        } else {
            format!("  (target {})", partitions_text(&m.target))
        };
        println!(
            "{:<48} {:<16} {:>8}ms {}{pending}",
            m.member_id,
            m.client_id,
            m.expires_in_ms.max(0),
            partitions_text(&m.assignment)
        );
    }
    println!();
    println!(
        "{:<24} {:>9} {:>10} {:>10} {:>10} {:>8} MEMBER",
        "TOPIC", "PARTITION", "COMMITTED", "LOG-START", "END", "LAG"
    );
    let mut total = 0i64;
    for p in &d.partitions {
        total += p.lag;
        let committed = if p.committed_offset < 0 {
            "-".to_owned()
        } else {
            p.committed_offset.to_string()
        };
        println!(
            "{:<24} {:>9} {:>10} {:>10} {:>10} {:>8} {}",
            p.topic,
            p.partition,
            committed,
            p.log_start_offset,
            p.next_offset,
            p.lag,
            if p.member_id.is_empty() {
                "-"
            } else {
                &p.member_id
            }
        );
    }
    println!();
    println!("total lag {total}");
    Ok(())
}

/// Milliseconds since the epoch, or an RFC 3339 time.
fn parse_timestamp(text: &str) -> anyhow::Result<i64> {
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    let time = humantime::parse_rfc3339_weak(text).map_err(|e| {
        anyhow::anyhow!(
            "--timestamp {text:?} is neither milliseconds since the epoch nor RFC 3339 \
             (e.g. 2026-11-30T12:00:00Z): {e}"
        )
    })?;
    let ms = time
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| anyhow::anyhow!("--timestamp {text:?} is before 1970"))?
        .as_millis();
    Ok(i64::try_from(ms)?)
}

async fn reset(args: ResetArgs) -> anyhow::Result<()> {
    let to = match args.to {
        ResetTarget::Earliest => ResetTo::Earliest,
        ResetTarget::Latest => ResetTo::Latest,
        ResetTarget::Timestamp => ResetTo::Timestamp,
        ResetTarget::Offset => ResetTo::Offset,
    };
    let timestamp_ms = args.timestamp.as_deref().map(parse_timestamp).transpose()?;
    let offsets = client(&args.server)
        .await?
        .reset_offsets(ResetOffsetsRequest {
            group: args.group.clone(),
            topic: args.topic,
            partitions: args.partition,
            to: to as i32,
            timestamp_ms: timestamp_ms.unwrap_or(0),
            offset: args.offset.unwrap_or(0),
            dry_run: args.dry_run,
        })
        .await
        .map_err(status)?
        .into_inner()
        .offsets;
    for o in &offsets {
        println!("{}/{}@{}", o.topic, o.partition, o.offset);
    }
    if args.dry_run {
        println!("dry run: group {} unchanged", args.group);
    } else {
        println!("reset {} partitions of group {}", offsets.len(), args.group);
    }
    Ok(())
}
