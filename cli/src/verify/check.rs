//! The checker: one reader's view of a topic against a run's
//! acknowledgements. Pure, so every figure is unit-tested.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use super::acks::{Ack, RecordId};

/// One record as a reader saw it: where, and whose (`None`: not this run's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Seen {
    pub(crate) partition: u32,
    pub(crate) offset: i64,
    pub(crate) id: Option<RecordId>,
}

/// The offsets of a partition a reader had to read: `[from, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct Range {
    pub(crate) from: i64,
    pub(crate) end: i64,
}

/// What one reader found. Every figure but `unacknowledged_present` and
/// `foreign` must be 0 after a run of idempotent producers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Figures {
    /// Records of this run read, duplicates included.
    pub(crate) read: u64,
    /// Acknowledged, and never read.
    pub(crate) lost: u64,
    /// Reads of an id beyond its first (an id at two offsets).
    pub(crate) duplicated: u64,
    /// Records read after a later record of the same producer in their
    /// partition.
    pub(crate) reordered: u64,
    /// Offsets in the partitions' ranges that no record was read at.
    pub(crate) gaps: u64,
    /// Ids read, but never where their acknowledgement said.
    pub(crate) misplaced: u64,
    /// Ids read that were never acknowledged (their delivery failed or was
    /// cut short): allowed.
    pub(crate) unacknowledged_present: u64,
    /// Records in the ranges that this run did not write.
    pub(crate) foreign: u64,
}

impl Figures {
    pub(crate) fn ok(&self) -> bool {
        self.lost == 0
            && self.duplicated == 0
            && self.reordered == 0
            && self.gaps == 0
            && self.misplaced == 0
    }
}

/// Checks `seen` (in any order) against `acks` over `ranges`.
pub(crate) fn check(acks: &[Ack], ranges: &BTreeMap<u32, Range>, seen: &[Seen]) -> Figures {
    let mut seen = seen.to_vec();
    seen.sort_by_key(|s| (s.partition, s.offset));
    // A reader that read one offset twice (a re-fetch) saw one record.
    seen.dedup_by_key(|s| (s.partition, s.offset));
    let mut figures = Figures::default();
    let mut at: HashMap<RecordId, Vec<(u32, i64)>> = HashMap::new();
    // The highest sequence read so far of each (partition, producer).
    let mut highest: HashMap<(u32, u32), u64> = HashMap::new();
    let mut read_at: BTreeMap<u32, u64> = BTreeMap::new();
    for s in &seen {
        if ranges
            .get(&s.partition)
            .is_some_and(|r| (r.from..r.end).contains(&s.offset))
        {
            *read_at.entry(s.partition).or_default() += 1;
        }
        let Some(id) = s.id else {
            figures.foreign += 1;
            continue;
        };
        figures.read += 1;
        let places = at.entry(id).or_default();
        places.push((s.partition, s.offset));
        if places.len() > 1 {
            figures.duplicated += 1;
            continue;
        }
        let top = highest.entry((s.partition, id.producer)).or_insert(id.seq);
        if id.seq < *top {
            figures.reordered += 1;
        }
        *top = (*top).max(id.seq);
    }
    figures.gaps = ranges
        .iter()
        .map(|(p, r)| {
            let wanted = u64::try_from(r.end - r.from).unwrap_or(0);
            wanted.saturating_sub(read_at.get(p).copied().unwrap_or(0))
        })
        .sum();
    let mut acked = HashSet::new();
    for ack in acks {
        acked.insert(ack.id);
        match at.get(&ack.id) {
            None => figures.lost += 1,
            Some(places) if !places.contains(&(ack.partition, ack.offset)) => {
                figures.misplaced += 1;
            }
            Some(_) => {}
        }
    }
    figures.unacknowledged_present = at.keys().filter(|id| !acked.contains(id)).count() as u64;
    figures
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(producer: u32, seq: u64) -> RecordId {
        RecordId { producer, seq }
    }

    fn ack(producer: u32, seq: u64, partition: u32, offset: i64) -> Ack {
        Ack {
            id: id(producer, seq),
            partition,
            offset,
        }
    }

    fn seen(partition: u32, offset: i64, id: Option<RecordId>) -> Seen {
        Seen {
            partition,
            offset,
            id,
        }
    }

    fn range(from: i64, end: i64) -> BTreeMap<u32, Range> {
        BTreeMap::from([(0, Range { from, end })])
    }

    #[test]
    fn a_clean_read_is_ok() {
        let acks = [ack(0, 0, 0, 0), ack(1, 0, 0, 1), ack(0, 1, 0, 2)];
        let reads = [
            seen(0, 2, Some(id(0, 1))),
            seen(0, 0, Some(id(0, 0))),
            seen(0, 1, Some(id(1, 0))),
        ];
        let figures = check(&acks, &range(0, 3), &reads);
        assert!(figures.ok(), "{figures:?}");
        assert_eq!(figures.read, 3);
    }

    #[test]
    fn every_fault_is_counted() {
        let acks = [
            ack(0, 0, 0, 0),
            ack(0, 1, 0, 1),
            ack(0, 2, 0, 2),
            ack(0, 3, 0, 3),
            ack(0, 4, 0, 9),
        ];
        let reads = [
            seen(0, 0, Some(id(0, 0))),
            seen(0, 1, Some(id(0, 2))), // before 1: 1 is reordered
            seen(0, 2, Some(id(0, 1))),
            seen(0, 3, Some(id(0, 2))), // a duplicate
            seen(0, 4, Some(id(0, 4))), // acknowledged at 9: with 1 and 2, misplaced
            seen(0, 5, Some(id(0, 7))), // never acknowledged
            seen(0, 6, None),
            // offset 7 was never read; id 3 is lost
        ];
        let figures = check(&acks, &range(0, 8), &reads);
        assert_eq!(
            figures,
            Figures {
                read: 6,
                lost: 1,
                duplicated: 1,
                reordered: 1,
                gaps: 1,
                misplaced: 3,
                unacknowledged_present: 1,
                foreign: 1,
            }
        );
        assert!(!figures.ok());
    }

    #[test]
    fn a_re_read_offset_is_one_record() {
        let acks = [ack(0, 0, 0, 5)];
        let reads = [seen(0, 5, Some(id(0, 0))), seen(0, 5, Some(id(0, 0)))];
        let figures = check(&acks, &range(5, 6), &reads);
        assert!(figures.ok(), "{figures:?}");
    }
}
