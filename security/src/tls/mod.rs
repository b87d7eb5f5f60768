//! Server TLS for TCP listeners (gRPC, Kafka, `/metrics`): settings, loading
//! PEM files into a rustls configuration, reloading it when the files
//! change, and the subject of a client certificate.

mod config;
mod identity;
mod load;
mod reload;

pub use config::TlsConfig;
pub use identity::peer_subject;
pub use load::{TlsError, server_config};
pub use reload::ReloadingTls;
