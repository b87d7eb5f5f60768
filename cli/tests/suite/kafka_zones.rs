//! Zone-aware leaders: four gateways in two zones over one metadata store;
//! a confluent-kafka client that names its zone in `client.id`
//! (`stratus_zone=...`) is told leaders in its own zone only, so its traffic
//! stays there, and a client that names none gets leaders from both.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn venv_python() -> PathBuf {
    let python = root().join("target/py-venv/kafka/bin/python");
    assert!(
        python.exists(),
        "{} is missing; install the Kafka clients with scripts/install-kafka-clients",
        python.display()
    );
    python
}

/// Gateways with Kafka listeners in this process, one per zone given, over
/// one redb store and one WAL directory.
struct ZonedGateways {
    gateways: Vec<(
        stratus_gateway::GatewayHandle,
        stratus_kafka::stratus::KafkaServer,
    )>,
    stops: Vec<tokio::sync::oneshot::Sender<()>>,
}

impl ZonedGateways {
    async fn start(dir: &Path, zones: &[&str]) -> Self {
        let meta: Arc<dyn stratus_meta::MetaStore> = Arc::new(
            stratus_meta::redb_store::RedbMetaStore::open(&dir.join("meta.redb")).unwrap(),
        );
        let wal_dir = dir.join("wal");
        std::fs::create_dir_all(&wal_dir).unwrap();
        let (mut gateways, mut stops) = (Vec::new(), Vec::new());
        for zone in zones {
            let wal = stratus_tier::open_tier(&format!("file://{}", wal_dir.display())).unwrap();
            let log = Arc::new(stratus_storage::log::Log::new(
                Arc::clone(&meta),
                wal,
                &stratus_storage::log::LogConfig::default(),
            ));
            let mut config = stratus_gateway::GatewayConfig {
                listen: "127.0.0.1:0".parse().unwrap(),
                ..stratus_gateway::GatewayConfig::default()
            };
            config.quic.enabled = false;
            let registry = stratus_storage::registry::Registry::new(
                Arc::clone(log.meta()),
                log.keys().clone(),
            );
            let handle = stratus_gateway::Gateway::start(config, log).await.unwrap();
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let kafka = stratus_kafka::KafkaConfig {
                listen: "127.0.0.1:0".parse().unwrap(),
                zone: Some((*zone).to_owned()),
                ..stratus_kafka::KafkaConfig::default()
            };
            let server = stratus_kafka::stratus::start(
                kafka,
                handle.core().clone(),
                registry,
                format!("http://{}", handle.local_addr()),
                "default".to_owned(),
                async {
                    let _ = stopped.await;
                },
            )
            .await
            .unwrap();
            gateways.push((handle, server));
            stops.push(stop);
        }
        Self { gateways, stops }
    }

    fn bootstrap(&self) -> String {
        self.gateways
            .iter()
            .map(|(_, k)| k.local_addr().to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Broker ids of the gateways in `zone`, given the zones in start order.
    fn ids_in(&self, zones: &[&str], zone: &str) -> BTreeSet<i64> {
        self.gateways
            .iter()
            .zip(zones)
            .filter(|(_, z)| **z == zone)
            .map(|((_, k), _)| i64::from(k.gateway_id()))
            .collect()
    }

    async fn stop(self) {
        for stop in self.stops {
            let _ = stop.send(());
        }
        for (handle, server) in self.gateways {
            server.stopped().await;
            handle.shutdown().await;
        }
    }
}

/// The leaders confluent-kafka is told for every partition of `topic`,
/// connecting with `client_id`.
fn leaders(bootstrap: &str, topic: &str, client_id: &str) -> BTreeSet<i64> {
    let script = r#"
import json, sys
from confluent_kafka.admin import AdminClient
bootstrap, topic, client_id = sys.argv[1:4]
admin = AdminClient({"bootstrap.servers": bootstrap, "client.id": client_id})
md = admin.list_topics(topic, timeout=20).topics[topic]
if md.error is not None:
    raise SystemExit(f"metadata for {topic}: {md.error}")
print(json.dumps(sorted({p.leader for p in md.partitions.values()})))
"#;
    let output = Command::new(venv_python())
        .args(["-c", script, bootstrap, topic, client_id])
        .output()
        .expect("run python");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice::<Vec<i64>>(&output.stdout)
        .unwrap()
        .into_iter()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_naming_its_zone_is_told_leaders_in_that_zone() {
    let zones = ["zone-a", "zone-a", "zone-b", "zone-b"];
    let dir = tempfile::tempdir().unwrap();
    let cluster = ZonedGateways::start(dir.path(), &zones).await;
    let core = cluster.gateways[0].0.core().clone();
    core.topics()
        .create("zoned", 32, stratus_storage::topic::TopicConfig::default())
        .await
        .unwrap();
    let bootstrap = cluster.bootstrap();

    let (in_a, in_b) = (
        cluster.ids_in(&zones, "zone-a"),
        cluster.ids_in(&zones, "zone-b"),
    );
    let bootstrap_ = bootstrap.clone();
    let (a, b, none, unknown) = tokio::task::spawn_blocking(move || {
        (
            leaders(&bootstrap_, "zoned", "orders,stratus_zone=zone-a"),
            leaders(&bootstrap_, "zoned", "stratus_zone=zone-b"),
            leaders(&bootstrap_, "zoned", "orders"),
            leaders(&bootstrap_, "zoned", "orders,stratus_zone=zone-c"),
        )
    })
    .await
    .unwrap();
    // Rendezvous hashing over two gateways spreads 32 partitions over both.
    assert_eq!(a, in_a, "zone-a's client must be led from zone-a only");
    assert_eq!(b, in_b, "zone-b's client must be led from zone-b only");
    let all: BTreeSet<i64> = in_a.union(&in_b).copied().collect();
    assert_eq!(none, all, "a client naming no zone is led from every zone");
    assert_eq!(
        unknown, all,
        "a zone without gateways falls back to every gateway"
    );
    cluster.stop().await;
}
