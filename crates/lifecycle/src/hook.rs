//! The four hooks, their labels and timeouts, and running one.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use tracing::{debug, info, warn};
use watchtower_container_client::{Container, ContainerClient};

use crate::Error;

/// Label holding the `pre-check` command.
pub const PRE_CHECK_LABEL: &str = "com.centurylinklabs.watchtower.lifecycle.pre-check";
/// Label holding the `post-check` command.
pub const POST_CHECK_LABEL: &str = "com.centurylinklabs.watchtower.lifecycle.post-check";
/// Label holding the `pre-update` command.
pub const PRE_UPDATE_LABEL: &str = "com.centurylinklabs.watchtower.lifecycle.pre-update";
/// Label holding the `post-update` command.
pub const POST_UPDATE_LABEL: &str = "com.centurylinklabs.watchtower.lifecycle.post-update";
/// Label holding the `pre-update` timeout in minutes (default 1, `0` = no limit).
pub const PRE_UPDATE_TIMEOUT_LABEL: &str =
    "com.centurylinklabs.watchtower.lifecycle.pre-update-timeout";
/// Label holding the `post-update` timeout in minutes (default 1, `0` = no limit).
pub const POST_UPDATE_TIMEOUT_LABEL: &str =
    "com.centurylinklabs.watchtower.lifecycle.post-update-timeout";

/// The exit code with which a `pre-update` command asks to skip this update (`EX_TEMPFAIL`).
pub const EX_TEMPFAIL: i64 = 75;

/// How long a hook may run when no timeout label says otherwise, and always for the check
/// hooks.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Longest hook output kept in a failure reason; the full output is logged.
const REASON_OUTPUT_LIMIT: usize = 2000;

/// One of the four lifecycle hooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hook {
    /// Before each session, in every selected running container.
    PreCheck,
    /// After each session, in every selected running container.
    PostCheck,
    /// Before a container is stopped for an update.
    PreUpdate,
    /// In the new container, after it was created and started.
    PostUpdate,
}

impl Hook {
    /// Every hook, in the order a session meets them.
    pub const ALL: [Hook; 4] = [
        Hook::PreCheck,
        Hook::PreUpdate,
        Hook::PostUpdate,
        Hook::PostCheck,
    ];

    /// The hook's name as users write it (`pre-update`).
    pub fn as_str(self) -> &'static str {
        match self {
            Hook::PreCheck => "pre-check",
            Hook::PostCheck => "post-check",
            Hook::PreUpdate => "pre-update",
            Hook::PostUpdate => "post-update",
        }
    }

    /// The label holding this hook's command.
    pub fn label(self) -> &'static str {
        match self {
            Hook::PreCheck => PRE_CHECK_LABEL,
            Hook::PostCheck => POST_CHECK_LABEL,
            Hook::PreUpdate => PRE_UPDATE_LABEL,
            Hook::PostUpdate => POST_UPDATE_LABEL,
        }
    }

    /// The label holding this hook's timeout, for the two update hooks.
    pub fn timeout_label(self) -> Option<&'static str> {
        match self {
            Hook::PreUpdate => Some(PRE_UPDATE_TIMEOUT_LABEL),
            Hook::PostUpdate => Some(POST_UPDATE_TIMEOUT_LABEL),
            Hook::PreCheck | Hook::PostCheck => None,
        }
    }

    /// The command configured in `labels`, when there is a non-empty one.
    pub fn command(self, labels: &BTreeMap<String, String>) -> Option<&str> {
        labels
            .get(self.label())
            .map(String::as_str)
            .filter(|c| !c.trim().is_empty())
    }

    /// How long the hook may run: `None` means no limit.
    ///
    /// The check hooks always get [`DEFAULT_TIMEOUT`]. The update hooks read their timeout
    /// label as whole minutes: missing gives the default of one minute, `0` gives no limit.
    /// A value that is not a whole number of minutes, or is negative, is logged and replaced
    /// by the default (the original treated negative values as "no limit"; waiting forever
    /// should be asked for explicitly with `0`).
    pub fn timeout(self, labels: &BTreeMap<String, String>) -> Option<Duration> {
        let Some(label) = self.timeout_label() else {
            return Some(DEFAULT_TIMEOUT);
        };
        let Some(raw) = labels.get(label) else {
            return Some(DEFAULT_TIMEOUT);
        };
        match raw.trim().parse::<i64>() {
            Ok(0) => None,
            Ok(minutes) if minutes > 0 => Some(Duration::from_secs(
                minutes.unsigned_abs().saturating_mul(60),
            )),
            _ => {
                warn!(
                    label,
                    value = %raw,
                    "hook timeout is not a whole number of minutes >= 0; using 1 minute"
                );
                Some(DEFAULT_TIMEOUT)
            }
        }
    }
}

