//! Kafka consumer groups on `stratus dev`'s Kafka listener, with real
//! clients as separate processes: three confluent-kafka
//! consumers (librdkafka) in one group on a 12-partition topic under
//! produce, once per assignor (range, roundrobin, cooperative-sticky; the
//! assignment is the clients' own, the gateway stores and hands out their
//! bytes). Every delivered record must be consumed, every partition owned
//! by exactly one live member in steady state, and a SIGKILLed member's
//! partitions must move to the others within the session timeout plus one
//! rebalance (`testkit/kafka/python/group_members.py`). The
//! committed offsets are the group's Stratus offsets: the CLI describes them.
//! The same three members with `group.protocol=consumer` (KIP-848), where
//! the gateway assigns, once per server assignor, and the Java client on
//! that protocol. The same three-member run with kafka-python, KafkaJS and
//! the Java client (classic and KIP-848) as members. Then two gateways over one store: the group's coordinator
//! gateway stops and the members carry on through the other, which has the
//! same state.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::DevServer;

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

/// The last JSON line a scenario printed: its summary.
fn summary_of(output: &std::process::Output, run: &str) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary = stdout
        .lines()
        .rfind(|l| l.starts_with('{'))
        .unwrap_or_else(|| {
            panic!(
                "{run}: no summary; stderr:\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
    serde_json::from_str(summary).unwrap()
}

/// Three members of `client` in one group, under produce, one SIGKILLed.
fn three_members(
    server: &DevServer,
    kafka: &str,
    (client, protocol, assignor): (&str, &str, &str),
    session_ms: u32,
) {
    let run = format!("{client} {protocol} {assignor}");
    let topic = format!("members-{client}-{protocol}-{assignor}");
    let output = Command::new(venv_python())
        .arg(root().join("testkit/kafka/python/group_members.py"))
        .args([
            "--bootstrap",
            kafka,
            "--topic",
            &topic,
            "--assignor",
            assignor,
            "--protocol",
            protocol,
            "--client",
            client,
        ])
        .args([
            "--partitions",
            "12",
            "--members",
            "3",
            "--session-ms",
            &session_ms.to_string(),
        ])
        .args(["--timeout", "90"])
        .output()
        .expect("run group_members.py");
    let summary = summary_of(&output, &run);
    eprintln!("{run}: {summary}");
    assert!(
        output.status.success() && summary["ok"] == true,
        "{run}: {summary}"
    );
    assert_eq!(summary["missing"], 0, "{run}: {summary}");
    assert!(summary["produced"].as_u64().unwrap() > 0);
    // The group's commits are the same committed offsets Stratus groups
    // use: `stratus group describe` shows them.
    let describe = Command::new(env!("CARGO_BIN_EXE_stratus"))
        .args(["group", "describe", &format!("{topic}-group")])
        .args(["--server", &server.url])
        .output()
        .expect("run stratus group describe");
    let shown = String::from_utf8_lossy(&describe.stdout);
    assert!(
        describe.status.success() && shown.contains(&topic),
        "{run}: the CLI does not show the group's committed offsets:\n{shown}{}",
        String::from_utf8_lossy(&describe.stderr)
    );
}

#[test]
fn three_confluent_consumers_share_partitions_and_take_over_a_killed_one() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let kafka = server.kafka_bootstrap();
    for assignor in ["range", "roundrobin", "cooperative-sticky"] {
        three_members(&server, &kafka, ("confluent", "classic", assignor), 6000);
    }
}

/// The same with members of the other clients: kafka-python (its assignors
/// are eager), KafkaJS (roundrobin is its one assignor), and the Java client
/// with the classic protocol and with `group.protocol=consumer`.
#[test]
fn three_members_of_each_client_share_partitions_and_take_over_a_killed_one() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start_with_env(
        dir.path(),
        &[("STRATUS_GATEWAY__GROUPS__DEFAULT_SESSION_TIMEOUT", "6s")],
    );
    let kafka = server.kafka_bootstrap();
    for run in [
        ("kafka-python", "classic", "range"),
        ("kafkajs", "classic", "roundrobin"),
        ("java", "classic", "cooperative-sticky"),
        ("java", "consumer", "uniform"),
    ] {
        three_members(&server, &kafka, run, 6000);
    }
}

/// The same with `group.protocol=consumer` (KIP-848): the gateway assigns
/// (uniform is its sticky assignor, range its range assignor) and times the
/// sessions, here 6 s.
#[test]
fn three_kip848_consumers_share_partitions_and_take_over_a_killed_one() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start_with_env(
        dir.path(),
        &[("STRATUS_GATEWAY__GROUPS__DEFAULT_SESSION_TIMEOUT", "6s")],
    );
    let kafka = server.kafka_bootstrap();
    for assignor in ["uniform", "range"] {
        three_members(&server, &kafka, ("confluent", "consumer", assignor), 6000);
    }
}

/// Two gateways with Kafka listeners over one metadata store and WAL tier,
/// in this process (redb is single-process; see `groups_multi_gateway`).
struct TwoGateways {
    gateways: Vec<(stratus_gateway::GatewayHandle, KafkaGateway)>,
}

struct KafkaGateway {
    server: stratus_kafka::stratus::KafkaServer,
    stop: tokio::sync::oneshot::Sender<()>,
}

impl TwoGateways {
    async fn start(dir: &Path) -> Self {
        use std::sync::Arc;
        let meta: Arc<dyn stratus_meta::MetaStore> = Arc::new(
            stratus_meta::redb_store::RedbMetaStore::open(&dir.join("meta.redb")).unwrap(),
        );
        let wal_dir = dir.join("wal");
        std::fs::create_dir_all(&wal_dir).unwrap();
        let mut gateways = Vec::new();
        for _ in 0..2 {
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
            gateways.push((handle, KafkaGateway { server, stop }));
        }
        Self { gateways }
    }

