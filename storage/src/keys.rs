//! The metadata key layout: every key Stratus persists, in one place.
//!
//! Keys are FoundationDB tuples under one root subspace per cluster. The first
//! element of every key is a [`Tag`]; tags are persisted, so they must be kept
//! stable: never renumber or reuse one. Values that are fixed-width integers are
//! little-endian so FoundationDB's atomic `ADD` can operate on them.

use foundationdb_tuple::Subspace;

/// The first element of every key. IDs are persisted, so they must be kept stable.
#[repr(u16)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    /// `(1, name: str)` → topic record (JSON, [`crate::topic::TopicRecord`]).
    TopicByName = 1,
    /// `(2, topic_id: u128)` → topic name (UTF-8).
    TopicById = 2,
    /// `(3, topic_id, partition: u32)` → partition head (next offset and running
    /// max timestamp, [`crate::log::PartitionHead`]). Watched by long-polling fetches.
    PartitionHead = 3,
    /// `(4, topic_id, partition)` → log start offset, i64 LE. Written by retention,
    /// kept apart from the head so retention never conflicts with appends.
    LogStart = 4,
    /// `(5, topic_id, partition, end_offset: i64)` → index entry
    /// ([`crate::log::IndexEntry`]) for the chunk holding `[base, end_offset)`;
    /// the first key greater than `o` is the chunk that holds offset `o`.
    Index = 5,
    /// `(6, topic_id, partition, running_max_timestamp: i64, end_offset: i64)` → empty.
    /// One entry per chunk that raised the partition's running max timestamp; the
    /// first entry at or above `t` names the chunk holding the first record
    /// with timestamp >= `t`.
    TimeIndex = 6,
    /// `(7, object_key: str)` → number of index entries that reference the
    /// object, i64 LE. Written in the same transaction that assigns offsets, so
    /// its presence proves the commit landed (resolves unknown commit results),
    /// and garbage collection deletes objects whose count reached zero.
    ObjectRefs = 7,
    /// `(8, object_key: str)` → the outcome of each batch of the object, in
    /// chunk order: its base offset, or -1 (topic gone), -2 (out-of-order
    /// producer sequence), -3 (fenced producer epoch)
    /// ([`crate::log::entry::encode_commit_record`]). Written by the transaction
    /// that assigns them; a retry of that transaction reads it first, which makes
    /// the commit idempotent and resolves an unknown commit result.
    WalCommit = 8,
    /// `(9, since_ms: i64, object_key: str)` → empty. An object no index entry
    /// references any more, since `since_ms`; the compactor deletes it once a
    /// grace period (covering in-flight reads) has passed.
    Garbage = 9,
    /// `(10, shard: u32)` → compactor lease (`stratus_compactor::lease`): which
    /// compactor owns the partitions of a shard, until when, and the fencing
    /// generation its index swaps check.
    CompactorLease = 10,
    /// `(11, topic_id, partition)` → offset, i64 LE, up to which key compaction
    /// has cleaned the partition.
    CleanedUpTo = 11,
    /// `(12, topic_id: u128)` → partition count, u32 LE. A deleted topic whose
    /// index entries still hold references to objects; the compactor releases
    /// them and then clears this key.
    DeletedTopic = 12,
    /// `(13,)` → the last producer id handed out, i64 LE. `InitProducerId`
    /// reads and advances it in one transaction, so ids are never reused.
    ProducerIdCounter = 13,
    /// `(14, producer_id: i64)` → the producer's current epoch, i16 LE. A
    /// re-init bumps it; the offset transaction refuses batches of any other
    /// epoch (fencing the older session on every partition at once).
    ProducerEpoch = 14,
    /// `(15, topic_id, partition, producer_id: i64)` → the producer's sequence
    /// state on the partition ([`crate::log::ProducerPartitionState`]): epoch
    /// and the last few batches' sequence ranges with their base offsets.
    /// Read and written by the offset transaction to deduplicate retries.
    ProducerState = 15,
    /// `(16, group: str)` → consumer group record (JSON,
    /// [`crate::group::GroupRecord`]): generation, assignment strategy and the
    /// partition counts the current assignment was computed from. Every
    /// membership change rewrites it, so transactions that read it are fenced
    /// by a rebalance.
    GroupRecord = 16,
    /// `(17, group: str, member_id: str)` → group member (JSON,
    /// [`crate::group::MemberRecord`]): subscription, session deadline, target
    /// and current assignment, partitions it reports owning.
    GroupMember = 17,
    /// `(18, group: str, topic: str, partition: u32)` → committed offset (JSON,
    /// [`crate::group::OffsetRecord`]) with its metadata, the committing
    /// generation and the topic id it refers to (a re-created topic does not
    /// inherit offsets).
    GroupOffset = 18,
    /// `(19, name: str)` → trigger definition (JSON,
    /// [`crate::trigger::TriggerSpec`]): topic, partitions, function target,
    /// batching and failure policy. Dispatchers list the range to learn which
    /// triggers to run; the trigger's progress is its consumer group's
    /// committed offsets (`trigger-{name}`, [`Tag::GroupOffset`]).
    Trigger = 19,
    // 20-21 are reserved for triggers (storage/src/trigger/).
    /// `(22, producer_id: i64)` → when the producer last wrote a batch or
    /// called `InitProducerId`, ms since the Unix epoch, i64 LE. Written
    /// blind (no read conflict) by the offset transaction; the compactor
    /// expires producers idle longer than `producer_expiration`.
    ProducerActivity = 22,
    /// `(23, producer_id, topic_id: u128, partition: u32)` → empty. Every
    /// partition holding a [`Tag::ProducerState`] for the producer, written
    /// when that state is created, so expiry finds a producer's states
    /// without scanning every partition.
    ProducerPartitions = 23,
    /// `(24, gateway_id: u32)` → a live gateway's registration (JSON,
    /// [`crate::registry::GatewayRecord`]): its Kafka advertised address,
    /// zone and lease deadline. Renewed in the background; a gateway whose
    /// lease ran out is removed by the next live gateway that renews.
    Gateway = 24,
    /// `(25,)` → the last gateway id handed out, u32 LE. Ids are never
    /// reused, so a Kafka broker id always names one gateway process.
    GatewayIdCounter = 25,
    /// `(26,)` → the membership generation, i64 LE: advanced in the
    /// transaction that adds or removes any gateway, so one generation is
    /// one set of gateways. Kafka leader epochs are this generation, so a
    /// partition never has two leaders under one epoch.
    GatewayGeneration = 26,
    /// `(27, group: str)` → a Kafka classic-protocol group (JSON,
    /// [`crate::group::classic::ClassicGroupRecord`]): state, generation,
    /// rebalance round and deadline, chosen protocol and leader. Every join,
    /// round start and completion rewrites it, so members waiting at the
    /// JoinGroup/SyncGroup barrier watch this key.
    ClassicGroup = 27,
    /// `(28, group: str, member_id: str)` → a classic-protocol member (JSON,
    /// [`crate::group::classic::ClassicMember`]): session, the protocols it
    /// offered with their metadata, the round it rejoined in, its generation
    /// and the assignment bytes its leader gave it.
    ClassicMember = 28,
    /// `(29, user: str, mechanism: u16)` → a SASL/SCRAM credential (JSON,
    /// [`crate::credentials::ScramRecord`]): salt, iteration count, StoredKey
    /// and ServerKey (RFC 5802), never the password. `mechanism` is Kafka's
    /// number for it (1 SCRAM-SHA-256, 2 SCRAM-SHA-512). Every gateway's
    /// Kafka listener reads it when a client authenticates.
    ScramCredential = 29,
    /// `(30,)` → how many consumer groups the cluster has, u64 LE: a group
    /// counts once whichever protocols it has records under
    /// ([`Tag::GroupRecord`], [`Tag::ClassicGroup`]). Read and written only
    /// by the transactions that create or delete a group, which is where
    /// `max_groups` is enforced; absent until the first group is created
    /// (the first creation counts the groups already there).
    GroupCount = 30,
}

