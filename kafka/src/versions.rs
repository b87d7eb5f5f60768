//! The APIs and versions the listener advertises in ApiVersions: exactly the
//! ones it handles, and nothing else.
//!
//! The set is chosen to look like one coherent broker, because clients read
//! more into it than per-API ranges: kafka-python 2.0.x infers a broker
//! release from probes (with no DescribeAcls v2 or DescribeClientQuotas but
//! Produce v8 it concludes Kafka 2.4 and uses 2.4-era request versions, all
//! inside these ranges); Java, librdkafka and newer kafka-python pick the
//! highest version both sides know per API. Ranges follow Kafka 3.x brokers
//! where kafka-protocol 0.18 supports them, capped where a newer version needs
//! something Stratus does not do yet:
//!
//! - Produce stops at 11: v12 is transactions v2 (KIP-890), v13 topic ids.
//! - Fetch stops at 13 (topic ids, Kafka 3.1+): v14+ add tiered-storage and
//!   share-group fields; fetch sessions are declined at every version.
//! - InitProducerId stops at 5: v6 is two-phase commit (KIP-939).
//! - DescribeCluster stops at 1: v2 lists fenced brokers (Kafka 4.0).
//! - Groups are classic-protocol groups: FindCoordinator stops at 4 (v5 and
//!   v6 add transaction and share-group errors), DescribeGroups at 6
//!   (from v6 a missing group is GROUP_ID_NOT_FOUND with a message, before
//!   it a group in state Dead), ListGroups at 4 (v5
//!   filters by group type, KIP-848); OffsetCommit 9 and OffsetFetch 9
//!   carry KIP-848 member epochs, which classic members send as their
//!   generation, and KIP-848 members their member epoch.
//!   ConsumerGroupHeartbeat 0–1 serves KIP-848 members from the
//!   server-side assignor Stratus SDK groups use, ConsumerGroupDescribe 0–1
//!   describes those groups.
//! - SASL: SaslHandshake 0–1 and SaslAuthenticate 0–2 (v2 carries KIP-368's
//!   session lifetime) are advertised on every listener, as Kafka does;
//!   without `kafka.sasl` they answer ILLEGAL_SASL_STATE.
//!   DescribeUserScramCredentials and AlterUserScramCredentials 0 manage
//!   the SCRAM users every gateway authenticates.
//! - Old versions kafka-protocol no longer decodes (Produce < 3, Fetch < 4,
//!   ListOffsets 0, CreateTopics < 2, ...) were removed by Kafka 4.0 too.
//!
//! A key here must have a handler in `session`, and every (key, version) must
//! decode; `tests/versions.rs` sends each one through a session.

use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::VersionRange;

/// One advertised API and its version range, inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Advertised {
    /// The API.
    pub key: ApiKey,
    /// Lowest version handled.
    pub min: i16,
    /// Highest version handled.
    pub max: i16,
}

const fn api(key: ApiKey, min: i16, max: i16) -> Advertised {
    Advertised { key, min, max }
}

/// Every API the listener handles, in api-key order.
pub const ADVERTISED: &[Advertised] = &[
    api(ApiKey::Produce, 3, 11),
    api(ApiKey::Fetch, 4, 13),
    api(ApiKey::ListOffsets, 1, 8),
    api(ApiKey::Metadata, 0, 12),
    api(ApiKey::OffsetCommit, 2, 9),
    api(ApiKey::OffsetFetch, 1, 9),
    api(ApiKey::FindCoordinator, 0, 4),
    api(ApiKey::JoinGroup, 0, 9),
    api(ApiKey::Heartbeat, 0, 4),
    api(ApiKey::LeaveGroup, 0, 5),
    api(ApiKey::SyncGroup, 0, 5),
    api(ApiKey::DescribeGroups, 0, 6),
    api(ApiKey::ListGroups, 0, 4),
    api(ApiKey::SaslHandshake, 0, 1),
    api(ApiKey::ApiVersions, 0, 4),
    api(ApiKey::CreateTopics, 2, 7),
    api(ApiKey::DeleteTopics, 1, 6),
    api(ApiKey::DeleteRecords, 0, 2),
    api(ApiKey::InitProducerId, 0, 5),
    api(ApiKey::OffsetForLeaderEpoch, 2, 4),
    api(ApiKey::DescribeConfigs, 1, 4),
    api(ApiKey::SaslAuthenticate, 0, 2),
    api(ApiKey::CreatePartitions, 0, 3),
    api(ApiKey::DeleteGroups, 0, 2),
    api(ApiKey::IncrementalAlterConfigs, 0, 1),
    api(ApiKey::OffsetDelete, 0, 0),
    api(ApiKey::DescribeUserScramCredentials, 0, 0),
    api(ApiKey::AlterUserScramCredentials, 0, 0),
    api(ApiKey::DescribeCluster, 0, 1),
    api(ApiKey::ConsumerGroupHeartbeat, 0, 1),
    api(ApiKey::ConsumerGroupDescribe, 0, 1),
];

/// The advertised range of `key`, if it is advertised at all.
pub fn advertised(key: ApiKey) -> Option<VersionRange> {
    ADVERTISED
        .iter()
        .find(|a| a.key == key)
        .map(|a| VersionRange {
            min: a.min,
            max: a.max,
        })
}

/// Whether requests of `key` at `version` are handled.
pub fn is_advertised(key: ApiKey, version: i16) -> bool {
    advertised(key).is_some_and(|r| (r.min..=r.max).contains(&version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_ordered_and_within_the_codec() {
        for pair in ADVERTISED.windows(2) {
            assert!(
                (pair[0].key as i16) < (pair[1].key as i16),
                "{:?} is out of order or duplicated",
                pair[1].key
            );
        }
        for a in ADVERTISED {
            let codec = a.key.valid_versions();
            assert!(a.min <= a.max, "{:?}", a.key);
            assert!(
                codec.min <= a.min && a.max <= codec.max,
                "{:?} {}..{} is outside what kafka-protocol decodes ({codec})",
                a.key,
                a.min,
                a.max
            );
        }
    }

    #[test]
    fn api_versions_is_advertised_from_zero() {
        // Clients send ApiVersions before they know anything, at any version;
        // v0 must always work and the fallback answers in v0.
        assert_eq!(
            advertised(ApiKey::ApiVersions),
            Some(VersionRange { min: 0, max: 4 })
        );
        assert!(is_advertised(ApiKey::Metadata, 0));
        assert!(!is_advertised(ApiKey::Produce, 12));
        assert!(is_advertised(ApiKey::JoinGroup, 0));
        // KIP-848's heartbeat and describe are served; share groups are not.
        assert!(is_advertised(ApiKey::ConsumerGroupHeartbeat, 1));
        assert!(is_advertised(ApiKey::ConsumerGroupDescribe, 1));
        assert!(!is_advertised(ApiKey::ShareGroupHeartbeat, 0));
    }
}
