//! `stratus verify`'s command line, and the checks on it clap cannot make.

use std::path::PathBuf;
use std::time::Duration;

use crate::client::ServerArgs;

/// The flags of `stratus verify`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    pub(crate) server: ServerArgs,
    /// The topic to write and read back; created when missing. An existing
    /// topic is used as it is: only the records of this run are checked.
    #[arg(long, short = 't')]
    pub(crate) topic: String,
    /// Partitions of the topic when verify creates it.
    #[arg(long, short = 'p', default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub(crate) partitions: u32,
    /// Concurrent producers, each with its own producer id.
    #[arg(long, short = 'P', default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub(crate) producers: u32,
    /// Records each producer sends [default: 10000, unless --duration].
    #[arg(long, short = 'n', conflicts_with = "duration")]
    pub(crate) records: Option<u64>,
    /// Produce for this long instead of a number of records, e.g. `30s`.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub(crate) duration: Option<Duration>,
    /// Also read the topic back as the one member of this consumer group
    /// (use a group with no committed offsets, or it starts from them).
    #[arg(long, short = 'g')]
    pub(crate) group: Option<String>,
    /// Longest the read-back may take before what was not read counts as
    /// lost, e.g. `60s`.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub(crate) timeout: Duration,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
    /// Write every acknowledgement (producer, sequence, partition, offset)
    /// to FILE, or with --check-only read them from it.
    #[arg(long, value_name = "FILE")]
    pub(crate) acks: Option<PathBuf>,
    /// Produce nothing: read the topic back against the acknowledgements of
    /// an earlier run in --acks FILE.
    #[arg(long, requires = "acks", conflicts_with_all = ["records", "duration", "dev"])]
    pub(crate) check_only: bool,
    /// Start a `stratus dev` child (this binary) on --data-dir, or on a
    /// temporary directory removed afterwards, and verify against it
    /// instead of --server.
    #[arg(long)]
    pub(crate) dev: bool,
    /// With --dev: the child's data directory, kept afterwards.
    #[arg(long, requires = "dev")]
    pub(crate) data_dir: Option<PathBuf>,
    /// With --dev: SIGKILL the child this often while producing and restart
    /// it on the same data directory and ports, e.g. `2s`; producers retry
    /// across the restarts.
    #[arg(long, requires = "dev", value_parser = parse_interval)]
    pub(crate) kill_every: Option<Duration>,
}

/// Records each producer sends when neither --records nor --duration is given.
pub(crate) const DEFAULT_RECORDS: u64 = 10_000;

/// Acknowledgements one run tracks at most; producers stop there, so a long
/// --duration cannot grow memory without bound (32 bytes a record).
pub(crate) const MAX_TRACKED_RECORDS: u64 = 20_000_000;

/// What a run produces until.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Budget {
    Records(u64),
    Duration(Duration),
}

impl VerifyArgs {
    pub(crate) fn budget(&self) -> Budget {
        match (self.records, self.duration) {
            (_, Some(duration)) => Budget::Duration(duration),
            (Some(records), None) => Budget::Records(records),
            (None, None) => Budget::Records(DEFAULT_RECORDS),
        }
    }
}

/// A kill interval short enough to test with, long enough for a restart.
fn parse_interval(value: &str) -> Result<Duration, String> {
    let interval = humantime::parse_duration(value).map_err(|e| e.to_string())?;
    if interval < Duration::from_millis(500) {
        return Err(format!(
            "{value} is shorter than 500ms; the child needs time to start between kills"
        ));
    }
    Ok(interval)
}
