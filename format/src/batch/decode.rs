//! Decoding stored chunks back into records.
//!
//! Every length and count read from the bytes is checked against what is
//! actually there before anything is allocated or sliced, and all offset and
//! timestamp arithmetic is checked: corrupt or hostile input yields an error,
//! never a panic or an unbounded allocation.

use bytes::Bytes;

use super::compression::decompress;
use super::header::{
    ATTR_CONTROL, ATTR_LOG_APPEND_TIME, CRC_COVERS_FROM, Gaps, RawHeader, parse_header,
};
use super::{BATCH_HEADER_LEN, BatchError, Header, MAX_BATCH_UNCOMPRESSED_BYTES, StoredRecord};

/// The smallest encoded record: length, attributes, timestamp delta, offset
/// delta, key length, value length and header count, one byte each.
const MIN_RECORD_LEN: usize = 7;
/// The smallest encoded header: key length and value length, one byte each.
const MIN_HEADER_LEN: usize = 2;

/// Decodes every record of a stored chunk. Batch `i` gets base offset
/// `chunk_base_offset` plus the record counts of the batches before it; the
/// base offsets stored in the bytes are ignored.
pub fn decode_chunk(
    chunk: &Bytes,
    chunk_base_offset: i64,
) -> Result<Vec<StoredRecord>, BatchError> {
    decode_chunk_from(chunk, chunk_base_offset, i64::MIN, usize::MAX)
}

/// Decodes the records of a stored chunk from `from_offset` on, stopping before
/// the record that would take the total [`StoredRecord::payload_len`] past
/// `max_bytes`. The first record at or after `from_offset` is always returned,
/// however large, so a reader always makes progress.
///
/// Batches that end before `from_offset` are skipped by their headers alone:
/// they are neither checksummed nor decompressed.
pub fn decode_chunk_from(
    chunk: &Bytes,
    chunk_base_offset: i64,
    from_offset: i64,
    max_bytes: usize,
) -> Result<Vec<StoredRecord>, BatchError> {
    decode_records(
        chunk,
        Offsets::Dense(chunk_base_offset),
        from_offset,
        max_bytes,
    )
    .map(|decoded| decoded.records)
}

/// Decodes every record of segment bytes: batches carry their real base
/// offsets, and records their real offset deltas (with gaps where key
/// compaction removed records).
pub fn decode_segment_chunk(chunk: &Bytes) -> Result<Vec<StoredRecord>, BatchError> {
    decode_segment_chunk_from(chunk, i64::MIN, usize::MAX)
}

/// [`decode_chunk_from`] for segment bytes (see [`decode_segment_chunk`]).
pub fn decode_segment_chunk_from(
    chunk: &Bytes,
    from_offset: i64,
    max_bytes: usize,
) -> Result<Vec<StoredRecord>, BatchError> {
    decode_records(chunk, Offsets::Stored, from_offset, max_bytes).map(|decoded| decoded.records)
}

/// Where record offsets come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offsets {
    /// WAL chunks: stored base offsets are 0; batch `i` starts at the chunk
    /// base plus the record counts before it, and deltas are `0..n`.
    Dense(i64),
    /// Segments: base offsets and deltas in the bytes are real.
    Stored,
}

/// Records decoded from a chunk, and whether `max_bytes` stopped the decoder
/// before the chunk's last record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedChunk {
    pub records: Vec<StoredRecord>,
    pub budget_exhausted: bool,
}

/// Decodes records at or after `from_offset`, about `max_bytes` of them (at
/// least one when there is any), with offsets taken as `offsets` says.
pub fn decode_records(
    chunk: &Bytes,
    offsets: Offsets,
    from_offset: i64,
    max_bytes: usize,
) -> Result<DecodedChunk, BatchError> {
    let mut out = Vec::new();
    let mut budget = Budget { max_bytes, used: 0 };
    let mut at = 0;
    let (mut dense_base, gaps) = match offsets {
        Offsets::Dense(base) => (base, Gaps::Forbidden),
        Offsets::Stored => (0, Gaps::Allowed),
    };
    while at < chunk.len() {
        let header = parse_header(chunk, at, gaps)?;
        let base_offset = match offsets {
            Offsets::Dense(_) => dense_base,
            Offsets::Stored => header.info.base_offset,
        };
        let next_base = base_offset
            .checked_add(header.info.offset_span())
            .filter(|_| base_offset >= 0)
            .ok_or(BatchError::OffsetOverflow { base_offset })?;
        if next_base > from_offset {
            let batch = BatchRef {
                chunk,
                at,
                header,
                base_offset,
                gaps,
            };
            if batch.decode_into(from_offset, &mut budget, &mut out)? == Flow::Full {
                return Ok(DecodedChunk {
                    records: out,
                    budget_exhausted: true,
                });
            }
        }
        at += header.info.byte_len;
        dense_base = next_base;
    }
    Ok(DecodedChunk {
        records: out,
        budget_exhausted: false,
    })
}

