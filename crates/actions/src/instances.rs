//! Start-up steps of the binary: one watchtower per scope, and the rolling-restart sanity
//! check.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tracing::{debug, error, info, warn};
use watchtower_container_client::{Container, ContainerClient, ListOptions, StopOptions};

use crate::order::dependencies_of;
use crate::{Error, Filter, labels};

/// How long an excess instance may take to finish its session and stop.
pub const EXCESS_INSTANCE_STOP_TIMEOUT: Duration = Duration::from_secs(600);

/// Stops and removes every running watchtower instance in `scope` but the newest (by
/// creation time), and with `cleanup` removes their images when no container uses them
/// any more. Returns how many instances were removed.
///
/// `scope`: `None` considers every instance (an unscoped watchtower removes scoped ones
/// too, as in the original); `Some("none")` only unscoped ones. This is how a self-update
/// completes: the new instance, started under the old name, removes the old one.
pub async fn cleanup_excess_instances<C>(
    client: &C,
    scope: Option<&str>,
    cleanup: bool,
) -> Result<usize, Error>
where
    C: ContainerClient + ?Sized,
{
    let mut instances: Vec<Container> = client
        .list_containers(ListOptions::default())
        .await
        .map_err(|source| Error::List { source })?
        .into_iter()
        .filter(labels::is_watchtower)
        .filter(|c| scope.is_none_or(|s| labels::scope_of(c) == s))
        .collect();
    if instances.len() <= 1 {
        debug!("no other watchtower instance");
        return Ok(0);
    }
    info!(
        count = instances.len(),
        "found multiple running watchtower instances; keeping the newest"
    );
    // Unparsable creation times sort last, as if just created (the original used "now").
    instances.sort_by_key(|c| created(c).unwrap_or(DateTime::<Utc>::MAX_UTC));
    let newest = instances.pop().expect("more than one instance");
    debug!(keep = %newest.name, "newest instance");

    let mut failed = 0;
    let mut removed_images = BTreeSet::new();
    for old in &instances {
        let stop = StopOptions {
            signal: labels::stop_signal_of(old),
            timeout: EXCESS_INSTANCE_STOP_TIMEOUT,
        };
        let result = match client.stop_container(&old.id, stop).await {
            Ok(()) => client.remove_container(&old.id, false).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => {
                info!(container = %old.name, "stopped and removed an older watchtower instance");
                removed_images.insert(old.image_id.clone());
            }
            Err(err) => {
                error!(container = %old.name, error = %err, "could not stop a previous watchtower instance");
                failed += 1;
            }
        }
    }

    if cleanup && !removed_images.is_empty() {
        let in_use = match client
            .list_containers(ListOptions {
                include_stopped: true,
                include_restarting: true,
            })
            .await
        {
            Ok(all) => all.into_iter().map(|c| c.image_id).collect(),
            Err(err) => {
                warn!(error = %err, "cannot list containers; not cleaning up instance images");
                removed_images.clone()
            }
        };
        for image in removed_images.difference(&in_use) {
            match client.remove_image(image).await {
                Ok(()) => info!(image = %image, "removed the image of an older instance"),
                Err(err) => warn!(
                    image = %image,
                    error = %err,
                    "could not remove the image of an older instance, possibly because of instances in other scopes"
                ),
            }
        }
    }

    if failed > 0 {
        return Err(Error::ExcessInstances {
            failed,
            excess: instances.len(),
        });
    }
    Ok(instances.len())
}

fn created(c: &Container) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(&c.created)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// With `--rolling-restart`, no selected container may depend on another (links, the
/// depends-on label, `network_mode: container:<x>`): one-at-a-time restarts would break them.
/// The error names the first such container.
pub async fn check_rolling_restart<C>(
    client: &C,
    filter: &Filter,
    options: ListOptions,
) -> Result<(), Error>
where
    C: ContainerClient + ?Sized,
{
    let containers = client
        .list_containers(options)
        .await
        .map_err(|source| Error::List { source })?;
    for c in containers.iter().filter(|c| filter.matches(c)) {
        if let Some(dep) = dependencies_of(c).into_iter().next() {
            return Err(Error::RollingRestartWithDependencies {
                container: c.name.trim_start_matches('/').to_owned(),
                depends_on: dep,
            });
        }
    }
    Ok(())
}
