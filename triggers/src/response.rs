//! Reading a function's answer: success, or a partial batch response.
//!
//! AWS defines `{"batchItemFailures": [{"itemIdentifier": ...}]}` for its
//! stream and queue event sources; an empty list means success. Each batch a
//! dispatcher sends holds one partition, so an offset names a record. The
//! identifier may be the offset (number or decimal string), `"topic-partition@offset"`,
//! or `{"topic", "partition", "offset"}`. As with AWS, an identifier that
//! names no record of the batch fails the whole batch, so nothing is skipped.

use serde_json::Value;

use crate::record::Record;

/// What the function reported about a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reported {
    /// Every record succeeded.
    Success,
    /// Records before `offset` succeeded; it and everything after are retried.
    FailedFrom { offset: i64 },
    /// The response's failures name no record of the batch: retry it all.
    Unrecognized,
}

/// Reads a successful invocation's response body for `batch`.
pub fn reported(body: &[u8], batch: &[Record]) -> Reported {
    let Ok(json) = serde_json::from_slice::<Value>(body) else {
        return Reported::Success;
    };
    let Some(failures) = json.get("batchItemFailures").and_then(Value::as_array) else {
        return Reported::Success;
    };
    if failures.is_empty() {
        return Reported::Success;
    }
    let mut lowest: Option<i64> = None;
    for failure in failures {
        let offset = failure.get("itemIdentifier").and_then(offset_of);
        match offset.filter(|o| batch.iter().any(|r| r.offset == *o)) {
            Some(o) => lowest = Some(lowest.map_or(o, |l| l.min(o))),
            None => return Reported::Unrecognized,
        }
    }
    lowest.map_or(Reported::Unrecognized, |offset| Reported::FailedFrom {
        offset,
    })
}

fn offset_of(id: &Value) -> Option<i64> {
    match id {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s
            .rsplit_once('@')
            .map_or(s.as_str(), |(_, o)| o)
            .trim()
            .parse()
            .ok(),
        Value::Object(o) => o.get("offset").and_then(offset_of),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch() -> Vec<Record> {
        (10..15)
            .map(|offset| Record {
                topic: "t".into(),
                partition: 0,
                offset,
                timestamp_ms: 0,
                key: None,
                value: None,
                headers: Vec::new(),
            })
            .collect()
    }

    #[test]
    fn reads_partial_batch_responses() {
        let b = batch();
        assert_eq!(reported(b"null", &b), Reported::Success);
        assert_eq!(reported(b"", &b), Reported::Success);
        assert_eq!(
            reported(br#"{"batchItemFailures":[]}"#, &b),
            Reported::Success
        );
        assert_eq!(
            reported(
                br#"{"batchItemFailures":[{"itemIdentifier":"13"},{"itemIdentifier":12}]}"#,
                &b
            ),
            Reported::FailedFrom { offset: 12 }
        );
        assert_eq!(
            reported(
                br#"{"batchItemFailures":[{"itemIdentifier":"t-0@11"}]}"#,
                &b
            ),
            Reported::FailedFrom { offset: 11 }
        );
        assert_eq!(
            reported(
                br#"{"batchItemFailures":[{"itemIdentifier":{"topic":"t","partition":0,"offset":14}}]}"#,
                &b
            ),
            Reported::FailedFrom { offset: 14 }
        );
        assert_eq!(
            reported(br#"{"batchItemFailures":[{"itemIdentifier":"99"}]}"#, &b),
            Reported::Unrecognized
        );
        assert_eq!(
            reported(br#"{"batchItemFailures":[{"itemIdentifier":null}]}"#, &b),
            Reported::Unrecognized
        );
    }
}
