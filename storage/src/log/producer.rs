//! Idempotent producers: ids and epochs (`InitProducerId`), and the
//! per-partition sequence state that the offset transaction checks so a
//! retried batch is never written twice.
//!
//! A producer numbers its batches per partition (base sequence, record count).
//! The transaction that assigns offsets accepts a batch only if it follows the
//! last one written; a batch equal to one of the last [`PRODUCER_WINDOW`]
//! written is a retry whose acknowledgement was lost, and is answered with its
//! original base offset; anything else is refused. The check and the offset
//! assignment commit together, so no crash or race can separate them.

use std::collections::VecDeque;

use super::{Log, LogError};
use crate::keys::{decode_i64, encode_i64};
use stratus_meta::{MetaError, Transaction, run};

pub use crate::limits::PRODUCER_WINDOW;

/// The producer fields of one batch, as carried in its RecordBatch v2 header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerBatch {
    pub producer_id: i64,
    pub epoch: i16,
    pub base_sequence: i32,
}

/// Sequence numbers wrap to 0 after `i32::MAX`, as Kafka's do.
pub fn sequence_add(sequence: i32, n: u32) -> i32 {
    ((i64::from(sequence) + i64::from(n)) % (i64::from(i32::MAX) + 1)) as i32
}

/// One batch remembered in a [`ProducerPartitionState`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrittenBatch {
    pub first_sequence: i32,
    pub last_sequence: i32,
    pub base_offset: i64,
}

/// A producer's state on one partition (key tag 15). Encoding, little-endian:
/// version `1` (u8), epoch (i16), count (u8), then per batch first sequence
/// (i32), last sequence (i32), base offset (i64), oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProducerPartitionState {
    pub epoch: i16,
    pub recent: VecDeque<WrittenBatch>,
}

const STATE_VERSION: u8 = 1;

impl ProducerPartitionState {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + self.recent.len() * 16);
        out.push(STATE_VERSION);
        out.extend_from_slice(&self.epoch.to_le_bytes());
        out.push(self.recent.len() as u8);
        for b in &self.recent {
            out.extend_from_slice(&b.first_sequence.to_le_bytes());
            out.extend_from_slice(&b.last_sequence.to_le_bytes());
            out.extend_from_slice(&b.base_offset.to_le_bytes());
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, LogError> {
        let corrupt = |reason: String| LogError::CorruptMetadata {
            reason: format!("producer state: {reason}"),
        };
        let [version, e0, e1, count, rest @ ..] = bytes else {
            return Err(corrupt(format!("{} bytes is too short", bytes.len())));
        };
        if *version != STATE_VERSION {
            return Err(corrupt(format!("unknown version {version}")));
        }
        if rest.len() != usize::from(*count) * 16 {
            return Err(corrupt(format!(
                "{} bytes of batches for a count of {count}",
                rest.len()
            )));
        }
        let i32_at =
            |b: &[u8], at: usize| i32::from_le_bytes(b[at..at + 4].try_into().unwrap_or_default());
        let recent = rest
            .chunks_exact(16)
            .map(|b| WrittenBatch {
                first_sequence: i32_at(b, 0),
                last_sequence: i32_at(b, 4),
                base_offset: i64::from_le_bytes(b[8..16].try_into().unwrap_or_default()),
            })
            .collect();
        Ok(Self {
            epoch: i16::from_le_bytes([*e0, *e1]),
            recent,
        })
    }

    /// What to do with `batch` of `record_count` records, given this state
    /// and the producer's current epoch (`None`: unknown producer id).
    pub fn check(
        state: Option<&Self>,
        current_epoch: Option<i16>,
        batch: ProducerBatch,
        record_count: u32,
    ) -> SequenceCheck {
        if current_epoch != Some(batch.epoch) {
            return SequenceCheck::Fenced;
        }
        let last_sequence = sequence_add(batch.base_sequence, record_count.saturating_sub(1));
        let state = match state {
            Some(state) if state.epoch == batch.epoch => state,
            Some(state) if state.epoch > batch.epoch => return SequenceCheck::Fenced,
            // A new epoch (or the first batch here) starts at sequence 0.
            _ if batch.base_sequence == 0 => return SequenceCheck::Write,
            _ => return SequenceCheck::OutOfOrder,
        };
        if let Some(written) = state
            .recent
            .iter()
            .find(|w| w.first_sequence == batch.base_sequence && w.last_sequence == last_sequence)
        {
            return SequenceCheck::Duplicate(written.base_offset);
        }
        match state.recent.back() {
            Some(last) if sequence_add(last.last_sequence, 1) == batch.base_sequence => {
                SequenceCheck::Write
            }
            None if batch.base_sequence == 0 => SequenceCheck::Write,
            _ => SequenceCheck::OutOfOrder,
        }
    }

    /// Records a batch written at `base_offset`.
    pub fn remember(&mut self, batch: ProducerBatch, record_count: u32, base_offset: i64) {
        if self.epoch != batch.epoch {
            self.recent.clear();
            self.epoch = batch.epoch;
        }
        self.recent.push_back(WrittenBatch {
            first_sequence: batch.base_sequence,
            last_sequence: sequence_add(batch.base_sequence, record_count.saturating_sub(1)),
            base_offset,
        });
        while self.recent.len() > PRODUCER_WINDOW {
            self.recent.pop_front();
        }
    }
}

