//! `stratus topic create|list|describe|delete`.

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
    /// Delete a topic and all its records.
    Delete {
        name: String,
        #[command(flatten)]
        server: ServerArgs,
    },
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
        TopicCommand::Delete { name, server } => {
            server.client().await?.admin().delete_topic(&name).await?;
            println!("deleted topic {name}");
        }
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
