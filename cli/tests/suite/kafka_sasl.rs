//! SASL on the Kafka listener, as separate processes: `stratus dev` with
//! `[kafka.tls]` and `[kafka.sasl]` (SASL_SSL), users made with `stratus
//! user create`, and real clients (testkit/kafka/python/sasl_clients.py):
//! confluent-kafka with SCRAM-SHA-512 and PLAIN, kafka-python with
//! SCRAM-SHA-256, both producing and consuming across a session lifetime
//! short enough to force re-authentication (KIP-368); a wrong password is
//! refused with an authentication error; a request before authenticating
//! closes the connection; confluent-kafka's AdminClient creates a user
//! (AlterUserScramCredentials) who then logs in, and lists it
//! (DescribeUserScramCredentials). Then two gateways on one PostgreSQL
//! metadata store (SASL_PLAINTEXT on loopback): users created through one
//! log in on the other, with confluent-kafka and with kafka-python.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use stratus_security::test_certs::TestCa;
use stratus_testkit::PostgresServer;

use crate::common::{DevServer, create_topic};

fn venv_python() -> PathBuf {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/py-venv/kafka/bin/python");
    assert!(
        python.exists(),
        "{} is missing; install the Kafka clients with scripts/install-kafka-clients",
        python.display()
    );
    python
}

/// Runs sasl_clients.py; its exit code and output.
fn sasl_clients(args: &[&str]) -> (i32, String) {
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../testkit/kafka/python/sasl_clients.py");
    let output = Command::new(venv_python())
        .arg(script)
        .args(args)
        .output()
        .expect("run sasl_clients.py");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code().unwrap_or(-1), text)
}

/// `stratus user SUBCOMMAND ... --server URL`, the password (if any) on
/// standard input; its exit status and output.
fn stratus_user(server: &str, args: &[&str], password: Option<&str>) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stratus"))
        .arg("user")
        .args(args)
        .args(["--server", server])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn stratus user");
    if let Some(password) = password {
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    }
    let output = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn create_user(server: &str, name: &str, mechanism: &str, password: &str) {
    let (ok, out) = stratus_user(
        server,
        &["create", name, "--mechanism", mechanism, "--password-stdin"],
        Some(password),
    );
    assert!(ok, "stratus user create {name}: {out}");
}

/// SASL settings of a listener; TLS when `tls` holds a certificate and key.
fn sasl_env(tls: Option<(&Path, &Path)>, lifetime: &str) -> Vec<(String, String)> {
    let mut env = vec![
        (
            "STRATUS_KAFKA__SASL__MECHANISMS".to_owned(),
            "SCRAM-SHA-512,SCRAM-SHA-256,PLAIN".to_owned(),
        ),
        (
            "STRATUS_KAFKA__SASL__MAX_SESSION_LIFETIME".to_owned(),
            lifetime.to_owned(),
        ),
        (
            "STRATUS_KAFKA__SASL__FAILURE_DELAY".to_owned(),
            "100ms".to_owned(),
        ),
    ];
    if let Some((cert, key)) = tls {
        env.push((
            "STRATUS_KAFKA__TLS__CERT".to_owned(),
            cert.display().to_string(),
        ));
        env.push((
            "STRATUS_KAFKA__TLS__KEY".to_owned(),
            key.display().to_string(),
        ));
    }
    env
}

fn start(dir: &Path, env: &[(String, String)]) -> DevServer {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    DevServer::start_with_env(dir, &env)
}

