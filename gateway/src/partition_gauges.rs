//! The `stratus_partition_log_start_offset` and
//! `stratus_partition_next_offset` gauges: every partition's log start and
//! next offset, refreshed from metadata every `partition_metrics_interval`
//! (one read transaction per topic), so a scrape only copies a snapshot and
//! never touches the metadata store. Consumer lag is next offset minus a
//! group's committed offset: consumer groups register their committed
//! offsets beside these gauges.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use stratus_storage::log::Log;
use stratus_telemetry::{KeyValue, TelemetryConfig};
use tokio::task::JoinHandle;

/// One partition's offsets as last read.
#[derive(Debug, Clone)]
struct PartitionRow {
    labels: [KeyValue; 2],
    log_start_offset: i64,
    next_offset: i64,
}

type Snapshot = Arc<Mutex<Vec<PartitionRow>>>;

/// The running refresher; stops when dropped.
#[derive(Debug)]
pub struct PartitionGauges {
    task: JoinHandle<()>,
}

impl PartitionGauges {
    /// Registers the gauges and starts refreshing their snapshot.
    pub fn start(log: Arc<Log>, config: &TelemetryConfig) -> Self {
        let snapshot: Snapshot = Arc::default();
        register(&snapshot);
        let task = tokio::spawn(refresh_loop(
            log,
            snapshot,
            config.partition_metrics_interval,
            config.max_partition_series,
        ));
        Self { task }
    }
}

impl Drop for PartitionGauges {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn register(snapshot: &Snapshot) {
    let meter = stratus_telemetry::meter();
    let starts = Arc::downgrade(snapshot);
    meter
        .i64_observable_gauge("stratus.partition.log_start_offset")
        .with_description("First offset still readable, per topic and partition")
        .with_callback(move |observer| {
            if let Some(rows) = starts.upgrade() {
                for row in rows.lock().unwrap_or_else(|e| e.into_inner()).iter() {
                    observer.observe(row.log_start_offset, &row.labels);
                }
            }
        })
        .build();
    let heads = Arc::downgrade(snapshot);
    meter
        .i64_observable_gauge("stratus.partition.next_offset")
        .with_description("Offset the next record will get, per topic and partition")
        .with_callback(move |observer| {
            if let Some(rows) = heads.upgrade() {
                for row in rows.lock().unwrap_or_else(|e| e.into_inner()).iter() {
                    observer.observe(row.next_offset, &row.labels);
                }
            }
        })
        .build();
}

async fn refresh_loop(log: Arc<Log>, snapshot: Snapshot, every: Duration, max_series: usize) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut warned = false;
    loop {
        ticker.tick().await;
        match read_all(&log, max_series).await {
            Ok((rows, left_out)) => {
                if left_out > 0 && !warned {
                    tracing::warn!(
                        left_out,
                        max_series,
                        "partition offset gauges cover only the first partitions; raise \
                         telemetry.max_partition_series to export all"
                    );
                    warned = true;
                }
                *snapshot.lock().unwrap_or_else(|e| e.into_inner()) = rows;
            }
            Err(e) => tracing::debug!(error = %e, "cannot refresh partition offset gauges"),
        }
    }
}

async fn read_all(
    log: &Log,
    max_series: usize,
) -> Result<(Vec<PartitionRow>, usize), stratus_storage::log::LogError> {
    let mut rows = Vec::new();
    let mut left_out = 0;
    for topic in log.list_topics().await? {
        if rows.len() >= max_series {
            left_out += topic.partitions as usize;
            continue;
        }
        for offsets in log.partition_offsets(&topic).await? {
            if rows.len() >= max_series {
                left_out += 1;
                continue;
            }
            rows.push(PartitionRow {
                labels: [
                    KeyValue::new("topic", topic.name.clone()),
                    KeyValue::new("partition", i64::from(offsets.partition)),
                ],
                log_start_offset: offsets.log_start_offset,
                next_offset: offsets.next_offset,
            });
        }
    }
    Ok((rows, left_out))
}
