//! Helpers shared by the engine-backed tests of this crate: anonymous volumes.

use std::time::Duration;

use anyhow::Context as _;
use watchtower_container_client::{ContainerClient, DockerClient};
use watchtower_testkit::{AnonymousVolumes, Engine, FixtureSpec};

/// A fixture spec with `VOLUME` lines.
pub(crate) fn with_volumes(volumes: &[&str]) -> FixtureSpec {
    volumes.iter().fold(FixtureSpec::default(), |spec, v| {
        spec.line(&format!("VOLUME {v}"))
    })
}

/// The name of the volume mounted at `destination` in container `id`, as the engine reports.
pub(crate) async fn volume_at(
    engine: &Engine,
    id: &str,
    destination: &str,
) -> anyhow::Result<Option<String>> {
    Ok(engine
        .inspect_container(id)
        .await?
        .mounts
        .unwrap_or_default()
        .into_iter()
        .find(|m| {
            m.typ.as_deref() == Some("volume") && m.destination.as_deref() == Some(destination)
        })
        .and_then(|m| m.name))
}

pub(crate) async fn volume_exists(engine: &Engine, name: &str) -> anyhow::Result<bool> {
    match engine.docker().inspect_volume(name).await {
        Ok(_) => Ok(true),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(false),
        Err(e) => Err(e).context("inspecting a volume"),
    }
}

/// The output of `command` run in container `id`, which must succeed.
pub(crate) async fn sh(client: &DockerClient, id: &str, command: &str) -> anyhow::Result<String> {
    let out = client
        .exec(id, command, Some(Duration::from_secs(10)))
        .await?;
    anyhow::ensure!(
        out.exit_code == Some(0),
        "`{command}` in {id}: exit {:?}: {}",
        out.exit_code,
        out.output
    );
    Ok(out.output.trim().to_owned())
}

/// Writes `/data/file` in container `id` and returns the anonymous volume at `/data`,
/// tracked for removal.
pub(crate) async fn write_data(
    engine: &Engine,
    client: &DockerClient,
    volumes: &AnonymousVolumes,
    id: &str,
) -> anyhow::Result<String> {
    sh(client, id, "echo precious > /data/file").await?;
    let data = volume_at(engine, id, "/data")
        .await?
        .context("no volume at /data")?;
    volumes.track(&data);
    anyhow::ensure!(data.len() == 64, "not an anonymous volume: {data}");
    Ok(data)
}
