//! The seam between the SDK and the wire: one async method per unary RPC the
//! SDK uses, taking and returning the `stratus.v1` protobuf messages. Every
//! transport (gRPC, QUIC) implements [`Transport`]; the producer, consumer and
//! admin never see which one carries their calls.
//!
//! Errors are `tonic::Status` on every transport, so retry policy (which codes
//! are retryable) is written once, above this trait.

mod failover;
mod grpc;
pub(crate) mod ordered;
mod quic;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use stratus_proto::v1::{
    AlterTopicConfigRequest, AlterTopicConfigResponse, CommitOffsetsRequest, CommitOffsetsResponse,
    CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicRequest, CreateTopicResponse,
    DeleteRecordsRequest, DeleteRecordsResponse, DeleteTopicRequest, DeleteTopicResponse,
    DescribeTopicRequest, DescribeTopicResponse, FetchOffsetsRequest, FetchOffsetsResponse,
    FetchRequest, FetchResponse, HeartbeatRequest, HeartbeatResponse, InitProducerIdRequest,
    InitProducerIdResponse, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest,
    LeaveGroupResponse, ListOffsetsRequest, ListOffsetsResponse, ListTopicsRequest,
    ListTopicsResponse, ProduceRequest, ProduceResponse,
};
use tonic::Status;

use crate::error::Error;
use crate::limits::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_REQUEST_TIMEOUT};
pub(crate) use ordered::OrderedProducer;

/// One connection (or connection pool) to a gateway.
#[async_trait]
pub(crate) trait Transport: Send + Sync + std::fmt::Debug {
    async fn create_topic(&self, req: CreateTopicRequest) -> Result<CreateTopicResponse, Status>;
    async fn delete_topic(&self, req: DeleteTopicRequest) -> Result<DeleteTopicResponse, Status>;
    async fn list_topics(&self, req: ListTopicsRequest) -> Result<ListTopicsResponse, Status>;
    async fn describe_topic(
        &self,
        req: DescribeTopicRequest,
    ) -> Result<DescribeTopicResponse, Status>;
    async fn create_partitions(
        &self,
        req: CreatePartitionsRequest,
    ) -> Result<CreatePartitionsResponse, Status>;
    async fn alter_topic_config(
        &self,
        req: AlterTopicConfigRequest,
    ) -> Result<AlterTopicConfigResponse, Status>;
    async fn delete_records(
        &self,
        req: DeleteRecordsRequest,
    ) -> Result<DeleteRecordsResponse, Status>;
    async fn init_producer_id(
        &self,
        req: InitProducerIdRequest,
    ) -> Result<InitProducerIdResponse, Status>;
    async fn produce(&self, req: ProduceRequest) -> Result<ProduceResponse, Status>;
    /// The ordered produce path ([`ordered`]), if this transport has one:
    /// requests for one partition reach the gateway in the order they were
    /// sent, so a producer may keep several in flight. `None`: calls may
    /// overtake each other (the failover transport's connection changes).
    fn ordered_produce(&self) -> Option<&OrderedProducer> {
        None
    }
    async fn fetch(&self, req: FetchRequest) -> Result<FetchResponse, Status>;
    async fn list_offsets(&self, req: ListOffsetsRequest) -> Result<ListOffsetsResponse, Status>;
    async fn join_group(&self, req: JoinGroupRequest) -> Result<JoinGroupResponse, Status>;
    async fn heartbeat(&self, req: HeartbeatRequest) -> Result<HeartbeatResponse, Status>;
    async fn leave_group(&self, req: LeaveGroupRequest) -> Result<LeaveGroupResponse, Status>;
    async fn commit_offsets(
        &self,
        req: CommitOffsetsRequest,
    ) -> Result<CommitOffsetsResponse, Status>;
    async fn fetch_offsets(&self, req: FetchOffsetsRequest)
    -> Result<FetchOffsetsResponse, Status>;
}

