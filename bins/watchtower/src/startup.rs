//! The startup message: the lines the original logged (and, unless
//! `--no-startup-message`, sent as one notification) when it started.

use chrono::{DateTime, Local};

/// How sessions will run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunMode {
    /// `--run-once`.
    Once,
    /// On a schedule; the first session at `first`, seen from `now`.
    Scheduled {
        /// The first activation.
        first: DateTime<Local>,
        /// Start-up time.
        now: DateTime<Local>,
    },
    /// Only when the HTTP API asks (`--http-api-update` without periodic polls).
    ApiOnly,
}

/// The lines, in order.
pub fn lines(
    version: &str,
    notifiers: &[String],
    filter_description: &str,
    mode: &RunMode,
    update_api_addr: Option<&str>,
) -> Vec<String> {
    let mut lines = vec![format!("Watchtower {version}")];
    if notifiers.is_empty() {
        lines.push("Using no notifications".to_owned());
    } else {
        lines.push(format!("Using notifications: {}", notifiers.join(", ")));
    }
    lines.push(filter_description.to_owned());
    match mode {
        RunMode::Once => lines.push("Running a one time update.".to_owned()),
        RunMode::ApiOnly => lines.push("Periodic runs are not enabled.".to_owned()),
        RunMode::Scheduled { first, now } => {
            lines.push(format!(
                "Scheduling first run: {}",
                first.format("%Y-%m-%d %H:%M:%S %z")
            ));
            lines.push(format!(
                "Note that the first check will be performed in {}",
                format_until(*first - *now)
            ));
        }
    }
    if let Some(addr) = update_api_addr {
        lines.push(format!("The HTTP API is enabled at {addr}."));
    }
    lines
}

/// `2 hours, 1 minute, 5 seconds`, as the original wrote the time to the first run (whole
/// seconds, rounded down; zero parts left out; `0 seconds` when under a second).
pub fn format_until(until: chrono::Duration) -> String {
    let total = until.num_seconds().max(0);
    let (hours, minutes, seconds) = (total / 3600, (total / 60) % 60, total % 60);
    let unit = |n: i64, one: &str, many: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {many}")
        }
    };
    let mut parts = Vec::new();
    if hours != 0 {
        parts.push(unit(hours, "hour", "hours"));
    }
    if minutes != 0 {
        parts.push(unit(minutes, "minute", "minutes"));
    }
    if seconds != 0 || parts.is_empty() {
        parts.push(unit(seconds, "second", "seconds"));
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn durations_read_like_the_original() {
        let d = chrono::Duration::seconds;
        assert_eq!(format_until(d(86_399)), "23 hours, 59 minutes, 59 seconds");
        assert_eq!(format_until(d(3600)), "1 hour");
        assert_eq!(format_until(d(3661)), "1 hour, 1 minute, 1 second");
        assert_eq!(format_until(d(120)), "2 minutes");
        assert_eq!(format_until(d(0)), "0 seconds");
        assert_eq!(
            format_until(chrono::Duration::milliseconds(999)),
            "0 seconds"
        );
    }

    #[test]
    fn scheduled_lines() {
        let now = Local.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).unwrap();
        let first = now + chrono::Duration::seconds(86_400);
        let lines = lines(
            "1.2.3",
            &["smtp".to_owned(), "logger".to_owned()],
            "Checking all containers (except explicitly disabled with label)",
            &RunMode::Scheduled { first, now },
            Some(":8080"),
        );
        assert_eq!(lines[0], "Watchtower 1.2.3");
        assert_eq!(lines[1], "Using notifications: smtp, logger");
        assert!(
            lines[3].starts_with("Scheduling first run: 2024-05-02 10:00:00 "),
            "{lines:?}"
        );
        assert_eq!(
            lines[4],
            "Note that the first check will be performed in 24 hours"
        );
        assert_eq!(lines[5], "The HTTP API is enabled at :8080.");
    }
}
