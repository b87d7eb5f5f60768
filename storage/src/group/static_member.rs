//! Static membership for server-assigned groups (Kafka's KIP-848 consumers
//! with `group.instance.id`): a member that leaves temporarily keeps its
//! partitions until its session expires, and a new member of the same
//! instance id takes them over without a rebalance, as a restarted
//! consumer of a stateful application expects.

use super::record::MemberRecord;
use super::state::GroupState;
use super::{GroupError, Groups, validate_group_id};
use crate::keys::KeySpace;
use stratus_meta::{MetaError, Transaction, run};

/// Puts `member_id` in the place of the live member that has `instance`,
/// if that member left temporarily: its record (target, assignment,
/// generation, what it owned) moves to the new id, so the join that follows
/// finds it as an existing member and changes nothing else. A member of
/// `instance` that has not left refuses the join; `dead` members (whose
/// session expired) hold nothing any more and are left to be removed.
pub(super) fn take_over(
    state: &mut GroupState,
    tx: &mut dyn Transaction,
    keys: &KeySpace,
    instance: &str,
    member_id: &str,
    dead: &[String],
) -> Result<Result<(), GroupError>, MetaError> {
    let holder = state
        .members
        .values()
        .find(|m| {
            m.instance_id.as_deref() == Some(instance)
                && m.member_id != member_id
                && !dead.contains(&m.member_id)
        })
        .cloned();
    let Some(holder) = holder else {
        return Ok(Ok(()));
    };
    if !holder.departed {
        return Ok(Err(GroupError::UnreleasedInstance {
            group: state.group.clone(),
            instance: instance.to_owned(),
            member: holder.member_id,
        }));
    }
    state.remove(tx, keys, std::slice::from_ref(&holder.member_id))?;
    state.members.insert(
        member_id.to_owned(),
        MemberRecord {
            member_id: member_id.to_owned(),
            departed: false,
            ..holder
        },
    );
    Ok(Ok(()))
}

impl Groups {
    /// A member leaving with KIP-848's member epoch -2. A static member is
    /// marked departed and keeps its partitions until its session expires
    /// (or a member of its instance id takes its place); any other member
    /// leaves at once, as [`Self::leave`]. Unknown members are not an error.
    pub async fn depart(
        &self,
        group: &str,
        member_id: &str,
        now_ms: i64,
    ) -> Result<(), GroupError> {
        validate_group_id(group)?;
        let keys = &self.keys;
        let is_static = run(self.meta.as_ref(), &self.retry, |tx| {
            Box::pin(async move {
                let mut state = match GroupState::load(tx, keys, group).await? {
                    Ok(state) => state,
                    Err(e) => return Ok(Err(e)),
                };
                let Some(member) = state.members.get_mut(member_id) else {
                    return Ok(Ok(false));
                };
                if member.instance_id.is_none() {
                    return Ok(Ok(false));
                }
                member.departed = true;
                let key = keys.group_member(group, member_id);
                tx.add_read_conflict_key(&key)?;
                tx.set(&key, &super::state::encode(member)?)?;
                Ok(Ok(true))
            })
        })
        .await??;
        if !is_static {
            self.leave(group, member_id, now_ms).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "static_member_tests.rs"]
mod tests;
