//! Expiring idle idempotent producers, as Kafka does after
//! `transactional.id.expiration.ms` (7 days by default): without it every
//! producer that ever ran leaves an epoch and per-partition sequence state
//! in metadata forever, and each SDK producer (each `stratus produce`) takes
//! a new id.
//!
//! A producer's activity key (tag 22) holds when it last wrote a batch or
//! called `InitProducerId`. A producer idle since before the cutoff loses its
//! epoch (tag 14), its activity key, and its sequence state on every
//! partition (tag 15, found through tag 23). Afterwards the gateway refuses
//! its batches as fenced, and the SDK reports the producer fenced: a new
//! producer must be created. Only the dedup window of an idle producer is
//! lost; no record is.
//!
//! Each transaction re-reads the activity key, so a producer that writes
//! while it is being expired is left alone (the transaction conflicts and
//! then sees the new time). States are cleared [`PRODUCER_EXPIRY_BATCH`] at
//! a time, the activity key last, so an interrupted expiry is finished by the
//! next pass.

use super::{Log, LogError};
use crate::keys::decode_i64;
use crate::limits::PRODUCER_EXPIRY_BATCH;
use stratus_meta::{RangeOptions, run};

/// What one expiry sweep removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProducerExpiry {
    /// Producers whose epoch and activity were removed.
    pub producers: u64,
    /// Per-partition sequence states removed.
    pub partition_states: u64,
}

impl Log {
    /// Expires every producer whose last activity is before `cutoff_ms`.
    pub async fn expire_producers(&self, cutoff_ms: i64) -> Result<ProducerExpiry, LogError> {
        let mut expiry = ProducerExpiry::default();
        let (mut from, end) = self.keys.producer_activity_range();
        loop {
            let page = run(self.meta.as_ref(), &self.retry, |tx| {
                let (from, end) = (&from, &end);
                Box::pin(async move {
                    let options = RangeOptions {
                        limit: PRODUCER_EXPIRY_BATCH,
                        reverse: false,
                        snapshot: true,
                    };
                    tx.get_range(from, end, options).await
                })
            })
            .await?;
            for (key, value) in &page {
                let idle = decode_i64(value) < cutoff_ms;
                if let Some(producer_id) = self.keys.producer_activity_decode(key)
                    && idle
                    && let Some(states) = self.expire_producer(producer_id, cutoff_ms).await?
                {
                    expiry.producers += 1;
                    expiry.partition_states += states;
                }
            }
            let Some((last, _)) = page.last().filter(|_| page.len() == PRODUCER_EXPIRY_BATCH)
            else {
                return Ok(expiry);
            };
            from = last.to_vec();
            from.push(0);
        }
    }

    /// Removes one producer if it is still idle since before `cutoff_ms`;
    /// returns how many partition states it had, or `None` if it was active.
    async fn expire_producer(
        &self,
        producer_id: i64,
        cutoff_ms: i64,
    ) -> Result<Option<u64>, LogError> {
        let mut removed = 0;
        loop {
            let step = run(self.meta.as_ref(), &self.retry, |tx| {
                Box::pin(async move {
                    let activity = self.keys.producer_activity(producer_id);
                    let last = tx.get(&activity).await?;
                    if last.is_none_or(|ms| decode_i64(&ms) >= cutoff_ms) {
                        return Ok(None);
                    }
                    let (begin, end) = self.keys.producer_partitions_range(producer_id);
                    let options = RangeOptions {
                        limit: PRODUCER_EXPIRY_BATCH,
                        reverse: false,
                        snapshot: false,
                    };
                    let states = tx.get_range(&begin, &end, options).await?;
                    for (key, _) in &states {
                        if let Some((topic_id, partition)) =
                            self.keys.producer_partition_decode(key)
                        {
                            tx.clear(&self.keys.producer_state(topic_id, partition, producer_id))?;
                        }
                        tx.clear(key)?;
                    }
                    let finished = states.len() < PRODUCER_EXPIRY_BATCH;
                    if finished {
                        tx.clear(&self.keys.producer_epoch(producer_id))?;
                        tx.clear(&activity)?;
                    }
                    Ok(Some((states.len() as u64, finished)))
                })
            })
            .await?;
            match step {
                None => return Ok(None),
                Some((states, finished)) => {
                    removed += states;
                    if finished {
                        tracing::info!(
                            producer_id,
                            partition_states = removed,
                            "expired idle producer"
                        );
                        return Ok(Some(removed));
                    }
                }
            }
        }
    }
}