/// The key space of one Stratus cluster.
#[derive(Debug, Clone)]
pub struct KeySpace {
    root: Subspace,
}

impl KeySpace {
    /// The key space of the cluster named `cluster`.
    pub fn new(cluster: &str) -> Self {
        Self {
            root: Subspace::all().subspace(&("stratus", cluster)),
        }
    }

    pub fn topic_by_name(&self, name: &str) -> Vec<u8> {
        self.root.pack(&(Tag::TopicByName as u16, name))
    }

    /// `[begin, end)` covering every topic-by-name key.
    pub fn topics_by_name_range(&self) -> (Vec<u8>, Vec<u8>) {
        self.root.subspace(&(Tag::TopicByName as u16,)).range()
    }

    pub fn topic_by_id(&self, topic_id: u128) -> Vec<u8> {
        self.root.pack(&(Tag::TopicById as u16, topic_id))
    }

    pub fn partition_head(&self, topic_id: u128, partition: u32) -> Vec<u8> {
        self.root
            .pack(&(Tag::PartitionHead as u16, topic_id, partition))
    }

    /// Decodes the partition from a `(tag, topic_id, partition)` key.
    pub fn partition_of(&self, key: &[u8]) -> Option<u32> {
        self.root
            .unpack::<(u16, u128, u32)>(key)
            .ok()
            .map(|(_, _, partition)| partition)
    }

