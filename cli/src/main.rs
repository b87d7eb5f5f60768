//! The `stratus` binary: parses the command line and hands it to the
//! `stratus_cli` library, where every command lives.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    stratus_cli::run(stratus_cli::Cli::parse())
}
