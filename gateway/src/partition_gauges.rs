//! The `stratus_partition_log_start_offset` and
//! `stratus_partition_next_offset` gauges: every partition's log start and
//! next offset, refreshed from metadata every `partition_metrics_interval`
//! (one read transaction per topic), so a scrape only copies a snapshot and
//! never touches the metadata store. `stratus_group_lag` is, per group and
//! partition with a committed offset, the next offset minus the committed
//! one, refreshed in the same pass.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use stratus_storage::group::{GroupLimits, Groups};
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

/// One group's lag in one partition.
#[derive(Debug, Clone)]
struct LagRow {
    labels: [KeyValue; 3],
    lag: i64,
}

#[derive(Debug, Default)]
struct Rows {
    partitions: Vec<PartitionRow>,
    lags: Vec<LagRow>,
}

type Snapshot = Arc<Mutex<Rows>>;

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

/// A series the gauges export, read from the snapshot.
#[derive(Debug, Clone, Copy)]
enum Series {
    LogStart,
    NextOffset,
    GroupLag,
}

const GAUGES: [(&str, &str, Series); 3] = [
    (
        "stratus.partition.log_start_offset",
        "First offset still readable, per topic and partition",
        Series::LogStart,
    ),
    (
        "stratus.partition.next_offset",
        "Offset the next record will get, per topic and partition",
        Series::NextOffset,
    ),
    (
        "stratus.group.lag",
        "Records a consumer group has yet to commit, per group, topic and partition",
        Series::GroupLag,
    ),
];

fn register(snapshot: &Snapshot) {
    for (name, description, series) in GAUGES {
        gauge(snapshot, name, description, series);
    }
}

/// Every point of `series` in `rows`.
fn points(rows: &Rows, series: Series, observe: &mut dyn FnMut(i64, &[KeyValue])) {
    match series {
        Series::LogStart => rows
            .partitions
            .iter()
            .for_each(|row| observe(row.log_start_offset, &row.labels)),
        Series::NextOffset => rows
            .partitions
            .iter()
            .for_each(|row| observe(row.next_offset, &row.labels)),
        Series::GroupLag => rows
            .lags
            .iter()
            .for_each(|row| observe(row.lag, &row.labels)),
    }
}

/// Registers the gauge of one series. It holds a weak reference, so a
/// dropped refresher reports nothing.
fn gauge(snapshot: &Snapshot, name: &'static str, description: &'static str, series: Series) {
    let rows = Arc::downgrade(snapshot);
    stratus_telemetry::meter()
        .i64_observable_gauge(name)
        .with_description(description)
        .with_callback(move |observer| {
            if let Some(rows) = rows.upgrade() {
                let rows = rows.lock().unwrap_or_else(|e| e.into_inner());
                points(&rows, series, &mut |value, labels| {
                    observer.observe(value, labels)
                });
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
            Ok((mut rows, left_out)) => {
                match read_lags(&log, &rows.partitions, max_series).await {
                    Ok(lags) => rows.lags = lags,
                    Err(e) => tracing::debug!(error = %e, "cannot refresh group lag gauges"),
                }
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

/// Every group's lag in each partition it has committed an offset for.
async fn read_lags(
    log: &Log,
    partitions: &[PartitionRow],
    max_series: usize,
) -> Result<Vec<LagRow>, stratus_storage::group::GroupError> {
    let groups = Groups::new(
        Arc::clone(log.meta()),
        log.keys().clone(),
        GroupLimits::default(),
    );
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let next_offset = |topic: &str, partition: u32| {
        partitions
            .iter()
            .find(|row| {
                row.labels[0].value.as_str() == topic
                    && row.labels[1].value == i64::from(partition).into()
            })
            .map(|row| row.next_offset)
    };
    let mut lags = Vec::new();
    for group in groups.list(now_ms).await? {
        for committed in groups.committed(&group.group, &[]).await? {
            if lags.len() >= max_series {
                return Ok(lags);
            }
            if let Some(next) = next_offset(&committed.topic, committed.partition) {
                lags.push(LagRow {
                    labels: [
                        KeyValue::new("group", group.group.clone()),
                        KeyValue::new("topic", committed.topic.clone()),
                        KeyValue::new("partition", i64::from(committed.partition)),
                    ],
                    lag: (next - committed.record.offset).max(0),
                });
            }
        }
    }
    Ok(lags)
}

async fn read_all(
    log: &Log,
    max_series: usize,
) -> Result<(Rows, usize), stratus_storage::log::LogError> {
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
    Ok((
        Rows {
            partitions: rows,
            lags: Vec::new(),
        },
        left_out,
    ))
}
