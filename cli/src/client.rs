//! Connecting to a gateway and turning gRPC errors into readable ones.

use anyhow::Context;
use tonic::transport::{Channel, Endpoint};

/// Where client commands find a gateway.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ServerArgs {
    /// Gateway address: `HOST:PORT`, `grpc://HOST:PORT`,
    /// `grpcs://HOST:PORT?ca=CA.pem` (with `&cert=CERT.pem&key=KEY.pem` for
    /// mutual TLS) or `quic://HOST:PORT`; several, comma-separated, to fail
    /// over between.
    #[arg(
        long,
        short = 's',
        env = "STRATUS_SERVER",
        default_value = "http://127.0.0.1:7400"
    )]
    pub(crate) server: String,
}

impl ServerArgs {
    /// A gRPC channel to the first gateway listed.
    pub(crate) async fn channel(&self) -> anyhow::Result<Channel> {
        let first = self.server.split(',').next().unwrap_or_default().trim();
        let url = if first.contains("://") {
            first.to_owned()
        } else {
            format!("http://{first}")
        };
        Endpoint::from_shared(url.clone())
            .with_context(|| format!("{url:?} is not a valid gateway address"))?
            .connect()
            .await
            .with_context(|| {
                format!(
                    "cannot reach a gateway at {url}; start one with `stratus dev` or pass --server"
                )
            })
    }

    /// An SDK client; its errors already say what to do.
    pub(crate) async fn client(&self) -> anyhow::Result<stratus_sdk::Client> {
        Ok(stratus_sdk::Client::connect(&self.server).await?)
    }
}

/// A gRPC status as an error whose message is the gateway's own.
// By value so it reads `.map_err(status)`.
#[allow(clippy::needless_pass_by_value)]
pub(crate) fn status(status: tonic::Status) -> anyhow::Error {
    anyhow::anyhow!("{} ({:?})", status.message(), status.code())
}
