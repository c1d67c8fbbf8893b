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
//! Renamed-aside watchtower instances are only renamed back when their name is free: when a
//! successor runs under the name, the successor stops and removes them at its start
//! ([`crate::cleanup_excess_instances`]).

use std::collections::HashMap;

use tracing::{info, warn};
use watchtower_container_client::{Container, ContainerClient, ListOptions};

use crate::update::ASIDE_MARKER;
use crate::{Error, Filter, labels};

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
    remove_volumes: bool,
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
            Some(new) if new.state.is_running() => client
                .remove_container(&old.id, remove_volumes)
                .await
                .map(|()| Reconciled::RemovedOld { name: name.clone() })
                .map_err(|e| format!("removing the old container {}: {e}", old.name)),
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
