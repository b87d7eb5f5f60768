//! Reading segments: header, trailer and footer.

use super::{
    BLOCK_ENTRY_LEN, BlockEntry, FOOTER_FIXED_LEN, FORMAT_VERSION, HEADER_LEN, MAGIC, SegmentError,
    SegmentFooter, TRAILER_LEN,
};

const MIN_SEGMENT_LEN: usize = HEADER_LEN + FOOTER_FIXED_LEN + TRAILER_LEN;

/// Reads and checks the footer of a whole segment held in memory: header,
/// trailer, footer CRC, and that blocks tile their offsets inside the
/// batch area.
pub fn decode_segment(segment: &[u8]) -> Result<SegmentFooter, SegmentError> {
    if segment.len() < MIN_SEGMENT_LEN {
        return Err(SegmentError::Truncated {
            len: segment.len() as u64,
            needed: MIN_SEGMENT_LEN as u64,
        });
    }
    let [m0, m1, m2, m3, v0, v1, _, _] = *segment
        .first_chunk::<HEADER_LEN>()
        .unwrap_or(&[0; HEADER_LEN]);
    check_magic("header", [m0, m1, m2, m3])?;
    let version = u16::from_be_bytes([v0, v1]);
    if version != FORMAT_VERSION {
        return Err(SegmentError::UnsupportedVersion { version });
    }
    let (footer_offset, footer_len, crc) = decode_segment_trailer(segment, segment.len() as u64)?;
    let footer_end = segment.len() - TRAILER_LEN;
    let footer = segment
        .get(footer_offset as usize..footer_end)
        .unwrap_or_default();
    if footer.len() != footer_len as usize {
        return Err(bad(format!(
            "footer is {} bytes but the trailer says {footer_len}",
            footer.len()
        )));
    }
    let computed = crc32c::crc32c(footer);
    if computed != crc {
        return Err(SegmentError::FooterCrcMismatch {
            stored: crc,
            computed,
        });
    }
    let mut r = Reader(footer);
    let topic_id = r.u128();
    let partition = r.u32();
    let count = r.u32();
    if FOOTER_FIXED_LEN as u64 + u64::from(count) * BLOCK_ENTRY_LEN as u64 != footer.len() as u64 {
        return Err(bad(format!(
            "footer claims {count} blocks in {} bytes",
            footer.len()
        )));
    }
    let blocks: Vec<BlockEntry> = (0..count)
        .map(|_| BlockEntry {
            base_offset: r.i64(),
            end_offset: r.i64(),
            byte_offset: r.u64(),
            byte_len: r.u32(),
            record_count: r.u32(),
            first_timestamp_ms: r.i64(),
            max_timestamp_ms: r.i64(),
        })
        .collect();
    check_blocks(&blocks, footer_offset)?;
    Ok(SegmentFooter {
        topic_id,
        partition,
        blocks,
    })
}

/// Reads the trailer from the last bytes of `tail` (the end of a segment of
/// `segment_len` bytes): footer offset, footer length and footer CRC.
pub fn decode_segment_trailer(
    tail: &[u8],
    segment_len: u64,
) -> Result<(u64, u32, u32), SegmentError> {
    let Some(trailer) = tail.last_chunk::<TRAILER_LEN>() else {
        return Err(SegmentError::Truncated {
            len: tail.len() as u64,
            needed: TRAILER_LEN as u64,
        });
    };
    let mut r = Reader(trailer);
    let footer_offset = r.u64();
    let footer_len = r.u32();
    let crc = r.u32();
    check_magic("trailer", r.array())?;
    let fits = footer_offset >= HEADER_LEN as u64
        && footer_len as usize >= FOOTER_FIXED_LEN
        && footer_offset
            .checked_add(u64::from(footer_len))
            .and_then(|end| end.checked_add(TRAILER_LEN as u64))
            == Some(segment_len);
    if !fits {
        return Err(bad(format!(
            "trailer puts {footer_len} footer bytes at byte {footer_offset} of a \
             {segment_len}-byte segment"
        )));
    }
    Ok((footer_offset, footer_len, crc))
}

fn check_blocks(blocks: &[BlockEntry], footer_offset: u64) -> Result<(), SegmentError> {
    let mut byte_at = HEADER_LEN as u64;
    let mut offset_at = blocks.first().map_or(0, |b| b.base_offset);
    for (i, block) in blocks.iter().enumerate() {
        if block.base_offset != offset_at || block.end_offset <= block.base_offset {
            return Err(bad(format!(
                "block {i} covers offsets {}..{} where {offset_at}.. was expected",
                block.base_offset, block.end_offset
            )));
        }
        let end = block.byte_offset.checked_add(u64::from(block.byte_len));
        if block.byte_offset != byte_at || end.is_none_or(|end| end > footer_offset) {
            return Err(bad(format!(
                "block {i} lies at bytes {}+{} where byte {byte_at} was expected",
                block.byte_offset, block.byte_len
            )));
        }
        byte_at = end.unwrap_or(footer_offset);
        offset_at = block.end_offset;
    }
    if byte_at != footer_offset {
        return Err(bad(format!(
            "blocks end at byte {byte_at} but the footer starts at {footer_offset}"
        )));
    }
    Ok(())
}

fn bad(problem: String) -> SegmentError {
    SegmentError::BadFooter { problem }
}

fn check_magic(place: &'static str, found: [u8; 4]) -> Result<(), SegmentError> {
    if found == MAGIC {
        return Ok(());
    }
    Err(SegmentError::BadMagic {
        place,
        found: String::from_utf8_lossy(&found).escape_debug().to_string(),
    })
}

/// Reads big-endian fields from a slice whose length was checked beforehand;
/// a short read yields zeros rather than a panic.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let n = N.min(self.0.len());
        out[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        out
    }

    fn u128(&mut self) -> u128 {
        u128::from_be_bytes(self.array())
    }

    fn u64(&mut self) -> u64 {
        u64::from_be_bytes(self.array())
    }

    fn i64(&mut self) -> i64 {
        i64::from_be_bytes(self.array())
    }

    fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.array())
    }
}
