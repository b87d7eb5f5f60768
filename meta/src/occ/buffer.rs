//! A transaction's buffered writes and the read-your-writes view over them.
//!
//! Writes are kept coalesced: a map of the last operation per key plus the set
//! of cleared ranges. `clear_range` drops buffered operations inside the range,
//! so at commit applying every cleared range first and then every per-key
//! operation reproduces the order the caller wrote in.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::ops::Bound;

use bytes::Bytes;

use super::Mutation;
use super::ranges::{RangeSet, point};
use crate::{MetaError, VERSIONSTAMP_LEN};

/// The last buffered operation on one key.
#[derive(Debug, Clone)]
enum Op {
    Set(Bytes),
    Clear,
    /// An atomic add whose base is the committed value at commit time. Only
    /// exists for keys with no earlier write and outside cleared ranges; any
    /// other add folds into a `Set`.
    Add(i64),
    /// `prefix` followed by the commit's versionstamp with this order.
    Stamped {
        prefix: Bytes,
        order: u16,
    },
}

/// What this transaction's own writes say about one key.
#[derive(Debug)]
pub(crate) enum Local {
    /// The value is fully determined by buffered writes.
    Known(Option<Bytes>),
    /// The committed value plus this delta.
    Add(i64),
    /// No buffered write; read the snapshot.
    Unknown,
}

/// Adds `delta` to the little-endian integer `base` as FoundationDB's `ADD`
/// does for an 8-byte operand: absent is 0, shorter values are zero-padded,
/// longer ones truncated, and the sum wraps.
pub(crate) fn add_le(base: Option<&[u8]>, delta: i64) -> Bytes {
    let mut buf = [0u8; 8];
    if let Some(base) = base {
        let n = base.len().min(8);
        buf[..n].copy_from_slice(&base[..n]);
    }
    let sum = i64::from_le_bytes(buf).wrapping_add(delta);
    Bytes::copy_from_slice(&sum.to_le_bytes())
}

/// Buffered writes of one transaction.
#[derive(Debug, Default)]
pub(crate) struct WriteBuffer {
    ops: BTreeMap<Bytes, Op>,
    cleared: RangeSet,
    /// Versionstamped writes so far; u32 so the 65 537th is detected.
    stamps: u32,
}

impl WriteBuffer {
    pub(crate) fn is_empty(&self) -> bool {
        self.ops.is_empty() && self.cleared.is_empty()
    }

    pub(crate) fn set(&mut self, key: &[u8], value: &[u8]) {
        self.ops.insert(
            Bytes::copy_from_slice(key),
            Op::Set(Bytes::copy_from_slice(value)),
        );
    }

    pub(crate) fn clear(&mut self, key: &[u8]) {
        self.ops.insert(Bytes::copy_from_slice(key), Op::Clear);
    }

    /// Callers ensure `begin < end`.
    pub(crate) fn clear_range(&mut self, begin: &[u8], end: &[u8]) {
        // Cut [begin, end) out of the map in O(log n) instead of key by key.
        let mut inside = self.ops.split_off(begin);
        let mut after = inside.split_off(end);
        self.ops.append(&mut after);
        self.cleared
            .insert(Bytes::copy_from_slice(begin), Bytes::copy_from_slice(end));
    }

    pub(crate) fn atomic_add(&mut self, key: &[u8], delta: i64) -> Result<(), MetaError> {
        let cleared = self.cleared.contains(key);
        let op = match self.ops.get(key) {
            Some(Op::Set(value)) => Op::Set(add_le(Some(value), delta)),
            Some(Op::Clear) => Op::Set(add_le(None, delta)),
            Some(Op::Add(pending)) => Op::Add(pending.wrapping_add(delta)),
            Some(Op::Stamped { .. }) => return Err(MetaError::VersionstampedKeyRead),
            None if cleared => Op::Set(add_le(None, delta)),
            None => Op::Add(delta),
        };
        self.ops.insert(Bytes::copy_from_slice(key), op);
        Ok(())
    }

    pub(crate) fn set_versionstamped_value(
        &mut self,
        key: &[u8],
        prefix: &[u8],
    ) -> Result<(), MetaError> {
        u16::try_from(self.stamps).map_err(|_| MetaError::TooManyVersionstamps)?;
        self.stamps += 1;
        // As on FoundationDB, every stamp of one transaction is the same 10
        // bytes; the last two order transactions within a commit batch, and
        // here every commit holds one transaction.
        let order = 0;
        let prefix = Bytes::copy_from_slice(prefix);
        self.ops
            .insert(Bytes::copy_from_slice(key), Op::Stamped { prefix, order });
        Ok(())
    }

    /// What buffered writes say about `key`.
    pub(crate) fn lookup(&self, key: &[u8]) -> Result<Local, MetaError> {
        Ok(match self.ops.get(key) {
            Some(Op::Set(value)) => Local::Known(Some(value.clone())),
            Some(Op::Clear) => Local::Known(None),
            Some(Op::Add(delta)) => Local::Add(*delta),
            Some(Op::Stamped { .. }) => return Err(MetaError::VersionstampedKeyRead),
            None if self.cleared.contains(key) => Local::Known(None),
            None => Local::Unknown,
        })
    }

