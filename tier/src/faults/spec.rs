//! The compact fault spec: parsing, printing and validation. The grammar is in
//! the parent module's docs; printing a config and parsing it back gives the
//! same config.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::{DEFAULT_HANG, FaultConfig, FaultRule, Latency};
use crate::operation::Operation;

const EXAMPLE: &str = "put@wal/:error=0.05,timeout=0.01,latency=5ms";

/// A fault spec (or a config built in code) that does not make sense; names
/// the offending part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid fault spec part {part:?}: {reason}; write rules like {EXAMPLE:?}")]
pub struct FaultSpecError {
    pub part: String,
    pub reason: String,
}

fn bad(part: &str, reason: impl Into<String>) -> FaultSpecError {
    FaultSpecError {
        part: part.to_owned(),
        reason: reason.into(),
    }
}

impl FromStr for FaultConfig {
    type Err = FaultSpecError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let mut config = Self::default();
        let mut seed_seen = false;
        for item in spec.split(';').map(str::trim).filter(|i| !i.is_empty()) {
            if let Some(seed) = item.strip_prefix("seed=") {
                if seed_seen {
                    return Err(bad(item, "the seed is given twice"));
                }
                seed_seen = true;
                config.seed = seed.trim().parse().map_err(|e| {
                    bad(item, format!("the seed must be an unsigned integer ({e})"))
                })?;
            } else {
                config.rules.push(parse_rule(item)?);
            }
        }
        config.validate()?;
        Ok(config)
    }
}

fn parse_rule(item: &str) -> Result<FaultRule, FaultSpecError> {
    // Settings never contain ':', so the last one ends the selector even if a
    // path prefix contains one.
    let (selector, settings) = item.rsplit_once(':').ok_or_else(|| {
        bad(
            item,
            "a rule needs ':' between its operations and its settings",
        )
    })?;
    let (ops, prefix) = match selector.split_once('@') {
        Some((ops, prefix)) => (ops, Some(prefix.to_owned())),
        None => (selector, None),
    };
    let mut rule = FaultRule {
        operations: parse_ops(item, ops)?,
        path_prefix: prefix,
        ..FaultRule::default()
    };
    for setting in split_top_level(settings).into_iter().map(str::trim) {
        if !setting.is_empty() {
            apply_setting(&mut rule, setting).map_err(|reason| bad(setting, reason))?;
        }
    }
    Ok(rule)
}

fn parse_ops(
    item: &str,
    ops: &str,
) -> Result<std::collections::BTreeSet<Operation>, FaultSpecError> {
    let ops = ops.trim();
    if ops == "*" {
        return Ok(Operation::ALL.into_iter().collect());
    }
    if ops.is_empty() {
        return Err(bad(item, "no operations before ':'; use e.g. put|get or *"));
    }
    ops.split('|')
        .map(|op| op.parse::<Operation>().map_err(|e| bad(op, e.to_string())))
        .collect()
}

fn apply_setting(rule: &mut FaultRule, setting: &str) -> Result<(), String> {
    let (key, value) = match setting.split_once('=') {
        Some((k, v)) => (k.trim(), v.trim()),
        None => (setting, ""),
    };
    match key {
        "error" => rule.error_rate = parse_probability(value)?,
        "timeout" => rule.timeout_rate = parse_probability(value)?,
        "hang" => rule.hang = parse_duration(value)?,
        "lost_ack" if value.is_empty() => rule.lost_ack = true,
        "lost_ack" => {
            rule.lost_ack = value
                .parse()
                .map_err(|_| format!("lost_ack takes true or false, not {value:?}"))?;
        }
        "limit" => {
            let n = value
                .parse()
                .map_err(|_| format!("limit takes an unsigned integer, not {value:?}"))?;
            rule.limit = Some(n);
        }
        "latency" => rule.latency = parse_latency(value)?,
        _ => {
            return Err(format!(
                "unknown setting {key:?}; use error, timeout, hang, lost_ack, limit or latency"
            ));
        }
    }
    Ok(())
}

fn parse_latency(value: &str) -> Result<Latency, String> {
    let call = |name: &str| {
        value
            .strip_prefix(name)
            .and_then(|rest| rest.strip_prefix('('))
            .and_then(|rest| rest.strip_suffix(')'))
            .map(|args| args.split(',').map(str::trim).collect::<Vec<_>>())
    };
    if let Some(args) = call("uniform") {
        let [min, max] = args[..] else {
            return Err("uniform takes two durations: uniform(1ms,10ms)".into());
        };
        Ok(Latency::Uniform {
            min: parse_duration(min)?,
            max: parse_duration(max)?,
        })
    } else if let Some(args) = call("spike") {
        let [base, spike, p] = args[..] else {
            return Err("spike takes base, spike and probability: spike(5ms,2s,0.01)".into());
        };
        Ok(Latency::Spike {
            base: parse_duration(base)?,
            spike: parse_duration(spike)?,
            probability: parse_probability(p)?,
        })
    } else {
        parse_duration(value).map(Latency::Fixed).map_err(|e| {
            format!("{e}; latency is a duration, uniform(min,max) or spike(base,spike,p)")
        })
    }
}

