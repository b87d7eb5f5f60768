//! What to do next with one partition, decided from its index entries alone.
//! Pure functions, so the policy can be tested without any storage.

use std::ops::Range;

use stratus_storage::log::{IndexEntry, TierKind, wal_object_written_ms};
use stratus_storage::topic::{CleanupPolicy, TopicConfig};

use crate::config::CompactorConfig;
use crate::limits::MAX_ENTRIES_PER_SWAP;

/// The next change to make to a partition's index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Retention: drop the first `entries` index entries; the log start
    /// moves to the end of the last one dropped.
    Trim { entries: usize, log_start: i64 },
    /// Rewrite `entries[range]` into new segments.
    Rewrite {
        range: Range<usize>,
        kind: RewriteKind,
    },
}

/// Why entries are rewritten, which decides how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RewriteKind {
    /// WAL chunks into a segment: batches copied, real offsets written in.
    Wal,
    /// Adjacent small segments into one: batches copied as they are.
    Merge,
    /// Key compaction of the whole partition: only the latest record per
    /// key, and tombstones younger than `delete.retention.ms`, survive.
    Clean,
}

/// Key compaction progress of a partition (see [`crate::clean`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleanState {
    /// Offsets below this have been cleaned.
    pub cleaned_up_to: i64,
    /// When the oldest tombstone kept by the last cleaning may be dropped;
    /// `i64::MAX` when it kept none.
    pub tombstones_due_ms: i64,
}

impl Default for CleanState {
    fn default() -> Self {
        Self {
            cleaned_up_to: 0,
            tombstones_due_ms: i64::MAX,
        }
    }
}

impl CleanState {
    /// `cleaned_up_to i64 LE | tombstones_due_ms i64 LE`.
    pub fn encode(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.cleaned_up_to.to_le_bytes());
        out[8..].copy_from_slice(&self.tombstones_due_ms.to_le_bytes());
        out
    }

    pub fn decode(bytes: Option<&[u8]>) -> Self {
        let field = |range: Range<usize>| {
            bytes
                .and_then(|b| b.get(range))
                .and_then(|b| b.try_into().ok())
                .map(i64::from_le_bytes)
        };
        Self {
            cleaned_up_to: field(0..8).unwrap_or(0),
            tombstones_due_ms: field(8..16).unwrap_or(i64::MAX),
        }
    }
}

/// Entries wholly below the partition's log start, which DeleteRecords (or a
/// retention trim whose swap lost a race) raised past them: no read can reach
/// them, so they are dropped before anything else is planned, whatever the
/// cleanup policy, instead of being copied into segments.
pub fn below_log_start(entries: &[IndexEntry], log_start: i64) -> Option<Action> {
    let drop = entries
        .iter()
        .take_while(|e| e.end_offset() <= log_start)
        .count()
        .min(MAX_ENTRIES_PER_SWAP);
    (drop > 0).then_some(Action::Trim {
        entries: drop,
        log_start,
    })
}

/// The next action for a partition, in priority order: retention, key
/// compaction, WAL chunks into segments, merging small segments. (Entries
/// below the log start go first; see [`below_log_start`].)
pub fn next_action(
    entries: &[IndexEntry],
    topic: &TopicConfig,
    clean: CleanState,
    now_ms: i64,
    config: &CompactorConfig,
) -> Option<Action> {
    if entries.is_empty() {
        return None;
    }
    if topic.cleanup_policy == CleanupPolicy::Delete
        && let Some(trim) = retention(entries, topic, now_ms)
    {
        return Some(trim);
    }
    if topic.cleanup_policy == CleanupPolicy::Compact && cleaning_due(entries, topic, clean, now_ms)
    {
        return Some(Action::Rewrite {
            range: 0..entries.len(),
            kind: RewriteKind::Clean,
        });
    }
    wal_run(entries, now_ms, config).or_else(|| merge_run(entries, config))
}