    /// Merges buffered writes over `snapshot`, the snapshot's pairs in
    /// `[begin, end)` in the requested direction. `limit` 0 means no limit.
    pub(crate) fn merge_range<I>(
        &self,
        snapshot: I,
        begin: &[u8],
        end: &[u8],
        limit: usize,
        reverse: bool,
    ) -> Result<Vec<(Bytes, Bytes)>, MetaError>
    where
        I: Iterator<Item = Result<(Bytes, Bytes), MetaError>>,
    {
        let bounds = (Bound::Included(begin), Bound::Excluded(end));
        let buffered = self.ops.range::<[u8], _>(bounds);
        let mut buffered: Box<dyn Iterator<Item = (&Bytes, &Op)>> = if reverse {
            Box::new(buffered.rev())
        } else {
            Box::new(buffered)
        };
        let mut snapshot = snapshot;
        let mut next_snapshot = snapshot.next().transpose()?;
        let mut next_buffered = buffered.next();
        let mut out = Vec::new();
        while limit == 0 || out.len() < limit {
            let order = match (&next_snapshot, &next_buffered) {
                (None, None) => break,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some((s, _)), Some((b, _))) if reverse => b.as_ref().cmp(s.as_ref()),
                (Some((s, _)), Some((b, _))) => s.as_ref().cmp(b.as_ref()),
            };
            // `Less`: the snapshot's key comes first; `Greater`: the buffered
            // key does; `Equal`: the buffered op applies to the snapshot value.
            let base = if order == Ordering::Greater {
                None
            } else {
                let taken = next_snapshot.take();
                next_snapshot = snapshot.next().transpose()?;
                taken
            };
            if order == Ordering::Less {
                if let Some((key, value)) = base
                    && !self.cleared.contains(&key)
                {
                    out.push((key, value));
                }
                continue;
            }
            if let Some((key, op)) = next_buffered.take() {
                next_buffered = buffered.next();
                let base_value = base.as_ref().map(|(_, v)| v.as_ref());
                if let Some(value) = resolve(op, base_value)? {
                    out.push((key.clone(), value));
                }
            }
        }
        Ok(out)
    }

    /// How many buffered per-key writes lie in `[begin, end)` (`begin <
    /// end`), and whether a buffered clear overlaps it. A backend that asks
    /// its server for a limited range needs both: each per-key write can
    /// hide at most one committed pair, a cleared range any number.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn touching(&self, begin: &[u8], end: &[u8]) -> (usize, bool) {
        let bounds = (Bound::Included(begin), Bound::Excluded(end));
        let ops = self.ops.range::<[u8], _>(bounds).count();
        let range = RangeSet::from_unsorted(vec![(
            Bytes::copy_from_slice(begin),
            Bytes::copy_from_slice(end),
        )]);
        (ops, self.cleared.intersects(&range))
    }

    /// Bytes the writes occupy, as FoundationDB counts them.
    pub(crate) fn size_bytes(&self) -> usize {
        let ops: usize = self
            .ops
            .iter()
            .map(|(key, op)| {
                key.len()
                    + match op {
                        Op::Set(value) => value.len(),
                        Op::Clear => 0,
                        Op::Add(_) => 8,
                        Op::Stamped { prefix, .. } => prefix.len() + VERSIONSTAMP_LEN,
                    }
            })
            .sum();
        ops + self.cleared.bytes()
    }

    /// Every key or range the writes touch, for conflict checks and watches.
    pub(crate) fn write_set(&self) -> RangeSet {
        let ranges = self
            .cleared
            .iter()
            .cloned()
            .chain(self.ops.keys().map(|key| point(key)))
            .collect();
        RangeSet::from_unsorted(ranges)
    }

    /// The writes as mutations to apply at `version`, clears first.
    pub(crate) fn into_mutations(self, version: u64) -> Vec<Mutation> {
        let mut mutations = Vec::with_capacity(self.ops.len() + self.cleared.iter().count());
        for (begin, end) in self.cleared.iter() {
            mutations.push(Mutation::ClearRange(begin.clone(), end.clone()));
        }
        for (key, op) in self.ops {
            mutations.push(match op {
                Op::Set(value) => Mutation::Set(key, value),
                Op::Clear => Mutation::Clear(key),
                Op::Add(delta) => Mutation::Add(key, delta),
                Op::Stamped { prefix, order } => {
                    let mut value = Vec::with_capacity(prefix.len() + VERSIONSTAMP_LEN);
                    value.extend_from_slice(&prefix);
                    value.extend_from_slice(&versionstamp(version, order));
                    Mutation::Set(key, Bytes::from(value))
                }
            });
        }
        mutations
    }
}

