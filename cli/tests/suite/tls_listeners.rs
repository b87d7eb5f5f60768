//! TLS on the gRPC and Kafka listeners, as separate processes with
//! certificates made at test time: a client with a certificate the gateway's
//! client CA signed produces and reads back (the Stratus SDK and CLI over
//! `grpcs://`, confluent-kafka over SSL); a plaintext client, a client
//! without a certificate and one whose certificate another CA signed are
//! refused. Then the exposure check: `stratus gateway` on a non-loopback
//! address refuses to start without TLS and client authentication, naming
//! the settings, unless `insecure = true`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use stratus_sdk::{Client, ProducerConfig, TopicConfig};
use stratus_security::test_certs::{PemFiles, TestCa};

use crate::common::DevServer;
use crate::common::sdk::{assert_exactly_once, produce_keyed, read_topic};

const RECORDS: usize = 200;

/// Environment variables of a child process.
type Env = Vec<(String, String)>;

struct Pki {
    ca: TestCa,
    server: PemFiles,
    alice: PemFiles,
    mallory: PemFiles,
}

fn pki(dir: &Path) -> Pki {
    let ca = TestCa::new(dir, "stratus");
    let rogue = TestCa::new(dir, "rogue");
    Pki {
        server: ca.server("gateway"),
        alice: ca.client("alice"),
        mallory: rogue.client("mallory"),
        ca,
    }
}

fn tls_env(pki: &Pki) -> Env {
    let mut env = Vec::new();
    for listener in ["GATEWAY", "KAFKA"] {
        for (setting, path) in [
            ("CERT", &pki.server.cert),
            ("KEY", &pki.server.key),
            ("CLIENT_CA", &pki.ca.cert),
        ] {
            env.push((
                format!("STRATUS_{listener}__TLS__{setting}"),
                path.display().to_string(),
            ));
        }
    }
    env
}

fn grpcs(url: &str, ca: &Path, client: Option<&PemFiles>) -> String {
    let mut out = format!("{url}?ca={}", ca.display());
    if let Some(client) = client {
        out.push_str(&format!(
            "&cert={}&key={}",
            client.cert.display(),
            client.key.display()
        ));
    }
    out
}

/// Whether any admin call succeeds through `url` within a few seconds.
async fn admin_works(url: &str) -> bool {
    let attempt = async {
        let client = Client::builder(url)
            .connect_timeout(Duration::from_secs(3))
            .request_timeout(Duration::from_secs(3))
            .connect()
            .await
            .ok()?;
        client.admin().list_topics().await.ok()
    };
    tokio::time::timeout(Duration::from_secs(10), attempt)
        .await
        .ok()
        .flatten()
        .is_some()
}

fn venv_python() -> PathBuf {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/py-venv/kafka/bin/python");
    assert!(
        python.exists(),
        "{} is missing; install the Kafka clients with scripts/install-kafka-clients",
        python.display()
    );
    python
}

/// Runs testkit/kafka/python/tls_confluent.py; its exit code and output.
fn confluent(
    bootstrap: &str,
    topic: &str,
    ca: &Path,
    client: Option<&PemFiles>,
    plaintext: bool,
) -> (i32, String) {
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../testkit/kafka/python/tls_confluent.py");
    let mut command = Command::new(venv_python());
    command
        .arg(script)
        .args(["--bootstrap", bootstrap, "--topic", topic])
        .args(["--count", &RECORDS.to_string(), "--timeout", "20"])
        .arg("--ca")
        .arg(ca);
    if let Some(client) = client {
        command
            .arg("--cert")
            .arg(&client.cert)
            .arg("--key")
            .arg(&client.key);
    }
    if plaintext {
        command.arg("--plaintext");
    }
    let output = command.output().expect("run tls_confluent.py");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code().unwrap_or(-1), text)
}

