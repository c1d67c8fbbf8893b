//! The `watchtower` binary's logic, as a library so that tests reach all of it.
//!
//! `main.rs` only parses the command line, sets up logging, builds the runtime and calls
//! [`wiring::run`]; everything it does is here:
//!
//! - the command line, the flag table and their resolution into the libraries' own option
//!   types are the `watchtower-config` crate; nothing here mirrors a library type;
//! - [`logging`]: the subscriber and the log formats;
//! - [`sessions`]: one session at a time, for the scheduler, the API and `--run-once`;
//!   [`api_state`]: what the API's read side remembers (recent sessions, last results);
//! - [`scheduler`], [`signals`], [`startup`]: the process's rhythm and its first words;
//! - [`app`]: all of that together, behind the [`sessions::SessionRunner`] seam;
//! - [`wiring`]: the real parts (Docker, registries, notifications) plugged into [`app`];
//! - [`notify_upgrade`]: the `notify-upgrade` subcommand (legacy notification settings as
//!   URLs);
//! - [`check`]: the `check` subcommand (what is stale and what an update would do).
#![warn(missing_docs)]

pub mod api_state;
pub mod app;
pub mod check;
pub mod logging;
pub mod notify_upgrade;
pub mod scheduler;
pub mod sessions;
pub mod signals;
pub mod startup;
pub mod wiring;

use std::process::ExitCode;

/// `watchtower completions <shell>`: the completion script for `shell`.
pub fn completions(shell: clap_complete::Shell, out: &mut dyn std::io::Write) {
    let mut cmd = watchtower_config::cli::command();
    clap_complete::generate(shell, &mut cmd, "watchtower", out);
}

/// `--health-check`: exits 0, except as PID 1, where it is a mistake (the flag belongs in the
/// image's `HEALTHCHECK`, not in the main process): then it fails at once (the original
/// waited a second first).
pub fn health_check() -> ExitCode {
    if std::process::id() == 1 {
        eprintln!(
            "watchtower: the --health-check flag should never be passed to the main watchtower container process"
        );
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
