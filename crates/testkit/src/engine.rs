//! The Docker Engine side of the bench: connection, labelled objects, cleanup.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, bail};
use bollard::Docker;
use bollard::auth::DockerCredentials;
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, HostConfig, Ipam, IpamConfig,
    NetworkCreateRequest, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, ListContainersOptionsBuilder,
    ListImagesOptionsBuilder, ListNetworksOptionsBuilder, ListVolumesOptionsBuilder, LogsOptions,
    RemoveContainerOptionsBuilder, RemoveImageOptionsBuilder, RemoveVolumeOptionsBuilder,
};
use futures_util::StreamExt as _;

/// Label carrying the run id of the [`Engine`] that created a Docker object.
pub const RUN_LABEL: &str = "watchtower.testkit.run";
/// Label carrying the process id of the test process that created a Docker object.
pub const PID_LABEL: &str = "watchtower.testkit.pid";
/// Label naming the pid namespace of [`PID_LABEL`] (e.g. `pid:[4026531836]`): a pid is only
/// judged dead by a process that sees the same namespace, so tests running in a container that
/// shares the engine never sweep a live run of the host (or the other way round).
pub const PID_NAMESPACE_LABEL: &str = "watchtower.testkit.pidns";
/// Label carrying the value of [`SESSION_ENV`] when it is set: `cargo xtask ci` sets it so that
/// its leftover check after the tests looks only at what this CI run created.
pub const SESSION_LABEL: &str = "watchtower.testkit.session";
/// Environment variable naming the test session (set by `cargo xtask ci`).
pub const SESSION_ENV: &str = "WATCHTOWER_TESTKIT_SESSION";

/// How long connecting to the engine may take before the test is skipped (or fails).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Upper bound for removing one run's objects in `Drop`.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(120);

/// A connection to the Docker Engine, owning every object it creates.
///
/// Each `Engine` has a fresh run id. Objects created through it (containers, networks, volumes,
/// fixture images) carry [`RUN_LABEL`]` = <run id>` and [`PID_LABEL`]` = <pid>`; dropping the
/// `Engine` removes everything with its run id — containers by force with their anonymous
/// volumes, then networks, volumes and images. Containers that code under test recreates copy
/// the labels and are removed too. `Drop` works during a panic unwind as well.
pub struct Engine {
    docker: Docker,
    run_id: String,
    api_version: String,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("run_id", &self.run_id)
            .field("api_version", &self.api_version)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Connects to the engine, or reports a skip and returns `None` when none answers.
    ///
    /// The skip is a loud `SKIPPED: <test> needs a Docker Engine: <reason>` block on stderr;
    /// with `WATCHTOWER_E2E=required` it panics with that reason instead.
    pub async fn require() -> Option<Engine> {
        match Engine::connect().await {
            Ok(engine) => Some(engine),
            Err(err) => {
                crate::skip("a Docker Engine", &format!("{err:#}"));
                None
            }
        }
    }

    /// Connects to the engine named by `DOCKER_HOST` (`unix://`, `tcp://`) or the default socket,
    /// negotiating the API version, and sweeps objects left by test processes that are gone.
    pub async fn connect() -> anyhow::Result<Engine> {
        let docker = connect_docker().await?;
        let api_version = docker.client_version().to_string();
        let engine = Engine {
            docker,
            run_id: format!("{}-{}", std::process::id(), crate::random_hex(6)),
            api_version,
        };
        if let Err(err) = sweep_stale(&engine.docker).await {
            eprintln!("watchtower-testkit: sweeping stale test objects failed: {err:#}");
        }
        Ok(engine)
    }

    /// The bollard client (API version already negotiated).
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// This engine's run id, the value of [`RUN_LABEL`] on everything it creates.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The negotiated API version, e.g. `1.41`.
    pub fn api_version(&self) -> &str {
        &self.api_version
    }

