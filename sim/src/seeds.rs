//! Which seeds to run, from the environment: `STRATUS_SIM_SEED` names one
//! seed (to replay it), `STRATUS_SIM_SEEDS` a count (`500`: seeds 0..500) or
//! a range (`1000..2000`), and `STRATUS_SIM_BUG` plants a bug.

use std::ops::Range;

use crate::config::PlantedBug;

/// Most seeds one `STRATUS_SIM_SEEDS` may ask for.
pub const MAX_SEEDS: u64 = 1_000_000;

/// A variable that does not parse; names it and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedsError(pub String);

impl std::fmt::Display for SeedsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SeedsError {}

/// Parses a `STRATUS_SIM_SEEDS` value.
pub fn parse_seeds(text: &str) -> Result<Range<u64>, SeedsError> {
    let text = text.trim();
    let bad = |why: &str| {
        SeedsError(format!(
            "STRATUS_SIM_SEEDS={text:?} {why}; write a count such as 500 or a range such as 1000..2000"
        ))
    };
    let range = match text.split_once("..") {
        Some((from, to)) => {
            let from = from
                .trim()
                .parse()
                .map_err(|_| bad("has a start that is not a number"))?;
            let to = to
                .trim()
                .parse()
                .map_err(|_| bad("has an end that is not a number"))?;
            from..to
        }
        None => 0..text.parse().map_err(|_| bad("is not a number"))?,
    };
    if range.is_empty() {
        return Err(bad("names no seed"));
    }
    if range.end - range.start > MAX_SEEDS {
        return Err(bad(&format!("names more than {MAX_SEEDS} seeds")));
    }
    Ok(range)
}

/// Parses a `STRATUS_SIM_SEED` value.
pub fn parse_seed(text: &str) -> Result<u64, SeedsError> {
    text.trim().parse().map_err(|_| {
        SeedsError(format!(
            "STRATUS_SIM_SEED={text:?} is not an unsigned integer; write the seed a failing run printed, e.g. STRATUS_SIM_SEED=1234"
        ))
    })
}

/// Parses a `STRATUS_SIM_BUG` value.
pub fn parse_bug(text: &str) -> Result<Option<PlantedBug>, SeedsError> {
    match text.trim() {
        "" | "none" => Ok(None),
        "ack-before-commit" => Ok(Some(PlantedBug::AckBeforeCommit)),
        other => Err(SeedsError(format!(
            "STRATUS_SIM_BUG={other:?} is not a planted bug; use ack-before-commit or none"
        ))),
    }
}

/// Reads `name` from the environment and parses it; `None` when unset.
pub fn from_env<T>(
    name: &str,
    parse: impl Fn(&str) -> Result<T, SeedsError>,
) -> Result<Option<T>, SeedsError> {
    match std::env::var(name) {
        Ok(text) => parse(&text).map(Some),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(SeedsError(format!("{name} is not valid UTF-8")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_ranges_parse_and_bad_values_name_the_fix() {
        assert_eq!(parse_seeds("500"), Ok(0..500));
        assert_eq!(parse_seeds(" 1000..2000 "), Ok(1000..2000));
        for bad in ["", "x", "5..", "9..3", "0..99999999"] {
            let err = parse_seeds(bad).unwrap_err().to_string();
            assert!(
                err.contains("STRATUS_SIM_SEEDS") && err.contains("1000..2000"),
                "{err}"
            );
        }
        assert_eq!(parse_seed("42"), Ok(42));
        assert!(
            parse_seed("-1")
                .unwrap_err()
                .to_string()
                .contains("STRATUS_SIM_SEED=1234")
        );
        assert_eq!(
            parse_bug("ack-before-commit"),
            Ok(Some(PlantedBug::AckBeforeCommit))
        );
        assert!(
            parse_bug("oops")
                .unwrap_err()
                .to_string()
                .contains("ack-before-commit")
        );
    }
}
