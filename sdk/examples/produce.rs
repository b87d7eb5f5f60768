//! Sends keyed records with several in flight and prints where each landed.
//!
//! ```sh
//! stratus dev &
//! stratus topic create orders --partitions 3
//! cargo run -p stratus-sdk --example produce -- grpc://127.0.0.1:7400 orders 1000
//! ```

use stratus_sdk::{Client, ProducerConfig, ProducerRecord};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "grpc://127.0.0.1:7400".into());
    let topic = args.next().unwrap_or_else(|| "orders".into());
    let count: u64 = args.next().map_or(Ok(100), |n| n.parse())?;

    let client = Client::connect(&url).await?;
    let producer = client.producer(ProducerConfig::default()).await?;
    // `send` returns once the record is buffered; the delivery futures
    // resolve as acknowledgements arrive, so many records are in flight.
    let mut deliveries = Vec::new();
    for i in 0..count {
        let record = ProducerRecord::new(&topic, format!("order {i}"))
            .key(format!("customer-{}", i % 10))
            .header("source", "example");
        deliveries.push(producer.send(record).await?);
    }
    for delivery in deliveries {
        let at = delivery.await?;
        println!("{topic}/{}@{}", at.partition, at.offset);
    }
    producer.close().await?;
    Ok(())
}
