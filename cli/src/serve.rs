//! `stratus dev` and `stratus gateway`: open the metadata store and WAL tier,
//! start a gateway, and shut it down gracefully on Ctrl-C or SIGTERM.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use stratus_compactor::Compactor;
use stratus_gateway::{Gateway, GatewayHandle};
use stratus_meta::MetaStore;
use stratus_meta::memory::MemoryMetaStore;
use stratus_meta::redb_store::RedbMetaStore;
use stratus_storage::log::{Log, LogConfig};
use stratus_tier::{Counters, layer, open_tier, probe_tier};

use crate::observability::{self, Exposed, Observability};
use crate::settings::{
    FlagOverrides, GatewayFlags, KafkaFlags, LogFormat, ServerSettings, TelemetryFlags,
};
use crate::signal::wait_for_signal;

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct DevArgs {
    /// Directory for all data (metadata and WAL objects) [default: stratus-data].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Do not run triggers in-process (run `stratus dispatcher` instead).
    #[arg(long)]
    no_dispatcher: bool,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct GatewayArgs {
    #[command(flatten)]
    storage: StorageArgs,
    #[command(flatten)]
    common: CommonArgs,
}

/// Where a server process keeps its data; shared by `gateway` and `compactor`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct StorageArgs {
    /// Directory for the embedded metadata store and default WAL tier.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Metadata store: `embedded`, `redb:///path/file.redb`,
    /// `postgres://user:password@host:5432/db` (PostgreSQL; several gateways
    /// may share it), `fdb:///path/fdb.cluster` (builds with `--features
    /// fdb`) or `memory://`.
    #[arg(long)]
    metadata: Option<String>,
    /// WAL tier URL: `s3://bucket/prefix`, `file:///path` or `memory://`.
    #[arg(long)]
    wal: Option<String>,
    /// Segment tier URL [default: the WAL tier's store, under `seg/`].
    #[arg(long)]
    segments: Option<String>,
}

impl StorageArgs {
    /// Puts these flags into `flags`.
    pub(crate) fn apply(self, flags: &mut FlagOverrides) {
        flags.data_dir = self.data_dir;
        flags.metadata = self.metadata;
        flags.wal = self.wal;
        flags.segments = self.segments;
    }
}

#[derive(Debug, Clone, clap::Args)]
struct CommonArgs {
    /// TOML configuration file (see README: Configuration).
    #[arg(long)]
    config: Option<PathBuf>,
    /// gRPC listen address.
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// How long the batcher waits to fill a flush, e.g. `5ms`.
    #[arg(long)]
    linger: Option<String>,
    /// Log lines as `text` or `json`.
    #[arg(long, value_parser = ["text", "json"])]
    log_format: Option<String>,
    /// Kafka protocol listen address [default: 127.0.0.1:9092, or a free
    /// port when the gRPC listen port is 0].
    #[arg(long)]
    kafka_listen: Option<std::net::SocketAddr>,
    /// Serve Prometheus metrics at http://ADDR/metrics [`stratus dev`
    /// default: the gRPC port + 1, or an ephemeral port when the gRPC port
    /// is 0; the address bound is printed].
    #[arg(long)]
    metrics_listen: Option<std::net::SocketAddr>,
}

impl CommonArgs {
    fn overrides(&self) -> FlagOverrides {
        FlagOverrides {
            log_format: self.log_format.as_deref().map(|f| match f {
                "json" => LogFormat::Json,
                _ => LogFormat::Text,
            }),
            gateway: GatewayFlags {
                listen: self.listen,
                linger: self.linger.clone(),
            },
            kafka: KafkaFlags {
                listen: self.kafka_listen,
            },
            telemetry: TelemetryFlags {
                metrics_listen: self.metrics_listen,
            },
            ..FlagOverrides::default()
        }
    }
}

pub(crate) async fn dev(args: DevArgs) -> anyhow::Result<()> {
    let mut flags = args.common.overrides();
    flags.data_dir = args.data_dir;
    let settings = ServerSettings::load(args.common.config.as_deref(), &flags)?;
    serve(settings, true, !args.no_dispatcher).await
}

pub(crate) async fn gateway(args: GatewayArgs) -> anyhow::Result<()> {
    let mut flags = args.common.overrides();
    args.storage.apply(&mut flags);
    let settings = ServerSettings::load(args.common.config.as_deref(), &flags)?;
    serve(settings, false, false).await
}

