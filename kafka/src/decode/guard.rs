//! A read buffer that keeps kafka-protocol from reserving memory for counts
//! the frame cannot back.
//!
//! kafka-protocol 0.18 decodes a list by reading its count and calling
//! `Vec::with_capacity(count)` before reading a single element
//! (`protocol/types.rs`, `Array` and `CompactArray`). A hostile count of 2^31
//! or 2^32 asks for hundreds of GiB and aborts the process. Strings and bytes
//! are safe: they go through `try_get_bytes`, which checks what is left first.
//! Kafka's own decoder refuses any count larger than the bytes remaining, since
//! every element takes at least one byte; [`Guarded`] enforces the same rule
//! from outside the crate, because the crate's decoders are generic over the
//! buffer:
//!
//! - Compact counts are unsigned varints read one byte at a time through
//!   `try_get_u8`. At the first byte of every varint the guard looks ahead,
//!   decodes the whole varint, and fails the read if its value exceeds both
//!   the bytes after it plus one (compact counts and lengths are stored as
//!   n + 1) and [`VARINT_COUNT_SLACK`]. The slack is for the one varint that
//!   is not a count or length, a tagged field's number: real ones are small,
//!   but may sit at the very end of a frame. A varint whose fifth byte still
//!   has the continuation bit fails too, as in Kafka. Booleans are read the
//!   same way; a boolean byte of 0x80 or more (clients send 0 or 1) may
//!   therefore be refused, and so may a tag numbered above the slack that
//!   the frame's remaining bytes do not cover.
//! - Classic counts are `i32`s, indistinguishable from `i32` fields such as
//!   `max_wait_ms`. A first pass replaces every `i32` larger than the bytes
//!   left with -2, which every count decoder refuses at once without
//!   allocating, while plain fields just carry a wrong value. If that pass
//!   decodes, no count was too large, and a second exact pass gives the real
//!   values (with the same, now proven safe, allocations). If nothing was
//!   replaced the first pass's result is exact and is kept.
//!
//! With every count at most the bytes left (or the small slack), one decode
//! reserves at most `frame bytes * MAX_REQUEST_ELEMENT_BYTES` plus the slack's
//! share (see [`crate::limits`]).
//!
//! This module never decodes a message itself; it only watches reads.

use std::ops::Range;

use bytes::{Buf, Bytes, TryGetError};
use kafka_protocol::protocol::buf::ByteBuf;

use crate::limits::VARINT_COUNT_SLACK;

/// Longest unsigned varint the codec reads (a `u32`).
const MAX_VARINT_BYTES: usize = 5;

/// The replacement for an over-large `i32` in the first pass: below -1, so
/// every list and byte-string decoder refuses it.
const REFUSED_COUNT: i32 = -2;

/// How a pass treats an `i32` larger than the bytes left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pass {
    /// Replace it with [`REFUSED_COUNT`] and remember that it happened.
    Screen,
    /// Return it unchanged; only after a screening pass decoded.
    Exact,
}

/// Why the guard refused a read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Violation {
    /// A varint count or length larger than the bytes after it.
    CountExceedsFrame { at: usize, count: u64, left: usize },
    /// A varint longer than five bytes.
    VarintTooLong { at: usize },
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::CountExceedsFrame { at, count, left } => write!(
                f,
                "varint at byte {at} claims {count} but only {left} bytes follow"
            ),
            Self::VarintTooLong { at } => write!(f, "varint at byte {at} is longer than 5 bytes"),
        }
    }
}

/// A [`ByteBuf`] over one frame that refuses impossible counts.
#[derive(Debug)]
pub(crate) struct Guarded {
    rest: Bytes,
    len: usize,
    pass: Pass,
    /// `i32`s replaced during a screening pass.
    pub(crate) replaced: usize,
    /// The first refused read, to explain the codec's generic error.
    pub(crate) violation: Option<Violation>,
    /// Position and length of the current run of varint bytes read one by
    /// one, while the last byte read had its continuation bit set.
    varint_run: Option<(usize, usize)>,
}

impl Guarded {
    pub(crate) fn new(frame: Bytes, pass: Pass) -> Self {
        Self {
            len: frame.len(),
            rest: frame,
            pass,
            replaced: 0,
            violation: None,
            varint_run: None,
        }
    }

    /// The bytes not read yet.
    pub(crate) fn into_rest(self) -> Bytes {
        self.rest
    }

    fn position(&self) -> usize {
        self.len - self.rest.len()
    }