    pub fn log_start(&self, topic_id: u128, partition: u32) -> Vec<u8> {
        self.root.pack(&(Tag::LogStart as u16, topic_id, partition))
    }

    pub fn index_entry(&self, topic_id: u128, partition: u32, end_offset: i64) -> Vec<u8> {
        self.root
            .pack(&(Tag::Index as u16, topic_id, partition, end_offset))
    }

    /// `[begin, end)` covering the index entries whose end offset is greater than `offset`.
    pub fn index_from(&self, topic_id: u128, partition: u32, offset: i64) -> (Vec<u8>, Vec<u8>) {
        let (_, end) = self.index_range(topic_id, partition);
        (
            self.index_entry(topic_id, partition, offset.saturating_add(1)),
            end,
        )
    }

    /// `[begin, end)` covering every index entry of a partition.
    pub fn index_range(&self, topic_id: u128, partition: u32) -> (Vec<u8>, Vec<u8>) {
        self.root
            .subspace(&(Tag::Index as u16, topic_id, partition))
            .range()
    }

    /// Decodes the end offset from an index key of this key space.
    pub fn index_end_offset(&self, key: &[u8]) -> Option<i64> {
        self.root
            .unpack::<(u16, u128, u32, i64)>(key)
            .ok()
            .filter(|(tag, ..)| *tag == Tag::Index as u16)
            .map(|(_, _, _, end)| end)
    }

    pub fn time_index_entry(
        &self,
        topic_id: u128,
        partition: u32,
        running_max_timestamp: i64,
        end_offset: i64,
    ) -> Vec<u8> {
        self.root.pack(&(
            Tag::TimeIndex as u16,
            topic_id,
            partition,
            running_max_timestamp,
            end_offset,
        ))
    }

    /// `[begin, end)` covering the time index entries at or above `timestamp`.
    pub fn time_index_from(
        &self,
        topic_id: u128,
        partition: u32,
        timestamp: i64,
    ) -> (Vec<u8>, Vec<u8>) {
        let whole = self
            .root
            .subspace(&(Tag::TimeIndex as u16, topic_id, partition));
        let begin = whole.subspace(&(timestamp,)).bytes().to_vec();
        (begin, whole.range().1)
    }