#[derive(Debug, PartialEq, Eq)]
enum Flow {
    More,
    Full,
}

#[derive(Debug)]
struct Budget {
    max_bytes: usize,
    used: usize,
}

impl Budget {
    /// Whether a record of `size` fits; the first one always does.
    fn admit(&mut self, size: usize, first: bool) -> bool {
        let total = self.used.saturating_add(size);
        if !first && total > self.max_bytes {
            return false;
        }
        self.used = total;
        true
    }
}

/// One batch within a chunk whose header has been parsed and bounds-checked.
#[derive(Debug)]
struct BatchRef<'a> {
    chunk: &'a Bytes,
    at: usize,
    header: RawHeader,
    base_offset: i64,
    gaps: Gaps,
}

impl BatchRef<'_> {
    fn decode_into(
        &self,
        from_offset: i64,
        budget: &mut Budget,
        out: &mut Vec<StoredRecord>,
    ) -> Result<Flow, BatchError> {
        let records = self.verified_records()?;
        let attributes = self.header.attributes;
        // Control batches hold transaction markers, not data: they take
        // offsets but are never shown to readers (Kafka does the same).
        if attributes & ATTR_CONTROL != 0 {
            return Ok(Flow::More);
        }
        let count = self.header.info.record_count;
        if count as usize > records.len() / MIN_RECORD_LEN {
            return Err(BatchError::MalformedBatch {
                at: self.at,
                problem: format!("it claims {count} records in {} bytes", records.len()),
            });
        }
        let timestamps = Timestamps {
            first_ms: self.header.info.first_timestamp_ms,
            // LogAppendTime batches give every record the batch's max timestamp.
            log_append_ms: (attributes & ATTR_LOG_APPEND_TIME != 0)
                .then_some(self.header.info.max_timestamp_ms),
        };
        let mut cursor = Cursor::new(records);
        let mut previous_delta = -1;
        for index in 0..count {
            let malformed = |problem: String| BatchError::MalformedRecord {
                at: self.at,
                index,
                problem,
            };
            let body = cursor.record_body().map_err(|p| malformed(p.into()))?;
            let delta = offset_delta(&body).map_err(|p| malformed(p.into()))?;
            let expected_ok = match self.gaps {
                Gaps::Forbidden => delta == previous_delta + 1,
                Gaps::Allowed => {
                    delta > previous_delta && delta <= self.header.info.last_offset_delta
                }
            };
            if !expected_ok {
                return Err(malformed(format!(
                    "offset delta {delta} after {previous_delta}; stored batches need \
                     increasing offsets within the batch's declared span"
                )));
            }
            previous_delta = delta;
            // No overflow: the caller checked base offset + span.
            let offset = self.base_offset + i64::from(delta);
            if offset < from_offset {
                continue;
            }
            let record = parse_record(body, offset, timestamps).map_err(malformed)?;
            if !budget.admit(record.payload_len(), out.is_empty()) {
                return Ok(Flow::Full);
            }
            out.push(record);
        }
        if cursor.remaining() != 0 {
            return Err(BatchError::MalformedBatch {
                at: self.at,
                problem: format!("{} bytes follow its last record", cursor.remaining()),
            });
        }
        Ok(Flow::More)
    }

    /// Checks the CRC and returns the decompressed record bytes, whatever the
    /// codec.
    fn verified_records(&self) -> Result<Bytes, BatchError> {
        let (at, end) = (self.at, self.at + self.header.info.byte_len);
        // In bounds: parse_header checked the batch lies within the chunk.
        let covered = self
            .chunk
            .get(at + CRC_COVERS_FROM..end)
            .unwrap_or_default();
        let computed = crc32c::crc32c(covered);
        if computed != self.header.crc {
            return Err(BatchError::CrcMismatch {
                at,
                stored: self.header.crc,
                computed,
            });
        }
        let payload = self.chunk.slice(at + BATCH_HEADER_LEN..end);
        decompress(
            self.header.info.codec,
            &payload,
            at,
            MAX_BATCH_UNCOMPRESSED_BYTES,
        )
    }
}

