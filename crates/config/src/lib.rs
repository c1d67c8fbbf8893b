//! watchtower's configuration boundary: the command line, the flag table, the environment
//! and secrets-from-files, resolved and checked into the option types the libraries take
//! themselves — [`watchtower_actions::Params`] and [`watchtower_actions::Filter`] for
//! sessions, [`watchtower_container_client::DockerOptions`] for the engine,
//! [`watchtower_registry_auth::CredentialOptions`] for registry credentials,
//! [`watchtower_notify::NotifierConfig`] (with its `LegacyOptions`) for notifications, and
//! one log level type, [`watchtower_notify::Level`], for both `--log-level` and
//! `--notifications-level`. The binary hands those values on unchanged; nothing is copied
//! field by field.
//!
//! - [`cli`]: the clap command (`--help`, completions and the man page come from it);
//! - [`flags`]: the one table of every option's variable and default;
//! - [`Config::resolve`]: flag, else variable, else default, one section per library
//!   (`resolve/`), every mistake one [`Error`] naming the flag or variable;
//! - [`secret`], [`duration`], [`schedule`]: the value syntaxes of the original.
//!
//! ```
//! use std::collections::BTreeMap;
//! use std::time::Duration;
//!
//! let cli = watchtower_config::cli::parse(["watchtower", "--cleanup", "--stop-timeout", "1m"])?;
//! let env = BTreeMap::from([("WATCHTOWER_NOTIFICATIONS_LEVEL".to_owned(), "debug".to_owned())]);
//! let config = watchtower_config::Config::resolve(&cli, &env)?;
//! // The update engine's own settings, ready to use.
//! assert!(config.params.cleanup);
//! assert_eq!(config.params.stop_timeout, Duration::from_secs(60));
//! // The notifier's own settings; the same level type as --log-level.
//! assert_eq!(config.notifications.level, watchtower_notify::Level::Debug);
//! assert_eq!(config.log.level, watchtower_notify::Level::Info);
//! // Every option's effective value, as text, for diagnostics and tests.
//! assert_eq!(config.value("stop-timeout"), Some("1m0s"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! This crate parses and checks; it opens no connection and starts nothing (the one file it
//! reads is a secret named by a secret flag). It must not depend on the binary, and library
//! option types must not depend on it: they stay free of clap, and the flag table maps each
//! flag onto them.
#![warn(missing_docs)]

pub mod cli;
mod config;
pub mod duration;
mod env;
mod error;
pub mod flags;
mod resolve;
pub mod schedule;
pub mod secret;

pub use config::{Config, HttpApiSettings, LogFormat, LogSettings, RegistrySettings, Source};
pub use env::{Env, ProcessEnv};
pub use error::Error;
