//! The gateway registry: which gateways are alive, kept in metadata so that
//! gateways on many machines find each other with no other configuration.
//!
//! Each gateway registers once at start (getting an id that is never reused),
//! renews a lease in the background, and deregisters on a clean shutdown. A
//! gateway that dies stops renewing; the next live gateway to renew removes
//! it. Every change to the set of gateways advances one *generation* in the
//! same transaction, so a generation names exactly one set: the Kafka
//! listener reports it as every partition's leader epoch, and the leader of a
//! partition (chosen from the set by [rendezvous hashing](Membership::leader))
//! can never differ under one epoch.
//!
//! This module never talks to the network: the gateway drives it.

mod rendezvous;

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use stratus_meta::{MetaError, MetaStore, RangeOptions, RetryPolicy, Transaction, run};

use crate::keys::{KeySpace, decode_i64, encode_i64};
use crate::log::now_ms;

/// What a gateway tells the others about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayEndpoint {
    /// Host Kafka clients connect to (the advertised listener).
    pub kafka_host: String,
    /// Port Kafka clients connect to; 0 when the gateway has no Kafka listener.
    pub kafka_port: u16,
    /// The gRPC address clients reach it at.
    pub grpc: String,
    /// Availability zone (Kafka's rack), if known.
    #[serde(default)]
    pub zone: Option<String>,
}

/// One registered gateway, as stored under [`crate::keys::Tag::Gateway`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayRecord {
    /// Never reused; Kafka's broker id.
    pub id: u32,
    #[serde(flatten)]
    pub endpoint: GatewayEndpoint,
    /// The lease runs until this time (ms since the Unix epoch).
    pub lease_until_ms: i64,
    pub registered_at_ms: i64,
}

/// The gateways of one generation, ordered by id.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Membership {
    /// Advances whenever a gateway joins or leaves; 0 before any has joined.
    pub generation: i64,
    pub gateways: Vec<GatewayRecord>,
}

impl Membership {
    /// The gateway that leads `partition` of `topic_id` for clients in
    /// `zone`: the highest rendezvous score among the gateways of that zone,
    /// or among all gateways when the zone has none (or no zone is given).
    /// Stable while the membership is: adding or removing one gateway moves
    /// only the partitions it wins or led.
    pub fn leader(
        &self,
        zone: Option<&str>,
        topic_id: u128,
        partition: u32,
    ) -> Option<&GatewayRecord> {
        let in_zone =
            |g: &&GatewayRecord| zone.is_none_or(|z| g.endpoint.zone.as_deref() == Some(z));
        let candidates: Vec<&GatewayRecord> = if self.gateways.iter().any(|g| in_zone(&g)) {
            self.gateways.iter().filter(in_zone).collect()
        } else {
            self.gateways.iter().collect()
        };
        candidates
            .into_iter()
            .max_by_key(|g| (rendezvous::score(g.id, topic_id, partition), g.id))
    }

    /// The gateway with `id`, if it is a member.
    pub fn gateway(&self, id: u32) -> Option<&GatewayRecord> {
        self.gateways.iter().find(|g| g.id == id)
    }
}

/// Why a registry operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("gateway registration {id} in metadata does not decode: {reason}")]
    Corrupt { id: String, reason: String },
    #[error("no gateway id is left: all {} have been handed out", u32::MAX)]
    IdsExhausted,
    #[error("metadata store: {0}")]
    Meta(#[from] MetaError),
}

/// The registry of one cluster. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Registry {
    meta: Arc<dyn MetaStore>,
    keys: KeySpace,
    retry: RetryPolicy,
}

impl Registry {
    pub fn new(meta: Arc<dyn MetaStore>, keys: KeySpace) -> Self {
        Self {
            meta,
            keys,
            retry: RetryPolicy::default(),
        }
    }

    /// The SCRAM credentials of the same cluster, which the Kafka listener
    /// of every registered gateway authenticates clients against.
    pub fn scram_credentials(&self) -> crate::credentials::ScramCredentials {
        crate::credentials::ScramCredentials::new(Arc::clone(&self.meta), self.keys.clone())
    }

    /// Registers a new gateway with a fresh id and a lease of `lease`.
    pub async fn register(
        &self,
        endpoint: &GatewayEndpoint,
        lease: Duration,
    ) -> Result<GatewayRecord, RegistryError> {
        run(self.meta.as_ref(), &self.retry, |tx| {
            Box::pin(async move {
                let counter = self.keys.gateway_id_counter();
                let last = tx.get(&counter).await?.map_or(0, |v| read_u32_le(&v));
                let Some(id) = last.checked_add(1) else {
                    return Ok(Err(RegistryError::IdsExhausted));
                };
                tx.set(&counter, &id.to_le_bytes())?;
                let now = now_ms();
                let record = GatewayRecord {
                    id,
                    endpoint: endpoint.clone(),
                    lease_until_ms: now.saturating_add(millis(lease)),
                    registered_at_ms: now,
                };
                self.write(tx, &record)?;
                self.evict_expired(tx, now, id).await?;
                self.advance_generation(tx).await?;
                Ok(Ok(record))
            })
        })
        .await?
    }