async fn serve(mut settings: ServerSettings, dev: bool, dispatcher: bool) -> anyhow::Result<()> {
    let telemetry = observability::init("stratus-gateway", settings.log_format)?;
    settings.gateway.quic.listen = quic_listen(&settings);
    settings.kafka.listen = kafka_listen(&settings);
    // Before anything is opened, so a refused start changes nothing.
    crate::exposure::check(&settings)?;
    let storage = open_storage(&settings).await?;
    if dev && settings.gateway.quic.needs_certificate() {
        // TLS always, even on a laptop: dev makes (once) and reuses its own.
        let files = stratus_gateway::self_signed_in(&storage.data_dir)?;
        settings.gateway.quic.cert = files.cert;
        settings.gateway.quic.key = files.key;
    }
    let handle = Gateway::start(settings.gateway.clone(), storage.log.clone()).await?;
    let addr = handle.local_addr();
    let quic_addr = handle.quic_addr();
    let (stop_kafka, kafka_stopped) = tokio::sync::oneshot::channel::<()>();
    let kafka = start_kafka(&settings, &handle, &storage, addr, kafka_stopped).await?;
    let exposed = storage.exposed(observability::metrics_listen(&settings, dev), true);
    let observability = Observability::start(telemetry, &settings, exposed).await?;
    // `stratus dev` compacts in-process, so a laptop needs nothing else.
    let (stop_compactor, compactor_stopped) = tokio::sync::oneshot::channel::<()>();
    let compactor = dev.then(|| {
        let compactor = Compactor::new(storage.log.clone(), settings.compactor.clone())
            .with_local_tier_dirs(storage.local_tier_dirs.clone());
        tokio::spawn(async move {
            compactor
                .run(async {
                    let _ = compactor_stopped.await;
                })
                .await;
        })
    });
    // `stratus dev` runs triggers in-process, so a laptop needs nothing else;
    // not over TLS, where it would need the client certificate of a user.
    let grpc_tls = settings.gateway.tls.enabled();
    let scheme = if grpc_tls { "grpcs" } else { "http" };
    let (stop_dispatcher, dispatcher_stopped) = tokio::sync::oneshot::channel::<()>();
    let dispatcher = (dispatcher && !grpc_tls).then(|| {
        let config = stratus_triggers::DispatcherConfig {
            server: format!("grpc://{addr}"),
            refresh: crate::limits::DEV_DISPATCHER_REFRESH,
            ..stratus_triggers::DispatcherConfig::default()
        };
        tokio::spawn(async move {
            let stopped = async {
                let _ = dispatcher_stopped.await;
            };
            if let Err(e) = stratus_triggers::Dispatcher::run(config, stopped).await {
                tracing::error!(error = %e, "the trigger dispatcher stopped");
            }
        })
    });
    if dev {
        println!("stratus dev is running");
        println!("  gateway   {scheme}://{addr}");
        if let Some(quic_addr) = quic_addr {
            let cert = settings.gateway.quic.cert.display();
            println!("  quic      quic://{quic_addr}?ca={cert}");
            println!("  quic cert {cert} (self-signed; clients trust it with ?ca=)");
        }
        if let Some(kafka) = &kafka {
            println!("  kafka     {}", kafka_address(kafka));
        }
        println!("  data dir  {}", storage.data_dir.display());
        println!("  metadata  {}", redact_password(&settings.metadata));
        println!("  wal tier  {}", storage.wal_url);
        println!("  segments  {}", storage.segments_url);
        if let Some(metrics) = observability.metrics_addr() {
            println!("  metrics   http://{metrics}/metrics");
        }
        println!(
            "  compactor every {}",
            humantime::format_duration(settings.compactor.interval)
        );
        if dispatcher.is_some() {
            println!("  triggers  dispatcher in-process (stratus trigger create --help)");
        } else if grpc_tls {
            println!("  triggers  no in-process dispatcher over TLS (run `stratus dispatcher`)");
        }
        if grpc_tls {
            println!(
                "try: stratus topic create hello --partitions 3 \
                 --server 'grpcs://{addr}?ca=CA.pem&cert=CERT.pem&key=KEY.pem'"
            );
        } else {
            println!("try: stratus topic create hello --partitions 3 --server http://{addr}");
        }
        println!("stop with Ctrl-C");
    } else {
        println!("stratus gateway listening on {scheme}://{addr}");
        if let Some(quic_addr) = quic_addr {
            println!("stratus gateway listening on quic://{quic_addr} (UDP)");
        }
        if let Some(kafka) = &kafka {
            println!(
                "stratus gateway listening on kafka://{}",
                kafka_address(kafka)
            );
        }
        if let Some(metrics) = observability.metrics_addr() {
            println!("metrics at http://{metrics}/metrics");
        }
    }
    wait_for_signal().await;
    let _ = stop_dispatcher.send(());
    if let Some(dispatcher) = dispatcher {
        let _ = dispatcher.await;
    }
    // Kafka clients leave first (the gateway deregisters), then in-flight
    // produce calls of every protocol are flushed.
    let _ = stop_kafka.send(());
    if let Some(kafka) = kafka {
        kafka.stopped().await;
    }
    tracing::info!("shutting down: flushing in-flight produce calls");
    handle.shutdown().await;
    let _ = stop_compactor.send(());
    if let Some(compactor) = compactor {
        let _ = compactor.await;
    }
    storage.log_request_counts();
    observability.shutdown().await;
    stop_metadata(&settings);
    Ok(())
}

