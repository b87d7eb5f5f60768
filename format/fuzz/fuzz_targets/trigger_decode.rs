//! Feeds arbitrary bytes to the trigger definition decoders: the JSON kept
//! in metadata and the `stratus.v1.Trigger` message of the gRPC service; see
//! `trigger_decode` in this crate for the properties.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| stratus_format_fuzz::trigger_decode(data));
