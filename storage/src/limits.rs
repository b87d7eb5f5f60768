//! Every bound of the storage domain, in one table: the write path's
//! deadlines, producer state, the chunk cache, consumer groups and topics.
//!
//! Values that are settings elsewhere appear here as their defaults:
//! [`crate::log::LogConfig`], [`crate::group::GroupLimits`] and
//! [`crate::topic::TopicConfig`] (per topic, with Kafka's names) take theirs
//! from this table. The rest are contracts between processes or formats and
//! stay fixed: [`COMMIT_DEADLINE`] is also what the compactor's orphan grace
//! is checked against, so a gateway and a compactor must agree on it. The
//! tests at the bottom check how the bounds relate, to each other and to the
//! metadata store's and the tiers' own limits; each config's tests check
//! that its `Default` is this table. This module imports nothing of the
//! crate but the key layout, so every other module may import it.
//!
//! Bounds of trigger definitions live with them, in `crate::trigger`.

use std::time::Duration;

// The write path.

/// A WAL object is never given offsets once it is this old (by the time in
/// its ULID key, taken before its PUT). The compactor deletes uncommitted
/// objects only after its orphan grace period, which must be at least twice
/// this, so it can never delete an object that a slow gateway is still about
/// to commit.
pub const COMMIT_DEADLINE: Duration = Duration::from_secs(120);
/// Commits whose outcome stays unknown after this many re-checks fail the
/// flush: each re-check is a whole metadata transaction, and an outcome that
/// stays unknown that often means the store is unhealthy, not unlucky.
pub(crate) const MAX_UNKNOWN_RESULT_RECHECKS: usize = 5;
/// Batches per producer and partition remembered for deduplication; a
/// producer may have this many requests in flight per partition (Kafka's
/// limit for idempotent producers, `max.in.flight.requests.per.connection`).
pub const PRODUCER_WINDOW: usize = 5;
/// Keys one producer-expiry transaction reads or clears, far below the
/// metadata store's transaction size limit.
pub(crate) const PRODUCER_EXPIRY_BATCH: usize = 500;

// The read path (`LogConfig` defaults and the chunk cache).

/// Bytes of chunk data a gateway keeps in memory for readers
/// (`LogConfig::chunk_cache_bytes`): enough for consumers tailing a few
/// hundred busy partitions to read from memory.
pub const DEFAULT_CHUNK_CACHE_BYTES: u64 = 256 * 1024 * 1024;
/// Most index entries one read visits (`LogConfig::max_chunks_per_read`): a
/// fetch of small chunks stops after this many ranged GETs.
pub const DEFAULT_MAX_CHUNKS_PER_READ: usize = 64;
/// Assumed average chunk size, only to size the chunk cache's bookkeeping.
pub(crate) const TYPICAL_CHUNK_BYTES: u64 = 16 * 1024;
/// Fewest and most entries the chunk cache's bookkeeping is sized for.
pub(crate) const CHUNK_CACHE_MIN_ITEMS: u64 = 16;
pub(crate) const CHUNK_CACHE_MAX_ITEMS: u64 = 1 << 20;

// Consumer groups.

/// Longest group or member id, in bytes (Kafka's longest name).
pub const MAX_ID_LEN: usize = 249;
/// Largest metadata string stored with a committed offset (Kafka's
/// `offset.metadata.max.bytes` default).
pub const MAX_OFFSET_METADATA_BYTES: usize = 4096;
/// Most live members one group may have (`GroupLimits::max_members`); every
/// join and heartbeat reads them all.
pub const DEFAULT_MAX_GROUP_MEMBERS: usize = 1000;
/// Most groups one cluster may have (`GroupLimits::max_groups`): listing
/// groups (Kafka's ListGroups, `stratus group list`) reads every one.
pub const DEFAULT_MAX_GROUPS: usize = 100_000;
/// Bytes of the client id kept at the front of a member id the server
/// chooses (the rest is a ULID).
pub(crate) const MEMBER_ID_CLIENT_PREFIX_BYTES: usize = 64;

// Kafka classic-protocol groups (`crate::group::classic`).

