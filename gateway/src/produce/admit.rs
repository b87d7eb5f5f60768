//! The in-flight budget: how many produce bytes a gateway holds between
//! accepting a call and acknowledging it. A call is counted before any work
//! is done on it (its records' payload bytes and its client batches' bytes,
//! which bound both the decoded request and what it encodes to), and the
//! count is returned only when the call is answered. Past the budget a call
//! is refused (unary calls: RESOURCE_EXHAUSTED, retry with backoff) or waits
//! (streams: waiting stops the client through flow control).
//!
//! This module only counts; it never validates, encodes or queues.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

use super::request::{PartitionData, Produce};
use crate::error::GatewayError;

/// What to do when the in-flight budget is spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Fail with RESOURCE_EXHAUSTED.
    Reject,
    /// Wait for budget.
    Wait,
}

/// One call's share of the budget; returned when it is dropped, which the
/// batcher does right after answering the call.
#[derive(Debug)]
pub struct Admitted {
    _permit: OwnedSemaphorePermit,
}

/// The budget of one gateway; clones share it.
#[derive(Debug, Clone)]
pub(crate) struct InflightBudget {
    /// One permit per byte. Validation caps the limit at `u32::MAX`, the most
    /// permits one call can take at once.
    bytes: Arc<Semaphore>,
    limit: u64,
}

impl InflightBudget {
    pub(crate) fn new(limit: u64) -> Self {
        let permits = usize::try_from(limit).unwrap_or(usize::MAX);
        Self {
            bytes: Arc::new(Semaphore::new(permits)),
            limit,
        }
    }

    /// The semaphore the in-flight gauge reads.
    pub(crate) fn semaphore(&self) -> &Arc<Semaphore> {
        &self.bytes
    }

    pub(crate) fn limit(&self) -> u64 {
        self.limit
    }

    /// Counts `cost` bytes against the budget, or refuses the call.
    pub(crate) async fn admit(
        &self,
        cost: u64,
        admission: Admission,
    ) -> Result<Admitted, GatewayError> {
        if cost > self.limit {
            return Err(GatewayError::RequestTooLarge {
                size: cost as usize,
                limit: self.limit,
            });
        }
        // Within the limit, hence within u32.
        let permits = cost as u32;
        let permit = match admission {
            Admission::Reject => match Arc::clone(&self.bytes).try_acquire_many_owned(permits) {
                Ok(permit) => permit,
                Err(TryAcquireError::NoPermits) => {
                    return Err(GatewayError::Overloaded { limit: self.limit });
                }
                Err(TryAcquireError::Closed) => return Err(GatewayError::ShuttingDown),
            },
            Admission::Wait => Arc::clone(&self.bytes)
                .acquire_many_owned(permits)
                .await
                .map_err(|_| GatewayError::ShuttingDown)?,
        };
        Ok(Admitted { _permit: permit })
    }
}

/// What `produce` costs before any work: its records' key, value and header
/// bytes plus its client batches' bytes; at least 1, so every call counts.
pub(crate) fn cost(produce: &Produce) -> u64 {
    let records = |records: &[super::request::ProduceRecord]| -> u64 {
        records.iter().map(|r| r.payload_len() as u64).sum()
    };
    let entries: u64 = produce
        .partitions
        .iter()
        .map(|entry| match &entry.data {
            PartitionData::Records(list) => records(list),
            PartitionData::Batch(bytes) => bytes.len() as u64,
        })
        .sum();
    (entries + records(&produce.unrouted)).max(1)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::produce::request::{PartitionProduce, ProduceRecord};

    fn record(len: usize) -> ProduceRecord {
        ProduceRecord {
            value: Some(Bytes::from(vec![0; len])),
            ..ProduceRecord::default()
        }
    }

    #[test]
    fn a_call_costs_its_payload_before_it_is_encoded() {
        let produce = Produce {
            partitions: vec![
                PartitionProduce {
                    partition: 0,
                    data: PartitionData::Records(vec![record(10), record(5)]),
                    base_sequence: None,
                },
                PartitionProduce {
                    partition: 1,
                    data: PartitionData::Batch(Bytes::from_static(&[0; 70])),
                    base_sequence: None,
                },
            ],
            unrouted: vec![record(3)],
            ..Produce::default()
        };
        assert_eq!(cost(&produce), 88);
        assert_eq!(cost(&Produce::default()), 1);
    }

    #[tokio::test]
    async fn a_full_budget_refuses_or_waits() {
        let budget = InflightBudget::new(100);
        let held = budget.admit(80, Admission::Reject).await.unwrap();
        let refused = budget.admit(30, Admission::Reject).await.unwrap_err();
        assert!(matches!(refused, GatewayError::Overloaded { limit: 100 }));
        let too_large = budget.admit(101, Admission::Wait).await.unwrap_err();
        assert!(matches!(too_large, GatewayError::RequestTooLarge { .. }));
        let waiting = tokio::spawn({
            let budget = budget.clone();
            async move { budget.admit(30, Admission::Wait).await.map(|_| ()) }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(held);
        waiting.await.unwrap().unwrap();
    }
}
