//! The example function, as its own process against a dispatcher's local
//! Runtime API, receives every record in partition order, and the trigger's
//! group commits an offset only after the function answered for it.

use std::time::Duration;

use stratus_sdk::{Client, ProducerConfig};

use crate::common::sdk::{produce_keyed, read_topic};
use crate::common::{DevServer, create_topic};
use crate::triggers::support::{
    ANY_LOCAL_PORT, DispatcherProcess, Function, by_partition, committed, stratus, wait_for,
};

const RECORDS: usize = 600;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn example_function_gets_every_record_in_partition_order() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start_with(dir.path(), &["--no-dispatcher"]);
    create_topic(&server, "orders", 3, None).await;
    stratus(
        &server,
        &[
            "trigger",
            "create",
            "orders-fn",
            "--topic",
            "orders",
            "--local",
            ANY_LOCAL_PORT,
            "--batch-size",
            "50",
        ],
    );
    let client = Client::connect(&server.url).await.unwrap();
    let producer = client.producer(ProducerConfig::default()).await.unwrap();
    produce_keyed(&producer, "orders", RECORDS, 17).await;
    let produced = read_topic(&client, "orders").await;
    let dispatcher = DispatcherProcess::start(&server);
    let runtime = dispatcher.runtime_api("orders-fn");

    // No function is running: batches wait, nothing is committed.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        committed(&server, "trigger-orders-fn")
            .await
            .values()
            .all(|&o| o == 0),
        "offsets were committed before any function answered"
    );

    // Slow batches, so commits can be watched while the function works.
    let function = Function::start(&runtime, &[("EXAMPLE_DELAY_MS", "100")]);
    let ends: Vec<(u32, i64)> = produced.iter().map(|(p, r)| (*p, r.len() as i64)).collect();
    wait_for(
        "every offset committed",
        Duration::from_secs(120),
        async || {
            // Commits first, then what the function printed (which only grows):
            // a committed offset must cover only records the function finished.
            let commits = committed(&server, "trigger-orders-fn").await;
            let printed = by_partition(&function.records());
            for (p, &offset) in &commits {
                let done = printed
                    .get(p)
                    .map_or(0, |r| r.iter().filter(|(o, _)| *o < offset).count());
                assert_eq!(
                    done as i64, offset,
                    "partition {p} committed {offset} before the function processed it"
                );
            }
            ends.iter().all(|(p, end)| commits.get(p) == Some(end))
        },
    )
    .await;

    // Every record, once, in partition order, with the values produced.
    let printed = by_partition(&function.records());
    assert_eq!(
        printed, produced,
        "the function saw exactly the topic, in order"
    );
    let description = stratus(&server, &["trigger", "describe", "orders-fn"]);
    assert!(description.contains("trigger-orders-fn"), "{description}");
    function.kill();
}
