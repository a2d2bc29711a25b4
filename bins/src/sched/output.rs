//! How the remote commands print: Nomad's aligned tables and `key = value`
//! blocks, short ids, its two time formats, and colour only for terminals.
//!
//! Everything here is pure (the clock is read once, in [`now_unix_nanos`]),
//! so the layouts are unit-tested against the text Nomad prints.

use std::borrow::Borrow;
use std::io::IsTerminal;

use scheduler_core::model::timestamp::{format_rfc3339_nanos, parse_rfc3339_nanos};

/// How many characters of a UUID Nomad shows without `-verbose`.
pub const SHORT_ID_LENGTH: usize = 8;

/// What a missing value prints as, as in Nomad.
pub const NONE: &str = "<none>";

/// The id as shown: its first 8 characters, or all of it with `verbose`.
pub fn short_id(id: &str, verbose: bool) -> &str {
    if verbose {
        return id;
    }
    match id.char_indices().nth(SHORT_ID_LENGTH) {
        Some((end, _)) => &id[..end],
        None => id,
    }
}

/// `value`, or `<none>` when it is empty.
pub fn or_none(value: &str) -> String {
    if value.is_empty() {
        NONE.to_owned()
    } else {
        value.to_owned()
    }
}

/// A table the way Nomad's `formatList` prints it: a header row, every
/// column but the last padded to its widest cell, columns separated by two
/// spaces, no borders, no trailing spaces, and empty cells shown as
/// `<none>` (so columns stay awk-able). The result ends with no newline.
pub fn format_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let header: Vec<String> = header.iter().map(|cell| (*cell).to_owned()).collect();
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| row.iter().map(|cell| or_none(cell)).collect())
        .collect();
    let all_rows: Vec<&Vec<String>> = std::iter::once(&header).chain(&rows).collect();
    let columns = all_rows.iter().map(|row| row.len()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|column| {
            all_rows
                .iter()
                .filter_map(|row| row.get(column))
                .map(|cell| display_width(cell))
                .max()
                .unwrap_or(0)
        })
        .collect();
    all_rows
        .iter()
        .map(|row| format_row(row, &widths, "  "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A table of objects, one row each, declared column by column: every
/// header stands beside the cell it heads, so a column only some layouts
/// show (`-verbose`, a Namespace column) is added or left out in one
/// place and header and rows cannot drift apart. Printed by
/// [`format_table`].
pub struct Columns<'a, T> {
    columns: Vec<Column<'a, T>>,
}

/// A header, and how to show one object's cell under it.
type Column<'a, T> = (&'static str, Box<dyn Fn(&T) -> String + 'a>);

impl<T> Default for Columns<'_, T> {
    fn default() -> Self {
        Columns {
            columns: Vec::new(),
        }
    }
}

impl<'a, T> Columns<'a, T> {
    /// No columns yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a column.
    pub fn column(self, header: &'static str, cell: impl Fn(&T) -> String + 'a) -> Self {
        self.column_if(true, header, cell)
    }

    /// Adds a column when `shown`.
    pub fn column_if(
        mut self,
        shown: bool,
        header: &'static str,
        cell: impl Fn(&T) -> String + 'a,
    ) -> Self {
        if shown {
            self.columns.push((header, Box::new(cell)));
        }
        self
    }

    /// The table of `items` (the objects, or references to them), as
    /// [`format_table`] prints it.
    pub fn format<Item: Borrow<T>>(&self, items: impl IntoIterator<Item = Item>) -> String {
        let header: Vec<&str> = self.columns.iter().map(|(header, _)| *header).collect();
        let rows: Vec<Vec<String>> = items
            .into_iter()
            .map(|item| {
                let item = item.borrow();
                self.columns.iter().map(|(_, cell)| cell(item)).collect()
            })
            .collect();
        format_table(&header, &rows)
    }
}