/// Largest protocol metadata one member may offer, all its protocols
/// together (`GroupLimits::max_member_metadata_bytes`). The broker never
/// reads it; it is stored (hex) in the member's record and handed to the
/// leader.
pub const DEFAULT_CLASSIC_METADATA_BYTES: usize = 16 * 1024;
/// Largest assignment a leader may give one member
/// (`GroupLimits::max_assignment_bytes`), stored beside its metadata in
/// the same record.
pub const DEFAULT_CLASSIC_ASSIGNMENT_BYTES: usize = 16 * 1024;
/// Most metadata and assignment bytes together the settings may allow: a
/// member's record holds both, hex-encoded, with its longest ids and
/// protocol names, in one metadata value (`classic::record` checks it).
pub const MAX_CLASSIC_MEMBER_PAYLOAD_BYTES: usize = 32 * 1024;
/// Most protocols (assignors) one member may offer.
pub const MAX_CLASSIC_PROTOCOLS: usize = 16;
/// Longest protocol type or protocol name.
pub const MAX_CLASSIC_PROTOCOL_NAME_LEN: usize = 249;
/// Session timeouts a classic member may ask for: Kafka's defaults of
/// `group.min.session.timeout.ms` and `group.max.session.timeout.ms`.
pub const MIN_CLASSIC_SESSION_TIMEOUT_MS: i64 = 6_000;
pub const MAX_CLASSIC_SESSION_TIMEOUT_MS: i64 = 30 * 60 * 1000;
/// How long the first round of an empty classic group waits for more
/// members before it completes, extended by each member that joins
/// meanwhile (up to the round's deadline): Kafka's
/// `group.initial.rebalance.delay.ms` default, so consumers started
/// together land in one generation instead of rebalancing once per member.
pub const CLASSIC_INITIAL_REBALANCE_DELAY_MS: i64 = 3_000;
/// Longest rebalance timeout honoured: a round never waits longer for
/// members to rejoin (Kafka clients default to 5 minutes).
pub const MAX_CLASSIC_REBALANCE_TIMEOUT_MS: i64 = 30 * 60 * 1000;

// Topics.

/// Longest topic name, as in Kafka; Kafka's naming rules live in
/// `stratus_format::names`, which clients share.
pub use stratus_format::names::MAX_TOPIC_NAME_LEN;
/// Most partitions one topic may have.
pub const MAX_PARTITIONS: u32 = 100_000;
/// The largest `max.message.bytes` a topic may set: a record must fit in one
/// metadata-free WAL chunk well below the gateway's request limit.
pub const MAX_MESSAGE_BYTES_LIMIT: u32 = 64 * 1024 * 1024;
/// `retention.ms` of a new topic: 7 days, Kafka's default.
pub const DEFAULT_RETENTION_MS: i64 = 7 * 24 * 60 * 60 * 1000;
/// `max.message.bytes` of a new topic: 1 MiB, Kafka's default.
pub const DEFAULT_MAX_MESSAGE_BYTES: u32 = 1024 * 1024;
/// `delete.retention.ms` of a new topic: 1 day, Kafka's default.
pub const DEFAULT_DELETE_RETENTION_MS: i64 = 24 * 60 * 60 * 1000;
/// `max.compaction.lag.ms` of a new topic. Kafka's default is unbounded;
/// ours is 5 minutes, so a duplicate key's lifetime is bounded out of the box.
pub const DEFAULT_MAX_COMPACTION_LAG_MS: i64 = 5 * 60 * 1000;

#[cfg(test)]
mod tests {
    use stratus_meta::RetryPolicy;
    use stratus_meta::limits::{MAX_KEY_BYTES, MAX_TRANSACTION_BYTES, MAX_VALUE_BYTES};
    use stratus_tier::RetryConfig;

    use super::*;
    use crate::keys::KeySpace;

    #[test]
    fn a_wal_object_can_still_commit_after_a_slow_put_and_a_slow_commit() {
        // The ULID in a WAL object's key is taken before its PUT: a PUT that
        // succeeds on its last attempt leaves time to commit.
        let put = RetryConfig::default().longest_call();
        assert!(put < COMMIT_DEADLINE, "{put:?}");
        // The deadline is checked before the offset transaction runs; the
        // transaction and its retries end within one more deadline, so the
        // object is committed (or given up) before twice the deadline, the
        // shortest orphan grace the compactor accepts.
        let commit = RetryPolicy::default().longest_run();
        assert!(commit <= COMMIT_DEADLINE, "{commit:?}");
        const { assert!(MAX_UNKNOWN_RESULT_RECHECKS >= 1) };
    }

