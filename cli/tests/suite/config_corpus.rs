//! Replays the fuzz corpus of the configuration parser
//! (fuzz/corpus/config_parse/: seeds and committed crashes) through the fuzz
//! target's own check, which lives in fuzz/src/lib.rs and is included here,
//! so the ordinary suite runs every file, and every prefix of it, without
//! cargo-fuzz.

#[allow(dead_code, unreachable_pub)]
#[path = "../../fuzz/src/lib.rs"]
mod checks;

use std::path::PathBuf;

#[test]
fn corpus_replays_without_panics() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/config_parse");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("corpus directory") {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        checks::config_parse(&bytes);
        for cut in 0..bytes.len() {
            checks::config_parse(&bytes[..cut]);
        }
        seen += 1;
    }
    assert!(seen >= 8, "only {seen} corpus files in {}", dir.display());
}
