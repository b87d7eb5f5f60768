//! The produce path every transport calls: admit, look the topic up,
//! prepare (validate, route, encode), queue for the batcher, and hand back
//! a [`PendingProduce`] that resolves to base offsets only after the flush
//! carrying the call was durable and committed.
//!
//! Transports translate their messages into a [`Produce`] and the answer
//! back; they never encode, count budget or talk to the batcher themselves.

use std::sync::Arc;

use stratus_storage::log::{AppendBatch, Log, LogError};

use super::admit::{self, Admission, Admitted, InflightBudget};
use super::batcher::{Batcher, Ticket};
use super::prepare::prepare;
use super::request::{PartitionAck, Produce};
use super::route::StickyPartitioner;
use crate::error::GatewayError;
use crate::topics::TopicCache;

/// The gateway's one produce path; cheap to clone.
#[derive(Debug, Clone)]
pub struct ProducePath {
    log: Arc<Log>,
    topics: Arc<TopicCache>,
    budget: InflightBudget,
    batcher: Batcher,
    keyless: Arc<StickyPartitioner>,
    zstd_level: i32,
}

/// A call admitted, validated and encoded, ready for the batcher.
#[derive(Debug)]
pub(crate) struct Prepared {
    topic: String,
    batches: Vec<AppendBatch>,
    admitted: Admitted,
}

/// A queued call; resolves once its flush is durable and committed, or
/// failed. Dropping it does not cancel the write: the call is flushed anyway
/// and only its answer is lost.
#[derive(Debug)]
pub struct PendingProduce {
    topic: String,
    /// Partition and record count of each batch, in batch order.
    counts: Vec<(u32, u32)>,
    ticket: Ticket,
    topics: Arc<TopicCache>,
}

impl ProducePath {
    pub(crate) fn new(
        log: Arc<Log>,
        topics: Arc<TopicCache>,
        budget: InflightBudget,
        batcher: Batcher,
        zstd_level: i32,
    ) -> Self {
        Self {
            log,
            topics,
            budget,
            batcher,
            keyless: Arc::default(),
            zstd_level,
        }
    }

    /// Admits `produce` against the in-flight budget, validates, routes and
    /// encodes it, and queues it for the next flush. Returns once queued:
    /// calls queued one after another are flushed, and get their offsets, in
    /// that order, so an idempotent producer's batches of one partition
    /// reach the sequence check in the order it sent them.
    pub async fn submit(
        &self,
        produce: Produce,
        admission: Admission,
    ) -> Result<PendingProduce, GatewayError> {
        let admitted = self.admit(&produce, admission).await?;
        let prepared = self.prepare(produce, admitted).await?;
        self.enqueue(prepared)
    }

    /// A producer id for an idempotent producer; `previous` (its id and
    /// epoch) asks for an epoch bump of that id, fencing older sessions.
    pub async fn init_producer_id(
        &self,
        previous: Option<(i64, i16)>,
    ) -> Result<(i64, i16), GatewayError> {
        Ok(self.log.init_producer_id(previous).await?)
    }

    /// Counts the call against the in-flight budget, before any work.
    pub(crate) async fn admit(
        &self,
        produce: &Produce,
        admission: Admission,
    ) -> Result<Admitted, GatewayError> {
        self.budget.admit(admit::cost(produce), admission).await
    }

    /// Looks the topic up and turns the call into batches; the CPU-heavy
    /// part, which streams run a few at a time.
    pub(crate) async fn prepare(
        &self,
        produce: Produce,
        admitted: Admitted,
    ) -> Result<Prepared, GatewayError> {
        let topic = self.topics.get(&self.log, &produce.topic).await?;
        let batches = prepare(&topic, produce, &self.keyless, self.zstd_level)?;
        Ok(Prepared {
            topic: topic.name.clone(),
            batches,
            admitted,
        })
    }

    /// Queues a prepared call; calls are flushed in the order this is called.
    pub(crate) fn enqueue(&self, prepared: Prepared) -> Result<PendingProduce, GatewayError> {
        let counts = prepared
            .batches
            .iter()
            .map(|b| (b.partition, b.record_count))
            .collect();
        let ticket = self.batcher.submit(prepared.batches, prepared.admitted)?;
        Ok(PendingProduce {
            topic: prepared.topic,
            counts,
            ticket,
            topics: Arc::clone(&self.topics),
        })
    }
}

impl PendingProduce {
    /// Waits for the flush and returns each partition's base offset, in the
    /// order of the call's batches. `Ok` only after the WAL object holding
    /// the call was durable and the transaction giving it offsets committed.
    pub async fn acknowledged(self) -> Result<Vec<PartitionAck>, GatewayError> {
        let outcomes = self.ticket.outcome().await?;
        let mut acks = Vec::with_capacity(outcomes.len());
        for ((partition, record_count), outcome) in self.counts.into_iter().zip(outcomes) {
            match outcome {
                Ok(base_offset) => acks.push(PartitionAck {
                    partition,
                    base_offset,
                    record_count,
                }),
                Err(LogError::TopicNotFound { .. }) => {
                    // Deleted while the call waited: the cached record is stale.
                    self.topics.forget(&self.topic);
                    return Err(LogError::TopicNotFound { name: self.topic }.into());
                }
                Err(other) => return Err(other.into()),
            }
        }
        Ok(acks)
    }
}