#[tokio::test(flavor = "multi_thread")]
async fn sasl_ssl_clients_authenticate_with_scram_and_plain() {
    let dir = tempfile::tempdir().unwrap();
    let certs = tempfile::tempdir().unwrap();
    let ca = TestCa::new(certs.path(), "stratus");
    let server_cert = ca.server("gateway");
    let env = sasl_env(Some((&server_cert.cert, &server_cert.key)), "3s");
    let server = start(dir.path(), &env);
    create_topic(&server, "secure", 2, None).await;
    let kafka = server.kafka_bootstrap();
    let ca_path = ca.cert.display().to_string();

    create_user(&server.url, "alice", "scram-sha-512", "alice-secret");
    create_user(&server.url, "bob", "scram-sha-256", "bob-secret");

    // Each client keeps producing for 5 s over 3-second sessions, so it
    // re-authenticates on its open connections (KIP-368) at least once.
    let base = ["--bootstrap", &kafka, "--topic", "secure", "--ca", &ca_path];
    for (client, user, password, mechanism) in [
        ("confluent", "alice", "alice-secret", "SCRAM-SHA-512"),
        ("confluent", "alice", "alice-secret", "PLAIN"),
        ("kafka-python", "bob", "bob-secret", "SCRAM-SHA-256"),
    ] {
        let mut args = vec![client];
        args.extend(base);
        args.extend([
            "--user",
            user,
            "--password",
            password,
            "--mechanism",
            mechanism,
            "--seconds",
            "5",
        ]);
        let (code, out) = sasl_clients(&args);
        assert_eq!(code, 0, "{client} as {user} with {mechanism}:\n{out}");
    }

    // A wrong password and an unknown user are refused, saying why.
    for (client, user, mechanism) in [
        ("confluent", "alice", "SCRAM-SHA-512"),
        ("confluent", "nobody", "PLAIN"),
        ("kafka-python", "bob", "SCRAM-SHA-256"),
    ] {
        let mut args = vec![client];
        args.extend(base);
        args.extend([
            "--user",
            user,
            "--password",
            "wrong",
            "--mechanism",
            mechanism,
        ]);
        let (code, out) = sasl_clients(&args);
        assert_eq!(code, 3, "{client} as {user} with a wrong password:\n{out}");
        // librdkafka reports the broker's message; kafka-python's producer
        // reports that no bootstrap server took it (its log has the reason).
        assert!(
            client != "confluent" || out.contains("invalid user name or password"),
            "{client}: {out}"
        );
    }

    // A request before authenticating closes the connection.
    let (code, out) = sasl_clients(&["preauth", "--bootstrap", &kafka, "--ca", &ca_path]);
    assert_eq!(
        code, 0,
        "a Metadata request before SASL was answered:\n{out}"
    );

    // Kafka's AdminClient, logged in as alice, creates carol and lists her.
    let (code, out) = sasl_clients(&[
        "admin",
        "--bootstrap",
        &kafka,
        "--ca",
        &ca_path,
        "--user",
        "alice",
        "--password",
        "alice-secret",
        "--mechanism",
        "SCRAM-SHA-512",
        "--create",
        "carol",
        "--create-password",
        "carol-secret",
    ]);
    assert_eq!(code, 0, "AlterUserScramCredentials:\n{out}");
    for user in ["alice", "bob", "carol"] {
        assert!(
            out.contains(&format!("\"{user}\"")),
            "{user} not described: {out}"
        );
    }
    let mut carol = vec!["confluent"];
    carol.extend(base);
    carol.extend([
        "--user",
        "carol",
        "--password",
        "carol-secret",
        "--count",
        "10",
    ]);
    let (code, out) = sasl_clients(&carol);
    assert_eq!(code, 0, "carol, created over the Kafka protocol:\n{out}");

    // `stratus user list` sees all three; once deleted, carol is refused.
    let (ok, listed) = stratus_user(&server.url, &["list"], None);
    assert!(ok, "{listed}");
    for user in ["alice", "bob", "carol"] {
        assert!(listed.contains(user), "{user} missing from:\n{listed}");
    }
    assert!(
        listed.contains("SCRAM-SHA-512 (4096 iterations)"),
        "{listed}"
    );
    let (ok, out) = stratus_user(&server.url, &["delete", "carol"], None);
    assert!(ok, "{out}");
    let (code, out) = sasl_clients(&carol);
    assert_eq!(code, 3, "carol after her deletion:\n{out}");
    let (ok, out) = stratus_user(&server.url, &["delete", "carol"], None);
    assert!(!ok && out.contains("stratus user list"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_created_on_one_gateway_logs_in_on_another() {
    let root = tempfile::tempdir().unwrap();
    let postgres = PostgresServer::start();
    let url = postgres.url();
    let wal = format!("file://{}", root.path().join("wal").display());
    std::fs::create_dir_all(root.path().join("wal")).unwrap();
    let mut env = sasl_env(None, "1h");
    env.push(("STRATUS_METADATA".to_owned(), url));
    env.push(("STRATUS_WAL".to_owned(), wal));
    let first = start(&root.path().join("first"), &env);
    let second = start(&root.path().join("second"), &env);
    create_topic(&first, "shared", 1, None).await;

    create_user(&first.url, "dana", "scram-sha-512", "dana-secret");
    create_user(&first.url, "erik", "scram-sha-256", "erik-secret");
    let kafka = second.kafka_bootstrap();
    for (client, user, password, mechanism) in [
        ("confluent", "dana", "dana-secret", "SCRAM-SHA-512"),
        ("kafka-python", "erik", "erik-secret", "SCRAM-SHA-256"),
    ] {
        let (code, out) = sasl_clients(&[
            client,
            "--bootstrap",
            &kafka,
            "--topic",
            "shared",
            "--user",
            user,
            "--password",
            password,
            "--mechanism",
            mechanism,
            "--count",
            "20",
        ]);
        assert_eq!(
            code, 0,
            "{client} as {user}, made on the first gateway:\n{out}"
        );
    }
}
