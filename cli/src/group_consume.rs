//! `stratus consume TOPIC --group G`: consume as a member of a consumer
//! group through the SDK's group consumer. Joins through any of the
//! `--server` gateways (comma-separated; the next one is tried when one
//! fails), consumes the partitions it is assigned, commits what it printed
//! every `--commit-interval` and before giving a partition up, and leaves
//! on exit.
//!
//! At-least-once: a record is printed before its offset is committed, so a
//! consumer killed between the two has its last uncommitted records
//! delivered again to the partition's next owner.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use stratus_sdk::{Assignor, GroupConfig, GroupConsumer, GroupEvent, StartFrom, TopicPartition};

use crate::limits::{self, GROUP_COMMIT_INTERVAL, GROUP_FETCH_WAIT};
use crate::output::{OutputFormat, print_record};

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
    #[arg(
        long,
        value_parser = humantime::parse_duration,
        default_value = limits::flag_default(GROUP_COMMIT_INTERVAL),
        requires = "group"
    )]
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

pub(crate) async fn run(
    servers: &str,
    topic: String,
    args: GroupArgs,
    format: OutputFormat,
    max_records: Option<u64>,
) -> anyhow::Result<()> {
    let group = args.group.clone().context("--group is required")?;
    let client = stratus_sdk::Client::connect(servers).await?;
    let mut config = GroupConfig::new(group.clone(), [topic]);
    config.client_id = "stratus-cli".to_owned();
    config.session_timeout = args.session_timeout;
    config.auto_commit = Some(args.commit_interval);
    config.assignor = match args.strategy {
        StrategyArg::Sticky => Assignor::Sticky,
        StrategyArg::Range => Assignor::Range,
    };
    config.start = match args.start {
        StartAt::Earliest => StartFrom::Earliest,
        StartAt::Latest => StartFrom::Latest,
    };
    config.fetch_wait = GROUP_FETCH_WAIT;
    let mut consumer = client.group_consumer(config).await?;
    let log = |message: std::fmt::Arguments<'_>| {
        if args.verbose {
            eprintln!("[{group}] {message}");
        }
    };
    log(format_args!(
        "joined as {} (generation {})",
        consumer.member_id(),
        consumer.generation()
    ));
    let mut reported = consumer.committed();
    let result = consume(&mut consumer, format, max_records, &mut reported, &log).await;
    // Commit what was printed and leave, so partitions move at once.
    let last = consumer.positions();
    let finished = consumer.close().await;
    if finished.is_ok() {
        report_commits(&last, &reported, &log);
        log(format_args!("left"));
    }
    result.and(finished.map_err(Into::into))
}

async fn consume(
    consumer: &mut GroupConsumer,
    format: OutputFormat,
    max_records: Option<u64>,
    reported: &mut BTreeMap<TopicPartition, i64>,
    log: &dyn Fn(std::fmt::Arguments<'_>),
) -> anyhow::Result<()> {
    let stop = crate::signal::wait_for_signal();
    tokio::pin!(stop);
    let mut printed = 0u64;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    loop {
        let event = tokio::select! {
            biased;
            () = &mut stop => return Ok(()),
            event = consumer.poll() => event?,
        };
        // Auto-commit runs in the background; report what it committed.
        let committed = consumer.committed();
        report_commits(&committed, reported, log);
        *reported = committed;
        let records = match event {
            GroupEvent::Records(records) => records,
            GroupEvent::Assigned(tps) => {
                log(format_args!(
                    "assigned {} (generation {})",
                    list(&tps),
                    consumer.generation()
                ));
                continue;
            }
            GroupEvent::Revoked(tps) => {
                log(format_args!(
                    "revoked {} (generation {})",
                    list(&tps),
                    consumer.generation()
                ));
                continue;
            }
        };
        for record in &records {
            match print_record(&mut out, format, record) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
                other => other?,
            }
            printed += 1;
            if max_records.is_some_and(|max| printed >= max) {
                out.flush()?;
                // Only what was printed counts as consumed.
                let tp = TopicPartition::new(record.topic.clone(), record.partition);
                consumer.seek(&tp, record.offset + 1)?;
                return Ok(());
            }
        }
        match out.flush() {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            other => other?,
        }
    }
}

/// Logs `committed topic/partition@offset` for each offset that moved since
/// `reported` (the tests and operators read these lines).
fn report_commits(
    committed: &BTreeMap<TopicPartition, i64>,
    reported: &BTreeMap<TopicPartition, i64>,
    log: &dyn Fn(std::fmt::Arguments<'_>),
) {
    for (tp, offset) in committed {
        if reported.get(tp) != Some(offset) {
            log(format_args!("committed {tp}@{offset}"));
        }
    }
}

fn list(partitions: &[TopicPartition]) -> String {
    partitions
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
