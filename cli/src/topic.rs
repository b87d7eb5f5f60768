//! `stratus topic create|list|describe|alter|delete-records|delete`.

use stratus_sdk::{CleanupPolicy, TopicConfig, TopicDescription};

use crate::client::ServerArgs;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum TopicCommand {
    /// Create a topic.
    Create {
        name: String,
        /// Number of partitions.
        #[arg(long, short = 'p', default_value_t = 1)]
        partitions: u32,
        /// Topic settings as KEY=VALUE: retention.ms, retention.bytes,
        /// cleanup.policy (delete|compact), max.message.bytes. Repeatable.
        #[arg(long = "config", short = 'c', value_name = "KEY=VALUE")]
        configs: Vec<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// List topics.
    List {
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Show a topic's settings and each partition's log start and next offset.
    Describe {
        name: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Grow a topic's partitions and change its settings. Both changes are
    /// checked before either is made; then the partitions grow, then the
    /// settings change (each in one step).
    Alter {
        name: String,
        /// Partitions wanted in all (never fewer than the topic has).
        #[arg(long, short = 'p')]
        partitions: Option<u32>,
        /// Settings to change as KEY=VALUE, as for `create`. Repeatable.
        #[arg(long = "config", short = 'c', value_name = "KEY=VALUE")]
        configs: Vec<String>,
        /// Settings to return to their defaults, by name. Repeatable.
        #[arg(long = "reset", value_name = "KEY")]
        resets: Vec<String>,
        /// Only check the changes; make none.
        #[arg(long)]
        validate_only: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Make a partition's records below an offset unreadable (Kafka's
    /// DeleteRecords); the compactor then removes them.
    DeleteRecords {
        name: String,
        #[arg(long)]
        partition: u32,
        /// The first offset to keep, or `end` for none (every record up to
        /// the partition's next offset).
        #[arg(long, value_name = "OFFSET|end", value_parser = parse_before)]
        before: Before,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Delete a topic and all its records.
    Delete {
        name: String,
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// Where `delete-records` stops.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Before {
    Offset(i64),
    End,
}

fn parse_before(value: &str) -> Result<Before, String> {
    if value == "end" {
        return Ok(Before::End);
    }
    match value.parse::<i64>() {
        Ok(offset) if offset >= 0 => Ok(Before::Offset(offset)),
        _ => Err(format!(
            "{value:?} is not an offset; give a whole number of 0 or more, or `end`"
        )),
    }
}

pub(crate) async fn run(command: TopicCommand) -> anyhow::Result<()> {
    match command {
        TopicCommand::Create {
            name,
            partitions,
            configs,
            server,
        } => {
            let config = parse_configs(&configs)?;
            let topic = server
                .client()
                .await?
                .admin()
                .create_topic(&name, partitions, config)
                .await?;
            println!(
                "created topic {} with {} partitions",
                topic.name,
                topic.partitions.len()
            );
        }
        TopicCommand::List { server } => {
            let topics = server.client().await?.admin().list_topics().await?;
            println!("{:<40} {:>10}", "TOPIC", "PARTITIONS");
            for topic in topics {
                println!("{:<40} {:>10}", topic.name, topic.partitions);
            }
        }
        TopicCommand::Describe { name, server } => {
            let topic = server.client().await?.admin().describe_topic(&name).await?;
            print_description(&topic);
        }
        TopicCommand::Alter {
            name,
            partitions,
            configs,
            resets,
            validate_only,
            server,
        } => {
            alter(&name, partitions, &configs, &resets, validate_only, &server).await?;
        }
        TopicCommand::DeleteRecords {
            name,
            partition,
            before,
            server,
        } => {
            let before = match before {
                Before::Offset(offset) => Some(offset),
                Before::End => None,
            };
            let log_start = server
                .client()
                .await?
                .admin()
                .delete_records(&name, partition, before)
                .await?;
            println!("partition {partition} of {name} now starts at offset {log_start}");
        }
        TopicCommand::Delete { name, server } => {
            server.client().await?.admin().delete_topic(&name).await?;
            println!("deleted topic {name}");
        }
    }
    Ok(())
}

async fn alter(
    name: &str,
    partitions: Option<u32>,
    configs: &[String],
    resets: &[String],
    validate_only: bool,
    server: &ServerArgs,
) -> anyhow::Result<()> {
    if partitions.is_none() && configs.is_empty() && resets.is_empty() {
        anyhow::bail!("nothing to alter: give --partitions N, --config KEY=VALUE or --reset KEY");
    }
    let set = parse_configs(configs)?;
    let resets: Vec<&str> = resets.iter().map(String::as_str).collect();
    let change_config = !configs.is_empty() || !resets.is_empty();
    let admin = server.client().await?.admin();
    // Check both before making either, so a refused setting leaves the
    // partitions as they were.
    if let Some(n) = partitions {
        admin.create_partitions(name, n, true).await?;
    }
    if change_config {
        admin.alter_topic_config(name, set, &resets, true).await?;
    }
    if validate_only {
        println!("the changes to {name} are valid; nothing was changed");
        return Ok(());
    }
    let mut topic = None;
    if let Some(n) = partitions {
        topic = Some(admin.create_partitions(name, n, false).await?);
    }
    if change_config {
        topic = Some(admin.alter_topic_config(name, set, &resets, false).await?);
    }
    if let Some(topic) = topic {
        print_description(&topic);
    }
    Ok(())
}

fn parse_configs(configs: &[String]) -> anyhow::Result<TopicConfig> {
    let mut config = TopicConfig::default();
    for entry in configs {
        let (key, value) = entry.split_once('=').ok_or_else(|| {
            anyhow::anyhow!("topic setting {entry:?} is not KEY=VALUE, e.g. retention.ms=86400000")
        })?;
        let number = || -> anyhow::Result<i64> {
            value
                .parse()
                .map_err(|_| anyhow::anyhow!("{key} must be a whole number, not {value:?}"))
        };
        match key {
            "retention.ms" => config.retention_ms = Some(number()?),
            "retention.bytes" => config.retention_bytes = Some(number()?),
            "delete.retention.ms" => config.delete_retention_ms = Some(number()?),
            "max.compaction.lag.ms" => config.max_compaction_lag_ms = Some(number()?),
            "max.message.bytes" => {
                config.max_message_bytes = Some(
                    i32::try_from(number()?)
                        .map_err(|_| anyhow::anyhow!("max.message.bytes {value} is too large"))?,
                );
            }
            "cleanup.policy" => {
                config.cleanup_policy = match value {
                    "delete" => CleanupPolicy::Delete,
                    "compact" => CleanupPolicy::Compact,
                    _ => anyhow::bail!("cleanup.policy must be delete or compact, not {value:?}"),
                } as i32;
            }
            _ => anyhow::bail!(
                "unknown topic setting {key:?}; use retention.ms, retention.bytes, cleanup.policy, \
                 max.message.bytes, delete.retention.ms or max.compaction.lag.ms"
            ),
        }
    }
    Ok(config)
}

fn print_description(topic: &TopicDescription) {
    println!("topic       {}", topic.name);
    println!("id          {}", topic.topic_id);
    if let Some(config) = &topic.config {
        let policy = match CleanupPolicy::try_from(config.cleanup_policy) {
            Ok(CleanupPolicy::Compact) => "compact",
            _ => "delete",
        };
        println!("retention.ms       {}", config.retention_ms.unwrap_or(-1));
        println!(
            "retention.bytes    {}",
            config.retention_bytes.unwrap_or(-1)
        );
        println!("cleanup.policy     {policy}");
        println!(
            "max.message.bytes  {}",
            config.max_message_bytes.unwrap_or(-1)
        );
        if policy == "compact" {
            println!(
                "delete.retention.ms    {}",
                config.delete_retention_ms.unwrap_or(-1)
            );
            println!(
                "max.compaction.lag.ms  {}",
                config.max_compaction_lag_ms.unwrap_or(-1)
            );
        }
    }
    println!();
    println!(
        "{:>9} {:>16} {:>16}",
        "PARTITION", "LOG-START", "NEXT-OFFSET"
    );
    for p in &topic.partitions {
        println!(
            "{:>9} {:>16} {:>16}",
            p.partition, p.log_start_offset, p.next_offset
        );
    }
}
