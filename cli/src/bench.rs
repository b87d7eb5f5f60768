//! `stratus bench`: the load tool (`stratus-loadtest`), compiled in only with
//! the cargo feature `bench`, so a production binary carries neither its
//! plotting nor its NATS client. Without the feature the subcommand is still
//! accepted, hidden from `--help`, and only says how to get a binary that has
//! it: an operator following the docs learns what to do, not that the
//! command does not exist.

#[cfg(feature = "bench")]
pub(crate) use stratus_loadtest::{LoadtestArgs as BenchArgs, run};

/// Whatever follows `stratus bench`, refused as a whole.
#[cfg(not(feature = "bench"))]
#[derive(Debug, clap::Args)]
pub(crate) struct BenchArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    _args: Vec<std::ffi::OsString>,
}

#[cfg(not(feature = "bench"))]
pub(crate) async fn run(_args: BenchArgs) -> anyhow::Result<()> {
    anyhow::bail!(
        "this stratus binary is built without the load tool; build with `--features bench` \
         (cargo build --release -p stratus-cli --features bench)"
    )
}

#[cfg(all(test, not(feature = "bench")))]
mod tests {
    use clap::{CommandFactory, Parser};

    use crate::{Cli, Command};

    #[test]
    fn without_the_feature_bench_is_hidden_and_says_how_to_get_it() {
        let help = Cli::command().render_help().to_string();
        assert!(!help.contains("bench"), "{help}");
        let cli = Cli::try_parse_from(["stratus", "bench", "w.yaml", "--driver", "nats", "--help"])
            .expect("`stratus bench ...` parses");
        let Command::Bench(args) = cli.command else {
            panic!("parsed as {:?}", cli.command);
        };
        let err = futures::executor::block_on(super::run(args)).expect_err("refused");
        assert!(err.to_string().contains("--features bench"), "{err}");
    }
}