#[derive(Debug, Clone, Copy)]
struct Timestamps {
    first_ms: i64,
    log_append_ms: Option<i64>,
}

/// Parses one record body (after its length prefix). Keys, values and header
/// values are slices of `body`, not copies.
fn parse_record(body: Bytes, offset: i64, timestamps: Timestamps) -> Result<StoredRecord, String> {
    let mut c = Cursor::new(body);
    let _attributes = c.byte()?;
    let timestamp_delta = c.varlong()?;
    let _offset_delta = c.varint()?;
    let timestamp_ms = match timestamps.log_append_ms {
        Some(ms) => ms,
        None => timestamps
            .first_ms
            .checked_add(timestamp_delta)
            .ok_or("its timestamp delta overflows")?,
    };
    let key = c.nullable_bytes()?;
    let value = c.nullable_bytes()?;
    let header_count = usize::try_from(c.varint()?).map_err(|_| "its header count is negative")?;
    if header_count > c.remaining() / MIN_HEADER_LEN {
        return Err(format!(
            "it claims {header_count} headers in {} bytes",
            c.remaining()
        ));
    }
    let mut headers = Vec::with_capacity(header_count);
    for _ in 0..header_count {
        let key = c.nullable_bytes()?.ok_or("a header key is null")?;
        let key = std::str::from_utf8(&key).map_err(|_| "a header key is not valid utf-8")?;
        let value = c.nullable_bytes()?.unwrap_or_default();
        headers.push(Header {
            key: key.to_owned(),
            value,
        });
    }
    if c.remaining() != 0 {
        return Err(format!("{} bytes follow its last header", c.remaining()));
    }
    Ok(StoredRecord {
        offset,
        timestamp_ms,
        key,
        value,
        headers,
    })
}

/// The offset delta of a record body, read ahead of the rest so records
/// before the requested offset are skipped without being parsed.
fn offset_delta(body: &Bytes) -> Result<i32, &'static str> {
    let mut c = Cursor::new(body.clone());
    let _attributes = c.byte()?;
    let _timestamp_delta = c.varlong()?;
    c.varint()
}

/// A bounds-checked reader over record bytes; slices share the buffer.
#[derive(Debug)]
struct Cursor {
    buf: Bytes,
    pos: usize,
}

impl Cursor {
    fn new(buf: Bytes) -> Self {
        Self { buf, pos: 0 }
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn byte(&mut self) -> Result<u8, &'static str> {
        let byte = *self.buf.get(self.pos).ok_or("it ends early")?;
        self.pos += 1;
        Ok(byte)
    }

    /// Unsigned LEB128, at most `max_len` bytes.
    fn uvarint(&mut self, max_len: usize) -> Result<u64, &'static str> {
        let mut value = 0u64;
        for i in 0..max_len {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("a varint is longer than its type allows")
    }

    /// Kafka's zigzag varint.
    fn varint(&mut self) -> Result<i32, &'static str> {
        let raw = u32::try_from(self.uvarint(5)?).map_err(|_| "a varint overflows 32 bits")?;
        Ok((raw >> 1) as i32 ^ -((raw & 1) as i32))
    }

    /// Kafka's zigzag varlong.
    fn varlong(&mut self) -> Result<i64, &'static str> {
        let raw = self.uvarint(10)?;
        Ok((raw >> 1) as i64 ^ -((raw & 1) as i64))
    }

    fn take(&mut self, len: usize) -> Result<Bytes, &'static str> {
        if len > self.remaining() {
            return Err("a length runs past the end of its record");
        }
        let bytes = self.buf.slice(self.pos..self.pos + len);
        self.pos += len;
        Ok(bytes)
    }

    /// A varint length (-1 for null) followed by that many bytes.
    fn nullable_bytes(&mut self) -> Result<Option<Bytes>, &'static str> {
        match self.varint()? {
            -1 => Ok(None),
            len => {
                let len = usize::try_from(len).map_err(|_| "a length is negative")?;
                self.take(len).map(Some)
            }
        }
    }

    /// The length-prefixed body of the next record.
    fn record_body(&mut self) -> Result<Bytes, &'static str> {
        let len = usize::try_from(self.varint()?).map_err(|_| "its length is negative")?;
        self.take(len)
    }
}
