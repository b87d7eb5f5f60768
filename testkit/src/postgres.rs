//! A real PostgreSQL server per test: `initdb` into a temporary directory,
//! `postgres` listening only on a Unix socket there (so no port can clash
//! with another test or server), stopped and deleted on drop.
//!
//! PostgreSQL refuses to run as root; as root the server runs as the
//! unprivileged user `stratus-test` (created by `scripts/install-postgres`)
//! or, failing that, `nobody`. Missing binaries fail the test, naming the
//! script that installs them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The script that installs what this module needs.
const INSTALL: &str = "scripts/install-postgres";
/// The superuser `initdb` creates; it authenticates by trust on the socket.
pub const POSTGRES_USER: &str = "stratus";
/// Names the socket file (`.s.PGSQL.5432`); nothing listens on TCP.
const PORT: u16 = 5432;
/// How long a fresh cluster may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a fast shutdown may take before the server is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// A PostgreSQL server of its own, stopped when dropped.
#[derive(Debug)]
pub struct PostgresServer {
    root: tempfile::TempDir,
    child: Option<Child>,
}

/// Who the server runs as when the tests run as root.
#[derive(Debug, Clone)]
struct RunAs {
    uid: u32,
    gid: u32,
}

impl PostgresServer {
    /// Initialises and starts a server, waiting until it accepts connections.
    ///
    /// # Panics
    /// If PostgreSQL is not installed (run `scripts/install-postgres`) or the
    /// server does not start; the message carries its log.
    pub fn start() -> Self {
        let bin = find_bin().unwrap_or_else(|| {
            panic!(
                "PostgreSQL server binaries (initdb, postgres) are not on PATH or under \
                 /usr/lib/postgresql/*/bin; install them with {INSTALL}"
            )
        });
        let run_as = run_as();
        let root = tempfile::Builder::new()
            .prefix("stratus-pg-")
            .tempdir()
            .expect("create a temporary directory for PostgreSQL");
        if let Some(user) = &run_as {
            std::os::unix::fs::chown(root.path(), Some(user.uid), Some(user.gid))
                .expect("hand the PostgreSQL directory to the server's user");
        }
        let data = root.path().join("data");
        let output = command(&bin.join("initdb"), run_as.as_ref(), root.path())
            .arg("-D")
            .arg(&data)
            .args(["-U", POSTGRES_USER, "--auth=trust", "-E", "UTF8"])
            // The cluster lives for one test: skipping its fsyncs saves seconds.
            .args(["--no-locale", "--no-sync"])
            .output()
            .expect("run initdb");
        assert!(
            output.status.success(),
            "initdb failed ({}): {}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let log = std::fs::File::create(root.path().join("postgres.log")).expect("create log");
        let child = command(&bin.join("postgres"), run_as.as_ref(), root.path())
            .arg("-D")
            .arg(&data)
            .arg("-k")
            .arg(root.path())
            .args(["-p", &PORT.to_string()])
            .args(["-c", "listen_addresses="])
            // Several gateways with a pool each, plus the test's own.
            .args(["-c", "max_connections=300"])
            // Many servers run at once in a test run; keep each one small.
            .args(["-c", "shared_buffers=16MB"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log)
            .spawn()
            .expect("start postgres");
        let mut server = Self {
            root,
            child: Some(child),
        };
        server.wait_ready(&data);
        server
    }

    /// A URL for the `postgres` database over the server's socket, in the
    /// form `stratus --metadata` and the PostgreSQL backend take.
    pub fn url(&self) -> String {
        self.url_for("postgres")
    }

    /// A URL for `database` (which must exist: see [`Self::create_database`]).
    pub fn url_for(&self, database: &str) -> String {
        format!(
            "postgres:///{database}?user={POSTGRES_USER}&host={}&port={PORT}",
            self.socket_dir().display()
        )
    }

    /// Creates an empty database, for tests that want several stores on one
    /// server.
    ///
    /// # Panics
    /// If `psql` fails.
    pub fn create_database(&self, database: &str) {
        let bin = find_bin().expect("PostgreSQL binaries were found at start");
        let output = Command::new(bin.join("psql"))
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-U", POSTGRES_USER])
            .arg("-h")
            .arg(self.socket_dir())
            .args(["-p", &PORT.to_string(), "-d", "postgres", "-c"])
            .arg(format!("CREATE DATABASE \"{database}\""))
            .output()
            .expect("run psql");
        assert!(
            output.status.success(),
            "CREATE DATABASE {database} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// The directory holding the server's socket.
    pub fn socket_dir(&self) -> &Path {
        self.root.path()
    }

    /// The server's log so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.root.path().join("postgres.log")).unwrap_or_default()
    }

    fn wait_ready(&mut self, data: &Path) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            // The postmaster writes "ready" as the last line of its pid
            // file once it accepts connections.
            let pid_file = std::fs::read_to_string(data.join("postmaster.pid")).unwrap_or_default();
            if pid_file.lines().any(|line| line.trim() == "ready") {
                return;
            }
            let exited = self
                .child
                .as_mut()
                .and_then(|child| child.try_wait().ok().flatten());
            if let Some(status) = exited {
                panic!("postgres exited at start ({status}):\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "postgres did not start within {START_TIMEOUT:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // SIGINT is a fast shutdown: clients are disconnected, and shared
        // memory is released, which SIGKILL would leave behind.
        let _ = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// The directory with `initdb` and `postgres`: PATH first, then the newest
/// Debian version directory.
fn find_bin() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let initdb = dir.join("initdb");
        if initdb.is_file() && dir.join("postgres").is_file() {
            // Debian links /usr/bin tools to a wrapper; the real binaries
            // sit beside the resolved initdb.
            let resolved = std::fs::canonicalize(&initdb).ok()?;
            return resolved.parent().map(Path::to_owned);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("postgres").is_file())
                .then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// `None` when not root; otherwise the unprivileged user to run as.
fn run_as() -> Option<RunAs> {
    if id(&["-u"])? != 0 {
        return None;
    }
    for user in ["stratus-test", "nobody"] {
        if let (Some(uid), Some(gid)) = (id(&["-u", user]), id(&["-g", user])) {
            return Some(RunAs { uid, gid });
        }
    }
    panic!(
        "running as root, and neither user stratus-test nor nobody exists to run PostgreSQL \
         as; run {INSTALL}"
    );
}

fn id(args: &[&str]) -> Option<u32> {
    let output = Command::new("id").args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    String::from_utf8_lossy(&output.stdout).trim().parse().ok()
}

/// `program` run directly, or as `run_as` through `setpriv`, which execs in
/// place: the child's pid is the server's, so signals reach it.
fn command(program: &Path, run_as: Option<&RunAs>, cwd: &Path) -> Command {
    let mut command = match run_as {
        None => Command::new(program),
        Some(user) => {
            let mut command = Command::new("setpriv");
            command
                .arg(format!("--reuid={}", user.uid))
                .arg(format!("--regid={}", user.gid))
                .arg("--clear-groups")
                .arg(program);
            command
        }
    };
    // The server's user may not be able to enter the test's directory.
    command.current_dir(cwd);
    command
}
