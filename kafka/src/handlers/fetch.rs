//! Fetch, v4 to v13, without fetch sessions: every answer carries session id
//! 0, which tells clients to keep sending full fetches; a fetch naming a
//! session gets FETCH_SESSION_ID_NOT_FOUND. Topic ids (v13) are resolved to
//! names before the broker is asked. Batches go out as the broker returns
//! them (as stored, base offsets patched), within the request's `max_bytes`
//! (see [`Allowance`]). With no transactions, the last
//! stable offset is the high watermark and nothing is ever aborted.

use std::collections::HashMap;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{FetchRequest, FetchResponse, ResponseKind};
use uuid::Uuid;

use super::Answer;
use crate::{
    Broker, BrokerError, FetchPartition, FetchQuery, FetchedPartition, TopicQuery, TopicRef,
};

/// Kafka's `isolation_level` for read_committed.
const READ_COMMITTED: i8 = 1;

pub(crate) async fn handle<B: Broker + ?Sized>(
    broker: &B,
    version: i16,
    request: FetchRequest,
) -> Answer {
    if version >= 7 && request.session_id != 0 {
        let e = BrokerError::FetchSessionNotFound(request.session_id);
        return Ok(ResponseKind::Fetch(
            FetchResponse::default().with_error_code(e.code()),
        ));
    }
    let names = if version >= 13 {
        resolve_ids(broker, &request).await
    } else {
        HashMap::new()
    };
    // For every requested partition, its index in the query or why not.
    let mut partitions = Vec::new();
    let mut slots: Vec<Vec<(i32, Result<usize, BrokerError>)>> = Vec::new();
    for topic in &request.topics {
        let name = if version >= 13 {
            names
                .get(&topic.topic_id)
                .cloned()
                .unwrap_or(Err(BrokerError::UnknownTopicId(topic.topic_id)))
        } else {
            Ok(topic.topic.to_string())
        };
        let mut topic_slots = Vec::with_capacity(topic.partitions.len());
        for p in &topic.partitions {
            let slot = name.clone().map(|name| {
                partitions.push(FetchPartition {
                    topic: name,
                    partition: p.partition,
                    offset: p.fetch_offset,
                    max_bytes: clamp_u32(p.partition_max_bytes),
                });
                partitions.len() - 1
            });
            topic_slots.push((p.partition, slot));
        }
        slots.push(topic_slots);
    }
    let wanted = partitions.len();
    let fetched = if wanted == 0 {
        Ok(Vec::new())
    } else {
        broker
            .fetch(FetchQuery {
                partitions,
                max_bytes: clamp_u32(request.max_bytes),
                min_bytes: clamp_u32(request.min_bytes),
                max_wait: Duration::from_millis(u64::from(clamp_u32(request.max_wait_ms))),
            })
            .await
    };
    let outcome_of = |slot: usize| -> Result<&FetchedPartition, BrokerError> {
        match &fetched {
            Ok(results) => match results.get(slot) {
                Some(r) => r.as_ref().map_err(Clone::clone),
                None => Err(BrokerError::Internal(format!(
                    "the broker answered {} of {wanted} fetched partitions",
                    results.len()
                ))),
            },
            Err(e) => Err(e.clone()),
        }
    };
    let read_committed = request.isolation_level == READ_COMMITTED;
    let mut allowance = Allowance::new(request.max_bytes);
    let mut responses = Vec::with_capacity(request.topics.len());
    for (topic, topic_slots) in request.topics.iter().zip(slots) {
        let partitions = topic_slots
            .into_iter()
            .map(|(index, slot)| {
                let outcome = slot.and_then(outcome_of);
                partition_data(index, outcome, read_committed, &mut allowance)
            })
            .collect();
        let mut out = FetchableTopicResponse::default().with_partitions(partitions);
        if version >= 13 {
            out.topic_id = topic.topic_id;
        } else {
            out.topic = topic.topic.clone();
        }
        responses.push(out);
    }
    Ok(ResponseKind::Fetch(
        FetchResponse::default().with_responses(responses),
    ))
}

