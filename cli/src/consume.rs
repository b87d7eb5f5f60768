//! `stratus consume TOPIC`: print records (with `--group`, as a member of a
//! consumer group: see `group_consume`).

use std::io::Write;

use stratus_sdk::{Consumer, Offset};

use crate::client::ServerArgs;
use crate::group_consume::{self, GroupArgs};
use crate::output::{OutputFormat, print_record};

#[derive(Debug, clap::Args)]
pub(crate) struct ConsumeArgs {
    topic: String,
    /// Partitions to read (repeatable); all by default.
    #[arg(long, short = 'p')]
    partition: Vec<u32>,
    /// Start at the earliest offset. This is the default without --follow;
    /// with --follow the default is the end of each partition.
    #[arg(long, conflicts_with = "offset")]
    from_beginning: bool,
    /// Start at this offset in every partition read.
    #[arg(long, short = 'o')]
    offset: Option<i64>,
    /// Keep waiting for new records instead of stopping at the end.
    #[arg(long, short = 'f')]
    follow: bool,
    /// Stop after this many records.
    #[arg(long, short = 'n')]
    max_records: Option<u64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    format: OutputFormat,
    #[command(flatten)]
    group: GroupArgs,
    #[command(flatten)]
    server: ServerArgs,
}

pub(crate) async fn run(args: ConsumeArgs) -> anyhow::Result<()> {
    if args.group.group.is_some() {
        return group_consume::run(
            &args.server.server,
            args.topic,
            args.group,
            args.format,
            args.max_records,
        )
        .await;
    }
    let client = args.server.client().await?;
    let mut consumer = client.consumer(&args.topic);
    let partitions = if args.partition.is_empty() {
        consumer.partitions().await?
    } else {
        args.partition.clone()
    };
    let start = match args.offset {
        Some(offset) => Offset::At(offset),
        None if args.from_beginning || !args.follow => Offset::Earliest,
        None => Offset::Latest,
    };
    consumer.assign(&partitions, start).await?;
    // Without --follow, read each partition up to where it ended at the start.
    let ends = if args.follow {
        None
    } else {
        Some(consumer.end_offsets().await?)
    };
    let mut printed = 0u64;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    loop {
        if let Some(ends) = &ends {
            let unread: Vec<(u32, i64)> = consumer
                .positions()
                .into_iter()
                .filter(|(p, at)| ends.get(p).is_some_and(|end| at < end))
                .collect();
            if unread.is_empty() {
                break;
            }
            if unread.len() < consumer.positions().len() {
                reassign(&mut consumer, &unread).await?;
            }
        }
        let records = consumer.poll().await?;
        for record in records {
            if ends.as_ref().is_some_and(|e| {
                e.get(&record.partition)
                    .is_none_or(|end| record.offset >= *end)
            }) {
                continue;
            }
            match print_record(&mut out, args.format, &record) {
                Ok(()) => {}
                // A closed pipe (`| head`) is the reader saying it has enough.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
                Err(e) => return Err(e.into()),
            }
            printed += 1;
            if args.max_records.is_some_and(|max| printed >= max) {
                return finish(&mut out);
            }
        }
        match out.flush() {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            other => other?,
        }
    }
    finish(&mut out)
}

/// Keeps reading only the partitions not yet at their end, where they are.
async fn reassign(consumer: &mut Consumer, unread: &[(u32, i64)]) -> anyhow::Result<()> {
    let mut positions = unread.iter();
    let Some((first, at)) = positions.next() else {
        return Ok(());
    };
    consumer.assign(&[*first], Offset::At(*at)).await?;
    for (partition, at) in positions {
        consumer.add(*partition, Offset::At(*at)).await?;
    }
    Ok(())
}

fn finish(out: &mut impl Write) -> anyhow::Result<()> {
    match out.flush() {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}
