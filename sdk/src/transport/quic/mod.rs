//! The QUIC transport: `quic://HOST:PORT?ca=/path/ca.pem` (or `?pin=` a
//! certificate). One connection, reused by every call; one bidirectional
//! stream per call carrying one request frame and one answer frame
//! (`stratus_proto::frame`), except produce requests of the idempotent
//! producer, which travel in order on a few long-lived streams
//! ([`produce_stream`]); a lost connection is replaced on the next call.
//!
//! QUIC is for producers on lossy links: a lost packet delays only the call
//! whose stream it belongs to, where HTTP/2 over TCP stalls every call on the
//! connection until the retransmission arrives.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::BytesMut;
use quinn::{Connection, Endpoint};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use stratus_proto::frame::{self, ALPN, Frame, Headers, MessageKind, WireMessage};
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
use tokio::sync::Mutex;
use tonic::{Code, Status};

use super::ordered::OrderedProducer;
use super::{ConnectOptions, Transport};
use crate::error::Error;
use crate::limits::{QUIC_IDLE_TIMEOUT, QUIC_KEEP_ALIVE, QUIC_MAX_ANSWER_BYTES};
use crate::trace;

mod produce_stream;

/// The gateway's default QUIC port.
const DEFAULT_PORT: u16 = 7401;

/// Which certificate the client trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Trust {
    /// A CA (or a self-signed certificate) that must have signed the
    /// gateway's certificate for the URL's host.
    Ca(PathBuf),
    /// Exactly this certificate, whatever names it carries.
    Pin(PathBuf),
}

#[derive(Debug)]
pub(crate) struct QuicTransport {
    link: Arc<Link>,
    ordered: OrderedProducer,
}

/// The endpoint and the connection every call and ordered stream shares.
#[derive(Debug)]
pub(crate) struct Link {
    endpoint: Endpoint,
    addr: SocketAddr,
    server_name: String,
    url: String,
    options: ConnectOptions,
    /// The connection calls share; replaced when it is lost. The lock is held
    /// while connecting, so concurrent callers wait for one handshake.
    connection: Mutex<Option<Connection>>,
}

impl QuicTransport {
    pub(crate) async fn connect(url: &url::Url, options: &ConnectOptions) -> Result<Self, Error> {
        let invalid = |reason: String| Error::InvalidUrl {
            url: url.to_string(),
            reason,
        };
        let host = url.host_str().unwrap_or_default().trim_matches(['[', ']']);
        let port = url.port().unwrap_or(DEFAULT_PORT);
        let addr = (host, port)
            .to_socket_addrs()
            .map_err(|e| invalid(format!("cannot resolve {host}: {e}")))?
            .next()
            .ok_or_else(|| invalid(format!("{host} resolves to no address")))?;
        let trust = trust(url, options)?;
        let bind = if addr.is_ipv6() {
            SocketAddr::from(([0u16; 8], 0))
        } else {
            SocketAddr::from(([0, 0, 0, 0], 0))
        };
        let mut endpoint = Endpoint::client(bind).map_err(|e| Error::Connect {
            url: url.to_string(),
            reason: format!("cannot open a UDP socket: {e}"),
        })?;
        endpoint.set_default_client_config(client_config(&trust)?);
        let link = Link {
            endpoint,
            addr,
            server_name: options
                .tls_domain
                .clone()
                .unwrap_or_else(|| host.to_owned()),
            url: url.to_string(),
            options: options.clone(),
            connection: Mutex::new(None),
        };
        // Connect now so a wrong address or certificate fails here, clearly.
        link.connection().await.map_err(|status| Error::Connect {
            url: url.to_string(),
            reason: status.message().to_owned(),
        })?;
        let link = Arc::new(link);
        let ordered =
            OrderedProducer::start(&produce_stream::opener(&link), options.request_timeout);
        Ok(Self { link, ordered })
    }

    /// One call: a stream, the request frame, the answer frame.
    async fn call<Req: WireMessage, Resp: WireMessage>(
        &self,
        request: Req,
    ) -> Result<Resp, Status> {
        self.link.call(request).await
    }
}

impl Link {
    /// The live connection, or a new one if there is none or it was lost.
    pub(crate) async fn connection(&self) -> Result<Connection, Status> {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.as_ref()
            && connection.close_reason().is_none()
        {
            return Ok(connection.clone());
        }
        let connecting = self
            .endpoint
            .connect(self.addr, &self.server_name)
            .map_err(|e| {
                Status::invalid_argument(format!("cannot connect to {}: {e}", self.url))
            })?;
        let connection = tokio::time::timeout(self.options.connect_timeout, connecting)
            .await
            .map_err(|_| {
                Status::unavailable(format!(
                    "no QUIC handshake with {} within {:?}; is the gateway's QUIC endpoint up and UDP reachable?",
                    self.url, self.options.connect_timeout
                ))
            })?
            .map_err(|e| Status::unavailable(format!("QUIC handshake with {} failed: {e}", self.url)))?;
        *slot = Some(connection.clone());
        Ok(connection)
    }

