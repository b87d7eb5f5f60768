//! Binary values stored under partition keys: the partition head and index
//! entries. Persisted: every field is forever; add a new version byte to change.

use super::LogError;

/// Where an index entry's bytes live.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TierKind {
    /// A WAL object (many partitions per object, base offsets patched on read).
    Wal = 0,
    /// A per-partition segment written by the compactor.
    Segment = 1,
}

/// One chunk of a partition: records `[base_offset, base_offset + offset_count)`
/// stored at `byte_offset..byte_offset + byte_len` of `object_key`.
///
/// A WAL chunk holds a record for every offset it covers. A segment block may
/// hold fewer, or none (`byte_len` 0), where key compaction removed records;
/// index entries still tile the partition from its log start to its head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    pub tier: TierKind,
    pub object_key: String,
    pub base_offset: i64,
    pub offset_count: u32,
    pub byte_offset: u64,
    pub byte_len: u32,
    pub first_timestamp_ms: i64,
    pub max_timestamp_ms: i64,
}

const INDEX_ENTRY_V1: u8 = 1;
const INDEX_ENTRY_FIXED_LEN: usize = 1 + 1 + 8 + 4 + 8 + 4 + 8 + 8;

impl IndexEntry {
    /// One past the last offset in the chunk.
    pub fn end_offset(&self) -> i64 {
        self.base_offset + i64::from(self.offset_count)
    }

    /// `version u8 | tier u8 | base i64 | offset count u32 | byte offset u64 | byte len u32 |
    /// first ts i64 | max ts i64 | object key (UTF-8, rest)`, big-endian.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(INDEX_ENTRY_FIXED_LEN + self.object_key.len());
        out.push(INDEX_ENTRY_V1);
        out.push(self.tier as u8);
        out.extend_from_slice(&self.base_offset.to_be_bytes());
        out.extend_from_slice(&self.offset_count.to_be_bytes());
        out.extend_from_slice(&self.byte_offset.to_be_bytes());
        out.extend_from_slice(&self.byte_len.to_be_bytes());
        out.extend_from_slice(&self.first_timestamp_ms.to_be_bytes());
        out.extend_from_slice(&self.max_timestamp_ms.to_be_bytes());
        out.extend_from_slice(self.object_key.as_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, LogError> {
        let corrupt = |reason: String| LogError::CorruptMetadata { reason };
        if bytes.len() < INDEX_ENTRY_FIXED_LEN {
            return Err(corrupt(format!(
                "index entry is {} bytes, at least {INDEX_ENTRY_FIXED_LEN} expected",
                bytes.len()
            )));
        }
        if bytes[0] != INDEX_ENTRY_V1 {
            return Err(corrupt(format!(
                "index entry version {} is unknown; upgrade this gateway",
                bytes[0]
            )));
        }
        let tier = match bytes[1] {
            0 => TierKind::Wal,
            1 => TierKind::Segment,
            other => return Err(corrupt(format!("index entry names unknown tier {other}"))),
        };
        let mut at = 2;
        let mut take = |n: usize| {
            let field = &bytes[at..at + n];
            at += n;
            field
        };
        let base_offset = i64::from_be_bytes(take(8).try_into().unwrap_or_default());
        let offset_count = u32::from_be_bytes(take(4).try_into().unwrap_or_default());
        let byte_offset = u64::from_be_bytes(take(8).try_into().unwrap_or_default());
        let byte_len = u32::from_be_bytes(take(4).try_into().unwrap_or_default());
        let first_timestamp_ms = i64::from_be_bytes(take(8).try_into().unwrap_or_default());
        let max_timestamp_ms = i64::from_be_bytes(take(8).try_into().unwrap_or_default());
        let object_key = std::str::from_utf8(&bytes[INDEX_ENTRY_FIXED_LEN..])
            .map_err(|_| corrupt("index entry object key is not UTF-8".to_owned()))?
            .to_owned();
        Ok(Self {
            tier,
            object_key,
            base_offset,
            offset_count,
            byte_offset,
            byte_len,
            first_timestamp_ms,
            max_timestamp_ms,
        })
    }
}

/// The mutable head of a partition: the next offset to assign and the largest
/// record timestamp seen so far (for the time index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionHead {
    pub next_offset: i64,
    pub max_timestamp_ms: i64,
}