/// Where QUIC listens. Set, where it is set. Left at its default, UDP on the
/// gRPC port + 1 of the gRPC address's IP (7401 beside the default 7400), or
/// a free port when the gRPC port is ephemeral: derived from `--listen`, so
/// two servers on different gRPC ports never both take UDP 7401.
fn quic_listen(settings: &ServerSettings) -> std::net::SocketAddr {
    let configured = settings.gateway.quic.listen;
    if configured != stratus_gateway::QuicConfig::default().listen {
        return configured;
    }
    quic_beside_grpc(settings.gateway.listen)
}

/// The default QUIC address for a gRPC address: see [`quic_listen`]. Port
/// 65535 has no next port; QUIC then takes a free one.
fn quic_beside_grpc(grpc: std::net::SocketAddr) -> std::net::SocketAddr {
    let port = match grpc.port() {
        0 => 0,
        port => port.checked_add(1).unwrap_or(0),
    };
    std::net::SocketAddr::new(grpc.ip(), port)
}

/// Where the Kafka listener listens: see [`beside_grpc`].
fn kafka_listen(settings: &ServerSettings) -> std::net::SocketAddr {
    let default = stratus_kafka::KafkaConfig::default().listen;
    beside_grpc(settings, settings.kafka.listen, default)
}

/// A listener's address: `configured` when set, else, left at its
/// `default`, the default's port on the gRPC listen address's IP, or a free
/// port when the gRPC port is ephemeral (as `/metrics` does), so parallel
/// test gateways never collide.
fn beside_grpc(
    settings: &ServerSettings,
    configured: std::net::SocketAddr,
    default: std::net::SocketAddr,
) -> std::net::SocketAddr {
    if configured != default {
        return configured;
    }
    let port = if settings.gateway.listen.port() == 0 {
        0
    } else {
        configured.port()
    };
    std::net::SocketAddr::new(settings.gateway.listen.ip(), port)
}

/// Starts the Kafka listener when `kafka.enabled`, on [`kafka_listen`].
async fn start_kafka(
    settings: &ServerSettings,
    handle: &GatewayHandle,
    storage: &Storage,
    grpc: std::net::SocketAddr,
    stopped: tokio::sync::oneshot::Receiver<()>,
) -> anyhow::Result<Option<stratus_kafka::stratus::KafkaServer>> {
    if !settings.kafka.enabled {
        return Ok(None);
    }
    let config = settings.kafka.clone();
    let log = &storage.log;
    let registry = stratus_storage::registry::Registry::new(
        std::sync::Arc::clone(log.meta()),
        log.keys().clone(),
    );
    let server = stratus_kafka::stratus::start(
        config,
        handle.core().clone(),
        registry,
        grpc.to_string(),
        settings.gateway.cluster.clone(),
        async {
            let _ = stopped.await;
        },
    )
    .await
    .context("invalid setting `kafka`")?;
    Ok(Some(server))
}

fn kafka_address(kafka: &stratus_kafka::stratus::KafkaServer) -> String {
    let (host, port) = kafka.advertised();
    format!("{host}:{port}")
}

/// The metadata store and tiers of a server process, opened and probed.
pub(crate) struct Storage {
    pub(crate) log: Arc<Log>,
    pub(crate) data_dir: PathBuf,
    pub(crate) wal_url: String,
    pub(crate) segments_url: String,
    /// Directories of the `file://` tiers, whose staging files of PUTs
    /// killed part-way the compactor sweeps.
    pub(crate) local_tier_dirs: Vec<PathBuf>,
    wal_counters: Arc<Counters>,
    segment_counters: Option<Arc<Counters>>,
}

