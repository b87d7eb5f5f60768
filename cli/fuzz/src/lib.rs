//! The property the `config_parse` fuzz target checks, in a function the
//! target (`fuzz_targets/`) and the replay test of stratus-cli
//! (`tests/suite/config_corpus.rs`, which includes this file) share.
//!
//! A configuration file is text an operator wrote: the parser must refuse
//! what it cannot use with an error, never panic; and the settings it
//! accepts must survive the serialization `load` layers them through (the
//! defaults and the flags are merged as serialized values), so what it
//! validated is what the server runs with.

use figment::Figment;
use figment::providers::Serialized;
use stratus_cli::settings::ServerSettings;

/// `data` is a configuration file's TOML.
pub fn config_parse(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let settings = match ServerSettings::parse_toml(text) {
        Ok(settings) => settings,
        Err(error) => {
            assert!(!format!("{error:#}").is_empty(), "an empty refusal");
            return;
        }
    };
    let again: ServerSettings = Figment::from(Serialized::defaults(&settings))
        .extract()
        .expect("accepted settings serialize and read back");
    assert_eq!(again, settings, "settings change through serialization");
}