/// How to reach a gateway, shared by every transport.
#[derive(Debug, Clone)]
pub(crate) struct ConnectOptions {
    /// PEM file of the CA (or the self-signed certificate) to trust for TLS.
    pub(crate) ca_file: Option<PathBuf>,
    /// Name the server certificate must carry; the URL's host by default.
    pub(crate) tls_domain: Option<String>,
    /// Certificate and key (PEM files) presented to a gateway that asks
    /// for client certificates (mutual TLS), over `grpcs://`.
    pub(crate) client_identity: Option<(PathBuf, PathBuf)>,
    pub(crate) connect_timeout: Duration,
    /// Upper bound on one call, so a silent gateway cannot stall a retry loop.
    pub(crate) request_timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            ca_file: None,
            tls_domain: None,
            client_identity: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }
}

/// The transports a URL can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    Grpc,
    Grpcs,
    Quic,
}

/// Parses `grpc://host:port`, `grpcs://host:port` or `quic://host:port`; a
/// bare `host:port` means `grpc://` (and `http://`/`https://` are accepted as
/// the gRPC spellings users already have in scripts).
pub(crate) fn parse_url(raw: &str) -> Result<(Scheme, url::Url), Error> {
    let with_scheme = if raw.contains("://") {
        raw.to_owned()
    } else {
        format!("grpc://{raw}")
    };
    let url = url::Url::parse(&with_scheme).map_err(|e| Error::InvalidUrl {
        url: raw.to_owned(),
        reason: e.to_string(),
    })?;
    let scheme = match url.scheme() {
        "grpc" | "http" => Scheme::Grpc,
        "grpcs" | "https" => Scheme::Grpcs,
        "quic" => Scheme::Quic,
        other => {
            return Err(Error::InvalidUrl {
                url: raw.to_owned(),
                reason: format!("unknown scheme {other:?}; use grpc://, grpcs:// or quic://"),
            });
        }
    };
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::InvalidUrl {
            url: raw.to_owned(),
            reason: "no host; write it as grpc://HOST:PORT".to_owned(),
        });
    }
    Ok((scheme, url))
}

/// Opens the transport the URL names; a comma-separated list of URLs means
/// several gateways, used one at a time with failover.
pub(crate) async fn connect(
    raw_url: &str,
    options: &ConnectOptions,
) -> Result<Arc<dyn Transport>, Error> {
    let urls: Vec<String> = raw_url
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .collect();
    match urls.as_slice() {
        [] => Err(Error::InvalidUrl {
            url: raw_url.to_owned(),
            reason: "no gateway; write it as grpc://HOST:PORT".to_owned(),
        }),
        [one] => connect_one(one, options).await,
        many => {
            // Bad URLs are reported now, not when failover reaches them.
            for url in many {
                parse_url(url)?;
            }
            Ok(Arc::new(
                failover::FailoverTransport::connect(urls, options).await?,
            ))
        }
    }
}

/// Opens the transport of one gateway URL.
pub(crate) async fn connect_one(
    raw_url: &str,
    options: &ConnectOptions,
) -> Result<Arc<dyn Transport>, Error> {
    let (scheme, url) = parse_url(raw_url)?;
    match scheme {
        Scheme::Grpc | Scheme::Grpcs => Ok(Arc::new(
            grpc::GrpcTransport::connect(&url, scheme == Scheme::Grpcs, options).await?,
        )),
        Scheme::Quic => Ok(Arc::new(quic::QuicTransport::connect(&url, options).await?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_pick_their_transport() {
        assert_eq!(parse_url("grpc://a:1").unwrap().0, Scheme::Grpc);
        assert_eq!(parse_url("127.0.0.1:7400").unwrap().0, Scheme::Grpc);
        assert_eq!(parse_url("http://a:1").unwrap().0, Scheme::Grpc);
        assert_eq!(parse_url("grpcs://a:1").unwrap().0, Scheme::Grpcs);
        assert_eq!(parse_url("quic://a:1").unwrap().0, Scheme::Quic);
        let err = parse_url("ftp://a:1").unwrap_err().to_string();
        assert!(err.contains("grpc://, grpcs:// or quic://"), "{err}");
    }
}