    /// Checks the varint that starts at the current position, as the codec
    /// will read it. A varint cut off by the end of the frame passes: the
    /// codec fails on it by itself.
    fn check_varint(&self) -> Result<(), Violation> {
        let at = self.position();
        // The full magnitude, not the codec's `u32` (which drops bits shifted
        // past 32): a varint read from inside this run is then never larger
        // than this one, which is what lets continuation bytes go unchecked.
        let mut value: u64 = 0;
        for (i, &b) in self.rest.iter().take(MAX_VARINT_BYTES).enumerate() {
            value |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                let left = self.rest.len() - (i + 1);
                if value > (left as u64 + 1).max(VARINT_COUNT_SLACK) {
                    return Err(Violation::CountExceedsFrame {
                        at,
                        count: value,
                        left,
                    });
                }
                return Ok(());
            }
        }
        if self.rest.len() >= MAX_VARINT_BYTES {
            return Err(Violation::VarintTooLong { at });
        }
        Ok(())
    }

    fn refuse(&mut self, violation: Violation) -> TryGetError {
        self.violation.get_or_insert(violation);
        TryGetError {
            requested: self.rest.len().saturating_add(1),
            available: self.rest.len(),
        }
    }
}

impl Buf for Guarded {
    fn remaining(&self) -> usize {
        self.rest.len()
    }

    fn chunk(&self) -> &[u8] {
        &self.rest
    }

    fn advance(&mut self, cnt: usize) {
        // Every read other than `try_get_u8` ends a varint run.
        self.varint_run = None;
        self.rest.advance(cnt);
    }

    fn try_get_u8(&mut self) -> Result<u8, TryGetError> {
        let at = self.position();
        // A byte that continues a varint was covered by the check at the
        // varint's first byte: a varint read from inside that run ends at the
        // same byte and cannot be larger.
        let continuing = match self.varint_run {
            Some((start, len)) => start + len == at && len < MAX_VARINT_BYTES,
            None => false,
        };
        if !continuing && let Err(v) = self.check_varint() {
            return Err(self.refuse(v));
        }
        let b = self.rest.try_get_u8()?;
        self.varint_run = if b < 0x80 {
            None
        } else {
            match self.varint_run {
                Some((start, len)) if continuing => Some((start, len + 1)),
                _ => Some((at, 1)),
            }
        };
        Ok(b)
    }

    fn try_get_i32(&mut self) -> Result<i32, TryGetError> {
        self.varint_run = None;
        let v = self.rest.try_get_i32()?;
        if self.pass == Pass::Screen && v > 0 && v as usize > self.rest.len() {
            self.replaced += 1;
            return Ok(REFUSED_COUNT);
        }
        Ok(v)
    }
}

impl ByteBuf for Guarded {
    fn peek_bytes(&mut self, r: Range<usize>) -> Bytes {
        // The codec only peeks through `try_peek_bytes`, which checks the
        // range; clamp anyway so a stray peek cannot panic.
        let end = r.end.min(self.rest.len());
        let start = r.start.min(end);
        self.rest.slice(start..end)
    }

