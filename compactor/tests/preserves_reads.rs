//! Reading any offset returns the same records before and after compaction,
//! over random produce histories interleaved with compaction passes.

mod common;

use common::{Fixture, assert_same_records, eager_config, read_everything, record, summary};
use proptest::prelude::*;
use stratus_compactor::clock::Clock;
use stratus_storage::topic::TopicConfig;

/// One step of a history: a flush (batches for some partitions), or a pass.
#[derive(Debug, Clone)]
enum Step {
    Flush(Vec<(u32, Vec<(u8, usize)>)>),
    Compact,
}

fn step() -> impl Strategy<Value = Step> {
    let records = prop::collection::vec((0u8..6, 0usize..300), 1..12);
    let flush = prop::collection::vec((0u32..3, records), 1..4).prop_map(Step::Flush);
    prop_oneof![4 => flush, 1 => Just(Step::Compact)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn compaction_never_changes_what_reads_return(history in prop::collection::vec(step(), 1..30)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(check(history));
    }
}

async fn check(history: Vec<Step>) {
    let fx = Fixture::new();
    let topic = fx.topic("t", 3, TopicConfig::default()).await;
    let compactor = fx.compactor(eager_config());
    let start_ms = fx.clock.now_ms();
    let mut seq = 0i64;
    for step in history {
        match step {
            Step::Flush(batches) => {
                let batches: Vec<_> = batches
                    .into_iter()
                    .map(|(partition, records)| {
                        let records = records
                            .into_iter()
                            .map(|(key, size)| {
                                seq += 1;
                                let value = format!("{seq}-{}", "v".repeat(size));
                                record(&format!("k{key}"), Some(&value), start_ms + seq)
                            })
                            .collect();
                        (partition, records)
                    })
                    .collect();
                fx.produce(&topic, &batches).await;
            }
            Step::Compact => {
                let before = read_everything(&fx, &topic).await;
                fx.clock.advance_ms(1);
                let report = compactor.run_pass().await.unwrap();
                assert!(report.errors.is_empty(), "{:?}", report.errors);
                fx.assert_index_sound(&topic).await;
                assert_same_records(&read_everything(&fx, &topic).await, &before);
            }
        }
    }
    let before = read_everything(&fx, &topic).await;
    common::settle(&fx, &compactor).await;
    fx.assert_index_sound(&topic).await;
    assert_same_records(&read_everything(&fx, &topic).await, &before);
    fx.assert_no_leaks(&[&topic]).await;
    // Reads from every offset, not just from the start, see the same suffix.
    for partition in 0..topic.partitions {
        let all = fx.read_all(&topic, partition).await;
        for (i, record) in all.iter().enumerate().step_by(7) {
            let suffix = fx.read_from(&topic, partition, record.offset).await;
            assert!(
                summary(&suffix) == summary(&all[i..]),
                "read from offset {} differs",
                record.offset
            );
        }
    }
}