impl Storage {
    /// What this process's telemetry reads from its storage.
    pub(crate) fn exposed(
        &self,
        metrics_listen: Option<std::net::SocketAddr>,
        gateway: bool,
    ) -> Exposed<'_> {
        let mut tiers = vec![("wal", Arc::clone(&self.wal_counters))];
        tiers.extend(self.segment_counters.clone().map(|c| ("segments", c)));
        Exposed {
            metrics_listen,
            tiers,
            gateway_log: gateway.then_some(&self.log),
        }
    }

    pub(crate) fn log_request_counts(&self) {
        let counts = self.wal_counters.snapshot();
        tracing::info!(
            requests = %serde_json::to_string(&counts).unwrap_or_default(),
            "stopped; WAL tier requests since start"
        );
        if let Some(counters) = &self.segment_counters {
            tracing::info!(
                requests = %serde_json::to_string(&counters.snapshot()).unwrap_or_default(),
                "segment tier requests since start"
            );
        }
    }
}

/// Opens the metadata store, the WAL tier and the segment tier (each
/// wrapped in retries and request counting, and probed so a misconfigured
/// bucket fails at start), and the log over them.
pub(crate) async fn open_storage(settings: &ServerSettings) -> anyhow::Result<Storage> {
    std::fs::create_dir_all(&settings.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}; pass a writable --data-dir",
            settings.data_dir.display()
        )
    })?;
    let data_dir = std::fs::canonicalize(&settings.data_dir)
        .with_context(|| format!("cannot resolve {}", settings.data_dir.display()))?;
    let meta = open_metadata(&settings.metadata, &data_dir).await?;
    let wal_url = settings.wal_url(&data_dir);
    let base = open_tier(&wal_url).context("invalid setting `wal`")?;
    let base = settings.wal_with_faults(base)?;
    let tier = layer(base, settings.wal_retry.to_config());
    probe_tier(tier.store.as_ref(), &wal_url)
        .await
        .context("invalid setting `wal`")?;
    let wal = Arc::clone(&tier.store);
    let (segments, segments_url, segment_counters) = if settings.segments.is_empty() {
        (wal.clone(), format!("{wal_url} (seg/)"), None)
    } else {
        let base = open_tier(&settings.segments).context("invalid setting `segments`")?;
        let segment_tier = layer(base, settings.wal_retry.to_config());
        probe_tier(segment_tier.store.as_ref(), &settings.segments)
            .await
            .context("invalid setting `segments`")?;
        (
            segment_tier.store,
            settings.segments.clone(),
            Some(segment_tier.counters),
        )
    };
    let log = Log::new(
        meta,
        wal,
        &LogConfig {
            cluster: settings.gateway.cluster.clone(),
            chunk_cache_bytes: settings.gateway.chunk_cache_bytes,
            ..LogConfig::default()
        },
    )
    .with_segment_tier(segments);
    Ok(Storage {
        log: Arc::new(log),
        data_dir,
        local_tier_dirs: [wal_url.as_str(), settings.segments.as_str()]
            .into_iter()
            .filter_map(stratus_tier::file_tier_dir)
            .collect(),
        wal_url,
        segments_url,
        wal_counters: tier.counters,
        segment_counters,
    })
}

/// FoundationDB's client network must be stopped before the process exits.
pub(crate) fn stop_metadata(settings: &ServerSettings) {
    #[cfg(feature = "fdb")]
    if settings.metadata.starts_with("fdb://") {
        stratus_meta::fdb_store::stop_network();
    }
    #[cfg(not(feature = "fdb"))]
    let _ = settings;
}

async fn open_metadata(spec: &str, data_dir: &Path) -> anyhow::Result<Arc<dyn MetaStore>> {
    if spec == "embedded" {
        let path = data_dir.join("meta.redb");
        return Ok(Arc::new(RedbMetaStore::open(&path).with_context(|| {
            format!("cannot open the embedded metadata store {}", path.display())
        })?));
    }
    if spec == "memory://" {
        return Ok(Arc::new(MemoryMetaStore::new()));
    }
    if let Some(cluster_file) = spec.strip_prefix("fdb://") {
        return open_fdb(cluster_file);
    }
    if spec.starts_with("postgres://") || spec.starts_with("postgresql://") {
        return open_postgres(spec).await;
    }
    if let Some(path) = spec.strip_prefix("redb://") {
        return Ok(Arc::new(
            RedbMetaStore::open(Path::new(path))
                .with_context(|| format!("cannot open the metadata store {path}"))?,
        ));
    }
    anyhow::bail!(
        "metadata store {:?} is not supported; use `embedded`, `redb:///path/file.redb`, \
         `postgres://user:password@host:5432/database`, `fdb:///path/fdb.cluster` or `memory://`",
        redact_password(spec)
    )
}

