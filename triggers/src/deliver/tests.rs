//! The delivery policy against scripted functions, on paused time.

use std::sync::Mutex;

use bytes::Bytes;

use super::*;

/// A function that fails on poisoned offsets, either as an error or as a
/// partial batch response, and records every batch it saw.
#[derive(Debug, Default)]
struct Scripted {
    poisoned: Vec<i64>,
    partial: bool,
    /// Fail this many invocations first, whatever they hold.
    fail_first: Mutex<u32>,
    seen: Mutex<Vec<Vec<i64>>>,
}

#[async_trait]
impl Invoker for Scripted {
    async fn invoke(&self, payload: Bytes) -> Result<Bytes, InvokeError> {
        let event: aws_lambda_events::event::kafka::KafkaEvent =
            serde_json::from_slice(&payload).unwrap();
        let offsets: Vec<i64> = event.records.values().flatten().map(|r| r.offset).collect();
        self.seen.lock().unwrap().push(offsets.clone());
        {
            let mut first = self.fail_first.lock().unwrap();
            if *first > 0 {
                *first -= 1;
                return Err(InvokeError::Timeout(Duration::from_secs(1)));
            }
        }
        let bad: Vec<i64> = offsets
            .iter()
            .copied()
            .filter(|o| self.poisoned.contains(o))
            .collect();
        if bad.is_empty() {
            return Ok(Bytes::from_static(b"{}"));
        }
        if self.partial {
            let failures: Vec<_> = bad
                .iter()
                .map(|o| serde_json::json!({"itemIdentifier": o.to_string()}))
                .collect();
            return Ok(Bytes::from(
                serde_json::json!({"batchItemFailures": failures}).to_string(),
            ));
        }
        Err(InvokeError::Function {
            error_type: "Poison".into(),
            message: format!("bad record {}", bad[0]),
        })
    }
}

#[derive(Debug, Default)]
struct Sink {
    got: Mutex<Vec<(i64, String, u32)>>,
}

#[async_trait]
impl FailureSink for Sink {
    async fn send(&self, records: &[Record], failure: &Failure) -> Result<(), String> {
        let mut got = self.got.lock().unwrap();
        for r in records {
            got.push((r.offset, failure.error.kind().to_owned(), failure.attempts));
        }
        Ok(())
    }
}

fn batch(offsets: std::ops::Range<i64>) -> Vec<Record> {
    offsets
        .map(|offset| Record {
            topic: "t".into(),
            partition: 0,
            offset,
            timestamp_ms: 1000,
            key: None,
            value: Some(Bytes::from_static(b"v")),
            headers: Vec::new(),
        })
        .collect()
}

fn policy(max_retries: i32, bisect: bool) -> Policy {
    Policy {
        max_retries,
        bisect_on_error: bisect,
        max_record_age_ms: 0,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(100),
    }
}

#[tokio::test(start_paused = true)]
async fn success_is_one_invocation() {
    let f = Scripted::default();
    let sink = Sink::default();
    let d = deliver(batch(5..10), &f, &sink, &policy(2, false), "x", || 1000).await;
    assert_eq!(
        d,
        Delivered {
            next_offset: 10,
            invocations: 1,
            failed: 0
        }
    );
    assert_eq!(*f.seen.lock().unwrap(), vec![vec![5, 6, 7, 8, 9]]);
}

#[tokio::test(start_paused = true)]
async fn transient_errors_are_retried() {
    let f = Scripted {
        fail_first: Mutex::new(2),
        ..Scripted::default()
    };
    let sink = Sink::default();
    let d = deliver(batch(0..3), &f, &sink, &policy(2, false), "x", || 1000).await;
    assert_eq!(d.invocations, 3);
    assert_eq!(d.failed, 0);
    assert!(sink.got.lock().unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn bisection_isolates_the_poisoned_record() {
    let f = Scripted {
        poisoned: vec![5],
        ..Scripted::default()
    };
    let sink = Sink::default();
    let d = deliver(batch(0..8), &f, &sink, &policy(1, true), "x", || 1000).await;
    assert_eq!(d.next_offset, 8);
    assert_eq!(d.failed, 1);
    assert_eq!(*sink.got.lock().unwrap(), vec![(5, "Poison".to_owned(), 2)]);
    // Every other record reached the function in a successful batch, in order.
    let seen = f.seen.lock().unwrap();
    let ok: Vec<i64> = seen
        .iter()
        .filter(|b| !b.contains(&5))
        .flatten()
        .copied()
        .collect();
    assert_eq!(ok, vec![0, 1, 2, 3, 4, 6, 7]);
}

#[tokio::test(start_paused = true)]
async fn without_bisection_the_whole_batch_fails() {
    let f = Scripted {
        poisoned: vec![1],
        ..Scripted::default()
    };
    let sink = Sink::default();
    let d = deliver(batch(0..3), &f, &sink, &policy(2, false), "x", || 1000).await;
    assert_eq!(d.invocations, 3);
    assert_eq!(d.failed, 3);
}

#[tokio::test(start_paused = true)]
async fn partial_batch_responses_resend_from_the_first_failure() {
    let f = Scripted {
        poisoned: vec![3],
        partial: true,
        ..Scripted::default()
    };
    let sink = Sink::default();
    let d = deliver(batch(0..6), &f, &sink, &policy(1, true), "x", || 1000).await;
    assert_eq!(d.failed, 1);
    let seen = f.seen.lock().unwrap().clone();
    // First the whole batch; then only from offset 3 on; then bisected.
    assert_eq!(seen[0], vec![0, 1, 2, 3, 4, 5]);
    assert_eq!(seen[1], vec![3, 4, 5]);
    assert_eq!(seen[2], vec![3]);
    assert_eq!(seen[3], vec![3]);
    assert_eq!(seen[4..], [vec![4, 5]]);
    assert_eq!(
        *sink.got.lock().unwrap(),
        vec![(3, "BatchItemFailure".to_owned(), 2)]
    );
}

#[tokio::test(start_paused = true)]
async fn old_records_skip_the_function() {
    let f = Scripted::default();
    let sink = Sink::default();
    let mut p = policy(0, false);
    p.max_record_age_ms = 500;
    let mut records = batch(0..3);
    records[1].timestamp_ms = 0;
    let d = deliver(records, &f, &sink, &p, "x", || 1000).await;
    assert_eq!(d.failed, 1);
    assert_eq!(
        *sink.got.lock().unwrap(),
        vec![(1, "RecordAgeExceeded".to_owned(), 0)]
    );
    assert_eq!(*f.seen.lock().unwrap(), vec![vec![0, 2]]);
}

#[tokio::test(start_paused = true)]
async fn unlimited_retries_keep_trying() {
    let f = Scripted {
        fail_first: Mutex::new(50),
        ..Scripted::default()
    };
    let sink = Sink::default();
    let d = deliver(batch(0..2), &f, &sink, &policy(-1, true), "x", || 1000).await;
    assert_eq!(d.invocations, 51);
    assert_eq!(d.failed, 0);
}
