//! The properties the fuzz targets check, one function per target, so the
//! targets (`fuzz_targets/`) and the replay test of stratus-format
//! (`tests/fuzz_corpus.rs`, which includes this file) run the same code.
//!
//! Each function takes arbitrary bytes and panics only when a property
//! fails: a decoder panics or aborts (an allocation sized by a hostile count
//! aborts the process, which libFuzzer reports), an accepted input breaks an
//! invariant the decoder promises, or what it accepted does not survive the
//! crate's own encoder. The checksums in the formats would stop nearly every
//! mutated input at the first check, so each function also runs the decoder
//! on a copy whose checksums are made right, which gets mutations into the
//! parsers behind them.

use bytes::Bytes;
use prost::Message;
use stratus_format::batch::{
    self, BATCH_HEADER_LEN, BatchCodec, BatchError, Offsets, RecordInput, StoredRecord,
};
use stratus_format::segment::{self, SegmentBuilder};
use stratus_format::trigger::{self, TriggerSpec};
use stratus_format::wal_object::{self, WalObjectBuilder};

/// Where a WAL object's and a segment's trailer keep the footer CRC, counted
/// from the end: both trailers are footer offset (8), footer length (4), CRC
/// (4) and magic (4).
const TRAILER_CRC_FROM_END: usize = 8;
const TRAILER_LEN: usize = 20;