/// The verdict on one idempotent batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SequenceCheck {
    /// Next in sequence: write it.
    Write,
    /// Already written at this base offset: answer with it, write nothing.
    Duplicate(i64),
    /// Does not follow the last batch written: refuse.
    OutOfOrder,
    /// From an epoch that is not the producer's current one: refuse.
    Fenced,
}

impl Log {
    /// Allocates a new producer id at epoch 0, or, given the id and epoch a
    /// producer last held, bumps its epoch, which fences every older session.
    pub async fn init_producer_id(
        &self,
        previous: Option<(i64, i16)>,
    ) -> Result<(i64, i16), LogError> {
        let counter = self.keys.producer_id_counter();
        run(self.meta.as_ref(), &self.retry, |tx| {
            let counter = &counter;
            Box::pin(async move {
                if let Some((id, epoch)) = previous {
                    let current = self.producer_epoch(tx, id).await?;
                    if current != Some(epoch) {
                        return Ok(Err(LogError::ProducerFenced {
                            producer_id: id,
                            epoch,
                        }));
                    }
                    // Epochs are i16 in the batch format; at the end of the
                    // range the producer continues under a fresh id.
                    if epoch < i16::MAX {
                        tx.set(&self.keys.producer_epoch(id), &(epoch + 1).to_le_bytes())?;
                        self.touch_producer(tx, id)?;
                        return Ok(Ok((id, epoch + 1)));
                    }
                }
                let id = decode_i64(tx.get(counter).await?.as_deref().unwrap_or_default()) + 1;
                tx.set(counter, &encode_i64(id))?;
                tx.set(&self.keys.producer_epoch(id), &0i16.to_le_bytes())?;
                self.touch_producer(tx, id)?;
                Ok(Ok((id, 0)))
            })
        })
        .await?
    }

    /// The producer's current epoch; `None` for an id never handed out.
    pub(super) async fn producer_epoch(
        &self,
        tx: &mut dyn Transaction,
        producer_id: i64,
    ) -> Result<Option<i16>, MetaError> {
        Ok(tx
            .get(&self.keys.producer_epoch(producer_id))
            .await?
            .and_then(|v| v.get(..2).map(|b| i16::from_le_bytes([b[0], b[1]]))))
    }

    /// Checks an idempotent batch against the producer's state on the
    /// partition, inside the offset transaction.
    pub(super) async fn check_sequence(
        &self,
        tx: &mut dyn Transaction,
        topic_id: u128,
        partition: u32,
        batch: ProducerBatch,
        record_count: u32,
    ) -> Result<SequenceCheck, MetaError> {
        let epoch = self.producer_epoch(tx, batch.producer_id).await?;
        let state = self
            .producer_state(tx, topic_id, partition, batch.producer_id)
            .await?;
        Ok(ProducerPartitionState::check(
            state.as_ref(),
            epoch,
            batch,
            record_count,
        ))
    }

