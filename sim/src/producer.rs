//! A simulated producer: batches of records with values unique in the run,
//! sent to a random live gateway. An idempotent producer retries an
//! unanswered batch with the same sequence numbers until it is answered (and
//! after too many tries starts over as a new producer); a plain producer
//! never retries one, so neither ever has a reason to see a record twice.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use stratus_format::batch::{RecordInput, encode_batch, stamp_producer};
use stratus_storage::ids::now_ms;
use stratus_storage::log::{AppendBatch, ProducerBatch, sequence_add};
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::cluster::Cluster;
use crate::gateway::{ProduceAnswer, ProduceCall};
use crate::history::Event;

/// How long a producer waits for an answer (`request.timeout.ms`).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Tries of one batch before an idempotent producer starts over.
const MAX_TRIES: u32 = 8;

/// What producer `index` does until `until`.
pub async fn run_producer(cluster: Arc<Cluster>, index: usize, until: Instant) {
    let idempotent = index < cluster.config.idempotent_producers;
    let name = format!("p{index}");
    let mut rng = StdRng::seed_from_u64(cluster.config.seed.wrapping_add(1000 + index as u64));
    let mut session = None;
    let mut sequences: BTreeMap<u32, i32> = BTreeMap::new();
    let mut counter = 0u64;
    while Instant::now() < until {
        if idempotent && session.is_none() {
            session = init_producer(&cluster, &mut rng).await;
            sequences.clear();
            if session.is_none() {
                continue;
            }
        }
        let partition = rng.random_range(0..cluster.config.partitions);
        let count = rng.random_range(1..=5u32);
        let values: Vec<String> = (0..count)
            .map(|i| format!("{name}-{}", counter + u64::from(i)))
            .collect();
        counter += u64::from(count);
        let producer = session.map(|(producer_id, epoch)| ProducerBatch {
            producer_id,
            epoch,
            base_sequence: sequences.get(&partition).copied().unwrap_or(0),
        });
        let batch = append_batch(&cluster, partition, &values, producer);
        let tries = if idempotent { MAX_TRIES } else { 1 };
        let mut last_error = String::new();
        let mut acked = false;
        for _ in 0..tries {
            match send(&cluster, &mut rng, batch.clone()).await {
                Ok(Ok(base_offset)) => {
                    cluster.history.record(Event::Acked {
                        producer: name.clone(),
                        partition,
                        base_offset,
                        values: values.clone(),
                    });
                    acked = true;
                    break;
                }
                // A definite refusal (out of order, fenced): nothing written.
                Ok(Err(e)) => {
                    last_error = e;
                    session = None;
                    break;
                }
                Err(e) => {
                    last_error = e;
                    tokio::time::sleep(Duration::from_millis(rng.random_range(50..=400))).await;
                }
            }
        }
        if acked {
            if let Some(p) = producer {
                sequences.insert(partition, sequence_add(p.base_sequence, count));
            }
        } else {
            cluster.history.record(Event::ProduceFailed {
                producer: name.clone(),
                partition,
                values,
                error: last_error,
            });
            // The batch may yet land under its sequence numbers; a new
            // producer id keeps later batches clear of it.
            session = None;
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(10..=150))).await;
    }
}

async fn init_producer(cluster: &Cluster, rng: &mut StdRng) -> Option<(i64, i16)> {
    let got = match cluster.pick_gateway(rng) {
        Some(gateway) => gateway.log.init_producer_id(None).await.ok(),
        None => None,
    };
    if got.is_none() {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    got
}

fn append_batch(
    cluster: &Cluster,
    partition: u32,
    values: &[String],
    producer: Option<ProducerBatch>,
) -> AppendBatch {
    let timestamp_ms = now_ms();
    let records: Vec<RecordInput> = values
        .iter()
        .map(|v| RecordInput {
            key: None,
            value: Some(Bytes::from(v.clone())),
            headers: Vec::new(),
            timestamp_ms,
        })
        .collect();
    let mut batch = encode_batch(&records, 1).expect("simulated records encode");
    if let Some(p) = producer {
        let mut stamped = BytesMut::from(&batch[..]);
        stamp_producer(&mut stamped, p.producer_id, p.epoch, p.base_sequence)
            .expect("a fresh batch takes producer fields");
        batch = stamped.freeze();
    }
    AppendBatch {
        topic_id: cluster.topic.id,
        partition,
        batch,
        record_count: values.len() as u32,
        first_timestamp_ms: timestamp_ms,
        max_timestamp_ms: timestamp_ms,
        producer,
    }
}

/// One try: `Ok(Ok(base))` acknowledged, `Ok(Err)` refused for certain,
/// `Err` unknown (a gateway down, crashed or timed out, or a failed flush).
async fn send(
    cluster: &Cluster,
    rng: &mut StdRng,
    batch: AppendBatch,
) -> Result<Result<i64, String>, String> {
    let Some(gateway) = cluster.pick_gateway(rng) else {
        tokio::time::sleep(Duration::from_millis(100)).await;
        return Err("no gateway is up".into());
    };
    let (reply, answer) = oneshot::channel::<ProduceAnswer>();
    let call = ProduceCall {
        batches: vec![batch],
        reply,
    };
    if !cluster.submit(gateway.index, call) {
        return Err("gateway went down".into());
    }
    match tokio::time::timeout(REQUEST_TIMEOUT, answer).await {
        Err(_) => Err("request timed out".into()),
        Ok(Err(_)) => Err("gateway crashed before answering".into()),
        Ok(Ok(Err(e))) => Err(e),
        Ok(Ok(Ok(outcomes))) => match outcomes.into_iter().next() {
            Some(Ok(base)) => Ok(Ok(base)),
            Some(Err(e)) => Ok(Err(e)),
            None => Err("no outcome for the batch".into()),
        },
    }
}
