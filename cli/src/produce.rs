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

#[derive(Debug, clap::Args)]
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
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut total = 0u64;
    while let Some(line) = lines.next_line().await.context("cannot read stdin")? {
        let delivery = producer.send(make_record(&args, &template, line)).await?;
        total += 1;
        if acks.send(delivery).await.is_err() {
            break;
        }
    }
    drop(acks);
    let printed = printer.await.context("acknowledgement printer panicked")?;
    producer.close().await?;
    printed?;
    if !args.quiet {
        eprintln!("produced {total} records to {}", args.topic);
    }
    Ok(())
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

/// Prints acknowledgements in send order, merging consecutive offsets of a
/// partition into one `topic/partition@first..=last` line.
async fn print_acks(
    topic: String,
    quiet: bool,
    mut deliveries: mpsc::Receiver<DeliveryFuture>,
) -> anyhow::Result<()> {
    let mut run: Option<(u32, i64, i64)> = None;
    let print = |run: Option<(u32, i64, i64)>| {
        if let (Some((partition, first, last)), false) = (run, quiet) {
            if first == last {
                println!("{topic}/{partition}@{first}");
            } else {
                println!("{topic}/{partition}@{first}..={last}");
            }
        }
    };
    while let Some(delivery) = deliveries.recv().await {
        let Delivery { partition, offset } = delivery.await?;
        run = match run {
            Some((p, first, last)) if p == partition && offset == last + 1 => {
                Some((p, first, offset))
            }
            previous => {
                print(previous);
                Some((partition, offset, offset))
            }
        };
        if deliveries.is_empty() {
            print(run.take());
        }
    }
    print(run);
    Ok(())
}
