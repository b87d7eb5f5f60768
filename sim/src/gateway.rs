//! A simulated gateway: the storage crate's produce path (a linger batcher in
//! front of `Log::write_object` and `Log::commit_objects`, acknowledging only
//! after the commit) and group coordination, reached by clients through a
//! channel. A crash aborts its flush task mid-operation and drops its log,
//! chunk cache and queued calls; the stores keep whatever already landed.

use std::sync::Arc;
use std::time::Duration;

use stratus_storage::group::{GroupLimits, Groups};
use stratus_storage::log::{AppendBatch, Log, LogConfig};
use stratus_storage::topic::TopicRecord;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::config::PlantedBug;
use crate::link::{Link, LinkedMeta, LinkedStore};
use crate::stores::Stores;

/// How long the batcher waits for more calls after the first.
pub const LINGER: Duration = Duration::from_millis(5);

/// A produce call's answer: per batch, its base offset or why not.
pub type ProduceAnswer = Result<Vec<Result<i64, String>>, String>;

/// One produce call on its way to a gateway.
#[derive(Debug)]
pub struct ProduceCall {
    pub batches: Vec<AppendBatch>,
    pub reply: oneshot::Sender<ProduceAnswer>,
}

/// A running gateway.
#[derive(Debug)]
pub struct Gateway {
    pub log: Arc<Log>,
    pub groups: Arc<Groups>,
    calls: mpsc::UnboundedSender<ProduceCall>,
    flusher: JoinHandle<()>,
}

impl Gateway {
    /// Starts a gateway reaching the stores through `link`.
    pub fn start(
        stores: &Stores,
        link: &Arc<Link>,
        topic: TopicRecord,
        bug: Option<PlantedBug>,
    ) -> Self {
        let meta = Arc::new(LinkedMeta::new(stores.meta_dyn(), Arc::clone(link)));
        let tier = Arc::new(LinkedStore::new(Arc::clone(&stores.tier), Arc::clone(link)));
        let config = LogConfig {
            // Large enough that nothing is evicted: the cache's eviction
            // order depends on a randomly seeded hasher.
            chunk_cache_bytes: 1 << 30,
            ..LogConfig::default()
        };
        let log = Arc::new(Log::new(meta.clone(), tier, &config));
        let groups = Arc::new(Groups::new(
            meta,
            log.keys().clone(),
            GroupLimits::default(),
        ));
        let (calls, receiver) = mpsc::unbounded_channel();
        let flusher = tokio::spawn(flush_loop(Arc::clone(&log), topic, receiver, bug));
        Self {
            log,
            groups,
            calls,
            flusher,
        }
    }

    /// Hands a call to the batcher; `false` if the gateway is gone.
    pub fn submit(&self, call: ProduceCall) -> bool {
        self.calls.send(call).is_ok()
    }

    /// Drops every bit of in-memory state at once, mid-operation.
    pub fn crash(self) {
        self.flusher.abort();
    }
}

async fn flush_loop(
    log: Arc<Log>,
    topic: TopicRecord,
    mut receiver: mpsc::UnboundedReceiver<ProduceCall>,
    bug: Option<PlantedBug>,
) {
    while let Some(first) = receiver.recv().await {
        tokio::time::sleep(LINGER).await;
        let mut calls = vec![first];
        while let Ok(call) = receiver.try_recv() {
            calls.push(call);
        }
        let batches: Vec<AppendBatch> = calls.iter().flat_map(|c| c.batches.clone()).collect();
        let written = match log.write_object(&batches).await {
            Ok(written) => written,
            Err(e) => {
                answer_all(calls, &e.to_string());
                continue;
            }
        };
        if bug == Some(PlantedBug::AckBeforeCommit) {
            ack_before_commit(&log, &topic, calls, &batches).await;
            let _ = log.commit_object(&batches, written).await;
            continue;
        }
        match log.commit_object(&batches, written).await {
            Ok(outcomes) => {
                let mut outcomes = outcomes.into_iter();
                for call in calls {
                    let mine = outcomes
                        .by_ref()
                        .take(call.batches.len())
                        .map(|o| o.map_err(|e| e.to_string()))
                        .collect();
                    let _ = call.reply.send(Ok(mine));
                }
            }
            Err(e) => answer_all(calls, &e.to_string()),
        }
    }
}

fn answer_all(calls: Vec<ProduceCall>, error: &str) {
    for call in calls {
        let _ = call.reply.send(Err(error.to_owned()));
    }
}

/// The planted bug: answers with offsets guessed from the partition heads
/// before the offset transaction ran.
async fn ack_before_commit(
    log: &Log,
    topic: &TopicRecord,
    calls: Vec<ProduceCall>,
    batches: &[AppendBatch],
) {
    let mut next = std::collections::BTreeMap::new();
    for batch in batches {
        if let std::collections::btree_map::Entry::Vacant(slot) = next.entry(batch.partition) {
            match log.partition_state(topic, batch.partition).await {
                Ok(state) => {
                    slot.insert(state.high_watermark);
                }
                Err(e) => return answer_all(calls, &e.to_string()),
            }
        }
    }
    for call in calls {
        let mine = call
            .batches
            .iter()
            .map(|b| {
                let at = next
                    .get_mut(&b.partition)
                    .expect("every partition was read");
                let base = *at;
                *at += i64::from(b.record_count);
                Ok(base)
            })
            .collect();
        let _ = call.reply.send(Ok(mine));
    }
}