#[tokio::test(flavor = "multi_thread")]
async fn mutual_tls_on_grpc_and_kafka_admits_only_certified_clients() {
    let dir = tempfile::tempdir().unwrap();
    let certs = tempfile::tempdir().unwrap();
    let pki = pki(certs.path());
    let env = tls_env(&pki);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let server = DevServer::start_with_env(dir.path(), &env);
    assert!(
        server.url.starts_with("grpcs://"),
        "stratus dev with gateway.tls prints a grpcs:// address, not {}",
        server.url
    );
    let trusted = grpcs(&server.url, &pki.ca.cert, Some(&pki.alice));

    // gRPC: the SDK with alice's certificate creates, produces, reads back.
    let client = Client::connect(&trusted).await.expect("connect over mTLS");
    client
        .admin()
        .create_topic("secure", 2, TopicConfig::default())
        .await
        .expect("create a topic over mTLS");
    let producer = client.producer(ProducerConfig::default()).await.unwrap();
    produce_keyed(&producer, "secure", RECORDS, 7).await;
    assert_exactly_once(&read_topic(&client, "secure").await, RECORDS, 7, 2);

    // The CLI takes the same URL.
    let listed = Command::new(env!("CARGO_BIN_EXE_stratus"))
        .args(["topic", "list", "--server", &trusted])
        .output()
        .unwrap();
    assert!(
        listed.status.success() && String::from_utf8_lossy(&listed.stdout).contains("secure"),
        "stratus topic list over grpcs://: {listed:?}"
    );

    let plain = server.url.replacen("grpcs://", "grpc://", 1);
    assert!(
        !admin_works(&plain).await,
        "a plaintext gRPC client was served"
    );
    assert!(
        !admin_works(&grpcs(&server.url, &pki.ca.cert, None)).await,
        "a gRPC client without a certificate was served"
    );
    assert!(
        !admin_works(&grpcs(&server.url, &pki.ca.cert, Some(&pki.mallory))).await,
        "a gRPC client with another CA's certificate was served"
    );

    // Kafka: librdkafka over SSL with alice's certificate, on the topic
    // made over gRPC (one log, two protocols).
    let kafka = server
        .kafka
        .clone()
        .expect("stratus dev printed no kafka address");
    let (code, out) = confluent(&kafka, "secure", &pki.ca.cert, Some(&pki.alice), false);
    assert_eq!(code, 0, "confluent-kafka over mTLS:\n{out}");
    for (client, plaintext, who) in [
        (None, false, "without a certificate"),
        (Some(&pki.mallory), false, "with another CA's certificate"),
        (None, true, "in plaintext"),
    ] {
        let (code, out) = confluent(&kafka, "secure", &pki.ca.cert, client, plaintext);
        assert_eq!(code, 3, "a Kafka client {who} must be refused:\n{out}");
    }
    // Nothing the refused clients sent reached the log.
    let held = read_topic(&client, "secure").await;
    let total: usize = held.values().map(Vec::len).sum();
    assert_eq!(
        total,
        2 * RECORDS,
        "gRPC's records and librdkafka's, no more"
    );
}

/// Runs `stratus gateway` on `listen` until it prints that it listens (then
/// kills it) or exits; `None` when it listened, else its output.
fn start_gateway(data_dir: &Path, listen: &str, env: &[(String, String)]) -> Option<Output> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stratus"))
        .arg("gateway")
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--listen", listen])
        .env("STRATUS_GATEWAY__QUIC__ENABLED", "false")
        // A Kafka listener on 0.0.0.0 must be told what to advertise.
        .env("STRATUS_KAFKA__ADVERTISED_HOST", "127.0.0.1")
        .env("RUST_LOG", "warn")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn stratus gateway");
    let stdout = child.stdout.take().unwrap();
    let listening = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|line| line.starts_with("stratus gateway listening"));
    if listening {
        child.kill().unwrap();
        child.wait().unwrap();
        return None;
    }
    Some(child.wait_with_output().unwrap())
}

#[test]
fn a_gateway_exposed_without_tls_and_authentication_refuses_to_start() {
    let certs = tempfile::tempdir().unwrap();
    let pki = pki(certs.path());
    let env = tls_env(&pki);
    let gateway_tls = |mutual: bool| -> Env {
        env.iter()
            .filter(|(k, _)| {
                k.starts_with("STRATUS_GATEWAY__") && (mutual || !k.ends_with("CLIENT_CA"))
            })
            .cloned()
            .collect()
    };
    let cases: Vec<(Env, &[&str])> = vec![
        (
            Vec::new(),
            &["gateway.listen", "`gateway.tls.cert`", "insecure = true"],
        ),
        (
            gateway_tls(false),
            &[
                "gateway.listen",
                "without client authentication",
                "gateway.tls.client_ca",
            ],
        ),
        // The gRPC listener is safe; the Kafka listener on the same address is not.
        (gateway_tls(true), &["kafka.listen", "`kafka.tls.cert`"]),
    ];
    for (settings, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        let output = start_gateway(dir.path(), "0.0.0.0:0", &settings)
            .unwrap_or_else(|| panic!("a gateway with {settings:?} started on 0.0.0.0"));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success());
        for text in expected {
            assert!(stderr.contains(text), "expected {text:?} in:\n{stderr}");
        }
        assert!(
            std::fs::read_dir(dir.path()).unwrap().next().is_none(),
            "a refused start leaves its data directory untouched"
        );
    }
    // Both listeners with mutual TLS: it starts.
    let dir = tempfile::tempdir().unwrap();
    if let Some(output) = start_gateway(dir.path(), "0.0.0.0:0", &env) {
        panic!("a gateway with mutual TLS did not start: {output:?}");
    }
    // Or explicitly insecure.
    let dir = tempfile::tempdir().unwrap();
    let insecure = vec![("STRATUS_INSECURE".to_owned(), "true".to_owned())];
    if let Some(output) = start_gateway(dir.path(), "0.0.0.0:0", &insecure) {
        panic!("an insecure gateway did not start: {output:?}");
    }
}