/// `data` is a flags byte, a budget byte and a run of record batches. Runs
/// every batch decoder over the run and checks that they agree with each
/// other and with the encoder. Flag bit 0 fixes every batch's CRC first;
/// bits 4-7 are the offset to read from, the budget byte times 16 the fetch
/// size (255: unbounded).
pub fn batch_decode(data: &[u8]) {
    let Some((&[flags, budget], rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let mut chunk = rest.to_vec();
    if flags & 1 != 0 {
        fix_batch_crcs(&mut chunk);
    }
    let chunk = Bytes::from(chunk);
    let from_offset = i64::from(flags >> 4);
    let max_bytes = match budget {
        255 => usize::MAX,
        b => usize::from(b) * 16,
    };
    check_headers(&chunk);
    check_dense(&chunk, from_offset, max_bytes);
    check_client(&chunk);
    check_segment_chunk(&chunk);
}

/// Makes the CRC of every batch whose declared length fits right, so the
/// decoders get to decompression and record parsing.
fn fix_batch_crcs(chunk: &mut [u8]) {
    let mut at = 0;
    while let Some(head) = chunk.get(at..at + BATCH_HEADER_LEN) {
        let declared = i32::from_be_bytes([head[8], head[9], head[10], head[11]]);
        let Some(end) = usize::try_from(declared)
            .ok()
            .filter(|len| *len >= BATCH_HEADER_LEN - 12)
            .map(|len| at + 12 + len)
            .filter(|end| *end <= chunk.len())
        else {
            return;
        };
        let crc = crc32c::crc32c(&chunk[at + 21..end]);
        chunk[at + 17..at + 21].copy_from_slice(&crc.to_be_bytes());
        at = end;
    }
}

/// Header walks cover the chunk exactly, and serving rebased bytes reads
/// back the records the dense decoder gives.
fn check_headers(chunk: &Bytes) {
    let Ok(infos) = batch::batch_infos(chunk) else {
        return;
    };
    let total: usize = infos.iter().map(|i| i.byte_len).sum();
    assert_eq!(total, chunk.len(), "batch headers do not tile the chunk");
    assert!(infos.iter().all(|i| i.record_count > 0));
    const BASE: i64 = 1_000;
    let mut rebased = chunk.to_vec();
    batch::rebase_chunk(&mut rebased, BASE).expect("a chunk whose headers parse rebases");
    let again = batch::batch_infos(&rebased).expect("a rebased chunk's headers parse");
    let mut base = BASE;
    for (before, after) in infos.iter().zip(&again) {
        assert_eq!(after.base_offset, base);
        assert_eq!(
            batch::BatchInfo {
                base_offset: before.base_offset,
                ..*after
            },
            *before,
            "rebasing changed more than the base offset"
        );
        base += i64::from(before.record_count);
    }
    if let Ok(dense) = batch::decode_chunk(chunk, BASE) {
        let served = batch::decode_segment_chunk(&Bytes::from(rebased))
            .expect("a rebased chunk that decodes densely decodes as stored");
        assert_eq!(served, dense, "rebased bytes read back other records");
    }
}

/// A bounded read is a prefix of the full read from its offset, within its
/// budget, in offset order.
fn check_dense(chunk: &Bytes, from_offset: i64, max_bytes: usize) {
    let base = 0;
    let all = batch::decode_chunk(chunk, base);
    let part = match batch::decode_records(chunk, Offsets::Dense(base), from_offset, max_bytes) {
        Ok(part) => part,
        Err(error) => {
            assert!(
                all.is_err(),
                "a bounded read fails where the full read does not: {error}"
            );
            return;
        }
    };
    let records = &part.records;
    assert!(records.iter().all(|r| r.offset >= from_offset));
    assert!(records.windows(2).all(|w| w[0].offset < w[1].offset));
    if records.len() > 1 {
        let used: usize = records.iter().map(StoredRecord::payload_len).sum();
        assert!(
            used <= max_bytes,
            "{used} bytes read under a {max_bytes}-byte budget"
        );
    }
    if let Ok(all) = all {
        let wanted: Vec<&StoredRecord> = all.iter().filter(|r| r.offset >= from_offset).collect();
        assert!(records.len() <= wanted.len());
        assert!(
            records.iter().zip(&wanted).all(|(a, b)| a == *b),
            "a bounded read differs from the full read"
        );
        assert_eq!(part.budget_exhausted, records.len() < wanted.len());
    }
}

/// A batch a producer may send re-encodes, with either codec we write, to a
/// batch that is accepted with the same records.
fn check_client(chunk: &Bytes) {
    let Ok(checked) = batch::check_client_batch(chunk) else {
        return;
    };
    assert_eq!(checked.records.len(), checked.info.record_count as usize);
    assert_eq!(checked.info.byte_len, chunk.len());
    let inputs: Vec<RecordInput> = checked.records.iter().map(input).collect();
    for codec in [BatchCodec::None, BatchCodec::Zstd { level: 1 }] {
        let encoded = match batch::encode_batch_with(&inputs, codec) {
            Ok(encoded) => encoded,
            Err(error) => {
                assert_refusal(&error);
                return;
            }
        };
        let again = batch::check_client_batch(&encoded).expect("our own batch is accepted");
        assert_eq!(again.records, checked.records, "{codec:?} round trip");
    }
}

/// Segment bytes decode with their stored offsets, and re-encode as key
/// compaction writes them to the same records.
fn check_segment_chunk(chunk: &Bytes) {
    let Ok(records) = batch::decode_segment_chunk(chunk) else {
        return;
    };
    if records.is_empty() {
        return;
    }
    let placed: Vec<(i64, RecordInput)> = records.iter().map(|r| (r.offset, input(r))).collect();
    let encoded = match batch::encode_batch_at_offsets(&placed, 1) {
        Ok(encoded) => encoded,
        // Records of several batches need not increase from one to the next.
        Err(BatchError::Encode { .. }) => return,
        Err(error) => {
            assert_refusal(&error);
            return;
        }
    };
    let again = batch::decode_segment_chunk(&encoded).expect("our own segment batch decodes");
    assert_eq!(again, records, "segment batch round trip");
}

/// The encoder may refuse decoded records only for what Kafka's format
/// carries and ours does not: repeated header keys, timestamps too far apart
/// for deltas from the smallest, or too many bytes.
fn assert_refusal(error: &BatchError) {
    assert!(
        matches!(
            error,
            BatchError::DuplicateHeaderKey { .. }
                | BatchError::TimestampSpread { .. }
                | BatchError::TooLarge { .. }
        ),
        "decoded records do not re-encode: {error}"
    );
}

fn input(record: &StoredRecord) -> RecordInput {
    RecordInput {
        key: record.key.clone(),
        value: record.value.clone(),
        headers: record.headers.clone(),
        timestamp_ms: record.timestamp_ms,
    }
}

/// Makes a footer CRC right where the trailer at the end of `object` says
/// the footer is, if it is inside the object.
fn fix_footer_crc(object: &mut [u8]) {
    let Some(trailer) = object.last_chunk::<TRAILER_LEN>() else {
        return;
    };
    let offset = u64::from_be_bytes(trailer[..8].try_into().unwrap_or_default());
    let len = u32::from_be_bytes(trailer[8..12].try_into().unwrap_or_default());
    let start = usize::try_from(offset).unwrap_or(usize::MAX);
    let Some(end) = start.checked_add(len as usize) else {
        return;
    };
    if end > object.len() - TRAILER_LEN {
        return;
    }
    let crc = crc32c::crc32c(&object[start..end]);
    let at = object.len() - TRAILER_CRC_FROM_END;
    object[at..at + 4].copy_from_slice(&crc.to_be_bytes());
}

/// `data` is a WAL object, read as is and with its footer CRC made right.
pub fn wal_object_decode(data: &[u8]) {
    check_wal_object(&Bytes::copy_from_slice(data));
    let mut fixed = data.to_vec();
    fix_footer_crc(&mut fixed);
    check_wal_object(&Bytes::from(fixed));
}

/// The whole-object read and the ranged one (trailer, then footer) agree;
/// every chunk of an accepted footer can be sliced out; and the chunks put
/// back through the builder give an object that decodes to the same chunks.
fn check_wal_object(object: &Bytes) {
    let whole = wal_object::decode_footer(object);
    if wal_object::decode_header(object).is_ok() {
        let ranged = wal_object::decode_trailer(object, object.len() as u64).and_then(|trailer| {
            let range = trailer.footer_range();
            let footer = object.get(range.start as usize..range.end as usize);
            wal_object::decode_footer_bytes(footer.unwrap_or_default(), &trailer)
        });
        match (&whole, &ranged) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "whole and ranged reads differ"),
            (Err(_), Err(_)) => {}
            _ => panic!("whole read {whole:?}, ranged read {ranged:?}"),
        }
    }
    let Ok(entries) = whole else {
        return;
    };
    let mut chunks = Vec::with_capacity(entries.len());
    for entry in &entries {
        let chunk = wal_object::chunk_bytes(object, entry).expect("an accepted chunk is in bounds");
        assert_eq!(chunk.len(), entry.len as usize);
        let _ = batch::decode_chunk(&chunk, 0);
        chunks.push(chunk);
    }
    let mut builder = WalObjectBuilder::new();
    for (entry, chunk) in entries.iter().zip(&chunks) {
        if builder
            .add_chunk(entry.topic_id, entry.partition, [chunk])
            .is_err()
        {
            return;
        }
    }
    let (rebuilt, written) = builder.finish();
    let read = wal_object::decode_footer(&rebuilt).expect("a built wal object decodes");
    assert_eq!(read, written, "a built wal object reads back other entries");
    for ((entry, chunk), again) in entries.iter().zip(&chunks).zip(&read) {
        assert_eq!(
            (entry.topic_id, entry.partition),
            (again.topic_id, again.partition)
        );
        let bytes = wal_object::chunk_bytes(&rebuilt, again).expect("a built chunk is in bounds");
        assert_eq!(&bytes, chunk, "a built chunk holds other bytes");
    }
}

