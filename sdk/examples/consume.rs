//! Reads every partition of a topic from the beginning and prints records as
//! they arrive; keeps tailing until interrupted.
//!
//! ```sh
//! cargo run -p stratus-sdk --example consume -- grpc://127.0.0.1:7400 orders
//! ```

use futures::StreamExt;
use stratus_sdk::{Client, Offset};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "grpc://127.0.0.1:7400".into());
    let topic = args.next().unwrap_or_else(|| "orders".into());

    let client = Client::connect(&url).await?;
    let mut consumer = client.consumer(&topic);
    consumer.assign_all(Offset::Earliest).await?;
    let mut records = consumer.stream();
    while let Some(record) = records.next().await {
        let record = record?;
        let key = record.key.as_deref().map(String::from_utf8_lossy);
        let value = record.value.as_deref().map(String::from_utf8_lossy);
        println!(
            "{topic}/{}@{} key={key:?} value={value:?}",
            record.partition, record.offset
        );
    }
    Ok(())
}