/// Topic id to name (or why not) for every topic of a v13 fetch.
async fn resolve_ids<B: Broker + ?Sized>(
    broker: &B,
    request: &FetchRequest,
) -> HashMap<Uuid, Result<String, BrokerError>> {
    let ids: Vec<Uuid> = request.topics.iter().map(|t| t.topic_id).collect();
    let refs = ids.iter().copied().map(TopicRef::Id).collect();
    match broker.topics(TopicQuery::Only(refs)).await {
        Ok(found) => found.into_iter().map(|t| (t.id, Ok(t.name))).collect(),
        Err(e) => ids.into_iter().map(|id| (id, Err(e.clone()))).collect(),
    }
}

/// The request's `max_bytes` across all partitions, as Kafka applies it
/// (KIP-74): batches go out in request order while they fit, except that the
/// first batch of the response goes out whatever its size, so a consumer
/// always makes progress. The broker serves each partition at least one
/// batch, so without this three partitions of 900 KiB batches made a 2.7 MB
/// answer to a 1 MB fetch, which librdkafka refuses as larger than
/// `receive.message.max.bytes` and retries forever.
struct Allowance {
    /// Bytes still allowed; `None`: no limit asked for.
    left: Option<usize>,
    sent_any: bool,
}

impl Allowance {
    fn new(max_bytes: i32) -> Self {
        Self {
            left: usize::try_from(max_bytes).ok().filter(|&n| n > 0),
            sent_any: false,
        }
    }

    /// The leading batches of `batches` that fit.
    fn take<'a>(&mut self, batches: &'a [Bytes]) -> &'a [Bytes] {
        let Some(left) = self.left.as_mut() else {
            return batches;
        };
        let mut n = 0;
        for batch in batches {
            if self.sent_any && batch.len() > *left {
                break;
            }
            *left = left.saturating_sub(batch.len());
            self.sent_any = true;
            n += 1;
        }
        &batches[..n]
    }
}

fn partition_data(
    index: i32,
    outcome: Result<&FetchedPartition, BrokerError>,
    read_committed: bool,
    allowance: &mut Allowance,
) -> PartitionData {
    let out = PartitionData::default()
        .with_partition_index(index)
        // Kafka sends null aborted transactions to read_uncommitted readers
        // and a list, here always empty, to read_committed ones.
        .with_aborted_transactions(read_committed.then(Vec::new));
    match outcome {
        Ok(fetched) => out
            .with_high_watermark(fetched.high_watermark)
            .with_last_stable_offset(fetched.high_watermark)
            .with_log_start_offset(fetched.log_start_offset)
            .with_records(Some(concat(allowance.take(&fetched.batches)))),
        Err(e) => out
            .with_error_code(e.code())
            .with_high_watermark(-1)
            .with_last_stable_offset(-1)
            .with_log_start_offset(-1)
            .with_records(Some(Bytes::new())),
    }
}

fn concat(batches: &[Bytes]) -> Bytes {
    match batches {
        [] => Bytes::new(),
        [one] => one.clone(),
        many => {
            let mut out = BytesMut::with_capacity(many.iter().map(Bytes::len).sum());
            for b in many {
                out.extend_from_slice(b);
            }
            out.freeze()
        }
    }
}

fn clamp_u32(v: i32) -> u32 {
    u32::try_from(v).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batches(sizes: &[usize]) -> Vec<Bytes> {
        sizes.iter().map(|&n| Bytes::from(vec![0; n])).collect()
    }

    #[test]
    fn the_first_batch_goes_out_whatever_its_size_and_the_rest_within_max_bytes() {
        let mut allowance = Allowance::new(1_000);
        // Partition 0: one batch larger than the whole fetch, sent anyway.
        assert_eq!(allowance.take(&batches(&[1_500, 10])).len(), 1);
        // Partitions after it: nothing is left.
        assert!(allowance.take(&batches(&[900])).is_empty());

        let mut allowance = Allowance::new(1_000);
        assert_eq!(allowance.take(&batches(&[400, 400, 400])).len(), 2);
        // 200 left: a small batch of the next partition still fits.
        assert_eq!(allowance.take(&batches(&[150, 100])).len(), 1);
    }

    #[test]
    fn no_max_bytes_sends_everything() {
        for max in [0, -1] {
            let mut allowance = Allowance::new(max);
            assert_eq!(allowance.take(&batches(&[5_000, 5_000])).len(), 2);
            assert_eq!(allowance.take(&batches(&[5_000])).len(), 1);
        }
    }
}
