//! Connecting to a gateway and turning gRPC errors into readable ones.

use anyhow::Context;
use stratus_proto::v1::admin_client::AdminClient;
use stratus_proto::v1::producer_client::ProducerClient;
use tonic::transport::{Channel, Endpoint};

/// Where client commands find a gateway.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ServerArgs {
    /// Gateway address.
    #[arg(
        long,
        short = 's',
        env = "STRATUS_SERVER",
        default_value = "http://127.0.0.1:7400"
    )]
    pub(crate) server: String,
}

impl ServerArgs {
    pub(crate) async fn channel(&self) -> anyhow::Result<Channel> {
        let url = if self.server.contains("://") {
            self.server.clone()
        } else {
            format!("http://{}", self.server)
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

    pub(crate) async fn admin(&self) -> anyhow::Result<AdminClient<Channel>> {
        Ok(AdminClient::new(self.channel().await?))
    }

    pub(crate) async fn producer(&self) -> anyhow::Result<ProducerClient<Channel>> {
        Ok(ProducerClient::new(self.channel().await?).max_decoding_message_size(usize::MAX))
    }
}

/// A gRPC status as an error whose message is the gateway's own.
// By value so it reads `.map_err(status)`.
#[allow(clippy::needless_pass_by_value)]
pub(crate) fn status(status: tonic::Status) -> anyhow::Error {
    anyhow::anyhow!("{} ({:?})", status.message(), status.code())
}
