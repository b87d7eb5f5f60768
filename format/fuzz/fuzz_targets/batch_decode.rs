//! Feeds arbitrary bytes to the record batch decoders (header walk, dense
//! and bounded reads, the client batch check, segment reads), every codec
//! Kafka clients use reached through CRCs the input may ask to have fixed;
//! see `batch_decode` in this crate for the properties.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| stratus_format_fuzz::batch_decode(data));