/// The value a buffered op leaves at a key whose committed value is `base`.
fn resolve(op: &Op, base: Option<&[u8]>) -> Result<Option<Bytes>, MetaError> {
    match op {
        Op::Set(value) => Ok(Some(value.clone())),
        Op::Clear => Ok(None),
        Op::Add(delta) => Ok(Some(add_le(base, *delta))),
        Op::Stamped { .. } => Err(MetaError::VersionstampedKeyRead),
    }
}

/// 8-byte big-endian commit version, then 2-byte big-endian order, so
/// versionstamps sort in commit order.
pub(crate) fn versionstamp(version: u64, order: u16) -> [u8; VERSIONSTAMP_LEN] {
    let mut stamp = [0u8; VERSIONSTAMP_LEN];
    stamp[..8].copy_from_slice(&version.to_be_bytes());
    stamp[8..].copy_from_slice(&order.to_be_bytes());
    stamp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(pairs: &[(&str, &str)]) -> Vec<(Bytes, Bytes)> {
        pairs
            .iter()
            .map(|(k, v)| (Bytes::from(k.to_string()), Bytes::from(v.to_string())))
            .collect()
    }

    fn merged(
        buffer: &WriteBuffer,
        snap: &[(Bytes, Bytes)],
        limit: usize,
        reverse: bool,
    ) -> Vec<String> {
        let items: Vec<_> = if reverse {
            snap.iter().rev().cloned().map(Ok).collect()
        } else {
            snap.iter().cloned().map(Ok).collect()
        };
        buffer
            .merge_range(items.into_iter(), b"a", b"z", limit, reverse)
            .unwrap()
            .into_iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    String::from_utf8_lossy(&k),
                    String::from_utf8_lossy(&v)
                )
            })
            .collect()
    }

    #[test]
    fn merge_applies_clears_sets_and_adds_both_ways() {
        let snap = snapshot(&[("b", "1"), ("c", "2"), ("d", "3"), ("f", "4")]);
        let mut buffer = WriteBuffer::default();
        buffer.clear_range(b"c", b"e");
        buffer.set(b"d", b"x");
        buffer.atomic_add(b"f", 1).unwrap();
        buffer.set(b"a", b"y");
        let forward = merged(&buffer, &snap, 0, false);
        assert_eq!(forward.len(), 4);
        assert_eq!(forward[..3], ["a=y", "b=1", "d=x"]);
        assert!(
            forward[3].starts_with("f="),
            "the add applies to the snapshot value"
        );
        assert_eq!(merged(&buffer, &snap, 2, true)[1], "d=x");
        assert_eq!(merged(&buffer, &snap, 2, false), ["a=y", "b=1"]);
    }

    #[test]
    fn adds_fold_into_buffered_values() {
        let mut buffer = WriteBuffer::default();
        buffer.set(b"k", &5i64.to_le_bytes());
        buffer.atomic_add(b"k", 2).unwrap();
        let Local::Known(Some(value)) = buffer.lookup(b"k").unwrap() else {
            panic!("a set then add is known locally");
        };
        assert_eq!(value.as_ref(), 7i64.to_le_bytes());
        buffer.clear_range(b"a", b"z");
        buffer.atomic_add(b"k", -1).unwrap();
        assert!(
            matches!(buffer.lookup(b"k").unwrap(), Local::Known(Some(v)) if v.as_ref() == (-1i64).to_le_bytes())
        );
    }

    #[test]
    fn add_le_pads_truncates_and_wraps() {
        assert_eq!(add_le(None, 3).as_ref(), 3i64.to_le_bytes());
        assert_eq!(add_le(Some(&[1]), 1).as_ref(), 2i64.to_le_bytes());
        assert_eq!(
            add_le(Some(&i64::MAX.to_le_bytes()), 1).as_ref(),
            i64::MIN.to_le_bytes()
        );
        assert_eq!(add_le(Some(&[1, 0, 0, 0, 0, 0, 0, 0, 9]), 0).len(), 8);
    }

    #[test]
    fn mutations_put_clears_first_and_stamp_values() {
        let mut buffer = WriteBuffer::default();
        buffer.set(b"b", b"v");
        buffer.clear_range(b"a", b"c");
        buffer.set_versionstamped_value(b"b", b"p").unwrap();
        buffer.set_versionstamped_value(b"c", b"").unwrap();
        let mutations = buffer.into_mutations(0x0102);
        assert!(matches!(&mutations[0], Mutation::ClearRange(..)));
        let Mutation::Set(_, value) = &mutations[1] else {
            panic!("stamped value is a set")
        };
        assert_eq!(value.as_ref(), b"p\0\0\0\0\0\0\x01\x02\0\0");
        let Mutation::Set(_, value) = &mutations[2] else {
            panic!("stamped value is a set")
        };
        // One transaction, one versionstamp, as on FoundationDB.
        assert_eq!(value.as_ref(), b"\0\0\0\0\0\0\x01\x02\0\0");
    }
}
