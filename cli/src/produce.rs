//! `stratus produce TOPIC`: stdin lines become records, sent by the SDK's
//! idempotent producer (batched per partition, several requests in flight,
//! retried without duplicates).

use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use stratus_sdk::{Delivery, DeliveryFuture, ProducerConfig, ProducerRecord};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;

use crate::client::ServerArgs;
use crate::limits::{self, PRODUCE_BATCH_BYTES, PRODUCE_LINGER, PRODUCE_MAX_UNPRINTED};

/// What `stratus produce --help` says about its output.
const OUTPUT_HELP: &str = "\
Output:
  stdout has one line per acknowledged run of records, in the order the lines
  were read: TOPIC/PARTITION@OFFSET for one record, TOPIC/PARTITION@FIRST..=LAST
  for consecutive offsets of one partition. A record is acknowledged once the
  gateway has made it durable; only acknowledged records are printed.
  stderr ends with `produced N records to TOPIC` (not with --quiet).

  When a record is not acknowledged, stderr says `line N was not acknowledged:
  ERROR`, no more lines are read, the records already sent are still awaited
  and every one acknowledged is printed, and the command exits with status 1
  naming how many lines failed. So the lines to send again are exactly those
  reported on stderr and those not read.";

#[derive(Debug, clap::Args)]
#[command(after_long_help = OUTPUT_HELP)]
pub(crate) struct ProduceArgs {
    topic: String,
    /// Write every record to this partition; by default keyed records go where
    /// Kafka's partitioner puts them and keyless ones are spread.
    #[arg(long, short = 'p')]
    partition: Option<u32>,
    /// Split each line at the first SEP into key and value, e.g. `--key-separator :`.
    #[arg(long, short = 'K', value_name = "SEP")]
    key_separator: Option<String>,
    /// Send a value equal to MARKER as a null value (a tombstone, which
    /// deletes its key from a compacted topic), e.g. `--null-marker NULL`.
    #[arg(long, value_name = "MARKER")]
    null_marker: Option<String>,
    /// Add a header KEY=VALUE to every record. Repeatable.
    #[arg(long = "header", short = 'H', value_name = "KEY=VALUE")]
    headers: Vec<String>,
    /// How long a partition's first unsent line waits for more before its
    /// batch is sent, e.g. `10ms`.
    #[arg(long, default_value = limits::flag_default(PRODUCE_LINGER), value_parser = humantime::parse_duration)]
    linger: Duration,
    /// A partition's batch is sent once it holds this many bytes.
    #[arg(long, default_value_t = PRODUCE_BATCH_BYTES)]
    batch_bytes: usize,
    /// Send without producer id and sequence numbers: a retry after a lost
    /// acknowledgement may then write a record twice.
    #[arg(long)]
    no_idempotence: bool,
    /// Print nothing but errors.
    #[arg(long, short = 'q')]
    quiet: bool,
    #[command(flatten)]
    server: ServerArgs,
}

pub(crate) async fn run(args: ProduceArgs) -> anyhow::Result<()> {
    let template = record_template(&args)?;
    let config = ProducerConfig::default()
        .linger(args.linger)
        .batch_bytes(args.batch_bytes)
        .idempotence(!args.no_idempotence);
    let producer = args.server.client().await?.producer(config).await?;
    let (acks, unprinted) = mpsc::channel(PRODUCE_MAX_UNPRINTED);
    let printer = tokio::spawn(print_acks(args.topic.clone(), args.quiet, unprinted));
    let sent = send_lines(&args, &template, &producer, acks).await;
    // Whatever stopped the sending, every acknowledgement received is
    // printed before the command fails: a line it does not print is one the
    // user may send again, and one it received but did not print would then
    // be written twice.
    let mut failed = printer.await.context("acknowledgement printer panicked")?;
    let (total, last) = match sent {
        Ok(sent) => (sent.total, sent.unqueued),
        Err(e) => {
            producer.close().await?;
            return Err(e);
        }
    };
    if let Some(delivery) = last {
        // Sent after the printer stopped taking lines: the last line read.
        match delivery.await {
            Ok(Delivery { partition, offset }) => {
                print_run(&args.topic, args.quiet, Some((partition, offset, offset)));
            }
            Err(e) => note_unacknowledged(&mut failed, total, e),
        }
    }
    producer.close().await?;
    if let Some(failed) = failed {
        anyhow::bail!(
            "{} of the {} lines read were not acknowledged (the first is line {}: {}); \
             the acknowledged ones are printed above, so send again only the lines reported \
             here",
            failed.count,
            total,
            failed.first_line,
            failed.first_error
        );
    }
    if !args.quiet {
        eprintln!("produced {total} records to {}", args.topic);
    }
    Ok(())
}

