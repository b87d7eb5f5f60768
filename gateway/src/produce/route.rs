//! Which partition each record goes to: the partition the producer chose,
//! else Kafka's murmur2 partitioner over the key (so keys land where a Kafka
//! client would put them), else one partition per call for keyless records,
//! moving on with every call (sticky, so a call's keyless records make one
//! batch). Pure; the only state is the keyless counter.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};

use stratus_proto::partitioner::partition_for_key;
use stratus_storage::topic::TopicRecord;

use super::request::ProduceRecord;
use super::validate;
use crate::error::GatewayError;

/// Records of one call grouped by partition, in the order they were sent.
pub(crate) type Routed = BTreeMap<u32, Vec<ProduceRecord>>;

/// Spreads keyless records: each call picks the next partition.
#[derive(Debug, Default)]
pub(crate) struct StickyPartitioner {
    next: AtomicU32,
}

impl StickyPartitioner {
    fn pick(&self, partitions: u32) -> u32 {
        self.next.fetch_add(1, Ordering::Relaxed) % partitions.max(1)
    }
}

/// Groups a call's records by partition: the `explicit` entries first (each
/// partition checked against the topic), then the `unrouted` records.
/// Partitions left without records are dropped.
pub(crate) fn route(
    topic: &TopicRecord,
    explicit: Vec<(u32, Vec<ProduceRecord>)>,
    unrouted: Vec<ProduceRecord>,
    keyless: &StickyPartitioner,
) -> Result<Routed, GatewayError> {
    let mut routed = Routed::new();
    for (partition, records) in explicit {
        validate::partition(topic, partition)?;
        routed.entry(partition).or_default().extend(records);
    }
    let mut keyless_partition = None;
    for record in unrouted {
        let partition = match &record.key {
            Some(key) => partition_for_key(key, topic.partitions),
            None => *keyless_partition.get_or_insert_with(|| keyless.pick(topic.partitions)),
        };
        routed.entry(partition).or_default().push(record);
    }
    routed.retain(|_, records| !records.is_empty());
    Ok(routed)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use stratus_storage::topic::TopicConfig;

    use super::*;

    fn topic(partitions: u32) -> TopicRecord {
        TopicRecord {
            id: 1,
            name: "t".into(),
            partitions,
            config: TopicConfig::default(),
            created_at_ms: 0,
        }
    }

    fn record(key: Option<&'static str>) -> ProduceRecord {
        ProduceRecord {
            key: key.map(|k| Bytes::from_static(k.as_bytes())),
            ..ProduceRecord::default()
        }
    }

    #[test]
    fn keys_go_where_kafka_puts_them_and_keyless_records_stay_together() {
        let t = topic(8);
        let keyless = StickyPartitioner::default();
        let unrouted = vec![record(Some("a")), record(None), record(None)];
        let routed = route(&t, Vec::new(), unrouted, &keyless).unwrap();
        let a = partition_for_key(b"a", 8);
        assert!(routed[&a].iter().any(|r| r.key.is_some()));
        let keyless_partitions = routed
            .values()
            .filter(|records| records.iter().any(|r| r.key.is_none()))
            .count();
        assert_eq!(keyless_partitions, 1, "one partition per call");
        let next = route(&t, Vec::new(), vec![record(None)], &keyless).unwrap();
        assert_ne!(
            next.keys().next(),
            routed
                .iter()
                .find(|(_, r)| r[0].key.is_none())
                .map(|(p, _)| p),
            "the next call moves on"
        );
    }

    #[test]
    fn explicit_partitions_are_checked_and_empty_ones_dropped() {
        let t = topic(2);
        let keyless = StickyPartitioner::default();
        let routed = route(
            &t,
            vec![(1, vec![record(None)]), (0, vec![])],
            vec![],
            &keyless,
        );
        assert_eq!(routed.unwrap().keys().copied().collect::<Vec<_>>(), [1]);
        let err = route(&t, vec![(2, vec![record(None)])], vec![], &keyless).unwrap_err();
        assert!(matches!(
            err,
            GatewayError::Log(stratus_storage::log::LogError::PartitionNotFound { .. })
        ));
    }
}