    /// Decodes `(running_max_timestamp, end_offset)` from a time index key.
    pub fn time_index_decode(&self, key: &[u8]) -> Option<(i64, i64)> {
        self.root
            .unpack::<(u16, u128, u32, i64, i64)>(key)
            .ok()
            .filter(|(tag, ..)| *tag == Tag::TimeIndex as u16)
            .map(|(_, _, _, ts, end)| (ts, end))
    }

    /// `[begin, end)` covering every key of one tag for one topic.
    pub fn topic_range(&self, tag: Tag, topic_id: u128) -> (Vec<u8>, Vec<u8>) {
        self.root.subspace(&(tag as u16, topic_id)).range()
    }

    pub fn object_refs(&self, object_key: &str) -> Vec<u8> {
        self.root.pack(&(Tag::ObjectRefs as u16, object_key))
    }

    pub fn wal_commit(&self, object_key: &str) -> Vec<u8> {
        self.root.pack(&(Tag::WalCommit as u16, object_key))
    }

    pub fn garbage(&self, since_ms: i64, object_key: &str) -> Vec<u8> {
        self.root.pack(&(Tag::Garbage as u16, since_ms, object_key))
    }

    /// `[begin, end)` covering the garbage entries recorded before `before_ms`.
    pub fn garbage_before(&self, before_ms: i64) -> (Vec<u8>, Vec<u8>) {
        let whole = self.root.subspace(&(Tag::Garbage as u16,));
        let end = whole.subspace(&(before_ms,)).bytes().to_vec();
        (whole.range().0, end)
    }

    /// Decodes `(since_ms, object_key)` from a garbage key.
    pub fn garbage_decode(&self, key: &[u8]) -> Option<(i64, String)> {
        self.root
            .unpack::<(u16, i64, String)>(key)
            .ok()
            .filter(|(tag, ..)| *tag == Tag::Garbage as u16)
            .map(|(_, since, object)| (since, object))
    }

    pub fn compactor_lease(&self, shard: u32) -> Vec<u8> {
        self.root.pack(&(Tag::CompactorLease as u16, shard))
    }

    pub fn cleaned_up_to(&self, topic_id: u128, partition: u32) -> Vec<u8> {
        self.root
            .pack(&(Tag::CleanedUpTo as u16, topic_id, partition))
    }

    pub fn deleted_topic(&self, topic_id: u128) -> Vec<u8> {
        self.root.pack(&(Tag::DeletedTopic as u16, topic_id))
    }

    /// `[begin, end)` covering every deleted-topic key.
    pub fn deleted_topics_range(&self) -> (Vec<u8>, Vec<u8>) {
        self.root.subspace(&(Tag::DeletedTopic as u16,)).range()
    }

    /// Decodes the topic id from a deleted-topic key.
    pub fn deleted_topic_decode(&self, key: &[u8]) -> Option<u128> {
        self.root
            .unpack::<(u16, u128)>(key)
            .ok()
            .filter(|(tag, _)| *tag == Tag::DeletedTopic as u16)
            .map(|(_, id)| id)
    }

    pub fn gateway(&self, gateway_id: u32) -> Vec<u8> {
        self.root.pack(&(Tag::Gateway as u16, gateway_id))
    }

    /// `[begin, end)` covering every gateway registration.
    pub fn gateways_range(&self) -> (Vec<u8>, Vec<u8>) {
        self.root.subspace(&(Tag::Gateway as u16,)).range()
    }

    pub fn gateway_id_counter(&self) -> Vec<u8> {
        self.root.pack(&(Tag::GatewayIdCounter as u16,))
    }

    pub fn gateway_generation(&self) -> Vec<u8> {
        self.root.pack(&(Tag::GatewayGeneration as u16,))
    }

    pub fn producer_id_counter(&self) -> Vec<u8> {
        self.root.pack(&(Tag::ProducerIdCounter as u16,))
    }

