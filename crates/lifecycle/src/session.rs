//! What a session does with each hook's outcome.

use tracing::{error, info, warn};
use watchtower_container_client::{Container, ContainerClient};

use crate::{EX_TEMPFAIL, Error, Hook, HookOutcome, run_hook};

/// Whether a container's update may go ahead after its `pre-update` hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreUpdateDecision {
    /// No hook, the container is not running, or the hook exited with 0.
    Proceed,
    /// The hook exited with 75 (`EX_TEMPFAIL`): leave this container alone this time.
    Skip {
        /// Why, for the report.
        reason: String,
    },
    /// The hook failed, timed out or could not be run: the update of this container is
    /// aborted and reported as failed.
    Fail {
        /// Why, with the hook's output, for the report.
        reason: String,
    },
}

/// Runs the `pre-update` hook of `container` and decides whether its update goes ahead.
pub async fn pre_update<C>(client: &C, container: &Container) -> PreUpdateDecision
where
    C: ContainerClient + ?Sized,
{
    let hook = Hook::PreUpdate;
    match run_hook(client, container, hook).await {
        Ok(
            HookOutcome::NotConfigured | HookOutcome::NotRunning | HookOutcome::Succeeded { .. },
        ) => PreUpdateDecision::Proceed,
        Ok(HookOutcome::Failed {
            exit_code: EX_TEMPFAIL,
            ..
        }) => {
            info!(container = %container.name, "pre-update command returned exit code 75 (EX_TEMPFAIL); skipping this update");
            PreUpdateDecision::Skip {
                reason: "the pre-update command returned exit code 75 (EX_TEMPFAIL)".to_owned(),
            }
        }
        Ok(outcome) => {
            let reason = outcome.describe(hook);
            error!(container = %container.name, %reason, "pre-update command failed; skipping this update");
            PreUpdateDecision::Fail { reason }
        }
        Err(err) => {
            error!(container = %container.name, error = %err, "pre-update command could not run; skipping this update");
            PreUpdateDecision::Fail {
                reason: err.to_string(),
            }
        }
    }
}

/// Runs the `post-update` hook in the new container (inspected after it was started, so
/// that labels from the new image count). Failures are logged here; the caller never treats
/// them as fatal.
pub async fn post_update<C>(client: &C, new_container: &Container) -> Result<HookOutcome, Error>
where
    C: ContainerClient + ?Sized,
{
    run_logged(client, new_container, Hook::PostUpdate).await
}

/// Runs the `pre-check` hook in each container; failures are logged.
pub async fn pre_check<C>(client: &C, containers: &[Container])
where
    C: ContainerClient + ?Sized,
{
    for container in containers {
        let _logged = run_logged(client, container, Hook::PreCheck).await;
    }
}

/// Runs the `post-check` hook in each container; failures are logged.
pub async fn post_check<C>(client: &C, containers: &[Container])
where
    C: ContainerClient + ?Sized,
{
    for container in containers {
        let _logged = run_logged(client, container, Hook::PostCheck).await;
    }
}

async fn run_logged<C>(client: &C, container: &Container, hook: Hook) -> Result<HookOutcome, Error>
where
    C: ContainerClient + ?Sized,
{
    let result = run_hook(client, container, hook).await;
    match &result {
        Ok(outcome) if outcome.is_failure() => {
            warn!(container = %container.name, %hook, reason = %outcome.describe(hook), "hook failed");
        }
        Ok(_) => {}
        Err(err) => warn!(container = %container.name, %hook, error = %err, "hook could not run"),
    }
    result
}
