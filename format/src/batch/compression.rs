//! Bounded decompression of a batch's records, for every codec a Kafka
//! client may use: none, gzip, snappy, lz4 and zstd.
//!
//! Batches are stored as their producer compressed them, so the reader meets
//! every codec. The compressed bytes are untrusted: each decompressor stops
//! one byte past the limit it is given, and no length the input claims (a
//! snappy block's decompressed size, a zstd frame's content size) is
//! allocated before it has been checked against what is left of that limit.
//! Nothing here does I/O.

use std::cell::RefCell;
use std::fmt;
use std::io::{self, Read};

use bytes::Bytes;
use zstd::bulk::Decompressor;

use super::BatchError;
use crate::limits::DECOMPRESS_READ_STEP;

/// The compression codec of a batch: bits 0-2 of its attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    None,
    Gzip,
    /// Raw snappy (librdkafka) or xerial-framed snappy (the Java client).
    Snappy,
    /// The LZ4 frame format.
    Lz4,
    Zstd,
}

impl Codec {
    /// The codec that Kafka's attribute value `id` (0..=4) names, if any.
    pub fn from_id(id: u8) -> Option<Self> {
        match id {
            0 => Some(Self::None),
            1 => Some(Self::Gzip),
            2 => Some(Self::Snappy),
            3 => Some(Self::Lz4),
            4 => Some(Self::Zstd),
            _ => None,
        }
    }

    /// Kafka's attribute value for the codec.
    pub fn id(self) -> u8 {
        match self {
            Self::None => 0,
            Self::Gzip => 1,
            Self::Snappy => 2,
            Self::Lz4 => 3,
            Self::Zstd => 4,
        }
    }

    /// The name Kafka's `compression.type` setting uses.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Gzip => "gzip",
            Self::Snappy => "snappy",
            Self::Lz4 => "lz4",
            Self::Zstd => "zstd",
        }
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a payload did not decompress.
#[derive(Debug)]
enum Failure {
    /// More than the limit came out, or a length the input declares says so.
    TooLarge,
    Corrupt(io::Error),
}

impl From<io::Error> for Failure {
    fn from(error: io::Error) -> Self {
        Self::Corrupt(error)
    }
}

fn corrupt(problem: impl Into<String>) -> Failure {
    Failure::Corrupt(io::Error::new(io::ErrorKind::InvalidData, problem.into()))
}

thread_local! {
    /// As for compression: reuse one zstd context per thread.
    static DECOMPRESSOR: RefCell<Option<Decompressor<'static>>> = const { RefCell::new(None) };
}

/// The record bytes of the batch at byte `at` whose payload (everything after
/// the 61-byte header) is `payload`, compressed with `codec`: at most `max`
/// bytes, or [`BatchError::DecompressedTooLarge`].
pub(super) fn decompress(
    codec: Codec,
    payload: &Bytes,
    at: usize,
    max: usize,
) -> Result<Bytes, BatchError> {
    let raw = match codec {
        Codec::None => return Ok(payload.clone()),
        Codec::Gzip => read_bounded(flate2::bufread::MultiGzDecoder::new(&payload[..]), max),
        Codec::Snappy => snappy(payload, max),
        Codec::Lz4 => lz4(payload, max),
        Codec::Zstd => zstd(payload, max),
    };
    match raw {
        Ok(raw) if raw.len() <= max => Ok(Bytes::from(raw)),
        Ok(_) | Err(Failure::TooLarge) => Err(BatchError::DecompressedTooLarge { at, max }),
        Err(Failure::Corrupt(source)) => Err(BatchError::Decompress { at, source }),
    }
}

