//! Configuration mistakes: each one line naming the flag or variable it came from.

use std::path::PathBuf;

use crate::schedule::ScheduleError;

/// A configuration mistake. Each message is one line naming the flag or variable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value that does not parse or is out of range.
    #[error("invalid value {value:?} for {origin}: {expected}")]
    InvalidValue {
        /// `--flag` or `VARIABLE (--flag)`.
        origin: String,
        /// The value as given (never a secret).
        value: String,
        /// What would be valid.
        expected: String,
    },
    /// A secret named a file that could not be read.
    #[error("cannot read {origin} from file {}: {source}", path.display())]
    SecretFile {
        /// `--flag` or `VARIABLE (--flag)`.
        origin: String,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `--interval` and `--schedule` together.
    #[error(
        "only --schedule or --interval can be defined, not both (--interval {interval}, --schedule {schedule:?})"
    )]
    IntervalWithSchedule {
        /// The interval given.
        interval: u64,
        /// The schedule given.
        schedule: String,
    },
    /// A schedule spec that does not parse or never fires.
    #[error("{origin}: {source}")]
    Schedule {
        /// `--schedule` or `WATCHTOWER_SCHEDULE (--schedule)`.
        origin: String,
        /// The parse error.
        #[source]
        source: ScheduleError,
    },
    /// `--rolling-restart` with the global `--monitor-only`.
    #[error("--rolling-restart cannot be combined with the global --monitor-only")]
    RollingRestartWithMonitorOnly,
    /// An API endpoint without a token.
    #[error(
        "{endpoint} is enabled but the API token is empty: set --http-api-token (WATCHTOWER_HTTP_API_TOKEN)"
    )]
    MissingApiToken {
        /// The flag that enabled an endpoint.
        endpoint: &'static str,
    },
    /// A legacy notification type that lacks a setting it needs.
    #[error("--notifications {kind} needs {needs}")]
    NotificationSetting {
        /// The legacy type.
        kind: &'static str,
        /// The missing or wrong setting.
        needs: String,
    },
    /// A container name given as an argument is not a usable pattern.
    #[error("{0}")]
    NamePattern(#[source] watchtower_actions::Error),
}
