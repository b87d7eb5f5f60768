//! Compactor metrics: passes, jobs by kind, and the backlog the last pass
//! left (partitions with work still due), recorded once per pass.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use stratus_telemetry::KeyValue;

use crate::CompactError;
use crate::report::PassReport;

/// The backlog of the last pass; read by the gauge at scrape time.
static BACKLOG: OnceLock<Arc<AtomicU64>> = OnceLock::new();

fn backlog() -> &'static Arc<AtomicU64> {
    BACKLOG.get_or_init(|| {
        let value = Arc::new(AtomicU64::new(0));
        let read = Arc::clone(&value);
        stratus_telemetry::meter()
            .u64_observable_gauge("stratus.compaction.backlog.partitions")
            .with_description(
                "Partitions the last compaction pass left with work due (all jobs used or failed)",
            )
            .with_callback(move |observer| observer.observe(read.load(Ordering::Relaxed), &[]))
            .build();
        value
    })
}

/// Records one pass of the long-running compactor.
pub(crate) fn record_pass(pass: Result<&PassReport, &CompactError>, took: Duration) {
    let metrics = stratus_telemetry::metrics();
    metrics
        .compaction_pass_seconds
        .record(took.as_secs_f64(), &[]);
    let report = match pass {
        Ok(report) => report,
        Err(_) => {
            metrics
                .compaction_passes
                .add(1, &[KeyValue::new("outcome", "error")]);
            return;
        }
    };
    metrics
        .compaction_passes
        .add(1, &[KeyValue::new("outcome", "ok")]);
    for (kind, count) in [
        ("wal_rewrite", report.wal_rewrites),
        ("merge", report.merges),
        ("clean", report.cleanings),
        ("retention_trim", report.retention_trims),
        ("object_delete", report.objects_deleted),
        ("orphan_delete", report.orphans_deleted),
        ("failed", report.errors.len() as u64),
        ("fenced", report.fenced),
    ] {
        // Added even when 0, so every kind's series exists from the first pass.
        metrics
            .compaction_jobs
            .add(count, &[KeyValue::new("kind", kind)]);
    }
    backlog().store(
        report.partitions_left_due + report.errors.len() as u64,
        Ordering::Relaxed,
    );
}