/// Reads `reader` to its end into one buffer. The buffer only ever has room
/// for `max + 1` bytes, so the decompressor behind `reader` cannot produce
/// more than that however much its input expands; filling it is `TooLarge`.
/// Growth doubles but is clamped to that bound, so a payload near the limit
/// costs about the limit, not twice it.
fn read_bounded(mut reader: impl Read, max: usize) -> Result<Vec<u8>, Failure> {
    let limit = max.saturating_add(1);
    let mut buf = Vec::new();
    let mut filled = 0;
    loop {
        if filled == buf.len() {
            if filled == limit {
                return Err(Failure::TooLarge);
            }
            let next = filled
                .saturating_mul(2)
                .max(DECOMPRESS_READ_STEP)
                .min(limit);
            buf.reserve_exact(next - buf.len());
            buf.resize(next, 0);
        }
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error.into()),
        }
    }
    buf.truncate(filled);
    // Records are slices of this buffer and keep all of it alive.
    buf.shrink_to_fit();
    Ok(buf)
}

/// Makes `out` `additional` bytes longer (zeroed), failing if that passes
/// `max`. Growth doubles but never reserves past `max`.
fn extend_within(out: &mut Vec<u8>, additional: usize, max: usize) -> Result<(), Failure> {
    let needed = out
        .len()
        .checked_add(additional)
        .filter(|n| *n <= max)
        .ok_or(Failure::TooLarge)?;
    if needed > out.capacity() {
        let target = out.capacity().saturating_mul(2).clamp(needed, max);
        out.reserve_exact(target - out.len());
    }
    out.resize(needed, 0);
    Ok(())
}

/// The 8-byte magic that starts xerial's snappy framing (snappy-java's
/// `SnappyOutputStream`, which the Java client writes); a 4-byte version and a
/// 4-byte minimum compatible version follow it.
const XERIAL_MAGIC: &[u8; 8] = b"\x82SNAPPY\x00";
const XERIAL_HEADER_LEN: usize = 16;

/// Snappy as Kafka clients write it. The Java client frames it the xerial
/// way: the 16-byte header, then blocks of a big-endian u32 length and that
/// many bytes of raw snappy. librdkafka writes one raw snappy stream. Like
/// snappy-java's reader, anything that does not start with the magic is
/// taken as raw snappy, and a header where a block length is due starts
/// another concatenated stream.
fn snappy(payload: &[u8], max: usize) -> Result<Vec<u8>, Failure> {
    let mut out = Vec::new();
    let framed = payload.len() >= XERIAL_HEADER_LEN && payload.starts_with(XERIAL_MAGIC);
    if !framed {
        snappy_block(payload, &mut out, max)?;
        return Ok(out);
    }
    let mut rest = &payload[XERIAL_HEADER_LEN..];
    while !rest.is_empty() {
        if rest.len() >= XERIAL_HEADER_LEN && rest.starts_with(XERIAL_MAGIC) {
            rest = &rest[XERIAL_HEADER_LEN..];
            continue;
        }
        let Some((len, tail)) = rest.split_first_chunk::<4>() else {
            return Err(corrupt(format!(
                "{} bytes follow the last snappy block, too few for a block length",
                rest.len()
            )));
        };
        let len = u32::from_be_bytes(*len) as usize;
        if len > tail.len() {
            return Err(corrupt(format!(
                "a snappy block claims {len} bytes and {} remain",
                tail.len()
            )));
        }
        let (block, tail) = tail.split_at(len);
        snappy_block(block, &mut out, max)?;
        rest = tail;
    }
    out.shrink_to_fit();
    Ok(out)
}

/// Appends one raw snappy block to `out`. The size the block declares is
/// checked against what is left of `max` before anything is allocated.
fn snappy_block(block: &[u8], out: &mut Vec<u8>, max: usize) -> Result<(), Failure> {
    let declared = snap::raw::decompress_len(block).map_err(io::Error::from)?;
    let start = out.len();
    extend_within(out, declared, max)?;
    let written = snap::raw::Decoder::new()
        .decompress(block, &mut out[start..])
        .map_err(io::Error::from)?;
    if written != declared {
        return Err(corrupt(format!(
            "a snappy block declares {declared} bytes and holds {written}"
        )));
    }
    Ok(())
}

