//! Sets of half-open key ranges: read conflict sets, write sets and buffered
//! clears are all one of these.

use bytes::Bytes;

/// The range holding exactly `key`: `[key, key\0)`.
pub(crate) fn point(key: &[u8]) -> (Bytes, Bytes) {
    (Bytes::copy_from_slice(key), key_after(key))
}

/// The first key that sorts after `key`.
pub(crate) fn key_after(key: &[u8]) -> Bytes {
    let mut next = Vec::with_capacity(key.len() + 1);
    next.extend_from_slice(key);
    next.push(0);
    Bytes::from(next)
}

/// Sorted, disjoint, non-touching half-open ranges `[begin, end)`.
///
/// Touching ranges are merged so a run of point writes stays one entry, which
/// keeps the commit log small.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct RangeSet {
    ranges: Vec<(Bytes, Bytes)>,
}

impl RangeSet {
    /// Builds a set from ranges in any order; empty ranges are dropped.
    pub(crate) fn from_unsorted(mut ranges: Vec<(Bytes, Bytes)>) -> Self {
        ranges.retain(|(begin, end)| begin < end);
        ranges.sort_by(|a, b| a.0.cmp(&b.0));
        let mut merged: Vec<(Bytes, Bytes)> = Vec::with_capacity(ranges.len());
        for (begin, end) in ranges {
            match merged.last_mut() {
                Some(last) if begin <= last.1 => {
                    if end > last.1 {
                        last.1 = end;
                    }
                }
                _ => merged.push((begin, end)),
            }
        }
        Self { ranges: merged }
    }

    /// Adds `[begin, end)`, merging it with every range it overlaps or touches.
    pub(crate) fn insert(&mut self, begin: Bytes, end: Bytes) {
        if begin >= end {
            return;
        }
        // Ends are sorted too, because the ranges are disjoint.
        let lo = self.ranges.partition_point(|r| r.1 < begin);
        let hi = self.ranges.partition_point(|r| r.0 <= end);
        if lo >= hi {
            self.ranges.insert(lo, (begin, end));
            return;
        }
        let merged_begin = begin.min(self.ranges[lo].0.clone());
        let merged_end = end.max(self.ranges[hi - 1].1.clone());
        self.ranges
            .splice(lo..hi, std::iter::once((merged_begin, merged_end)));
    }

    /// Whether some range holds `key`.
    pub(crate) fn contains(&self, key: &[u8]) -> bool {
        let index = self.ranges.partition_point(|r| r.1.as_ref() <= key);
        self.ranges.get(index).is_some_and(|r| r.0.as_ref() <= key)
    }

    /// Whether any key lies in both sets; linear in the sizes of both.
    pub(crate) fn intersects(&self, other: &RangeSet) -> bool {
        let (mut i, mut j) = (0, 0);
        while let (Some(a), Some(b)) = (self.ranges.get(i), other.ranges.get(j)) {
            if a.1 <= b.0 {
                i += 1;
            } else if b.1 <= a.0 {
                j += 1;
            } else {
                return true;
            }
        }
        false
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &(Bytes, Bytes)> {
        self.ranges.iter()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Bytes of keys held, the measure FoundationDB uses for conflict ranges.
    pub(crate) fn bytes(&self) -> usize {
        self.ranges.iter().map(|(b, e)| b.len() + e.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn range(begin: &[u8], end: &[u8]) -> (Bytes, Bytes) {
        (Bytes::copy_from_slice(begin), Bytes::copy_from_slice(end))
    }

    #[test]
    fn insert_merges_overlapping_and_touching() {
        let mut set = RangeSet::default();
        let (c, e) = range(b"c", b"e");
        set.insert(c, e);
        set.insert(Bytes::from_static(b"a"), Bytes::from_static(b"b"));
        set.insert(Bytes::from_static(b"b"), Bytes::from_static(b"c"));
        assert_eq!(set.iter().count(), 1);
        assert!(set.contains(b"a") && set.contains(b"d") && !set.contains(b"e"));
        set.insert(Bytes::from_static(b"x"), Bytes::from_static(b"w"));
        assert_eq!(set.iter().count(), 1, "an empty range adds nothing");
    }

    #[test]
    fn point_ranges_hold_only_their_key() {
        let set = RangeSet::from_unsorted(vec![point(b"k")]);
        assert!(set.contains(b"k"));
        assert!(!set.contains(b"k\0"));
        assert!(!set.contains(b"j\xff"));
    }

    fn arb_ranges() -> impl Strategy<Value = Vec<(Vec<u8>, Vec<u8>)>> {
        let key = || proptest::collection::vec(0u8..3, 0..3);
        proptest::collection::vec((key(), key()), 0..6)
    }

    fn naive_contains(ranges: &[(Vec<u8>, Vec<u8>)], key: &[u8]) -> bool {
        ranges
            .iter()
            .any(|(b, e)| b.as_slice() <= key && key < e.as_slice())
    }

    fn to_bytes(ranges: &[(Vec<u8>, Vec<u8>)]) -> Vec<(Bytes, Bytes)> {
        ranges
            .iter()
            .map(|(b, e)| (Bytes::from(b.clone()), Bytes::from(e.clone())))
            .collect()
    }

    proptest! {
        #[test]
        fn matches_naive_model(a in arb_ranges(), b in arb_ranges(), probes in arb_ranges()) {
            let built = RangeSet::from_unsorted(to_bytes(&a));
            let mut inserted = RangeSet::default();
            for (begin, end) in to_bytes(&a) {
                inserted.insert(begin, end);
            }
            prop_assert_eq!(&built, &inserted);
            let other = RangeSet::from_unsorted(to_bytes(&b));
            for (key, _) in &probes {
                prop_assert_eq!(built.contains(key), naive_contains(&a, key));
            }
            // Keys of length <= 3 over {0,1,2} plus a trailing zero cover every
            // boundary these ranges can have.
            let mut any_common = false;
            for len in 0..=3usize {
                for n in 0..3usize.pow(len as u32) {
                    let mut key: Vec<u8> = (0..len).map(|i| (n / 3usize.pow(i as u32) % 3) as u8).collect();
                    for extra in [None, Some(0u8)] {
                        if let Some(byte) = extra { key.push(byte); }
                        any_common |= naive_contains(&a, &key) && naive_contains(&b, &key);
                    }
                }
            }
            prop_assert_eq!(built.intersects(&other), any_common);
        }
    }
}
