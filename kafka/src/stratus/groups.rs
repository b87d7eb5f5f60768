//! Consumer groups for Kafka clients over the gateway's group state
//! (`stratus_storage::group::classic`): translation only.

use stratus_storage::group::classic::ClassicError;
use stratus_storage::group::{CommitOffset, Groups};
use stratus_storage::log::now_ms;
use stratus_storage::registry::Membership;

use crate::{BrokerError, BrokerNode};

/// The coordinator of `group`: the gateway that wins the same rendezvous
/// as partition leaders, over a key derived from the group id, so groups
/// spread over the gateways and every gateway names the same one. Any
/// gateway could serve the group (its state is in metadata); this only
/// spreads the load.
pub(super) fn coordinator(membership: &Membership, group: &str) -> Result<BrokerNode, BrokerError> {
    membership
        .leader(None, group_key(group), 0)
        .filter(|g| g.endpoint.kafka_port != 0)
        .map(|g| BrokerNode {
            id: g.id as i32,
            host: g.endpoint.kafka_host.clone(),
            port: g.endpoint.kafka_port,
            rack: g.endpoint.zone.clone(),
        })
        .ok_or_else(|| {
            BrokerError::CoordinatorNotAvailable(
                "no gateway with a Kafka listener is registered; retry once one is".into(),
            )
        })
}

/// A fixed 128-bit hash of a group id (FNV-1a, twice with different
/// offsets): every gateway of every build computes the same one, which
/// `std`'s hasher does not promise.
fn group_key(group: &str) -> u128 {
    let fnv = |offset: u64| {
        group.bytes().fold(offset, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    (u128::from(fnv(0xcbf2_9ce4_8422_2325)) << 64) | u128::from(fnv(0x6c62_272e_07bb_0142))
}

/// Who commits: the member, its static instance id, its generation.
pub(super) struct Committer<'a> {
    pub(super) member_id: &'a str,
    pub(super) group_instance_id: Option<&'a str>,
    pub(super) generation: i64,
}

pub(super) async fn commit(
    groups: &Groups,
    group: &str,
    committer: Committer<'_>,
    offsets: Vec<CommitOffset>,
) -> Result<Vec<Result<(), BrokerError>>, BrokerError> {
    let Committer {
        member_id,
        group_instance_id,
        generation,
    } = committer;
    // A member of the consumer-group protocol commits with its epoch; every
    // other commit is the classic protocol's.
    if let Some(outcome) =
        super::consumer_groups::commit(groups, group, member_id, generation, &offsets).await
    {
        outcome?;
        return Ok(offsets.iter().map(|_| Ok(())).collect());
    }
    let outcomes = groups
        .classic_commit(
            group,
            member_id,
            group_instance_id,
            generation,
            &offsets,
            now_ms(),
        )
        .await?;
    Ok(outcomes
        .into_iter()
        .map(|o| o.map_err(BrokerError::from))
        .collect())
}

pub(super) async fn delete_offsets(
    groups: &Groups,
    group: &str,
    partitions: Vec<(String, u32)>,
) -> Result<Vec<Result<(), BrokerError>>, BrokerError> {
    let outcomes = groups.delete_offsets(group, &partitions, now_ms()).await?;
    Ok(outcomes
        .into_iter()
        .map(|o| o.map_err(BrokerError::from))
        .collect())
}

/// A classic-group refusal as a Kafka error (the mapping is in `errors`).
pub(super) fn error(e: ClassicError) -> BrokerError {
    e.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key is computed by every gateway of a cluster, across versions:
    /// it must never change.
    #[test]
    fn group_keys_are_pinned() {
        assert_eq!(group_key("g"), group_key("g"));
        assert_ne!(group_key("g"), group_key("h"));
        assert_eq!(group_key(""), 0xcbf2_9ce4_8422_2325_6c62_272e_07bb_0142);
    }
}
