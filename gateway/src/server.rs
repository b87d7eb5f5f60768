//! Starting and stopping a gateway: the services of `crate::core`, the gRPC
//! server over them (Admin, Producer, Consumer, Groups, Triggers, Users, health,
//! reflection) and the QUIC endpoint. Other transports (the Kafka listener)
//! reach the same services through [`GatewayHandle::core`]. Wiring only: no
//! request is handled here.

use std::net::SocketAddr;
use std::sync::Arc;

use stratus_proto::v1::FILE_DESCRIPTOR_SET;
use stratus_proto::v1::admin_server::AdminServer;
use stratus_proto::v1::consumer_server::ConsumerServer;
use stratus_proto::v1::groups_server::GroupsServer;
use stratus_proto::v1::producer_server::ProducerServer;
use stratus_proto::v1::triggers_server::TriggersServer;
use stratus_proto::v1::users_server::UsersServer;
use stratus_security::ReloadingTls;
use stratus_storage::credentials::ScramCredentials;
use stratus_storage::log::Log;
use stratus_storage::trigger::Triggers;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::transport::server::TcpIncoming;

use crate::config::GatewayConfig;
use crate::core::GatewayCore;
use crate::limits::TCP_KEEPALIVE;
use crate::produce::Batcher;
use crate::quic::{self, QuicHandle, QuicStartError};
use crate::service::{
    AdminService, ConsumerService, GroupsService, ProducerService, TriggersService, UsersService,
};
use crate::tls_incoming;

/// Builder for a running gateway.
#[derive(Debug)]
pub struct Gateway;

/// A running gateway.
#[derive(Debug)]
pub struct GatewayHandle {
    local_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    server: JoinHandle<Result<(), tonic::transport::Error>>,
    batcher_task: JoinHandle<()>,
    core: GatewayCore,
    quic: Option<QuicHandle>,
}

/// Why a gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("cannot listen on {addr}: {source}; choose another address with --listen")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("gRPC reflection: {0}")]
    Reflection(String),
    #[error(transparent)]
    Quic(#[from] QuicStartError),
    #[error(transparent)]
    Tls(#[from] stratus_security::TlsError),
}

impl Gateway {
    /// Validates `config`, binds its listen address and starts serving.
    pub async fn start(config: GatewayConfig, log: Arc<Log>) -> Result<GatewayHandle, StartError> {
        config.validate()?;
        // Loaded before binding, so bad files fail the start, not a client.
        let tls = if config.tls.enabled() {
            Some(ReloadingTls::start(
                config.tls.clone(),
                "gateway.tls",
                &[b"h2"],
            )?)
        } else {
            None
        };
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StartError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let local_addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let max_request = config.max_request_bytes as usize;
        let (core, batcher_task) =
            GatewayCore::start(&config, Arc::clone(&log), shutdown_rx.clone());
        let triggers = Triggers::new(Arc::clone(log.meta()), log.keys().clone());
        let users = ScramCredentials::new(Arc::clone(log.meta()), log.keys().clone());

        let (health_reporter, health) = tonic_health::server::health_reporter();
        health_reporter
            .set_serving::<ProducerServer<ProducerService>>()
            .await;
        health_reporter
            .set_serving::<ConsumerServer<ConsumerService>>()
            .await;
        health_reporter
            .set_serving::<AdminServer<AdminService>>()
            .await;
        health_reporter
            .set_serving::<GroupsServer<GroupsService>>()
            .await;
        health_reporter
            .set_serving::<TriggersServer<TriggersService>>()
            .await;
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()
            .map_err(|e| StartError::Reflection(e.to_string()))?;

        let quic = if config.quic.enabled {
            let services = quic::Services {
                admin: AdminService(core.clone()),
                producer: ProducerService(core.clone()),
                consumer: ConsumerService(core.clone()),
                groups: GroupsService(core.clone()),
            };
            Some(quic::start(&config.quic, services, shutdown_rx.clone())?)
        } else {
            None
        };
        let router = tonic::transport::Server::builder()
            .add_service(health)
            .add_service(reflection)
            .add_service(AdminServer::new(AdminService(core.clone())))
            .add_service(GroupsServer::new(GroupsService(core.clone())))
            .add_service(TriggersServer::new(TriggersService(triggers)))
            .add_service(UsersServer::new(UsersService(users)))
            .add_service(
                ProducerServer::new(ProducerService(core.clone()))
                    .max_decoding_message_size(max_request),
            )
            .add_service(
                // Fetch answers are bounded by max_fetch_bytes, not here.
                ConsumerServer::new(ConsumerService(core.clone()))
                    .max_encoding_message_size(usize::MAX),
            );
        let mut stop = shutdown_rx.clone();
        let stopped = async move {
            let _ = stop.wait_for(|stopping| *stopping).await;
        };
        // Without TCP_NODELAY, Nagle's algorithm and delayed ACKs add ~40 ms
        // to every small response.
        let tcp = TcpIncoming::from(listener)
            .with_nodelay(Some(true))
            .with_keepalive(Some(TCP_KEEPALIVE));
        let server = match tls {
            Some(tls) => tokio::spawn(router.serve_with_incoming_shutdown(
                tls_incoming::incoming(tcp, tls, shutdown_rx),
                stopped,
            )),
            None => tokio::spawn(router.serve_with_incoming_shutdown(tcp, stopped)),
        };
        tracing::info!(%local_addr, tls = config.tls.enabled(), "gateway listening");
        Ok(GatewayHandle {
            local_addr,
            shutdown,
            server,
            batcher_task,
            core,
            quic,
        })
    }
}

impl GatewayHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The QUIC endpoint's UDP address, when QUIC is enabled.
    pub fn quic_addr(&self) -> Option<SocketAddr> {
        self.quic.as_ref().map(|quic| quic.local_addr)
    }

    pub fn batcher(&self) -> &Batcher {
        self.core.batcher()
    }

    /// The gateway's services, for transports other than gRPC and QUIC:
    /// the produce path, the fetch path, topic administration and groups.
    pub fn core(&self) -> &GatewayCore {
        &self.core
    }

    /// Stops accepting calls, lets in-flight produce calls flush and be
    /// acknowledged (or failed), ends long polls and subscriptions, and returns
    /// once the last flush is done.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        match self.server.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "gRPC server ended with an error"),
            Err(e) => tracing::warn!(error = %e, "gRPC server task failed"),
        }
        if let Some(quic) = self.quic
            && let Err(e) = quic.task.await
        {
            tracing::warn!(error = %e, "QUIC endpoint task failed");
        }
        // gRPC and QUIC are done submitting; other holders of the core (a
        // Kafka listener still running) get UNAVAILABLE from here on. The
        // flush task ends once it has answered everything queued.
        self.core.batcher().close();
        drop(self.core);
        if let Err(e) = self.batcher_task.await {
            tracing::warn!(error = %e, "batcher task failed");
        }
    }
}