    pub fn producer_epoch(&self, producer_id: i64) -> Vec<u8> {
        self.root.pack(&(Tag::ProducerEpoch as u16, producer_id))
    }

    pub fn producer_state(&self, topic_id: u128, partition: u32, producer_id: i64) -> Vec<u8> {
        self.root
            .pack(&(Tag::ProducerState as u16, topic_id, partition, producer_id))
    }

    pub fn producer_activity(&self, producer_id: i64) -> Vec<u8> {
        self.root.pack(&(Tag::ProducerActivity as u16, producer_id))
    }

    /// `[begin, end)` covering every producer's activity key.
    pub fn producer_activity_range(&self) -> (Vec<u8>, Vec<u8>) {
        self.root.subspace(&(Tag::ProducerActivity as u16,)).range()
    }

    /// Decodes the producer id from an activity key.
    pub fn producer_activity_decode(&self, key: &[u8]) -> Option<i64> {
        self.root
            .unpack::<(u16, i64)>(key)
            .ok()
            .filter(|(tag, _)| *tag == Tag::ProducerActivity as u16)
            .map(|(_, id)| id)
    }

    pub fn producer_partition(&self, producer_id: i64, topic_id: u128, partition: u32) -> Vec<u8> {
        self.root.pack(&(
            Tag::ProducerPartitions as u16,
            producer_id,
            topic_id,
            partition,
        ))
    }

    /// `[begin, end)` covering every partition a producer has state on.
    pub fn producer_partitions_range(&self, producer_id: i64) -> (Vec<u8>, Vec<u8>) {
        self.root
            .subspace(&(Tag::ProducerPartitions as u16, producer_id))
            .range()
    }

    /// Decodes `(topic_id, partition)` from a producer-partition key.
    pub fn producer_partition_decode(&self, key: &[u8]) -> Option<(u128, u32)> {
        self.root
            .unpack::<(u16, i64, u128, u32)>(key)
            .ok()
            .filter(|(tag, ..)| *tag == Tag::ProducerPartitions as u16)
            .map(|(_, _, topic_id, partition)| (topic_id, partition))
    }

    pub fn group(&self, group: &str) -> Vec<u8> {
        self.root.pack(&(Tag::GroupRecord as u16, group))
    }

    /// `[begin, end)` covering every group record.
    pub fn groups_range(&self) -> (Vec<u8>, Vec<u8>) {
        self.root.subspace(&(Tag::GroupRecord as u16,)).range()
    }

    /// Decodes the group id from a group-record key.
    pub fn group_decode(&self, key: &[u8]) -> Option<String> {
        self.root
            .unpack::<(u16, String)>(key)
            .ok()
            .filter(|(tag, _)| *tag == Tag::GroupRecord as u16)
            .map(|(_, group)| group)
    }

    pub fn group_count(&self) -> Vec<u8> {
        self.root.pack(&(Tag::GroupCount as u16,))
    }

    pub fn classic_group(&self, group: &str) -> Vec<u8> {
        self.root.pack(&(Tag::ClassicGroup as u16, group))
    }

    /// `[begin, end)` covering every classic group record.
    pub fn classic_groups_range(&self) -> (Vec<u8>, Vec<u8>) {
        self.root.subspace(&(Tag::ClassicGroup as u16,)).range()
    }

    /// Decodes the group id from a classic group key.
    pub fn classic_group_decode(&self, key: &[u8]) -> Option<String> {
        self.root
            .unpack::<(u16, String)>(key)
            .ok()
            .filter(|(tag, _)| *tag == Tag::ClassicGroup as u16)
            .map(|(_, group)| group)
    }

    pub fn classic_member(&self, group: &str, member_id: &str) -> Vec<u8> {
        self.root
            .pack(&(Tag::ClassicMember as u16, group, member_id))
    }

    /// `[begin, end)` covering every classic member of a group.
    pub fn classic_members_range(&self, group: &str) -> (Vec<u8>, Vec<u8>) {
        self.root
            .subspace(&(Tag::ClassicMember as u16, group))
            .range()
    }

