//! The bounded log of recent commits' write sets that conflict checks run
//! against, and the commit version counter it guards.

use std::collections::VecDeque;

use tokio::time::Instant;

use super::ranges::RangeSet;
use crate::MetaError;
// A commit's write set is kept for `MAX_TRANSACTION_AGE`: no older transaction
// may commit, so no check needs an older entry.
use crate::limits::MAX_TRANSACTION_AGE;

#[derive(Debug)]
struct Entry {
    version: u64,
    committed_at: Instant,
    writes: RangeSet,
    bytes: usize,
}

/// Recent commits in version order.
#[derive(Debug)]
pub(crate) struct CommitLog {
    last_version: u64,
    /// Every commit with a version at or below this has been dropped, so a
    /// transaction reading before it cannot be checked.
    pruned_through: u64,
    entries: VecDeque<Entry>,
    bytes: usize,
    max_bytes: usize,
}

impl CommitLog {
    /// A log whose last commit was `last_version` (read back from the backend).
    pub(crate) fn new(last_version: u64, max_bytes: usize) -> Self {
        Self {
            last_version,
            // Nothing before opening is known, and nothing read before it can exist.
            pruned_through: last_version,
            entries: VecDeque::new(),
            bytes: 0,
            max_bytes,
        }
    }

    pub(crate) fn last_version(&self) -> u64 {
        self.last_version
    }

    /// Fails if a commit after `read_version` wrote something in `reads`, or
    /// if that cannot be decided any more.
    pub(crate) fn check(
        &self,
        read_version: u64,
        started: Instant,
        reads: &RangeSet,
    ) -> Result<(), MetaError> {
        if read_version < self.pruned_through || started.elapsed() > MAX_TRANSACTION_AGE {
            return Err(MetaError::TransactionTooOld);
        }
        if reads.is_empty() {
            return Ok(());
        }
        let newer = self
            .entries
            .iter()
            .rev()
            .take_while(|entry| entry.version > read_version);
        for entry in newer {
            if entry.writes.intersects(reads) {
                return Err(MetaError::Conflict);
            }
        }
        Ok(())
    }

    /// Records a commit at `version` (which must be `last_version + 1`) and
    /// drops entries no live transaction can need.
    pub(crate) fn record(&mut self, version: u64, writes: RangeSet) {
        let now = Instant::now();
        let bytes = writes.bytes() + std::mem::size_of::<Entry>();
        self.last_version = version;
        self.bytes += bytes;
        self.entries.push_back(Entry {
            version,
            committed_at: now,
            writes,
            bytes,
        });
        while let Some(oldest) = self.entries.front() {
            let expired = now.saturating_duration_since(oldest.committed_at) > MAX_TRANSACTION_AGE;
            if !expired && self.bytes <= self.max_bytes {
                break;
            }
            self.pruned_through = oldest.version;
            self.bytes -= oldest.bytes;
            self.entries.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::limits::MAX_COMMIT_LOG_BYTES;
    use crate::occ::ranges::point;

    fn set_of(key: &[u8]) -> RangeSet {
        RangeSet::from_unsorted(vec![point(key)])
    }

    #[test]
    fn conflicts_only_with_newer_overlapping_commits() {
        let mut log = CommitLog::new(10, MAX_COMMIT_LOG_BYTES);
        log.record(11, set_of(b"a"));
        log.record(12, set_of(b"b"));
        let now = Instant::now();
        assert!(matches!(
            log.check(10, now, &set_of(b"a")),
            Err(MetaError::Conflict)
        ));
        assert!(log.check(11, now, &set_of(b"a")).is_ok());
        assert!(log.check(10, now, &set_of(b"c")).is_ok());
        let range =
            RangeSet::from_unsorted(vec![(Bytes::from_static(b"a\0"), Bytes::from_static(b"c"))]);
        assert!(matches!(
            log.check(11, now, &range),
            Err(MetaError::Conflict)
        ));
        assert_eq!(log.last_version(), 12);
    }

    #[test]
    fn too_old_when_entries_were_dropped_or_time_passed() {
        let mut log = CommitLog::new(0, 1);
        log.record(1, set_of(b"a"));
        log.record(2, set_of(b"b"));
        let now = Instant::now();
        assert!(matches!(
            log.check(1, now, &set_of(b"z")),
            Err(MetaError::TransactionTooOld)
        ));
        assert!(log.check(2, now, &set_of(b"z")).is_ok());
        let log = CommitLog::new(5, MAX_COMMIT_LOG_BYTES);
        let long_ago = now.checked_sub(MAX_TRANSACTION_AGE * 2).unwrap_or(now);
        if long_ago < now {
            assert!(matches!(
                log.check(5, long_ago, &set_of(b"z")),
                Err(MetaError::TransactionTooOld)
            ));
        }
        assert!(matches!(
            log.check(4, now, &RangeSet::default()),
            Err(MetaError::TransactionTooOld)
        ));
    }
}
