//! Reading a topic back: a plain reader over every partition, and
//! optionally the one member of a consumer group, each up to the ends the
//! partitions had once every acknowledgement was in.

use std::collections::BTreeMap;
use std::time::Duration;

use stratus_sdk::{Client, ConsumerRecord, GroupConfig, GroupEvent, Offset, TopicPartition};
use tokio::time::Instant;

use super::acks::RecordId;
use super::check::{Range, Seen};

/// What one reader saw, and whether it stopped at the timeout instead of
/// the ends.
#[derive(Debug, Default)]
pub(crate) struct Reads {
    pub(crate) seen: Vec<Seen>,
    pub(crate) timed_out: bool,
}

impl Reads {
    fn take(&mut self, records: &[ConsumerRecord], run: &str, ranges: &BTreeMap<u32, Range>) {
        for record in records {
            // Only the run's ranges: records after them are someone else's
            // and may still be arriving, records before them are not the
            // run's (a fetch may start mid-batch).
            if ranges
                .get(&record.partition)
                .is_none_or(|r| !(r.from..r.end).contains(&record.offset))
            {
                continue;
            }
            let id = record
                .value
                .as_deref()
                .and_then(|v| RecordId::parse(v, run));
            self.seen.push(Seen {
                partition: record.partition,
                offset: record.offset,
                id,
            });
        }
    }
}

/// What to read back: the run's records of a topic, within a time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target<'a> {
    pub(crate) topic: &'a str,
    pub(crate) run: &'a str,
    pub(crate) ranges: &'a BTreeMap<u32, Range>,
    pub(crate) timeout: Duration,
}

/// Reads every partition of the target over its ranges with a plain
/// consumer.
pub(crate) async fn plain(client: &Client, target: Target<'_>) -> anyhow::Result<Reads> {
    let Target {
        topic,
        run,
        ranges,
        timeout,
    } = target;
    let deadline = Instant::now() + timeout;
    let mut reads = Reads::default();
    let mut consumer = client.consumer(topic);
    let mut unread = ranges.iter().filter(|(_, r)| r.from < r.end);
    let Some((first, range)) = unread.next() else {
        return Ok(reads);
    };
    consumer.assign(&[*first], Offset::At(range.from)).await?;
    for (partition, range) in unread {
        consumer.add(*partition, Offset::At(range.from)).await?;
    }
    while !consumer
        .positions()
        .iter()
        .all(|(p, at)| ranges.get(p).is_none_or(|r| *at >= r.end))
    {
        let Ok(records) = tokio::time::timeout_at(deadline, consumer.poll()).await else {
            reads.timed_out = true;
            break;
        };
        reads.take(&records?, run, ranges);
    }
    Ok(reads)
}

/// Reads the target's topic as the one member of `group` (from its
/// committed offsets, or the earliest), committing as `stratus consume
/// --group` does, until it is past every range's end.
pub(crate) async fn group(
    client: &Client,
    group: &str,
    target: Target<'_>,
) -> anyhow::Result<Reads> {
    let Target {
        topic,
        run,
        ranges,
        timeout,
    } = target;
    let deadline = Instant::now() + timeout;
    let mut reads = Reads::default();
    let mut config = GroupConfig::new(group, [topic]);
    config.client_id = "stratus-verify".to_owned();
    let mut consumer = client.group_consumer(config).await?;
    let done = |positions: &BTreeMap<TopicPartition, i64>| {
        ranges.iter().all(|(p, r)| {
            r.from >= r.end
                || positions
                    .get(&TopicPartition::new(topic, *p))
                    .is_some_and(|at| *at >= r.end)
        })
    };
    let result = loop {
        if done(&consumer.positions()) {
            break Ok(());
        }
        match tokio::time::timeout_at(deadline, consumer.poll()).await {
            Err(_) => {
                reads.timed_out = true;
                break Ok(());
            }
            Ok(Err(e)) => break Err(e),
            Ok(Ok(GroupEvent::Records(records))) => reads.take(&records, run, ranges),
            Ok(Ok(GroupEvent::Assigned(_) | GroupEvent::Revoked(_))) => {}
        }
    };
    // Commit what was read and leave, whatever the loop ended with.
    let closed = consumer.close().await;
    result?;
    closed?;
    Ok(reads)
}