    /// The labels every object of this run carries: [`RUN_LABEL`], [`PID_LABEL`],
    /// [`PID_NAMESPACE_LABEL`], and [`SESSION_LABEL`] when [`SESSION_ENV`] is set.
    ///
    /// Add them to objects created outside the helpers so that they are cleaned up too.
    pub fn labels(&self) -> HashMap<String, String> {
        let mut labels = HashMap::from([
            (RUN_LABEL.to_owned(), self.run_id.clone()),
            (PID_LABEL.to_owned(), std::process::id().to_string()),
            (PID_NAMESPACE_LABEL.to_owned(), pid_namespace()),
        ]);
        if let Ok(session) = std::env::var(SESSION_ENV) {
            labels.insert(SESSION_LABEL.to_owned(), session);
        }
        labels
    }

    /// A name unique to this run: `<prefix>-<run id>`, for containers, networks and volumes, so
    /// that tests running at the same time never collide.
    pub fn unique_name(&self, prefix: &str) -> String {
        format!("{prefix}-{}", self.run_id)
    }

    /// Creates a container named `name` and returns its id.
    ///
    /// The run labels are added. When the caller set neither `host_config.network_mode` nor
    /// `networking_config`, the container gets `network_mode: none`.
    pub async fn create_container(
        &self,
        name: &str,
        body: impl Into<ContainerCreateBody>,
    ) -> anyhow::Result<String> {
        let mut body = body.into();
        body.labels
            .get_or_insert_with(HashMap::new)
            .extend(self.labels());
        if body.networking_config.is_none() {
            let host_config = body.host_config.get_or_insert_with(HostConfig::default);
            host_config
                .network_mode
                .get_or_insert_with(|| "none".to_owned());
        }
        let image = body.image.clone().unwrap_or_default();
        let options = CreateContainerOptionsBuilder::default().name(name).build();
        let created = self
            .docker
            .create_container(Some(options), body)
            .await
            .with_context(|| format!("creating container {name} from image {image}"))?;
        Ok(created.id)
    }

    /// Creates and starts a container named `name`; returns its id. See [`Engine::create_container`].
    pub async fn run_container(
        &self,
        name: &str,
        body: impl Into<ContainerCreateBody>,
    ) -> anyhow::Result<String> {
        let id = self.create_container(name, body).await?;
        self.docker
            .start_container(&id, None)
            .await
            .with_context(|| format!("starting container {name}"))?;
        Ok(id)
    }

