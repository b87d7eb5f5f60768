//! An AWS Lambda function for Kafka events, written against `lambda_runtime`
//! and `aws_lambda_events` only: the same binary runs on AWS Lambda behind an
//! MSK or self-managed Kafka event source, and locally behind a Stratus
//! trigger with a local target:
//!
//! ```sh
//! stratus trigger create hello-fn --topic hello --local 127.0.0.1:9001
//! AWS_LAMBDA_RUNTIME_API=127.0.0.1:9001 cargo run -p stratus-example-kafka-function
//! ```
//!
//! It prints one JSON line per record (topic, partition, offset, value, and
//! how long after its timestamp the function started). Knobs for tests and
//! demos, all optional:
//! - `EXAMPLE_FAIL_ON=VALUE`: fail the batch holding a record whose value is VALUE;
//! - `EXAMPLE_PARTIAL=1`: report that record in `batchItemFailures` instead;
//! - `EXAMPLE_DELAY_MS=N`: take N ms per batch;
//! - `EXAMPLE_QUIET=1`: print one line per batch instead of per record.

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::kafka::KafkaEvent;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(handle)).await
}

async fn handle(event: LambdaEvent<KafkaEvent>) -> Result<Value, Error> {
    let started_ms = now_ms();
    let fail_on = std::env::var("EXAMPLE_FAIL_ON").ok();
    let partial = std::env::var("EXAMPLE_PARTIAL").is_ok_and(|v| v == "1");
    let quiet = std::env::var("EXAMPLE_QUIET").is_ok_and(|v| v == "1");
    let delay = std::env::var("EXAMPLE_DELAY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis);

    let mut lines = Vec::new();
    let mut failures = Vec::new();
    let mut count = 0;
    // Records arrive grouped by "topic-partition", in offset order.
    for records in event.payload.records.values() {
        'partition: for record in records {
            count += 1;
            let value = record
                .value
                .as_deref()
                .and_then(|v| STANDARD.decode(v).ok())
                .map(|v| String::from_utf8_lossy(&v).into_owned());
            if fail_on.is_some() && value == fail_on {
                if !partial {
                    return Err(format!("cannot process record at offset {}", record.offset).into());
                }
                // In order: this record and the rest of its partition are
                // retried, so stop here.
                failures.push(json!({ "itemIdentifier": record.offset.to_string() }));
                break 'partition;
            }
            if !quiet {
                let lag = started_ms - record.timestamp.0.timestamp_millis();
                lines.push(json!({
                    "topic": record.topic,
                    "partition": record.partition,
                    "offset": record.offset,
                    "value": value,
                    "lag_ms": lag,
                    "request_id": event.context.request_id,
                }));
            }
        }
    }
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let mut out = std::io::stdout().lock();
    if quiet {
        writeln!(
            out,
            "{}",
            json!({ "batch": count, "started_ms": started_ms })
        )?;
    }
    for line in lines {
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    Ok(json!({ "batchItemFailures": failures }))
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
