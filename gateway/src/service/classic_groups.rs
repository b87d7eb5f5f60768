//! Kafka classic-protocol groups as the `Groups` service shows them (`stratus
//! group list` and `describe`): their members, Kafka's states, and the
//! committed offsets and lag every group has, so one tool shows every group
//! of the cluster whatever protocol its members speak.

use stratus_proto::v1::{DescribeGroupResponse, GroupMember};
use stratus_storage::group::GroupKind;
use stratus_storage::group::classic::{ClassicError, STRATUS_PROTOCOL_TYPE};

use super::groups::GroupsService;
use crate::error::GatewayError;

/// `GroupSummary.protocol` and `DescribeGroupResponse.protocol` of a group.
pub(super) fn protocol_of(kind: &GroupKind) -> (&'static str, String) {
    match kind {
        GroupKind::Assigned => ("consumer", String::new()),
        GroupKind::Classic { protocol, .. } => ("classic", protocol.clone()),
    }
}

impl GroupsService {
    /// The description of `group` if it is a Kafka classic group; `None`
    /// for a server-assigned group or one known only by its offsets.
    pub(super) async fn describe_classic(
        &self,
        group: &str,
        now_ms: i64,
    ) -> Result<Option<DescribeGroupResponse>, GatewayError> {
        let groups = self.0.groups();
        if groups.describe_assigned(group, now_ms).await?.is_some() {
            return Ok(None);
        }
        let described = groups.classic_describe(group, now_ms).await;
        let Some(classic) = described.map_err(|e| match e {
            ClassicError::Group(e) => GatewayError::from(e),
            other => GatewayError::InvalidArgument(other.to_string()),
        })?
        else {
            return Ok(None);
        };
        if classic.protocol_type == STRATUS_PROTOCOL_TYPE
            || (classic.protocol_type.is_empty() && classic.members.is_empty())
        {
            return Ok(None);
        }
        let offsets = groups.describe(group, now_ms).await?;
        let partitions = self.lag(&offsets).await?;
        let generation = classic
            .members
            .iter()
            .map(|m| m.generation)
            .max()
            .unwrap_or(0);
        let members = classic
            .members
            .iter()
            .map(|m| GroupMember {
                member_id: m.member_id.clone(),
                client_id: m.client_id.clone(),
                topics: Vec::new(),
                assignment: Vec::new(),
                target: Vec::new(),
                generation: m.generation,
                session_timeout_ms: u32::try_from(m.session_timeout_ms).unwrap_or(u32::MAX),
                expires_in_ms: m.deadline_ms - now_ms,
            })
            .collect();
        Ok(Some(DescribeGroupResponse {
            group: classic.group,
            generation,
            strategy: 0,
            state: classic.state.kafka_name().to_owned(),
            members,
            partitions,
            protocol: "classic".to_owned(),
            classic_assignor: classic.protocol,
        }))
    }
}