    /// Waits until the output (stdout or stderr) of container `id` contains `needle`. A
    /// test container whose script traps signals prints a marker after its `trap`s: until
    /// then its shell, PID 1 in the container, discards every signal it has no handler for,
    /// so a stop sent earlier would be lost.
    pub async fn wait_for_output(
        &self,
        id: &str,
        needle: &str,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let options = LogsOptions {
                stdout: true,
                stderr: true,
                ..LogsOptions::default()
            };
            let mut logs = self.docker.logs(id, Some(options));
            let mut output = String::new();
            while let Some(chunk) = logs.next().await {
                let chunk = chunk.with_context(|| format!("reading the output of {id}"))?;
                output.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
            }
            if output.contains(needle) {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                bail!("container {id} did not print {needle:?} within {timeout:?}: {output:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Inspects the container `name` (name or id).
    pub async fn inspect_container(&self, name: &str) -> anyhow::Result<ContainerInspectResponse> {
        self.docker
            .inspect_container(name, None)
            .await
            .with_context(|| format!("inspecting container {name}"))
    }

    /// Whether a container `name` (name or id) exists.
    pub async fn container_exists(&self, name: &str) -> anyhow::Result<bool> {
        match self.docker.inspect_container(name, None).await {
            Ok(_) => Ok(true),
            Err(err) if is_not_found(&err) => Ok(false),
            Err(err) => Err(err).with_context(|| format!("inspecting container {name}")),
        }
    }

    /// Creates an internal bridge network named `name` and returns its id.
    pub async fn create_network(&self, name: &str) -> anyhow::Result<String> {
        self.create_network_inner(name, None).await
    }

    /// Creates an internal bridge network with the given IPv4 `subnet` (CIDR, e.g.
    /// `172.31.250.0/24`) for static-IP tests; returns its id.
    ///
    /// The caller picks the subnet; the engine refuses one that overlaps an existing network,
    /// which this error names. The network is internal: nothing routes to or from it.
    pub async fn create_network_with_subnet(
        &self,
        name: &str,
        subnet: &str,
    ) -> anyhow::Result<String> {
        self.create_network_inner(name, Some(subnet)).await
    }

    async fn create_network_inner(
        &self,
        name: &str,
        subnet: Option<&str>,
    ) -> anyhow::Result<String> {
        let request = NetworkCreateRequest {
            name: name.to_owned(),
            driver: Some("bridge".to_owned()),
            internal: Some(true),
            labels: Some(self.labels()),
            ipam: subnet.map(|subnet| Ipam {
                config: Some(vec![IpamConfig {
                    subnet: Some(subnet.to_owned()),
                    ..IpamConfig::default()
                }]),
                ..Ipam::default()
            }),
            ..NetworkCreateRequest::default()
        };
        let created = self
            .docker
            .create_network(request)
            .await
            .with_context(|| match subnet {
                Some(subnet) => format!("creating internal network {name} with subnet {subnet}"),
                None => format!("creating internal network {name}"),
            })?;
        Ok(created.id)
    }

    /// Creates a named volume and returns its name.
    pub async fn create_volume(&self, name: &str) -> anyhow::Result<String> {
        let volume = self
            .docker
            .create_volume(VolumeCreateRequest {
                name: Some(name.to_owned()),
                labels: Some(self.labels()),
                ..VolumeCreateRequest::default()
            })
            .await
            .with_context(|| format!("creating volume {name}"))?;
        Ok(volume.name)
    }

    /// Pulls `reference` (`host/repo:tag` or `host/repo@sha256:...`; the tag defaults to
    /// `latest`, never "all tags"), with registry `credentials` as `(user, password)`.
    pub async fn pull(
        &self,
        reference: &str,
        credentials: Option<(&str, &str)>,
    ) -> anyhow::Result<()> {
        let (image, tag) = split_reference(reference);
        let options = CreateImageOptionsBuilder::default()
            .from_image(image)
            .tag(tag)
            .build();
        let credentials = credentials.map(|(user, password)| DockerCredentials {
            username: Some(user.to_owned()),
            password: Some(password.to_owned()),
            serveraddress: Some(registry_host(reference).to_owned()),
            ..DockerCredentials::default()
        });
        let mut stream = self.docker.create_image(Some(options), None, credentials);
        while let Some(item) = stream.next().await {
            item.with_context(|| format!("pulling {reference}"))?;
        }
        Ok(())
    }

    /// The local image id (`sha256:...`) that `reference` points at, or `None` when the engine
    /// has no such image.
    pub async fn image_id(&self, reference: &str) -> anyhow::Result<Option<String>> {
        match self.docker.inspect_image(reference).await {
            Ok(image) => Ok(image.id),
            Err(err) if is_not_found(&err) => Ok(None),
            Err(err) => Err(err).with_context(|| format!("inspecting image {reference}")),
        }
    }

    /// Removes everything labelled with this run id now (what `Drop` does, but async).
    pub async fn cleanup(&self) -> anyhow::Result<()> {
        let errors = remove_labelled(&self.docker, &format!("{RUN_LABEL}={}", self.run_id)).await;
        if errors.is_empty() {
            Ok(())
        } else {
            bail!("cleaning up run {}: {}", self.run_id, errors.join("; "))
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let filter = format!("{RUN_LABEL}={}", self.run_id);
        // The test's runtime may be single-threaded and busy running this very `drop`, so the
        // cleanup gets its own thread, runtime and connection (pooled connections of
        // `self.docker` belong to the test's runtime and must not be used from another one).
        let worker = std::thread::Builder::new()
            .name("testkit-cleanup".to_owned())
            .spawn(move || -> Vec<String> {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(err) => return vec![format!("building a cleanup runtime: {err}")],
                };
                runtime.block_on(async {
                    let docker = match connect_docker().await {
                        Ok(docker) => docker,
                        Err(err) => return vec![format!("{err:#}")],
                    };
                    match tokio::time::timeout(CLEANUP_TIMEOUT, remove_labelled(&docker, &filter))
                        .await
                    {
                        Ok(errors) => errors,
                        Err(_) => vec![format!("timed out after {CLEANUP_TIMEOUT:?}")],
                    }
                })
            });
        let errors = match worker.map(std::thread::JoinHandle::join) {
            Ok(Ok(errors)) => errors,
            Ok(Err(_)) => vec!["the cleanup thread panicked".to_owned()],
            Err(err) => vec![format!("spawning the cleanup thread: {err}")],
        };
        if !errors.is_empty() {
            eprintln!(
                "watchtower-testkit: cleaning up run {} left objects behind: {}",
                self.run_id,
                errors.join("; ")
            );
        }
    }
}

/// A small builder for the common container: image, cmd, env, labels, host config.
///
/// Converts into a bollard [`ContainerCreateBody`], so it can be passed to
/// [`Engine::create_container`] and [`Engine::run_container`]:
///
/// ```no_run
/// # async fn f(engine: &watchtower_testkit::Engine) -> anyhow::Result<()> {
/// use watchtower_testkit::ContainerSpec;
/// let spec = ContainerSpec::new("127.0.0.1:5000/bench/app:latest")
///     .cmd(["sh", "-c", "sleep 1000"])
///     .env("MODE", "test")
///     .label("com.centurylinklabs.watchtower.enable", "true");
/// engine.run_container(&engine.unique_name("app"), spec).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct ContainerSpec {
    body: ContainerCreateBody,
}

impl ContainerSpec {
    /// A container of `image` with the image's defaults.
    pub fn new(image: impl Into<String>) -> Self {
        ContainerSpec {
            body: ContainerCreateBody {
                image: Some(image.into()),
                ..ContainerCreateBody::default()
            },
        }
    }

    /// Sets the command.
    #[must_use]
    pub fn cmd<I, S>(mut self, cmd: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.body.cmd = Some(cmd.into_iter().map(Into::into).collect());
        self
    }

    /// Sets the entrypoint.
    #[must_use]
    pub fn entrypoint<I, S>(mut self, entrypoint: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.body.entrypoint = Some(entrypoint.into_iter().map(Into::into).collect());
        self
    }

    /// Adds the environment variable `key=value`.
    #[must_use]
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.body
            .env
            .get_or_insert_with(Vec::new)
            .push(format!("{key}={value}"));
        self
    }

    /// Adds the label `key=value`.
    #[must_use]
    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.body
            .labels
            .get_or_insert_with(HashMap::new)
            .insert(key.to_owned(), value.to_owned());
        self
    }