    pub fn group_member(&self, group: &str, member_id: &str) -> Vec<u8> {
        self.root.pack(&(Tag::GroupMember as u16, group, member_id))
    }

    /// `[begin, end)` covering every member of a group.
    pub fn group_members_range(&self, group: &str) -> (Vec<u8>, Vec<u8>) {
        self.root
            .subspace(&(Tag::GroupMember as u16, group))
            .range()
    }

    pub fn group_offset(&self, group: &str, topic: &str, partition: u32) -> Vec<u8> {
        self.root
            .pack(&(Tag::GroupOffset as u16, group, topic, partition))
    }

    /// `[begin, end)` covering every committed offset of a group.
    pub fn group_offsets_range(&self, group: &str) -> (Vec<u8>, Vec<u8>) {
        self.root
            .subspace(&(Tag::GroupOffset as u16, group))
            .range()
    }

    /// Decodes `(topic, partition)` from a committed-offset key.
    pub fn group_offset_decode(&self, key: &[u8]) -> Option<(String, u32)> {
        self.root
            .unpack::<(u16, String, String, u32)>(key)
            .ok()
            .filter(|(tag, ..)| *tag == Tag::GroupOffset as u16)
            .map(|(_, _, topic, partition)| (topic, partition))
    }

    /// `[begin, end)` covering every topic-by-id key.
    pub fn trigger(&self, name: &str) -> Vec<u8> {
        self.root.pack(&(Tag::Trigger as u16, name))
    }

    /// `[begin, end)` covering every trigger definition.
    pub fn triggers_range(&self) -> (Vec<u8>, Vec<u8>) {
        self.root.subspace(&(Tag::Trigger as u16,)).range()
    }

    pub fn topics_by_id_range(&self) -> (Vec<u8>, Vec<u8>) {
        self.root.subspace(&(Tag::TopicById as u16,)).range()
    }

    pub fn scram_credential(&self, user: &str, mechanism: u16) -> Vec<u8> {
        self.root
            .pack(&(Tag::ScramCredential as u16, user, mechanism))
    }

    /// `[begin, end)` covering every SCRAM credential of every user.
    pub fn scram_credentials_range(&self) -> (Vec<u8>, Vec<u8>) {
        self.root.subspace(&(Tag::ScramCredential as u16,)).range()
    }

    /// `[begin, end)` covering the SCRAM credentials of one user.
    pub fn scram_user_range(&self, user: &str) -> (Vec<u8>, Vec<u8>) {
        self.root
            .subspace(&(Tag::ScramCredential as u16, user))
            .range()
    }

    /// Decodes `(user, mechanism)` from a SCRAM credential key.
    pub fn scram_credential_decode(&self, key: &[u8]) -> Option<(String, u16)> {
        self.root
            .unpack::<(u16, String, u16)>(key)
            .ok()
            .filter(|(tag, ..)| *tag == Tag::ScramCredential as u16)
            .map(|(_, user, mechanism)| (user, mechanism))
    }
}

/// Encodes an i64 the way FoundationDB's atomic `ADD` reads it.
pub fn encode_i64(value: i64) -> [u8; 8] {
    value.to_le_bytes()
}

