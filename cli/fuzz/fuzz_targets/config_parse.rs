//! Feeds arbitrary text to the configuration file parser of `stratus
//! gateway` and `stratus dev`; see `config_parse` in this crate for the
//! properties.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| stratus_cli_fuzz::config_parse(data));
