//! Go's `time.Time.Format` layouts (the reference time `Mon Jan 2 15:04:05 MST 2006`).

use chrono::{DateTime, Datelike, FixedOffset, Timelike};
use std::fmt::Write as _;

const LONG_MONTHS: [&str; 12] = [
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
const LONG_DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// The English name of `t`'s month, as Go's `time.Month.String` (`January` ...).
pub fn month_name(t: &DateTime<FixedOffset>) -> &'static str {
    LONG_MONTHS[t.month0() as usize]
}

/// The English name of `t`'s weekday, as Go's `time.Weekday.String` (`Sunday` ...).
pub fn weekday_name(t: &DateTime<FixedOffset>) -> &'static str {
    LONG_DAYS[t.weekday().num_days_from_monday() as usize]
}

/// `time.RFC3339Nano`, what Go's JSON encoding of a time uses.
pub const RFC3339_NANO: &str = "2006-01-02T15:04:05.999999999Z07:00";
/// The layout of Go's `Time.String()` (without the monotonic clock reading).
pub const GO_STRING: &str = "2006-01-02 15:04:05.999999999 -0700 MST";

enum Chunk {
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    PM,
    Pm,
    TzName,
    /// `Z07:00`-style: (use `Z` for UTC, with colon, with seconds, hours only)
    IsoTz {
        z: bool,
        colon: bool,
        seconds: bool,
        hours_only: bool,
    },
    /// `.000` (fixed) or `.999` (trailing zeros trimmed), with `.` or `,`.
    Frac {
        sep: char,
        digits: usize,
        trim: bool,
    },
}

// One match arm per layout element keeps Go's table visible in one place.
#[allow(clippy::too_many_lines)]
fn next_chunk(layout: &str) -> Option<(usize, Chunk, usize)> {
    let b = layout.as_bytes();
    let starts = |i: usize, s: &str| layout[i..].starts_with(s);
    for i in 0..b.len() {
        if !layout.is_char_boundary(i) {
            continue;
        }
        let found = match b[i] {
            b'J' if starts(i, "January") => Some((Chunk::LongMonth, 7)),
            b'J' if starts(i, "Jan") => Some((Chunk::Month, 3)),
            b'M' if starts(i, "Monday") => Some((Chunk::LongWeekDay, 6)),
            b'M' if starts(i, "Mon") => Some((Chunk::WeekDay, 3)),
            b'M' if starts(i, "MST") => Some((Chunk::TzName, 3)),
            b'0' if starts(i, "002") => Some((Chunk::ZeroYearDay, 3)),
            b'0' if i + 1 < b.len() && (b'1'..=b'6').contains(&b[i + 1]) => Some((
                match b[i + 1] {
                    b'1' => Chunk::ZeroMonth,
                    b'2' => Chunk::ZeroDay,
                    b'3' => Chunk::ZeroHour12,
                    b'4' => Chunk::ZeroMinute,
                    b'5' => Chunk::ZeroSecond,
                    _ => Chunk::Year,
                },
                2,
            )),
            b'1' if starts(i, "15") => Some((Chunk::Hour, 2)),
            b'1' => Some((Chunk::NumMonth, 1)),
            b'2' if starts(i, "2006") => Some((Chunk::LongYear, 4)),
            b'2' => Some((Chunk::Day, 1)),
            b'_' if starts(i, "_2006") => {
                // "_" followed by the year: the underscore is literal text.
                return Some((i + 1, Chunk::LongYear, 4));
            }
            b'_' if starts(i, "__2") => Some((Chunk::UnderYearDay, 3)),
            b'_' if starts(i, "_2") => Some((Chunk::UnderDay, 2)),
            b'3' => Some((Chunk::Hour12, 1)),
            b'4' => Some((Chunk::Minute, 1)),
            b'5' => Some((Chunk::Second, 1)),
            b'P' if starts(i, "PM") => Some((Chunk::PM, 2)),
            b'p' if starts(i, "pm") => Some((Chunk::Pm, 2)),
            b'-' | b'Z' => {
                let z = b[i] == b'Z';
                let rest = &layout[i + 1..];
                if rest.starts_with("07:00:00") {
                    Some((
                        Chunk::IsoTz {
                            z,
                            colon: true,
                            seconds: true,
                            hours_only: false,
                        },
                        9,
                    ))
                } else if rest.starts_with("070000") {
                    Some((
                        Chunk::IsoTz {
                            z,
                            colon: false,
                            seconds: true,
                            hours_only: false,
                        },
                        7,
                    ))
                } else if rest.starts_with("07:00") {
                    Some((
                        Chunk::IsoTz {
                            z,
                            colon: true,
                            seconds: false,
                            hours_only: false,
                        },
                        6,
                    ))
                } else if rest.starts_with("0700") {
                    Some((
                        Chunk::IsoTz {
                            z,
                            colon: false,
                            seconds: false,
                            hours_only: false,
                        },
                        5,
                    ))
                } else if rest.starts_with("07") {
                    Some((
                        Chunk::IsoTz {
                            z,
                            colon: false,
                            seconds: false,
                            hours_only: true,
                        },
                        3,
                    ))
                } else {
                    None
                }
            }
            c @ (b'.' | b',') if i + 1 < b.len() && (b[i + 1] == b'0' || b[i + 1] == b'9') => {
                let digit = b[i + 1];
                let mut j = i + 1;
                while j < b.len() && b[j] == digit {
                    j += 1;
                }
                if j < b.len() && b[j].is_ascii_digit() {
                    None
                } else {
                    Some((
                        Chunk::Frac {
                            sep: char::from(c),
                            digits: j - i - 1,
                            trim: digit == b'9',
                        },
                        j - i,
                    ))
                }
            }
            _ => None,
        };
        if let Some((chunk, len)) = found {
            return Some((i, chunk, len));
        }
    }
    None
}

