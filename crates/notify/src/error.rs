//! Errors of this crate. None of them carries a secret: URLs appear only redacted.

use watchtower_gotemplate::Error as TemplateError;

/// What can go wrong configuring or sending notifications.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A `--notification-url` could not be used.
    #[error("invalid {scheme} notification URL {url}: {reason}")]
    InvalidUrl {
        /// The URL's scheme (`slack`, `smtp`, ... or `invalid`).
        scheme: String,
        /// The URL with credentials and tokens replaced by `REDACTED`.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A URL scheme this build does not support.
    #[error(
        "unsupported notification service {scheme:?} in {url} (supported: discord, generic, generic+http, generic+https, gotify, logger, ntfy, pushover, slack, smtp, teams, telegram)"
    )]
    UnsupportedService {
        /// The scheme that was given.
        scheme: String,
        /// The URL, redacted.
        url: String,
    },
    /// A legacy `--notifications` value that is not `email`, `slack`, `msteams`, `gotify` or
    /// `shoutrrr`.
    #[error(
        "unknown notification type {value:?} (expected email, slack, msteams, gotify or shoutrrr)"
    )]
    UnknownLegacyType {
        /// The value given.
        value: String,
    },
    /// A legacy notification flag is missing or malformed.
    #[error("{flag}: {reason}")]
    InvalidLegacyFlag {
        /// The flag (`--notification-gotify-url`, ...).
        flag: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// `--notifications-level` is not a level name.
    #[error(
        "invalid notifications level {value:?} (expected panic, fatal, error, warn, info, debug or trace)"
    )]
    InvalidLevel {
        /// The value given.
        value: String,
    },
    /// A PEM bundle of extra root certificates could not be read.
    #[error("invalid extra root certificates: {reason}")]
    InvalidRoots {
        /// What is wrong.
        reason: String,
    },
    /// The HTTP client could not be built (for example an unusable `HTTPS_PROXY`).
    #[error("notifications: {0}")]
    Http(#[source] watchtower_http_client::Error),
    /// The notifier was built outside a Tokio runtime (its sending task needs one).
    #[error("notifications need a running tokio runtime to start their sending task")]
    NoRuntime,
    /// Rendering the notification template failed.
    #[error("notification template: {0}")]
    Template(#[from] TemplateError),
    /// Sending to one service failed (after retries).
    #[error("sending {scheme} notification to {target} failed: {reason}")]
    Send {
        /// The service scheme.
        scheme: String,
        /// Where it was sent, redacted.
        target: String,
        /// What went wrong (never contains credentials).
        reason: String,
    },
}
