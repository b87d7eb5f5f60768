//! The history checker: what the clients saw, against what the stores hold
//! at the end. Each rule is a promise Stratus makes (docs/testing.md lists
//! them); each violation is one sentence naming the records involved.

use std::collections::{BTreeMap, BTreeSet};

use crate::audit::FinalState;
use crate::history::{Entry, Event};

/// Stop listing after this many violations: the first few tell the story.
const MAX_VIOLATIONS: usize = 20;

#[derive(Debug, Default)]
struct Violations(Vec<String>);

impl Violations {
    fn push(&mut self, message: String) {
        if self.0.len() < MAX_VIOLATIONS {
            self.0.push(message);
        }
    }
}

/// Every broken promise of a run; empty when the run is correct.
pub fn check(history: &[Entry], end: &FinalState) -> Vec<String> {
    let mut v = Violations::default();
    for problem in &end.problems {
        v.push(format!("final audit: {problem}"));
    }
    let at = final_records(end, &mut v);
    check_produces(history, end, &at, &mut v);
    check_reads(history, &at, &mut v);
    check_ownership(history, &mut v);
    check_commits(history, &mut v);
    v.0
}

/// (partition, offset) -> value of every record in the final log, checking
/// that offsets are dense from the log start to the high-water mark.
fn final_records(end: &FinalState, v: &mut Violations) -> BTreeMap<(u32, i64), String> {
    let mut at = BTreeMap::new();
    for (partition, log) in &end.partitions {
        let mut expected = log.log_start;
        for (offset, value) in &log.records {
            if *offset != expected {
                v.push(format!(
                    "offsets are not dense: partition {partition} has offset {offset} where {expected} should be"
                ));
            }
            expected = offset + 1;
            at.insert((*partition, *offset), value.clone());
        }
        if expected != log.high_watermark {
            v.push(format!(
                "offsets are not dense: partition {partition}'s records end at {expected}, its high-water mark is {}",
                log.high_watermark
            ));
        }
    }
    at
}

fn check_produces(
    history: &[Entry],
    end: &FinalState,
    at: &BTreeMap<(u32, i64), String>,
    v: &mut Violations,
) {
    let mut produced: BTreeMap<&str, (&str, u32)> = BTreeMap::new();
    for entry in history {
        match &entry.event {
            Event::Acked {
                producer,
                partition,
                base_offset,
                values,
            } => {
                for (i, value) in values.iter().enumerate() {
                    produced.insert(value.as_str(), (producer.as_str(), *partition));
                    let offset = base_offset + i as i64;
                    match at.get(&(*partition, offset)) {
                        Some(found) if found == value => {}
                        Some(found) => v.push(format!(
                            "acknowledged record {value:?} of {producer} should be at {partition}/{offset}, which holds {found:?} (acknowledged at {} ms)",
                            entry.at_ms
                        )),
                        None => v.push(format!(
                            "acknowledged record {value:?} of {producer} at {partition}/{offset} is lost: the partition has no such offset (acknowledged at {} ms)",
                            entry.at_ms
                        )),
                    }
                }
            }
            Event::ProduceFailed {
                producer,
                partition,
                values,
                ..
            } => {
                for value in values {
                    produced.insert(value.as_str(), (producer.as_str(), *partition));
                }
            }
            _ => {}
        }
    }
    let mut seen: BTreeMap<&str, Vec<(u32, i64)>> = BTreeMap::new();
    for ((partition, offset), value) in at {
        seen.entry(value).or_default().push((*partition, *offset));
    }
    for (value, places) in &seen {
        match produced.get(value) {
            None => v.push(format!("record {value:?} at {places:?} was never produced")),
            Some((producer, partition)) => {
                if places.len() > 1 {
                    v.push(format!(
                        "record {value:?} of {producer} is in the log {} times, at {places:?}",
                        places.len()
                    ));
                }
                if places.iter().any(|(p, _)| p != partition) {
                    v.push(format!(
                        "record {value:?} of {producer} was sent to partition {partition} and is at {places:?}"
                    ));
                }
            }
        }
    }
    let _ = end;
}

/// Reads show only committed data: a delivered record is the one the log
/// holds at its offset, and no read fails on a missing object.
fn check_reads(history: &[Entry], at: &BTreeMap<(u32, i64), String>, v: &mut Violations) {
    for entry in history {
        match &entry.event {
            Event::Delivered {
                member,
                partition,
                offset,
                value,
                ..
            } => match at.get(&(*partition, *offset)) {
                Some(found) if found == value => {}
                found => v.push(format!(
                    "{member} read {value:?} at {partition}/{offset} ({} ms), which the log does not hold there (it holds {found:?}): uncommitted data was visible",
                    entry.at_ms
                )),
            },
            Event::ReadFailed {
                reader,
                partition,
                offset,
                missing_object: true,
                error,
            } => v.push(format!(
                "{reader}'s read at {partition}/{offset} ({} ms) met an index entry whose object is gone: {error}",
                entry.at_ms
            )),
            _ => {}
        }
    }
}

/// No two members own a partition in one generation.
fn check_ownership(history: &[Entry], v: &mut Violations) {
    let mut owners: BTreeMap<(i64, u32), BTreeSet<&str>> = BTreeMap::new();
    for entry in history {
        if let Event::Assigned {
            member,
            generation,
            partitions,
        } = &entry.event
        {
            for p in partitions {
                let set = owners.entry((*generation, *p)).or_default();
                set.insert(member);
                if set.len() == 2 {
                    v.push(format!(
                        "partition {p} is owned by {set:?} in generation {generation} ({} ms)",
                        entry.at_ms
                    ));
                }
            }
        }
    }
}

/// Committed offsets never move backwards within a generation, and no member
/// reads below an offset committed in its generation or an earlier one
/// before its read began: a record goes to a second member only inside the
/// uncommitted window of the first.
fn check_commits(history: &[Entry], v: &mut Violations) {
    let mut last: BTreeMap<(u32, i64), i64> = BTreeMap::new();
    // Per partition, in history order: (sequence, generation, offset).
    let mut commits: BTreeMap<u32, Vec<(usize, i64, i64)>> = BTreeMap::new();
    for (seq, entry) in history.iter().enumerate() {
        if let Event::OffsetCommitted {
            member,
            generation,
            partition,
            offset,
        } = &entry.event
        {
            if let Some(previous) = last.insert((*partition, *generation), *offset)
                && previous > *offset
            {
                v.push(format!(
                    "{member} moved the committed offset of partition {partition} back from {previous} to {offset} in generation {generation} ({} ms)",
                    entry.at_ms
                ));
            }
            commits
                .entry(*partition)
                .or_default()
                .push((seq, *generation, *offset));
        }
    }
    for entry in history {
        if let Event::Delivered {
            member,
            generation,
            partition,
            offset,
            value,
            read_started,
        } = &entry.event
        {
            let below = commits.get(partition).and_then(|list| {
                list.iter().find(|(seq, g, committed)| {
                    seq < read_started && g <= generation && committed > offset
                })
            });
            if let Some((_, g, committed)) = below {
                v.push(format!(
                    "{member} (generation {generation}) read {value:?} at {partition}/{offset} after offset {committed} was committed in generation {g}: delivered again outside an uncommitted window"
                ));
            }
        }
    }
}
