//! `stratus config env`: the `STRATUS_*` environment variables the server
//! configuration reads, one per line.
//!
//! The list is derived from `ServerSettings::default()` serialized, so a
//! setting added to the struct shows up here without anyone remembering to
//! list it. Deployment checks (`terraform/tests`) compare the variables they
//! pass against this output; it must never print a name the settings layer
//! would reject.

use clap::Subcommand;
use serde_json::Value;

use crate::settings::ServerSettings;

/// Prefix and nesting separator of the environment layer in
/// `ServerSettings::load` (`Env::prefixed("STRATUS_").split("__")`).
const PREFIX: &str = "STRATUS_";
const NESTING: &str = "__";

#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Print every `STRATUS_*` environment variable the server configuration
    /// reads, one per line (`__` separates nested settings, e.g.
    /// `STRATUS_GATEWAY__LINGER`).
    Env,
}

pub(crate) fn run(command: &ConfigCommand) -> anyhow::Result<()> {
    match command {
        ConfigCommand::Env => {
            for name in env_names()? {
                println!("{name}");
            }
        }
    }
    Ok(())
}

/// Every variable that sets a server setting, sorted.
pub fn env_names() -> anyhow::Result<Vec<String>> {
    let defaults = serde_json::to_value(ServerSettings::default())?;
    Ok(flatten(&defaults))
}

/// Names of the leaves of `settings`, as the environment layer spells them:
/// `{"gateway": {"listen": ..}}` gives `STRATUS_GATEWAY__LISTEN`. An empty
/// table is a leaf (a map setting, given whole); arrays are leaves.
fn flatten(settings: &Value) -> Vec<String> {
    let mut names = Vec::new();
    if let Value::Object(fields) = settings {
        for (key, value) in fields {
            collect(
                format!("{PREFIX}{}", key.to_ascii_uppercase()),
                value,
                &mut names,
            );
        }
    }
    names.sort();
    names.dedup();
    names
}

fn collect(name: String, value: &Value, names: &mut Vec<String>) {
    match value {
        Value::Object(fields) if !fields.is_empty() => {
            for (key, child) in fields {
                let child_name = format!("{name}{NESTING}{}", key.to_ascii_uppercase());
                collect(child_name, child, names);
            }
        }
        _ => names.push(name),
    }
}

#[cfg(test)]
mod tests {
    use figment::Figment;
    use figment::providers::Serialized;
    use serde_json::json;

    use super::*;

    #[test]
    fn flattens_nested_tables_with_double_underscores() {
        let settings = json!({
            "data_dir": "d",
            "gateway": { "listen": "127.0.0.1:7400", "limits": { "max_bytes": 1 } },
            "labels": {},
            "peers": ["a", "b"],
            "tls": null,
        });
        assert_eq!(
            flatten(&settings),
            [
                "STRATUS_DATA_DIR",
                "STRATUS_GATEWAY__LIMITS__MAX_BYTES",
                "STRATUS_GATEWAY__LISTEN",
                "STRATUS_LABELS",
                "STRATUS_PEERS",
                "STRATUS_TLS",
            ]
        );
    }

    #[test]
    fn lists_leaf_settings_only() {
        let names = env_names().unwrap();
        for expected in [
            "STRATUS_DATA_DIR",
            "STRATUS_METADATA",
            "STRATUS_WAL",
            "STRATUS_LOG_FORMAT",
            "STRATUS_WAL_RETRY__MAX_ATTEMPTS",
            "STRATUS_GATEWAY__LISTEN",
            "STRATUS_GATEWAY__CLUSTER",
        ] {
            assert!(
                names.contains(&expected.to_owned()),
                "{expected} missing from {names:?}"
            );
        }
        // Tables are not settings of their own, and the client's address is
        // not a server setting.
        for unexpected in ["STRATUS_GATEWAY", "STRATUS_WAL_RETRY", "STRATUS_SERVER"] {
            assert!(
                !names.contains(&unexpected.to_owned()),
                "{unexpected} in {names:?}"
            );
        }
    }

    /// Every printed name, turned into a key path the way the environment
    /// layer does (lower-cased, split on `__`), names a real setting:
    /// `ServerSettings` denies unknown fields, so a wrong name fails here.
    #[test]
    fn every_name_sets_a_real_setting() {
        let defaults = serde_json::to_value(ServerSettings::default()).unwrap();
        for name in env_names().unwrap() {
            let path: Vec<String> = name
                .strip_prefix(PREFIX)
                .unwrap()
                .split(NESTING)
                .map(str::to_ascii_lowercase)
                .collect();
            let value = path
                .iter()
                .try_fold(&defaults, |v, key| v.get(key))
                .unwrap_or_else(|| panic!("{name}: no setting at {path:?}"));
            let settings: ServerSettings =
                Figment::from(Serialized::defaults(ServerSettings::default()))
                    .merge((path.join("."), value))
                    .extract()
                    .unwrap_or_else(|e| panic!("{name} does not set a server setting: {e}"));
            assert_eq!(settings, ServerSettings::default(), "{name}");
        }
        // And the check can fail: a name outside the struct is refused.
        let bogus = Figment::from(Serialized::defaults(ServerSettings::default()))
            .merge(("gateway.lingerr", "1ms"))
            .extract::<ServerSettings>();
        assert!(bogus.is_err(), "an unknown setting was accepted");
    }
}
