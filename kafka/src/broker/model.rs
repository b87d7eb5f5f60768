//! The values [`Broker`](crate::Broker) methods take and return, in Stratus
//! terms: gateways, topics with stable ids, partitions, batches as bytes.
//!
//! No Kafka message type appears here, so the gateway can implement the trait
//! over its services without knowing the wire protocol; the handlers do the
//! translation. Nothing here may do I/O.

use std::time::Duration;

use bytes::Bytes;
use uuid::Uuid;

/// The cluster as clients see it: gateways are Kafka brokers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterView {
    /// Cluster id (Kafka's `cluster.id`).
    pub cluster_id: String,
    /// The gateway reported as controller (admin clients send some requests
    /// there); any live gateway will do.
    pub controller_id: i32,
    /// Live gateways.
    pub brokers: Vec<BrokerNode>,
}

/// One gateway's Kafka endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerNode {
    /// Broker id, stable for the gateway's registration.
    pub id: i32,
    /// Advertised host.
    pub host: String,
    /// Advertised Kafka port.
    pub port: u16,
    /// Zone of the gateway (Kafka's rack).
    pub rack: Option<String>,
}

/// A topic named by name or by id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TopicRef {
    /// By name.
    Name(String),
    /// By stable topic id.
    Id(Uuid),
}

/// Which topics a lookup wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicQuery {
    /// Every topic.
    All,
    /// These topics; the ones that do not exist are left out of the answer.
    Only(Vec<TopicRef>),
}

/// A topic and where its partitions are led.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    /// Name.
    pub name: String,
    /// Stable, non-nil topic id.
    pub id: Uuid,
    /// Partitions in index order, `0..n`.
    pub partitions: Vec<PartitionInfo>,
}

/// A partition's leader: the gateway clients should send it to. Any gateway
/// accepts any partition; the leader only spreads load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionInfo {
    /// Partition index.
    pub index: i32,
    /// Broker id of the leading gateway.
    pub leader_id: i32,
    /// Leader epoch: changes whenever the leader does, never goes back.
    pub leader_epoch: i32,
}

/// Kafka's `acks`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acks {
    /// 0: the client wants no answer. The batch is still written.
    None,
    /// 1: answer when the leader has it. In Stratus the same as `All`.
    Leader,
    /// -1: answer when durable.
    All,
}

/// One partition's records from a Produce request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProduceBatch {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// The record batches exactly as sent (RecordBatch v2 expected, any
    /// codec). Validation (magic, CRC, sizes, producer fields) is the
    /// broker's.
    pub records: Bytes,
    /// What the client waits for.
    pub acks: Acks,
    /// The client's `timeout_ms`.
    pub timeout: Duration,
}

/// A produce that is durable and has offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Offset of the first record.
    pub base_offset: i64,
    /// Broker-set timestamp (ms), if the topic uses log-append time.
    pub log_append_time_ms: Option<i64>,
    /// The partition's log start offset after the append.
    pub log_start_offset: i64,
}

/// A Fetch request in Stratus terms (topic ids already resolved to names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchQuery {
    /// Partitions to read, in request order.
    pub partitions: Vec<FetchPartition>,
    /// Most bytes to return in total (the broker applies its own cap too).
    /// At least one batch is returned if any is there, even if larger.
    pub max_bytes: u32,
    /// Wait until this many bytes are there, or `max_wait` passes.
    pub min_bytes: u32,
    /// Longest wait for `min_bytes`.
    pub max_wait: Duration,
}

/// One partition of a fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchPartition {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// First offset wanted.
    pub offset: i64,
    /// Most bytes from this partition.
    pub max_bytes: u32,
}

/// What a fetch read from one partition.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FetchedPartition {
    /// The partition's next offset (Kafka's high watermark).
    pub high_watermark: i64,
    /// The partition's first offset still readable.
    pub log_start_offset: i64,
    /// Record batches as stored, base offsets patched, in offset order. The
    /// first may start before the requested offset; clients skip the rest.
    pub batches: Vec<Bytes>,
}

/// Which offset ListOffsets wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSpec {
    /// The log start offset (Kafka -2, and -4 "earliest local": all of a
    /// Stratus log is equally local).
    Earliest,
    /// The next offset to be written (Kafka -1).
    Latest,
    /// The record with the largest timestamp (Kafka -3).
    MaxTimestamp,
    /// The first record with a timestamp at or after this (ms).
    Timestamp(i64),
}

