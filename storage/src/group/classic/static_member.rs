//! Static membership (KIP-345): a member that names a `group.instance.id`
//! keeps its place across restarts. A join with that instance id and no
//! member id takes over the member that had it (a new member id, the same
//! generation and assignment, so a stable group need not rebalance), and
//! the member id it replaced is fenced: any request naming the instance id
//! with another member id is FENCED_INSTANCE_ID, so a zombie stops instead
//! of rejoining and taking the place back.

use super::ClassicError;
use super::record::ClassicMember;
use super::round::Classic;
use crate::keys::KeySpace;
use stratus_meta::{MetaError, Transaction};

/// Refuses `member_id` if `instance` belongs to another member.
pub(super) fn check_fenced(
    classic: &Classic,
    member_id: &str,
    instance: Option<&str>,
) -> Result<(), ClassicError> {
    let Some(instance) = instance else {
        return Ok(());
    };
    match holder(classic, instance) {
        Some(m) if m.member_id != member_id => Err(ClassicError::FencedInstanceId {
            group: classic.group.clone(),
            instance: instance.to_owned(),
        }),
        _ => Ok(()),
    }
}

/// The member that has `instance`, if any.
pub(super) fn holder<'a>(classic: &'a Classic, instance: &str) -> Option<&'a ClassicMember> {
    classic
        .members
        .values()
        .find(|m| m.group_instance_id.as_deref() == Some(instance))
}

/// Moves the member that has `instance` to `new_id` (its generation,
/// assignment and round kept; the leader role too), returning it under its
/// new id. `None` when no member has `instance`, or when that member's
/// session ran out (it is removed: the joiner is a new member).
pub(super) fn take_over(
    classic: &mut Classic,
    tx: &mut dyn Transaction,
    keys: &KeySpace,
    instance: &str,
    new_id: &str,
    now_ms: i64,
) -> Result<Option<ClassicMember>, MetaError> {
    let Some(old) = holder(classic, instance).cloned() else {
        return Ok(None);
    };
    classic.remove(tx, keys, std::slice::from_ref(&old.member_id))?;
    if !classic.alive(&old, now_ms) {
        // Its session ran out: Kafka would have expired it, so this is a new
        // member and the group rebalances.
        classic.put_record(tx, keys)?;
        return Ok(None);
    }
    if let Some(record) = classic.record.as_mut()
        && record.leader.as_deref() == Some(old.member_id.as_str())
    {
        record.leader = Some(new_id.to_owned());
    }
    tracing::info!(group = %classic.group, instance, old = %old.member_id, new = %new_id, "static member replaced");
    let member = ClassicMember {
        member_id: new_id.to_owned(),
        ..old
    };
    classic.put_member(tx, keys, &member)?;
    classic.members.insert(new_id.to_owned(), member.clone());
    classic.put_record(tx, keys)?;
    Ok(Some(member))
}
