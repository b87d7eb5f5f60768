//! Delivering one batch of one partition until every record has either
//! succeeded or gone to the on-failure topic: retries with backoff, partial
//! batch responses, bisection, and the max record age.
//!
//! Only when [`deliver`] returns may the caller commit the batch's end
//! offset; until then nothing of the batch is committed, so a crash re-delivers
//! at most this batch.

use std::collections::VecDeque;
use std::time::Duration;

use async_trait::async_trait;
use stratus_format::trigger::TriggerSpec;

use crate::event;
use crate::limits::{
    DELIVERY_BACKOFF_MAX_DOUBLINGS, DELIVERY_INITIAL_BACKOFF, DELIVERY_MAX_BACKOFF,
};
use crate::record::Record;
use crate::response::{Reported, reported};
use crate::target::{InvokeError, Invoker};

/// How a batch is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Retries after the first attempt; -1 retries forever.
    pub max_retries: i32,
    pub bisect_on_error: bool,
    /// Records older than this (ms) skip the function; 0 means no limit.
    pub max_record_age_ms: u64,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl Policy {
    pub fn of(spec: &TriggerSpec) -> Self {
        Self {
            max_retries: spec.max_retries,
            bisect_on_error: spec.bisect_on_error,
            max_record_age_ms: spec.max_record_age_ms,
            initial_backoff: DELIVERY_INITIAL_BACKOFF,
            max_backoff: DELIVERY_MAX_BACKOFF,
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let doublings = attempt
            .saturating_sub(1)
            .min(DELIVERY_BACKOFF_MAX_DOUBLINGS);
        (self.initial_backoff * (1u32 << doublings)).min(self.max_backoff)
    }

    fn exhausted(&self, attempts: u32) -> bool {
        self.max_retries >= 0 && attempts > self.max_retries.unsigned_abs()
    }
}

/// Why records went to the on-failure topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub error: InvokeError,
    /// Invocations of the records' last batch.
    pub attempts: u32,
}

/// Where records go after the retry limit.
#[async_trait]
pub trait FailureSink: Send + Sync + std::fmt::Debug {
    /// Stores `records` with `failure`; an error is retried by the caller.
    async fn send(&self, records: &[Record], failure: &Failure) -> Result<(), String>;
}

/// What happened to a batch.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Delivered {
    /// The offset to commit: one past the batch's last record.
    pub next_offset: i64,
    pub invocations: u32,
    /// Records sent to the on-failure topic.
    pub failed: usize,
}

/// Delivers `batch` (one partition, offset order, non-empty) to the function.
pub async fn deliver(
    batch: Vec<Record>,
    invoker: &dyn Invoker,
    sink: &dyn FailureSink,
    policy: &Policy,
    bootstrap_servers: &str,
    now_ms: impl Fn() -> i64,
) -> Delivered {
    let mut delivered = Delivered {
        next_offset: batch.last().map_or(0, |r| r.offset + 1),
        ..Delivered::default()
    };
    let (fresh, old): (Vec<Record>, Vec<Record>) = batch.into_iter().partition(|r| {
        policy.max_record_age_ms == 0
            || now_ms().saturating_sub(r.timestamp_ms) <= policy.max_record_age_ms as i64
    });
    if !old.is_empty() {
        let failure = Failure {
            error: InvokeError::Function {
                error_type: "RecordAgeExceeded".to_owned(),
                message: format!(
                    "record is older than the trigger's max record age of {} ms",
                    policy.max_record_age_ms
                ),
            },
            attempts: 0,
        };
        send_failed(sink, &old, &failure, policy).await;
        delivered.failed += old.len();
    }
    let mut queue = VecDeque::new();
    if !fresh.is_empty() {
        queue.push_back(fresh);
    }
    while let Some(chunk) = queue.pop_front() {
        let (failed, halves) = attempt_chunk(
            chunk,
            invoker,
            sink,
            policy,
            bootstrap_servers,
            &mut delivered,
        )
        .await;
        delivered.failed += failed;
        if let Some((first, second)) = halves {
            queue.push_front(second);
            queue.push_front(first);
        }
    }
    delivered
}

/// Invokes with `chunk` until it succeeds or its retries are spent; then
/// either splits it (returned halves) or sends it to the sink.
async fn attempt_chunk(
    mut chunk: Vec<Record>,
    invoker: &dyn Invoker,
    sink: &dyn FailureSink,
    policy: &Policy,
    bootstrap_servers: &str,
    delivered: &mut Delivered,
) -> (usize, Option<(Vec<Record>, Vec<Record>)>) {
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        delivered.invocations += 1;
        let payload = event::encode(&chunk, bootstrap_servers);
        let error = match invoker.invoke(payload).await {
            Ok(body) => match reported(&body, &chunk) {
                Reported::Success => return (0, None),
                Reported::FailedFrom { offset } => {
                    // Records before it succeeded; never send them again.
                    chunk.retain(|r| r.offset >= offset);
                    InvokeError::Function {
                        error_type: "BatchItemFailure".to_owned(),
                        message: format!("the function reported offset {offset} as failed"),
                    }
                }
                Reported::Unrecognized => InvokeError::Function {
                    error_type: "BatchItemFailure".to_owned(),
                    message:
                        "batchItemFailures names no record of the batch; the whole batch failed"
                            .to_owned(),
                },
            },
            Err(error) => error,
        };
        tracing::debug!(%error, attempts, records = chunk.len(), "invocation failed");
        if !policy.exhausted(attempts) {
            tokio::time::sleep(policy.backoff(attempts)).await;
            continue;
        }
        if policy.bisect_on_error && chunk.len() > 1 {
            let second = chunk.split_off(chunk.len() / 2);
            return (0, Some((chunk, second)));
        }
        let failure = Failure { error, attempts };
        tracing::warn!(
            error = %failure.error,
            attempts,
            first_offset = chunk[0].offset,
            records = chunk.len(),
            "retries spent; sending records to the on-failure topic"
        );
        send_failed(sink, &chunk, &failure, policy).await;
        return (chunk.len(), None);
    }
}

/// The sink must take the records before the batch may be committed, so a
/// sink outage stalls the partition instead of losing records.
async fn send_failed(
    sink: &dyn FailureSink,
    records: &[Record],
    failure: &Failure,
    policy: &Policy,
) {
    let mut attempt = 0;
    while let Err(e) = sink.send(records, failure).await {
        attempt += 1;
        tracing::warn!(error = %e, attempt, "cannot write to the on-failure topic; retrying");
        tokio::time::sleep(policy.backoff(attempt)).await;
    }
}

#[cfg(test)]
mod tests;
