//! A MinIO server of the test's own: a separate process (built by
//! `scripts/install-minio`; MinIO is AGPL, so it is run, never linked) on a
//! free loopback port, over a temporary data directory, with the test
//! credentials. Unlike [`crate::S3Server`] it survives nothing of the test
//! process and shares nothing with it: a gateway talks to it exactly as to a
//! cloud S3 endpoint.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::{ACCESS_KEY, REGION, SECRET_KEY};

/// Environment variable naming a MinIO binary to use instead of the one
/// `scripts/install-minio` builds.
pub const MINIO_BIN_ENV: &str = "STRATUS_MINIO";

/// How long MinIO may take to answer its health check after starting.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running MinIO server. Killed (SIGKILL) and its data removed when dropped.
#[derive(Debug)]
pub struct MinioServer {
    child: Child,
    addr: SocketAddr,
    data: tempfile::TempDir,
}

/// Where the MinIO binary is: `$STRATUS_MINIO`, else `target/minio/bin/minio`
/// of the repository, where `scripts/install-minio` puts it.
pub fn minio_binary() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os(MINIO_BIN_ENV) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!(
                "{MINIO_BIN_ENV}={} is not a file; unset it to use the MinIO that \
                 scripts/install-minio builds",
                path.display()
            ))
        };
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/minio/bin/minio");
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "MinIO is not installed ({} is missing); build it with scripts/install-minio \
             (needs go), or point {MINIO_BIN_ENV} at a minio binary",
            path.display()
        ))
    }
}

impl MinioServer {
    /// Starts MinIO and creates `buckets` empty.
    ///
    /// # Panics
    /// When the binary is missing (naming `scripts/install-minio`), or the
    /// server does not start: a test needing MinIO fails, it never skips.
    pub fn start(buckets: &[&str]) -> Self {
        let binary = minio_binary().unwrap_or_else(|e| panic!("{e}"));
        let data = tempfile::tempdir().expect("minio data dir");
        let port = free_port();
        let console = free_port();
        let log = std::fs::File::create(data.path().join("minio.log")).expect("minio log");
        let child = Command::new(&binary)
            .arg("server")
            .arg(data.path().join("data"))
            .args(["--address", &format!("127.0.0.1:{port}")])
            .args(["--console-address", &format!("127.0.0.1:{console}")])
            .arg("--quiet")
            .env("MINIO_ROOT_USER", ACCESS_KEY)
            .env("MINIO_ROOT_PASSWORD", SECRET_KEY)
            .env("MINIO_REGION", REGION)
            .env("MINIO_BROWSER", "off")
            .env("MINIO_UPDATE", "off")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("minio log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display()));
        let mut server = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            data,
        };
        server.wait_ready();
        for bucket in buckets {
            server.create_bucket(bucket);
        }
        server
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "minio exited with {status} before it was ready:\n{}",
                    self.log()
                );
            }
            // `ready`, not `live`: MinIO answers S3 calls 503 until initialised.
            if let Ok((200, _)) = http(self.addr, "GET", "/minio/health/ready", "", &[]) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "minio did not become ready within {START_TIMEOUT:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// What MinIO printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data.path().join("minio.log")).unwrap_or_default()
    }

    /// `http://127.0.0.1:PORT`
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The standard AWS environment a client needs to reach this server.
    pub fn client_env(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID".into(), ACCESS_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY".into(), SECRET_KEY.into()),
            ("AWS_REGION".into(), REGION.into()),
            ("AWS_ENDPOINT".into(), self.endpoint()),
            ("AWS_ALLOW_HTTP".into(), "true".into()),
        ]
    }

    /// Creates an empty bucket (S3 CreateBucket).
    ///
    /// # Panics
    /// When MinIO refuses it.
    pub fn create_bucket(&self, bucket: &str) {
        let deadline = Instant::now() + START_TIMEOUT;
        let (status, body) = loop {
            let (status, body) = self.signed("PUT", &format!("/{bucket}"), "");
            // 503 while MinIO finishes initialising after a first start.
            if status != 503 || Instant::now() > deadline {
                break (status, body);
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        assert_eq!(
            status, 200,
            "minio refused to create bucket {bucket}: {body}"
        );
    }

    /// Every object key of `bucket` under `prefix` (S3 ListObjectsV2, every
    /// page), sorted.
    ///
    /// # Panics
    /// When MinIO refuses the listing.
    pub fn list(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![("list-type", "2".to_owned()), ("prefix", prefix.to_owned())];
            if let Some(token) = &token {
                query.push(("continuation-token", token.clone()));
            }
            let query = canonical_query(&query);
            let (status, body) = self.signed("GET", &format!("/{bucket}"), &query);
            assert_eq!(
                status, 200,
                "minio refused to list {bucket}/{prefix}: {body}"
            );
            keys.extend(xml_values(&body, "Key").iter().map(|k| xml_unescape(k)));
            match xml_values(&body, "NextContinuationToken").first() {
                Some(next) if body.contains("<IsTruncated>true</IsTruncated>") => {
                    token = Some(xml_unescape(next));
                }
                _ => break,
            }
        }
        keys.sort();
        keys
    }

    /// One request signed with AWS Signature Version 4 (no payload).
    fn signed(&self, method: &str, path: &str, query: &str) -> (u16, String) {
        let host = self.addr.to_string();
        let (date, time) = utc_now();
        let amz_date = format!("{date}T{time}Z");
        let payload_hash = hex(&Sha256::digest(b""));
        let canonical = format!(
            "{method}\n{path}\n{query}\nhost:{host}\nx-amz-content-sha256:{payload_hash}\n\
             x-amz-date:{amz_date}\n\nhost;x-amz-content-sha256;x-amz-date\n{payload_hash}"
        );
        let scope = format!("{date}/{REGION}/s3/aws4_request");
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            hex(&Sha256::digest(canonical.as_bytes()))
        );
        let mut key = hmac(format!("AWS4{SECRET_KEY}").as_bytes(), date.as_bytes());
        for part in [REGION, "s3", "aws4_request"] {
            key = hmac(&key, part.as_bytes());
        }
        let signature = hex(&hmac(&key, to_sign.as_bytes()));
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/{scope}, \
             SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={signature}"
        );
        http(
            self.addr,
            method,
            path,
            query,
            &[
                ("x-amz-content-sha256", payload_hash.as_str()),
                ("x-amz-date", amz_date.as_str()),
                ("Authorization", authorization.as_str()),
            ],
        )
        .unwrap_or_else(|e| panic!("minio at {} did not answer: {e}", self.addr))
    }
}

