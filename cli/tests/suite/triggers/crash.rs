//! SIGKILL a `stratus dispatcher` process in the middle of a batch: after a
//! restart nothing is skipped, and what is delivered twice is bounded by the
//! batches that were in flight (one per partition).

use std::collections::BTreeSet;
use std::time::Duration;

use stratus_sdk::{Client, ProducerConfig};

use crate::common::sdk::{produce_keyed, read_topic};
use crate::common::{DevServer, create_topic};
use crate::triggers::support::{
    ANY_LOCAL_PORT, DispatcherProcess, Function, committed, stratus, wait_for,
};

const PARTITIONS: u32 = 2;
const BATCH: usize = 20;
const RECORDS: usize = 400;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_dispatcher_skips_nothing_and_redelivers_at_most_the_in_flight_batches() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start_with(dir.path(), &["--no-dispatcher"]);
    create_topic(&server, "events", PARTITIONS, None).await;
    stratus(
        &server,
        &[
            "trigger",
            "create",
            "events-fn",
            "--topic",
            "events",
            "--local",
            ANY_LOCAL_PORT,
            "--batch-size",
            &BATCH.to_string(),
        ],
    );
    let client = Client::connect(&server.url).await.unwrap();
    let producer = client.producer(ProducerConfig::default()).await.unwrap();
    produce_keyed(&producer, "events", RECORDS, 5).await;
    let produced = read_topic(&client, "events").await;

    let slow = [("EXAMPLE_DELAY_MS", "300")];
    let dispatcher = DispatcherProcess::start(&server);
    let function = Function::start(&dispatcher.runtime_api("events-fn"), &slow);
    wait_for(
        "a quarter of the records",
        Duration::from_secs(60),
        async || function.records().len() >= RECORDS / 4,
    )
    .await;
    // Mid-batch: the function sleeps 300 ms in every batch.
    dispatcher.kill();
    let before = function.records();
    let committed_at_kill = committed(&server, "trigger-events-fn").await;
    function.kill();

    let dispatcher = DispatcherProcess::start(&server);
    let function = Function::start(&dispatcher.runtime_api("events-fn"), &slow);
    let ends: Vec<(u32, i64)> = produced.iter().map(|(p, r)| (*p, r.len() as i64)).collect();
    wait_for(
        "every offset committed after the restart",
        Duration::from_secs(120),
        async || {
            let commits = committed(&server, "trigger-events-fn").await;
            ends.iter().all(|(p, end)| commits.get(p) == Some(end))
        },
    )
    .await;
    let after = function.records();

    // Nothing skipped: every record was processed by one run or the other.
    let all: Vec<(u32, i64, String)> = before.iter().chain(&after).cloned().collect();
    let seen: BTreeSet<(u32, i64)> = all.iter().map(|(p, o, _)| (*p, *o)).collect();
    let expected: BTreeSet<(u32, i64)> = produced
        .iter()
        .flat_map(|(p, records)| records.iter().map(move |(o, _)| (*p, *o)))
        .collect();
    assert_eq!(seen, expected, "a record was skipped");

    // The restart resumes each partition at its committed offset: the only
    // repeats are records past that offset the first run had processed,
    // at most one batch per partition.
    let redelivered = all.len() - seen.len();
    assert!(
        redelivered <= PARTITIONS as usize * BATCH,
        "{redelivered} records delivered twice; at most {} were in flight",
        PARTITIONS as usize * BATCH
    );
    for p in 0..PARTITIONS {
        let start = committed_at_kill.get(&p).copied().unwrap_or(0);
        let first_after = after.iter().find(|r| r.0 == p).map(|r| r.1);
        // The group may have committed once more between the kill and the
        // read above; it never moves backwards.
        assert!(
            first_after.is_none_or(|o| o >= start.saturating_sub(BATCH as i64)),
            "partition {p} rewound"
        );
        let offsets: Vec<i64> = after.iter().filter(|r| r.0 == p).map(|r| r.1).collect();
        assert!(
            offsets.windows(2).all(|w| w[0] < w[1]),
            "partition {p} out of order after restart"
        );
    }
    function.kill();
}
