//! `stratus consume TOPIC`: print records (with `--group`, as a member of a
//! consumer group: see `group_consume`).

use std::io::Write;
use stratus_proto::v1::consumer_client::ConsumerClient;
use stratus_proto::v1::{
    ConsumedRecord, DescribeTopicRequest, FetchRequest, ListOffsetsRequest, OffsetSpec,
    SubscribeRequest,
};

use tokio::sync::mpsc;
use tonic::transport::Channel;

use crate::client::{ServerArgs, status};
use crate::group_consume::{self, GroupArgs};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum OutputFormat {
    /// The value only.
    Text,
    /// KEY<TAB>VALUE.
    Kv,
    /// One JSON object per record with partition, offset, timestamp, key, value, headers.
    Json,
}

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
    let channel = args.server.channel().await?;
    let partitions = if args.partition.is_empty() {
        let topic = stratus_proto::v1::admin_client::AdminClient::new(channel.clone())
            .describe_topic(DescribeTopicRequest {
                name: args.topic.clone(),
            })
            .await
            .map_err(status)?
            .into_inner()
            .topic
            .ok_or_else(|| anyhow::anyhow!("gateway described no topic"))?;
        (0..topic.partitions.len() as u32).collect()
    } else {
        args.partition.clone()
    };
    let mut consumer = ConsumerClient::new(channel).max_decoding_message_size(usize::MAX);
    let spec = if args.from_beginning || !args.follow {
        OffsetSpec::Earliest
    } else {
        OffsetSpec::Latest
    };
    let starts = consumer
        .list_offsets(ListOffsetsRequest {
            topic: args.topic.clone(),
            partitions: partitions.clone(),
            spec: spec as i32,
            timestamp_ms: 0,
        })
        .await
        .map_err(status)?
        .into_inner()
        .partitions;
    let ends = consumer
        .list_offsets(ListOffsetsRequest {
            topic: args.topic.clone(),
            partitions: partitions.clone(),
            spec: OffsetSpec::Latest as i32,
            timestamp_ms: 0,
        })
        .await
        .map_err(status)?
        .into_inner()
        .partitions;

    let (sender, mut receiver) = mpsc::channel::<anyhow::Result<(u32, ConsumedRecord)>>(1024);
    for (start, end) in starts.into_iter().zip(ends) {
        let from = args.offset.unwrap_or(start.offset);
        let reader = PartitionReader {
            client: consumer.clone(),
            topic: args.topic.clone(),
            partition: start.partition,
            sender: sender.clone(),
        };
        if args.follow {
            tokio::spawn(reader.follow(from));
        } else {
            tokio::spawn(reader.read_to(from, end.offset));
        }
    }
    drop(sender);
    let mut printed = 0u64;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    while let Some(next) = receiver.recv().await {
        let (partition, record) = next?;
        let written = print_record(&mut out, args.format, partition, &record).and_then(|()| {
            if receiver.is_empty() {
                out.flush()
            } else {
                Ok(())
            }
        });
        match written {
            Ok(()) => {}
            // A closed pipe (`| head`) is the reader saying it has enough.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        printed += 1;
        if args.max_records.is_some_and(|max| printed >= max) {
            break;
        }
    }
    match out.flush() {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

#[derive(Debug)]
struct PartitionReader {
    client: ConsumerClient<Channel>,
    topic: String,
    partition: u32,
    sender: mpsc::Sender<anyhow::Result<(u32, ConsumedRecord)>>,
}

impl PartitionReader {
    /// Reads `[from, end)` with plain fetches.
    async fn read_to(mut self, mut from: i64, end: i64) {
        while from < end {
            let response = self
                .client
                .fetch(FetchRequest {
                    topic: self.topic.clone(),
                    partition: self.partition,
                    offset: from,
                    max_bytes: 0,
                    max_wait_ms: 0,
                })
                .await;
            let response = match response {
                Ok(r) => r.into_inner(),
                Err(e) => {
                    let _ = self.sender.send(Err(status(e))).await;
                    return;
                }
            };
            if response.records.is_empty() {
                return;
            }
            from = response.next_fetch_offset;
            for record in response.records.into_iter().filter(|r| r.offset < end) {
                if self
                    .sender
                    .send(Ok((self.partition, record)))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    }

    /// Tails the partition with a subscription.
    async fn follow(mut self, from: i64) {
        let stream = self
            .client
            .subscribe(SubscribeRequest {
                topic: self.topic.clone(),
                partition: self.partition,
                offset: from,
                max_bytes_per_message: 0,
            })
            .await;
        let mut stream = match stream {
            Ok(s) => s.into_inner(),
            Err(e) => {
                let _ = self.sender.send(Err(status(e))).await;
                return;
            }
        };
        loop {
            match stream.message().await {
                Ok(Some(response)) => {
                    for record in response.records {
                        if self
                            .sender
                            .send(Ok((self.partition, record)))
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    let _ = self.sender.send(Err(status(e))).await;
                    return;
                }
            }
        }
    }
}

pub(crate) fn print_record(
    out: &mut impl Write,
    format: OutputFormat,
    partition: u32,
    record: &ConsumedRecord,
) -> std::io::Result<()> {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    // A tombstone (null value) prints as `null`, as Kafka's console consumer does.
    let value = record
        .value
        .as_deref()
        .map_or_else(|| "null".to_owned(), text);
    match format {
        OutputFormat::Text => writeln!(out, "{value}"),
        OutputFormat::Kv => writeln!(
            out,
            "{}\t{value}",
            record.key.as_deref().map(text).unwrap_or_default(),
        ),
        OutputFormat::Json => {
            let headers: serde_json::Map<String, serde_json::Value> = record
                .headers
                .iter()
                .map(|h| (h.key.clone(), serde_json::Value::String(text(&h.value))))
                .collect();
            let line = serde_json::json!({
                "partition": partition,
                "offset": record.offset,
                "timestamp": record.timestamp_ms,
                "key": record.key.as_deref().map(text),
                "value": record.value.as_deref().map(text),
                "headers": headers,
            });
            writeln!(out, "{line}")
        }
    }
}