impl fmt::Display for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened when a hook was to be run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookOutcome {
    /// The container has no command for this hook.
    NotConfigured,
    /// The container is not running (or is paused or restarting), so nothing can be executed
    /// in it; the hook was skipped.
    NotRunning,
    /// The command exited with 0.
    Succeeded {
        /// What it printed.
        output: String,
    },
    /// The command exited with a non-zero code.
    Failed {
        /// The exit code.
        exit_code: i64,
        /// What it printed.
        output: String,
    },
    /// The command did not finish in time. The engine cannot kill an exec, so the command
    /// may still be running; the engine stops waiting for it.
    TimedOut {
        /// The limit that ran out.
        timeout: Duration,
        /// What it printed until then.
        output: String,
    },
}

impl HookOutcome {
    /// Whether the hook ran and failed or timed out.
    pub fn is_failure(&self) -> bool {
        matches!(self, Self::Failed { .. } | Self::TimedOut { .. })
    }

    /// A one-line description for logs and reports, with the output appended (shortened to
    /// 2000 characters).
    pub fn describe(&self, hook: Hook) -> String {
        match self {
            HookOutcome::NotConfigured => format!("no {hook} command"),
            HookOutcome::NotRunning => format!("{hook} hook skipped: container not running"),
            HookOutcome::Succeeded { output } => {
                with_output(format!("{hook} command succeeded"), output)
            }
            HookOutcome::Failed { exit_code, output } => with_output(
                format!("{hook} command exited with code {exit_code}"),
                output,
            ),
            HookOutcome::TimedOut { timeout, output } => with_output(
                format!(
                    "{hook} command timed out after {}",
                    describe_duration(*timeout)
                ),
                output,
            ),
        }
    }
}

fn with_output(mut text: String, output: &str) -> String {
    let output = output.trim();
    if !output.is_empty() {
        text.push_str(": ");
        if output.len() > REASON_OUTPUT_LIMIT {
            let mut cut = REASON_OUTPUT_LIMIT;
            while !output.is_char_boundary(cut) {
                cut -= 1;
            }
            text.push_str(&output[..cut]);
            text.push_str(" [...]");
        } else {
            text.push_str(output);
        }
    }
    text
}

fn describe_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs.is_multiple_of(60) {
        let minutes = secs / 60;
        if minutes == 1 {
            "1 minute".to_owned()
        } else {
            format!("{minutes} minutes")
        }
    } else {
        format!("{secs} s")
    }
}

/// Runs `hook` in `container` as `sh -c <command>`, if the container has that hook and is
/// running, and waits for it within the hook's timeout. Logs the output at info.
///
/// `Err` only when the engine could not run the command at all; a command that ran and
/// failed is `Ok(HookOutcome::Failed)`.
pub async fn run_hook<C>(
    client: &C,
    container: &Container,
    hook: Hook,
) -> Result<HookOutcome, Error>
where
    C: ContainerClient + ?Sized,
{
    let Some(command) = hook.command(&container.labels) else {
        debug!(container = %container.name, %hook, "no hook command; skipping");
        return Ok(HookOutcome::NotConfigured);
    };
    if !container.state.is_running() {
        debug!(container = %container.name, %hook, state = ?container.state, "container not running; skipping hook");
        return Ok(HookOutcome::NotRunning);
    }
    let timeout = hook.timeout(&container.labels);
    debug!(container = %container.name, %hook, command, timeout_secs = timeout.map(|t| t.as_secs()), "running hook");
    let exec = client
        .exec(&container.id, command, timeout)
        .await
        .map_err(|source| Error::Exec {
            hook,
            container: container.name.clone(),
            source,
        })?;
    let output = exec.output.trim().to_owned();
    if !output.is_empty() {
        info!(container = %container.name, %hook, output = %output, "hook output");
    }
    Ok(match (exec.exit_code, timeout) {
        (Some(0), _) => HookOutcome::Succeeded { output },
        (Some(exit_code), _) => HookOutcome::Failed { exit_code, output },
        (None, Some(timeout)) => HookOutcome::TimedOut { timeout, output },
        // The client reports no exit code only after a timeout; without a limit that means
        // the exec ended without telling its code.
        (None, None) => HookOutcome::Failed {
            exit_code: -1,
            output,
        },
    })
}