    /// Records an idempotent batch written at `base_offset`.
    pub(super) async fn remember_sequence(
        &self,
        tx: &mut dyn Transaction,
        topic_id: u128,
        partition: u32,
        batch: ProducerBatch,
        record_count: u32,
        base_offset: i64,
    ) -> Result<(), MetaError> {
        let existing = self
            .producer_state(tx, topic_id, partition, batch.producer_id)
            .await?;
        if existing.is_none() {
            // Lets expiry find this state from the producer id.
            tx.set(
                &self
                    .keys
                    .producer_partition(batch.producer_id, topic_id, partition),
                &[],
            )?;
        }
        self.touch_producer(tx, batch.producer_id)?;
        let mut state = existing.unwrap_or_default();
        state.remember(batch, record_count, base_offset);
        tx.set(
            &self
                .keys
                .producer_state(topic_id, partition, batch.producer_id),
            &state.encode(),
        )
    }

    /// Records that the producer is active now (a blind write: concurrent
    /// appends of one producer on different partitions do not conflict).
    fn touch_producer(&self, tx: &mut dyn Transaction, producer_id: i64) -> Result<(), MetaError> {
        tx.set(
            &self.keys.producer_activity(producer_id),
            &encode_i64(super::now_ms()),
        )
    }

    async fn producer_state(
        &self,
        tx: &mut dyn Transaction,
        topic_id: u128,
        partition: u32,
        producer_id: i64,
    ) -> Result<Option<ProducerPartitionState>, MetaError> {
        let key = self.keys.producer_state(topic_id, partition, producer_id);
        tx.get(&key)
            .await?
            .map(|v| ProducerPartitionState::decode(&v))
            .transpose()
            .map_err(|e| MetaError::Backend(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(epoch: i16, base_sequence: i32) -> ProducerBatch {
        ProducerBatch {
            producer_id: 1,
            epoch,
            base_sequence,
        }
    }

    /// The state is persisted: these bytes must never change.
    #[test]
    fn state_bytes_are_pinned() {
        let mut state = ProducerPartitionState::default();
        state.remember(batch(2, 0), 3, 40);
        let hex: String = state.encode().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "0102000100000000020000002800000000000000");
        assert_eq!(
            ProducerPartitionState::decode(&state.encode()).unwrap(),
            state
        );
    }

    #[test]
    fn sequences_are_checked_in_order_with_a_window_of_retries() {
        let check = ProducerPartitionState::check;
        assert_eq!(check(None, Some(0), batch(0, 0), 3), SequenceCheck::Write);
        assert_eq!(
            check(None, Some(0), batch(0, 3), 3),
            SequenceCheck::OutOfOrder
        );
        let mut state = ProducerPartitionState::default();
        for i in 0..7 {
            state.remember(batch(0, i * 10), 10, i64::from(i) * 100);
        }
        assert_eq!(state.recent.len(), PRODUCER_WINDOW);
        let s = Some(&state);
        assert_eq!(check(s, Some(0), batch(0, 70), 10), SequenceCheck::Write);
        assert_eq!(
            check(s, Some(0), batch(0, 60), 10),
            SequenceCheck::Duplicate(600)
        );
        assert_eq!(
            check(s, Some(0), batch(0, 20), 10),
            SequenceCheck::Duplicate(200)
        );
        // Out of the window, a gap, or a different split: refused.
        assert_eq!(
            check(s, Some(0), batch(0, 10), 10),
            SequenceCheck::OutOfOrder
        );
        assert_eq!(
            check(s, Some(0), batch(0, 80), 10),
            SequenceCheck::OutOfOrder
        );
        assert_eq!(
            check(s, Some(0), batch(0, 60), 5),
            SequenceCheck::OutOfOrder
        );
        // A bumped epoch fences the old one and starts again at 0.
        assert_eq!(check(s, Some(1), batch(0, 70), 10), SequenceCheck::Fenced);
        assert_eq!(check(s, Some(1), batch(1, 0), 10), SequenceCheck::Write);
        assert_eq!(
            check(s, Some(1), batch(1, 70), 10),
            SequenceCheck::OutOfOrder
        );
        assert_eq!(check(s, None, batch(0, 70), 10), SequenceCheck::Fenced);
    }

    #[test]
    fn sequences_wrap_like_kafka() {
        assert_eq!(sequence_add(i32::MAX, 1), 0);
        let mut state = ProducerPartitionState::default();
        state.remember(batch(0, i32::MAX - 1), 2, 0);
        assert_eq!(
            ProducerPartitionState::check(Some(&state), Some(0), batch(0, 0), 1),
            SequenceCheck::Write
        );
    }
}
