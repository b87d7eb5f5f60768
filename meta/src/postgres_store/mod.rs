//! The networked [`MetaStore`]: PostgreSQL, for several gateway processes
//! sharing one cluster, and for teams that run PostgreSQL already (RDS,
//! Aurora, Cloud SQL).
//!
//! PostgreSQL stores the keys and values, gives every transaction a
//! consistent snapshot to read from, puts commits in one order and makes
//! them durable; the FoundationDB semantics on top (conflicts only from
//! reads, snapshot reads, atomic adds, versionstamps, watches) are built
//! here the way the embedded backends build them, with the commit log kept
//! in PostgreSQL so every process checks against the same history:
//! - [`schema`]: the tables and their migration;
//! - [`transaction`]: reads from a REPEATABLE READ snapshot, buffered writes;
//! - [`commit`]: conflict check, apply, version and versionstamps, why not
//!   SERIALIZABLE;
//! - [`watches`]: LISTEN/NOTIFY plus the commit log;
//! - [`error`]: SQLSTATEs and connection failures onto [`MetaError`].
//!
//! The size and age limits are the same as every backend's ([`crate::limits`]).
//! Connections are plain TCP or a Unix socket; TLS (`sslmode=require`) is not
//! built in yet.

mod commit;
mod error;
mod schema;
#[cfg(test)]
mod tests;
mod transaction;
mod watches;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio::sync::oneshot;
use tokio_postgres::NoTls;

use self::transaction::PgTransaction;
use crate::limits::{PG_CONNECT_TIMEOUT, PG_POOL_MAX_CONNECTIONS, PG_POOL_WAIT};
use crate::occ::Watchers;
use crate::{MetaError, MetaStore, Transaction, Watch};

pub use self::schema::SCHEMA_VERSION;

/// A metadata store in a PostgreSQL database. Clones share one connection
/// pool and one watch listener.
#[derive(Clone)]
pub struct PostgresMetaStore {
    shared: Arc<Shared>,
}

struct Shared {
    pool: Pool,
    watchers: Arc<Watchers>,
    /// Where the store is, for logs: no password.
    target: String,
    /// Dropping it (with the last clone) stops the watch listener.
    _stop_listener: oneshot::Sender<()>,
}

impl fmt::Debug for PostgresMetaStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.shared.pool.status();
        f.debug_struct("PostgresMetaStore")
            .field("target", &self.shared.target)
            .field("connections", &status.size)
            .field("idle", &status.available)
            .finish_non_exhaustive()
    }
}

impl PostgresMetaStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/db`,
    /// or `postgres:///db?host=/run/postgresql` for a Unix socket; every
    /// libpq URL parameter the driver knows works), creates or checks the
    /// tables, and starts the watch listener on the current Tokio runtime.
    pub async fn open(url: &str) -> Result<Self, MetaError> {
        let mut config: tokio_postgres::Config = url.parse().map_err(|e| {
            // The driver's message never repeats the URL, so no password leaks.
            MetaError::Backend(format!(
                "invalid PostgreSQL URL: {e}; expected postgres://user:password@host:port/database"
            ))
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(PG_CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("stratus");
        }
        let target = describe(&config);
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                // Transactions end their own PostgreSQL transactions (or are
                // rolled back when dropped), so a returned connection is clean.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(PG_POOL_MAX_CONNECTIONS)
            .wait_timeout(Some(PG_POOL_WAIT))
            .create_timeout(Some(PG_CONNECT_TIMEOUT))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| MetaError::Backend(format!("cannot build the PostgreSQL pool: {e}")))?;
        let mut client = pool.get().await.map_err(|e| {
            MetaError::Backend(format!(
                "cannot connect to PostgreSQL at {target}: {}",
                error::map_pool(&e)
            ))
        })?;
        schema::migrate(&mut client).await?;
        let version: i64 = client
            .query_one("SELECT version FROM stratus_meta_version", &[])
            .await
            .map_err(|e| error::map(&e))?
            .get(0);
        drop(client);
        let watchers = Arc::new(Watchers::default());
        let (stop, stopped) = oneshot::channel();
        watches::spawn(
            config,
            Arc::clone(&watchers),
            u64::try_from(version).unwrap_or(0),
            stopped,
        );
        tracing::info!(%target, "metadata store is PostgreSQL");
        Ok(Self {
            shared: Arc::new(Shared {
                pool,
                watchers,
                target,
                _stop_listener: stop,
            }),
        })
    }
}

/// `user@host:port/database`, from the parsed configuration (never the URL,
/// which may hold a password).
fn describe(config: &tokio_postgres::Config) -> String {
    let host = config
        .get_hosts()
        .iter()
        .map(|host| match host {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .collect::<Vec<_>>()
        .join(",");
    let port = config
        .get_ports()
        .first()
        .map_or(String::new(), |port| format!(":{port}"));
    format!(
        "{}@{host}{port}/{}",
        config.get_user().unwrap_or(""),
        config.get_dbname().unwrap_or("")
    )
}

#[async_trait]
impl MetaStore for PostgresMetaStore {
    async fn begin(&self) -> Result<Box<dyn Transaction>, MetaError> {
        Ok(Box::new(PgTransaction::begin(&self.shared.pool).await?))
    }

    fn watch(&self, key: &[u8]) -> Watch {
        self.shared.watchers.watch(key)
    }

    fn backend_name(&self) -> &'static str {
        "postgres"
    }
}
