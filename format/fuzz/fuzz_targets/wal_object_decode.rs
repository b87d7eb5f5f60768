//! Feeds arbitrary bytes to the WAL object decoders (whole object, and
//! trailer then footer as ranged reads do), as they are and with the footer
//! CRC fixed; see `wal_object_decode` in this crate for the properties.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| stratus_format_fuzz::wal_object_decode(data));