/// `data` is a segment, read as is and with its footer CRC made right.
pub fn segment_decode(data: &[u8]) {
    check_segment(data);
    let mut fixed = data.to_vec();
    fix_footer_crc(&mut fixed);
    check_segment(&fixed);
}

/// An accepted footer's blocks tile its offsets and bytes, and the batches
/// put back through the builder give a segment with the same batch bytes.
fn check_segment(bytes: &[u8]) {
    let Ok(footer) = segment::decode_segment(bytes) else {
        return;
    };
    let (footer_offset, _, _) = segment::decode_segment_trailer(bytes, bytes.len() as u64)
        .expect("an accepted segment's trailer reads");
    let mut byte_at = segment::HEADER_LEN as u64;
    for pair in footer.blocks.windows(2) {
        assert_eq!(pair[0].end_offset, pair[1].base_offset);
    }
    for block in &footer.blocks {
        assert!(block.base_offset < block.end_offset);
        assert_eq!(block.byte_offset, byte_at);
        let range = block.byte_range();
        byte_at = range.end;
        let block_bytes = Bytes::copy_from_slice(&bytes[range.start as usize..range.end as usize]);
        let _ = batch::decode_segment_chunk(&block_bytes);
    }
    assert_eq!(byte_at, footer_offset);
    let (Some(first), Some(last)) = (footer.blocks.first(), footer.blocks.last()) else {
        return;
    };
    let area = &bytes[segment::HEADER_LEN..footer_offset as usize];
    let Ok(infos) = batch::segment_batch_infos(area) else {
        return;
    };
    let block_bytes = (area.len() / 2).max(1);
    let mut builder = SegmentBuilder::new(
        footer.topic_id,
        footer.partition,
        first.base_offset,
        block_bytes,
    );
    let mut at = 0;
    for info in &infos {
        if builder.push_batch(&area[at..at + info.byte_len]).is_err() {
            return;
        }
        at += info.byte_len;
    }
    let Ok((rebuilt, written)) = builder.finish(last.end_offset) else {
        return;
    };
    let read = segment::decode_segment(&rebuilt).expect("a built segment decodes");
    assert_eq!(
        read.blocks, written,
        "a built segment reads back other blocks"
    );
    assert_eq!(
        (read.topic_id, read.partition),
        (footer.topic_id, footer.partition)
    );
    let (end, _, _) = segment::decode_segment_trailer(&rebuilt, rebuilt.len() as u64)
        .expect("a built segment's trailer reads");
    assert_eq!(&rebuilt[segment::HEADER_LEN..end as usize], area);
    assert_eq!(
        read.blocks.first().map(|b| b.base_offset),
        Some(first.base_offset)
    );
    assert_eq!(
        read.blocks.last().map(|b| b.end_offset),
        Some(last.end_offset)
    );
}

