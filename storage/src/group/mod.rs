//! Consumer groups, written once above [`MetaStore`]: members with session
//! deadlines, a generation bumped by every membership change, server-side
//! assignment (sticky or range), cooperative hand-off of moved partitions,
//! and committed offsets fenced by generation.
//!
//! All state is in metadata, so any gateway serves any member and no
//! gateway leads a group: whichever gateway handles a join or heartbeat
//! removes members whose session deadline passed and rebalances, inside the
//! same transaction. A partition that moves is handed to its new member only
//! after the old one reports (in a heartbeat) that it stopped consuming it, or
//! its session expires, so no partition is consumed by two live members.
//!
//! This module never talks to the network; the gateway maps [`GroupError`]
//! to status codes.

pub mod assign;
mod census;
pub mod classic;
mod membership;
mod offsets;
mod record;
mod state;
mod static_member;

use std::sync::Arc;

use crate::keys::KeySpace;
use stratus_meta::{MetaError, MetaStore, RetryPolicy};

pub use membership::JoinSpec;
pub use offsets::{CommitOffset, Committed};
pub use record::{Assignment, GroupRecord, MemberRecord, OffsetRecord, Strategy, holds, normalize};

pub use crate::limits::{MAX_ID_LEN, MAX_OFFSET_METADATA_BYTES};

/// Limits every group operation enforces; the default is in [`crate::limits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupLimits {
    /// Most live members one group may have.
    pub max_members: usize,
    /// Most groups the cluster may have, whatever their protocol.
    pub max_groups: usize,
    /// Largest protocol metadata one Kafka classic member may offer, all
    /// its protocols together.
    pub max_member_metadata_bytes: usize,
    /// Largest assignment a classic group's leader may give one member.
    pub max_assignment_bytes: usize,
}

impl Default for GroupLimits {
    fn default() -> Self {
        Self {
            max_members: crate::limits::DEFAULT_MAX_GROUP_MEMBERS,
            max_groups: crate::limits::DEFAULT_MAX_GROUPS,
            max_member_metadata_bytes: crate::limits::DEFAULT_CLASSIC_METADATA_BYTES,
            max_assignment_bytes: crate::limits::DEFAULT_CLASSIC_ASSIGNMENT_BYTES,
        }
    }
}

/// What a member is told after a join or heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberState {
    pub member_id: String,
    pub generation: i64,
    /// Partitions the member may consume now.
    pub assignment: Assignment,
    /// Partitions the strategy gives it that another member still holds;
    /// they arrive in a later heartbeat once released.
    pub pending: Assignment,
    pub session_timeout_ms: i64,
    pub strategy: Strategy,
    /// The member's subscription: topic names, and the regular expression
    /// they were resolved from, if any.
    pub topics: Vec<String>,
    pub topic_regex: Option<String>,
}

/// A group in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSummary {
    pub group: String,
    pub generation: i64,
    /// The server's strategy (a classic group's assignor is in `kind`).
    pub strategy: Strategy,
    pub members: usize,
    /// Subscribed topics; of a classic group, the topics it has committed
    /// offsets for (its subscriptions are opaque to the server).
    pub topics: Vec<String>,
    pub kind: GroupKind,
}

/// Which protocol a group's members speak.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupKind {
    /// Server-assigned: Stratus SDK members and Kafka's consumer protocol
    /// (KIP-848).
    Assigned,
    /// Kafka's classic protocol, assigned by the leader member: its
    /// protocol type (`consumer`, `connect`, ...) and chosen assignor, empty
    /// while no generation is complete.
    Classic {
        protocol_type: String,
        protocol: String,
    },
}

/// Everything known about a group: live members and committed offsets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    pub group: String,
    pub record: GroupRecord,
    pub members: Vec<MemberRecord>,
    pub offsets: Vec<Committed>,
}

