//! A PUT killed part-way on a `file://` tier leaves a `KEY#N` staging file
//! that the tier's LIST never shows. The orphan scan sweeps those no live
//! writer can own (not written to for `orphan_grace`) and leaves the rest,
//! and the objects beside them, alone.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::{Fixture, eager_config, read_everything, record};
use object_store::ObjectStore;
use stratus_storage::topic::TopicConfig;
use stratus_tier::{file_url, open_tier};

/// Writes a staging file as the local store names them, last modified `age` ago.
fn staging_file(path: &Path, age: Duration) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, b"half a WAL object").unwrap();
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - age).unwrap();
}

#[tokio::test]
async fn the_orphan_scan_deletes_old_staging_files_only() {
    let dir = tempfile::tempdir().unwrap();
    let tier_dir = dir.path().join("tier");
    let tier: Arc<dyn ObjectStore> = open_tier(&file_url(&tier_dir)).unwrap();
    let fx = Fixture::with_tiers(tier.clone(), tier);
    let topic = fx.topic("t", 1, TopicConfig::default()).await;
    let now = stratus_storage::log::now_ms();
    fx.produce(&topic, &[(0, vec![record("k", Some("v"), now)])])
        .await;
    let before = read_everything(&fx, &topic).await;

    let config = eager_config();
    let grace = config.orphan_grace;
    let killed_wal = tier_dir.join("wal/01/0000000001.wal#1");
    let killed_segment = tier_dir.join("seg/00ff/0/01ABC.seg#2");
    let in_flight = tier_dir.join("wal/01/0000000002.wal#1");
    staging_file(&killed_wal, grace + Duration::from_secs(60));
    staging_file(&killed_segment, grace * 3);
    staging_file(&in_flight, Duration::from_secs(1));

    let compactor = fx
        .compactor(config)
        .with_local_tier_dirs(vec![tier_dir.clone()]);
    let report = compactor.run_pass().await.unwrap();

    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.staging_files_deleted, 2, "{report:?}");
    assert!(!killed_wal.exists() && !killed_segment.exists());
    assert!(
        in_flight.exists(),
        "a staging file still being written was deleted"
    );
    assert_eq!(read_everything(&fx, &topic).await, before);
    // A second pass finds nothing more to sweep.
    let again = compactor.run_pass().await.unwrap();
    assert_eq!(again.staging_files_deleted, 0, "{again:?}");
}