    fn get_bytes(&mut self, size: usize) -> Bytes {
        self.varint_run = None;
        let size = size.min(self.rest.len());
        self.rest.split_to(size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::MAX_REQUEST_ELEMENT_BYTES;
    use kafka_protocol::messages::*;
    use kafka_protocol::protocol::{Decodable, StrBytes};

    fn varint(mut v: u32) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return out;
            }
            out.push(b | 0x80);
        }
    }

    #[test]
    fn huge_compact_count_is_refused_before_allocating() {
        // DeleteTopics v4 (flexible): a compact array of topic names claiming
        // u32::MAX - 1 entries, followed by nothing.
        let mut frame = varint(u32::MAX);
        frame.extend_from_slice(&[0, 0, 0, 0]);
        let mut buf = Guarded::new(Bytes::from(frame), Pass::Exact);
        assert!(DeleteTopicsRequest::decode(&mut buf, 4).is_err());
        assert!(matches!(
            buf.violation,
            Some(Violation::CountExceedsFrame { at: 0, .. })
        ));
    }

    #[test]
    fn huge_classic_count_is_refused_when_screening() {
        // DeleteTopics v1: an i32 array count of i32::MAX.
        let frame = Bytes::from(i32::MAX.to_be_bytes().to_vec());
        let mut buf = Guarded::new(frame, Pass::Screen);
        assert!(DeleteTopicsRequest::decode(&mut buf, 1).is_err());
        assert_eq!(buf.replaced, 1);
    }

    #[test]
    fn large_plain_i32_fields_survive_both_passes() {
        // A Fetch v4 with max_wait_ms and max_bytes far above the frame size.
        let mut req = FetchRequest::default();
        req.max_wait_ms = 500;
        req.max_bytes = 52_428_800;
        req.replica_id = (-1).into();
        let mut out = bytes::BytesMut::new();
        kafka_protocol::protocol::Encodable::encode(&req, &mut out, 4).unwrap();
        let frame = out.freeze();
        let mut screen = Guarded::new(frame.clone(), Pass::Screen);
        let screened = FetchRequest::decode(&mut screen, 4).unwrap();
        assert!(screen.replaced > 0);
        assert_ne!(screened.max_bytes, req.max_bytes);
        let mut exact = Guarded::new(frame, Pass::Exact);
        assert_eq!(FetchRequest::decode(&mut exact, 4).unwrap(), req);
    }

    #[test]
    fn continuation_bytes_are_not_rechecked() {
        // A compact string of 200 bytes: its length varint (201) is two bytes;
        // the second byte alone would read as 1, and must not be checked anew.
        let mut frame = varint(201);
        frame.extend(std::iter::repeat_n(b'a', 200));
        let mut buf = Guarded::new(Bytes::from(frame), Pass::Exact);
        for _ in 0..2 {
            buf.try_get_u8().unwrap();
        }
        assert_eq!(buf.remaining(), 200);
    }

    #[test]
    fn a_small_tag_number_at_the_end_of_a_frame_passes() {
        // Header-style tagged fields: one field, tag 19, size 0, and nothing
        // after it. 19 is more than the bytes left but within the slack.
        let mut buf = Guarded::new(Bytes::from_static(&[1, 19, 0]), Pass::Exact);
        for _ in 0..3 {
            buf.try_get_u8().unwrap();
        }
    }

    #[test]
    fn a_count_hidden_behind_a_high_boolean_is_still_checked() {
        // A boolean byte 0x81, then a 4-byte varint count of 2^27. Read from
        // the boolean, the five bytes overflow a u32 to a small value; the
        // guard must judge them by their full magnitude.
        let frame = Bytes::from_static(&[0x81, 0x80, 0x80, 0x80, 0x40, 0, 0]);
        let mut buf = Guarded::new(frame, Pass::Exact);
        assert!(buf.try_get_u8().is_err());
    }

    #[test]
    fn overlong_varint_is_refused() {
        let mut buf = Guarded::new(Bytes::from_static(&[0x80; 8]), Pass::Exact);
        assert!(buf.try_get_u8().is_err());
        assert_eq!(buf.violation, Some(Violation::VarintTooLong { at: 0 }));
    }

    #[test]
    fn request_list_elements_are_small() {
        // The element types of every list in an advertised request; their size
        // bounds what one decode may reserve (limits::MAX_REQUEST_ELEMENT_BYTES).
        let sizes = [
            size_of::<produce_request::TopicProduceData>(),
            size_of::<produce_request::PartitionProduceData>(),
            size_of::<fetch_request::FetchTopic>(),
            size_of::<fetch_request::FetchPartition>(),
            size_of::<fetch_request::ForgottenTopic>(),
            size_of::<list_offsets_request::ListOffsetsTopic>(),
            size_of::<list_offsets_request::ListOffsetsPartition>(),
            size_of::<metadata_request::MetadataRequestTopic>(),
            size_of::<offset_for_leader_epoch_request::OffsetForLeaderTopic>(),
            size_of::<offset_for_leader_epoch_request::OffsetForLeaderPartition>(),
            size_of::<create_topics_request::CreatableTopic>(),
            size_of::<create_topics_request::CreatableReplicaAssignment>(),
            size_of::<create_topics_request::CreatableTopicConfig>(),
            size_of::<delete_topics_request::DeleteTopicState>(),
            size_of::<delete_records_request::DeleteRecordsTopic>(),
            size_of::<delete_records_request::DeleteRecordsPartition>(),
            size_of::<describe_configs_request::DescribeConfigsResource>(),
            size_of::<incremental_alter_configs_request::AlterConfigsResource>(),
            size_of::<incremental_alter_configs_request::AlterableConfig>(),
            size_of::<create_partitions_request::CreatePartitionsTopic>(),
            size_of::<create_partitions_request::CreatePartitionsAssignment>(),
            size_of::<join_group_request::JoinGroupRequestProtocol>(),
            size_of::<sync_group_request::SyncGroupRequestAssignment>(),
            size_of::<leave_group_request::MemberIdentity>(),
            size_of::<offset_commit_request::OffsetCommitRequestTopic>(),
            size_of::<offset_commit_request::OffsetCommitRequestPartition>(),
            size_of::<offset_fetch_request::OffsetFetchRequestTopic>(),
            size_of::<offset_fetch_request::OffsetFetchRequestTopics>(),
            size_of::<offset_fetch_request::OffsetFetchRequestGroup>(),
            size_of::<describe_user_scram_credentials_request::UserName>(),
            size_of::<alter_user_scram_credentials_request::ScramCredentialDeletion>(),
            size_of::<alter_user_scram_credentials_request::ScramCredentialUpsertion>(),
            size_of::<GroupId>(),
            size_of::<TopicName>(),
            size_of::<StrBytes>(),
            size_of::<BrokerId>(),
            size_of::<i32>(),
        ];
        for size in sizes {
            assert!(size <= MAX_REQUEST_ELEMENT_BYTES, "{size}");
        }
    }
}