    /// One call: a stream, the request frame, the answer frame.
    async fn call<Req: WireMessage, Resp: WireMessage>(
        &self,
        request: Req,
    ) -> Result<Resp, Status> {
        let mut headers = Headers::new();
        if let Some((parent, state)) = trace::call_context() {
            headers.insert(trace::TRACEPARENT.to_owned(), parent);
            if !state.is_empty() {
                headers.insert(trace::TRACESTATE.to_owned(), state);
            }
        }
        let bytes = Frame::from_message(&request, headers)
            .to_bytes()
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let exchange = async {
            let connection = self.connection().await?;
            let (mut send, mut recv) = connection
                .open_bi()
                .await
                .map_err(|e| lost(&self.url, &e))?;
            send.write_all(&bytes)
                .await
                .map_err(|e| lost(&self.url, &e))?;
            let _ = send.finish();
            read_answer(&mut recv, &self.url).await
        };
        let answer = tokio::time::timeout(self.options.request_timeout, exchange)
            .await
            .map_err(|_| {
                Status::deadline_exceeded(format!(
                    "no answer from {} within {:?}",
                    self.url, self.options.request_timeout
                ))
            })??;
        if answer.kind == MessageKind::Error {
            let detail: stratus_proto::v1::ErrorDetail = answer
                .message()
                .map_err(|e| Status::internal(e.to_string()))?;
            return Err(Status::new(Code::from_i32(detail.code), detail.message));
        }
        answer.message().map_err(|e| {
            Status::internal(format!("the gateway's answer is not {}: {e}", Resp::KIND))
        })
    }
}

/// A transport failure as a retryable status: the request may or may not
/// have reached the gateway, which the idempotent producer's retry resolves.
pub(crate) fn lost(url: &str, err: &dyn std::error::Error) -> Status {
    Status::unavailable(format!("QUIC call to {url} failed: {err}; retry"))
}

async fn read_answer(recv: &mut quinn::RecvStream, url: &str) -> Result<Frame, Status> {
    let mut buf = BytesMut::new();
    loop {
        match frame::decode(&mut buf, QUIC_MAX_ANSWER_BYTES) {
            Ok(Some(frame)) => return Ok(frame),
            Ok(None) => {}
            Err(e) => {
                return Err(Status::internal(format!(
                    "bad answer frame from {url}: {e}"
                )));
            }
        }
        match recv.read_chunk(usize::MAX, true).await {
            Ok(Some(chunk)) => buf.extend_from_slice(&chunk.bytes),
            Ok(None) => {
                return Err(Status::unavailable(format!(
                    "{url} ended the stream after {} bytes, before a whole answer; retry",
                    buf.len()
                )));
            }
            Err(e) => return Err(lost(url, &e)),
        }
    }
}

/// `?ca=` or `?pin=` from the URL, else `ClientBuilder::ca_file`.
fn trust(url: &url::Url, options: &ConnectOptions) -> Result<Trust, Error> {
    let mut trust = None;
    for (key, value) in url.query_pairs() {
        let found = match key.as_ref() {
            "ca" => Trust::Ca(PathBuf::from(value.as_ref())),
            "pin" => Trust::Pin(PathBuf::from(value.as_ref())),
            other => {
                return Err(Error::InvalidUrl {
                    url: url.to_string(),
                    reason: format!("unknown parameter {other:?}; quic:// takes ca= or pin="),
                });
            }
        };
        if trust.replace(found).is_some() {
            return Err(Error::InvalidUrl {
                url: url.to_string(),
                reason: "give one of ca= or pin=, once".to_owned(),
            });
        }
    }
    trust
        .or_else(|| options.ca_file.clone().map(Trust::Ca))
        .ok_or_else(|| {
            Error::Tls(
                "quic:// needs a certificate to trust: add ?ca=/path/ca.pem (the CA, or the \
                 self-signed certificate `stratus dev` prints) or ?pin=/path/cert.pem to the URL"
                    .to_owned(),
            )
        })
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .map_err(|e| {
            Error::Tls(format!(
                "cannot read certificate file {}: {e}",
                path.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(Error::Tls(format!(
            "{} holds no PEM CERTIFICATE block",
            path.display()
        )));
    }
    Ok(certs)
}

fn client_config(trust: &Trust) -> Result<quinn::ClientConfig, Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| Error::Tls(e.to_string()))?;
    let mut tls = match trust {
        Trust::Ca(path) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in read_certs(path)? {
                roots.add(cert).map_err(|e| {
                    Error::Tls(format!("{} is not a usable CA: {e}", path.display()))
                })?;
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        Trust::Pin(path) => {
            let pinned = read_certs(path)?.swap_remove(0);
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Pinned { pinned, provider }))
                .with_no_client_auth()
        }
    };
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls)
        .map_err(|e| Error::Tls(e.to_string()))?;
    let mut config = quinn::ClientConfig::new(Arc::new(crypto));
    let mut transport = quinn::TransportConfig::default();
    transport
        .keep_alive_interval(Some(QUIC_KEEP_ALIVE))
        .max_idle_timeout(Some(
            QUIC_IDLE_TIMEOUT
                .try_into()
                .expect("the idle timeout fits QUIC's varint"),
        ));
    config.transport_config(Arc::new(transport));
    Ok(config)
}

