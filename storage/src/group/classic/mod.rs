//! Kafka's classic consumer-group protocol (JoinGroup, SyncGroup,
//! Heartbeat, LeaveGroup, with client-side assignment), written over
//! metadata so that members connected to different gateways meet in one
//! generation and any gateway is every group's coordinator.
//!
//! The JoinGroup barrier is a *round*: the first join of a stable group
//! opens one (the group record's `round` advances, with a deadline of the
//! longest rebalance timeout); each member rejoins by writing its member
//! record with the round's number and rewriting the group record; the round
//! completes, in whichever transaction first sees that every member has
//! rejoined (or that the deadline passed, or that the missing members'
//! sessions ran out), by removing the absent members and bumping the
//! generation. Waiting members watch the group record, so they learn of the
//! completion from any gateway; they also wake at the deadline, since a
//! deadline passing writes nothing. SyncGroup waits the same way for the
//! leader's assignment.
//!
//! Member protocol metadata and assignments are opaque: stored as sent,
//! handed out as stored. Committed offsets are the group's one set
//! ([`crate::keys::Tag::GroupOffset`]), shared with Stratus groups; a group
//! name has one protocol at a time (see [`ClassicError::InconsistentProtocol`]).
//!
//! No network here: the Kafka listener maps [`ClassicError`] to codes.

pub(super) mod admin;
mod commit;
mod join;
mod offset_delete;
#[cfg(test)]
mod offset_delete_tests;
mod record;
pub(super) mod round;
mod static_member;
mod sync;
#[cfg(test)]
mod tests;

use std::time::Duration;

pub use admin::{ClassicDescription, ListedGroup, STRATUS_PROTOCOL_TYPE};
pub use commit::CommitRefusal;
pub use offset_delete::OffsetDeleteRefusal;
pub use record::{ClassicGroupRecord, ClassicMember, ClassicProtocol, ClassicState, Hex};

use super::GroupError;
use crate::limits::{MAX_CLASSIC_SESSION_TIMEOUT_MS, MIN_CLASSIC_SESSION_TIMEOUT_MS};
use stratus_meta::MetaError;

/// Longest a waiting join or sync sleeps before it looks again, whatever it
/// was told: a watch that never fires (a lost notification) or clocks of
/// two gateways that disagree cost at most this.
pub const BARRIER_POLL: Duration = Duration::from_millis(500);

/// A JoinGroup, in Stratus terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassicJoin {
    /// Empty for a member joining for the first time.
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: i64,
    pub rebalance_timeout_ms: i64,
    pub protocol_type: String,
    /// Name and metadata of each protocol, in the member's preference order.
    pub protocols: Vec<(String, Vec<u8>)>,
    /// JoinGroup v4+: a member without an id is given one and must rejoin
    /// with it (Kafka's MEMBER_ID_REQUIRED), so a retried first join never
    /// adds a second member.
    pub require_known_member_id: bool,
}

/// A member of a generation, as the leader is told of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerationMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    /// Its metadata for the chosen protocol.
    pub metadata: Vec<u8>,
}

/// A completed JoinGroup: the generation the member is now part of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinedGeneration {
    pub generation: i64,
    pub protocol_type: String,
    pub protocol: String,
    pub leader: String,
    pub member_id: String,
    /// Every member of the generation, for the leader only (empty for others).
    pub members: Vec<GenerationMember>,
}

/// Where a join stands after one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinStep {
    Joined(JoinedGeneration),
    /// The round is open; poll again (or when the group record changes) no
    /// later than `wake_at_ms`, passing `generation`.
    Waiting {
        member_id: String,
        generation: i64,
        wake_at_ms: i64,
    },
}

/// Where a sync stands after one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncStep {
    /// The member's assignment, as its leader sent it.
    Assigned {
        assignment: Vec<u8>,
        protocol_type: String,
        protocol: String,
    },
    /// The leader has not assigned yet; poll again no later than this.
    Waiting { wake_at_ms: i64 },
}

/// A SyncGroup, in Stratus terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassicSync {
    pub member_id: String,
    /// The static member's instance id (SyncGroup v3+), checked for fencing.
    pub group_instance_id: Option<String>,
    pub generation: i64,
    pub protocol_type: Option<String>,
    pub protocol: Option<String>,
    /// The leader's assignment for each member; empty from other members.
    pub assignments: Vec<(String, Vec<u8>)>,
}

/// One member a LeaveGroup names: by member id, or (static members, v3+)
/// by group instance id with an empty member id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaving {
    pub member_id: String,
    pub group_instance_id: Option<String>,
}

/// Why a classic-group operation was refused; each is one Kafka error code.
/// Messages say what to do.
#[derive(Debug, thiserror::Error)]
pub enum ClassicError {
    #[error(
        "member {member:?} is not in group {group:?} (its session expired, it left, or the group \
         was deleted); rejoin the group"
    )]
    UnknownMember { group: String, member: String },
    #[error(
        "group {group:?} is at generation {current}, not {given}; the group rebalanced: rejoin it"
    )]
    IllegalGeneration {
        group: String,
        given: i64,
        current: i64,
    },
    #[error(
        "group instance id {instance:?} of group {group:?} was taken over by a newer member with \
         the same group.instance.id; stop this one (two consumers must not share an instance id)"
    )]
    FencedInstanceId { group: String, instance: String },
    #[error("group {group:?} is rebalancing; rejoin it")]
    RebalanceInProgress { group: String },
    #[error("{0}")]
    InconsistentProtocol(String),
    /// Not a failure: the member's id, which it must rejoin with.
    #[error("rejoin with the member id {0:?} the group has given this member")]
    MemberIdRequired(String),
    #[error(
        "group {group:?} already has {limit} members; raise gateway.groups.max_members or use another group"
    )]
    GroupFull { group: String, limit: usize },
    #[error(
        "session timeout {0} ms is outside {MIN_CLASSIC_SESSION_TIMEOUT_MS}..={MAX_CLASSIC_SESSION_TIMEOUT_MS} ms; \
         set session.timeout.ms inside it"
    )]
    InvalidSessionTimeout(i64),
    #[error("{0}")]
    InvalidRequest(String),
    #[error(
        "group {group:?} has {members} active members; stop them (or wait for their sessions to expire) first"
    )]
    NotEmpty { group: String, members: usize },
    #[error("group {group:?} not found; it has no members and no committed offsets")]
    NotFound { group: String },
    #[error(transparent)]
    Group(#[from] GroupError),
}

impl From<MetaError> for ClassicError {
    fn from(e: MetaError) -> Self {
        Self::Group(GroupError::Meta(e))
    }
}

/// Nested results of a transaction body: the store's error outside, the
/// operation's refusal inside (so a refusal commits nothing and is not retried).
type Step<T> = Result<Result<T, ClassicError>, MetaError>;
