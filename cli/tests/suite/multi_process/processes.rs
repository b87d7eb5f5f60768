//! The cluster's processes: `stratus gateway`, `stratus compactor` and
//! `stratus dispatcher` children of the test, each restartable with the same
//! command line (a gateway keeps its port, so clients fail back to it), each
//! logging to its own file for the failure message.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long a process may take to print its ready line.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// One `stratus` child process and how to start it again.
#[derive(Debug)]
pub(super) struct Proc {
    pub(super) name: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    /// Start of the stdout line that says it is serving.
    ready: String,
    log: PathBuf,
    child: Option<Child>,
    pub(super) starts: usize,
}

impl Proc {
    pub(super) fn new(
        name: &str,
        args: Vec<String>,
        env: Vec<(String, String)>,
        ready: &str,
        log_dir: &Path,
    ) -> Self {
        Self {
            name: name.to_owned(),
            args,
            env,
            ready: ready.to_owned(),
            log: log_dir.join(format!("{name}.log")),
            child: None,
            starts: 0,
        }
    }

    /// Starts the process and waits for its ready line.
    ///
    /// # Panics
    /// When it exits or stays silent instead: the log says why.
    pub(super) fn start(&mut self) {
        assert!(self.child.is_none(), "{} is already running", self.name);
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("process log");
        let _ = writeln!(log, "--- start {} ---", self.starts + 1);
        let mut child = Command::new(env!("CARGO_BIN_EXE_stratus"))
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log.try_clone().expect("process log"))
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", self.name));
        let stdout = child.stdout.take().expect("stdout");
        let (ready_tx, ready_rx) = mpsc::channel();
        let ready = self.ready.clone();
        // Copies stdout into the log; says when the ready line went by.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if line.starts_with(&ready) {
                    let _ = ready_tx.send(());
                }
                let _ = writeln!(log, "{line}");
            }
        });
        self.child = Some(child);
        self.starts += 1;
        if ready_rx.recv_timeout(READY_TIMEOUT).is_err() {
            let status = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            panic!(
                "{} did not print {:?} (exit: {status:?}); its log:\n{}",
                self.name,
                self.ready,
                self.log_tail()
            );
        }
    }

    pub(super) fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// SIGKILL: no shutdown code runs.
    pub(super) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, and wait for the exit.
    pub(super) fn terminate(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }

    /// The last lines of what it printed over all its runs.
    pub(super) fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}
