//! Kafka Connect standalone (org.apache.kafka:connect-runtime with the file
//! connectors of connect-file, from Maven Central) on Stratus: the file
//! source reads a file into a topic and the file sink writes the topic back
//! to another file, identical. Then Connect is stopped, the gateway is
//! SIGKILLed and restarted, the input grows, and a new Connect resumes from
//! its committed offsets (the source's file position in the worker's offset
//! file, the sink's in its consumer group on Stratus): the output is the
//! whole input again, nothing twice.
//!
//! Kafka Connect is installed by `scripts/install-kafka-clients`; a missing
//! installation fails the test with that instruction.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{DevServer, free_port};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

const TOPIC: &str = "connect-lines";

/// A `ConnectStandalone` worker running the file source and sink over `dir`
/// (`in.txt` to `TOPIC` to `out.txt`), its log in `dir/connect-N.log`.
struct Connect {
    child: Child,
    log: PathBuf,
}

impl Connect {
    fn start(dir: &Path, bootstrap: &str, run: u32) -> Self {
        let lib = root().join("target/kafka-connect/lib");
        assert!(
            lib.exists(),
            "{} is missing; install Kafka Connect with scripts/install-kafka-clients",
            lib.display()
        );
        let d = dir.display();
        let worker = dir.join("worker.properties");
        fs::write(
            &worker,
            format!(
                "bootstrap.servers={bootstrap}\n\
                 key.converter=org.apache.kafka.connect.storage.StringConverter\n\
                 value.converter=org.apache.kafka.connect.storage.StringConverter\n\
                 offset.storage.file.filename={d}/offsets\n\
                 offset.flush.interval.ms=500\n\
                 listeners=http://127.0.0.1:{}\n",
                free_port()
            ),
        )
        .unwrap();
        let source = dir.join("source.properties");
        fs::write(
            &source,
            format!(
                "name=file-source\n\
                 connector.class=org.apache.kafka.connect.file.FileStreamSourceConnector\n\
                 tasks.max=1\n\
                 file={d}/in.txt\n\
                 topic={TOPIC}\n\
                 topic.creation.default.replication.factor=1\n\
                 topic.creation.default.partitions=1\n"
            ),
        )
        .unwrap();
        let sink = dir.join("sink.properties");
        fs::write(
            &sink,
            format!(
                "name=file-sink\n\
                 connector.class=org.apache.kafka.connect.file.FileStreamSinkConnector\n\
                 tasks.max=1\n\
                 file={d}/out.txt\n\
                 topics={TOPIC}\n"
            ),
        )
        .unwrap();
        let log = dir.join(format!("connect-{run}.log"));
        let child = Command::new("java")
            .arg("-cp")
            .arg(format!("{}/*", lib.display()))
            .arg("org.apache.kafka.connect.cli.ConnectStandalone")
            .args([&worker, &source, &sink])
            .stdout(Stdio::from(fs::File::create(&log).unwrap()))
            .stderr(Stdio::from(
                fs::File::options().append(true).open(&log).unwrap(),
            ))
            .spawn()
            .expect("run java (installed by scripts/install-kafka-clients)");
        Self { child, log }
    }

    /// Waits until `out.txt` has `lines` lines, or fails showing the log.
    fn await_output(&mut self, dir: &Path, lines: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let out = fs::read_to_string(dir.join("out.txt")).unwrap_or_default();
            if out.lines().count() >= lines {
                return out;
            }
            let exited = self.child.try_wait().unwrap();
            if exited.is_some() || Instant::now() > deadline {
                let log = fs::read_to_string(&self.log).unwrap_or_default();
                panic!(
                    "out.txt has {} of {lines} lines ({}); Connect's log:\n{log}",
                    out.lines().count(),
                    exited.map_or("120 s passed".to_owned(), |s| format!(
                        "Connect exited: {s}"
                    )),
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// SIGTERM: Connect stops its tasks and commits their offsets.
    fn stop(mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        self.child.wait().expect("wait for Connect");
    }
}

impl Drop for Connect {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lines(from: usize, to: usize) -> String {
    (from..to)
        .map(|i| format!("line {i} of the file\n"))
        .collect()
}

#[test]
fn file_source_and_sink_move_a_file_through_a_topic_and_resume_after_restarts() {
    const FIRST: usize = 2_000;
    const MORE: usize = 1_000;
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let bootstrap = format!("127.0.0.1:{}", free_port());
    let start = || DevServer::start_with(data.path(), &["--kafka-listen", &bootstrap]);
    let server = start();

    fs::write(work.path().join("in.txt"), lines(0, FIRST)).unwrap();
    let mut connect = Connect::start(work.path(), &bootstrap, 1);
    let out = connect.await_output(work.path(), FIRST);
    assert_eq!(out, lines(0, FIRST), "the first pass is not the input");
    connect.stop();

    server.kill();
    let _server = start();
    let mut input = fs::OpenOptions::new()
        .append(true)
        .open(work.path().join("in.txt"))
        .unwrap();
    std::io::Write::write_all(&mut input, lines(FIRST, FIRST + MORE).as_bytes()).unwrap();

    let mut connect = Connect::start(work.path(), &bootstrap, 2);
    let out = connect.await_output(work.path(), FIRST + MORE);
    // A little longer, so a record sent twice would have arrived.
    std::thread::sleep(Duration::from_secs(3));
    let out_now = fs::read_to_string(work.path().join("out.txt")).unwrap();
    assert_eq!(out, out_now, "more lines arrived after the input's end");
    assert_eq!(
        out,
        lines(0, FIRST + MORE),
        "after the restarts the output is not the input once"
    );
    connect.stop();
}