impl Drop for MinioServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free loopback port")
        .port()
}

/// A bodiless HTTP/1.0 request (so the answer is never chunked and ends when
/// the connection closes); returns the status and the body.
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    query: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let target = if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    };
    let mut request =
        format!("{method} {target} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: 0\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes())?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let response = String::from_utf8_lossy(&response);
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {response:.200}")))?;
    let body = response
        .split_once("\r\n\r\n")
        .map_or("", |(_, body)| body)
        .to_owned();
    Ok((status, body))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SigV4's canonical query string: parameters sorted, names and values
/// percent-encoded with only unreserved characters left as they are.
fn canonical_query(params: &[(&str, String)]) -> String {
    let encode = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    let mut pairs: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    pairs.sort();
    pairs.join("&")
}

/// The texts of every `<tag>...</tag>` in `xml`.
fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    xml.split(open.as_str())
        .skip(1)
        .filter_map(|rest| rest.split_once(close.as_str()).map(|(v, _)| v.to_owned()))
        .collect()
}

fn xml_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// Today's date as `YYYYMMDD` and the time as `HHMMSS`, in UTC.
fn utc_now() -> (String, String) {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    (
        format!("{year:04}{month:02}{day:02}"),
        format!("{:02}{:02}{:02}", rest / 3600, rest % 3600 / 60, rest % 60),
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = (if mp < 10 { mp + 3 } else { mp - 9 }) as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(20_426), (2025, 12, 4));
    }

    #[test]
    fn queries_are_sorted_and_encoded() {
        assert_eq!(
            canonical_query(&[("prefix", "wal/a b".into()), ("list-type", "2".into())]),
            "list-type=2&prefix=wal%2Fa%20b"
        );
    }
}