    /// Replaces the host config (its `network_mode` defaults to `none` when left unset).
    #[must_use]
    pub fn host_config(mut self, host_config: HostConfig) -> Self {
        self.body.host_config = Some(host_config);
        self
    }

    /// Sets `host_config.network_mode` (an internal network's name, `none`, `container:<x>`).
    #[must_use]
    pub fn network_mode(mut self, mode: &str) -> Self {
        self.body
            .host_config
            .get_or_insert_with(HostConfig::default)
            .network_mode = Some(mode.to_owned());
        self
    }

    /// Sets the stop signal, e.g. `SIGINT`.
    #[must_use]
    pub fn stop_signal(mut self, signal: &str) -> Self {
        self.body.stop_signal = Some(signal.to_owned());
        self
    }

    /// Gives access to the whole bollard body for anything the builder does not cover.
    #[must_use]
    pub fn with_body(mut self, edit: impl FnOnce(&mut ContainerCreateBody)) -> Self {
        edit(&mut self.body);
        self
    }

    /// The bollard body this spec describes.
    pub fn into_body(self) -> ContainerCreateBody {
        self.body
    }
}

impl From<ContainerSpec> for ContainerCreateBody {
    fn from(spec: ContainerSpec) -> Self {
        spec.body
    }
}

/// Connects to `DOCKER_HOST` (or the default socket) and negotiates the API version.
async fn connect_docker() -> anyhow::Result<Docker> {
    let host =
        std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
    let docker = Docker::connect_with_defaults()
        .with_context(|| format!("connecting to the Docker Engine at {host}"))?;
    let docker = tokio::time::timeout(CONNECT_TIMEOUT, docker.negotiate_version())
        .await
        .with_context(|| {
            format!("the Docker Engine at {host} did not answer within {CONNECT_TIMEOUT:?}")
        })?
        .with_context(|| format!("asking the Docker Engine at {host} for its version"))?;
    tokio::time::timeout(CONNECT_TIMEOUT, docker.ping())
        .await
        .with_context(|| format!("the Docker Engine at {host} did not answer a ping"))?
        .with_context(|| format!("pinging the Docker Engine at {host}"))?;
    Ok(docker)
}