/// Entries to drop from the front for `retention.ms` and `retention.bytes`.
fn retention(entries: &[IndexEntry], topic: &TopicConfig, now_ms: i64) -> Option<Action> {
    let mut drop = 0;
    if topic.retention_ms >= 0 {
        let cutoff = now_ms.saturating_sub(topic.retention_ms);
        drop = entries
            .iter()
            .take_while(|e| e.max_timestamp_ms < cutoff)
            .count();
    }
    if topic.retention_bytes >= 0 {
        let mut total: u64 = entries.iter().map(|e| u64::from(e.byte_len)).sum();
        let limit = topic.retention_bytes as u64;
        let mut by_size = 0;
        for entry in entries {
            // Like Kafka: drop whole chunks while what remains still holds
            // at least `retention.bytes`.
            if total.saturating_sub(u64::from(entry.byte_len)) < limit {
                break;
            }
            total -= u64::from(entry.byte_len);
            by_size += 1;
        }
        drop = drop.max(by_size);
    }
    // The rest goes in the next swap.
    let drop = drop.min(MAX_ENTRIES_PER_SWAP);
    (drop > 0).then(|| Action::Trim {
        entries: drop,
        log_start: entries[drop - 1].end_offset(),
    })
}

/// Whether a compacted partition should be cleaned now: its dirty part (not
/// cleaned yet) is older than `max.compaction.lag.ms` or at least as large
/// as its clean part (Kafka's `min.cleanable.dirty.ratio` of 0.5), or kept
/// tombstones have come due.
fn cleaning_due(
    entries: &[IndexEntry],
    topic: &TopicConfig,
    clean: CleanState,
    now_ms: i64,
) -> bool {
    if clean.tombstones_due_ms <= now_ms {
        return true;
    }
    let dirty: Vec<&IndexEntry> = entries
        .iter()
        .filter(|e| e.end_offset() > clean.cleaned_up_to)
        .collect();
    let Some(oldest_dirty) = dirty.first() else {
        return false;
    };
    let dirty_bytes: u64 = dirty.iter().map(|e| u64::from(e.byte_len)).sum();
    let total: u64 = entries.iter().map(|e| u64::from(e.byte_len)).sum();
    let written_ms = entry_written_ms(oldest_dirty).min(oldest_dirty.first_timestamp_ms);
    now_ms.saturating_sub(written_ms) >= topic.max_compaction_lag_ms || dirty_bytes * 2 >= total
}

/// When an entry's bytes were written: a WAL object's key says so; a
/// segment's records were written no later than its first timestamp.
fn entry_written_ms(entry: &IndexEntry) -> i64 {
    match entry.tier {
        TierKind::Wal => wal_object_written_ms(&entry.object_key).unwrap_or(i64::MIN),
        TierKind::Segment => entry.first_timestamp_ms,
    }
}

/// WAL chunks to turn into a segment: the WAL entries after the segments, up
/// to `segment_bytes` of them (and at most [`MAX_ENTRIES_PER_SWAP`]), once
/// there are that many bytes or the oldest is `wal_max_age` old.
fn wal_run(entries: &[IndexEntry], now_ms: i64, config: &CompactorConfig) -> Option<Action> {
    let start = entries.iter().position(|e| e.tier == TierKind::Wal)?;
    let mut end = start;
    let mut bytes = 0u64;
    while end < entries.len()
        && entries[end].tier == TierKind::Wal
        && end - start < MAX_ENTRIES_PER_SWAP
    {
        bytes += u64::from(entries[end].byte_len);
        end += 1;
        if bytes >= config.segment_bytes {
            break;
        }
    }
    let full = bytes >= config.segment_bytes;
    let oldest_age = now_ms.saturating_sub(entry_written_ms(&entries[start]));
    let old_enough = oldest_age >= config.wal_max_age.as_millis() as i64;
    (full || old_enough).then_some(Action::Rewrite {
        range: start..end,
        kind: RewriteKind::Wal,
    })
}