/// An offset found by ListOffsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListedOffset {
    /// The offset.
    pub offset: i64,
    /// The timestamp of the record found (`Timestamp`, `MaxTimestamp`).
    pub timestamp_ms: Option<i64>,
    /// The partition's leader epoch, if known.
    pub leader_epoch: Option<i32>,
}

/// A topic to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTopic {
    /// Name (the broker checks the naming rules).
    pub name: String,
    /// Partition count, at least 1.
    pub partitions: u32,
    /// The replication factor the client asked for, if it asked. Stratus
    /// durability does not depend on it; the broker decides what it accepts.
    pub replication_factor: Option<i16>,
    /// Topic config overrides; a `None` value means the default.
    pub configs: Vec<(String, Option<String>)>,
}

/// A deleted topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedTopic {
    /// Its name.
    pub name: String,
    /// Its id.
    pub id: Uuid,
}

/// Something that has configs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigResource {
    /// A topic, by name.
    Topic(String),
    /// A broker (gateway) by id as a decimal string; empty is the cluster
    /// default.
    Broker(String),
}

/// Where a config value comes from (Kafka's `config_source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource {
    /// Set on the topic.
    Topic,
    /// Set dynamically on the broker.
    DynamicBroker,
    /// From the broker's static settings.
    StaticBroker,
    /// The built-in default.
    Default,
}

/// The type of a config value (Kafka's `config_type`, DescribeConfigs v3+).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigKind {
    /// Not known.
    Unknown,
    /// true or false.
    Boolean,
    /// Free text.
    String,
    /// A 32-bit integer.
    Int,
    /// A 64-bit integer.
    Long,
    /// A floating-point number.
    Double,
    /// A comma-separated list.
    List,
    /// A secret, never shown.
    Password,
}

/// One config and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    /// Kafka config name, e.g. `retention.ms`.
    pub name: String,
    /// Its value; `None` for sensitive ones.
    pub value: Option<String>,
    /// Where the value comes from.
    pub source: ConfigSource,
    /// Whether it can be altered.
    pub read_only: bool,
    /// Whether the value is a secret.
    pub sensitive: bool,
    /// Its type.
    pub kind: ConfigKind,
    /// What it does, for `include_documentation`.
    pub documentation: Option<String>,
}

/// One change of IncrementalAlterConfigs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigChange {
    /// Set `name` to the value.
    Set(String, String),
    /// Remove the override of `name` (back to its default).
    Delete(String),
    /// Add values to the list config `name`.
    Append(String, String),
    /// Remove values from the list config `name`.
    Subtract(String, String),
}

/// An idempotent producer's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerIdentity {
    /// Producer id.
    pub id: i64,
    /// Producer epoch.
    pub epoch: i16,
}

/// Where DeleteRecords moves the log start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteBefore {
    /// Delete everything before this offset.
    Offset(i64),
    /// Delete everything written so far (Kafka's -1).
    HighWatermark,
}

/// Partitions by topic name, as a consumer-group member holds them.
pub type TopicPartitions = std::collections::BTreeMap<String, Vec<u32>>;

/// One heartbeat of a member of the consumer-group protocol (KIP-848),
/// where the server assigns partitions: it joins (epoch 0), keeps its
/// session and acknowledges what it owns (epoch > 0), or leaves (epoch < 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerHeartbeat {
    /// The member's id; empty on a first join where the server chooses.
    pub member_id: String,
    /// 0 to join, the epoch last given to stay, -1 or -2 to leave.
    pub member_epoch: i32,
    /// The client's `client.id`, which starts a member id the server chooses.
    pub client_id: String,
    /// Subscribed topics; `None`: unchanged since the last heartbeat.
    pub topics: Option<Vec<String>>,
    /// Subscription by regular expression (matching whole topic names);
    /// `None`: unchanged, `Some("")`: none (the member subscribes by name).
    pub topic_regex: Option<String>,
    /// What the member consumes now; `None`: unchanged since the last report.
    pub owned: Option<TopicPartitions>,
    /// The assignor asked for (`uniform`, `range`); `None`: the group's.
    pub assignor: Option<String>,
    /// `group.instance.id` of a static member; `None`: dynamic, or
    /// unchanged since it joined.
    pub instance_id: Option<String>,
}

/// What a consumer-group member is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerAssignment {
    /// The member's id (chosen by the server on a first join without one).
    pub member_id: String,
    /// The epoch to send next; -1 once the member left.
    pub member_epoch: i32,
    /// How often the member should heartbeat.
    pub heartbeat_interval: Duration,
    /// The partitions it may consume now; `None` once it left.
    pub assignment: Option<TopicPartitions>,
}