/// Why a group operation was refused. Messages say what to do.
#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    #[error(
        "group id is empty or longer than {MAX_ID_LEN} bytes, or has control characters; choose another"
    )]
    InvalidGroupId,
    #[error(
        "member id {0:?} is longer than {MAX_ID_LEN} bytes or has control characters; let the server choose one"
    )]
    InvalidMemberId(String),
    #[error("group {group:?} not found; it has no members and no committed offsets")]
    GroupNotFound { group: String },
    #[error(
        "member {member:?} is not in group {group:?} (its session expired or it left); rejoin the group"
    )]
    UnknownMember { group: String, member: String },
    #[error(
        "member {member:?} of group {group:?} used generation {given}, but its current generation is {current}; \
         the group rebalanced: rejoin (or heartbeat) to get the current assignment"
    )]
    StaleGeneration {
        group: String,
        member: String,
        given: i64,
        current: i64,
    },
    #[error(
        "member {member:?} of group {group:?} is not assigned {topic}/{partition}; \
         rejoin to get the current assignment and commit only partitions it holds"
    )]
    NotAssigned {
        group: String,
        member: String,
        topic: String,
        partition: u32,
    },
    #[error(
        "group {group:?} has {members} active members; stop them (or wait for their sessions to expire) first"
    )]
    GroupNotEmpty { group: String, members: usize },
    #[error(
        "group {group:?} already has {limit} members; raise gateway.groups.max_members or use another group"
    )]
    TooManyMembers { group: String, limit: usize },
    #[error(
        "the cluster already has {limit} consumer groups; delete groups no longer used \
         (`stratus group delete`, kafka-consumer-groups --delete) or raise gateway.groups.max_groups"
    )]
    TooManyGroups { limit: usize },
    #[error(
        "group {group:?} uses the {current} assignment strategy; join with --strategy {current} \
         or stop its members before changing it"
    )]
    StrategyMismatch {
        group: String,
        current: &'static str,
    },
    #[error(
        "group {group:?} has {members} live Kafka (classic protocol) members; a group uses one \
         protocol at a time: stop them or use another group id"
    )]
    ProtocolMismatch { group: String, members: usize },
    #[error(
        "group instance id {instance:?} of group {group:?} is held by member {member:?}, which has \
         not left; stop that consumer first (two consumers must not share a group.instance.id)"
    )]
    UnreleasedInstance {
        group: String,
        instance: String,
        member: String,
    },
    #[error("topic {name:?} not found; create it with `stratus topic create {name}`")]
    TopicNotFound { name: String },
    #[error("partition {partition} does not exist: topic {topic:?} has partitions 0..{partitions}")]
    PartitionNotFound {
        topic: String,
        partition: u32,
        partitions: u32,
    },
    #[error("{0}")]
    InvalidArgument(String),
    #[error("group metadata is corrupt: {0}")]
    Corrupt(String),
    #[error("metadata store: {0}")]
    Meta(#[from] MetaError),
}

/// The consumer groups of one cluster. Cheap to share.
#[derive(Debug, Clone)]
pub struct Groups {
    meta: Arc<dyn MetaStore>,
    keys: KeySpace,
    retry: RetryPolicy,
    limits: GroupLimits,
    /// How long the first round of an empty classic group waits for more
    /// members (Kafka's `group.initial.rebalance.delay.ms`).
    initial_rebalance_delay_ms: i64,
}

impl Groups {
    pub fn new(meta: Arc<dyn MetaStore>, keys: KeySpace, limits: GroupLimits) -> Self {
        Self {
            meta,
            keys,
            retry: RetryPolicy::default(),
            limits,
            initial_rebalance_delay_ms: crate::limits::CLASSIC_INITIAL_REBALANCE_DELAY_MS,
        }
    }

    /// The same groups with another initial rebalance delay (tests use 0).
    pub fn with_initial_rebalance_delay_ms(mut self, ms: i64) -> Self {
        self.initial_rebalance_delay_ms = ms.max(0);
        self
    }

    pub fn limits(&self) -> GroupLimits {
        self.limits
    }
}

/// Checks a group id: 1 to [`MAX_ID_LEN`] bytes, no control characters.
pub fn validate_group_id(group: &str) -> Result<(), GroupError> {
    if group.is_empty() || group.len() > MAX_ID_LEN || group.chars().any(char::is_control) {
        return Err(GroupError::InvalidGroupId);
    }
    Ok(())
}

fn validate_member_id(member: &str) -> Result<(), GroupError> {
    if member.len() > MAX_ID_LEN || member.chars().any(char::is_control) {
        return Err(GroupError::InvalidMemberId(member.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
