//! [`GroupConfig`]: how a group member consumes and commits.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::limits::{DEFAULT_AUTO_COMMIT_INTERVAL, DEFAULT_FETCH_WAIT, MAX_GROUP_FETCH_WAIT};

/// How the gateway divides a group's partitions among its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Assignor {
    /// Moves as few partitions as possible when members come and go; a
    /// partition moves only once its old owner has released it.
    #[default]
    Sticky,
    /// Kafka's range assignor: contiguous ranges per topic, members in id order.
    Range,
}

/// Where a member starts in a partition the group has no committed offset for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartFrom {
    /// The first record still kept (Kafka's `auto.offset.reset=earliest`).
    #[default]
    Earliest,
    /// Only records produced from now on.
    Latest,
}

/// Configuration of a [`GroupConsumer`](super::GroupConsumer).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GroupConfig {
    /// The group to join.
    pub group: String,
    /// Topics to consume.
    pub topics: Vec<String>,
    /// Shown in `stratus group describe`.
    pub client_id: String,
    /// A member whose heartbeats stop for this long loses its partitions;
    /// `None` takes the gateway's default.
    pub session_timeout: Option<Duration>,
    pub assignor: Assignor,
    /// Commit what `poll` returned this often, and before a partition is
    /// given up; `None` commits only when [`commit`](super::GroupConsumer::commit)
    /// or [`commit_offsets`](super::GroupConsumer::commit_offsets) is called.
    pub auto_commit: Option<Duration>,
    pub start: StartFrom,
    /// Longest a fetch waits at the end of a partition.
    pub fetch_wait: Duration,
    /// Soft limit on the record bytes of one fetch; 0 takes the gateway's.
    pub max_fetch_bytes: u32,
}

impl GroupConfig {
    /// Defaults: sticky assignment, auto-commit every 5 s, start at the
    /// earliest record, the gateway's session timeout.
    pub fn new<T: Into<String>>(
        group: impl Into<String>,
        topics: impl IntoIterator<Item = T>,
    ) -> Self {
        Self {
            group: group.into(),
            topics: topics.into_iter().map(Into::into).collect(),
            client_id: "stratus-sdk".to_owned(),
            session_timeout: None,
            assignor: Assignor::Sticky,
            auto_commit: Some(DEFAULT_AUTO_COMMIT_INTERVAL),
            start: StartFrom::Earliest,
            fetch_wait: DEFAULT_FETCH_WAIT,
            max_fetch_bytes: 0,
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.group.is_empty() {
            return Err(Error::Config(
                "the group name is empty; name the group".to_owned(),
            ));
        }
        if self.topics.is_empty() || self.topics.iter().any(String::is_empty) {
            return Err(Error::Config(
                "a group member needs at least one topic, and topic names cannot be empty"
                    .to_owned(),
            ));
        }
        if self.auto_commit.is_some_and(|d| d.is_zero()) {
            return Err(Error::Config(
                "auto_commit interval is zero; use None for manual commits or a positive interval"
                    .to_owned(),
            ));
        }
        if self.fetch_wait > MAX_GROUP_FETCH_WAIT {
            return Err(Error::Config(format!(
                "fetch_wait {:?} is longer than {} s; a member must poll often enough to see rebalances",
                self.fetch_wait,
                MAX_GROUP_FETCH_WAIT.as_secs()
            )));
        }
        Ok(())
    }
}
