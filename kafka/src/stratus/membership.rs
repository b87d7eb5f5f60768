//! This gateway's place in the cluster as Kafka clients see it: it registers
//! in the gateway registry, renews its lease in the background, and keeps a
//! recent copy of the membership for Metadata requests, which are frequent
//! and must not each cost a metadata transaction.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use stratus_storage::registry::{GatewayEndpoint, Membership, Registry, RegistryError};
use tokio::time::Instant;

/// How long a registration lives without renewal; a gateway that dies
/// leaves the broker list about this long after.
pub const LEASE: Duration = Duration::from_secs(10);
/// How often the lease is renewed: three chances before it runs out.
pub const RENEW_EVERY: Duration = Duration::from_secs(3);
/// How long a read membership is served before it is read again.
pub const MEMBERSHIP_TTL: Duration = Duration::from_secs(1);

/// A registered gateway and its cached view of the others.
#[derive(Debug)]
pub(super) struct Member {
    registry: Registry,
    endpoint: GatewayEndpoint,
    id: u32,
    cached: Mutex<Option<(Instant, Arc<Membership>)>>,
}

impl Member {
    /// Registers this gateway under a fresh id.
    pub(super) async fn join(
        registry: Registry,
        endpoint: GatewayEndpoint,
    ) -> Result<Self, RegistryError> {
        let record = registry.register(&endpoint, LEASE).await?;
        tracing::info!(gateway = record.id, kafka = %format!("{}:{}", endpoint.kafka_host, endpoint.kafka_port), "gateway registered");
        Ok(Self {
            registry,
            endpoint,
            id: record.id,
            cached: Mutex::new(None),
        })
    }

    /// This gateway's id: its Kafka broker id.
    pub(super) fn id(&self) -> u32 {
        self.id
    }

    /// Renews the lease until dropped; a failed renewal is retried at the
    /// next tick (the lease has room for two misses).
    pub(super) async fn renew_forever(&self) {
        let mut tick = tokio::time::interval(RENEW_EVERY);
        tick.tick().await;
        loop {
            tick.tick().await;
            if let Err(e) = self.registry.renew(self.id, &self.endpoint, LEASE).await {
                tracing::warn!(gateway = self.id, error = %e, "renewing the gateway lease failed; retrying");
            }
        }
    }

    /// Leaves the cluster, so clients move off at once.
    pub(super) async fn leave(&self) {
        if let Err(e) = self.registry.deregister(self.id).await {
            tracing::warn!(gateway = self.id, error = %e, "deregistering failed; the lease will expire");
        }
    }

    /// The membership, read at most [`MEMBERSHIP_TTL`] ago.
    pub(super) async fn membership(&self) -> Result<Arc<Membership>, RegistryError> {
        let cached = self
            .cached
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some((at, membership)) = cached
            && at.elapsed() < MEMBERSHIP_TTL
        {
            return Ok(membership);
        }
        let membership = Arc::new(self.registry.membership().await?);
        *self.cached.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((Instant::now(), Arc::clone(&membership)));
        Ok(membership)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lease_survives_two_missed_renewals() {
        assert!(RENEW_EVERY * 3 <= LEASE);
        assert!(MEMBERSHIP_TTL < RENEW_EVERY);
    }
}