/// Formats `t` with a Go layout string. `MST` prints `UTC` at offset zero, the local zone's
/// abbreviation from the zone database (`CEST`) when `t` is at the local zone's offset of
/// that moment, else the numeric offset (`+0530`), as Go does for a zone without a name.
// One arm per layout element, mirroring `next_chunk`.
#[allow(clippy::too_many_lines)]
pub fn format(t: &DateTime<FixedOffset>, layout: &str) -> String {
    let mut out = String::new();
    let mut rest = layout;
    while let Some((start, chunk, len)) = next_chunk(rest) {
        out.push_str(&rest[..start]);
        rest = &rest[start + len..];
        let hour12 = match t.hour() % 12 {
            0 => 12,
            h => h,
        };
        let offset = t.offset().local_minus_utc();
        match chunk {
            Chunk::LongMonth => out.push_str(LONG_MONTHS[t.month0() as usize]),
            Chunk::Month => out.push_str(&LONG_MONTHS[t.month0() as usize][..3]),
            Chunk::NumMonth => out.push_str(&t.month().to_string()),
            Chunk::ZeroMonth => {
                let _ = write!(out, "{:02}", t.month());
            }
            Chunk::LongWeekDay => {
                out.push_str(LONG_DAYS[t.weekday().num_days_from_monday() as usize]);
            }
            Chunk::WeekDay => {
                out.push_str(&LONG_DAYS[t.weekday().num_days_from_monday() as usize][..3]);
            }
            Chunk::Day => out.push_str(&t.day().to_string()),
            Chunk::UnderDay => {
                let _ = write!(out, "{:>2}", t.day());
            }
            Chunk::ZeroDay => {
                let _ = write!(out, "{:02}", t.day());
            }
            Chunk::UnderYearDay => {
                let _ = write!(out, "{:>3}", t.ordinal());
            }
            Chunk::ZeroYearDay => {
                let _ = write!(out, "{:03}", t.ordinal());
            }
            Chunk::Hour => {
                let _ = write!(out, "{:02}", t.hour());
            }
            Chunk::Hour12 => out.push_str(&hour12.to_string()),
            Chunk::ZeroHour12 => {
                let _ = write!(out, "{hour12:02}");
            }
            Chunk::Minute => out.push_str(&t.minute().to_string()),
            Chunk::ZeroMinute => {
                let _ = write!(out, "{:02}", t.minute());
            }
            Chunk::Second => out.push_str(&t.second().to_string()),
            Chunk::ZeroSecond => {
                let _ = write!(out, "{:02}", t.second());
            }
            Chunk::LongYear => {
                let _ = write!(out, "{:04}", t.year());
            }
            Chunk::Year => {
                let _ = write!(out, "{:02}", t.year().rem_euclid(100));
            }
            Chunk::PM => out.push_str(if t.hour() >= 12 { "PM" } else { "AM" }),
            Chunk::Pm => out.push_str(if t.hour() >= 12 { "pm" } else { "am" }),
            Chunk::TzName => {
                if offset == 0 {
                    out.push_str("UTC");
                } else if let Some(name) = crate::zone::abbreviation(t.timestamp(), offset) {
                    out.push_str(&name);
                } else {
                    // Without a zone database name Go prints the numeric offset.
                    let sign = if offset < 0 { '-' } else { '+' };
                    let abs = offset.abs();
                    let _ = write!(out, "{sign}{:02}{:02}", abs / 3600, abs / 60 % 60);
                }
            }
            Chunk::IsoTz {
                z,
                colon,
                seconds,
                hours_only,
            } => {
                if z && offset == 0 {
                    out.push('Z');
                } else {
                    let sign = if offset < 0 { '-' } else { '+' };
                    let abs = offset.abs();
                    out.push(sign);
                    let _ = write!(out, "{:02}", abs / 3600);
                    if !hours_only {
                        if colon {
                            out.push(':');
                        }
                        let _ = write!(out, "{:02}", abs / 60 % 60);
                    }
                    if seconds {
                        if colon {
                            out.push(':');
                        }
                        let _ = write!(out, "{:02}", abs % 60);
                    }
                }
            }
            Chunk::Frac { sep, digits, trim } => {
                let nanos = format!("{:09}", t.nanosecond() % 1_000_000_000);
                let mut frac = nanos[..digits.min(9)].to_owned();
                if trim {
                    frac = frac.trim_end_matches('0').to_owned();
                    if !frac.is_empty() {
                        out.push(sep);
                        out.push_str(&frac);
                    }
                } else {
                    out.push(sep);
                    out.push_str(&frac);
                }
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    #[test]
    fn reference_layouts() {
        let time = t("2024-03-05T07:08:09.120000000+02:00");
        assert_eq!(format(&time, "2006-01-02 15:04:05"), "2024-03-05 07:08:09");
        assert_eq!(format(&time, RFC3339_NANO), "2024-03-05T07:08:09.12+02:00");
        assert_eq!(
            format(&time, "Mon Jan _2 3:4:5 PM 06"),
            "Tue Mar  5 7:8:9 AM 24"
        );
        assert_eq!(
            format(&time, "Monday, January 2 -0700 MST"),
            "Tuesday, March 5 +0200 +0200"
        );
        assert_eq!(format(&time, "15:04:05.000"), "07:08:09.120");
        assert_eq!(format(&time, "002 __2"), "065  65");
        let utc = t("2024-12-31T23:59:59Z");
        assert_eq!(format(&utc, "Z07:00 MST 03pm"), "Z UTC 11pm");
        assert_eq!(format(&utc, RFC3339_NANO), "2024-12-31T23:59:59Z");
        assert_eq!(format(&utc, GO_STRING), "2024-12-31 23:59:59 +0000 UTC");
    }
}
