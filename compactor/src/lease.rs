//! Shard leases: which compactor works on which partitions, fenced by
//! generation.
//!
//! Partitions hash into `lease_shards` shards. A compactor works on a shard
//! only while it holds the shard's lease, a metadata key holding the owner,
//! an expiry and a generation. Taking over an expired lease bumps the
//! generation, and every index swap re-reads the lease inside its own
//! transaction and commits only if the owner and generation are still the
//! ones it started with. So a compactor that stalls past its lease (a long GC
//! pause, a frozen VM) can finish writing a segment, but its swap aborts: the
//! new owner's work is never overwritten, and the stalled compactor's segment
//! becomes an orphan for garbage collection.

use stratus_meta::{MetaError, MetaStore, RetryPolicy, Transaction, run};
use stratus_storage::keys::KeySpace;

/// A lease as stored: `generation u64 LE | expires_at_ms i64 LE | owner UTF-8`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub owner: String,
    pub generation: u64,
    pub expires_at_ms: i64,
}

impl Lease {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.owner.len());
        out.extend_from_slice(&self.generation.to_le_bytes());
        out.extend_from_slice(&self.expires_at_ms.to_le_bytes());
        out.extend_from_slice(self.owner.as_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let generation = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
        let expires_at_ms = i64::from_le_bytes(bytes.get(8..16)?.try_into().ok()?);
        let owner = std::str::from_utf8(bytes.get(16..)?).ok()?.to_owned();
        Some(Self {
            owner,
            generation,
            expires_at_ms,
        })
    }
}

/// A lease this compactor holds: proof to show in each index swap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseGuard {
    pub shard: u32,
    pub owner: String,
    pub generation: u64,
}

/// The shard a partition belongs to (FNV-1a: stable across versions and
/// processes, unlike the standard library's hasher).
pub fn shard_of(topic_id: u128, partition: u32, shards: u32) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in topic_id
        .to_be_bytes()
        .into_iter()
        .chain(partition.to_be_bytes())
    {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (hash % u64::from(shards.max(1))) as u32
}

/// Takes or renews the lease of `shard` until `now_ms + ttl_ms`. `None`: another
/// compactor holds it.
pub async fn acquire(
    meta: &dyn MetaStore,
    keys: &KeySpace,
    shard: u32,
    owner: &str,
    now_ms: i64,
    ttl_ms: i64,
) -> Result<Option<LeaseGuard>, MetaError> {
    let key = keys.compactor_lease(shard);
    run(meta, &RetryPolicy::default(), |tx| {
        let key = &key;
        Box::pin(async move {
            let current = tx.get(key).await?.as_deref().and_then(Lease::decode);
            let generation = match &current {
                Some(lease) if lease.owner == owner => lease.generation,
                Some(lease) if lease.expires_at_ms > now_ms => return Ok(None),
                Some(lease) => lease.generation + 1,
                None => 1,
            };
            let lease = Lease {
                owner: owner.to_owned(),
                generation,
                expires_at_ms: now_ms.saturating_add(ttl_ms),
            };
            tx.set(key, &lease.encode())?;
            Ok(Some(LeaseGuard {
                shard,
                owner: owner.to_owned(),
                generation,
            }))
        })
    })
    .await
}

/// Gives the lease up early, so another compactor need not wait for it to
/// expire. Does nothing if the lease has moved on.
pub async fn release(
    meta: &dyn MetaStore,
    keys: &KeySpace,
    guard: &LeaseGuard,
) -> Result<(), MetaError> {
    let key = keys.compactor_lease(guard.shard);
    run(meta, &RetryPolicy::default(), |tx| {
        let key = &key;
        Box::pin(async move {
            if let Some(mut lease) = tx.get(key).await?.as_deref().and_then(Lease::decode)
                && lease.owner == guard.owner
                && lease.generation == guard.generation
            {
                lease.expires_at_ms = 0;
                tx.set(key, &lease.encode())?;
            }
            Ok(())
        })
    })
    .await
}

/// Inside a transaction that changes what the shard owns: whether `guard` is
/// still the lease. Reading the key makes the transaction conflict with any
/// concurrent takeover.
pub async fn still_held(
    tx: &mut dyn Transaction,
    keys: &KeySpace,
    guard: &LeaseGuard,
    now_ms: i64,
) -> Result<bool, MetaError> {
    let lease = tx
        .get(&keys.compactor_lease(guard.shard))
        .await?
        .as_deref()
        .and_then(Lease::decode);
    Ok(lease.is_some_and(|lease| {
        lease.owner == guard.owner
            && lease.generation == guard.generation
            && lease.expires_at_ms > now_ms
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use stratus_meta::memory::MemoryMetaStore;

    #[tokio::test]
    async fn takeover_after_expiry_bumps_the_generation() {
        let meta = MemoryMetaStore::new();
        let keys = KeySpace::new("t");
        let a = acquire(&meta, &keys, 3, "a", 1_000, 100)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(a.generation, 1);
        assert!(
            acquire(&meta, &keys, 3, "b", 1_050, 100)
                .await
                .unwrap()
                .is_none()
        );
        let renewed = acquire(&meta, &keys, 3, "a", 1_050, 100)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(renewed.generation, 1);
        let b = acquire(&meta, &keys, 3, "b", 1_200, 100)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(b.generation, 2);
        let mut tx = meta.begin().await.unwrap();
        assert!(!still_held(&mut *tx, &keys, &a, 1_200).await.unwrap());
        assert!(still_held(&mut *tx, &keys, &b, 1_200).await.unwrap());
    }

    #[tokio::test]
    async fn release_lets_another_compactor_in_at_once() {
        let meta = MemoryMetaStore::new();
        let keys = KeySpace::new("t");
        let a = acquire(&meta, &keys, 0, "a", 0, 1_000)
            .await
            .unwrap()
            .unwrap();
        release(&meta, &keys, &a).await.unwrap();
        let b = acquire(&meta, &keys, 0, "b", 1, 1_000)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(b.generation, 2);
    }

    #[test]
    fn lease_bytes_round_trip_and_shards_are_stable() {
        let lease = Lease {
            owner: "c1".into(),
            generation: 7,
            expires_at_ms: -1,
        };
        assert_eq!(Lease::decode(&lease.encode()), Some(lease));
        // Persisted meaning: a partition must keep its shard across versions.
        assert_eq!(shard_of(1, 0, 16), shard_of(1, 0, 16));
        assert_eq!(shard_of(0xabc, 5, 1), 0);
        assert_eq!(shard_of(0xabc, 5, 16), 4);
    }
}
