//! The persisted shapes of group state (JSON; add fields with defaults,
//! never remove or rename one).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Partitions per topic, each list sorted and without duplicates.
pub type Assignment = BTreeMap<String, Vec<u32>>;

/// How a group's partitions are spread over its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// Keep every partition where it is unless balance requires moving it;
    /// the fewest partitions move on each membership change.
    #[default]
    Sticky,
    /// Kafka's range assignor: per topic, members in id order take
    /// contiguous ranges of partitions.
    Range,
}

impl Strategy {
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Sticky => "sticky",
            Strategy::Range => "range",
        }
    }
}

/// A consumer group, under [`crate::keys::Tag::GroupRecord`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRecord {
    /// Bumped by every membership or subscription change; commits and
    /// assignments carry it so a member that missed a change is fenced.
    pub generation: i64,
    pub strategy: Strategy,
    /// Partition count of each subscribed topic when the assignment was
    /// computed; a topic that grew (or was deleted) triggers a rebalance.
    pub partitions: BTreeMap<String, u32>,
    pub created_ms: i64,
}

/// One member of a group, under [`crate::keys::Tag::GroupMember`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRecord {
    pub member_id: String,
    pub client_id: String,
    /// Topics the member subscribes to, sorted.
    pub topics: Vec<String>,
    pub session_timeout_ms: i64,
    /// The member is dead once the clock passes this without a heartbeat.
    pub deadline_ms: i64,
    /// What the strategy gives this member in the current generation.
    pub target: Assignment,
    /// What the member was last told it may consume: `target` minus the
    /// partitions another live member still reports owning (cooperative
    /// hand-off, so no partition is consumed by two members at once).
    pub assigned: Assignment,
    /// The generation `assigned` was handed out in; commits must carry it.
    pub generation: i64,
    /// Partitions the member reported consuming in its last heartbeat
    /// (within what it had been assigned).
    pub owned: Assignment,
    pub joined_ms: i64,
    /// The regular expression a Kafka consumer subscribed with (KIP-848),
    /// which `topics` resolves; absent for subscriptions by name. Records
    /// written before it existed read as absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_regex: Option<String>,
    /// A static member's `group.instance.id` (KIP-848): a member joining
    /// with it after this one left temporarily takes this one's place and
    /// partitions without a rebalance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// A static member that left temporarily (KIP-848 member epoch -2): it
    /// keeps its partitions, which nobody else is given, until its session
    /// expires or a member of its instance id takes its place.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub departed: bool,
}

/// A committed offset, under [`crate::keys::Tag::GroupOffset`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffsetRecord {
    /// The next offset the group will consume.
    pub offset: i64,
    /// Free-form client metadata, at most [`super::MAX_OFFSET_METADATA_BYTES`].
    pub metadata: String,
    /// The topic the offset refers to; a re-created topic of the same name
    /// has another id and does not inherit the offset.
    pub topic_id: u128,
    /// Generation of the commit; -1 for an administrative reset.
    pub generation: i64,
    pub committed_ms: i64,
}

/// Whether `assignment` holds `topic`/`partition`.
pub fn holds(assignment: &Assignment, topic: &str, partition: u32) -> bool {
    assignment
        .get(topic)
        .is_some_and(|ps| ps.binary_search(&partition).is_ok())
}

/// `a` without the partitions for which `drop` says true.
pub(crate) fn retain(a: &Assignment, mut keep: impl FnMut(&str, u32) -> bool) -> Assignment {
    a.iter()
        .filter_map(|(topic, ps)| {
            let kept: Vec<u32> = ps.iter().copied().filter(|p| keep(topic, *p)).collect();
            (!kept.is_empty()).then(|| (topic.clone(), kept))
        })
        .collect()
}

/// Sorts and de-duplicates every partition list and drops empty topics.
pub fn normalize(mut a: Assignment) -> Assignment {
    a.retain(|_, ps| {
        ps.sort_unstable();
        ps.dedup();
        !ps.is_empty()
    });
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::MAX_OFFSET_METADATA_BYTES;

    /// The largest committed offset, its metadata all JSON escapes, fits in
    /// one metadata value.
    #[test]
    fn the_largest_offset_record_fits_in_a_value() {
        let record = OffsetRecord {
            offset: i64::MAX,
            metadata: "\u{1}".repeat(MAX_OFFSET_METADATA_BYTES),
            topic_id: u128::MAX,
            generation: i64::MIN,
            committed_ms: i64::MIN,
        };
        let value = serde_json::to_vec(&record).unwrap();
        assert!(
            value.len() <= stratus_meta::limits::MAX_VALUE_BYTES,
            "{}",
            value.len()
        );
        assert!(value.len() <= 6 * MAX_OFFSET_METADATA_BYTES + 1024);
    }

    /// The persisted JSON shapes are part of the format.
    #[test]
    fn records_json_is_pinned() {
        let group = GroupRecord {
            generation: 3,
            strategy: Strategy::Sticky,
            partitions: BTreeMap::from([("t".to_owned(), 2)]),
            created_ms: 5,
        };
        assert_eq!(
            serde_json::to_string(&group).unwrap(),
            r#"{"generation":3,"strategy":"sticky","partitions":{"t":2},"created_ms":5}"#
        );
        let a = Assignment::from([("t".to_owned(), vec![0, 1])]);
        let member = MemberRecord {
            member_id: "m".into(),
            client_id: "c".into(),
            topics: vec!["t".into()],
            session_timeout_ms: 10,
            deadline_ms: 20,
            target: a.clone(),
            assigned: a.clone(),
            generation: 3,
            owned: a,
            joined_ms: 1,
            topic_regex: None,
            instance_id: None,
            departed: false,
        };
        assert_eq!(
            serde_json::to_string(&member).unwrap(),
            r#"{"member_id":"m","client_id":"c","topics":["t"],"session_timeout_ms":10,"deadline_ms":20,"target":{"t":[0,1]},"assigned":{"t":[0,1]},"generation":3,"owned":{"t":[0,1]},"joined_ms":1}"#
        );
        let offset = OffsetRecord {
            offset: 7,
            metadata: "x".into(),
            topic_id: 9,
            generation: -1,
            committed_ms: 4,
        };
        assert_eq!(
            serde_json::to_string(&offset).unwrap(),
            r#"{"offset":7,"metadata":"x","topic_id":9,"generation":-1,"committed_ms":4}"#
        );
    }

    #[test]
    fn retain_and_normalize() {
        let a = normalize(Assignment::from([
            ("t".to_owned(), vec![3, 1, 1]),
            ("u".to_owned(), vec![]),
        ]));
        assert_eq!(a, Assignment::from([("t".to_owned(), vec![1, 3])]));
        assert!(holds(&a, "t", 3) && !holds(&a, "t", 2));
        assert_eq!(
            retain(&a, |_, p| p != 1),
            Assignment::from([("t".to_owned(), vec![3])])
        );
        assert!(retain(&a, |_, _| false).is_empty());
    }
}
