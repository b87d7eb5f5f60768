//! The seam between the Kafka listener and the rest of Stratus: what a Kafka
//! request may ask of the cluster, in Stratus terms.
//!
//! The gateway implements [`Broker`] over its services (the same produce and
//! fetch paths as gRPC and QUIC); tests implement it in memory. This module
//! must never mention a Kafka message type or an error code: the handlers
//! translate requests into these calls, and `error.rs` maps [`BrokerError`]
//! to codes.

mod model;

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use async_trait::async_trait;
use futures::FutureExt;
use futures::future::BoxFuture;

pub use model::*;
pub use stratus_storage::group::classic::{
    ClassicDescription, ClassicJoin, ClassicMember, ClassicState, ClassicSync, GenerationMember,
    JoinedGeneration, Leaving, ListedGroup, SyncStep,
};
pub use stratus_storage::group::{CommitOffset, Committed, GroupDescription, Strategy};

use crate::BrokerError;
use crate::sasl::{ScramCredential, ScramMechanism, ScramUser};

/// A produce handed to the write path and not yet durable: resolves once the
/// WAL object is written and the offsets are committed (or they failed).
///
/// Dropping it must not cancel the write: acks=0 produces and closed
/// connections drop theirs, and an accepted batch is written anyway.
pub struct PendingAppend(BoxFuture<'static, Result<Appended, BrokerError>>);

impl PendingAppend {
    /// Waits for `durable`.
    pub fn new(
        durable: impl Future<Output = Result<Appended, BrokerError>> + Send + 'static,
    ) -> Self {
        Self(durable.boxed())
    }

    /// An outcome already known (a refusal, or an in-memory broker).
    pub fn ready(outcome: Result<Appended, BrokerError>) -> Self {
        Self(futures::future::ready(outcome).boxed())
    }
}

impl fmt::Debug for PendingAppend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PendingAppend")
    }
}

impl Future for PendingAppend {
    type Output = Result<Appended, BrokerError>;

    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        self.0.poll_unpin(cx)
    }
}