/// `postgres://user:password@host:5432/database`, or any libpq URL the driver takes.
#[cfg(feature = "postgres")]
async fn open_postgres(url: &str) -> anyhow::Result<Arc<dyn MetaStore>> {
    use stratus_meta::postgres_store::PostgresMetaStore;
    let store = PostgresMetaStore::open(url).await.with_context(|| {
        format!(
            "cannot open the PostgreSQL metadata store {}",
            redact_password(url)
        )
    })?;
    Ok(Arc::new(store))
}

#[cfg(not(feature = "postgres"))]
async fn open_postgres(_url: &str) -> anyhow::Result<Arc<dyn MetaStore>> {
    anyhow::bail!(
        "this stratus was built without PostgreSQL support; rebuild with \
         `cargo build --release -p stratus-cli --features postgres` or use `metadata = \"embedded\"`"
    )
}

/// A metadata URL with its password (`user:password@`) replaced by `***`,
/// for printing and error messages.
pub(crate) fn redact_password(spec: &str) -> String {
    let Some((scheme, rest)) = spec.split_once("://") else {
        return spec.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    // A password given as a query parameter is hidden the same way.
    let tail = match tail.find("password=") {
        Some(at) => {
            let value = at + "password=".len();
            let value_end = tail[value..]
                .find('&')
                .map_or(tail.len(), |end| value + end);
            format!("{}***{}", &tail[..value], &tail[value_end..])
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

/// `fdb:///etc/foundationdb/fdb.cluster`, or `fdb://` for the default cluster file.
#[cfg(feature = "fdb")]
fn open_fdb(cluster_file: &str) -> anyhow::Result<Arc<dyn MetaStore>> {
    use stratus_meta::fdb_store::FdbMetaStore;
    let path = (!cluster_file.is_empty()).then(|| Path::new(cluster_file));
    Ok(Arc::new(FdbMetaStore::open(path).with_context(|| {
        format!("cannot open FoundationDB with cluster file {cluster_file:?}")
    })?))
}

#[cfg(not(feature = "fdb"))]
fn open_fdb(_cluster_file: &str) -> anyhow::Result<Arc<dyn MetaStore>> {
    anyhow::bail!(
        "this stratus was built without FoundationDB support; rebuild with \
         `cargo build --release -p stratus-cli --features fdb` (needs libfdb_c) or use `metadata = \"embedded\"`"
    )
}

#[cfg(test)]
mod tests {
    use super::{quic_beside_grpc, redact_password};

    #[test]
    fn quic_takes_the_grpc_port_plus_one() {
        let addr = |s: &str| s.parse::<std::net::SocketAddr>().unwrap();
        assert_eq!(
            quic_beside_grpc(addr("127.0.0.1:7400")),
            addr("127.0.0.1:7401")
        );
        assert_eq!(
            quic_beside_grpc(addr("127.0.0.1:7500")),
            addr("127.0.0.1:7501")
        );
        assert_eq!(quic_beside_grpc(addr("0.0.0.0:0")), addr("0.0.0.0:0"));
        assert_eq!(quic_beside_grpc(addr("[::1]:65535")), addr("[::1]:0"));
    }

    #[test]
    fn metadata_passwords_are_redacted() {
        assert_eq!(
            redact_password("postgres://app:s3cret@db.internal:5432/stratus"),
            "postgres://app:***@db.internal:5432/stratus"
        );
        assert_eq!(
            redact_password("postgres:///stratus?user=app&password=s3cret&host=/run"),
            "postgres:///stratus?user=app&password=***&host=/run"
        );
        assert_eq!(
            redact_password("postgres://app@db/stratus"),
            "postgres://app@db/stratus"
        );
        assert_eq!(redact_password("embedded"), "embedded");
        assert_eq!(
            redact_password("redb:///var/lib/meta.redb"),
            "redb:///var/lib/meta.redb"
        );
    }
}
