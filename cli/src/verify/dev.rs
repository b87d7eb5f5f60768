//! `--dev`: a `stratus dev` child of this very binary on its own data
//! directory and fixed loopback ports, so a SIGKILL and a restart bring it
//! back where the producers left it. Its log goes to `dev.log` there.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Longest a child may take to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running `stratus dev` child and how to start it again.
#[derive(Debug)]
pub(crate) struct DevChild {
    child: Child,
    data_dir: PathBuf,
    /// Removed on drop: verify made it.
    temporary: bool,
    ports: [u16; 3],
    pub(crate) url: String,
}

impl DevChild {
    /// Starts a child on `data_dir`, or on a new temporary directory.
    pub(crate) async fn start(data_dir: Option<&Path>) -> anyhow::Result<Self> {
        let (data_dir, temporary) = match data_dir {
            Some(dir) => (dir.to_owned(), false),
            None => {
                let dir = std::env::temp_dir()
                    .join(format!("stratus-verify-{}", super::acks::new_run_id()));
                (dir, true)
            }
        };
        std::fs::create_dir_all(&data_dir)
            .with_context(|| format!("cannot create {}", data_dir.display()))?;
        let ports = [free_port()?, free_port()?, free_port()?];
        let url = format!("http://127.0.0.1:{}", ports[0]);
        let child = spawn(&data_dir, ports).await?;
        Ok(Self {
            child,
            data_dir,
            temporary,
            ports,
            url,
        })
    }

    /// SIGKILL, then the same command again on the same ports.
    pub(crate) async fn kill_and_restart(&mut self) -> anyhow::Result<()> {
        self.child.kill().await.context("cannot kill stratus dev")?;
        self.child = spawn(&self.data_dir, self.ports).await?;
        Ok(())
    }

    /// SIGKILL, and wait until the child is gone (a temporary data
    /// directory is removed on drop).
    pub(crate) async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

impl Drop for DevChild {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        if self.temporary {
            // The child may still hold files for a moment; a leftover
            // directory in the temp dir is harmless.
            let _ = std::fs::remove_dir_all(&self.data_dir);
        }
    }
}

async fn spawn(data_dir: &Path, [grpc, kafka, metrics]: [u16; 3]) -> anyhow::Result<Child> {
    let exe = std::env::current_exe().context("cannot find the stratus binary")?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(data_dir.join("dev.log"))
        .context("cannot open the dev log")?;
    let mut child = Command::new(exe)
        .arg("dev")
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--listen", &format!("127.0.0.1:{grpc}")])
        .args(["--kafka-listen", &format!("127.0.0.1:{kafka}")])
        .args(["--metrics-listen", &format!("127.0.0.1:{metrics}")])
        // QUIC is not used; a free port keeps it out of the way.
        .env("STRATUS_GATEWAY__QUIC__LISTEN", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .context("cannot start stratus dev")?;
    let stdout = child.stdout.take().context("stratus dev has no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    // `stratus dev` prints its addresses, then its data directory, once it
    // listens.
    let ready = async {
        while let Some(line) = lines.next_line().await? {
            if line.trim_start().starts_with("data dir") {
                return Ok(true);
            }
        }
        Ok::<_, std::io::Error>(false)
    };
    match tokio::time::timeout(START_TIMEOUT, ready).await {
        Ok(Ok(true)) => {}
        _ => anyhow::bail!(
            "stratus dev did not start within {START_TIMEOUT:?}; see {}",
            data_dir.join("dev.log").display()
        ),
    }
    // Keep draining stdout so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(child)
}

/// A loopback TCP port free now, kept by the child across its restarts.
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")
        .context("cannot find a free port")?
        .local_addr()?
        .port())
}
