//! Server-side partition assignment: pure functions from the members'
//! subscriptions (and, for sticky, their previous assignment) to a new one.
//!
//! Both strategies balance each topic's partitions over the members that
//! subscribe to it: every member gets ⌊n/k⌋ or ⌈n/k⌉ of a topic's n
//! partitions. Sticky keeps each partition with its previous owner whenever
//! that owner's share allows, so a member joining or leaving moves only the
//! partitions balance requires.

use std::collections::{BTreeMap, BTreeSet};

use super::record::{Assignment, Strategy};

/// One member as the assignor sees it.
#[derive(Debug, Clone, Copy)]
pub struct Subscriber<'a> {
    pub id: &'a str,
    pub topics: &'a [String],
    /// The member's assignment before this rebalance (empty when new).
    pub previous: &'a Assignment,
}

/// Assigns every partition of every subscribed topic to exactly one
/// subscriber of that topic. `partitions` gives each topic's partition count;
/// topics missing from it are not assigned.
pub fn assign(
    strategy: Strategy,
    members: &[Subscriber<'_>],
    partitions: &BTreeMap<String, u32>,
) -> BTreeMap<String, Assignment> {
    let mut members: Vec<Subscriber<'_>> = members.to_vec();
    members.sort_by_key(|m| m.id);
    let mut out: BTreeMap<String, Assignment> = members
        .iter()
        .map(|m| (m.id.to_owned(), Assignment::new()))
        .collect();
    // Partitions handed out so far across topics, so sticky spreads the
    // members that get an extra partition of one topic over different topics.
    let mut load: BTreeMap<&str, usize> = members.iter().map(|m| (m.id, 0)).collect();
    for (topic, &count) in partitions {
        let subscribers: Vec<&Subscriber<'_>> = members
            .iter()
            .filter(|m| m.topics.iter().any(|t| t == topic))
            .collect();
        if subscribers.is_empty() || count == 0 {
            continue;
        }
        let shares = match strategy {
            Strategy::Range => range(&subscribers, count),
            Strategy::Sticky => sticky(topic, &subscribers, count, &load),
        };
        for (id, ps) in shares {
            if ps.is_empty() {
                continue;
            }
            *load.entry(id).or_default() += ps.len();
            if let Some(assignment) = out.get_mut(id) {
                assignment.insert(topic.clone(), ps);
            }
        }
    }
    out
}

/// Kafka's range assignor for one topic: members in id order take
/// contiguous ranges, the first `n % k` one partition more.
fn range<'a>(subscribers: &[&Subscriber<'a>], count: u32) -> Vec<(&'a str, Vec<u32>)> {
    let k = subscribers.len() as u32;
    let (base, extra) = (count / k, count % k);
    subscribers
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let i = i as u32;
            let start = i * base + i.min(extra);
            let len = base + u32::from(i < extra);
            (m.id, (start..start + len).collect())
        })
        .collect()
}