/// Decodes an i64 written by [`encode_i64`] or an atomic add; a short value
/// is zero-extended, as FoundationDB does.
pub fn decode_i64(bytes: &[u8]) -> i64 {
    let mut buf = [0u8; 8];
    let n = bytes.len().min(8);
    buf[..n].copy_from_slice(&bytes[..n]);
    i64::from_le_bytes(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys are persisted: these bytes must never change.
    #[test]
    fn key_bytes_are_pinned() {
        let keys = KeySpace::new("c");
        let hex = |b: Vec<u8>| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        assert_eq!(
            hex(keys.topic_by_name("orders")),
            "0273747261747573000263001501026f726465727300",
            "persisted key layout changed: existing clusters would lose their data"
        );
        assert_eq!(
            hex(keys.index_entry(7, 3, 100)),
            "0273747261747573000263001505150715031564",
            "persisted key layout changed: existing clusters would lose their data"
        );
        assert_eq!(
            hex(keys.garbage(5, "wal/x")),
            "027374726174757300026300150915050277616c2f7800",
            "persisted key layout changed: existing clusters would lose their data"
        );
        assert_eq!(
            hex(keys.compactor_lease(2)),
            "027374726174757300026300150a1502",
            "persisted key layout changed: existing clusters would lose their data"
        );
        assert_eq!(
            hex(keys.cleaned_up_to(7, 3)),
            "027374726174757300026300150b15071503",
            "persisted key layout changed: existing clusters would lose their data"
        );
        assert_eq!(
            hex(keys.deleted_topic(7)),
            "027374726174757300026300150c1507",
            "persisted key layout changed: existing clusters would lose their data"
        );
        assert_eq!(
            hex(keys.producer_id_counter()),
            "027374726174757300026300150d",
            "persisted key layout changed: existing clusters would lose their data"
        );
        assert_eq!(
            hex(keys.producer_epoch(9)),
            "027374726174757300026300150e1509",
            "persisted key layout changed: existing clusters would lose their data"
        );
        assert_eq!(
            hex(keys.producer_state(7, 3, 9)),
            "027374726174757300026300150f150715031509",
            "persisted key layout changed: existing clusters would lose their data"
        );
        assert_eq!(
            hex(keys.producer_activity(9)),
            "02737472617475730002630015161509",
            "persisted key layout changed: existing clusters would lose their data"
        );
        assert_eq!(
            hex(keys.producer_partition(9, 7, 3)),
            "0273747261747573000263001517150915071503",
            "persisted key layout changed: existing clusters would lose their data"
        );
        assert_eq!(
            hex(keys.group("g")),
            "0273747261747573000263001510026700",
            "persisted key layout changed: existing clusters would lose their data"
        );
        assert_eq!(
            hex(keys.group_member("g", "m")),
            "0273747261747573000263001511026700026d00",
            "persisted key layout changed: existing clusters would lose their data"
        );
        assert_eq!(
            hex(keys.group_offset("g", "t", 3)),
            "02737472617475730002630015120267000274001503",
            "persisted key layout changed: existing clusters would lose their data"
        );
    }

    /// Tags are persisted: their numbers must never change.
    #[test]
    fn group_tags_are_pinned() {
        assert_eq!(Tag::GroupRecord as u16, 16);
        assert_eq!(Tag::GroupMember as u16, 17);
        assert_eq!(Tag::GroupOffset as u16, 18);
        assert_eq!(Tag::ClassicGroup as u16, 27);
        assert_eq!(Tag::ClassicMember as u16, 28);
        assert_eq!(Tag::GroupCount as u16, 30);
        let keys = KeySpace::new("c");
        let hex = |b: Vec<u8>| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        assert_eq!(hex(keys.group_count()), "027374726174757300026300151e");
        assert_eq!(
            hex(keys.classic_group("g")),
            "027374726174757300026300151b026700"
        );
        assert_eq!(
            hex(keys.classic_member("g", "m")),
            "027374726174757300026300151c026700026d00"
        );
        let (begin, end) = keys.classic_members_range("g");
        let member = keys.classic_member("g", "m");
        assert!(begin <= member && member < end);
        assert!(keys.classic_member("g2", "m") >= end);
        assert_eq!(
            keys.classic_group_decode(&keys.classic_group("g")),
            Some("g".into())
        );
        assert_eq!(keys.classic_group_decode(&keys.group("g")), None);
    }

    #[test]
    fn gateway_keys_are_pinned() {
        let keys = KeySpace::new("c");
        let hex = |b: Vec<u8>| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        assert_eq!(hex(keys.gateway(5)), "02737472617475730002630015181505");
        assert_eq!(
            hex(keys.gateway_id_counter()),
            "0273747261747573000263001519"
        );
        assert_eq!(
            hex(keys.gateway_generation()),
            "027374726174757300026300151a"
        );
    }

    #[test]
    fn scram_credential_key_is_pinned() {
        assert_eq!(Tag::ScramCredential as u16, 29);
        let keys = KeySpace::new("c");
        assert_eq!(
            keys.scram_credential("u", 2),
            b"\x02stratus\x00\x02c\x00\x15\x1d\x02u\x00\x15\x02".to_vec(),
            "persisted key layout changed: existing clusters would lose their users"
        );
        let (begin, end) = keys.scram_user_range("u");
        assert!(begin <= keys.scram_credential("u", 1) && keys.scram_credential("u", 2) < end);
        assert!(keys.scram_credential("u2", 1) >= end);
        let (all_begin, all_end) = keys.scram_credentials_range();
        assert!(all_begin <= begin && end <= all_end);
        assert_eq!(
            keys.scram_credential_decode(&keys.scram_credential("a,b", 1)),
            Some(("a,b".into(), 1))
        );
        assert_eq!(keys.scram_credential_decode(&keys.trigger("u")), None);
    }

    #[test]
    fn trigger_key_is_pinned() {
        assert_eq!(Tag::Trigger as u16, 19);
        let keys = KeySpace::new("c");
        assert_eq!(
            keys.trigger("t"),
            b"\x02stratus\x00\x02c\x00\x15\x13\x02t\x00".to_vec()
        );
        let (begin, end) = keys.triggers_range();
        assert!(begin < keys.trigger("") && keys.trigger("zzz") < end);
        assert!(keys.group("t") < begin || keys.group("t") >= end);
    }

    #[test]
    fn group_ranges_hold_their_keys_only() {
        let keys = KeySpace::new("c");
        let (begin, end) = keys.group_offsets_range("g");
        let inside = keys.group_offset("g", "t", 1);
        let other_group = keys.group_offset("g2", "t", 1);
        assert!(begin <= inside && inside < end);
        assert!(!(begin <= other_group && other_group < end));
        assert_eq!(keys.group_offset_decode(&inside), Some(("t".to_owned(), 1)));
        let (begin, end) = keys.group_members_range("g");
        let member = keys.group_member("g", "m");
        assert!(begin <= member && member < end);
        assert!(keys.group_member("g2", "m") >= end);
    }

    #[test]
    fn index_from_selects_the_chunk_holding_the_offset() {
        let keys = KeySpace::new("c");
        let (begin, end) = keys.index_from(1, 0, 99);
        // A chunk ending (exclusively) at 100 holds offset 99: it must be in range.
        let holding = keys.index_entry(1, 0, 100);
        let before = keys.index_entry(1, 0, 99);
        assert!(begin <= holding && holding < end);
        assert!(before < begin);
        assert_eq!(keys.index_end_offset(&holding), Some(100));
    }

    #[test]
    fn garbage_before_selects_older_entries() {
        let keys = KeySpace::new("c");
        let (begin, end) = keys.garbage_before(1_000);
        let older = keys.garbage(999, "wal/a");
        let at = keys.garbage(1_000, "wal/a");
        assert!(begin <= older && older < end);
        assert!(at >= end);
        assert_eq!(keys.garbage_decode(&older), Some((999, "wal/a".to_owned())));
    }

    #[test]
    fn time_index_from_includes_equal_timestamps() {
        let keys = KeySpace::new("c");
        let (begin, end) = keys.time_index_from(1, 0, 1_000);
        let at = keys.time_index_entry(1, 0, 1_000, 5);
        let below = keys.time_index_entry(1, 0, 999, 4);
        assert!(begin <= at && at < end);
        assert!(below < begin);
        assert_eq!(keys.time_index_decode(&at), Some((1_000, 5)));
    }
}
