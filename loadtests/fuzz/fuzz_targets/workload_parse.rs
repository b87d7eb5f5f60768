//! Feeds arbitrary text to the workload file parser; see `workload_parse` in
//! this crate for the properties.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| stratus_loadtest_fuzz::workload_parse(data));
