//! Under continuous produce, what the compactor leaves behind stays bounded:
//! WAL objects do not pile up and neither do index entries per partition.

mod common;

use std::time::Duration;

use common::{Fixture, eager_config, noise, record};
use stratus_compactor::CompactorConfig;
use stratus_compactor::clock::Clock;
use stratus_format::batch::RecordInput;
use stratus_storage::log::TierKind;
use stratus_storage::topic::TopicConfig;

const ROUNDS: usize = 200;
const PARTITIONS: u32 = 4;
/// WAL objects appended per round, each with one batch for every partition.
const OBJECTS_PER_ROUND: usize = 4;
const RETENTION_BYTES: u64 = 32 * 1024;
const SEGMENT_BYTES: u64 = 8 * 1024;
const BLOCK_BYTES: u64 = 2 * 1024;
const MERGE_FANIN: usize = 3;
/// Two records of about 130 bytes per batch: a batch is far below a block.
const RECORDS_PER_BATCH: usize = 2;
const VALUE_BYTES: usize = 100;

/// The most WAL objects the WAL tier may hold after a pass. A pass turns
/// every WAL chunk into segments (`wal_max_age` is zero) and its garbage
/// collection deletes what earlier passes released (`object_grace` is zero;
/// what this pass released comes due a millisecond later). So after a pass
/// only this round's objects remain; the bound allows one round of slack.
const MAX_WAL_OBJECTS: usize = 2 * OBJECTS_PER_ROUND;

/// The most index entries a partition may have after a pass, from:
///
/// - Retained bytes: `retention.bytes` keeps whole entries while what
///   remains still holds `RETENTION_BYTES`, so fewer than `RETENTION_BYTES`
///   plus one entry remain. A block closes once it reaches `BLOCK_BYTES`,
///   with one batch (< `BLOCK_BYTES`) at most past it, so an entry holds
///   under `2 × BLOCK_BYTES` and the partition under
///   `RETAINED = RETENTION_BYTES + 2 × BLOCK_BYTES` (36 KiB).
/// - Entries: every block but the last of its segment is full, so entries
///   ≤ `RETAINED / BLOCK_BYTES` full blocks (18) + one partial block per
///   segment.
/// - Segments: a large segment holds at least `SEGMENT_BYTES / 2` (what
///   merging calls large), so at most `RETAINED / (SEGMENT_BYTES / 2)` (9)
///   of them. Merging joins any `MERGE_FANIN` adjacent small segments, at
///   every level, so fewer than `MERGE_FANIN` small ones stay in a row: at
///   most `MERGE_FANIN - 1` in each of the 10 gaps around the large ones,
///   20. A round adds about 1.3 KiB per partition, so a byte is merged
///   about log_3(4 KiB / 1.3 KiB) ≈ 1-2 levels before it is in a large
///   segment: a pass needs a WAL rewrite, a trim and two merges per
///   partition, well within `max_jobs_per_partition` (16), so every pass
///   ends with merging done.
/// - WAL entries: none after a pass.
///
/// In all 18 + 9 + 20 = 47.
const MAX_ENTRIES: usize = {
    let retained = RETENTION_BYTES + 2 * BLOCK_BYTES;
    let full_blocks = retained / BLOCK_BYTES;
    let large = retained / (SEGMENT_BYTES / 2);
    let small = (large + 1) * (MERGE_FANIN as u64 - 1);
    (full_blocks + large + small) as usize
};

fn config() -> CompactorConfig {
    CompactorConfig {
        segment_bytes: SEGMENT_BYTES,
        block_bytes: BLOCK_BYTES,
        merge_fanin: MERGE_FANIN,
        object_grace: Duration::ZERO,
        wal_max_age: Duration::ZERO,
        ..eager_config()
    }
}

fn batch(round: usize, object: usize, partition: u32, timestamp_ms: i64) -> Vec<RecordInput> {
    (0..RECORDS_PER_BATCH)
        .map(|i| {
            let seed = (round * 1_000 + object * 100 + partition as usize * 10 + i) as u64;
            record(
                &format!("k{seed}"),
                Some(&noise(seed, VALUE_BYTES)),
                timestamp_ms,
            )
        })
        .collect()
}

#[tokio::test]
async fn wal_objects_and_index_entries_stay_bounded_under_continuous_produce() {
    assert_eq!(MAX_ENTRIES, 47);
    let fx = Fixture::new();
    fx.run_ahead_of_wall_clock();
    let topic_config = TopicConfig {
        retention_bytes: RETENTION_BYTES as i64,
        ..TopicConfig::default()
    };
    let topic = fx.topic("firehose", PARTITIONS, topic_config).await;
    let compactor = fx.compactor(config());
    let (mut most_wal, mut most_entries) = (0, 0);
    let (mut merges, mut trims) = (0, 0);
    for round in 0..ROUNDS {
        for object in 0..OBJECTS_PER_ROUND {
            let now = fx.clock.now_ms();
            let batches: Vec<_> = (0..PARTITIONS)
                .map(|p| (p, batch(round, object, p, now)))
                .collect();
            fx.produce(&topic, &batches).await;
        }
        fx.clock.advance_ms(1);
        let report = compactor.run_pass().await.unwrap();
        assert!(
            report.errors.is_empty(),
            "round {round}: {:?}",
            report.errors
        );
        merges += report.merges;
        trims += report.retention_trims;

        let wal = fx.wal_objects().await.len();
        assert!(
            wal <= MAX_WAL_OBJECTS,
            "round {round}: {wal} WAL objects, more than {MAX_WAL_OBJECTS}"
        );
        most_wal = most_wal.max(wal);
        for partition in 0..PARTITIONS {
            let entries = fx.entries(&topic, partition).await;
            assert!(
                entries.len() <= MAX_ENTRIES,
                "round {round} partition {partition}: {} index entries, more than {MAX_ENTRIES}",
                entries.len()
            );
            assert!(entries.iter().all(|e| e.tier == TierKind::Segment));
            most_entries = most_entries.max(entries.len());
        }
    }
    // The bounds were tested under load, not vacuously.
    assert!(merges > 0 && trims > 0, "merges {merges}, trims {trims}");
    for partition in 0..PARTITIONS {
        let state = fx.log.partition_state(&topic, partition).await.unwrap();
        assert!(state.log_start_offset > 0);
    }
    println!(
        "at most {most_wal} WAL objects (bound {MAX_WAL_OBJECTS}), \
         {most_entries} index entries per partition (bound {MAX_ENTRIES})"
    );
    fx.assert_index_sound(&topic).await;
}