    #[test]
    fn producer_state_bounds() {
        // The persisted state counts its batches in one byte.
        const { assert!(PRODUCER_WINDOW >= 1 && PRODUCER_WINDOW <= u8::MAX as usize) };
        // One expiry transaction clears a batch of states and their index
        // keys, the epoch and the activity key, and reads conflict on the
        // activity key and the range; with the longest ids, under a cluster
        // name as long as a topic name, that stays far below the
        // transaction limit.
        let keys = KeySpace::new(&"c".repeat(MAX_TOPIC_NAME_LEN));
        let (id, topic, partition) = (i64::MAX, u128::MAX, u32::MAX);
        let per_state = keys.producer_state(topic, partition, id).len()
            + keys.producer_partition(id, topic, partition).len();
        let (begin, end) = keys.producer_partitions_range(id);
        let activity = keys.producer_activity(id).len();
        let bytes = PRODUCER_EXPIRY_BATCH * per_state
            + keys.producer_epoch(id).len()
            + 3 * activity
            + 1
            + begin.len()
            + end.len();
        assert!(bytes <= MAX_TRANSACTION_BYTES / 10, "{bytes}");
    }

    #[test]
    fn chunk_cache_and_read_defaults() {
        // 0 turns the cache off; the default must not.
        const { assert!(DEFAULT_CHUNK_CACHE_BYTES > 0) };
        const { assert!(DEFAULT_MAX_CHUNKS_PER_READ >= 1) };
        const { assert!(TYPICAL_CHUNK_BYTES > 0) };
        const { assert!(CHUNK_CACHE_MIN_ITEMS <= CHUNK_CACHE_MAX_ITEMS) };
        // The default cache is sized by its bytes, not by the clamp.
        let items = DEFAULT_CHUNK_CACHE_BYTES / TYPICAL_CHUNK_BYTES;
        assert!((CHUNK_CACHE_MIN_ITEMS..=CHUNK_CACHE_MAX_ITEMS).contains(&items));
    }

    #[test]
    fn group_ids_and_offsets_fit_in_metadata() {
        const { assert!(DEFAULT_MAX_GROUP_MEMBERS > 0) };
        const { assert!(DEFAULT_MAX_GROUPS > 0) };
        const {
            assert!(
                DEFAULT_CLASSIC_METADATA_BYTES + DEFAULT_CLASSIC_ASSIGNMENT_BYTES
                    <= MAX_CLASSIC_MEMBER_PAYLOAD_BYTES
            )
        };
        // A member id the server chooses is always a valid member id.
        let ulid_len = ulid::Ulid::generate().to_string().len();
        assert!(MEMBER_ID_CLIENT_PREFIX_BYTES + 1 + ulid_len <= MAX_ID_LEN);
        // The longest keys, even under a cluster name as long as a topic
        // name (the cluster name itself has no bound).
        let keys = KeySpace::new(&"c".repeat(MAX_TOPIC_NAME_LEN));
        let (group, member) = ("g".repeat(MAX_ID_LEN), "m".repeat(MAX_ID_LEN));
        let topic = "t".repeat(MAX_TOPIC_NAME_LEN);
        for key in [
            keys.group(&group),
            keys.group_member(&group, &member),
            keys.group_offset(&group, &topic, u32::MAX),
            keys.topic_by_name(&topic),
        ] {
            assert!(key.len() <= MAX_KEY_BYTES, "{}", key.len());
        }
        // A committed offset's metadata, JSON-escaped at up to six bytes a
        // byte, plus its four numbers and field names (well under 1 KiB),
        // fits in one value; `group::record` checks the exact encoding.
        const { assert!(6 * MAX_OFFSET_METADATA_BYTES + 1024 <= MAX_VALUE_BYTES) };
    }

    #[test]
    fn topic_defaults_are_inside_their_limits() {
        const { assert!(DEFAULT_RETENTION_MS > 0) };
        const { assert!(DEFAULT_MAX_MESSAGE_BYTES >= 1) };
        const { assert!(DEFAULT_MAX_MESSAGE_BYTES <= MAX_MESSAGE_BYTES_LIMIT) };
        const { assert!(DEFAULT_DELETE_RETENTION_MS >= 0) };
        const { assert!(DEFAULT_MAX_COMPACTION_LAG_MS > 0) };
        const { assert!(MAX_PARTITIONS >= 1) };
    }
}
