//! The one shape of a setting check: a value, the range it must lie in, and
//! the error naming the setting when it does not. Every validator of the
//! crate (`GatewayConfig`, `GroupsConfig`, `QuicConfig`) checks its numbers
//! through [`Limit::check`], so ranges and their messages read the same
//! everywhere. The ranges themselves are rows of `crate::limits`; this module
//! must never hold a number of its own.

use std::time::Duration;

/// A setting out of range, named so the fix is obvious.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid setting `{setting}` = {value}: {expected}")]
pub struct ConfigError {
    pub setting: &'static str,
    pub value: String,
    pub expected: String,
}

impl ConfigError {
    /// A setting that fails a rule other than a range.
    pub(crate) fn new(setting: &'static str, value: String, expected: &str) -> Self {
        Self {
            setting,
            value,
            expected: expected.to_owned(),
        }
    }
}

/// How a bound reads in an error message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    /// A plain number: `1024`, `-7`.
    Number,
    /// Bytes in binary units: `1 KiB`, `256 MiB`.
    Bytes,
    /// A duration: `100ms`, `1h`.
    Time,
}

/// One end of a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bound<T> {
    /// Unbounded on this side.
    Open,
    /// A fixed value.
    Value(T),
    /// Another setting, whose value is given when checking.
    Setting(&'static str),
}

/// A numeric setting: its name, default and allowed range.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limit<T> {
    /// The setting's name as an operator writes it (`quic.max_frame_bytes`).
    pub(crate) setting: &'static str,
    pub(crate) default: T,
    pub(crate) min: Bound<T>,
    pub(crate) max: Bound<T>,
    pub(crate) unit: Unit,
    /// Why the range is what it is, when that helps the operator; appended
    /// to the message in parentheses.
    pub(crate) why: Option<&'static str>,
}

/// A value a [`Limit`] can bound.
pub(crate) trait Quantity: Copy + PartialOrd {
    /// The configured value as the error shows it.
    fn shown(self) -> String;
    /// A bound as the error states it.
    fn bound(self, unit: Unit) -> String;
}

impl<T: Quantity> Limit<T> {
    /// A limit with a default and no range yet.
    pub(crate) const fn new(setting: &'static str, default: T, unit: Unit) -> Self {
        Self {
            setting,
            default,
            min: Bound::Open,
            max: Bound::Open,
            unit,
            why: None,
        }
    }

    pub(crate) const fn at_least(mut self, min: Bound<T>) -> Self {
        self.min = min;
        self
    }

    pub(crate) const fn at_most(mut self, max: Bound<T>) -> Self {
        self.max = max;
        self
    }

    pub(crate) const fn because(mut self, why: &'static str) -> Self {
        self.why = Some(why);
        self
    }

    /// The fixed lower bound, if there is one.
    #[cfg(test)]
    pub(crate) fn min_value(&self) -> Option<T> {
        match self.min {
            Bound::Value(v) => Some(v),
            _ => None,
        }
    }

    /// The fixed upper bound, if there is one.
    #[cfg(test)]
    pub(crate) fn max_value(&self) -> Option<T> {
        match self.max {
            Bound::Value(v) => Some(v),
            _ => None,
        }
    }

    /// Checks a setting whose bounds are fixed values.
    pub(crate) fn check(&self, value: T) -> Result<(), ConfigError> {
        self.check_against(value, None, None)
    }

    /// Checks a setting whose bounds may name other settings: `lower` and
    /// `upper` are those settings' values.
    pub(crate) fn check_against(
        &self,
        value: T,
        lower: Option<T>,
        upper: Option<T>,
    ) -> Result<(), ConfigError> {
        let resolve = |bound: Bound<T>, other: Option<T>| match bound {
            Bound::Open => None,
            Bound::Value(v) => Some(v),
            Bound::Setting(_) => other,
        };
        let too_low = resolve(self.min, lower).is_some_and(|min| value < min);
        let too_high = resolve(self.max, upper).is_some_and(|max| value > max);
        if too_low || too_high {
            return Err(ConfigError {
                setting: self.setting,
                value: value.shown(),
                expected: self.expected(),
            });
        }
        Ok(())
    }