    fn bootstrap(&self) -> String {
        self.gateways
            .iter()
            .map(|(_, k)| k.server.local_addr().to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Stops the gateway whose Kafka broker id is `id`: its listener leaves
    /// the registry, then the gateway shuts down.
    async fn stop(&mut self, id: u32) {
        let at = self
            .gateways
            .iter()
            .position(|(_, k)| k.server.gateway_id() == id)
            .unwrap_or_else(|| panic!("no gateway has broker id {id}"));
        let (handle, kafka) = self.gateways.remove(at);
        let _ = kafka.stop.send(());
        kafka.server.stopped().await;
        handle.shutdown().await;
    }
}

/// The group's state is in metadata, so when its coordinator gateway stops
/// the members find the other gateway and carry on: every record is still
/// consumed and every partition has one owner. Then a member is SIGKILLed
/// and its partitions move, coordinated by the gateway that remains.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_carries_on_when_its_coordinator_gateway_stops() {
    coordinator_stops("classic", "cooperative-sticky", 6000).await;
}

/// The same with `group.protocol=consumer` (KIP-848) members, whose
/// heartbeats carry the group to the other gateway (the gateways' default
/// session, 10 s, times them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kip848_group_carries_on_when_its_coordinator_gateway_stops() {
    coordinator_stops("consumer", "uniform", 10_000).await;
}

async fn coordinator_stops(protocol: &str, assignor: &str, session_ms: u32) {
    use crate::common::group_members::{PausingScript, Step};

    let dir = tempfile::tempdir().unwrap();
    let mut cluster = TwoGateways::start(dir.path()).await;
    let topic = format!("failover-{protocol}");
    let mut command = Command::new(venv_python());
    command
        .arg(root().join("testkit/kafka/python/group_members.py"))
        .args(["--bootstrap", &cluster.bootstrap(), "--topic", &topic])
        .args(["--assignor", assignor, "--protocol", protocol])
        .args([
            "--partitions",
            "12",
            "--session-ms",
            &session_ms.to_string(),
        ])
        .args(["--timeout", "90", "--pause"]);
    let mut script = PausingScript::start(command);
    let summary = loop {
        match script.next() {
            Step::Pause(event) => {
                let coordinator = u32::try_from(event["coordinator"].as_u64().unwrap()).unwrap();
                cluster.stop(coordinator).await;
                script.go();
            }
            Step::Done(summary) => break summary,
        }
    };
    assert!(
        summary.get("steady_after_coordinator_stopped").is_some(),
        "{summary}"
    );
    for (handle, kafka) in cluster.gateways {
        let _ = kafka.stop.send(());
        kafka.server.stopped().await;
        handle.shutdown().await;
    }
}

/// The Java client (kafka-clients 4.4) with `group.protocol=consumer`
/// produces and reads back in a group: its ConsumerGroupHeartbeat, offset
/// commits by member epoch and fetches all go to the gateway.
#[test]
fn the_java_client_consumes_with_the_consumer_group_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let kafka = server.kafka_bootstrap();
    let classes = root().join("target/kafka-java");
    assert!(
        classes.join("classes/Scenario.class").exists(),
        "{} has no Scenario.class; install the Kafka clients with scripts/install-kafka-clients",
        classes.display()
    );
    let classpath = format!(
        "{}:{}",
        classes.join("classes").display(),
        classes.join("lib/*").display()
    );
    let created = Command::new(env!("CARGO_BIN_EXE_stratus"))
        .args(["topic", "create", "java-848", "--partitions", "4"])
        .args(["--server", &server.url])
        .status()
        .unwrap();
    assert!(created.success());
    let output = Command::new("java")
        .args(["-cp", &classpath, "Scenario", "--bootstrap", &kafka])
        .args([
            "--topic",
            "java-848",
            "--count",
            "5000",
            "--partitions",
            "4",
        ])
        .args(["--consume", "group", "--group-protocol", "consumer"])
        .args(["--timeout", "90"])
        .output()
        .expect("run java (installed by scripts/install-kafka-clients)");
    let summary = summary_of(&output, "java");
    assert!(summary["ok"] == true, "{summary}");
    assert_eq!(summary["group_protocol"], "consumer", "{summary}");
    assert_eq!(summary["consumed"], 5000, "{summary}");
    assert_eq!(summary["duplicates"], 0, "{summary}");
}

/// A KIP-848 consumer may subscribe to a topic before it exists, as one
/// started before its producer: it reads the topic that exists, and once
/// the other is created the group assigns it and the consumer reads it
/// (`testkit/kafka/python/subscribe_missing_confluent.py`). Then the same
/// by regular expression, which the gateway resolves (a topic it does not
/// match is never assigned).
#[test]
fn a_kip848_consumer_gets_a_topic_created_after_it_subscribed_by_name_or_pattern() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start_with_env(
        dir.path(),
        &[("STRATUS_GATEWAY__GROUPS__DEFAULT_SESSION_TIMEOUT", "6s")],
    );
    for how in [None, Some("--pattern")] {
        let output = Command::new(venv_python())
            .arg(root().join("testkit/kafka/python/subscribe_missing_confluent.py"))
            .args(["--bootstrap", &server.kafka_bootstrap()])
            .args(how)
            .output()
            .expect("run subscribe_missing_confluent.py");
        let summary = summary_of(&output, how.unwrap_or("by name"));
        assert!(
            output.status.success() && summary["ok"] == true,
            "{how:?}: {summary}"
        );
    }
}
