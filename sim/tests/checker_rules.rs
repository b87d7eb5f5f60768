//! Each rule of the history checker fires on a history that breaks it, and
//! stays quiet on the same history kept.

use stratus_sim::audit::{FinalState, PartitionLog};
use stratus_sim::checker::check;
use stratus_sim::history::{Entry, Event};

fn at(at_ms: u64, event: Event) -> Entry {
    Entry { at_ms, event }
}

fn log_of(values: &[&str]) -> FinalState {
    let mut end = FinalState::default();
    end.partitions.insert(
        0,
        PartitionLog {
            log_start: 0,
            high_watermark: values.len() as i64,
            records: values
                .iter()
                .enumerate()
                .map(|(i, v)| (i as i64, (*v).to_owned()))
                .collect(),
        },
    );
    end
}

fn acked(base_offset: i64, values: &[&str]) -> Entry {
    at(
        1,
        Event::Acked {
            producer: "p0".into(),
            partition: 0,
            base_offset,
            values: values.iter().map(|v| (*v).to_owned()).collect(),
        },
    )
}

fn assigned(member: &str, generation: i64) -> Entry {
    at(
        2,
        Event::Assigned {
            member: member.into(),
            generation,
            partitions: vec![0],
        },
    )
}

fn delivered(
    member: &str,
    generation: i64,
    offset: i64,
    value: &str,
    read_started: usize,
) -> Entry {
    at(
        3,
        Event::Delivered {
            member: member.into(),
            generation,
            partition: 0,
            offset,
            value: value.into(),
            read_started,
        },
    )
}

fn committed(member: &str, generation: i64, offset: i64) -> Entry {
    at(
        4,
        Event::OffsetCommitted {
            member: member.into(),
            generation,
            partition: 0,
            offset,
        },
    )
}

fn fires(history: &[Entry], end: &FinalState, words: &str) {
    let found = check(history, end);
    assert!(
        found.iter().any(|v| v.contains(words)),
        "expected a violation mentioning {words:?}, got {found:?}"
    );
}

#[test]
fn a_correct_history_has_no_violation() {
    let history = [
        acked(0, &["a", "b"]),
        assigned("m0", 1),
        delivered("m0", 1, 0, "a", 1),
        delivered("m0", 1, 1, "b", 1),
        committed("m0", 1, 2),
    ];
    assert_eq!(check(&history, &log_of(&["a", "b"])), Vec::<String>::new());
}

#[test]
fn lost_misplaced_and_duplicated_records_are_caught() {
    fires(&[acked(0, &["a", "b"])], &log_of(&["a"]), "is lost");
    fires(
        &[acked(0, &["a", "b"])],
        &log_of(&["b", "a"]),
        "which holds",
    );
    fires(&[acked(0, &["a"])], &log_of(&["a", "a"]), "2 times");
    fires(&[acked(0, &["a"])], &log_of(&["a", "x"]), "never produced");
}

#[test]
fn gaps_in_offsets_are_caught() {
    let mut end = log_of(&["a", "b"]);
    end.partitions.get_mut(&0).unwrap().records.remove(0);
    fires(&[acked(1, &["b"])], &end, "not dense");
}

#[test]
fn uncommitted_reads_and_missing_objects_are_caught() {
    fires(
        &[acked(0, &["a"]), delivered("m0", 1, 1, "ghost", 0)],
        &log_of(&["a"]),
        "uncommitted data",
    );
    let failed = at(
        5,
        Event::ReadFailed {
            reader: "m0".into(),
            partition: 0,
            offset: 0,
            missing_object: true,
            error: "not found".into(),
        },
    );
    fires(
        &[acked(0, &["a"]), failed],
        &log_of(&["a"]),
        "object is gone",
    );
    let mut end = log_of(&["a"]);
    end.problems
        .push("an index entry names a missing object".into());
    fires(&[acked(0, &["a"])], &end, "final audit");
}

#[test]
fn group_rules_are_caught() {
    let end = log_of(&["a", "b"]);
    let base = acked(0, &["a", "b"]);
    fires(
        &[base.clone(), assigned("m0", 1), assigned("m1", 1)],
        &end,
        "owned by",
    );
    fires(
        &[base.clone(), committed("m0", 1, 2), committed("m0", 1, 1)],
        &end,
        "back from 2 to 1",
    );
    // m1 read offset 0 after offset 2 was committed in its generation.
    fires(
        &[
            base.clone(),
            committed("m0", 1, 2),
            delivered("m1", 2, 0, "a", 2),
        ],
        &end,
        "outside an uncommitted window",
    );
    // A zombie of an older generation re-reading is within its window.
    let zombie = [base, committed("m1", 2, 2), delivered("m0", 1, 0, "a", 2)];
    assert_eq!(check(&zombie, &end), Vec::<String>::new());
}
