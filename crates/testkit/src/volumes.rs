//! [`AnonymousVolumes`]: removes the anonymous volumes a test names when it is dropped.

use std::collections::HashMap;
use std::sync::Mutex;

/// Anonymous volumes carry no label, so the testkit cannot find them, and the engine keeps a
/// carried-over one when its container is removed (it is mounted by name). This removes the
/// volumes a test names, after the containers that use them, when it is dropped (also when
/// the test panics). Declare it after the `Engine`, so that it is dropped first.
#[derive(Default)]
pub struct AnonymousVolumes(Mutex<Vec<String>>);

impl AnonymousVolumes {
    /// Removes the volume `name` (after the containers using it) when this is dropped.
    pub fn track(&self, name: &str) {
        self.0.lock().expect("volume list").push(name.to_owned());
    }
}

impl Drop for AnonymousVolumes {
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
