//! Go-style durations (`10s`, `1h30m`, `1.5h`, `250ms`), as used by `--stop-timeout` and
//! `@every <duration>` schedules.

use std::time::Duration;

pub use watchtower_actions::format_go_duration;

/// Why a duration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Nothing to parse.
    #[error("empty duration")]
    Empty,
    /// A negative duration where none is allowed; carries the input.
    #[error("negative duration {0:?}")]
    Negative(String),
    /// Not in Go's duration syntax.
    #[error(
        "invalid duration {0:?}: expected a number with a unit (ns, us, ms, s, m, h), e.g. 10s or 1h30m"
    )]
    Invalid(String),
    /// Bigger than this program can represent.
    #[error("duration {0:?} is too large")]
    Overflow(String),
}

/// The sign and magnitude of a parsed duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedDuration {
    /// True for a leading `-` on a non-zero value.
    pub negative: bool,
    /// The magnitude.
    pub magnitude: Duration,
}

/// Parses Go's `time.ParseDuration` syntax: an optional sign, then one or more
/// `<decimal number><unit>` pairs. `0` alone is allowed without a unit.
pub fn parse_go_duration(input: &str) -> Result<SignedDuration, DurationError> {
    let invalid = || DurationError::Invalid(input.to_owned());
    if input.is_empty() {
        return Err(DurationError::Empty);
    }
    let (negative, mut rest) = match input.as_bytes()[0] {
        b'-' => (true, &input[1..]),
        b'+' => (false, &input[1..]),
        _ => (false, input),
    };
    if rest == "0" {
        return Ok(SignedDuration {
            negative: false,
            magnitude: Duration::ZERO,
        });
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total_nanos: u128 = 0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        let (number, tail) = rest.split_at(number_len);
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let unit_nanos: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(invalid()),
        };
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
            return Err(invalid());
        }
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| invalid())?
        };
        let mut nanos = whole
            .checked_mul(unit_nanos)
            .ok_or_else(|| DurationError::Overflow(input.to_owned()))?;
        // The fraction contributes digit by digit; Go truncates below a nanosecond too.
        let mut scale = unit_nanos;
        for digit in fraction.bytes() {
            scale /= 10;
            nanos += u128::from(digit - b'0') * scale;
        }
        total_nanos = total_nanos
            .checked_add(nanos)
            .ok_or_else(|| DurationError::Overflow(input.to_owned()))?;
        rest = tail;
    }
    let secs = u64::try_from(total_nanos / 1_000_000_000)
        .map_err(|_| DurationError::Overflow(input.to_owned()))?;
    let sub = u32::try_from(total_nanos % 1_000_000_000).expect("below one second");
    let magnitude = Duration::new(secs, sub);
    Ok(SignedDuration {
        negative: negative && !magnitude.is_zero(),
        magnitude,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Duration {
        let d = parse_go_duration(s).unwrap();
        assert!(!d.negative, "{s}");
        d.magnitude
    }

    #[test]
    fn parses_go_syntax() {
        assert_eq!(ok("10s"), Duration::from_secs(10));
        assert_eq!(ok("0"), Duration::ZERO);
        assert_eq!(ok("1h30m"), Duration::from_secs(5400));
        assert_eq!(ok("1.5h"), Duration::from_secs(5400));
        assert_eq!(ok("250ms"), Duration::from_millis(250));
        assert_eq!(ok(".5s"), Duration::from_millis(500));
        assert_eq!(ok("1m0.5s"), Duration::from_millis(60_500));
        assert_eq!(ok("2us"), Duration::from_micros(2));
        assert_eq!(ok("2µs"), Duration::from_micros(2));
        assert_eq!(ok("+3s"), Duration::from_secs(3));
        assert_eq!(ok("7ns"), Duration::from_nanos(7));
    }

    #[test]
    fn negative_values_are_reported() {
        let d = parse_go_duration("-5s").unwrap();
        assert!(d.negative);
        assert_eq!(d.magnitude, Duration::from_secs(5));
        assert!(!parse_go_duration("-0s").unwrap().negative);
    }

    #[test]
    fn rejects_what_go_rejects() {
        for bad in ["", "10", "s", "1x", "1.2.3s", "- 1s", "1 s", ".s", "-"] {
            assert!(parse_go_duration(bad).is_err(), "{bad:?} should fail");
        }
        assert!(matches!(
            parse_go_duration("99999999999999999999h"),
            Err(DurationError::Overflow(_))
        ));
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(format_go_duration(Duration::from_secs(10)), "10s");
        assert_eq!(format_go_duration(Duration::from_secs(5400)), "1h30m0s");
        assert_eq!(format_go_duration(Duration::from_secs(86400)), "24h0m0s");
        assert_eq!(format_go_duration(Duration::from_secs(61)), "1m1s");
        assert_eq!(format_go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_go_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_go_duration(Duration::ZERO), "0s");
    }
}