/// One LZ4 frame, as Kafka clients write it since magic 1. The frame must
/// end where the payload does.
fn lz4(payload: &[u8], max: usize) -> Result<Vec<u8>, Failure> {
    let mut decoder = lz4::Decoder::new(payload)?;
    let out = read_bounded(&mut decoder, max)?;
    // The decoder reads no further than the frame needs, so what it leaves
    // unread follows the frame; a frame cut short reads as a short stream
    // that only `finish` reports.
    let (rest, finished) = decoder.finish();
    if finished.is_err() {
        return Err(corrupt("the lz4 frame ends before its end mark"));
    }
    if !rest.is_empty() {
        return Err(corrupt(format!(
            "{} bytes follow the lz4 frame",
            rest.len()
        )));
    }
    Ok(out)
}

fn zstd(payload: &[u8], max: usize) -> Result<Vec<u8>, Failure> {
    // Our own batches are one frame that declares its size: decompress with a
    // reused context into one exact allocation. Anything else (Kafka's
    // streaming producers omit the size) goes through a capped stream.
    let one_frame = zstd::zstd_safe::find_frame_compressed_size(payload) == Ok(payload.len());
    let declared = match zstd::zstd_safe::get_frame_content_size(payload) {
        Ok(Some(size)) if one_frame => Some(size),
        _ => None,
    };
    match declared {
        Some(size) if size > max as u64 => Err(Failure::TooLarge),
        Some(size) => Ok(zstd_sized(payload, size as usize)?),
        None => read_bounded(zstd::stream::read::Decoder::with_buffer(payload)?, max),
    }
}

fn zstd_sized(payload: &[u8], size: usize) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(size);
    DECOMPRESSOR
        .try_with(|cell| match cell.try_borrow_mut() {
            Ok(mut slot) => zstd_with(&mut slot, payload, &mut out),
            Err(_) => zstd_with(&mut None, payload, &mut out),
        })
        .map_err(io::Error::other)??;
    if out.len() != size {
        return Err(io::Error::other(format!(
            "the frame declares {size} bytes but holds {}",
            out.len()
        )));
    }
    Ok(out)
}