/// Balanced assignment of one topic that keeps as many partitions as
/// possible with their previous owner.
fn sticky<'a>(
    topic: &str,
    subscribers: &[&Subscriber<'a>],
    count: u32,
    load: &BTreeMap<&str, usize>,
) -> Vec<(&'a str, Vec<u32>)> {
    let k = subscribers.len();
    let (base, extra) = (count as usize / k, count as usize % k);
    // Each partition's previous owner among the subscribers (first claim wins).
    let mut claimed = BTreeSet::new();
    let previous: Vec<Vec<u32>> = subscribers
        .iter()
        .map(|m| {
            m.previous
                .get(topic)
                .into_iter()
                .flatten()
                .copied()
                .filter(|p| *p < count && claimed.insert(*p))
                .collect()
        })
        .collect();
    // Who gets one of the `extra` larger shares: those already holding more
    // first (they keep it without a move), then the least loaded overall.
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by_key(|&i| {
        (
            std::cmp::Reverse(previous[i].len().min(base + 1)),
            load.get(subscribers[i].id).copied().unwrap_or(0),
            subscribers[i].id,
        )
    });
    let mut quota = vec![base; k];
    for &i in order.iter().take(extra) {
        quota[i] += 1;
    }
    let mut shares: Vec<Vec<u32>> = previous
        .iter()
        .zip(&quota)
        .map(|(prev, &q)| prev.iter().copied().take(q).collect())
        .collect();
    let kept: BTreeSet<u32> = shares.iter().flatten().copied().collect();
    let mut free = (0..count).filter(|p| !kept.contains(p));
    for &i in &order {
        while shares[i].len() < quota[i] {
            match free.next() {
                Some(p) => shares[i].push(p),
                None => break,
            }
        }
    }
    subscribers
        .iter()
        .zip(shares)
        .map(|(m, mut ps)| {
            ps.sort_unstable();
            (m.id, ps)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topics(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    fn run(
        strategy: Strategy,
        ids: &[&str],
        subs: &[String],
        previous: &BTreeMap<String, Assignment>,
        partitions: &BTreeMap<String, u32>,
    ) -> BTreeMap<String, Assignment> {
        let empty = Assignment::new();
        let members: Vec<Subscriber<'_>> = ids
            .iter()
            .map(|id| Subscriber {
                id,
                topics: subs,
                previous: previous.get(*id).unwrap_or(&empty),
            })
            .collect();
        assign(strategy, &members, partitions)
    }

    /// Every partition of every topic exactly once, shares within one of each other.
    fn check_complete_and_balanced(
        out: &BTreeMap<String, Assignment>,
        partitions: &BTreeMap<String, u32>,
    ) {
        for (topic, &n) in partitions {
            let mut all: Vec<u32> = out
                .values()
                .filter_map(|a| a.get(topic))
                .flatten()
                .copied()
                .collect();
            all.sort_unstable();
            assert_eq!(all, (0..n).collect::<Vec<_>>(), "topic {topic}");
            let sizes: Vec<usize> = out
                .values()
                .map(|a| a.get(topic).map_or(0, Vec::len))
                .collect();
            let (min, max) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
            assert!(max - min <= 1, "unbalanced {sizes:?}");
        }
    }

    fn moved(before: &BTreeMap<String, Assignment>, after: &BTreeMap<String, Assignment>) -> usize {
        let owner = |m: &BTreeMap<String, Assignment>| -> BTreeMap<(String, u32), String> {
            m.iter()
                .flat_map(|(id, a)| {
                    a.iter().flat_map(move |(t, ps)| {
                        ps.iter().map(move |p| ((t.clone(), *p), id.clone()))
                    })
                })
                .collect()
        };
        let (b, a) = (owner(before), owner(after));
        a.iter()
            .filter(|(k, v)| b.get(*k).is_some_and(|old| old != *v))
            .count()
    }

    #[test]
    fn range_gives_contiguous_ranges() {
        let parts = BTreeMap::from([("t".to_owned(), 12)]);
        let out = run(
            Strategy::Range,
            &["a", "b", "c", "d", "e"],
            &topics(&["t"]),
            &BTreeMap::new(),
            &parts,
        );
        assert_eq!(out["a"]["t"], vec![0, 1, 2]);
        assert_eq!(out["b"]["t"], vec![3, 4, 5]);
        assert_eq!(out["c"]["t"], vec![6, 7]);
        assert_eq!(out["e"]["t"], vec![10, 11]);
        check_complete_and_balanced(&out, &parts);
    }

    #[test]
    fn sticky_moves_only_what_balance_requires() {
        let parts = BTreeMap::from([("t".to_owned(), 12), ("u".to_owned(), 5)]);
        let subs = topics(&["t", "u"]);
        let two = run(
            Strategy::Sticky,
            &["a", "b"],
            &subs,
            &BTreeMap::new(),
            &parts,
        );
        check_complete_and_balanced(&two, &parts);
        // A third member takes a third of t and one or two of u; nothing else moves.
        let three = run(Strategy::Sticky, &["a", "b", "c"], &subs, &two, &parts);
        check_complete_and_balanced(&three, &parts);
        let taken = three["c"].values().map(Vec::len).sum::<usize>();
        assert_eq!(moved(&two, &three), taken);
        assert!(taken <= 4 + 2);
        // The member leaving: only its partitions move.
        let mut left = three;
        let gone = left.remove("b").unwrap();
        let after = run(Strategy::Sticky, &["a", "c"], &subs, &left, &parts);
        check_complete_and_balanced(&after, &parts);
        assert_eq!(moved(&left, &after), 0);
        let gone_count: usize = gone.values().map(Vec::len).sum();
        let before_total: usize = left.values().flat_map(|a| a.values()).map(Vec::len).sum();
        let after_total: usize = after.values().flat_map(|a| a.values()).map(Vec::len).sum();
        assert_eq!(after_total - before_total, gone_count);
    }

    #[test]
    fn sticky_spreads_extra_partitions_over_members() {
        let parts: BTreeMap<String, u32> = (0..4).map(|i| (format!("t{i}"), 1)).collect();
        let subs: Vec<String> = parts.keys().cloned().collect();
        let out = run(
            Strategy::Sticky,
            &["a", "b"],
            &subs,
            &BTreeMap::new(),
            &parts,
        );
        let a: usize = out["a"].values().map(Vec::len).sum();
        let b: usize = out["b"].values().map(Vec::len).sum();
        assert_eq!((a, b), (2, 2));
    }

    #[test]
    fn only_subscribers_get_a_topic_and_a_shrunk_topic_drops_partitions() {
        let parts = BTreeMap::from([("t".to_owned(), 2), ("u".to_owned(), 2)]);
        let (t, u) = (topics(&["t"]), topics(&["u"]));
        let prev = BTreeMap::from([(
            "a".to_owned(),
            Assignment::from([("t".to_owned(), vec![0, 1, 7])]),
        )]);
        let empty = Assignment::new();
        let members = [
            Subscriber {
                id: "a",
                topics: &t,
                previous: &prev["a"],
            },
            Subscriber {
                id: "b",
                topics: &u,
                previous: &empty,
            },
        ];
        let out = assign(Strategy::Sticky, &members, &parts);
        assert_eq!(out["a"], Assignment::from([("t".to_owned(), vec![0, 1])]));
        assert_eq!(out["b"], Assignment::from([("u".to_owned(), vec![0, 1])]));
    }

    #[test]
    fn more_members_than_partitions_leaves_some_idle() {
        let parts = BTreeMap::from([("t".to_owned(), 2)]);
        for strategy in [Strategy::Range, Strategy::Sticky] {
            let out = run(
                strategy,
                &["a", "b", "c"],
                &topics(&["t"]),
                &BTreeMap::new(),
                &parts,
            );
            check_complete_and_balanced(&out, &parts);
            assert_eq!(out.values().filter(|a| a.is_empty()).count(), 1);
        }
    }
}