fn parse_probability(value: &str) -> Result<f64, String> {
    let p: f64 = value
        .parse()
        .map_err(|_| format!("{value:?} is not a number; use a probability like 0.05"))?;
    check_probability(p)?;
    Ok(p)
}

fn check_probability(p: f64) -> Result<(), String> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(format!("probability {p} is outside 0..=1"))
    }
}

const UNITS: [(&str, u64); 6] = [
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
];

/// `<number><unit>`, e.g. `5ms`, `1.5s`; whole numbers are exact.
pub(super) fn parse_duration(value: &str) -> Result<Duration, String> {
    let split = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let per = UNITS
        .iter()
        .find(|(name, _)| *name == unit)
        .map(|&(_, per)| per)
        .ok_or_else(|| {
            format!(
                "{value:?} is not a duration; write e.g. 5ms, 2s or 1.5s (units: ns us ms s m h)"
            )
        })?;
    let out_of_range = || format!("duration {value:?} is too large");
    if number.contains('.') {
        let n: f64 = number
            .parse()
            .map_err(|_| format!("{number:?} in {value:?} is not a number"))?;
        Duration::try_from_secs_f64(n * per as f64 / 1e9).map_err(|_| out_of_range())
    } else {
        let n: u64 = number
            .parse()
            .map_err(|_| format!("{number:?} in {value:?} is not a number"))?;
        n.checked_mul(per)
            .map(Duration::from_nanos)
            .ok_or_else(out_of_range)
    }
}

/// The largest unit that states `d` exactly, so parsing it gives `d` back.
pub(super) fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    let (name, per) = UNITS
        .iter()
        .find(|(_, per)| nanos.is_multiple_of(u128::from(*per)))
        .copied()
        .unwrap_or(("ns", 1));
    format!("{}{name}", nanos / u128::from(per))
}

/// Splits on commas outside parentheses, so `latency=spike(5ms,2s,0.01)`
/// stays one setting.
fn split_top_level(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

impl FaultConfig {
    /// Checks what the type cannot: probabilities within 0..=1 (error plus
    /// timeout too) and uniform latencies with `min <= max`.
    pub fn validate(&self) -> Result<(), FaultSpecError> {
        for rule in &self.rules {
            let part = || rule.to_string();
            let checks = [
                check_probability(rule.error_rate).map_err(|r| format!("error: {r}")),
                check_probability(rule.timeout_rate).map_err(|r| format!("timeout: {r}")),
                check_probability(rule.error_rate + rule.timeout_rate)
                    .map_err(|r| format!("error + timeout: {r}")),
            ];
            for check in checks {
                check.map_err(|reason| bad(&part(), reason))?;
            }
            match rule.latency {
                Latency::Uniform { min, max } if min > max => {
                    return Err(bad(&part(), "uniform latency needs min <= max"));
                }
                Latency::Spike { probability, .. } => check_probability(probability)
                    .map_err(|r| bad(&part(), format!("spike: {r}")))?,
                _ => {}
            }
        }
        Ok(())
    }
}

impl fmt::Display for FaultConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "seed={}", self.seed)?;
        for rule in &self.rules {
            write!(f, ";{rule}")?;
        }
        Ok(())
    }
}

impl fmt::Display for FaultRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.operations.len() == Operation::ALL.len() {
            f.write_str("*")?;
        } else {
            let ops: Vec<_> = self.operations.iter().map(|op| op.as_str()).collect();
            f.write_str(&ops.join("|"))?;
        }
        if let Some(prefix) = &self.path_prefix {
            write!(f, "@{prefix}")?;
        }
        f.write_str(":")?;
        let mut settings = Vec::new();
        if self.error_rate != 0.0 {
            settings.push(format!("error={}", self.error_rate));
        }
        if self.timeout_rate != 0.0 {
            settings.push(format!("timeout={}", self.timeout_rate));
        }
        if self.hang != DEFAULT_HANG {
            settings.push(format!("hang={}", format_duration(self.hang)));
        }
        if self.lost_ack {
            settings.push("lost_ack".to_owned());
        }
        if let Some(limit) = self.limit {
            settings.push(format!("limit={limit}"));
        }
        if self.latency != Latency::None {
            settings.push(format!("latency={}", self.latency));
        }
        f.write_str(&settings.join(","))
    }
}

impl fmt::Display for Latency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::None => f.write_str("0s"),
            Self::Fixed(d) => f.write_str(&format_duration(d)),
            Self::Uniform { min, max } => write!(
                f,
                "uniform({},{})",
                format_duration(min),
                format_duration(max)
            ),
            Self::Spike {
                base,
                spike,
                probability,
            } => write!(
                f,
                "spike({},{},{probability})",
                format_duration(base),
                format_duration(spike)
            ),
        }
    }
}
