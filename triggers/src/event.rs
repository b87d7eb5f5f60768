//! The event a function receives: AWS's Kafka event shape, built with
//! `aws_lambda_events`' own types so a function that reads `KafkaEvent` for
//! MSK or self-managed Kafka reads it unchanged.
//!
//! Records are grouped under `"{topic}-{partition}"`; keys and values are
//! base64; headers are a list of one-entry maps from name to the value's
//! bytes as signed integers (Java bytes, as AWS sends them).

use std::collections::HashMap;

use aws_lambda_events::encodings::MillisecondTimestamp;
use aws_lambda_events::event::kafka::{KafkaEvent, KafkaRecord};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use chrono::DateTime;

use crate::record::Record;

/// `eventSource` of events Stratus sends (AWS's value for self-managed Kafka).
pub const EVENT_SOURCE: &str = "SelfManagedKafka";

/// The event for `records`; `bootstrap_servers` names the gateways.
pub fn kafka_event(records: &[Record], bootstrap_servers: &str) -> KafkaEvent {
    let mut grouped: HashMap<String, Vec<KafkaRecord>> = HashMap::new();
    for record in records {
        grouped
            .entry(format!("{}-{}", record.topic, record.partition))
            .or_default()
            .push(kafka_record(record));
    }
    let mut event = KafkaEvent::default();
    event.event_source = Some(EVENT_SOURCE.to_owned());
    event.bootstrap_servers = Some(bootstrap_servers.to_owned());
    event.records = grouped;
    event
}

/// The JSON bytes of [`kafka_event`].
///
/// `aws_lambda_events` writes timestamps as strings; AWS sends numbers, and
/// functions in other languages read them as such, so they are turned back
/// into numbers (the crate's own deserializer accepts both).
pub fn encode(records: &[Record], bootstrap_servers: &str) -> Bytes {
    // Serializing plain structs of strings, numbers and maps cannot fail.
    let mut json =
        serde_json::to_value(kafka_event(records, bootstrap_servers)).unwrap_or_default();
    if let Some(partitions) = json.get_mut("records").and_then(|r| r.as_object_mut()) {
        for record in partitions
            .values_mut()
            .filter_map(|p| p.as_array_mut())
            .flatten()
        {
            if let Some(ts) = record.get_mut("timestamp")
                && let Some(ms) = ts.as_str().and_then(|s| s.parse::<i64>().ok())
            {
                *ts = ms.into();
            }
        }
    }
    Bytes::from(serde_json::to_vec(&json).unwrap_or_default())
}

fn kafka_record(record: &Record) -> KafkaRecord {
    let mut out = KafkaRecord::default();
    out.topic = Some(record.topic.clone());
    out.partition = i64::from(record.partition);
    out.offset = record.offset;
    out.timestamp = MillisecondTimestamp(
        DateTime::from_timestamp_millis(record.timestamp_ms).unwrap_or_default(),
    );
    out.timestamp_type = Some("CREATE_TIME".to_owned());
    out.key = record.key.as_ref().map(|k| STANDARD.encode(k));
    out.value = record.value.as_ref().map(|v| STANDARD.encode(v));
    out.headers = record
        .headers
        .iter()
        .map(|(name, value)| {
            // Java bytes are signed; `as` reinterprets each byte's bits.
            let signed = value.iter().map(|&b| b as i8).collect();
            HashMap::from([(name.clone(), signed)])
        })
        .collect();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(offset: i64) -> Record {
        Record {
            topic: "orders".into(),
            partition: 2,
            offset,
            timestamp_ms: 1_700_000_000_123,
            key: Some(Bytes::from_static(b"k")),
            value: Some(Bytes::from_static(b"hello")),
            headers: vec![("h".into(), Bytes::from_static(&[1, 255]))],
        }
    }

    #[test]
    fn matches_the_aws_kafka_shape() {
        let bytes = encode(&[record(7), record(8)], "grpc://127.0.0.1:7400");
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(json["eventSource"], "SelfManagedKafka");
        assert_eq!(json["bootstrapServers"], "grpc://127.0.0.1:7400");
        let records = json["records"]["orders-2"].as_array().unwrap();
        assert_eq!(records.len(), 2);
        let first = &records[0];
        assert_eq!(first["topic"], "orders");
        assert_eq!(first["partition"], 2);
        assert_eq!(first["offset"], 7);
        assert_eq!(first["timestamp"], 1_700_000_000_123_i64);
        assert_eq!(first["timestampType"], "CREATE_TIME");
        assert_eq!(first["key"], "aw==");
        assert_eq!(first["value"], "aGVsbG8=");
        assert_eq!(first["headers"], serde_json::json!([{"h": [1, -1]}]));
        // And a function reading `KafkaEvent` gets it back.
        let event: KafkaEvent = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(event.records["orders-2"][1].offset, 8);
    }

    #[test]
    fn tombstones_have_no_value() {
        let mut r = record(1);
        r.value = None;
        r.key = None;
        let json: serde_json::Value = serde_json::from_slice(&encode(&[r], "x")).unwrap();
        let first = &json["records"]["orders-2"][0];
        assert!(first["value"].is_null() && first["key"].is_null());
    }
}