/// A `key = value` block the way Nomad's `formatKV` prints it: keys padded
/// to the longest, then ` = ` and the value (`<none>` when empty). Ends
/// with no newline.
pub fn format_kv(pairs: &[(&str, String)]) -> String {
    let key_width = pairs
        .iter()
        .map(|(key, _)| display_width(key))
        .max()
        .unwrap_or(0);
    pairs
        .iter()
        .map(|(key, value)| {
            let padding = " ".repeat(key_width - display_width(key));
            format!("{key}{padding} = {}", or_none(value))
                .trim_end()
                .to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn format_row(row: &[String], widths: &[usize], glue: &str) -> String {
    let mut line = String::new();
    for (column, cell) in row.iter().enumerate() {
        if column > 0 {
            line.push_str(glue);
        }
        line.push_str(cell);
        if column + 1 < row.len() {
            let width = widths.get(column).copied().unwrap_or(0);
            line.push_str(&" ".repeat(width.saturating_sub(display_width(cell))));
        }
    }
    line.trim_end().to_owned()
}

/// Columns a cell takes on a terminal; cells are ids, names and numbers, so
/// counting characters is close enough (no wide-character table needed).
fn display_width(text: &str) -> usize {
    text.chars().count()
}

/// Indents every non-empty line of `text` by `prefix`.
pub fn indent(text: &str, prefix: &str) -> String {
    text.lines()
        .map(|line| {
            if line.is_empty() {
                String::new()
            } else {
                format!("{prefix}{line}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A date as Nomad prints dates: `2026-12-05T10:00:00Z` (UTC, whole
/// seconds); "" for the zero time, as Nomad's `formatTime` does.
pub fn format_time(unix_nanos: i64) -> String {
    if unix_nanos < 1_000_000_000 {
        return String::new();
    }
    let whole_seconds = unix_nanos - unix_nanos.rem_euclid(1_000_000_000);
    format_rfc3339_nanos(whole_seconds)
}

/// An RFC 3339 time from the API, as [`format_time`] prints it; `None`
/// when it is unset (empty, or Go's zero time).
pub fn format_rfc3339(text: &str) -> Option<String> {
    parse_rfc3339_nanos(text)
        .filter(|nanos| *nanos >= 1_000_000_000)
        .map(format_time)
}

/// How long ago (or from now) `then` is, Nomad's `prettyTimeDiff`: the two
/// largest non-zero units of s, m, h, d (30-day months), mo and y, then
/// " ago" or " from now" ("2m ago", "1h5m ago", "0s ago"); "" for the zero
/// time.
pub fn pretty_time_diff(then_nanos: i64, now_nanos: i64) -> String {
    if then_nanos == 0 {
        return String::new();
    }
    let round = |nanos: i64| (nanos + 500_000_000).div_euclid(1_000_000_000);
    let (then, now) = (round(then_nanos), round(now_nanos));
    let (seconds, suffix) = if now >= then {
        (now - then, " ago")
    } else {
        (then - now, " from now")
    };
    let mut rest = seconds.unsigned_abs();
    // Smallest unit first, as the remainders come out.
    let mut parts: Vec<String> = Vec::new();
    for (unit, size) in [("s", 60), ("m", 60), ("h", 24), ("d", 30), ("mo", 12)] {
        let amount = rest % size;
        if amount > 0 {
            parts.push(format!("{amount}{unit}"));
        }
        rest /= size;
        if rest == 0 {
            break;
        }
    }
    if rest > 0 {
        parts.push(format!("{rest}y"));
    }
    if parts.is_empty() {
        return format!("0s{suffix}");
    }
    let largest: Vec<String> = parts.into_iter().rev().take(2).collect();
    format!("{}{suffix}", largest.concat())
}

/// A time shown either as a date (`verbose`) or relative to now, as Nomad's
/// allocation tables do.
pub fn format_time_or_relative(unix_nanos: i64, now_nanos: i64, verbose: bool) -> String {
    if verbose {
        format_time(unix_nanos)
    } else {
        pretty_time_diff(unix_nanos, now_nanos)
    }
}

/// The wall clock, in Unix nanoseconds: the one place the CLI reads it
/// (for "2m ago" and the monitor's timestamps).
#[allow(clippy::disallowed_methods)]
pub fn now_unix_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_nanos()).unwrap_or(i64::MAX)
        })
}

/// Bytes in Nomad's `humanize.IBytes` style: "6.3 MiB", "256 MiB", "512 B".
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value < 10.0 {
        let text = format!("{value:.1}");
        let text = text.strip_suffix(".0").unwrap_or(&text);
        format!("{text} {}", UNITS[unit])
    } else {
        format!("{value:.0} {}", UNITS[unit])
    }
}

/// Colour and emphasis, applied only when stdout is a terminal and the
/// output is not JSON.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    colour: bool,
}

impl Style {
    /// Colour when stdout is a terminal and `json` is off.
    pub fn for_stdout(json: bool) -> Style {
        Style {
            colour: !json && std::io::stdout().is_terminal(),
        }
    }

    /// No colour at all.
    #[cfg(test)]
    pub fn plain() -> Style {
        Style { colour: false }
    }

    fn paint(self, code: &str, text: &str) -> String {
        if self.colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    /// Section titles ("Allocations", "Summary").
    pub fn bold(self, text: &str) -> String {
        self.paint("1", text)
    }

    /// Success.
    pub fn green(self, text: &str) -> String {
        self.paint("32", text)
    }

    /// Warnings.
    pub fn yellow(self, text: &str) -> String {
        self.paint("33", text)
    }

    /// Failures.
    pub fn red(self, text: &str) -> String {
        self.paint("31", text)
    }
}

/// `println!` for command output that ends the process quietly when
/// stdout is closed (`sched job status | head -1`) instead of panicking
/// as `println!` does.
macro_rules! say {
    () => {
        $crate::output::write_line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::output::write_line(format_args!($($arg)*))
    };
}
pub(crate) use say;

/// Writes one line to stdout; a closed stdout ends the process with
/// status 0, as there is no one left to tell.
pub fn write_line(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "{line}")
        .and_then(|()| stdout.flush())
        .is_err()
    {
        std::process::exit(0);
    }
}

/// Prints a JSON answer pretty, as `-json` does.
pub fn print_json(value: &serde_json::Value) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => say!("{text}"),
        // A `Value` always encodes; keep the raw form if it somehow does not.
        Err(_) => say!("{value}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NANOS: i64 = 1_000_000_000;

    #[test]
    fn ids_are_cut_to_eight_characters_unless_verbose() {
        let id = "0a9b2cfb-1111-2222-3333-444455556666";
        assert_eq!(short_id(id, false), "0a9b2cfb");
        assert_eq!(short_id(id, true), id);
        assert_eq!(short_id("abc", false), "abc");
        assert_eq!(short_id("", false), "");
    }

    #[test]
    fn tables_are_aligned_with_two_spaces_and_no_trailing_blanks() {
        let table = format_table(
            &["ID", "Type", "Priority", "Status"],
            &[
                vec![
                    "example".into(),
                    "service".into(),
                    "50".into(),
                    "running".into(),
                ],
                vec!["a".into(), "batch".into(), "100".into(), "".into()],
            ],
        );
        assert_eq!(
            table,
            "ID       Type     Priority  Status\n\
             example  service  50        running\n\
             a        batch    100       <none>"
        );
    }

    #[test]
    fn columns_left_out_drop_their_header_and_their_cells() {
        let columns = |verbose: bool| {
            Columns::<(&str, u32)>::new()
                .column("Name", |(name, _)| (*name).to_owned())
                .column_if(verbose, "Size", |(_, size)| size.to_string())
                .column("Kind", |_| String::new())
        };
        let items = [("a", 1), ("bb", 22)];
        assert_eq!(
            columns(true).format(items),
            "Name  Size  Kind\na     1     <none>\nbb    22    <none>"
        );
        assert_eq!(
            columns(false).format(items),
            "Name  Kind\na     <none>\nbb    <none>"
        );
    }

    #[test]
    fn key_value_blocks_align_the_equals_signs() {
        let block = format_kv(&[
            ("ID", "example".to_owned()),
            ("Submit Date", "2026-12-05T10:00:00Z".to_owned()),
            ("Empty", String::new()),
        ]);
        assert_eq!(
            block,
            "ID          = example\nSubmit Date = 2026-12-05T10:00:00Z\nEmpty       = <none>"
        );
    }

    #[test]
    fn dates_are_utc_whole_seconds_and_zero_is_blank() {
        let at = 1_796_464_800 * NANOS + 123_456_789;
        assert_eq!(format_time(at), "2026-12-05T10:00:00Z");
        assert_eq!(format_time(0), "");
        assert_eq!(
            format_rfc3339("2026-12-05T10:00:00.5+00:00").as_deref(),
            Some("2026-12-05T10:00:00Z")
        );
        assert_eq!(format_rfc3339("0001-01-01T00:00:00Z"), None);
        assert_eq!(format_rfc3339(""), None);
    }

    #[test]
    fn relative_times_keep_the_two_largest_units() {
        let now = 1_796_464_800 * NANOS;
        assert_eq!(pretty_time_diff(now - 120 * NANOS, now), "2m ago");
        assert_eq!(pretty_time_diff(now - 3_905 * NANOS, now), "1h5m ago");
        assert_eq!(pretty_time_diff(now - 10 * NANOS, now), "10s ago");
        assert_eq!(pretty_time_diff(now - 200_000_000, now), "0s ago");
        assert_eq!(pretty_time_diff(now + 90 * NANOS, now), "1m30s from now");
        assert_eq!(
            pretty_time_diff(now - (400 * 86_400 + 3 * 3600) * NANOS, now),
            "1y1mo ago"
        );
        assert_eq!(pretty_time_diff(0, now), "");
    }

    #[test]
    fn bytes_are_humanised_in_binary_units() {
        assert_eq!(format_bytes(512), "512 B");
        assert_eq!(format_bytes(256 * 1024 * 1024), "256 MiB");
        assert_eq!(format_bytes(6_606_028), "6.3 MiB");
        assert_eq!(format_bytes(1024), "1 KiB");
    }

    #[test]
    fn plain_style_adds_no_escapes() {
        let style = Style::plain();
        assert_eq!(style.bold("Summary"), "Summary");
        let coloured = Style { colour: true };
        assert_eq!(coloured.green("ok"), "\x1b[32mok\x1b[0m");
    }

    #[test]
    fn indent_skips_blank_lines() {
        assert_eq!(indent("a\n\nb", "  "), "  a\n\n  b");
    }
}