fn zstd_with(
    slot: &mut Option<Decompressor<'static>>,
    payload: &[u8],
    out: &mut Vec<u8>,
) -> io::Result<usize> {
    let mut decompressor = match slot.take() {
        Some(decompressor) => decompressor,
        None => Decompressor::new()?,
    };
    let written = decompressor.decompress_to_buffer(payload, out);
    *slot = Some(decompressor);
    written
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// A small limit makes the boundary cheap to test exactly.
    const MAX: usize = 4096;

    fn compress(codec: Codec, raw: &[u8]) -> Vec<u8> {
        match codec {
            Codec::None => raw.to_vec(),
            Codec::Gzip => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(raw).unwrap();
                e.finish().unwrap()
            }
            Codec::Snappy => snap::raw::Encoder::new().compress_vec(raw).unwrap(),
            Codec::Lz4 => {
                let mut e = lz4::EncoderBuilder::new().build(Vec::new()).unwrap();
                e.write_all(raw).unwrap();
                let (out, result) = e.finish();
                result.unwrap();
                out
            }
            Codec::Zstd => zstd::stream::encode_all(raw, 1).unwrap(),
        }
    }

    fn run(codec: Codec, payload: Vec<u8>) -> Result<Bytes, BatchError> {
        decompress(codec, &Bytes::from(payload), 0, MAX)
    }

    const COMPRESSED: [Codec; 4] = [Codec::Gzip, Codec::Snappy, Codec::Lz4, Codec::Zstd];

    #[test]
    fn exactly_the_limit_passes_and_one_byte_more_is_refused() {
        for codec in COMPRESSED {
            let at_limit = vec![7u8; MAX];
            assert_eq!(run(codec, compress(codec, &at_limit)).unwrap(), at_limit);
            let err = run(codec, compress(codec, &[7u8; MAX + 1])).unwrap_err();
            assert!(
                matches!(err, BatchError::DecompressedTooLarge { max: MAX, .. }),
                "{codec}: {err}"
            );
        }
    }

    #[test]
    fn the_zstd_frame_size_is_checked_before_allocating() {
        // A declared content size past the limit is refused from the header.
        let sized = zstd::bulk::compress(&[0u8; MAX + 1], 1).unwrap();
        assert!(matches!(zstd(&sized, MAX), Err(Failure::TooLarge)));
    }

    #[test]
    fn a_snappy_block_declaring_more_than_the_limit_is_refused_unread() {
        // Varint 0xffff_ffff, then nothing: the claim alone must be refused.
        let block = [0xff, 0xff, 0xff, 0xff, 0x0f];
        let mut out = Vec::new();
        assert!(matches!(
            snappy_block(&block, &mut out, MAX),
            Err(Failure::TooLarge)
        ));
        assert_eq!(out.capacity(), 0);
    }

    #[test]
    fn xerial_blocks_share_one_budget() {
        let block = snap::raw::Encoder::new()
            .compress_vec(&[1u8; 1024])
            .unwrap();
        let mut framed = b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01".to_vec();
        for _ in 0..4 {
            framed.extend_from_slice(&(block.len() as u32).to_be_bytes());
            framed.extend_from_slice(&block);
        }
        assert_eq!(run(Codec::Snappy, framed.clone()).unwrap().len(), MAX);
        framed.extend_from_slice(&1u32.to_be_bytes());
        framed.push(0); // a block that decompresses to nothing
        assert_eq!(run(Codec::Snappy, framed.clone()).unwrap().len(), MAX);
        framed.extend_from_slice(&(block.len() as u32).to_be_bytes());
        framed.extend_from_slice(&block);
        assert!(matches!(
            run(Codec::Snappy, framed),
            Err(BatchError::DecompressedTooLarge { .. })
        ));
    }

    #[test]
    fn concatenated_xerial_streams_read_as_one() {
        let header = b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01";
        let block = snap::raw::Encoder::new().compress_vec(b"abc").unwrap();
        let mut framed = Vec::new();
        for _ in 0..2 {
            framed.extend_from_slice(header);
            framed.extend_from_slice(&(block.len() as u32).to_be_bytes());
            framed.extend_from_slice(&block);
        }
        assert_eq!(&run(Codec::Snappy, framed).unwrap()[..], b"abcabc");
    }

    #[test]
    fn truncated_or_trailing_bytes_are_corrupt() {
        let raw: Vec<u8> = (0..2000u32).map(|i| (i * 7 % 251) as u8).collect();
        for codec in COMPRESSED {
            let whole = compress(codec, &raw);
            assert_eq!(run(codec, whole.clone()).unwrap(), raw, "{codec}");
            for cut in [1, whole.len() / 2, whole.len() - 1] {
                let err = run(codec, whole[..cut].to_vec()).unwrap_err();
                assert!(
                    matches!(err, BatchError::Decompress { .. }),
                    "{codec} cut at {cut}: {err}"
                );
            }
        }
        for codec in [Codec::Gzip, Codec::Lz4] {
            let mut trailing = compress(codec, &raw);
            trailing.extend_from_slice(b"junk");
            assert!(run(codec, trailing).is_err(), "{codec}");
        }
    }

    #[test]
    fn codec_ids_round_trip() {
        for id in 0..8u8 {
            match Codec::from_id(id) {
                Some(codec) => assert_eq!(codec.id(), id),
                None => assert!(id > 4),
            }
        }
        assert_eq!(Codec::Lz4.to_string(), "lz4");
    }
}
