//! Notifications, compatible with the original's `--notification-url` and
//! `--notification-template` values.
//!
//! - **Services** are given as shoutrrr-style URLs: `logger://`, `generic://` /
//!   `generic+https://` webhooks, `slack://` (webhook and bot token), `discord://`, `teams://`,
//!   `gotify://`, `telegram://`, `smtp://` (plain, STARTTLS, implicit TLS, authentication),
//!   `ntfy://`, `pushover://`. The legacy `--notifications email|slack|msteams|gotify` flags
//!   ([`LegacyOptions`]) become the same URLs. An invalid URL is an error at start-up that
//!   names the scheme and never shows the secret parts of the URL.
//! - **Messages** are Go `text/template` templates, run by the `watchtower-gotemplate`
//!   interpreter ([`template`]); the original's built-ins ([`templates`]) render byte for
//!   byte the same.
//!   In legacy mode a template sees the list of log entries; with `--notification-report` it
//!   sees `.Title .Host .Entries .Report` ([`model`]), built from the session report of
//!   `watchtower-session-report`.
//! - **Batching**: [`NotifyLayer`] captures log events; between [`Notifier::start_session`]
//!   and [`Notifier::send`] they are queued and sent as one message with the report; outside a
//!   session each event is sent on its own. A message that renders empty is not sent.
//! - **Delivery never blocks an update**: rendering happens in the caller, sending in a
//!   background task with a connect timeout (TCP and TLS handshake), a per-request timeout
//!   and bounded retries (429, 5xx and unreachable servers, with backoff); failures are
//!   logged without URLs or tokens, and no type here shows a secret in its `Debug` output.
//!
//! ```
//! use watchtower_notify::{Notifier, NotifierConfig};
//! use watchtower_session_report::{ContainerRef, ReportBuilder};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), watchtower_notify::Error> {
//! let config = NotifierConfig {
//!     urls: vec!["logger://".to_owned()],
//!     report: true,
//!     hostname: "docs".to_owned(),
//!     ..NotifierConfig::default()
//! };
//! let (notifier, _layer) = Notifier::new(config)?;
//! assert_eq!(notifier.names(), ["logger"]);
//! assert_eq!(notifier.title(), "Watchtower updates on docs");
//!
//! notifier.start_session();
//! let mut report = ReportBuilder::new();
//! report.updated(&ContainerRef::new("c1", "/web", "nginx:1", "sha256:0ld"), "sha256:n3w");
//! notifier.send(Some(&report.build()));
//! notifier.close().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Dependencies
//!
//! This crate depends on `watchtower-session-report` for the report, on
//! `watchtower-gotemplate` for the template engine, on
//! `watchtower-http-client` for HTTPS (the registry's client: timeouts, `HTTPS_PROXY` and
//! `NO_PROXY`, retry rules, `Retry-After`), on `watchtower-tls-config` for what it trusts
//! ([`NotifierConfig::tls`]: webpki and system roots, `--registry-ca`, plus
//! [`NotifierBuilder::extra_root_certificates`]), and on lettre for SMTP. It knows nothing of Docker or of the update engine.

#![warn(missing_docs)]

mod error;
mod layer;
mod legacy;
pub mod model;
mod notifier;
mod service;
pub mod templates;
mod transport;

/// The Go `text/template` engine messages are rendered with ([`watchtower_gotemplate`]).
pub use watchtower_gotemplate as template;

pub use error::Error;
pub use layer::NotifyLayer;
pub use legacy::{COLOR_HEX, LegacyOptions};
pub use model::{FieldValue, Level, LogEntry, TemplateData};
pub use notifier::{Clock, Notifier, NotifierBuilder, NotifierConfig, SystemClock, title};
