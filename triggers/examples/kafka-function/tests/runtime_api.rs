//! The example function, unmodified, behind the Runtime API that a Stratus
//! trigger's local target serves: it takes Kafka events, answers them, and
//! reports a record it cannot process as the whole batch's error or, with
//! `EXAMPLE_PARTIAL=1`, in `batchItemFailures`.
//!
//! Running this test also builds the function's binary in the workspace's
//! target directory, where the trigger tests of `stratus-cli` find it.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use stratus_triggers::Record;
use stratus_triggers::event::encode;
use stratus_triggers::target::{InvokeError, Invoker, LocalRuntime};

fn record(partition: u32, offset: i64, value: &str) -> Record {
    Record {
        topic: "orders".to_owned(),
        partition,
        offset,
        timestamp_ms: 1_700_000_000_000,
        key: None,
        value: Some(Bytes::from(value.to_owned())),
        headers: Vec::new(),
    }
}

/// Starts the function against `runtime`, with `env` on top of what
/// `lambda_runtime` needs; it is killed when the guard drops.
fn start_function(runtime: &LocalRuntime, env: &[(&str, &str)]) -> KillOnDrop {
    let child = Command::new(env!("CARGO_BIN_EXE_kafka-function"))
        .env("AWS_LAMBDA_RUNTIME_API", runtime.local_addr().to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "kafka-function")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "test")
        .env("EXAMPLE_QUIET", "1")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .spawn()
        .expect("start the example function");
    KillOnDrop(child)
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn runtime() -> LocalRuntime {
    LocalRuntime::bind(
        "127.0.0.1:0".parse().unwrap(),
        "arn:aws:lambda:local:000000000000:function:kafka-function".to_owned(),
        Duration::from_secs(30),
    )
    .await
    .expect("bind the Runtime API")
}

async fn invoke(runtime: &LocalRuntime, records: &[Record]) -> Result<Value, InvokeError> {
    let body = runtime.invoke(encode(records, "127.0.0.1:7400")).await?;
    Ok(serde_json::from_slice(&body).expect("a JSON answer"))
}

#[tokio::test]
async fn answers_kafka_events_and_reports_failures() {
    let runtime = runtime().await;
    let _function = start_function(&runtime, &[]);
    let records = [record(0, 10, "a"), record(0, 11, "b"), record(1, 4, "c")];
    let answer = invoke(&runtime, &records).await.expect("processed");
    assert_eq!(answer, json!({ "batchItemFailures": [] }));
    // The function keeps serving invocations.
    let answer = invoke(&runtime, &records[..1]).await.expect("processed");
    assert_eq!(answer, json!({ "batchItemFailures": [] }));
}

#[tokio::test]
async fn a_poisoned_record_fails_the_batch_or_only_itself() {
    let runtime = runtime().await;
    let function = start_function(&runtime, &[("EXAMPLE_FAIL_ON", "poison")]);
    let records = [
        record(0, 10, "a"),
        record(0, 11, "poison"),
        record(0, 12, "b"),
    ];
    let error = invoke(&runtime, &records)
        .await
        .expect_err("the batch fails");
    assert!(
        error.to_string().contains("offset 11"),
        "the error names the record: {error}"
    );
    drop(function);

    let runtime = self::runtime().await;
    let _function = start_function(
        &runtime,
        &[("EXAMPLE_FAIL_ON", "poison"), ("EXAMPLE_PARTIAL", "1")],
    );
    let answer = invoke(&runtime, &records).await.expect("a partial answer");
    assert_eq!(
        answer,
        json!({ "batchItemFailures": [{ "itemIdentifier": "11" }] })
    );
}
