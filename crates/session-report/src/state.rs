//! The state of one container at the end of a session, and the update step that failed.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Error;

/// What happened to one container in a session.
///
/// Serialised (and shown by templates' `.State`) with the original's spelling:
/// `Skipped`, `Scanned`, `Updated`, `Failed`, `Fresh`, `Stale`.
///
/// Every container in a report ends in exactly one of `Skipped`, `Fresh`, `Stale`, `Updated`
/// or `Failed`. `Scanned` is the state of an entry that the engine recorded as checked and
/// that nothing else decided; the builder turns it into `Fresh` or `Stale` by comparing image
/// IDs, so a built [`crate::Report`] never holds it. It exists because the original's
/// templates can compare against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum State {
    /// Not checked or not updated, for the reason in the entry's `error`.
    Skipped,
    /// Checked, outcome not decided yet (never in a built report).
    Scanned,
    /// Recreated from a newer image.
    Updated,
    /// An update step failed; see the entry's `failed_step`, `error` and `restored`.
    Failed,
    /// Checked: the image is the newest.
    Fresh,
    /// Checked: a newer image exists, but the container was not updated (e.g. monitor-only).
    Stale,
}

impl State {
    /// Every state, in declaration order.
    pub const ALL: [State; 6] = [
        State::Skipped,
        State::Scanned,
        State::Updated,
        State::Failed,
        State::Fresh,
        State::Stale,
    ];

    /// The name as the original prints it (`"Updated"`).
    pub fn as_str(self) -> &'static str {
        match self {
            State::Skipped => "Skipped",
            State::Scanned => "Scanned",
            State::Updated => "Updated",
            State::Failed => "Failed",
            State::Fresh => "Fresh",
            State::Stale => "Stale",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for State {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        State::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| Error::UnknownState {
                value: s.to_owned(),
            })
    }
}

/// The step of the check-and-update protocol (DESIGN.md, "Safe update") that failed.
///
/// Serialised in kebab case (`"connect-network"`); [`FailedStep::as_str`] gives the same text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum FailedStep {
    /// Inspecting the container or its image.
    Inspect,
    /// Asking the registry whether a newer image exists.
    Check,
    /// Pulling the newer image.
    Pull,
    /// The container is part of a dependency cycle (links, depends-on, `container:` network).
    DependencyCycle,
    /// The `pre-update` lifecycle hook failed or timed out.
    PreUpdateHook,
    /// Stopping the old container.
    Stop,
    /// Renaming the old container aside.
    Rename,
    /// Creating the new container.
    Create,
    /// Connecting the new container to one of its networks.
    ConnectNetwork,
    /// Starting the new container.
    Start,
    /// The new container did not pass the health gate (`--health-gate`): it turned
    /// unhealthy, exited, restarted, or was not healthy in time.
    HealthGate,
    /// The `post-update` lifecycle hook failed or timed out.
    PostUpdateHook,
    /// Removing the old container after the new one runs.
    RemoveOld,
    /// Recreating a container because a container it depends on was updated.
    RestartDependent,
    /// Updating watchtower's own container.
    SelfUpdate,
}

impl FailedStep {
    /// Every step, in protocol order.
    pub const ALL: [FailedStep; 15] = [
        FailedStep::Inspect,
        FailedStep::Check,
        FailedStep::Pull,
        FailedStep::DependencyCycle,
        FailedStep::PreUpdateHook,
        FailedStep::Stop,
        FailedStep::Rename,
        FailedStep::Create,
        FailedStep::ConnectNetwork,
        FailedStep::Start,
        FailedStep::HealthGate,
        FailedStep::PostUpdateHook,
        FailedStep::RemoveOld,
        FailedStep::RestartDependent,
        FailedStep::SelfUpdate,
    ];

    /// The kebab-case name used in JSON (`"pre-update-hook"`).
    pub fn as_str(self) -> &'static str {
        match self {
            FailedStep::Inspect => "inspect",
            FailedStep::Check => "check",
            FailedStep::Pull => "pull",
            FailedStep::DependencyCycle => "dependency-cycle",
            FailedStep::PreUpdateHook => "pre-update-hook",
            FailedStep::Stop => "stop",
            FailedStep::Rename => "rename",
            FailedStep::Create => "create",
            FailedStep::ConnectNetwork => "connect-network",
            FailedStep::Start => "start",
            FailedStep::HealthGate => "health-gate",
            FailedStep::PostUpdateHook => "post-update-hook",
            FailedStep::RemoveOld => "remove-old",
            FailedStep::RestartDependent => "restart-dependent",
            FailedStep::SelfUpdate => "self-update",
        }
    }
}

impl fmt::Display for FailedStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FailedStep {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FailedStep::ALL
            .into_iter()
            .find(|step| step.as_str() == s)
            .ok_or_else(|| Error::UnknownFailedStep {
                value: s.to_owned(),
                expected: FailedStep::ALL
                    .iter()
                    .map(|step| step.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names_round_trip() {
        for state in State::ALL {
            assert_eq!(state.as_str().parse::<State>().unwrap(), state);
            assert_eq!(
                serde_json::to_string(&state).unwrap(),
                format!("\"{}\"", state.as_str())
            );
        }
    }

    #[test]
    fn unknown_state_names_the_culprit() {
        let err = "Gone".parse::<State>().unwrap_err();
        assert!(err.to_string().contains("\"Gone\""), "{err}");
    }

    #[test]
    fn failed_step_names_match_serde() {
        for step in FailedStep::ALL {
            assert_eq!(
                serde_json::to_string(&step).unwrap(),
                format!("\"{}\"", step.as_str())
            );
            assert_eq!(step.as_str().parse::<FailedStep>().unwrap(), step);
        }
    }

    #[test]
    fn unknown_step_lists_valid_ones() {
        let err = "explode".parse::<FailedStep>().unwrap_err().to_string();
        assert!(
            err.contains("\"explode\"") && err.contains("connect-network"),
            "{err}"
        );
    }
}
