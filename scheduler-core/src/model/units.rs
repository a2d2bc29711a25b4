//! Unit newtypes: CPU in MHz, memory and disk in MiB (what Nomad calls MB),
//! bandwidth in Mbit/s, and durations in nanoseconds (Go's `time.Duration`,
//! which is what Nomad's JSON carries).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

macro_rules! int_unit {
    ($(#[$meta:meta])* $name:ident, $suffix:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{} {}", self.0, $suffix)
            }
        }

        impl std::ops::Add for $name {
            type Output = Self;
            fn add(self, rhs: Self) -> Self {
                Self(self.0.saturating_add(rhs.0))
            }
        }

        impl std::ops::Sub for $name {
            type Output = Self;
            fn sub(self, rhs: Self) -> Self {
                Self(self.0.saturating_sub(rhs.0))
            }
        }

        impl std::ops::AddAssign for $name {
            fn add_assign(&mut self, rhs: Self) {
                self.0 = self.0.saturating_add(rhs.0);
            }
        }

        impl std::ops::SubAssign for $name {
            fn sub_assign(&mut self, rhs: Self) {
                self.0 = self.0.saturating_sub(rhs.0);
            }
        }
    };
}

int_unit!(
    /// CPU shares in MHz.
    MHz,
    "MHz"
);
int_unit!(
    /// Memory or disk in MiB (Nomad says "MB" but means 2^20 bytes).
    MiB,
    "MiB"
);
int_unit!(
    /// Network bandwidth in Mbit/s.
    Mbits,
    "Mbit/s"
);

/// A span of time with nanosecond precision, serialised as Go's
/// `time.Duration` (an integer count of nanoseconds), as in Nomad's API.
///
/// Deserialisation also accepts a duration string such as `"30s"` or
/// `"1h30m"`, which hand-written JSON often uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(pub i64);

impl Duration {
    /// Zero length.
    pub const ZERO: Duration = Duration(0);
    const NANOS_PER_SECOND: i64 = 1_000_000_000;

    /// From nanoseconds (how Nomad's API carries durations).
    pub const fn from_nanos(nanos: i64) -> Self {
        Duration(nanos)
    }

    /// From whole seconds.
    pub const fn from_secs(secs: i64) -> Self {
        Duration(secs.saturating_mul(Self::NANOS_PER_SECOND))
    }

    /// From whole minutes.
    pub const fn from_mins(mins: i64) -> Self {
        Duration::from_secs(mins.saturating_mul(60))
    }

    /// From whole hours.
    pub const fn from_hours(hours: i64) -> Self {
        Duration::from_secs(hours.saturating_mul(3600))
    }

    /// From milliseconds.
    pub const fn from_millis(ms: i64) -> Self {
        Duration(ms.saturating_mul(1_000_000))
    }

    /// Nanoseconds.
    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// Whether the duration is zero.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// Parses a Go duration string: a sequence of decimal numbers, each with an
    /// optional fraction and a unit (`ns`, `us`, `µs`, `ms`, `s`, `m`, `h`),
    /// optionally signed, e.g. `"300ms"`, `"-1.5h"`, `"2h45m"`. `"0"` is zero.
    pub fn parse(text: &str) -> Result<Duration, DurationError> {
        parse_go_duration(text).ok_or_else(|| DurationError(text.to_owned()))
    }
}

/// A duration string that is not in Go's `time.ParseDuration` syntax.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid duration {0:?}: expected a number with a unit, such as \"30s\", \"5m\" or \"1h30m\""
)]
pub struct DurationError(pub String);

fn parse_go_duration(text: &str) -> Option<Duration> {
    let (negative, mut rest) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Some(Duration::ZERO);
    }
    if rest.is_empty() {
        return None;
    }
    // Exact integer arithmetic in u128, as Go's parser is exact: a float
    // accumulator would lose nanoseconds past 2^53 ns (about 104 days).
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let whole_len = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let whole = &rest[..whole_len];
        rest = &rest[whole_len..];
        let fraction = match rest.strip_prefix('.') {
            Some(after) => {
                let len = after
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(after.len());
                rest = &after[len..];
                &after[..len]
            }
            None => "",
        };
        if whole.is_empty() && fraction.is_empty() {
            return None;
        }
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let nanos_per_unit: u128 = match &rest[..unit_len] {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        rest = &rest[unit_len..];
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        let mut value = whole.checked_mul(nanos_per_unit)?;
        // Fraction digits beyond nanosecond precision are truncated, as in Go.
        let mut scale = nanos_per_unit;
        for digit in fraction.bytes() {
            scale /= 10;
            if scale == 0 {
                break;
            }
            value = value.checked_add(u128::from(digit - b'0') * scale)?;
        }
        total = total.checked_add(value)?;
    }
    let limit = if negative {
        i64::MAX as u128 + 1
    } else {
        i64::MAX as u128
    };
    if total > limit {
        return None;
    }
    let nanos = if negative {
        (total as i128).wrapping_neg() as i64
    } else {
        total as i64
    };
    Some(Duration(nanos))
}

