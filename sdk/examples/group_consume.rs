//! Consumes a topic as a member of a consumer group, committing each batch
//! after it is printed (manual commits: at-least-once), and reports its lag
//! every few seconds. Start it twice to watch the partitions split.
//!
//! ```sh
//! cargo run -p stratus-sdk --example group_consume -- grpc://127.0.0.1:7400 orders billing
//! ```

use std::time::Duration;

use stratus_sdk::{Client, GroupConfig, GroupEvent};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "grpc://127.0.0.1:7400".into());
    let topic = args.next().unwrap_or_else(|| "orders".into());
    let group = args.next().unwrap_or_else(|| "example".into());

    let client = Client::connect(&url).await?;
    let mut config = GroupConfig::new(group, [topic]);
    config.auto_commit = None;
    let mut consumer = client.group_consumer(config).await?;
    let mut report = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = report.tick() => {
                for lag in consumer.lag().await? {
                    println!("lag {}: {} (position {}, end {})", lag.partition, lag.lag, lag.position, lag.end_offset);
                }
            }
            event = consumer.poll() => match event? {
                GroupEvent::Assigned(partitions) => println!("assigned {partitions:?}"),
                GroupEvent::Revoked(partitions) => println!("revoked {partitions:?}"),
                GroupEvent::Records(records) => {
                    for r in &records {
                        let value = r.value.as_deref().map(String::from_utf8_lossy);
                        println!("{}/{}@{} {value:?}", r.topic, r.partition, r.offset);
                    }
                    consumer.commit().await?;
                }
            },
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    consumer.close().await?;
    Ok(())
}
