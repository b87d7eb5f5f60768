//! Feeds arbitrary bytes to the segment decoder, as they are and with the
//! footer CRC fixed; see `segment_decode` in this crate for the properties.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| stratus_format_fuzz::segment_decode(data));