impl Default for PartitionHead {
    fn default() -> Self {
        Self {
            next_offset: 0,
            max_timestamp_ms: i64::MIN,
        }
    }
}

impl PartitionHead {
    /// `next offset i64 LE | max timestamp i64 LE`; little-endian so the next
    /// offset could be advanced by an atomic add.
    pub fn encode(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.next_offset.to_le_bytes());
        out[8..].copy_from_slice(&self.max_timestamp_ms.to_le_bytes());
        out
    }

    pub fn decode(bytes: Option<&[u8]>) -> Result<Self, LogError> {
        let Some(bytes) = bytes else {
            return Ok(Self::default());
        };
        let fixed: [u8; 16] = bytes.try_into().map_err(|_| LogError::CorruptMetadata {
            reason: format!("partition head is {} bytes, 16 expected", bytes.len()),
        })?;
        let (next, max) = fixed.split_at(8);
        Ok(Self {
            next_offset: i64::from_le_bytes(next.try_into().unwrap_or_default()),
            max_timestamp_ms: i64::from_le_bytes(max.try_into().unwrap_or_default()),
        })
    }
}

/// The outcome of each batch of a WAL object, chunk by chunk in footer order
/// and batch by batch within a chunk: its base offset, or -1 (topic deleted
/// before the commit), -2 (out-of-order producer sequence), -3 (fenced
/// producer epoch). Stored under the object's commit key so a commit with an
/// unknown outcome can be resolved by reading it.
pub fn encode_commit_record(base_offsets: &[i64]) -> Vec<u8> {
    base_offsets.iter().flat_map(|o| o.to_le_bytes()).collect()
}

pub fn decode_commit_record(bytes: &[u8]) -> Result<Vec<i64>, LogError> {
    if !bytes.len().is_multiple_of(8) {
        return Err(LogError::CorruptMetadata {
            reason: format!(
                "wal commit record is {} bytes, not a multiple of 8",
                bytes.len()
            ),
        });
    }
    Ok(bytes
        .chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap_or_default()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> IndexEntry {
        IndexEntry {
            tier: TierKind::Wal,
            object_key: "wal/01J.wal".into(),
            base_offset: 42,
            offset_count: 3,
            byte_offset: 8,
            byte_len: 100,
            first_timestamp_ms: 1_700_000_000_000,
            max_timestamp_ms: 1_700_000_000_005,
        }
    }

    #[test]
    fn index_entry_round_trips() {
        let entry = sample();
        assert_eq!(IndexEntry::decode(&entry.encode()).unwrap(), entry);
        assert_eq!(entry.end_offset(), 45);
    }

    /// Index entries are persisted: these bytes must never change.
    #[test]
    fn index_entry_bytes_are_pinned() {
        let hex: String = sample()
            .encode()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex,
            "0100000000000000002a000000030000000000000008000000640000018bcfe568000000018bcfe56805\
             77616c2f30314a2e77616c",
            "the persisted index entry format changed; existing clusters could not be read"
        );
    }

    #[test]
    fn truncated_or_unknown_entries_are_errors() {
        let bytes = sample().encode();
        assert!(IndexEntry::decode(&bytes[..10]).is_err());
        let mut bad = bytes;
        bad[0] = 9;
        assert!(IndexEntry::decode(&bad).is_err());
    }

    #[test]
    fn head_defaults_when_absent_and_round_trips() {
        assert_eq!(
            PartitionHead::decode(None).unwrap(),
            PartitionHead::default()
        );
        let head = PartitionHead {
            next_offset: 7,
            max_timestamp_ms: -3,
        };
        assert_eq!(PartitionHead::decode(Some(&head.encode())).unwrap(), head);
        assert!(PartitionHead::decode(Some(&[1, 2, 3])).is_err());
    }
}
