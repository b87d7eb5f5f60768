//! `stratus produce TOPIC`: stdin lines become records.

use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use stratus_proto::v1::{Header, PartitionRecords, ProduceRequest, Record};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::client::{ServerArgs, status};

/// Lines are sent together when they arrive within this window.
const LINE_LINGER: Duration = Duration::from_millis(10);
/// Bytes of lines sent in one request at most.
const MAX_REQUEST_BYTES: usize = 1024 * 1024;

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
    /// Most lines per request.
    #[arg(long, default_value_t = 1000)]
    batch_records: usize,
    /// Print nothing but errors.
    #[arg(long, short = 'q')]
    quiet: bool,
    #[command(flatten)]
    server: ServerArgs,
}

pub(crate) async fn run(args: ProduceArgs) -> anyhow::Result<()> {
    let headers = parse_headers(&args.headers)?;
    let mut client = args.server.producer().await?;
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut pending: Vec<Record> = Vec::new();
    let mut pending_bytes = 0;
    let mut total = 0u64;
    loop {
        let next = if pending.is_empty() {
            Ok(lines.next_line().await)
        } else {
            tokio::time::timeout(LINE_LINGER, lines.next_line()).await
        };
        let line = match next {
            Ok(line) => line.context("cannot read stdin")?,
            Err(_idle) => {
                total += send(&mut client, &args, &mut pending).await?;
                pending_bytes = 0;
                continue;
            }
        };
        let Some(line) = line else { break };
        let (key, value) = match &args.key_separator {
            Some(sep) => match line.split_once(sep.as_str()) {
                Some((k, v)) => (Some(Bytes::from(k.to_owned())), v.to_owned()),
                None => (None, line),
            },
            None => (None, line),
        };
        pending_bytes += value.len() + key.as_ref().map_or(0, Bytes::len);
        let tombstone = args.null_marker.as_deref() == Some(value.as_str());
        pending.push(Record {
            key,
            value: (!tombstone).then(|| Bytes::from(value)),
            headers: headers.clone(),
            timestamp_ms: None,
        });
        if pending.len() >= args.batch_records || pending_bytes >= MAX_REQUEST_BYTES {
            total += send(&mut client, &args, &mut pending).await?;
            pending_bytes = 0;
        }
    }
    total += send(&mut client, &args, &mut pending).await?;
    if !args.quiet {
        eprintln!("produced {total} records to {}", args.topic);
    }
    Ok(())
}

async fn send(
    client: &mut stratus_proto::v1::producer_client::ProducerClient<tonic::transport::Channel>,
    args: &ProduceArgs,
    pending: &mut Vec<Record>,
) -> anyhow::Result<u64> {
    if pending.is_empty() {
        return Ok(0);
    }
    let records = std::mem::take(pending);
    let count = records.len() as u64;
    let request = match args.partition {
        Some(partition) => ProduceRequest {
            topic: args.topic.clone(),
            partitions: vec![PartitionRecords {
                partition,
                records,
                base_sequence: None,
            }],
            ..ProduceRequest::default()
        },
        None => ProduceRequest {
            topic: args.topic.clone(),
            records,
            ..ProduceRequest::default()
        },
    };
    let response = client.produce(request).await.map_err(status)?.into_inner();
    if !args.quiet {
        for ack in response.partitions {
            let last = ack.base_offset + i64::from(ack.record_count) - 1;
            if ack.record_count == 1 {
                println!("{}/{}@{}", args.topic, ack.partition, ack.base_offset);
            } else {
                println!(
                    "{}/{}@{}..={}",
                    args.topic, ack.partition, ack.base_offset, last
                );
            }
        }
    }
    Ok(count)
}

fn parse_headers(headers: &[String]) -> anyhow::Result<Vec<Header>> {
    headers
        .iter()
        .map(|h| {
            let (key, value) = h
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("header {h:?} is not KEY=VALUE"))?;
            Ok(Header {
                key: key.to_owned(),
                value: Bytes::from(value.to_owned()),
            })
        })
        .collect()
}
