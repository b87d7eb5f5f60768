//! The gRPC transport (tonic over HTTP/2, optionally TLS): `grpc://` and
//! `grpcs://` URLs, the latter with `?ca=` (the CA to trust) and, for a
//! gateway requiring client certificates, `&cert=&key=`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use stratus_proto::v1::admin_client::AdminClient;
use stratus_proto::v1::consumer_client::ConsumerClient;
use stratus_proto::v1::groups_client::GroupsClient;
use stratus_proto::v1::producer_client::ProducerClient;
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
use tonic::metadata::MetadataValue;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use super::ordered::{Answers, Opener, OrderedProducer, OutgoingRequests};
use super::{ConnectOptions, Transport};
use crate::error::Error;
use crate::limits::GRPC_MAX_ANSWER_BYTES;
use crate::trace;

/// One HTTP/2 connection multiplexing every call; tonic clients over it are
/// cheap handles, made per call.
#[derive(Debug)]
pub(crate) struct GrpcTransport {
    channel: Channel,
    /// Produce requests on `ProduceStream` calls over the same connection.
    ordered: OrderedProducer,
}

impl GrpcTransport {
    pub(crate) async fn connect(
        url: &url::Url,
        tls: bool,
        options: &ConnectOptions,
    ) -> Result<Self, Error> {
        let host = url.host_str().unwrap_or_default();
        let port = url.port().unwrap_or(7400);
        let target = format!("{}://{host}:{port}", if tls { "https" } else { "http" });
        let mut endpoint = Endpoint::from_shared(target.clone())
            .map_err(|e| Error::InvalidUrl {
                url: url.to_string(),
                reason: e.to_string(),
            })?
            .connect_timeout(options.connect_timeout)
            .timeout(options.request_timeout)
            .tcp_nodelay(true);
        if tls {
            endpoint = endpoint
                .tls_config(tls_config(host, &url_tls_options(url, options)?)?)
                .map_err(|e| Error::Tls(e.to_string()))?;
        }
        let channel = endpoint.connect().await.map_err(|e| Error::Connect {
            url: url.to_string(),
            reason: source_chain(&e),
        })?;
        let ordered =
            OrderedProducer::start(&produce_stream_opener(&channel), options.request_timeout);
        Ok(Self { channel, ordered })
    }

    fn admin(&self) -> AdminClient<Channel> {
        AdminClient::new(self.channel.clone())
    }

    fn producer(&self) -> ProducerClient<Channel> {
        ProducerClient::new(self.channel.clone()).max_decoding_message_size(GRPC_MAX_ANSWER_BYTES)
    }

    fn groups(&self) -> GroupsClient<Channel> {
        GroupsClient::new(self.channel.clone())
    }

    fn consumer(&self) -> ConsumerClient<Channel> {
        ConsumerClient::new(self.channel.clone()).max_decoding_message_size(GRPC_MAX_ANSWER_BYTES)
    }
}

/// Opens `ProduceStream` calls on `channel`, for the ordered produce path.
fn produce_stream_opener(channel: &Channel) -> Opener {
    let channel = channel.clone();
    Arc::new(move |requests| {
        let client =
            ProducerClient::new(channel.clone()).max_decoding_message_size(GRPC_MAX_ANSWER_BYTES);
        Box::pin(open_produce_stream(client, requests))
    })
}

async fn open_produce_stream(
    mut client: ProducerClient<Channel>,
    requests: OutgoingRequests,
) -> Result<Answers, Status> {
    Ok(Box::pin(
        client.produce_stream(requests).await?.into_inner(),
    ))
}

/// `options` with what `grpcs://HOST:PORT?ca=CA&cert=CERT&key=KEY` names
/// (each optional; the URL wins over the builder), so a URL alone carries
/// a whole TLS setup, as in `stratus --server`.
fn url_tls_options(url: &url::Url, options: &ConnectOptions) -> Result<ConnectOptions, Error> {
    let mut options = options.clone();
    let (mut cert, mut key) = (None, None);
    for (name, value) in url.query_pairs() {
        let path = Some(PathBuf::from(value.as_ref()));
        match name.as_ref() {
            "ca" => options.ca_file = path,
            "cert" => cert = path,
            "key" => key = path,
            other => {
                return Err(Error::InvalidUrl {
                    url: url.to_string(),
                    reason: format!(
                        "unknown parameter {other:?}; grpcs:// takes ca=, cert= and key="
                    ),
                });
            }
        }
    }
    match (cert, key) {
        (Some(cert), Some(key)) => options.client_identity = Some((cert, key)),
        (None, None) => {}
        _ => {
            return Err(Error::InvalidUrl {
                url: url.to_string(),
                reason: "give cert= and key= together: the client certificate and its key"
                    .to_owned(),
            });
        }
    }
    Ok(options)
}

fn read_pem(path: &Path, what: &str) -> Result<Vec<u8>, Error> {
    std::fs::read(path)
        .map_err(|e| Error::Tls(format!("cannot read {what} {}: {e}", path.display())))
}

