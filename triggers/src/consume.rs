//! One trigger's consumption loop: buffer what the group member fetches per
//! partition, cut batches (size, bytes, window), run at most one batch per
//! partition at a time, and commit a batch's end offset only after
//! [`deliver`] finished it.
//!
//! Bounds: a partition buffers at most [`BUFFERED_BATCHES`] batches' worth
//! before it is paused, and at most one batch per partition is in flight, so
//! a crash re-delivers at most one batch per owned partition.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinSet};
use tokio::time::Instant;

use crate::deliver::{Delivered, FailureSink, Policy, deliver};
use crate::limits::{BUFFERED_BATCHES, POLL_RETRY_PAUSE, POLL_RETRY_PAUSE_MAX};
use crate::record::{Partition, Record};
use crate::source::{Source, SourceEvent};
use crate::target::Invoker;

/// What a trigger's batches need, shared by its partition tasks.
#[derive(Debug)]
pub struct Run {
    pub trigger: String,
    /// Partitions to consume; empty means all.
    pub partitions: Vec<u32>,
    pub batch_size: usize,
    pub max_batch_bytes: u64,
    pub window: Duration,
    pub policy: Policy,
    pub invoker: Box<dyn Invoker>,
    pub sink: Box<dyn FailureSink>,
    /// `bootstrapServers` in the event.
    pub bootstrap_servers: String,
}

#[derive(Debug, Default)]
struct PartitionState {
    buffer: VecDeque<Record>,
    bytes: u64,
    /// When the oldest buffered record arrived.
    since: Option<Instant>,
    /// The next offset expected from the source; anything lower was seen.
    next: Option<i64>,
    in_flight: Option<(u64, AbortHandle)>,
    paused: bool,
}

impl PartitionState {
    fn push(&mut self, record: Record) {
        if self.next.is_some_and(|next| record.offset < next) {
            return;
        }
        self.next = Some(record.offset + 1);
        self.bytes += record.size();
        self.buffer.push_back(record);
        self.since.get_or_insert_with(Instant::now);
    }

    fn ready(&self, run: &Run, now: Instant) -> bool {
        self.in_flight.is_none()
            && !self.buffer.is_empty()
            && (self.buffer.len() >= run.batch_size
                || self.bytes >= run.max_batch_bytes
                || self.since.is_some_and(|s| s + run.window <= now))
    }

    /// Takes up to one batch: `batch_size` records within `max_batch_bytes`,
    /// always at least one record.
    fn cut(&mut self, run: &Run) -> Vec<Record> {
        let mut batch = Vec::new();
        let mut bytes = 0;
        while let Some(next) = self.buffer.front() {
            if !batch.is_empty()
                && (batch.len() >= run.batch_size || bytes + next.size() > run.max_batch_bytes)
            {
                break;
            }
            bytes += next.size();
            batch.extend(self.buffer.pop_front());
        }
        self.bytes -= bytes;
        if self.buffer.is_empty() {
            self.since = None;
        }
        batch
    }

    fn full(&self, run: &Run) -> bool {
        self.buffer.len() as u64 >= BUFFERED_BATCHES * run.batch_size as u64
            || self.bytes >= BUFFERED_BATCHES * run.max_batch_bytes
    }
}

type Done = (Partition, u64, Delivered);