/// Trusts exactly one certificate: the handshake must present it and prove
/// possession of its key. Names and expiry are not checked; that is what
/// pinning a self-signed certificate means.
#[derive(Debug)]
struct Pinned {
    pinned: CertificateDer<'static>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.pinned.as_ref() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "the gateway's certificate is not the pinned one".to_owned(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[async_trait]
impl Transport for QuicTransport {
    async fn create_topic(&self, req: CreateTopicRequest) -> Result<CreateTopicResponse, Status> {
        self.call(req).await
    }

    async fn delete_topic(&self, req: DeleteTopicRequest) -> Result<DeleteTopicResponse, Status> {
        self.call(req).await
    }

    async fn list_topics(&self, req: ListTopicsRequest) -> Result<ListTopicsResponse, Status> {
        self.call(req).await
    }

    async fn describe_topic(
        &self,
        req: DescribeTopicRequest,
    ) -> Result<DescribeTopicResponse, Status> {
        self.call(req).await
    }

    async fn create_partitions(
        &self,
        req: CreatePartitionsRequest,
    ) -> Result<CreatePartitionsResponse, Status> {
        self.call(req).await
    }

    async fn alter_topic_config(
        &self,
        req: AlterTopicConfigRequest,
    ) -> Result<AlterTopicConfigResponse, Status> {
        self.call(req).await
    }

    async fn delete_records(
        &self,
        req: DeleteRecordsRequest,
    ) -> Result<DeleteRecordsResponse, Status> {
        self.call(req).await
    }

    async fn init_producer_id(
        &self,
        req: InitProducerIdRequest,
    ) -> Result<InitProducerIdResponse, Status> {
        self.call(req).await
    }

    async fn produce(&self, req: ProduceRequest) -> Result<ProduceResponse, Status> {
        self.call(req).await
    }

    fn ordered_produce(&self) -> Option<&OrderedProducer> {
        Some(&self.ordered)
    }

    async fn fetch(&self, req: FetchRequest) -> Result<FetchResponse, Status> {
        self.call(req).await
    }

    async fn list_offsets(&self, req: ListOffsetsRequest) -> Result<ListOffsetsResponse, Status> {
        self.call(req).await
    }

    async fn join_group(&self, req: JoinGroupRequest) -> Result<JoinGroupResponse, Status> {
        self.call(req).await
    }

    async fn heartbeat(&self, req: HeartbeatRequest) -> Result<HeartbeatResponse, Status> {
        self.call(req).await
    }

    async fn leave_group(&self, req: LeaveGroupRequest) -> Result<LeaveGroupResponse, Status> {
        self.call(req).await
    }

    async fn commit_offsets(
        &self,
        req: CommitOffsetsRequest,
    ) -> Result<CommitOffsetsResponse, Status> {
        self.call(req).await
    }

    async fn fetch_offsets(
        &self,
        req: FetchOffsetsRequest,
    ) -> Result<FetchOffsetsResponse, Status> {
        self.call(req).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(raw: &str) -> url::Url {
        url::Url::parse(raw).unwrap()
    }

    #[test]
    fn trust_comes_from_the_url_or_the_builder() {
        let options = ConnectOptions::default();
        assert_eq!(
            trust(&url("quic://h:1?ca=/c.pem"), &options).unwrap(),
            Trust::Ca("/c.pem".into())
        );
        assert_eq!(
            trust(&url("quic://h:1?pin=/p.pem"), &options).unwrap(),
            Trust::Pin("/p.pem".into())
        );
        let err = trust(&url("quic://h:1"), &options).unwrap_err().to_string();
        assert!(err.contains("?ca="), "{err}");
        let with_file = ConnectOptions {
            ca_file: Some("/b.pem".into()),
            ..ConnectOptions::default()
        };
        assert_eq!(
            trust(&url("quic://h:1"), &with_file).unwrap(),
            Trust::Ca("/b.pem".into())
        );
        let err = trust(&url("quic://h:1?ca=/a&pin=/b"), &options)
            .unwrap_err()
            .to_string();
        assert!(err.contains("one of ca= or pin="), "{err}");
        let err = trust(&url("quic://h:1?cert=/a"), &options)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown parameter \"cert\""), "{err}");
    }
}
