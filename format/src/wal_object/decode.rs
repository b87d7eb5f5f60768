//! Reading WAL objects: header, trailer, footer, and chunk slices.

use std::collections::HashSet;

use bytes::Bytes;

use super::{
    ChunkEntry, FOOTER_ENTRY_LEN, FORMAT_VERSION, HEADER_LEN, MAGIC, MIN_OBJECT_LEN, TRAILER_LEN,
    Trailer, WalObjectError,
};
use crate::batch::BATCH_HEADER_LEN;

/// Reads the footer of a whole object held in memory, checking the header,
/// trailer, footer CRC and every chunk's bounds.
pub fn decode_footer(object: &[u8]) -> Result<Vec<ChunkEntry>, WalObjectError> {
    let object_len = object.len() as u64;
    if object.len() < MIN_OBJECT_LEN {
        return Err(WalObjectError::Truncated {
            len: object_len,
            needed: MIN_OBJECT_LEN as u64,
        });
    }
    decode_header(object)?;
    let trailer = decode_trailer(object, object_len)?;
    // In bounds: decode_trailer checked the footer ends where the trailer starts.
    let footer_end = object.len() - TRAILER_LEN;
    let footer = object
        .get(footer_end - trailer.footer_len as usize..footer_end)
        .unwrap_or_default();
    decode_footer_bytes(footer, &trailer)
}

/// Checks the 8-byte header at the start of `first_bytes`: magic, a version
/// this build reads, and the reserved field.
pub fn decode_header(first_bytes: &[u8]) -> Result<(), WalObjectError> {
    let Some(header) = first_bytes.first_chunk::<HEADER_LEN>() else {
        return Err(WalObjectError::Truncated {
            len: first_bytes.len() as u64,
            needed: MIN_OBJECT_LEN as u64,
        });
    };
    let [m0, m1, m2, m3, v0, v1, r0, r1] = *header;
    check_magic("header", [m0, m1, m2, m3])?;
    let version = u16::from_be_bytes([v0, v1]);
    if version != FORMAT_VERSION {
        return Err(WalObjectError::UnsupportedVersion { version });
    }
    let reserved = u16::from_be_bytes([r0, r1]);
    if reserved != 0 {
        return Err(WalObjectError::ReservedNotZero { value: reserved });
    }
    Ok(())
}

/// Reads the trailer from the last [`TRAILER_LEN`] bytes of `tail` (the end of
/// an object of `object_len` bytes, e.g. from a suffix range read) and checks
/// that the footer it points at sits between the header and the trailer.
pub fn decode_trailer(tail: &[u8], object_len: u64) -> Result<Trailer, WalObjectError> {
    let Some(trailer) = tail.last_chunk::<TRAILER_LEN>() else {
        return Err(WalObjectError::TrailerTruncated { len: tail.len() });
    };
    if object_len < MIN_OBJECT_LEN as u64 {
        return Err(WalObjectError::Truncated {
            len: object_len,
            needed: MIN_OBJECT_LEN as u64,
        });
    }
    let mut r = Reader(trailer);
    let footer_offset = r.u64();
    let footer_len = r.u32();
    let footer_crc = r.u32();
    check_magic("trailer", r.array())?;
    let footer_end = footer_offset.checked_add(u64::from(footer_len));
    if footer_offset < HEADER_LEN as u64
        || footer_len < 4
        || footer_end.and_then(|end| end.checked_add(TRAILER_LEN as u64)) != Some(object_len)
    {
        return Err(WalObjectError::FooterOutOfBounds {
            footer_offset,
            footer_len,
            object_len,
        });
    }
    Ok(Trailer {
        footer_offset,
        footer_len,
        footer_crc,
    })
}

