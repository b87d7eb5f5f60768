//! The producers of a run: each its own idempotent SDK producer, sending
//! records whose values carry their ids, round-robin over the partitions,
//! and keeping every acknowledgement.

use std::time::Instant;

use bytes::Bytes;
use stratus_sdk::{Client, DeliveryFuture, ProducerConfig, ProducerRecord};
use tokio::sync::mpsc;

use super::acks::{Ack, RecordId};
use super::args::{Budget, MAX_TRACKED_RECORDS};

/// Deliveries a producer awaits at once before it sends more; the SDK's
/// buffer bounds the bytes, this the futures.
const MAX_UNAWAITED: usize = 10_000;

/// What the producers of a run did.
#[derive(Debug, Default)]
pub(crate) struct Produced {
    pub(crate) acks: Vec<Ack>,
    pub(crate) sent: u64,
    /// Deliveries that failed (the SDK gave up: written or not, unknown).
    pub(crate) failed: u64,
    /// The first error of each producer that stopped early.
    pub(crate) errors: Vec<String>,
}

/// Runs `producers` producers on `topic` until `budget` is spent.
pub(crate) async fn run(
    client: &Client,
    topic: &str,
    run: &str,
    partitions: u32,
    producers: u32,
    budget: Budget,
) -> Produced {
    let per_producer = MAX_TRACKED_RECORDS / u64::from(producers);
    let deadline = match budget {
        Budget::Duration(duration) => Some(Instant::now() + duration),
        Budget::Records(_) => None,
    };
    let limit = match budget {
        Budget::Records(records) => records.min(per_producer),
        Budget::Duration(_) => per_producer,
    };
    let mut tasks = Vec::new();
    for producer in 0..producers {
        let (client, topic, run) = (client.clone(), topic.to_owned(), run.to_owned());
        tasks.push(tokio::spawn(async move {
            let plan = Plan {
                topic,
                run,
                producer,
                partitions,
                limit,
                deadline,
            };
            one(&client, plan).await
        }));
    }
    let mut produced = Produced::default();
    for task in tasks {
        match task.await {
            Ok(one) => {
                produced.acks.extend(one.acks);
                produced.sent += one.sent;
                produced.failed += one.failed;
                produced.errors.extend(one.errors);
            }
            Err(e) => produced
                .errors
                .push(format!("a producer task panicked: {e}")),
        }
    }
    produced
}

struct Plan {
    topic: String,
    run: String,
    producer: u32,
    partitions: u32,
    limit: u64,
    deadline: Option<Instant>,
}

async fn one(client: &Client, plan: Plan) -> Produced {
    let mut produced = Produced::default();
    let producer = match client.producer(ProducerConfig::default()).await {
        Ok(producer) => producer,
        Err(e) => {
            produced
                .errors
                .push(format!("producer {}: {e}", plan.producer));
            return produced;
        }
    };
    let (deliveries, pending) = mpsc::channel(MAX_UNAWAITED);
    let collector = tokio::spawn(collect(pending));
    for seq in 0..plan.limit {
        if plan.deadline.is_some_and(|at| Instant::now() >= at) {
            break;
        }
        let id = RecordId {
            producer: plan.producer,
            seq,
        };
        // Round-robin from a different partition per producer, so every
        // partition interleaves every producer's records.
        let partition = ((u64::from(plan.producer) + seq) % u64::from(plan.partitions)) as u32;
        let record =
            ProducerRecord::new(&plan.topic, Bytes::from(id.value(&plan.run))).partition(partition);
        match producer.send(record).await {
            Ok(delivery) => {
                produced.sent += 1;
                if deliveries.send((id, delivery)).await.is_err() {
                    break;
                }
            }
            Err(e) => {
                produced
                    .errors
                    .push(format!("producer {}: {e}", plan.producer));
                break;
            }
        }
    }
    drop(deliveries);
    if let Err(e) = producer.close().await
        && produced.errors.is_empty()
    {
        produced
            .errors
            .push(format!("producer {}: {e}", plan.producer));
    }
    match collector.await {
        Ok((acks, failed)) => {
            produced.acks = acks;
            produced.failed = failed;
        }
        Err(e) => produced
            .errors
            .push(format!("an acknowledgement collector panicked: {e}")),
    }
    produced
}

/// Awaits deliveries in send order: the acknowledged ones and how many failed.
async fn collect(mut pending: mpsc::Receiver<(RecordId, DeliveryFuture)>) -> (Vec<Ack>, u64) {
    let (mut acks, mut failed) = (Vec::new(), 0);
    while let Some((id, delivery)) = pending.recv().await {
        match delivery.await {
            Ok(at) => acks.push(Ack {
                id,
                partition: at.partition,
                offset: at.offset,
            }),
            Err(_) => failed += 1,
        }
    }
    (acks, failed)
}
