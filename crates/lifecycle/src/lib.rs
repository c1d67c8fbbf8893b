//! Lifecycle hooks: shell commands that containers declare in labels and that watchtower runs
//! inside them around a check or an update (only with `--enable-lifecycle-hooks`).
//!
//! | hook | label (`com.centurylinklabs.watchtower.lifecycle.…`) | runs | timeout | a failure… |
//! |---|---|---|---|---|
//! | [`Hook::PreCheck`] | `pre-check` | in each selected container, before a session | 1 minute | is logged |
//! | [`Hook::PreUpdate`] | `pre-update` | before the container is stopped for an update | `pre-update-timeout` | aborts this container's update |
//! | [`Hook::PostUpdate`] | `post-update` | in the new container, after it started | `post-update-timeout` | is logged |
//! | [`Hook::PostCheck`] | `post-check` | in each selected container, after a session | 1 minute | is logged |
//!
//! The command runs as `sh -c <command>` through
//! [`ContainerClient::exec`](watchtower_container_client::ContainerClient::exec), as the
//! container's default user. Timeouts are whole minutes; missing means 1, `0` means no
//! limit. A hook is skipped (and the update goes ahead) when the container is not running.
//!
//! A `pre-update` command that exits with 75 (`EX_TEMPFAIL`) asks to skip this update
//! ([`PreUpdateDecision::Skip`]); any other non-zero exit, a timeout or an exec the engine
//! refuses aborts the container's update and is reported as failed with the command's output
//! ([`PreUpdateDecision::Fail`]).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use std::collections::BTreeMap;
//! use std::time::Duration;
//! use watchtower_container_client::{Container, ExecOutcome, MockContainerClient};
//! use watchtower_lifecycle::{Hook, PreUpdateDecision, pre_update};
//!
//! let mut labels = BTreeMap::new();
//! labels.insert(Hook::PreUpdate.label().to_owned(), "pg_dump db > /backup.sql".to_owned());
//! labels.insert(Hook::PreUpdate.timeout_label().unwrap().to_owned(), "5".to_owned());
//! let db = Container { id: "c1".into(), name: "db".into(), labels, ..Container::default() };
//! assert_eq!(Hook::PreUpdate.timeout(&db.labels), Some(Duration::from_secs(300)));
//!
//! let mut client = MockContainerClient::new();
//! client
//!     .expect_exec()
//!     .withf(|id, cmd, timeout| {
//!         id == "c1" && cmd == "pg_dump db > /backup.sql" && *timeout == Some(Duration::from_secs(300))
//!     })
//!     .returning(|_, _, _| Ok(ExecOutcome { exit_code: Some(75), output: "busy".into() }));
//!
//! assert!(matches!(pre_update(&client, &db).await, PreUpdateDecision::Skip { .. }));
//! # }
//! ```
//!
//! This crate depends only on the `ContainerClient` seam, never on an engine client directly.

#![warn(missing_docs)]

mod error;
mod hook;
mod session;

pub use error::Error;
pub use hook::{
    DEFAULT_TIMEOUT, EX_TEMPFAIL, Hook, HookOutcome, POST_CHECK_LABEL, POST_UPDATE_LABEL,
    POST_UPDATE_TIMEOUT_LABEL, PRE_CHECK_LABEL, PRE_UPDATE_LABEL, PRE_UPDATE_TIMEOUT_LABEL,
    run_hook,
};
pub use session::{PreUpdateDecision, post_check, post_update, pre_check, pre_update};

#[cfg(test)]
mod tests;
