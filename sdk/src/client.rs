//! [`Client`]: a connection to a gateway, from which producers, consumers and
//! the admin API are made.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::admin::Admin;
use crate::consumer::Consumer;
use crate::error::Result;
use crate::group::{GroupConfig, GroupConsumer};
use crate::producer::{Producer, ProducerConfig};
use crate::transport::{self, ConnectOptions, Transport};

/// A connection to a Stratus gateway. Cheap to clone; clones share the
/// connection.
#[derive(Debug, Clone)]
pub struct Client {
    transport: Arc<dyn Transport>,
}

impl Client {
    /// Connects with default options. `url` is `grpc://HOST:PORT`,
    /// `grpcs://HOST:PORT` (needs [`ClientBuilder::ca_file`]) or
    /// `quic://HOST:PORT`; a bare `HOST:PORT` means `grpc://`. Several URLs,
    /// comma-separated, name gateways to fail over between.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::builder(url).connect().await
    }

    /// Connection options before connecting.
    pub fn builder(url: &str) -> ClientBuilder {
        ClientBuilder {
            url: url.to_owned(),
            options: ConnectOptions::default(),
        }
    }

    /// Topic administration.
    pub fn admin(&self) -> Admin {
        Admin::new(self.transport.clone())
    }

    /// A producer; with the default config it is idempotent, so this asks the
    /// gateway for a producer id first.
    pub async fn producer(&self, config: ProducerConfig) -> Result<Producer> {
        Producer::start(self.transport.clone(), config).await
    }

    /// A member of a consumer group; it has joined when this returns.
    pub async fn group_consumer(&self, config: GroupConfig) -> Result<GroupConsumer> {
        GroupConsumer::join(self.transport.clone(), config).await
    }

    /// A consumer of `topic` with no partitions assigned yet.
    pub fn consumer(&self, topic: &str) -> Consumer {
        Consumer::new(self.transport.clone(), topic)
    }
}

/// Options for [`Client::builder`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    url: String,
    options: ConnectOptions,
}

impl ClientBuilder {
    /// PEM file of the CA (or self-signed certificate) that signed the
    /// gateway's certificate, for `grpcs://` and `quic://`.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.options.ca_file = Some(path.into());
        self
    }

    /// The client certificate and its key (PEM files) for a gateway that
    /// requires mutual TLS, over `grpcs://` (the URL's `?cert=&key=` wins).
    pub fn client_identity(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.options.client_identity = Some((cert.into(), key.into()));
        self
    }

    /// The name the gateway's certificate must carry, when it is not the URL's host.
    pub fn tls_domain(mut self, domain: impl Into<String>) -> Self {
        self.options.tls_domain = Some(domain.into());
        self
    }

    /// How long to wait for the connection (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.options.connect_timeout = timeout;
        self
    }

    /// Longest a single call may take before it fails as retryable (default 30 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.options.request_timeout = timeout;
        self
    }

    pub async fn connect(self) -> Result<Client> {
        let transport = transport::connect(&self.url, &self.options).await?;
        Ok(Client { transport })
    }
}
