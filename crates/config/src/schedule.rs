//! When scheduled sessions run: `--interval` seconds or a `--schedule` cron spec, with the
//! syntax of robfig/cron v1 that the original used.
//!
//! Spec format (the gotchas are the original's, kept on purpose):
//!
//! - **Six fields, seconds first**: `sec min hour day-of-month month day-of-week`. The
//!   day-of-week field is optional, so five fields mean `sec min hour dom month`:
//!   `0 4 * * *` is "second 0 of minute 4 of every hour", not "04:00 every day".
//! - Each field is a comma list of `*`, `?` (same as `*`), `N`, `N-M`, with an optional
//!   `/step`; `N/step` means `N-max/step`. Months take `jan`..`dec`, days of week `sun`..`sat`
//!   (0 = Sunday, 6 = Saturday), case-insensitive.
//! - When both day fields are restricted (neither starts with `*` or `?`), a day matches if
//!   **either** matches, as in Vixie cron; otherwise both must match.
//! - Descriptors: `@yearly` (`@annually`), `@monthly`, `@weekly`, `@daily` (`@midnight`),
//!   `@hourly`, and `@every <duration>` (Go syntax; under a second becomes one second,
//!   fractions of a second are dropped).
//! - Times are in the local time zone (`TZ`).
//!
//! The fields are parsed here with those rules and handed, as explicit value lists, to the
//! maintained `cron` crate, which computes the next times (its own syntax numbers weekdays
//! 1-7 and always requires both day fields to match, hence the translation).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, TimeZone};

use crate::duration::parse_go_duration;

/// A schedule spec that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid schedule {spec:?}: {reason}")]
pub struct ScheduleError {
    /// The spec as given.
    pub spec: String,
    /// What is wrong with it.
    pub reason: String,
}

/// A parsed schedule.
#[derive(Clone)]
pub struct Schedule {
    spec: String,
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    /// `@every`: a fixed delay, whole seconds.
    Every(Duration),
    /// A cron spec; two schedules when the day fields are OR-ed, the earliest next time wins.
    Cron(Vec<cron::Schedule>),
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Schedule").field(&self.spec).finish()
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.spec)
    }
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Self) -> bool {
        self.spec == other.spec
    }
}

impl Schedule {
    /// `@every <seconds>s`, what `--interval` turns into.
    pub fn from_interval(seconds: u64) -> Self {
        Self {
            spec: format!("@every {seconds}s"),
            kind: Kind::Every(Duration::from_secs(seconds.max(1))),
        }
    }

    /// Parses a robfig/cron v1 spec (see the module docs).
    pub fn parse(spec: &str) -> Result<Self, ScheduleError> {
        let error = |reason: String| ScheduleError {
            spec: spec.to_owned(),
            reason,
        };
        if spec.is_empty() {
            return Err(error("empty spec".to_owned()));
        }
        if spec.starts_with('@') {
            return parse_descriptor(spec).map_err(error);
        }
        let fields: Vec<&str> = spec.split_whitespace().collect();
        if !(5..=6).contains(&fields.len()) {
            return Err(error(format!(
                "expected 5 to 6 fields (sec min hour day-of-month month [day-of-week]), found {}",
                fields.len()
            )));
        }
        let mut parsed = Vec::with_capacity(6);
        for (i, bounds) in FIELDS.iter().enumerate() {
            let text = fields.get(i).copied().unwrap_or("*");
            parsed.push(parse_field(text, bounds).map_err(error)?);
        }
        let schedules = to_cron_schedules(&parsed).map_err(error)?;
        Ok(Self {
            spec: spec.to_owned(),
            kind: Kind::Cron(schedules),
        })
    }

    /// The spec as written (or `@every Ns` for an interval).
    pub fn spec(&self) -> &str {
        &self.spec
    }

