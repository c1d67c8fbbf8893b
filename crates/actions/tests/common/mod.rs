//! Helpers shared by the engine-backed tests of this crate: anonymous volumes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context as _;
use watchtower_container_client::{ContainerClient, DockerClient};
use watchtower_testkit::{Engine, FixtureSpec};

/// Anonymous volumes carry no label, so the testkit cannot find them, and the engine keeps a
/// carried-over one when its container is removed (it is mounted by name). This removes the
/// volumes a test names, after the containers that use them, when it is dropped (also when
/// the test panics). Declare it after the `Engine`, so that it is dropped first.
#[derive(Default)]
pub(crate) struct Volumes(Mutex<Vec<String>>);

impl Volumes {
    pub(crate) fn track(&self, name: &str) {
        self.0.lock().expect("volume list").push(name.to_owned());
    }
}

impl Drop for Volumes {
    fn drop(&mut self) {
        let names = std::mem::take(
            &mut *self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        if names.is_empty() {
            return;
        }
        let sweep = std::thread::spawn(move || -> anyhow::Result<()> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let docker = bollard::Docker::connect_with_defaults()?
                    .negotiate_version()
                    .await?;
                for name in &names {
                    let filters = HashMap::from([("volume", vec![name.as_str()])]);
                    let users = docker
                        .list_containers(Some(
                            bollard::query_parameters::ListContainersOptionsBuilder::default()
                                .all(true)
                                .filters(&filters)
                                .build(),
                        ))
                        .await?;
                    for id in users.into_iter().filter_map(|c| c.id) {
                        let force =
                            bollard::query_parameters::RemoveContainerOptionsBuilder::default()
                                .force(true)
                                .build();
                        let _gone = docker.remove_container(&id, Some(force)).await;
                    }
                    let force = bollard::query_parameters::RemoveVolumeOptionsBuilder::default()
                        .force(true)
                        .build();
                    let _gone = docker.remove_volume(name, Some(force)).await;
                }
                Ok(())
            })
        });
        if let Ok(Err(err)) | Err(err) = sweep.join().map_err(|_| anyhow::anyhow!("panicked")) {
            eprintln!("removing the test's anonymous volumes: {err:#}");
        }
    }
}

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
    volumes: &Volumes,
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