/// What [`send_lines`] sent.
struct Sent {
    total: u64,
    /// The delivery of the last line, sent to the producer just as the
    /// printer stopped taking them; awaited after the printer is done.
    unqueued: Option<DeliveryFuture>,
}

/// Sends every stdin line; stops early when the printer stopped taking
/// deliveries (one failed).
async fn send_lines(
    args: &ProduceArgs,
    template: &ProducerRecord,
    producer: &stratus_sdk::Producer,
    acks: mpsc::Sender<DeliveryFuture>,
) -> anyhow::Result<Sent> {
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut total = 0u64;
    while !acks.is_closed()
        && let Some(line) = lines.next_line().await.context("cannot read stdin")?
    {
        let delivery = producer.send(make_record(args, template, line)).await?;
        total += 1;
        if let Err(mpsc::error::SendError(delivery)) = acks.send(delivery).await {
            return Ok(Sent {
                total,
                unqueued: Some(delivery),
            });
        }
    }
    Ok(Sent {
        total,
        unqueued: None,
    })
}

fn record_template(args: &ProduceArgs) -> anyhow::Result<ProducerRecord> {
    let mut template = ProducerRecord::new(&args.topic, Bytes::new());
    if let Some(partition) = args.partition {
        template = template.partition(partition);
    }
    for h in &args.headers {
        let (key, value) = h
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("header {h:?} is not KEY=VALUE"))?;
        template = template.header(key, Bytes::from(value.to_owned()));
    }
    Ok(template)
}

fn make_record(args: &ProduceArgs, template: &ProducerRecord, line: String) -> ProducerRecord {
    let (key, value) = match &args.key_separator {
        Some(sep) => match line.split_once(sep.as_str()) {
            Some((k, v)) => (Some(k.to_owned()), v.to_owned()),
            None => (None, line),
        },
        None => (None, line),
    };
    let tombstone = args.null_marker.as_deref() == Some(value.as_str());
    let mut record = template
        .clone()
        .value((!tombstone).then(|| Bytes::from(value)));
    if let Some(key) = key {
        record = record.key(key);
    }
    record
}

/// Lines the producer did not get acknowledged.
#[derive(Debug)]
struct Unacknowledged {
    count: u64,
    first_line: u64,
    first_error: stratus_sdk::Error,
}

/// Prints acknowledgements in send order, merging consecutive offsets of a
/// partition into one `topic/partition@first..=last` line. A failed delivery
/// goes to stderr with its line number; then no more lines are taken, and
/// the deliveries already sent are still awaited and printed, so stdout ends
/// up listing every record that was acknowledged.
async fn print_acks(
    topic: String,
    quiet: bool,
    mut deliveries: mpsc::Receiver<DeliveryFuture>,
) -> Option<Unacknowledged> {
    let mut run: Option<(u32, i64, i64)> = None;
    let print = |run| print_run(&topic, quiet, run);
    let mut unacknowledged: Option<Unacknowledged> = None;
    let mut line = 0u64;
    while let Some(delivery) = deliveries.recv().await {
        line += 1;
        match delivery.await {
            Ok(Delivery { partition, offset }) => {
                run = match run {
                    Some((p, first, last)) if p == partition && offset == last + 1 => {
                        Some((p, first, offset))
                    }
                    previous => {
                        print(previous);
                        Some((partition, offset, offset))
                    }
                };
            }
            Err(e) => {
                print(run.take());
                if unacknowledged.is_none() {
                    // Take no more lines; what was sent is still awaited.
                    deliveries.close();
                }
                note_unacknowledged(&mut unacknowledged, line, e);
            }
        }
        if deliveries.is_empty() {
            print(run.take());
        }
    }
    print(run);
    unacknowledged
}

/// Prints one run of consecutive offsets of a partition.
fn print_run(topic: &str, quiet: bool, run: Option<(u32, i64, i64)>) {
    if let (Some((partition, first, last)), false) = (run, quiet) {
        if first == last {
            println!("{topic}/{partition}@{first}");
        } else {
            println!("{topic}/{partition}@{first}..={last}");
        }
    }
}

/// Reports line `line` as not acknowledged on stderr and counts it.
fn note_unacknowledged(
    unacknowledged: &mut Option<Unacknowledged>,
    line: u64,
    error: stratus_sdk::Error,
) {
    eprintln!("line {line} was not acknowledged: {error}");
    match unacknowledged {
        Some(u) => u.count += 1,
        None => {
            *unacknowledged = Some(Unacknowledged {
                count: 1,
                first_line: line,
                first_error: error,
            });
        }
    }
}