    /// The first activation strictly after `after`, always on a whole second; `None` when the
    /// spec never fires again (e.g. February 30th).
    pub fn next_after<Tz: TimeZone>(&self, after: &DateTime<Tz>) -> Option<DateTime<Tz>> {
        match &self.kind {
            Kind::Every(delay) => {
                // robfig: t + delay - t.nanoseconds, so activations land on whole seconds.
                let nanos = after.timestamp_subsec_nanos();
                let delay = chrono::Duration::from_std(*delay).ok()?;
                after
                    .clone()
                    .checked_add_signed(delay - chrono::Duration::nanoseconds(i64::from(nanos)))
            }
            Kind::Cron(schedules) => schedules.iter().filter_map(|s| s.after(after).next()).min(),
        }
    }
}

struct Bounds {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [(&'static str, u32)],
}

const MONTHS: &[(&str, u32)] = &[
    ("jan", 1),
    ("feb", 2),
    ("mar", 3),
    ("apr", 4),
    ("may", 5),
    ("jun", 6),
    ("jul", 7),
    ("aug", 8),
    ("sep", 9),
    ("oct", 10),
    ("nov", 11),
    ("dec", 12),
];

const WEEKDAYS: &[(&str, u32)] = &[
    ("sun", 0),
    ("mon", 1),
    ("tue", 2),
    ("wed", 3),
    ("thu", 4),
    ("fri", 5),
    ("sat", 6),
];

const FIELDS: [Bounds; 6] = [
    Bounds {
        name: "seconds",
        min: 0,
        max: 59,
        names: &[],
    },
    Bounds {
        name: "minutes",
        min: 0,
        max: 59,
        names: &[],
    },
    Bounds {
        name: "hours",
        min: 0,
        max: 23,
        names: &[],
    },
    Bounds {
        name: "day-of-month",
        min: 1,
        max: 31,
        names: &[],
    },
    Bounds {
        name: "month",
        min: 1,
        max: 12,
        names: MONTHS,
    },
    Bounds {
        name: "day-of-week",
        min: 0,
        max: 6,
        names: WEEKDAYS,
    },
];

/// One field: the set of values as bits, and whether a `*`/`?` appeared in it.
#[derive(Debug, Clone, Copy)]
struct Field {
    bits: u64,
    star: bool,
}

fn parse_field(text: &str, bounds: &Bounds) -> Result<Field, String> {
    let mut field = Field {
        bits: 0,
        star: false,
    };
    for expr in text.split(',').filter(|e| !e.is_empty()) {
        let (range, step) = match expr.split('/').collect::<Vec<_>>()[..] {
            [range] => (range, None),
            [range, step] => (range, Some(step)),
            _ => return Err(format!("too many slashes in {:?} ({})", expr, bounds.name)),
        };
        let parts: Vec<&str> = range.split('-').collect();
        let (start, mut end) = if parts[0] == "*" || parts[0] == "?" {
            field.star = true;
            (bounds.min, bounds.max)
        } else {
            let start = parse_value(parts[0], bounds, expr)?;
            match parts[..] {
                [_] => (start, start),
                [_, high] => (start, parse_value(high, bounds, expr)?),
                _ => return Err(format!("too many hyphens in {:?} ({})", expr, bounds.name)),
            }
        };
        let step = match step {
            None => 1,
            Some(step) => {
                // `N/step` means `N-max/step`.
                if parts.len() == 1 && !field.star {
                    end = bounds.max;
                }
                let step: u32 = step.parse().map_err(|_| {
                    format!(
                        "step {:?} in {:?} is not a number ({})",
                        step, expr, bounds.name
                    )
                })?;
                if step == 0 {
                    return Err(format!(
                        "step of {:?} should be a positive number ({})",
                        expr, bounds.name
                    ));
                }
                step
            }
        };
        if start < bounds.min {
            return Err(format!(
                "{} in {:?} is below the minimum {} ({})",
                start, expr, bounds.min, bounds.name
            ));
        }
        if end > bounds.max {
            return Err(format!(
                "{} in {:?} is above the maximum {} ({})",
                end, expr, bounds.max, bounds.name
            ));
        }
        if start > end {
            return Err(format!(
                "range {:?} starts after it ends ({})",
                expr, bounds.name
            ));
        }
        let mut value = start;
        while value <= end {
            field.bits |= 1 << value;
            value += step;
        }
    }
    if field.bits == 0 {
        return Err(format!("empty {} field {:?}", bounds.name, text));
    }
    Ok(field)
}

fn parse_value(text: &str, bounds: &Bounds, expr: &str) -> Result<u32, String> {
    let lower = text.to_ascii_lowercase();
    if let Some((_, value)) = bounds.names.iter().find(|(name, _)| *name == lower) {
        return Ok(*value);
    }
    text.parse::<u32>().map_err(|_| {
        let names = if bounds.names.is_empty() {
            String::new()
        } else {
            let list: Vec<&str> = bounds.names.iter().map(|(n, _)| *n).collect();
            format!(" or one of {}", list.join(", "))
        };
        format!(
            "{:?} in {:?} is not a number from {} to {}{} ({})",
            text, expr, bounds.min, bounds.max, names, bounds.name
        )
    })
}

/// Renders a field for the `cron` crate: `*` when every value is in, else an explicit list.
fn render(field: Field, bounds: &Bounds, weekday_names: bool) -> String {
    let all = (bounds.min..=bounds.max).all(|v| field.bits & (1 << v) != 0);
    if all {
        return "*".to_owned();
    }
    let values = (bounds.min..=bounds.max).filter(|v| field.bits & (1 << v) != 0);
    let rendered: Vec<String> = if weekday_names {
        values
            .map(|v| WEEKDAYS[v as usize].0.to_ascii_uppercase())
            .collect()
    } else {
        values.map(|v| v.to_string()).collect()
    };
    rendered.join(",")
}

fn to_cron_schedules(fields: &[Field]) -> Result<Vec<cron::Schedule>, String> {
    let [sec, min, hour, dom, month, dow] = fields else {
        unreachable!("six fields are always parsed");
    };
    let prefix = format!(
        "{} {} {}",
        render(*sec, &FIELDS[0], false),
        render(*min, &FIELDS[1], false),
        render(*hour, &FIELDS[2], false)
    );
    let month = render(*month, &FIELDS[4], false);
    let day_of_month = render(*dom, &FIELDS[3], false);
    let weekdays = render(*dow, &FIELDS[5], true);
    let build = |dom: &str, dow: &str| {
        cron::Schedule::from_str(&format!("{prefix} {dom} {month} {dow}"))
            .map_err(|e| format!("cannot build the schedule: {e}"))
    };
    if dom.star || dow.star {
        Ok(vec![build(&day_of_month, &weekdays)?])
    } else {
        // Both restricted: a day matches when either field matches.
        Ok(vec![build(&day_of_month, "*")?, build("*", &weekdays)?])
    }
}

fn parse_descriptor(spec: &str) -> Result<Schedule, String> {
    let fixed = match spec {
        "@yearly" | "@annually" => Some("0 0 0 1 1 *"),
        "@monthly" => Some("0 0 0 1 * *"),
        "@weekly" => Some("0 0 0 * * 0"),
        "@daily" | "@midnight" => Some("0 0 0 * * *"),
        "@hourly" => Some("0 0 * * * *"),
        _ => None,
    };
    if let Some(fields) = fixed {
        let parsed = Schedule::parse(fields).map_err(|e| e.reason)?;
        return Ok(Schedule {
            spec: spec.to_owned(),
            kind: parsed.kind,
        });
    }
    if let Some(duration) = spec.strip_prefix("@every ") {
        let parsed = parse_go_duration(duration.trim())
            .map_err(|e| format!("cannot parse the duration of @every: {e}"))?;
        if parsed.negative {
            return Err("the duration of @every must not be negative".to_owned());
        }
        // Under a second becomes one second; fractions of a second are dropped.
        let secs = parsed.magnitude.as_secs().max(1);
        return Ok(Schedule {
            spec: spec.to_owned(),
            kind: Kind::Every(Duration::from_secs(secs)),
        });
    }
    Err("unknown descriptor; expected @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly or @every <duration>".to_owned())
}

#[cfg(test)]
mod tests {
    use chrono::{FixedOffset, NaiveDate, Utc};

    use super::*;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        NaiveDate::from_ymd_opt(y, mo, d)
            .unwrap()
            .and_hms_opt(h, mi, s)
            .unwrap()
            .and_utc()
    }

    fn next(spec: &str, after: DateTime<Utc>) -> DateTime<Utc> {
        Schedule::parse(spec).unwrap().next_after(&after).unwrap()
    }

    #[test]
    fn seconds_come_first_and_five_fields_drop_the_weekday() {
        // The famous gotcha: this is minute 4 of every hour, not 04:00.
        assert_eq!(
            next("0 4 * * *", at(2024, 5, 1, 10, 0, 0)),
            at(2024, 5, 1, 10, 4, 0)
        );
        assert_eq!(
            next("0 0 4 * * *", at(2024, 5, 1, 10, 0, 0)),
            at(2024, 5, 2, 4, 0, 0)
        );
        assert_eq!(
            next("*/15 * * * * *", at(2024, 5, 1, 10, 0, 7)),
            at(2024, 5, 1, 10, 0, 15)
        );
    }

    #[test]
    fn next_is_strictly_after() {
        assert_eq!(
            next("0 0 12 * * *", at(2024, 5, 1, 12, 0, 0)),
            at(2024, 5, 2, 12, 0, 0)
        );
        let half_past = at(2024, 5, 1, 11, 59, 59) + chrono::Duration::milliseconds(500);
        assert_eq!(next("0 0 12 * * *", half_past), at(2024, 5, 1, 12, 0, 0));
    }

    #[test]
    fn weekdays_count_from_sunday_zero_and_take_names() {
        // 2024-05-01 is a Wednesday.
        let wed = at(2024, 5, 1, 0, 0, 0);
        assert_eq!(next("0 0 0 * * 0", wed), at(2024, 5, 5, 0, 0, 0));
        assert_eq!(next("0 0 0 * * SUN", wed), at(2024, 5, 5, 0, 0, 0));
        assert_eq!(next("0 0 0 * * 6", wed), at(2024, 5, 4, 0, 0, 0));
        assert_eq!(next("0 0 0 * * mon-fri", wed), at(2024, 5, 2, 0, 0, 0));
        assert_eq!(next("0 0 0 * * 1-5/2", wed), at(2024, 5, 3, 0, 0, 0));
        assert_eq!(next("0 0 0 ? * 4", wed), at(2024, 5, 2, 0, 0, 0));
    }

    #[test]
    fn restricted_day_fields_are_ored_like_vixie_cron() {
        // Day 15 or any Sunday, whichever comes first: Sunday the 5th.
        let wed = at(2024, 5, 1, 0, 0, 0);
        assert_eq!(next("0 0 0 15 * 0", wed), at(2024, 5, 5, 0, 0, 0));
        // A star in either makes it an AND; `*/1` counts as a star, so only Sundays.
        assert_eq!(next("0 0 0 */1 * 0", wed), at(2024, 5, 5, 0, 0, 0));
        // With the weekday left open, only the 15th.
        assert_eq!(next("0 0 0 15 * *", wed), at(2024, 5, 15, 0, 0, 0));
    }

    #[test]
    fn months_names_and_steps() {
        let start = at(2024, 5, 1, 0, 0, 0);
        assert_eq!(next("0 0 0 1 jan *", start), at(2025, 1, 1, 0, 0, 0));
        assert_eq!(next("0 0 0 1 JUL-DEC *", start), at(2024, 7, 1, 0, 0, 0));
        assert_eq!(next("0 30/10 * * * *", start), at(2024, 5, 1, 0, 30, 0));
        assert_eq!(
            next("0 30/10 * * * *", at(2024, 5, 1, 0, 55, 0)),
            at(2024, 5, 1, 1, 30, 0)
        );
    }

    #[test]
    fn descriptors() {
        let start = at(2024, 5, 1, 10, 20, 30);
        assert_eq!(next("@hourly", start), at(2024, 5, 1, 11, 0, 0));
        assert_eq!(next("@daily", start), at(2024, 5, 2, 0, 0, 0));
        assert_eq!(next("@midnight", start), at(2024, 5, 2, 0, 0, 0));
        assert_eq!(next("@weekly", start), at(2024, 5, 5, 0, 0, 0));
        assert_eq!(next("@monthly", start), at(2024, 6, 1, 0, 0, 0));
        assert_eq!(next("@yearly", start), at(2025, 1, 1, 0, 0, 0));
        assert_eq!(next("@annually", start), at(2025, 1, 1, 0, 0, 0));
    }

    #[test]
    fn every_lands_on_whole_seconds_and_rounds_up_to_one_second() {
        let start = at(2024, 5, 1, 10, 0, 0) + chrono::Duration::milliseconds(700);
        assert_eq!(next("@every 1h30m", start), at(2024, 5, 1, 11, 30, 0));
        assert_eq!(next("@every 90s", start), at(2024, 5, 1, 10, 1, 30));
        assert_eq!(next("@every 100ms", start), at(2024, 5, 1, 10, 0, 1));
        assert_eq!(next("@every 2.5s", start), at(2024, 5, 1, 10, 0, 2));
        let interval = Schedule::from_interval(86400);
        assert_eq!(interval.spec(), "@every 86400s");
        assert_eq!(
            interval.next_after(&start).unwrap(),
            at(2024, 5, 2, 10, 0, 0)
        );
    }

    #[test]
    fn local_time_zone_is_respected() {
        let tz = FixedOffset::east_opt(2 * 3600).unwrap();
        let start = tz.with_ymd_and_hms(2024, 5, 1, 3, 0, 0).unwrap();
        let next = Schedule::parse("0 0 4 * * *")
            .unwrap()
            .next_after(&start)
            .unwrap();
        assert_eq!(next, tz.with_ymd_and_hms(2024, 5, 1, 4, 0, 0).unwrap());
        assert_eq!(next.with_timezone(&Utc), at(2024, 5, 1, 2, 0, 0));
    }

    #[test]
    fn errors_name_the_spec_and_the_problem() {
        let cases = [
            ("", "empty spec"),
            ("* * * *", "expected 5 to 6 fields"),
            ("* * * * * * *", "expected 5 to 6 fields"),
            ("60 * * * * *", "above the maximum 59 (seconds)"),
            ("0 0 24 * * *", "above the maximum 23 (hours)"),
            ("0 0 0 0 * *", "below the minimum 1 (day-of-month)"),
            ("0 0 0 * * 7", "above the maximum 6 (day-of-week)"),
            ("0 0 0 * foo *", "not a number from 1 to 12 or one of jan"),
            ("0 0 0 * * L", "day-of-week"),
            ("5-1 * * * * *", "starts after it ends"),
            ("*/0 * * * * *", "positive number"),
            ("1/2/3 * * * * *", "too many slashes"),
            ("@Daily", "unknown descriptor"),
            ("@every", "unknown descriptor"),
            ("@every soon", "cannot parse the duration"),
            ("@every -5s", "must not be negative"),
        ];
        for (spec, want) in cases {
            let err = Schedule::parse(spec).unwrap_err().to_string();
            assert!(err.contains(want), "{spec:?}: {err}");
            assert!(err.contains(&format!("{spec:?}")), "{spec:?}: {err}");
        }
    }

    #[test]
    fn impossible_dates_never_fire() {
        let schedule = Schedule::parse("0 0 0 30 2 *").unwrap();
        assert_eq!(schedule.next_after(&at(2024, 1, 1, 0, 0, 0)), None);
    }
}
