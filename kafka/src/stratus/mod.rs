//! The Kafka listener of a running gateway: [`start`] binds it, registers
//! the gateway in the cluster's registry under its advertised address, and
//! serves Kafka clients through [`GatewayBroker`] until shutdown, when the
//! gateway leaves the registry so clients move off it at once.

mod broker;
mod consumer_groups;
mod credentials;
mod errors;
mod groups;
mod membership;
mod topic_config;
mod topic_names;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use stratus_gateway::GatewayCore;
use stratus_storage::registry::{GatewayEndpoint, Registry, RegistryError};
use tokio::task::JoinHandle;

pub use broker::GatewayBroker;
pub use membership::{LEASE, MEMBERSHIP_TTL, RENEW_EVERY};

use crate::{KafkaConfig, KafkaListener, ListenerError};

/// Why the Kafka listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Listen(#[from] ListenerError),
    #[error("cannot register the gateway in metadata: {0}")]
    Register(#[from] RegistryError),
}

/// A running Kafka listener.
#[derive(Debug)]
pub struct KafkaServer {
    local_addr: SocketAddr,
    advertised: (String, u16),
    gateway_id: u32,
    task: JoinHandle<()>,
}

impl KafkaServer {
    /// The address the listener bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The host and port clients are told to connect to.
    pub fn advertised(&self) -> &(String, u16) {
        &self.advertised
    }

    /// This gateway's Kafka broker id.
    pub fn gateway_id(&self) -> u32 {
        self.gateway_id
    }

    /// Waits until the listener has stopped and the gateway has left the
    /// registry (after the shutdown future given to [`start`] completed).
    pub async fn stopped(self) {
        let _ = self.task.await;
    }
}

/// Binds the listener of `config`, registers this gateway (reachable over
/// gRPC at `grpc`) and serves until `shutdown` completes. Clients
/// authenticating with SASL are checked against the SCRAM credentials of
/// the registry's cluster.
pub async fn start(
    config: KafkaConfig,
    core: GatewayCore,
    registry: Registry,
    grpc: String,
    cluster_id: String,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<KafkaServer, StartError> {
    let zone = config.zone.clone();
    let listener = KafkaListener::bind(config).await?;
    let local_addr = listener.local_addr();
    let advertised = listener.advertised();
    let endpoint = GatewayEndpoint {
        kafka_host: advertised.0.clone(),
        kafka_port: advertised.1,
        grpc,
        zone,
    };
    let credentials = registry.scram_credentials();
    let member = Arc::new(membership::Member::join(registry, endpoint).await?);
    let gateway_id = member.id();
    let broker = Arc::new(GatewayBroker::new(
        core,
        Arc::clone(&member),
        cluster_id,
        credentials,
    ));
    let task = tokio::spawn(async move {
        let renewing = Arc::clone(&member);
        let renew = tokio::spawn(async move { renewing.renew_forever().await });
        listener.serve(broker, shutdown).await;
        renew.abort();
        member.leave().await;
    });
    Ok(KafkaServer {
        local_addr,
        advertised,
        gateway_id,
        task,
    })
}