/// `data` is a flag byte and a trigger definition: the JSON stored in
/// metadata (flag even) or a `stratus.v1.Trigger` from the gRPC service
/// (flag odd). A definition read either way survives JSON, and one that
/// validates survives the wire.
pub fn trigger_decode(data: &[u8]) {
    let Some((flag, bytes)) = data.split_first() else {
        return;
    };
    let spec = if flag % 2 == 0 {
        match serde_json::from_slice::<TriggerSpec>(bytes) {
            Ok(spec) => spec,
            Err(_) => return,
        }
    } else {
        let Ok(message) = stratus_proto::v1::Trigger::decode(bytes) else {
            return;
        };
        match trigger::wire::spec_from_wire(message) {
            Ok(spec) => spec,
            Err(error) => {
                assert!(!error.0.is_empty(), "an empty refusal");
                return;
            }
        }
    };
    let json = serde_json::to_vec(&spec).expect("a definition serializes");
    let again: TriggerSpec = serde_json::from_slice(&json).expect("its JSON reads back");
    assert_eq!(again, spec, "JSON round trip");
    if let Err(error) = spec.validate() {
        assert!(!error.0.is_empty(), "an empty refusal");
        return;
    }
    let wire = trigger::wire::spec_to_wire(&spec);
    assert_eq!(wire.group, spec.group());
    let encoded = wire.encode_to_vec();
    let decoded = stratus_proto::v1::Trigger::decode(&encoded[..]).expect("its message decodes");
    let back = trigger::wire::spec_from_wire(decoded).expect("a valid definition maps back");
    assert_eq!(back, spec, "wire round trip");
}
