//! `stratus-loadtest`: see the library docs and loadtests/README.md.

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "stratus-loadtest",
    version,
    about = "Benchmark Stratus (and a peer) with workload files"
)]
struct Cli {
    #[command(flatten)]
    args: stratus_loadtest::LoadtestArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    stratus_loadtest::run(cli.args).await
}
