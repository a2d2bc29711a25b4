//! Date and time functions over RFC 3339 timestamps, parsed and formatted by
//! hand. There is no `timestamp()`: the core has no clock, so the current
//! time must come in as a variable.

use super::{FunctionContext, string_arg, truncate};
use crate::jobspec::value::Value;
use crate::model::timestamp;

type Res = Result<Value, String>;

const NANOS_PER_SEC: i128 = 1_000_000_000;

/// A point in time with the UTC offset it was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Timestamp {
    /// Seconds since 1970-01-01T00:00:00Z.
    unix: i64,
    nanos: u32,
    /// Offset from UTC in seconds.
    offset: i32,
}

// The calendar arithmetic is the model's (one implementation for every
// timestamp in the crate); these adapt it to the `u32` month and day used
// here.

/// Days since 1970-01-01 for a proleptic Gregorian date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    timestamp::days_from_civil(y, i64::from(m), i64::from(d))
}

/// The date for a count of days since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let (y, m, d) = timestamp::civil_from_days(z);
    // Month is 1..=12 and day 1..=31 by construction.
    (y, m as u32, d as u32)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    timestamp::days_in_month(y, i64::from(m)) as u32
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`.
fn parse_timestamp(text: &str) -> Result<Timestamp, String> {
    let bad = |what: &str| {
        format!(
            "{:?} is not a valid RFC 3339 timestamp: {what}",
            truncate(text)
        )
    };
    let b = text.as_bytes();
    let num = |range: std::ops::Range<usize>, what: &str| -> Result<u32, String> {
        let part = b
            .get(range)
            .ok_or_else(|| bad(&format!("it ends before the {what}")))?;
        if !part.iter().all(u8::is_ascii_digit) {
            return Err(bad(&format!("the {what} is not a number")));
        }
        Ok(part
            .iter()
            .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0')))
    };
    let sep = |at: usize, want: u8, what: &str| -> Result<(), String> {
        if b.get(at) == Some(&want) {
            Ok(())
        } else {
            Err(bad(&format!("expected {:?} {what}", char::from(want))))
        }
    };
    let year = num(0..4, "year")?;
    sep(4, b'-', "after the year")?;
    let month = num(5..7, "month")?;
    sep(7, b'-', "after the month")?;
    let day = num(8..10, "day of month")?;
    sep(10, b'T', "between the date and the time")?;
    let hour = num(11..13, "hour")?;
    sep(13, b':', "after the hour")?;
    let minute = num(14..16, "minute")?;
    sep(16, b':', "after the minute")?;
    let second = num(17..19, "second")?;
    let mut pos = 19;
    let mut nanos = 0u32;
    if b.get(pos) == Some(&b'.') {
        pos += 1;
        let start = pos;
        while b.get(pos).is_some_and(u8::is_ascii_digit) {
            if pos - start < 9 {
                nanos = nanos * 10 + u32::from(b[pos] - b'0');
            }
            pos += 1;
        }
        if pos == start {
            return Err(bad("the fractional second has no digits"));
        }
        for _ in (pos - start)..9 {
            nanos *= 10;
        }
    }
    let offset: i32 = match b.get(pos) {
        Some(b'Z') => {
            pos += 1;
            0
        }
        Some(&s @ (b'+' | b'-')) => {
            let oh = num(pos + 1..pos + 3, "UTC offset hours")?;
            sep(pos + 3, b':', "in the UTC offset")?;
            let om = num(pos + 4..pos + 6, "UTC offset minutes")?;
            if oh > 23 || om > 59 {
                return Err(bad("the UTC offset is out of range"));
            }
            pos += 6;
            let secs = (oh * 3600 + om * 60) as i32;
            if s == b'-' { -secs } else { secs }
        }
        _ => return Err(bad("it has no UTC offset (such as \"Z\" or \"+01:00\")")),
    };
    if pos != b.len() {
        return Err(bad("there is extra text after the UTC offset"));
    }
    if !(1..=12).contains(&month) {
        return Err(bad("the month is out of range"));
    }
    if day < 1 || day > days_in_month(i64::from(year), month) {
        return Err(bad("the day is out of range"));
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err(bad("the time of day is out of range"));
    }
    let days = days_from_civil(i64::from(year), month, day);
    let local = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second);
    Ok(Timestamp {
        unix: local - i64::from(offset),
        nanos,
        offset,
    })
}

/// Local calendar fields of a timestamp in its own offset.
struct Fields {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    /// 0 is Sunday.
    weekday: u32,
}

fn fields(t: &Timestamp) -> Fields {
    let local = t.unix + i64::from(t.offset);
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400) as u32;
    let (year, month, day) = civil_from_days(days);
    Fields {
        year,
        month,
        day,
        hour: secs / 3600,
        minute: secs / 60 % 60,
        second: secs % 60,
        weekday: (days + 4).rem_euclid(7) as u32,
    }
}

fn offset_text(offset: i32, colon: bool) -> String {
    let sign = if offset < 0 { '-' } else { '+' };
    let abs = offset.unsigned_abs();
    let (h, m) = (abs / 3600, abs / 60 % 60);
    if colon {
        format!("{sign}{h:02}:{m:02}")
    } else {
        format!("{sign}{h:02}{m:02}")
    }
}

fn year_text(year: i64) -> String {
    if year < 0 {
        format!("-{:04}", -year)
    } else {
        format!("{year:04}")
    }
}

/// RFC 3339 without fractional seconds, `Z` for UTC.
fn render_rfc3339(t: &Timestamp) -> String {
    let f = fields(t);
    let zone = if t.offset == 0 {
        "Z".to_owned()
    } else {
        offset_text(t.offset, true)
    };
    format!(
        "{}-{:02}-{:02}T{:02}:{:02}:{:02}{zone}",
        year_text(f.year),
        f.month,
        f.day,
        f.hour,
        f.minute,
        f.second
    )
}

/// Parses a Go duration such as `1h30m`, `-1.5s` or `300ms` into nanoseconds.
fn parse_duration(text: &str) -> Result<i128, String> {
    let bad = || {
        format!(
            "{:?} is not a valid duration (for example \"1h30m\" or \"-10s\")",
            truncate(text)
        )
    };
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let int_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (int_part, after) = rest.split_at(int_end);
        let (frac_part, after) = match after.strip_prefix('.') {
            Some(a) => {
                let end = a.find(|c: char| !c.is_ascii_digit()).unwrap_or(a.len());
                a.split_at(end)
            }
            None => ("", after),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(bad());
        }
        let unit_end = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_end);
        let scale: i128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => NANOS_PER_SEC,
            "m" => 60 * NANOS_PER_SEC,
            "h" => 3600 * NANOS_PER_SEC,
            "" => {
                return Err(format!(
                    "{:?} is missing a unit in the duration",
                    truncate(text)
                ));
            }
            other => {
                return Err(format!(
                    "unknown unit {other:?} in the duration {:?}",
                    truncate(text)
                ));
            }
        };
        let mut amount: i128 = 0;
        for d in int_part.bytes() {
            amount = amount
                .checked_mul(10)
                .and_then(|a| a.checked_add(i128::from(d - b'0')))
                .filter(|a| *a <= i128::from(i64::MAX))
                .ok_or_else(bad)?;
        }
        let mut nanos = amount.checked_mul(scale).ok_or_else(bad)?;
        let mut place = scale;
        for d in frac_part.bytes().take(30) {
            place /= 10;
            nanos += i128::from(d - b'0') * place;
        }
        total = total
            .checked_add(nanos)
            .filter(|t| *t <= i128::from(i64::MAX))
            .ok_or_else(bad)?;
        rest = after;
    }
    Ok(if negative { -total } else { total })
}

/// `timeadd(timestamp, duration)`.
pub(super) fn timeadd(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let t = parse_timestamp(&string_arg(&args, 0)?)?;
    let d = parse_duration(&string_arg(&args, 1)?)?;
    let total = i128::from(t.unix) * NANOS_PER_SEC + i128::from(t.nanos) + d;
    let unix = i64::try_from(total.div_euclid(NANOS_PER_SEC))
        .map_err(|_| "the result is out of range".to_owned())?;
    let nanos = total.rem_euclid(NANOS_PER_SEC) as u32;
    let out = Timestamp {
        unix,
        nanos,
        offset: t.offset,
    };
    if fields(&out).year.abs() > 9999 {
        return Err("the result is outside the years 0000 to 9999".to_owned());
    }
    Ok(Value::String(render_rfc3339(&out)))
}

/// `timecmp(a, b)`: -1, 0 or 1 as `a` is before, equal to or after `b`.
pub(super) fn timecmp(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let a = parse_timestamp(&string_arg(&args, 0)?)?;
    let b = parse_timestamp(&string_arg(&args, 1)?)?;
    Ok(Value::int(
        match (a.unix, a.nanos).cmp(&(b.unix, b.nanos)) {
            std::cmp::Ordering::Less => -1,
            std::cmp::Ordering::Equal => 0,
            std::cmp::Ordering::Greater => 1,
        },
    ))
}

pub(super) fn timestamp(_: &FunctionContext<'_>, _: Vec<Value>) -> Res {
    Err("the current time is not available because job files are evaluated without a clock; pass it in as a variable instead".to_owned())
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// `formatdate(spec, timestamp)` with cty's letter mnemonics (`YYYY`, `MMM`,
/// `DD`, `EEE`, `hh`, `HH`, `aa`, `mm`, `ss`, `Z`...) and `'quoted'` literals.
pub(super) fn formatdate(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let spec = string_arg(&args, 0)?;
    let t = parse_timestamp(&string_arg(&args, 1)?)?;
    let f = fields(&t);
    let chars: Vec<char> = spec.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            if chars.get(i + 1) == Some(&'\'') {
                out.push('\'');
                i += 2;
                continue;
            }
            i += 1;
            loop {
                match (chars.get(i), chars.get(i + 1)) {
                    (None, _) => return Err("unterminated literal ' in the format".to_owned()),
                    (Some('\''), Some('\'')) => {
                        out.push('\'');
                        i += 2;
                    }
                    (Some('\''), _) => {
                        i += 1;
                        break;
                    }
                    (Some(&ch), _) => {
                        out.push(ch);
                        i += 1;
                    }
                }
            }
            continue;
        }
        if !c.is_ascii_alphabetic() {
            out.push(c);
            i += 1;
            continue;
        }
        let run = chars[i..].iter().take_while(|&&x| x == c).count();
        i += run;
        let token: String = std::iter::repeat_n(c, run).collect();
        let invalid = |hint: &str| format!("invalid date format verb {token:?}: {hint}");
        let two = |v: u32, hint: &str| match run {
            1 => Ok(v.to_string()),
            2 => Ok(format!("{v:02}")),
            _ => Err(invalid(hint)),
        };
        let piece = match c {
            'Y' => match run {
                2 => format!("{:02}", f.year.rem_euclid(100)),
                4 => year_text(f.year),
                _ => return Err(invalid("the year must be YY or YYYY")),
            },
            'M' => match run {
                1 | 2 => two(f.month, "")?,
                3 => MONTHS[f.month as usize - 1][..3].to_owned(),
                4 => MONTHS[f.month as usize - 1].to_owned(),
                _ => return Err(invalid("the month must be M, MM, MMM or MMMM")),
            },
            'D' => two(f.day, "the day of month must be D or DD")?,
            'E' => match run {
                3 => WEEKDAYS[f.weekday as usize][..3].to_owned(),
                4 => WEEKDAYS[f.weekday as usize].to_owned(),
                _ => return Err(invalid("the day of week must be EEE or EEEE")),
            },
            'h' => two(f.hour, "the 24-hour hour must be h or hh")?,
            'H' => two(
                if f.hour.is_multiple_of(12) {
                    12
                } else {
                    f.hour % 12
                },
                "the 12-hour hour must be H or HH",
            )?,
            'A' | 'a' if run == 2 => {
                let pm = f.hour >= 12;
                match (c, pm) {
                    ('A', false) => "AM",
                    ('A', true) => "PM",
                    (_, false) => "am",
                    (_, true) => "pm",
                }
                .to_owned()
            }
            'A' | 'a' => return Err(invalid(&format!("must be {c}{c}"))),
            'm' => two(f.minute, "the minute must be m or mm")?,
            's' => two(f.second, "the second must be s or ss")?,
            'Z' => match run {
                1 if t.offset == 0 => "Z".to_owned(),
                1 => offset_text(t.offset, true),
                3 if t.offset == 0 => "UTC".to_owned(),
                3 | 4 => offset_text(t.offset, false),
                5 => offset_text(t.offset, true),
                _ => return Err(invalid("the time zone must be Z, ZZZ, ZZZZ or ZZZZZ")),
            },
            _ => return Err(invalid("unknown verb; quote literal letters with '")),
        };
        out.push_str(&piece);
    }
    Ok(Value::String(out))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    #[test]
    fn calendar_math_round_trips() {
        for days in [-800_000i64, -1, 0, 1, 59, 365, 10_957, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    #[test]
    fn formatdate_verbs() {
        let ts = s("2018-01-04T23:12:01Z");
        let fd = |spec: &str| run("formatdate", vec![s(spec), ts.clone()]);
        assert_eq!(fd("DD MMM YYYY hh:mm ZZZ"), Ok(s("04 Jan 2018 23:12 UTC")));
        assert_eq!(
            fd("EEEE, DD-MMM-YY hh:mm:ss ZZZ"),
            Ok(s("Thursday, 04-Jan-18 23:12:01 UTC"))
        );
        assert_eq!(
            fd("EEE, DD MMM YYYY hh:mm:ss ZZZZ"),
            Ok(s("Thu, 04 Jan 2018 23:12:01 +0000"))
        );
        assert_eq!(fd("MMM D, YYYY"), Ok(s("Jan 4, 2018")));
        assert_eq!(fd("H:mm AA"), Ok(s("11:12 PM")));
        assert_eq!(fd("h 'o''clock' aa Z"), Ok(s("23 o'clock pm Z")));
        assert_eq!(fd("''"), Ok(s("'")));
        assert_eq!(
            run(
                "formatdate",
                vec![
                    s("YYYY-MM-DD'T'hh:mm:ssZ ZZZZZ"),
                    s("2020-02-29T01:02:03.5-08:30")
                ]
            ),
            Ok(s("2020-02-29T01:02:03-08:30 -08:30"))
        );
        fails(
            "formatdate",
            vec![s("YYY"), ts.clone()],
            "invalid date format verb \"YYY\"",
        );
        fails(
            "formatdate",
            vec![s("'abc"), ts.clone()],
            "unterminated literal",
        );
        fails("formatdate", vec![s("x"), ts], "unknown verb");
        fails(
            "formatdate",
            vec![s("YYYY"), s("2018-01-04")],
            "not a valid RFC 3339 timestamp",
        );
        fails(
            "formatdate",
            vec![s("YYYY"), s("2018-02-30T00:00:00Z")],
            "day is out of range",
        );
        fails(
            "formatdate",
            vec![s("YYYY"), s("2018-01-01T00:00:00")],
            "no UTC offset",
        );
    }

    #[test]
    fn timeadd_and_durations() {
        assert_eq!(
            run("timeadd", vec![s("2017-11-22T00:00:00Z"), s("10m")]),
            Ok(s("2017-11-22T00:10:00Z"))
        );
        assert_eq!(
            run("timeadd", vec![s("2017-11-22T00:00:00Z"), s("-1h30m")]),
            Ok(s("2017-11-21T22:30:00Z"))
        );
        assert_eq!(
            run("timeadd", vec![s("2017-11-22T00:00:00+01:00"), s("1.5h")]),
            Ok(s("2017-11-22T01:30:00+01:00"))
        );
        assert_eq!(
            run("timeadd", vec![s("2016-02-28T23:59:59.5Z"), s("500ms")]),
            Ok(s("2016-02-29T00:00:00Z"))
        );
        assert_eq!(parse_duration("1µs"), Ok(1_000));
        assert_eq!(parse_duration("0"), Ok(0));
        fails(
            "timeadd",
            vec![s("2017-11-22T00:00:00Z"), s("10")],
            "missing a unit",
        );
        fails(
            "timeadd",
            vec![s("2017-11-22T00:00:00Z"), s("1d")],
            "unknown unit \"d\"",
        );
        fails(
            "timeadd",
            vec![s("2017-11-22T00:00:00Z"), s("99999999999999999999h")],
            "not a valid duration",
        );
        fails(
            "timeadd",
            vec![s("2017-11-22"), s("1h")],
            "not a valid RFC 3339 timestamp",
        );
        fails(
            "timeadd",
            vec![s("9999-12-31T23:00:00Z"), s("2h")],
            "outside the years",
        );
    }

    #[test]
    fn timecmp_and_timestamp() {
        assert_eq!(
            run(
                "timecmp",
                vec![s("2017-11-22T00:00:00Z"), s("2017-11-22T01:00:00+01:00")]
            ),
            Ok(n(0))
        );
        assert_eq!(
            run(
                "timecmp",
                vec![s("2017-11-22T00:00:00Z"), s("2017-11-22T00:00:01Z")]
            ),
            Ok(n(-1))
        );
        fails(
            "timecmp",
            vec![s("x"), s("2017-11-22T00:00:01Z")],
            "not a valid RFC 3339",
        );
        fails("timestamp", vec![], "without a clock");
    }
}