/// What the Kafka listener needs from a Stratus cluster. One value serves
/// every connection, concurrently.
///
/// Methods that act on one partition or one topic are called once per item,
/// concurrently, so one item's failure is that item's error only. An `Err`
/// from a method applies to that item (or, for [`Broker::cluster`] and
/// [`Broker::fetch`], to the whole request).
#[async_trait]
pub trait Broker: Send + Sync + 'static {
    /// The cluster id, controller and live gateways.
    async fn cluster(&self) -> Result<ClusterView, BrokerError>;

    /// The topics asked for that exist, with their partitions' leaders.
    /// Topics that do not exist are left out, not errors.
    async fn topics(&self, query: TopicQuery) -> Result<Vec<TopicInfo>, BrokerError>;

    /// As [`Broker::topics`], with leaders chosen for a client in `zone`
    /// (among the gateways of that zone when it has any).
    async fn topics_in_zone(
        &self,
        query: TopicQuery,
        zone: Option<&str>,
    ) -> Result<Vec<TopicInfo>, BrokerError> {
        let _ = zone;
        self.topics(query).await
    }

    /// Validates one partition's batches and hands them to the write path.
    ///
    /// Returns as soon as the batches are accepted, in call order: calls for
    /// one connection are made one request at a time, in the order the
    /// requests arrived, so a partition's batches keep their order (and an
    /// idempotent producer's sequence numbers stay in order) while the waits
    /// for durability overlap. A refusal is an `Err` here or from the
    /// [`PendingAppend`].
    async fn produce(&self, batch: ProduceBatch) -> Result<PendingAppend, BrokerError>;

    /// Reads from many partitions at once, waiting up to `max_wait` for
    /// `min_bytes`. Returns one outcome per partition of `query`, in order.
    async fn fetch(
        &self,
        query: FetchQuery,
    ) -> Result<Vec<Result<FetchedPartition, BrokerError>>, BrokerError>;

    /// Finds an offset of one partition. `Ok(None)`: no record matches (a
    /// timestamp after every record).
    async fn list_offsets(
        &self,
        topic: &str,
        partition: i32,
        spec: OffsetSpec,
    ) -> Result<Option<ListedOffset>, BrokerError>;

    /// Creates one topic; with `validate_only`, only checks that it could be
    /// created (the returned id may then be nil).
    async fn create_topic(
        &self,
        topic: NewTopic,
        validate_only: bool,
    ) -> Result<TopicInfo, BrokerError>;

    /// Deletes one topic.
    async fn delete_topic(&self, topic: TopicRef) -> Result<DeletedTopic, BrokerError>;

    /// Grows a topic to `total` partitions.
    async fn create_partitions(
        &self,
        topic: &str,
        total: u32,
        validate_only: bool,
    ) -> Result<(), BrokerError>;

    /// The configs of one resource; `keys` limits the answer to those names.
    async fn describe_configs(
        &self,
        resource: ConfigResource,
        keys: Option<Vec<String>>,
    ) -> Result<Vec<ConfigEntry>, BrokerError>;

    /// Applies changes to one resource's configs, all or none.
    async fn alter_configs(
        &self,
        resource: ConfigResource,
        changes: Vec<ConfigChange>,
        validate_only: bool,
    ) -> Result<(), BrokerError>;

    /// A producer id for an idempotent producer. `existing`: the producer's
    /// current identity, when it asks for an epoch bump.
    async fn init_producer_id(
        &self,
        existing: Option<ProducerIdentity>,
    ) -> Result<ProducerIdentity, BrokerError>;

    /// Moves one partition's log start forward; returns the new log start
    /// offset (Kafka's low watermark).
    async fn delete_records(
        &self,
        topic: &str,
        partition: i32,
        before: DeleteBefore,
    ) -> Result<i64, BrokerError>;

    // Consumer groups. State is in metadata, so every gateway coordinates
    // every group; the defaults answer that this broker has no groups.

    /// The gateway clients should use as `group`'s coordinator.
    async fn find_coordinator(&self, group: &str) -> Result<BrokerNode, BrokerError> {
        Err(no_groups(group))
    }

    /// JoinGroup: resolves once the member's round completes.
    async fn join_group(
        &self,
        group: &str,
        join: ClassicJoin,
    ) -> Result<JoinedGeneration, BrokerError> {
        let _ = join;
        Err(no_groups(group))
    }

    /// SyncGroup: resolves with the member's assignment once the leader gave it.
    async fn sync_group(&self, group: &str, sync: ClassicSync) -> Result<SyncStep, BrokerError> {
        let _ = sync;
        Err(no_groups(group))
    }

    /// Heartbeat of a classic member.
    async fn heartbeat(
        &self,
        group: &str,
        member_id: &str,
        group_instance_id: Option<&str>,
        generation: i64,
    ) -> Result<(), BrokerError> {
        let _ = (member_id, group_instance_id, generation);
        Err(no_groups(group))
    }

    /// LeaveGroup: one outcome per member (its id when it left).
    async fn leave_group(
        &self,
        group: &str,
        leaving: Vec<Leaving>,
    ) -> Result<Vec<Result<String, BrokerError>>, BrokerError> {
        let _ = leaving;
        Err(no_groups(group))
    }

    /// ConsumerGroupHeartbeat (KIP-848): join, stay or leave a group whose
    /// partitions the server assigns.
    async fn consumer_heartbeat(
        &self,
        group: &str,
        heartbeat: ConsumerHeartbeat,
    ) -> Result<ConsumerAssignment, BrokerError> {
        let _ = heartbeat;
        Err(no_groups(group))
    }

    /// ConsumerGroupDescribe of one group of the consumer-group protocol;
    /// `None` when there is no such group (a classic one is not).
    async fn describe_consumer_group(
        &self,
        group: &str,
    ) -> Result<Option<GroupDescription>, BrokerError> {
        Err(no_groups(group))
    }

    /// OffsetCommit: one outcome per offset, in order.
    async fn commit_offsets(
        &self,
        group: &str,
        member_id: &str,
        group_instance_id: Option<&str>,
        generation: i64,
        offsets: Vec<CommitOffset>,
    ) -> Result<Vec<Result<(), BrokerError>>, BrokerError> {
        let _ = (member_id, group_instance_id, generation, offsets);
        Err(no_groups(group))
    }

    /// OffsetFetch: the group's committed offsets of `topics` (all when empty).
    async fn fetch_offsets(
        &self,
        group: &str,
        topics: Vec<String>,
    ) -> Result<Vec<Committed>, BrokerError> {
        let _ = topics;
        Err(no_groups(group))
    }

    /// DescribeGroups of one group; `None` when it does not exist.
    async fn describe_group(&self, group: &str) -> Result<Option<ClassicDescription>, BrokerError> {
        Err(no_groups(group))
    }

    /// ListGroups: every group of either protocol.
    async fn list_groups(&self) -> Result<Vec<ListedGroup>, BrokerError> {
        Err(no_groups(""))
    }

    /// OffsetDelete: one outcome per partition, in order.
    async fn delete_offsets(
        &self,
        group: &str,
        partitions: Vec<(String, u32)>,
    ) -> Result<Vec<Result<(), BrokerError>>, BrokerError> {
        let _ = partitions;
        Err(no_groups(group))
    }

    /// DeleteGroups of one group (no live members), with its offsets.
    async fn delete_group(&self, group: &str) -> Result<(), BrokerError> {
        Err(no_groups(group))
    }

    // SASL/SCRAM users. Credentials live in metadata, so every gateway
    // authenticates every user; the defaults answer that this broker keeps
    // none (every login fails, administration is refused).

    /// The credential of `user` for `mechanism`; `None` when it has none.
    async fn scram_credential(
        &self,
        user: &str,
        mechanism: ScramMechanism,
    ) -> Result<Option<ScramCredential>, BrokerError> {
        let _ = (user, mechanism);
        Ok(None)
    }

    /// The users that have SCRAM credentials, by name; `users` limits the
    /// answer (users without credentials are left out).
    async fn scram_users(&self, users: Option<Vec<String>>) -> Result<Vec<ScramUser>, BrokerError> {
        let _ = users;
        Err(no_users())
    }

    /// Stores (`Some`) or deletes (`None`) one credential of `user`.
    /// Deleting one that does not exist is `ResourceNotFound`.
    async fn alter_scram_credential(
        &self,
        user: &str,
        mechanism: ScramMechanism,
        credential: Option<ScramCredential>,
    ) -> Result<(), BrokerError> {
        let _ = (user, mechanism, credential);
        Err(no_users())
    }
}

fn no_users() -> BrokerError {
    BrokerError::ClusterAuthorizationFailed("this broker keeps no SCRAM users".into())
}

fn no_groups(group: &str) -> BrokerError {
    BrokerError::CoordinatorNotAvailable(format!(
        "this broker serves no consumer groups (asked for {group:?})"
    ))
}