fn tls_config(host: &str, options: &ConnectOptions) -> Result<ClientTlsConfig, Error> {
    let domain = options
        .tls_domain
        .clone()
        .unwrap_or_else(|| host.to_owned());
    let mut config = ClientTlsConfig::new().domain_name(domain);
    let Some(ca) = &options.ca_file else {
        return Err(Error::Tls(
            "grpcs:// needs a CA file to trust; add ?ca=/path/ca.pem or set ClientBuilder::ca_file"
                .to_owned(),
        ));
    };
    let pem = read_pem(ca, "the CA file (pass the PEM file of the gateway's CA)")?;
    config = config.ca_certificate(Certificate::from_pem(pem));
    if let Some((cert, key)) = &options.client_identity {
        let cert = read_pem(cert, "the client certificate")?;
        let key = read_pem(key, "the client key")?;
        config = config.identity(Identity::from_pem(cert, key));
    }
    Ok(config)
}

/// `message` as a call that carries the caller's trace context, so the
/// gateway's spans for it continue the application's span.
fn traced<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some((parent, state)) = trace::call_context() {
        let metadata = request.metadata_mut();
        if let Ok(value) = MetadataValue::try_from(parent) {
            metadata.insert(trace::TRACEPARENT, value);
        }
        if let Ok(value) = MetadataValue::try_from(state)
            && !value.is_empty()
        {
            metadata.insert(trace::TRACESTATE, value);
        }
    }
    request
}

/// The error with its causes, which is where tonic puts the useful part.
fn source_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[async_trait]
impl Transport for GrpcTransport {
    async fn create_topic(&self, req: CreateTopicRequest) -> Result<CreateTopicResponse, Status> {
        Ok(self.admin().create_topic(traced(req)).await?.into_inner())
    }

    async fn delete_topic(&self, req: DeleteTopicRequest) -> Result<DeleteTopicResponse, Status> {
        Ok(self.admin().delete_topic(traced(req)).await?.into_inner())
    }

    async fn list_topics(&self, req: ListTopicsRequest) -> Result<ListTopicsResponse, Status> {
        Ok(self.admin().list_topics(traced(req)).await?.into_inner())
    }

    async fn describe_topic(
        &self,
        req: DescribeTopicRequest,
    ) -> Result<DescribeTopicResponse, Status> {
        Ok(self.admin().describe_topic(traced(req)).await?.into_inner())
    }

    async fn create_partitions(
        &self,
        req: CreatePartitionsRequest,
    ) -> Result<CreatePartitionsResponse, Status> {
        Ok(self
            .admin()
            .create_partitions(traced(req))
            .await?
            .into_inner())
    }

    async fn alter_topic_config(
        &self,
        req: AlterTopicConfigRequest,
    ) -> Result<AlterTopicConfigResponse, Status> {
        Ok(self
            .admin()
            .alter_topic_config(traced(req))
            .await?
            .into_inner())
    }

    async fn delete_records(
        &self,
        req: DeleteRecordsRequest,
    ) -> Result<DeleteRecordsResponse, Status> {
        Ok(self.admin().delete_records(traced(req)).await?.into_inner())
    }

    async fn init_producer_id(
        &self,
        req: InitProducerIdRequest,
    ) -> Result<InitProducerIdResponse, Status> {
        Ok(self
            .producer()
            .init_producer_id(traced(req))
            .await?
            .into_inner())
    }

    async fn produce(&self, req: ProduceRequest) -> Result<ProduceResponse, Status> {
        Ok(self.producer().produce(traced(req)).await?.into_inner())
    }

    fn ordered_produce(&self) -> Option<&OrderedProducer> {
        Some(&self.ordered)
    }

    async fn fetch(&self, req: FetchRequest) -> Result<FetchResponse, Status> {
        Ok(self.consumer().fetch(traced(req)).await?.into_inner())
    }

    async fn list_offsets(&self, req: ListOffsetsRequest) -> Result<ListOffsetsResponse, Status> {
        Ok(self
            .consumer()
            .list_offsets(traced(req))
            .await?
            .into_inner())
    }

    async fn join_group(&self, req: JoinGroupRequest) -> Result<JoinGroupResponse, Status> {
        Ok(self.groups().join_group(traced(req)).await?.into_inner())
    }

    async fn heartbeat(&self, req: HeartbeatRequest) -> Result<HeartbeatResponse, Status> {
        Ok(self.groups().heartbeat(traced(req)).await?.into_inner())
    }

    async fn leave_group(&self, req: LeaveGroupRequest) -> Result<LeaveGroupResponse, Status> {
        Ok(self.groups().leave_group(traced(req)).await?.into_inner())
    }

    async fn commit_offsets(
        &self,
        req: CommitOffsetsRequest,
    ) -> Result<CommitOffsetsResponse, Status> {
        Ok(self
            .groups()
            .commit_offsets(traced(req))
            .await?
            .into_inner())
    }

    async fn fetch_offsets(
        &self,
        req: FetchOffsetsRequest,
    ) -> Result<FetchOffsetsResponse, Status> {
        Ok(self.groups().fetch_offsets(traced(req)).await?.into_inner())
    }
}