/// Consumes until `stop` flips or the source fails for good. In-flight
/// batches are abandoned on stop: uncommitted, they are re-delivered.
pub async fn consume(mut source: Box<dyn Source>, run: Arc<Run>, mut stop: watch::Receiver<bool>) {
    let mut parts: BTreeMap<Partition, PartitionState> = BTreeMap::new();
    let mut tasks: JoinSet<Done> = JoinSet::new();
    let mut epoch = 0u64;
    let mut failures = 0u32;
    loop {
        let now = Instant::now();
        for (p, state) in &mut parts {
            if state.ready(&run, now) {
                epoch += 1;
                let batch = state.cut(&run);
                let (run, p2) = (Arc::clone(&run), p.clone());
                let handle = tasks.spawn(async move {
                    let delivered = deliver(
                        batch,
                        run.invoker.as_ref(),
                        run.sink.as_ref(),
                        &run.policy,
                        &run.bootstrap_servers,
                        now_ms,
                    )
                    .await;
                    (p2, epoch, delivered)
                });
                state.in_flight = Some((epoch, handle));
            }
        }
        adjust_pauses(source.as_mut(), &mut parts, &run);
        let wake = parts
            .values()
            .filter(|s| s.in_flight.is_none())
            .filter_map(|s| s.since)
            .min()
            .map(|s| s + run.window);
        tokio::select! {
            biased;
            _ = stop.changed() => break,
            Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                // An aborted task (revoked partition) has nothing to commit.
                if let Ok((p, epoch, delivered)) = joined {
                    finished(source.as_mut(), &mut parts, &run, p, epoch, &delivered).await;
                }
            }
            event = source.poll() => match event {
                Ok(event) => {
                    failures = 0;
                    handle(event, source.as_mut(), &mut parts, &run);
                }
                Err(e) => {
                    failures += 1;
                    tracing::warn!(trigger = %run.trigger, error = %e, "polling the group failed; retrying");
                    let pause = POLL_RETRY_PAUSE.saturating_mul(failures).min(POLL_RETRY_PAUSE_MAX);
                    tokio::time::sleep(pause).await;
                }
            },
            () = sleep_until(wake) => {}
        }
    }
    tasks.abort_all();
    source.close().await;
}

async fn sleep_until(wake: Option<Instant>) {
    match wake {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn handle(
    event: SourceEvent,
    source: &mut dyn Source,
    parts: &mut BTreeMap<Partition, PartitionState>,
    run: &Run,
) {
    match event {
        SourceEvent::Assigned(assigned) => {
            let mut unselected = Vec::new();
            for p in assigned {
                if run.partitions.is_empty() || run.partitions.contains(&p.partition) {
                    tracing::info!(trigger = %run.trigger, partition = %p, "partition assigned");
                    parts.entry(p).or_default();
                } else {
                    unselected.push(p);
                }
            }
            // Held for the group but never fetched: the trigger does not select them.
            if !unselected.is_empty() {
                source.pause(&unselected);
            }
        }
        SourceEvent::Revoked(revoked) => {
            for p in revoked {
                if let Some(state) = parts.remove(&p) {
                    tracing::info!(trigger = %run.trigger, partition = %p, "partition revoked");
                    if let Some((_, handle)) = state.in_flight {
                        handle.abort();
                    }
                }
            }
        }
        SourceEvent::Records(records) => {
            for record in records {
                let p = Partition {
                    topic: record.topic.clone(),
                    partition: record.partition,
                };
                // Partitions the trigger does not select are ignored (and paused).
                if let Some(state) = parts.get_mut(&p) {
                    state.push(record);
                }
            }
        }
    }
}

async fn finished(
    source: &mut dyn Source,
    parts: &mut BTreeMap<Partition, PartitionState>,
    run: &Run,
    p: Partition,
    epoch: u64,
    delivered: &Delivered,
) {
    let Some(state) = parts.get_mut(&p) else {
        return;
    };
    if state.in_flight.as_ref().is_none_or(|(e, _)| *e != epoch) {
        return;
    }
    state.in_flight = None;
    // The function succeeded (or the records are in the on-failure topic):
    // only now does the group move past them.
    if let Err(e) = source.commit(&p, delivered.next_offset).await {
        tracing::warn!(trigger = %run.trigger, partition = %p, error = %e,
            "commit failed; the batch will be delivered again by the partition's next owner");
    }
    tracing::debug!(trigger = %run.trigger, partition = %p, next = delivered.next_offset,
        invocations = delivered.invocations, failed = delivered.failed, "batch done");
}

fn adjust_pauses(
    source: &mut dyn Source,
    parts: &mut BTreeMap<Partition, PartitionState>,
    run: &Run,
) {
    let mut pause = Vec::new();
    let mut resume = Vec::new();
    for (p, state) in parts.iter_mut() {
        let full = state.full(run);
        if full && !state.paused {
            state.paused = true;
            pause.push(p.clone());
        } else if !full && state.paused && state.buffer.len() < run.batch_size {
            state.paused = false;
            resume.push(p.clone());
        }
    }
    if !pause.is_empty() {
        source.pause(&pause);
    }
    if !resume.is_empty() {
        source.resume(&resume);
    }
}

#[cfg(test)]
mod tests;
