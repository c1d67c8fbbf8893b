//! The health gate (`--health-gate`): after a new container starts, it has to prove itself
//! before the old one is given up.
//!
//! - With a healthcheck (the image's or its own), it must report `healthy` within
//!   `--health-gate-timeout`.
//! - Without one, it must keep running, with no restart, for `--health-gate-settle`.
//!
//! It fails at once when it turns `unhealthy`, exits, or is restarted by its restart policy.
//! The engine is asked by inspecting the container, so a gate interrupted by a killed
//! process can be run again by the next session from what the engine holds.

use std::fmt;
use std::time::Duration;

use tokio::time::Instant;
use tracing::{debug, info};
use watchtower_container_client::{
    Container, ContainerClient, ContainerState, Error as ClientError, HealthStatus,
};

use crate::{CancelToken, format_go_duration};

/// How often the new container is inspected while the gate is open.
const POLL: Duration = Duration::from_millis(250);

/// What the gate asks of one container.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Gate {
    /// With a healthcheck: how long it may take to become healthy.
    pub(crate) timeout: Duration,
    /// Without one: how long it must keep running.
    pub(crate) settle: Duration,
}

/// Why a new container did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rejection {
    Unhealthy,
    Exited(i64),
    Restarted(i64),
    NotHealthyInTime { waited: Duration, status: String },
    Gone,
    Inspect(String),
    Cancelled,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unhealthy => f.write_str("the new container became unhealthy"),
            Self::Exited(code) => write!(f, "the new container exited with code {code}"),
            Self::Restarted(1) => f.write_str("the new container restarted 1 time"),
            Self::Restarted(n) => write!(f, "the new container restarted {n} times"),
            Self::NotHealthyInTime { waited, status } => write!(
                f,
                "the new container was not healthy within {} (timed out; health: {status})",
                format_go_duration(*waited)
            ),
            Self::Gone => f.write_str("the new container disappeared"),
            Self::Inspect(e) => write!(f, "cannot inspect the new container: {e}"),
            Self::Cancelled => f.write_str("watchtower is stopping before the gate could pass"),
        }
    }
}

/// Whether the container has a healthcheck that runs (`Config.Healthcheck`, which the engine
/// fills from the image, or a health status the engine keeps).
fn has_healthcheck(c: &Container) -> bool {
    let configured = c
        .config
        .healthcheck
        .as_ref()
        .is_some_and(|h| h.test.first().is_some_and(|t| t != "NONE"));
    configured
        || matches!(
            c.health,
            Some(HealthStatus::Starting | HealthStatus::Healthy | HealthStatus::Unhealthy)
        )
}

fn health_word(h: Option<&HealthStatus>) -> &'static str {
    match h {
        Some(HealthStatus::Starting) => "starting",
        Some(HealthStatus::Healthy) => "healthy",
        Some(HealthStatus::Unhealthy) => "unhealthy",
        _ => "none",
    }
}

impl Gate {
    /// Watches the started container `id` until it passes or is rejected. `restarts_before`
    /// is its restart count when the gate opened (0 for a new container; a re-run gate
    /// after an interruption counts from where it finds it).
    pub(crate) async fn pass<C: ContainerClient + ?Sized>(
        &self,
        client: &C,
        id: &str,
        name: &str,
        cancel: &CancelToken,
    ) -> Result<(), Rejection> {
        let opened = Instant::now();
        let mut restarts_before = None;
        let mut announced = false;
        loop {
            let c = match client.inspect_container(id).await {
                Ok(c) => c,
                Err(ClientError::NotFound { .. }) => return Err(Rejection::Gone),
                Err(e) => return Err(Rejection::Inspect(e.to_string())),
            };
            let base = *restarts_before.get_or_insert(c.restart_count);
            let healthcheck = has_healthcheck(&c);
            if !announced {
                announced = true;
                if healthcheck {
                    info!(container = %name, timeout = %format_go_duration(self.timeout),
                        "health gate: waiting for the new container to become healthy");
                } else {
                    info!(container = %name, settle = %format_go_duration(self.settle),
                        "health gate: the new container has no healthcheck; it must keep running");
                }
            }
            if c.restart_count > base {
                return Err(Rejection::Restarted(c.restart_count - base));
            }
            match c.state {
                ContainerState::Restarting => {
                    return Err(Rejection::Restarted((c.restart_count - base).max(1)));
                }
                ContainerState::Exited | ContainerState::Dead | ContainerState::Created => {
                    return Err(Rejection::Exited(c.exit_code));
                }
                ContainerState::Removing => return Err(Rejection::Gone),
                _ => {}
            }
            let waited = opened.elapsed();
            if healthcheck {
                match c.health {
                    Some(HealthStatus::Healthy) => {
                        debug!(container = %name, waited = ?waited, "health gate passed: healthy");
                        return Ok(());
                    }
                    Some(HealthStatus::Unhealthy) => return Err(Rejection::Unhealthy),
                    _ if waited >= self.timeout => {
                        return Err(Rejection::NotHealthyInTime {
                            waited: self.timeout,
                            status: health_word(c.health.as_ref()).to_owned(),
                        });
                    }
                    _ => {}
                }
            } else if waited >= self.settle {
                debug!(container = %name, waited = ?waited, "health gate passed: kept running");
                return Ok(());
            }
            if cancel.is_cancelled() {
                return Err(Rejection::Cancelled);
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejections_say_what_happened() {
        assert_eq!(
            Rejection::Exited(3).to_string(),
            "the new container exited with code 3"
        );
        assert_eq!(
            Rejection::Restarted(2).to_string(),
            "the new container restarted 2 times"
        );
        assert_eq!(
            Rejection::NotHealthyInTime {
                waited: Duration::from_secs(120),
                status: "starting".into()
            }
            .to_string(),
            "the new container was not healthy within 2m0s (timed out; health: starting)"
        );
    }
}
