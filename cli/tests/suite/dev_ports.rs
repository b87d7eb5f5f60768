//! Two `stratus dev` on different `--listen` ports run side by side: QUIC,
//! left at its default, takes the gRPC port + 1 on UDP instead of UDP 7401
//! whatever `--listen` says (the second server failed to start on it).

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A `stratus dev` child, killed when dropped.
struct Dev {
    child: Child,
    grpc: String,
    quic: String,
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A gRPC port whose next port is free too, on TCP and on UDP.
fn port_pair() -> u16 {
    for _ in 0..100 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let Some(next) = port.checked_add(1) else {
            continue;
        };
        let tcp = std::net::TcpListener::bind(("127.0.0.1", next));
        let udp = std::net::UdpSocket::bind(("127.0.0.1", next));
        if tcp.is_ok() && udp.is_ok() {
            return port;
        }
    }
    panic!("no free pair of loopback ports found in 100 tries");
}

/// Starts `stratus dev --listen 127.0.0.1:PORT` with QUIC at its default.
fn start(data_dir: &Path, port: u16) -> Dev {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stratus"))
        .env("STRATUS_COMPACTOR__INTERVAL", "1h")
        .env_remove("STRATUS_GATEWAY__QUIC__LISTEN")
        .env("RUST_LOG", "warn")
        .arg("dev")
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        // Kafka's default 9092 does not follow --listen; keep it out of the way.
        .args(["--kafka-listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn stratus dev");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut grpc, mut quic) = (None, None);
    loop {
        let Some(line) = lines.next().map(|l| l.expect("read stdout")) else {
            let mut stderr = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .ok();
            panic!("stratus dev --listen 127.0.0.1:{port} exited at start: {stderr}");
        };
        let line = line.trim();
        if let Some(addr) = line.strip_prefix("gateway") {
            grpc = Some(addr.trim().to_owned());
        } else if let Some(url) = line.strip_prefix("quic ").map(str::trim)
            && url.starts_with("quic://")
        {
            quic = Some(url.to_owned());
        } else if line.starts_with("data dir") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    let mut stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    Dev {
        child,
        grpc: grpc.expect("stratus dev printed no gateway address"),
        quic: quic.expect("stratus dev printed no QUIC address"),
    }
}

#[test]
fn two_dev_servers_on_different_ports_both_serve_quic() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let port_a = port_pair();
    let mut a = start(dir_a.path(), port_a);
    let port_b = port_pair();
    let mut b = start(dir_b.path(), port_b);

    for (dev, port) in [(&a, port_a), (&b, port_b)] {
        let expected = format!("quic://127.0.0.1:{}?", port + 1);
        assert!(
            dev.quic.starts_with(&expected),
            "QUIC of the server on gRPC port {port} is {}, expected {expected}",
            dev.quic
        );
    }
    // Both are up, and each answers a client over its own QUIC endpoint.
    std::thread::sleep(std::time::Duration::from_millis(500));
    for dev in [&mut a, &mut b] {
        assert!(
            dev.child.try_wait().unwrap().is_none(),
            "stratus dev on {} exited",
            dev.grpc
        );
        let created = Command::new(env!("CARGO_BIN_EXE_stratus"))
            .args(["topic", "create", "over-quic", "--server", &dev.quic])
            .output()
            .expect("run stratus topic create");
        assert!(
            created.status.success(),
            "topic create over {} failed: {}",
            dev.quic,
            String::from_utf8_lossy(&created.stderr)
        );
    }
}
