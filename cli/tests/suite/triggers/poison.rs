//! A function that fails on one record: its neighbours are processed, the
//! record reaches the on-failure topic after the retry limit with the error
//! in its headers, and the partition moves on.

use std::time::Duration;

use stratus_sdk::{Client, Offset, ProducerConfig, ProducerRecord};

use crate::common::{DevServer, create_topic};
use crate::triggers::support::{
    ANY_LOCAL_PORT, DispatcherProcess, Function, committed, stratus, wait_for,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poisoned_record_goes_to_the_on_failure_topic() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start_with(dir.path(), &["--no-dispatcher"]);
    create_topic(&server, "payments", 1, None).await;
    create_topic(&server, "payments-failed", 1, None).await;
    stratus(
        &server,
        &[
            "trigger",
            "create",
            "payments-fn",
            "--topic",
            "payments",
            "--local",
            ANY_LOCAL_PORT,
            "--batch-size",
            "16",
            "--max-retries",
            "1",
            "--bisect-on-error",
            "--on-failure-topic",
            "payments-failed",
        ],
    );
    let dispatcher = DispatcherProcess::start(&server);
    let function = Function::start(
        &dispatcher.runtime_api("payments-fn"),
        &[("EXAMPLE_FAIL_ON", "poison")],
    );
    let client = Client::connect(&server.url).await.unwrap();
    let producer = client.producer(ProducerConfig::default()).await.unwrap();
    let send = async |from: usize, to: usize| {
        let mut futures = Vec::new();
        for i in from..to {
            let value = if i == 37 {
                "poison".to_owned()
            } else {
                format!("ok-{i}")
            };
            let record = ProducerRecord::new("payments", value).header("n", i.to_string());
            futures.push(producer.send(record).await.unwrap());
        }
        for f in futures {
            f.await.unwrap();
        }
    };
    send(0, 100).await;
    wait_for(
        "offset 100 committed",
        Duration::from_secs(60),
        async || committed(&server, "trigger-payments-fn").await.get(&0) == Some(&100),
    )
    .await;

    // Every other record was processed, in order, each in a successful batch.
    let values: Vec<String> = function.records().into_iter().map(|(_, _, v)| v).collect();
    let expected: Vec<String> = (0..100)
        .filter(|&i| i != 37)
        .map(|i| format!("ok-{i}"))
        .collect();
    assert_eq!(values, expected);

    // The poisoned record, unchanged, with why it failed.
    let mut dlq = client.consumer("payments-failed");
    dlq.assign_all(Offset::Earliest).await.unwrap();
    let failed = dlq.poll().await.unwrap();
    assert_eq!(failed.len(), 1, "exactly the poisoned record: {failed:?}");
    let record = &failed[0];
    assert_eq!(record.value.as_deref(), Some(&b"poison"[..]));
    let header = |name: &str| {
        record
            .headers
            .iter()
            .find(|h| h.key == name)
            .map(|h| String::from_utf8_lossy(&h.value).into_owned())
            .unwrap_or_else(|| panic!("no header {name}: {:?}", record.headers))
    };
    assert_eq!(header("n"), "37");
    assert_eq!(header("stratus-trigger"), "payments-fn");
    assert_eq!(header("stratus-trigger-source-offset"), "37");
    assert_eq!(header("stratus-trigger-attempts"), "2");
    assert!(
        header("stratus-trigger-error-message").contains("offset 37"),
        "{}",
        header("stratus-trigger-error-message")
    );

    // And processing continues after it.
    send(100, 150).await;
    wait_for(
        "offset 150 committed",
        Duration::from_secs(60),
        async || committed(&server, "trigger-payments-fn").await.get(&0) == Some(&150),
    )
    .await;
    assert_eq!(function.records().len(), 149);
    function.kill();
}
