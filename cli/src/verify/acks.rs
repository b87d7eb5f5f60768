//! What a run wrote: the id each record carries, every acknowledgement, and
//! the file (`--acks`) that keeps them for a later `--check-only` read.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// The start of every value verify writes; anything else is another writer's.
const VALUE_PREFIX: &str = "stratus-verify";

/// The unique id of one record: its run, its producer and its sequence
/// number within that producer (0, 1, 2, ... in send order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct RecordId {
    pub(crate) producer: u32,
    pub(crate) seq: u64,
}

impl RecordId {
    /// The record value carrying this id in run `run`.
    pub(crate) fn value(self, run: &str) -> String {
        format!("{VALUE_PREFIX} {run} {} {}", self.producer, self.seq)
    }

    /// The id in `value` when run `run` wrote it.
    pub(crate) fn parse(value: &[u8], run: &str) -> Option<Self> {
        let text = std::str::from_utf8(value).ok()?;
        let mut words = text.split(' ');
        if words.next()? != VALUE_PREFIX || words.next()? != run {
            return None;
        }
        let producer = words.next()?.parse().ok()?;
        let seq = words.next()?.parse().ok()?;
        words.next().is_none().then_some(Self { producer, seq })
    }
}

/// Where the gateway said a record was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "(u32, u64, u32, i64)", into = "(u32, u64, u32, i64)")]
pub(crate) struct Ack {
    pub(crate) id: RecordId,
    pub(crate) partition: u32,
    pub(crate) offset: i64,
}

impl From<(u32, u64, u32, i64)> for Ack {
    fn from((producer, seq, partition, offset): (u32, u64, u32, i64)) -> Self {
        Self {
            id: RecordId { producer, seq },
            partition,
            offset,
        }
    }
}

impl From<Ack> for (u32, u64, u32, i64) {
    fn from(ack: Ack) -> Self {
        (ack.id.producer, ack.id.seq, ack.partition, ack.offset)
    }
}

/// One run's history: what it sent and what was acknowledged.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct History {
    pub(crate) run: String,
    pub(crate) topic: String,
    pub(crate) producers: u32,
    /// Each partition's next offset before the run produced: its records
    /// are at or after these.
    pub(crate) starts: BTreeMap<u32, i64>,
    /// Records handed to a producer.
    pub(crate) sent: u64,
    /// Records whose delivery failed: they may or may not have been written.
    pub(crate) failed: u64,
    /// `[producer, seq, partition, offset]` each.
    pub(crate) acks: Vec<Ack>,
}

impl History {
    pub(crate) fn save(&self, path: &Path) -> anyhow::Result<()> {
        let bytes = serde_json::to_vec(self)?;
        std::fs::write(path, bytes)
            .with_context(|| format!("cannot write acknowledgements to {}", path.display()))
    }

    pub(crate) fn load(path: &Path) -> anyhow::Result<Self> {
        let bytes = std::fs::read(path).with_context(|| {
            format!(
                "cannot read acknowledgements from {}; write them with a run of `stratus verify --acks FILE`",
                path.display()
            )
        })?;
        serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a `stratus verify --acks` file", path.display()))
    }
}

/// An id for one run: the values of other runs on the same topic differ.
pub(crate) fn new_run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{:x}", nanos ^ (u128::from(std::process::id()) << 64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_other_values_are_foreign() {
        let id = RecordId {
            producer: 3,
            seq: 41,
        };
        let value = id.value("abc");
        assert_eq!(RecordId::parse(value.as_bytes(), "abc"), Some(id));
        assert_eq!(RecordId::parse(value.as_bytes(), "abd"), None);
        assert_eq!(RecordId::parse(b"stratus-verify abc 3", "abc"), None);
        assert_eq!(RecordId::parse(b"stratus-verify abc 3 41 x", "abc"), None);
        assert_eq!(RecordId::parse(b"hello", "abc"), None);
    }

    #[test]
    fn acks_are_written_as_arrays() {
        let ack = Ack {
            id: RecordId {
                producer: 1,
                seq: 2,
            },
            partition: 0,
            offset: 7,
        };
        assert_eq!(serde_json::to_string(&ack).unwrap(), "[1,2,0,7]");
        assert_eq!(serde_json::from_str::<Ack>("[1,2,0,7]").unwrap(), ack);
    }
}