    /// "expected between 1 KiB and 256 MiB", "expected at most 10s", ...
    fn expected(&self) -> String {
        let show = |bound: Bound<T>| match bound {
            Bound::Open => None,
            Bound::Value(v) => Some((false, v.bound(self.unit))),
            Bound::Setting(name) => Some((true, name.to_owned())),
        };
        let range = match (show(self.min), show(self.max)) {
            (Some((a, min)), Some((b, max))) if a == b => format!("between {min} and {max}"),
            (Some((_, min)), Some((_, max))) => format!("at least {min} and at most {max}"),
            (Some((_, min)), None) => format!("at least {min}"),
            (None, Some((_, max))) => format!("at most {max}"),
            (None, None) => "any value".to_owned(),
        };
        match self.why {
            Some(why) => format!("expected {range} ({why})"),
            None => format!("expected {range}"),
        }
    }
}

macro_rules! integer_quantity {
    ($($t:ty),*) => {$(
        impl Quantity for $t {
            fn shown(self) -> String {
                self.to_string()
            }

            fn bound(self, unit: Unit) -> String {
                match unit {
                    Unit::Bytes => binary_bytes(self as f64),
                    Unit::Number | Unit::Time => self.to_string(),
                }
            }
        }
    )*};
}

integer_quantity!(u32, u64, usize, i32);

impl Quantity for Duration {
    fn shown(self) -> String {
        format!("{self:?}")
    }

    fn bound(self, _unit: Unit) -> String {
        humantime_serde::re::humantime::format_duration(self).to_string()
    }
}

/// `1024` as `1 KiB`; a bound one below a power of two (`u32::MAX`) reads
/// as that power, which is what an operator thinks of it as.
fn binary_bytes(bytes: f64) -> String {
    const UNITS: [(f64, &str); 3] = [
        (1024.0 * 1024.0 * 1024.0, "GiB"),
        (1024.0 * 1024.0, "MiB"),
        (1024.0, "KiB"),
    ];
    for (size, name) in UNITS {
        if bytes >= size {
            let n = bytes / size;
            return if (n - n.round()).abs() < 1e-6 {
                format!("{} {name}", n.round())
            } else {
                format!("{n:.1} {name}")
            };
        }
    }
    format!("{bytes} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_like_an_operator_writes_them() {
        let bytes = Limit::new("flush_bytes", 4u64 << 20, Unit::Bytes)
            .at_least(Bound::Value(1024))
            .at_most(Bound::Value(256 << 20));
        assert_eq!(bytes.expected(), "expected between 1 KiB and 256 MiB");
        let err = bytes.check(1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid setting `flush_bytes` = 1: expected between 1 KiB and 256 MiB"
        );
        bytes.check(1024).unwrap();

        let relative = Limit::new("max_inflight_bytes", 0u64, Unit::Bytes)
            .at_least(Bound::Setting("max_request_bytes"))
            .at_most(Bound::Value(u64::from(u32::MAX)));
        assert_eq!(
            relative.expected(),
            "expected at least max_request_bytes and at most 4 GiB"
        );
        assert!(relative.check_against(10, Some(11), None).is_err());
        relative.check_against(11, Some(11), None).unwrap();

        let time = Limit::new("linger", Duration::ZERO, Unit::Time)
            .at_most(Bound::Value(Duration::from_secs(10)));
        assert_eq!(time.expected(), "expected at most 10s");
        let err = time.check(Duration::from_secs(11)).unwrap_err();
        assert_eq!(err.value, "11s");

        let why = Limit::new("n", 1usize, Unit::Number)
            .at_least(Bound::Value(1))
            .at_most(Bound::Value(10_000))
            .because("a reason");
        assert_eq!(why.expected(), "expected between 1 and 10000 (a reason)");
    }
}
