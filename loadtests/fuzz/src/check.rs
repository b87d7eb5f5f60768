//! The property the `workload_parse` fuzz target checks, in a function the
//! target (`fuzz_targets/`) and the replay test of stratus-loadtest
//! (`tests/fuzz_corpus.rs`, which includes this file) share; `crate::workload`
//! is the parser's module, here and in the replay test.
//!
//! A workload file is text someone wrote: the parser must refuse anything it
//! cannot run with a typed error, and every run it accepts must be within
//! the bounds the runner relies on (it spawns the producers and consumers a
//! run names, and sizes payloads and rates from it).

use crate::workload::{
    MAX_CLIENTS_PER_RUN, MAX_OUTSTANDING_PER_PRODUCER, MAX_RUNS_PER_FILE, MIN_MESSAGE_SIZE, Rate,
    Workload, WorkloadError,
};

/// `data` is a workload file's YAML.
pub fn workload_parse(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let runs = match Workload::parse(text, "fuzz.yaml") {
        Ok(runs) => runs,
        Err(error) => {
            assert!(
                matches!(
                    error,
                    WorkloadError::Parse { .. } | WorkloadError::Invalid { .. }
                ),
                "{error}"
            );
            return;
        }
    };
    assert!(!runs.is_empty(), "a workload file with no runs is accepted");
    assert!(
        runs.len() <= MAX_RUNS_PER_FILE,
        "{} runs in one file",
        runs.len()
    );
    for run in &runs {
        assert!(run.topics >= 1);
        assert!((1..=100_000).contains(&run.partitions_per_topic));
        assert!((MIN_MESSAGE_SIZE..=8 << 20).contains(&run.message_size));
        assert!((0.0..=1.0).contains(&run.payload_randomness));
        assert!(run.producers_per_topic >= 1 && run.consumer_per_subscription >= 1);
        assert!(run.key_space >= 1);
        assert!((1..=MAX_OUTSTANDING_PER_PRODUCER).contains(&run.max_outstanding_per_producer));
        let producers = u64::from(run.topics) * u64::from(run.producers_per_topic);
        assert!(producers <= MAX_CLIENTS_PER_RUN, "{producers} producers");
        assert!(!run.duration.is_zero());
        match run.rate {
            Rate::Max => {}
            Rate::Fixed(r) => assert!(r > 0.0 && r.is_finite()),
            Rate::FractionOfMax(f) => assert!(f > 0.0 && f <= 1.0),
        }
        // The runner starts this many consumers (a u32 product).
        assert!(u64::from(run.consumers()) <= MAX_CLIENTS_PER_RUN);
    }
}