/// A segment as a run of consecutive index entries with one object key.
#[derive(Debug, Clone)]
struct SegmentRun {
    entries: Range<usize>,
    bytes: u64,
}

fn segment_runs(entries: &[IndexEntry]) -> Vec<SegmentRun> {
    let mut runs: Vec<SegmentRun> = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        if entry.tier != TierKind::Segment {
            break;
        }
        match runs.last_mut() {
            Some(run) if entries[run.entries.start].object_key == entry.object_key => {
                run.entries.end = i + 1;
                run.bytes += u64::from(entry.byte_len);
            }
            _ => runs.push(SegmentRun {
                entries: i..i + 1,
                bytes: u64::from(entry.byte_len),
            }),
        }
    }
    runs
}

/// `merge_fanin` adjacent small segments to merge: among every window of
/// small segments, the one with the fewest bytes, so young tiny segments
/// merge with each other first and every byte is rewritten about
/// log_fanin(segment_bytes / first size) times. Small segments stay fewer than
/// `merge_fanin` per gap between large ones.
fn merge_run(entries: &[IndexEntry], config: &CompactorConfig) -> Option<Action> {
    let small = config.segment_bytes / 2;
    let runs = segment_runs(entries);
    let fanin = config.merge_fanin;
    let mut best: Option<(u64, Range<usize>)> = None;
    for window in runs.windows(fanin) {
        if window.iter().any(|run| run.bytes >= small) {
            continue;
        }
        let bytes: u64 = window.iter().map(|run| run.bytes).sum();
        if best.as_ref().is_none_or(|(b, _)| bytes < *b) {
            best = Some((
                bytes,
                window[0].entries.start..window[fanin - 1].entries.end,
            ));
        }
    }
    best.map(|(_, range)| Action::Rewrite {
        range,
        kind: RewriteKind::Merge,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(tier: TierKind, key: &str, base: i64, count: u32, bytes: u32, ts: i64) -> IndexEntry {
        IndexEntry {
            tier,
            object_key: key.to_owned(),
            base_offset: base,
            offset_count: count,
            byte_offset: 8,
            byte_len: bytes,
            first_timestamp_ms: ts,
            max_timestamp_ms: ts,
        }
    }

    fn wal(base: i64, bytes: u32, written_ms: u64) -> IndexEntry {
        let key = format!("wal/{}.wal", ulid::Ulid::from_parts(written_ms, 1));
        entry(TierKind::Wal, &key, base, 10, bytes, written_ms as i64)
    }

    fn config() -> CompactorConfig {
        CompactorConfig {
            segment_bytes: 1_000,
            wal_max_age: std::time::Duration::from_secs(10),
            merge_fanin: 3,
            ..CompactorConfig::default()
        }
    }

    #[test]
    fn young_wal_chunks_wait_until_old_or_plentiful() {
        let entries = vec![wal(0, 100, 50_000), wal(10, 100, 51_000)];
        let topic = TopicConfig::default();
        let clean = CleanState::default();
        assert_eq!(
            next_action(&entries, &topic, clean, 55_000, &config()),
            None
        );
        assert_eq!(
            next_action(&entries, &topic, clean, 60_000, &config()),
            Some(Action::Rewrite {
                range: 0..2,
                kind: RewriteKind::Wal
            })
        );
        let plenty = vec![
            wal(0, 600, 50_000),
            wal(10, 600, 50_000),
            wal(20, 600, 50_000),
        ];
        assert_eq!(
            next_action(&plenty, &topic, clean, 50_001, &config()),
            Some(Action::Rewrite {
                range: 0..2,
                kind: RewriteKind::Wal
            })
        );
    }

    #[test]
    fn one_swap_replaces_at_most_the_entry_limit() {
        let topic = TopicConfig::default();
        let clean = CleanState::default();
        let backlog: Vec<IndexEntry> = (0..MAX_ENTRIES_PER_SWAP as i64 + 5)
            .map(|i| wal(i * 10, 1, 50_000))
            .collect();
        // Far fewer bytes than a segment: the entry count ends the run.
        let config = CompactorConfig {
            segment_bytes: 1 << 30,
            ..config()
        };
        assert_eq!(
            next_action(&backlog, &topic, clean, 60_000, &config),
            Some(Action::Rewrite {
                range: 0..MAX_ENTRIES_PER_SWAP,
                kind: RewriteKind::Wal
            })
        );
        let expired = TopicConfig {
            retention_ms: 1_000,
            ..TopicConfig::default()
        };
        assert_eq!(
            next_action(&backlog, &expired, clean, 60_000, &config),
            Some(Action::Trim {
                entries: MAX_ENTRIES_PER_SWAP,
                log_start: backlog[MAX_ENTRIES_PER_SWAP - 1].end_offset()
            })
        );
    }

    #[test]
    fn entries_below_the_log_start_are_dropped_whatever_the_policy() {
        let entries: Vec<IndexEntry> = (0..4)
            .map(|i| entry(TierKind::Segment, "s", i * 10, 10, 100, 1_000))
            .collect();
        assert_eq!(below_log_start(&entries, 0), None);
        // A log start inside an entry keeps that entry: its tail is readable.
        assert_eq!(
            below_log_start(&entries, 25),
            Some(Action::Trim {
                entries: 2,
                log_start: 25
            })
        );
        assert_eq!(
            below_log_start(&entries, 40),
            Some(Action::Trim {
                entries: 4,
                log_start: 40
            })
        );
    }

    #[test]
    fn retention_trims_by_age_and_by_size() {
        let seg = |base, ts| entry(TierKind::Segment, &format!("seg/{base}"), base, 10, 100, ts);
        let entries = vec![seg(0, 1_000), seg(10, 2_000), seg(20, 3_000)];
        let by_age = TopicConfig {
            retention_ms: 1_500,
            ..TopicConfig::default()
        };
        assert_eq!(
            next_action(&entries, &by_age, CleanState::default(), 3_600, &config()),
            Some(Action::Trim {
                entries: 2,
                log_start: 20
            })
        );
        let by_size = TopicConfig {
            retention_ms: -1,
            retention_bytes: 150,
            ..TopicConfig::default()
        };
        assert_eq!(
            next_action(&entries, &by_size, CleanState::default(), 3_600, &config()),
            Some(Action::Trim {
                entries: 1,
                log_start: 10
            })
        );
    }

    #[test]
    fn the_smallest_window_of_small_segments_merges() {
        let seg =
            |i: i64, bytes| entry(TierKind::Segment, &format!("seg/{i}"), i * 10, 10, bytes, 0);
        let entries = vec![seg(0, 900), seg(1, 300), seg(2, 50), seg(3, 50), seg(4, 50)];
        assert_eq!(
            merge_run(&entries, &config()),
            Some(Action::Rewrite {
                range: 2..5,
                kind: RewriteKind::Merge
            })
        );
        assert_eq!(merge_run(&entries[..3], &config()), None);
    }

    #[test]
    fn compacted_topics_clean_when_dirty_data_is_old() {
        let topic = TopicConfig {
            cleanup_policy: CleanupPolicy::Compact,
            max_compaction_lag_ms: 1_000,
            ..TopicConfig::default()
        };
        let seg = entry(TierKind::Segment, "seg/a", 0, 10, 1_000, 0);
        let mut dirty = wal(10, 10, 5_000);
        dirty.first_timestamp_ms = 5_000;
        let clean = CleanState {
            cleaned_up_to: 10,
            tombstones_due_ms: i64::MAX,
        };
        let entries = vec![seg, dirty];
        // Small and young: not yet (the WAL chunk is not old enough either).
        assert_eq!(next_action(&entries, &topic, clean, 5_500, &config()), None);
        assert_eq!(
            next_action(&entries, &topic, clean, 6_000, &config()),
            Some(Action::Rewrite {
                range: 0..2,
                kind: RewriteKind::Clean
            })
        );
    }
}
