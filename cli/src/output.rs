//! How `stratus consume` prints a record, alone or as a group member: the
//! output formats and the one function that writes a record in them.

use std::io::Write;

use stratus_sdk::ConsumerRecord;

/// `stratus consume --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum OutputFormat {
    /// The value only.
    Text,
    /// KEY<TAB>VALUE.
    Kv,
    /// One JSON object per record with partition, offset, timestamp, key, value, headers.
    Json,
}

/// Writes `record` as one line in `format`.
pub(crate) fn print_record(
    out: &mut impl Write,
    format: OutputFormat,
    record: &ConsumerRecord,
) -> std::io::Result<()> {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    // A tombstone (null value) prints as `null`, as Kafka's console consumer does.
    let value = record
        .value
        .as_deref()
        .map_or_else(|| "null".to_owned(), text);
    match format {
        OutputFormat::Text => writeln!(out, "{value}"),
        OutputFormat::Kv => writeln!(
            out,
            "{}\t{value}",
            record.key.as_deref().map(text).unwrap_or_default(),
        ),
        OutputFormat::Json => {
            let headers: serde_json::Map<String, serde_json::Value> = record
                .headers
                .iter()
                .map(|h| (h.key.clone(), serde_json::Value::String(text(&h.value))))
                .collect();
            let line = serde_json::json!({
                "partition": record.partition,
                "offset": record.offset,
                "timestamp": record.timestamp_ms,
                "key": record.key.as_deref().map(text),
                "value": record.value.as_deref().map(text),
                "headers": headers,
            });
            writeln!(out, "{line}")
        }
    }
}
