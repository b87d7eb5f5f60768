//! A listener's TLS configuration that follows its files: certificates are
//! rotated by replacing the files (cert-manager, ACM exports, a cron job),
//! never by restarting gateways. The files are polled rather than watched
//! with inotify because rotations replace files through symlink swaps and
//! renames that watches miss, and a check every few seconds costs nothing.

use std::path::PathBuf;
use std::sync::{Arc, RwLock, Weak};

use tokio_rustls::TlsAcceptor;

use super::{TlsConfig, TlsError, server_config};

/// The current TLS configuration of a listener, reloaded in the background
/// while any clone of this is alive.
#[derive(Debug, Clone)]
pub struct ReloadingTls {
    current: Arc<RwLock<Arc<rustls::ServerConfig>>>,
    mutual: bool,
}

impl ReloadingTls {
    /// Loads `config` now (failing with the setting and file at fault) and
    /// starts checking its files every `reload_interval`. Needs a Tokio
    /// runtime.
    pub fn start(config: TlsConfig, prefix: &str, alpn: &[&[u8]]) -> Result<Self, TlsError> {
        let first = server_config(&config, prefix, alpn)?;
        let current = Arc::new(RwLock::new(Arc::new(first)));
        let reloader = Reloader {
            files: [&config.cert, &config.key, &config.client_ca]
                .into_iter()
                .flatten()
                .cloned()
                .collect(),
            seen: None,
            prefix: prefix.to_owned(),
            alpn: alpn.iter().map(|p| p.to_vec()).collect(),
            current: Arc::downgrade(&current),
            config,
        };
        let mutual = reloader.config.mutual();
        let mut reloader = reloader;
        reloader.seen = Some(reloader.contents());
        tokio::spawn(reloader.run());
        Ok(Self { current, mutual })
    }

    /// An acceptor with the configuration current now; take one per
    /// connection so a reload applies to the next handshake.
    pub fn acceptor(&self) -> TlsAcceptor {
        let config = match self.current.read() {
            Ok(config) => Arc::clone(&config),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        };
        TlsAcceptor::from(config)
    }

    /// Whether clients must present a certificate.
    pub fn mutual(&self) -> bool {
        self.mutual
    }
}

struct Reloader {
    config: TlsConfig,
    files: Vec<PathBuf>,
    /// The files' bytes when last loaded; `None` for unreadable.
    seen: Option<Vec<Option<Vec<u8>>>>,
    prefix: String,
    alpn: Vec<Vec<u8>>,
    current: Weak<RwLock<Arc<rustls::ServerConfig>>>,
}

impl Reloader {
    /// Contents rather than modification times: a copy that preserves
    /// times, or two writes within the clock's granularity, still counts.
    fn contents(&self) -> Vec<Option<Vec<u8>>> {
        self.files.iter().map(|f| std::fs::read(f).ok()).collect()
    }

    async fn run(mut self) {
        let mut tick = tokio::time::interval(self.config.reload_interval);
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(current) = self.current.upgrade() else {
                return;
            };
            let contents = self.contents();
            if self.seen.as_ref() == Some(&contents) {
                continue;
            }
            let alpn: Vec<&[u8]> = self.alpn.iter().map(Vec::as_slice).collect();
            match server_config(&self.config, &self.prefix, &alpn) {
                Ok(config) => {
                    match current.write() {
                        Ok(mut slot) => *slot = Arc::new(config),
                        Err(poisoned) => *poisoned.into_inner() = Arc::new(config),
                    }
                    tracing::info!(section = %self.prefix, "TLS certificate files changed; reloaded");
                    self.seen = Some(contents);
                }
                // Mid-rotation the key may not match the certificate yet:
                // keep serving the old pair and try again next tick.
                Err(e) => tracing::warn!(
                    section = %self.prefix, error = %e,
                    "TLS certificate files changed but do not load; still serving the previous ones"
                ),
            }
        }
    }
}
