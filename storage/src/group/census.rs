//! How many consumer groups the cluster has, so `max_groups` holds.
//!
//! A group exists while it has a record under either protocol (Stratus and
//! KIP-848 groups under [`crate::keys::Tag::GroupRecord`], Kafka classic
//! groups under [`crate::keys::Tag::ClassicGroup`]; a group known only by
//! committed offsets always has one of them). The count is one key, read
//! with a conflict and rewritten only by the transactions that create a
//! group's first record or delete a group, so concurrent creations
//! serialize on it while joins, heartbeats and commits of existing groups
//! never touch it.

use std::collections::BTreeSet;

use super::GroupError;
use crate::keys::KeySpace;
use stratus_meta::{MetaError, RangeOptions, Transaction};

/// Which record the caller is about to create for a group that has none
/// of that kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NewRecord {
    Stratus,
    Classic,
}

/// Counts `group` as a new group of the cluster, unless it already has a
/// record of the other kind, and refuses when the cluster is at
/// `max_groups`. Call it in the transaction that writes the group's first
/// record of kind `creating`.
pub(super) async fn admit_new_group(
    tx: &mut dyn Transaction,
    keys: &KeySpace,
    group: &str,
    creating: NewRecord,
    max_groups: usize,
) -> Result<Result<(), GroupError>, MetaError> {
    let other = match creating {
        NewRecord::Stratus => keys.classic_group(group),
        NewRecord::Classic => keys.group(group),
    };
    if tx.get(&other).await?.is_some() {
        return Ok(Ok(()));
    }
    let count = read_count(tx, keys).await?;
    if count >= max_groups as u64 {
        return Ok(Err(GroupError::TooManyGroups { limit: max_groups }));
    }
    tx.set(&keys.group_count(), &(count + 1).to_le_bytes())?;
    Ok(Ok(()))
}

/// Uncounts a group whose records this transaction clears; `existed` says
/// whether it had any record (a group known only by offsets had none).
pub(super) async fn forget_group(
    tx: &mut dyn Transaction,
    keys: &KeySpace,
    existed: bool,
) -> Result<(), MetaError> {
    if !existed {
        return Ok(());
    }
    let count = read_count(tx, keys).await?;
    tx.set(&keys.group_count(), &count.saturating_sub(1).to_le_bytes())?;
    Ok(())
}

/// The count, or on a cluster that never stored one, the groups there are.
async fn read_count(tx: &mut dyn Transaction, keys: &KeySpace) -> Result<u64, MetaError> {
    if let Some(bytes) = tx.get(&keys.group_count()).await? {
        let bytes: [u8; 8] = bytes[..].try_into().map_err(|_| {
            MetaError::Backend(format!(
                "the group count is {} bytes, not 8: metadata is corrupt",
                bytes.len()
            ))
        })?;
        return Ok(u64::from_le_bytes(bytes));
    }
    let mut groups = BTreeSet::new();
    for range in [keys.groups_range(), keys.classic_groups_range()] {
        let (begin, end) = range;
        for (key, _) in tx.get_range(&begin, &end, RangeOptions::default()).await? {
            let name = keys
                .group_decode(&key)
                .or_else(|| keys.classic_group_decode(&key));
            groups.extend(name);
        }
    }
    Ok(groups.len() as u64)
}

#[cfg(test)]
#[path = "census_tests.rs"]
mod tests;