/// Whether bollard reports a 404 from the engine.
pub(crate) fn is_not_found(err: &bollard::errors::Error) -> bool {
    matches!(
        err,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// Splits `reference` into what the engine's pull API wants: the image and the tag (or digest).
fn split_reference(reference: &str) -> (&str, &str) {
    if let Some((image, digest)) = reference.split_once('@') {
        return (image, digest);
    }
    let last_slash = reference.rfind('/').map_or(0, |i| i + 1);
    match reference[last_slash..].rfind(':') {
        Some(colon) => (
            &reference[..last_slash + colon],
            &reference[last_slash + colon + 1..],
        ),
        None => (reference, "latest"),
    }
}

/// The registry host part of `reference` (`127.0.0.1:5000` in `127.0.0.1:5000/a/b:c`).
pub(crate) fn registry_host(reference: &str) -> &str {
    match reference.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => first,
        _ => "docker.io",
    }
}

/// Removes every container, network, volume and image matching the label filter `filter`
/// (`key=value`); returns one message per object that could not be removed.
async fn remove_labelled(docker: &Docker, filter: &str) -> Vec<String> {
    let filters = HashMap::from([("label".to_owned(), vec![filter.to_owned()])]);
    let mut errors = Vec::new();

    match docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
    {
        Ok(containers) => {
            for id in containers.into_iter().filter_map(|c| c.id) {
                if let Err(err) = remove_container(docker, &id).await {
                    errors.push(format!("container {id}: {err}"));
                }
            }
        }
        Err(err) => errors.push(format!("listing containers: {err}")),
    }

    match docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
    {
        Ok(networks) => {
            for id in networks.into_iter().filter_map(|n| n.id) {
                if let Err(err) = docker.remove_network(&id).await
                    && !is_not_found(&err)
                {
                    errors.push(format!("network {id}: {err}"));
                }
            }
        }
        Err(err) => errors.push(format!("listing networks: {err}")),
    }

    match docker
        .list_volumes(Some(
            ListVolumesOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
    {
        Ok(list) => {
            for volume in list.volumes.unwrap_or_default() {
                let options = RemoveVolumeOptionsBuilder::default().force(true).build();
                if let Err(err) = docker.remove_volume(&volume.name, Some(options)).await
                    && !is_not_found(&err)
                {
                    errors.push(format!("volume {}: {err}", volume.name));
                }
            }
        }
        Err(err) => errors.push(format!("listing volumes: {err}")),
    }

    errors.extend(remove_images(docker, &filters).await);
    errors
}

async fn remove_container(docker: &Docker, id: &str) -> Result<(), bollard::errors::Error> {
    let options = RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build();
    match docker.remove_container(id, Some(options)).await {
        Err(err) if is_not_found(&err) => Ok(()),
        // "removal of container ... is already in progress" (e.g. --rm containers).
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 409,
            message,
        }) if message.contains("already in progress") => Ok(()),
        other => other,
    }
}

/// Removes labelled images; a second pass catches images that were parents of others.
async fn remove_images(docker: &Docker, filters: &HashMap<String, Vec<String>>) -> Vec<String> {
    let mut errors = Vec::new();
    for pass in 0..2 {
        errors.clear();
        let images = match docker
            .list_images(Some(
                ListImagesOptionsBuilder::default().filters(filters).build(),
            ))
            .await
        {
            Ok(images) => images,
            Err(err) => return vec![format!("listing images: {err}")],
        };
        if images.is_empty() {
            break;
        }
        for image in images {
            let options = RemoveImageOptionsBuilder::default().force(true).build();
            match docker.remove_image(&image.id, Some(options), None).await {
                Ok(_) => {}
                Err(err) if is_not_found(&err) => {}
                Err(err) => errors.push(format!("image {} (pass {}): {err}", image.id, pass + 1)),
            }
        }
    }
    errors
}

/// Removes objects whose [`PID_LABEL`] names a process that no longer exists (a killed run).
async fn sweep_stale(docker: &Docker) -> anyhow::Result<()> {
    if !Path::new("/proc/self").exists() {
        return Ok(()); // Cannot tell which processes exist; leave everything alone.
    }
    let filters = HashMap::from([("label".to_owned(), vec![PID_LABEL.to_owned()])]);
    let namespace = pid_namespace();
    let mut dead_runs = std::collections::BTreeSet::new();
    let mut note = |labels: Option<&HashMap<String, String>>| {
        let Some(labels) = labels else { return };
        if let (Some(pid), Some(run)) = (labels.get(PID_LABEL), labels.get(RUN_LABEL))
            && labels.get(PID_NAMESPACE_LABEL) == Some(&namespace)
            && !process_exists(pid)
        {
            dead_runs.insert(run.clone());
        }
    };
    let containers = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .context("listing test containers")?;
    for c in &containers {
        note(c.labels.as_ref());
    }
    let networks = docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .context("listing test networks")?;
    for n in &networks {
        note(n.labels.as_ref());
    }
    let volumes = docker
        .list_volumes(Some(
            ListVolumesOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .context("listing test volumes")?;
    volumes
        .volumes
        .iter()
        .flatten()
        .for_each(|v| note(Some(&v.labels)));
    let images = docker
        .list_images(Some(
            ListImagesOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .context("listing test images")?;
    for i in &images {
        note(Some(&i.labels));
    }

    let mut errors = Vec::new();
    for run in dead_runs {
        errors.extend(remove_labelled(docker, &format!("{RUN_LABEL}={run}")).await);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        bail!("{}", errors.join("; "))
    }
}

/// This process's pid namespace, e.g. `pid:[4026531836]` (`unknown` where /proc cannot tell).
pub(crate) fn pid_namespace() -> String {
    std::fs::read_link("/proc/self/ns/pid").map_or_else(
        |_| "unknown".to_owned(),
        |link| link.to_string_lossy().into_owned(),
    )
}

/// Whether the process `pid` (a decimal string) exists on this machine.
fn process_exists(pid: &str) -> bool {
    match pid.parse::<u32>() {
        Ok(pid) if pid > 0 => Path::new("/proc").join(pid.to_string()).exists(),
        // A label we did not write: not ours to judge, so treat it as alive.
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_into_image_and_tag() {
        assert_eq!(
            split_reference("127.0.0.1:5000/a/b:v2"),
            ("127.0.0.1:5000/a/b", "v2")
        );
        assert_eq!(
            split_reference("127.0.0.1:5000/a/b"),
            ("127.0.0.1:5000/a/b", "latest")
        );
        assert_eq!(split_reference("busybox"), ("busybox", "latest"));
        assert_eq!(
            split_reference("127.0.0.1:5000/a@sha256:abcd"),
            ("127.0.0.1:5000/a", "sha256:abcd")
        );
    }

    #[test]
    fn registry_host_is_the_first_component_only_when_it_looks_like_a_host() {
        assert_eq!(registry_host("127.0.0.1:5000/a/b:v2"), "127.0.0.1:5000");
        assert_eq!(registry_host("localhost/a"), "localhost");
        assert_eq!(registry_host("library/busybox"), "docker.io");
        assert_eq!(registry_host("busybox:1"), "docker.io");
    }

    #[test]
    fn process_exists_knows_this_process_and_not_a_dead_one() {
        assert!(process_exists(&std::process::id().to_string()));
        // Above the kernel's pid_max limit (4194304), so it can never exist.
        assert!(!process_exists("4294967295"));
        assert!(process_exists("not-a-pid"));
    }

    #[test]
    fn container_spec_builds_the_body() {
        let body: ContainerCreateBody = ContainerSpec::new("img")
            .cmd(["sh", "-c", "true"])
            .env("A", "1")
            .label("k", "v")
            .network_mode("net")
            .into();
        assert_eq!(body.image.as_deref(), Some("img"));
        assert_eq!(
            body.cmd,
            Some(vec!["sh".into(), "-c".into(), "true".into()])
        );
        assert_eq!(body.env, Some(vec!["A=1".into()]));
        assert_eq!(body.labels.unwrap()["k"], "v");
        assert_eq!(
            body.host_config.unwrap().network_mode.as_deref(),
            Some("net")
        );
    }
}