/// Decodes footer bytes read separately (see [`Trailer::footer_range`]),
/// checking their CRC, the chunk count, and that chunks lie between the header
/// and the footer without overlapping or repeating a partition.
pub fn decode_footer_bytes(
    footer: &[u8],
    trailer: &Trailer,
) -> Result<Vec<ChunkEntry>, WalObjectError> {
    if footer.len() != trailer.footer_len as usize {
        return Err(WalObjectError::FooterLenMismatch {
            expected: trailer.footer_len,
            actual: footer.len(),
        });
    }
    let computed = crc32c::crc32c(footer);
    if computed != trailer.footer_crc {
        return Err(WalObjectError::FooterCrcMismatch {
            stored: trailer.footer_crc,
            computed,
        });
    }
    let mut r = Reader(footer);
    let count = if footer.len() >= 4 { r.u32() } else { 0 };
    let expected_len = 4 + u64::from(count) * FOOTER_ENTRY_LEN as u64;
    if expected_len != footer.len() as u64 {
        return Err(WalObjectError::ChunkCountMismatch {
            count,
            footer_len: trailer.footer_len,
        });
    }
    let entries: Vec<ChunkEntry> = (0..count).map(|_| r.entry()).collect();
    check_entries(&entries, trailer.footer_offset)?;
    Ok(entries)
}

/// The bytes of one chunk of a whole object held in memory, without copying.
pub fn chunk_bytes(object: &Bytes, entry: &ChunkEntry) -> Result<Bytes, WalObjectError> {
    let range = entry.byte_range();
    let in_bounds = range.start >= HEADER_LEN as u64 && range.end <= object.len() as u64;
    if !in_bounds {
        return Err(WalObjectError::ChunkOutOfBounds {
            topic_id: entry.topic_id,
            partition: entry.partition,
            range,
            limit: object.len() as u64,
        });
    }
    Ok(object.slice(range.start as usize..range.end as usize))
}

fn check_entries(entries: &[ChunkEntry], footer_offset: u64) -> Result<(), WalObjectError> {
    let mut partitions = HashSet::with_capacity(entries.len());
    for e in entries {
        let (topic_id, partition) = (e.topic_id, e.partition);
        let range = e.offset..e.offset.saturating_add(u64::from(e.len));
        if range.start < HEADER_LEN as u64 || range.end > footer_offset {
            return Err(WalObjectError::ChunkOutOfBounds {
                topic_id,
                partition,
                range,
                limit: footer_offset,
            });
        }
        // Every batch holds a record and takes a full header, so these
        // bound each other; anything else is a broken writer.
        let problem = if e.batch_count == 0 {
            Some("no batches".to_owned())
        } else if e.record_count < e.batch_count {
            Some(format!(
                "{} records in {} batches",
                e.record_count, e.batch_count
            ))
        } else if u64::from(e.batch_count) * BATCH_HEADER_LEN as u64 > u64::from(e.len) {
            Some(format!("{} batches in {} bytes", e.batch_count, e.len))
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(WalObjectError::BadChunkCounts {
                topic_id,
                partition,
                problem,
            });
        }
        if !partitions.insert((topic_id, partition)) {
            return Err(WalObjectError::DuplicateChunk {
                topic_id,
                partition,
            });
        }
    }
    let mut by_offset: Vec<&ChunkEntry> = entries.iter().collect();
    by_offset.sort_unstable_by_key(|e| e.offset);
    for pair in by_offset.windows(2) {
        if let [earlier, later] = pair
            && earlier.byte_range().end > later.offset
        {
            return Err(WalObjectError::ChunkOverlap {
                topic_id: later.topic_id,
                partition: later.partition,
                other_offset: earlier.offset,
            });
        }
    }
    Ok(())
}

fn check_magic(place: &'static str, found: [u8; 4]) -> Result<(), WalObjectError> {
    if found == MAGIC {
        return Ok(());
    }
    Err(WalObjectError::BadMagic {
        place,
        found: found.escape_ascii().to_string(),
    })
}

/// Big-endian reads over bytes whose length the caller has already checked;
/// a short read yields zeros rather than a panic.
#[derive(Debug)]
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn array<const N: usize>(&mut self) -> [u8; N] {
        match self.0.split_first_chunk::<N>() {
            Some((head, rest)) => {
                self.0 = rest;
                *head
            }
            None => [0; N],
        }
    }

    fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.array())
    }

    fn u64(&mut self) -> u64 {
        u64::from_be_bytes(self.array())
    }

    fn entry(&mut self) -> ChunkEntry {
        ChunkEntry {
            topic_id: u128::from_be_bytes(self.array()),
            partition: self.u32(),
            offset: self.u64(),
            len: self.u32(),
            record_count: self.u32(),
            batch_count: self.u32(),
            first_timestamp_ms: i64::from_be_bytes(self.array()),
            max_timestamp_ms: i64::from_be_bytes(self.array()),
        }
    }
}