    /// Extends the lease of gateway `id` and removes gateways whose lease ran
    /// out. A gateway that was itself removed (it stalled past its lease) is
    /// registered again under its id, in a new generation.
    pub async fn renew(
        &self,
        id: u32,
        endpoint: &GatewayEndpoint,
        lease: Duration,
    ) -> Result<(), RegistryError> {
        run(self.meta.as_ref(), &self.retry, |tx| {
            Box::pin(async move {
                let now = now_ms();
                let key = self.keys.gateway(id);
                let existing = tx.get(&key).await?;
                let registered_at_ms = match existing.as_deref().map(decode) {
                    Some(Ok(record)) => record.registered_at_ms,
                    _ => now,
                };
                let record = GatewayRecord {
                    id,
                    endpoint: endpoint.clone(),
                    lease_until_ms: now.saturating_add(millis(lease)),
                    registered_at_ms,
                };
                self.write(tx, &record)?;
                let evicted = self.evict_expired(tx, now, id).await?;
                if existing.is_none() || evicted > 0 {
                    self.advance_generation(tx).await?;
                }
                Ok(())
            })
        })
        .await?;
        Ok(())
    }

    /// Removes gateway `id` (a clean shutdown), so clients move off it at
    /// once instead of after its lease.
    pub async fn deregister(&self, id: u32) -> Result<(), RegistryError> {
        run(self.meta.as_ref(), &self.retry, |tx| {
            Box::pin(async move {
                let key = self.keys.gateway(id);
                if tx.get(&key).await?.is_some() {
                    tx.clear(&key)?;
                    self.advance_generation(tx).await?;
                }
                Ok(())
            })
        })
        .await?;
        Ok(())
    }

    /// The registered gateways and their generation, read in one snapshot.
    pub async fn membership(&self) -> Result<Membership, RegistryError> {
        let mut tx = self.meta.begin().await?;
        let generation = tx
            .get(&self.keys.gateway_generation())
            .await?
            .map_or(0, |v| decode_i64(&v));
        let (begin, end) = self.keys.gateways_range();
        let pairs = tx.get_range(&begin, &end, RangeOptions::default()).await?;
        let gateways = pairs
            .iter()
            .map(|(_, v)| decode(v))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Membership {
            generation,
            gateways,
        })
    }

    fn write(&self, tx: &mut dyn Transaction, record: &GatewayRecord) -> Result<(), MetaError> {
        let value = serde_json::to_vec(record)
            .map_err(|e| MetaError::Backend(format!("gateway record does not encode: {e}")))?;
        tx.set(&self.keys.gateway(record.id), &value)
    }

    /// Clears every registration other than `keep` whose lease ended before
    /// `now`; returns how many.
    async fn evict_expired(
        &self,
        tx: &mut dyn Transaction,
        now: i64,
        keep: u32,
    ) -> Result<usize, MetaError> {
        let (begin, end) = self.keys.gateways_range();
        let pairs = tx.get_range(&begin, &end, RangeOptions::default()).await?;
        let mut evicted = 0;
        for (key, value) in pairs {
            // A record that does not decode cannot be renewed either: evict it.
            let expired = decode(&value).map_or(true, |r| r.id != keep && r.lease_until_ms < now);
            if expired {
                tx.clear(&key)?;
                evicted += 1;
            }
        }
        Ok(evicted)
    }

    async fn advance_generation(&self, tx: &mut dyn Transaction) -> Result<(), MetaError> {
        let key = self.keys.gateway_generation();
        let generation = tx.get(&key).await?.map_or(0, |v| decode_i64(&v));
        tx.set(&key, &encode_i64(generation.saturating_add(1)))
    }
}

fn decode(bytes: &[u8]) -> Result<GatewayRecord, RegistryError> {
    serde_json::from_slice(bytes).map_err(|e| RegistryError::Corrupt {
        id: String::from_utf8_lossy(bytes).chars().take(64).collect(),
        reason: e.to_string(),
    })
}

fn read_u32_le(bytes: &[u8]) -> u32 {
    let mut buf = [0u8; 4];
    let n = bytes.len().min(4);
    buf[..n].copy_from_slice(&bytes[..n]);
    u32::from_le_bytes(buf)
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests;