impl fmt::Display for Duration {
    /// Formats like Go's `time.Duration.String()`: `"1h30m0s"`, `"10s"`, `"1.5s"`, `"0s"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0;
        if nanos == 0 {
            return f.write_str("0s");
        }
        let sign = if nanos < 0 { "-" } else { "" };
        let abs = nanos.unsigned_abs();
        if abs < 1_000 {
            return write!(f, "{sign}{abs}ns");
        }
        if abs < 1_000_000 {
            return write!(f, "{sign}{}µs", trim_fraction(abs, 1_000));
        }
        if abs < 1_000_000_000 {
            return write!(f, "{sign}{}ms", trim_fraction(abs, 1_000_000));
        }
        let hours = abs / 3_600_000_000_000;
        let minutes = (abs / 60_000_000_000) % 60;
        let second_nanos = abs % 60_000_000_000;
        let seconds = trim_fraction(second_nanos, 1_000_000_000);
        if hours > 0 {
            write!(f, "{sign}{hours}h{minutes}m{seconds}s")
        } else if minutes > 0 {
            write!(f, "{sign}{minutes}m{seconds}s")
        } else {
            write!(f, "{sign}{seconds}s")
        }
    }
}

/// `value / unit` with the fraction printed without trailing zeros.
fn trim_fraction(value: u64, unit: u64) -> String {
    let whole = value / unit;
    let fraction = value % unit;
    if fraction == 0 {
        return whole.to_string();
    }
    let width = unit.ilog10() as usize;
    let digits = format!("{fraction:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(self.0)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration in nanoseconds or a duration string such as \"30s\"")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Duration, E> {
                Ok(Duration(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Duration, E> {
                i64::try_from(v)
                    .map(Duration)
                    .map_err(|_| E::custom("duration out of range"))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Duration, E> {
                if v.is_finite() && v.abs() < i64::MAX as f64 {
                    Ok(Duration(v as i64))
                } else {
                    Err(E::custom("duration out of range"))
                }
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Duration, E> {
                Duration::parse(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        assert_eq!(Duration::parse("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(Duration::parse("1h30m"), Ok(Duration::from_mins(90)));
        assert_eq!(Duration::parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(Duration::parse("300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(Duration::parse("-2m"), Ok(Duration::from_secs(-120)));
        assert_eq!(Duration::parse("0"), Ok(Duration::ZERO));
        // Exact past 2^53 ns, and the full i64 range, as Go's parser.
        assert_eq!(
            Duration::parse("2501h59m59.254740993s").unwrap().as_nanos(),
            2501 * 3_600_000_000_000 + 59 * 60_000_000_000 + 59_254_740_993
        );
        assert_eq!(
            Duration::parse("-2562047h47m16.854775808s"),
            Ok(Duration(i64::MIN))
        );
        assert!(Duration::parse("2562047h47m16.854775808s").is_err());
        assert_eq!(Duration::parse(".5s"), Ok(Duration::from_millis(500)));
        for bad in ["", "10", "s", "1x", "1..2s", "h1", "-", ".s", "1.2.3s"] {
            assert!(Duration::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(Duration::from_mins(90).to_string(), "1h30m0s");
        assert_eq!(Duration::from_secs(10).to_string(), "10s");
        assert_eq!(Duration::from_millis(1500).to_string(), "1.5s");
        assert_eq!(Duration::from_millis(250).to_string(), "250ms");
        assert_eq!(Duration::ZERO.to_string(), "0s");
        for d in ["72h0m0s", "1m0s", "1.5s", "250ms", "-3s"] {
            assert_eq!(Duration::parse(d).unwrap().to_string(), d);
        }
    }

    #[test]
    fn json_accepts_nanos_and_strings() {
        let d: Duration = serde_json::from_str("30000000000").unwrap();
        assert_eq!(d, Duration::from_secs(30));
        let d: Duration = serde_json::from_str("\"30s\"").unwrap();
        assert_eq!(d, Duration::from_secs(30));
        assert_eq!(serde_json::to_string(&d).unwrap(), "30000000000");
    }
}
