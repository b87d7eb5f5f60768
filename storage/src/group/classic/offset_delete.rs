//! OffsetDelete (Kafka's `kafka-consumer-groups --delete-offsets`) with
//! Kafka's rules: a group that does not exist is GROUP_ID_NOT_FOUND; a
//! group with live members of a protocol other than `consumer` (Kafka
//! Connect's, say) refuses as a whole (NON_EMPTY_GROUP), since its members'
//! subscriptions cannot be read; otherwise each partition of a topic a live
//! member subscribes to is refused (GROUP_SUBSCRIBED_TO_TOPIC) and the
//! others' offsets are deleted. Stratus SDK members subscribe by topic name
//! too, so they protect their topics the same way.

use std::collections::BTreeSet;

use super::round::Classic;
use super::{ClassicError, Step};
use crate::group::state::{GroupState, read_topic};
use crate::group::{Groups, validate_group_id};
use crate::keys::KeySpace;
use stratus_meta::{RangeOptions, Transaction, run};

/// The protocol type of Kafka consumers, whose member metadata is a
/// `ConsumerProtocolSubscription`.
const CONSUMER_PROTOCOL_TYPE: &str = "consumer";

/// Why one partition's offset was not deleted (the others may have been).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OffsetDeleteRefusal {
    #[error("topic {topic:?} has no partition {partition}; refresh metadata")]
    UnknownTopicOrPartition { topic: String, partition: u32 },
    #[error(
        "a live member of the group subscribes to topic {topic:?}; stop the group's consumers \
         (or unsubscribe them from it) before deleting its offsets"
    )]
    SubscribedToTopic { topic: String },
}

/// The topics of a `ConsumerProtocolSubscription` (every version starts
/// with a version and the topic names; none is flexible), or `None` when
/// the bytes are not one.
pub(crate) fn subscribed_topics(metadata: &[u8]) -> Option<Vec<String>> {
    let mut at = 2usize; // the version
    let count = i32::from_be_bytes(metadata.get(at..at + 4)?.try_into().ok()?);
    at += 4;
    // Each name takes at least its two length bytes: a count beyond that is
    // not one, and is never allocated for.
    let count = usize::try_from(count).ok()?;
    if count > metadata.len().saturating_sub(at) / 2 {
        return None;
    }
    let mut topics = Vec::with_capacity(count);
    for _ in 0..count {
        let len = i16::from_be_bytes(metadata.get(at..at + 2)?.try_into().ok()?);
        at += 2;
        let len = usize::try_from(len).ok()?;
        let name = std::str::from_utf8(metadata.get(at..at + len)?).ok()?;
        at += len;
        topics.push(name.to_owned());
    }
    Some(topics)
}

/// The topics live members subscribe to, or the refusal of the whole request.
async fn protected_topics(
    tx: &mut dyn Transaction,
    keys: &KeySpace,
    classic: &Classic,
    group: &str,
    now_ms: i64,
) -> Step<BTreeSet<String>> {
    let mut topics = BTreeSet::new();
    let live: Vec<_> = classic
        .members
        .values()
        .filter(|m| classic.alive(m, now_ms))
        .collect();
    if let Some(record) = &classic.record
        && !live.is_empty()
    {
        if record.protocol_type != CONSUMER_PROTOCOL_TYPE {
            return Ok(Err(ClassicError::NotEmpty {
                group: group.to_owned(),
                members: live.len(),
            }));
        }
        // A group between generations has no chosen protocol yet; every
        // protocol a member offers lists the same subscription.
        let protocol = record.protocol.clone();
        for m in live {
            let metadata = match &protocol {
                Some(p) if m.offers(p) => m.metadata(p),
                _ => m.protocols.first().map_or(&[][..], |p| &p.metadata.0[..]),
            };
            topics.extend(subscribed_topics(metadata).unwrap_or_default());
        }
    }
    let stratus = match GroupState::load(tx, keys, group).await? {
        Ok(state) => state,
        Err(e) => return Ok(Err(e.into())),
    };
    for m in stratus.members.values().filter(|m| m.deadline_ms >= now_ms) {
        topics.extend(m.topics.iter().cloned());
    }
    Ok(Ok(topics))
}

impl Groups {
    /// Deletes the committed offsets of `partitions`; one outcome per
    /// partition, in order, unless the whole request is refused.
    pub async fn delete_offsets(
        &self,
        group: &str,
        partitions: &[(String, u32)],
        now_ms: i64,
    ) -> Result<Vec<Result<(), OffsetDeleteRefusal>>, ClassicError> {
        validate_group_id(group)?;
        let keys = &self.keys;
        run(self.meta.as_ref(), &self.retry, |tx| {
            Box::pin(async move {
                let classic = match Classic::load(tx, keys, group).await? {
                    Ok(classic) => classic,
                    Err(e) => return Ok(Err(e.into())),
                };
                let (begin, end) = keys.group_offsets_range(group);
                let one = RangeOptions {
                    limit: 1,
                    ..RangeOptions::default()
                };
                let has_offsets = !tx.get_range(&begin, &end, one).await?.is_empty();
                let stratus_record = tx.get(&keys.group(group)).await?.is_some();
                if classic.record.is_none() && !stratus_record && !has_offsets {
                    return Ok(Err(ClassicError::NotFound {
                        group: group.to_owned(),
                    }));
                }
                // Conflicting reads: a member joining meanwhile makes this
                // run again and see its subscription.
                for (begin, end) in [
                    keys.classic_members_range(group),
                    keys.group_members_range(group),
                ] {
                    tx.get_range(&begin, &end, RangeOptions::default()).await?;
                }
                let protected = match protected_topics(tx, keys, &classic, group, now_ms).await? {
                    Ok(topics) => topics,
                    Err(e) => return Ok(Err(e)),
                };
                let mut outcomes = Vec::with_capacity(partitions.len());
                for (topic, partition) in partitions {
                    let known = match read_topic(tx, keys, topic).await? {
                        Ok(t) => t.is_some_and(|t| *partition < t.partitions),
                        Err(e) => return Ok(Err(e.into())),
                    };
                    outcomes.push(if !known {
                        Err(OffsetDeleteRefusal::UnknownTopicOrPartition {
                            topic: topic.clone(),
                            partition: *partition,
                        })
                    } else if protected.contains(topic) {
                        Err(OffsetDeleteRefusal::SubscribedToTopic {
                            topic: topic.clone(),
                        })
                    } else {
                        tx.clear(&keys.group_offset(group, topic, *partition))?;
                        Ok(())
                    });
                }
                Ok(Ok(outcomes))
            })
        })
        .await?
    }
}
