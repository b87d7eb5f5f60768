//! The trigger's target: a plain HTTP server on loopback that answers every
//! POST 200 and keeps the `(partition, offset)` of each record of each
//! Kafka-shaped event it was sent (the event's `records` map of
//! `"topic-partition"` to records).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// Deliveries per `(partition, offset)`.
pub(super) type Delivered = Arc<Mutex<BTreeMap<(u32, i64), usize>>>;

/// Largest event body read; the trigger's batches are far smaller.
const MAX_BODY: usize = 64 * 1024 * 1024;

#[derive(Debug)]
pub(super) struct Webhook {
    pub(super) addr: SocketAddr,
    pub(super) delivered: Delivered,
}

impl Webhook {
    pub(super) fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind webhook");
        let addr = listener.local_addr().expect("webhook address");
        let delivered = Delivered::default();
        let sink = Arc::clone(&delivered);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let sink = Arc::clone(&sink);
                std::thread::spawn(move || serve(stream, &sink));
            }
        });
        Self { addr, delivered }
    }

    pub(super) fn url(&self) -> String {
        format!("http://{}/events", self.addr)
    }
}

/// Serves the requests of one (keep-alive) connection.
fn serve(stream: TcpStream, delivered: &Delivered) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone webhook stream"));
    let mut writer = stream;
    loop {
        let mut length = 0usize;
        let mut line = String::new();
        // Request line, then headers up to the blank line.
        let mut first = true;
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let header = line.trim_end();
            if header.is_empty() && !first {
                break;
            }
            first = false;
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length.min(MAX_BODY)];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        record(&body, delivered);
        if writer
            .write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}",
            )
            .is_err()
        {
            return;
        }
    }
}

fn record(body: &[u8], delivered: &Delivered) {
    let Ok(event) = serde_json::from_slice::<serde_json::Value>(body) else {
        return;
    };
    let Some(partitions) = event["records"].as_object() else {
        return;
    };
    let mut delivered = delivered.lock().unwrap();
    for record in partitions.values().filter_map(|r| r.as_array()).flatten() {
        if let (Some(partition), Some(offset)) =
            (record["partition"].as_u64(), record["offset"].as_i64())
        {
            *delivered.entry((partition as u32, offset)).or_default() += 1;
        }
    }
}
