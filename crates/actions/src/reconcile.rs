//! Finishing updates that a killed process left half-done.
//!
//! While a container is updated, its old self is renamed `<name>-wt-old-<short id>`. If the
//! process dies before the end, that container is still there at the next session, which
//! settles it before anything else:
//!
//! - the original name is free: the update stopped before the new container was made; the
//!   old one gets its name back and is started;
//! - a container with the original name runs: the update got through; the old one is removed;
//! - a container with the original name exists but does not run: the update stopped between
//!   create and start; the half-made new one is removed, the old one gets its name back and
//!   is started (an update only stops containers that ran, or that `--include-stopped`
//!   selected; the latter are started too, which errs on the side of availability).
//!
//! A replacement that carries [`labels::REPLACES`] naming the old container was made by a
//! gated or start-first update that did not finish: with the health gate on for it (flag or
//! label), the gate is run again now, and the old container is removed only when the
//! replacement passes; otherwise the replacement is removed and the old container is back.
//! A start-first old container that still runs is stopped with its own signal before it is
//! removed.
//!
//! Renamed-aside watchtower instances are only renamed back when their name is free: when a
//! successor runs under the name, the successor stops and removes them at its start
//! ([`crate::cleanup_excess_instances`]).

use std::collections::HashMap;

use tracing::{info, warn};
use watchtower_container_client::{Container, ContainerClient, ListOptions};

use crate::gate::Gate;
use crate::update::{ASIDE_MARKER, stop_options};
use crate::{Error, Filter, Params, labels};

/// What reconciling did with one renamed-aside container.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reconciled {
    /// The original name was free: renamed back and started.
    RenamedBack {
        /// The container's original name.
        name: String,
    },
    /// The replacement runs: the old container was removed.
    RemovedOld {
        /// The container's original name.
        name: String,
    },
    /// The replacement was half-made: removed, and the old container is back and started.
    RolledBack {
        /// The container's original name.
        name: String,
    },
    /// Something failed; the containers are left as they are for the next session.
    Failed {
        /// The container's original name.
        name: String,
        /// What failed.
        reason: String,
    },
}

/// Splits `<name>-wt-old-<12 hex>` into the original name, when `container` is such a
/// renamed-aside container (the short ID must be its own).
pub fn original_name(container: &Container) -> Option<&str> {
    let name = container.name.trim_start_matches('/');
    let (original, short) = name.rsplit_once(ASIDE_MARKER)?;
    let is_own_short_id = short.len() == 12
        && short.bytes().all(|b| b.is_ascii_hexdigit())
        && container.short_id() == short;
    (is_own_short_id && !original.is_empty()).then_some(original)
}

/// Settles every renamed-aside container that `filter` selects under its original name.
pub async fn reconcile<C>(
    client: &C,
    filter: &Filter,
    params: &Params,
) -> Result<Vec<Reconciled>, Error>
where
    C: ContainerClient + ?Sized,
{
    let all = client
        .list_containers(ListOptions {
            include_stopped: true,
            include_restarting: true,
        })
        .await
        .map_err(|source| Error::List { source })?;
    let by_name: HashMap<&str, &Container> = all
        .iter()
        .map(|c| (c.name.trim_start_matches('/'), c))
        .collect();

    let mut done = Vec::new();
    for old in &all {
        let Some(original) = original_name(old) else {
            continue;
        };
        if !filter.matches_as(old, original) {
            continue;
        }
        let name = original.to_owned();
        let result = match by_name.get(original) {
            None => rename_back_and_start(client, old, original)
                .await
                .map(|()| Reconciled::RenamedBack { name: name.clone() }),
            Some(_) if labels::is_watchtower(old) => continue,
            Some(new) if new.state.is_running() => {
                settle_running_replacement(client, params, old, new, original).await
            }
            // With its volumes: only those the engine made for it; the ones it carried over
            // from the old container are mounted by name and stay.
            Some(new) => match client.remove_container(&new.id, true).await {
                Ok(()) => rename_back_and_start(client, old, original)
                    .await
                    .map(|()| Reconciled::RolledBack { name: name.clone() }),
                Err(e) => Err(format!("removing the half-made new container: {e}")),
            },
        };
        let outcome = result.unwrap_or_else(|reason| Reconciled::Failed {
            name: name.clone(),
            reason,
        });
        match &outcome {
            Reconciled::Failed { reason, .. } => {
                warn!(container = %name, %reason, "could not settle an interrupted update");
            }
            other => info!(container = %name, outcome = ?other, "settled an interrupted update"),
        }
        done.push(outcome);
    }
    Ok(done)
}

/// The replacement runs: the update got through, unless it was a gated one whose gate had
/// not passed yet, which is run again now.
async fn settle_running_replacement<C>(
    client: &C,
    params: &Params,
    old: &Container,
    new: &Container,
    original: &str,
) -> Result<Reconciled, String>
where
    C: ContainerClient + ?Sized,
{
    let name = original.to_owned();
    let ours = new.labels.get(labels::REPLACES) == Some(&old.id);
    if ours && labels::health_gate_of(new, params.health_gate) {
        info!(container = %original, "an interrupted update left its replacement before the end of its health gate; running the gate again");
        let gate = Gate {
            timeout: params.health_gate_timeout,
            settle: params.health_gate_settle,
        };
        if let Err(rejection) = gate.pass(client, &new.id, original, &params.cancel).await {
            warn!(container = %original, reason = %rejection, "the replacement did not pass the health gate; putting the old container back");
            if let Err(e) = client
                .stop_container(&new.id, stop_options(params, new))
                .await
            {
                warn!(container = %original, error = %e, "stopping the replacement failed");
            }
            client
                .remove_container(&new.id, true)
                .await
                .map_err(|e| format!("removing the replacement that failed its gate: {e}"))?;
            rename_back_and_start(client, old, original).await?;
            return Ok(Reconciled::RolledBack { name });
        }
    }
    if old.state.is_running()
        && let Err(e) = client
            .stop_container(&old.id, stop_options(params, old))
            .await
    {
        warn!(container = %old.name, error = %e, "stopping the old container failed; removing it anyway");
    }
    client
        .remove_container(&old.id, params.remove_volumes)
        .await
        .map(|()| Reconciled::RemovedOld { name })
        .map_err(|e| format!("removing the old container {}: {e}", old.name))
}

async fn rename_back_and_start<C>(client: &C, old: &Container, original: &str) -> Result<(), String>
where
    C: ContainerClient + ?Sized,
{
    client
        .rename_container(&old.id, original)
        .await
        .map_err(|e| format!("renaming {} back to {original}: {e}", old.name))?;
    if !old.state.is_running() {
        client
            .start_container(&old.id)
            .await
            .map_err(|e| format!("starting {original}: {e}"))?;
    }
    Ok(())
}
