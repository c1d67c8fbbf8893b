//! [`DockerClient`]: the [`ContainerClient`] for Docker Engine, on bollard.

mod connect;
mod convert;
mod errors;
mod reference;

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use bollard::Docker;
use bollard::auth::DockerCredentials;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::models::NetworkConnectRequest;
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, KillContainerOptions, ListContainersOptions,
    RemoveContainerOptions, RemoveImageOptions, RenameContainerOptions, StopContainerOptions,
    TagImageOptions,
};
use futures_util::StreamExt;
use tokio::time::Instant;
use tracing::{debug, info, warn};

pub use connect::DockerOptions;

/// How many containers `list_containers` inspects at once.
const INSPECT_CONCURRENCY: usize = 8;

use crate::api_version::ApiVersion;
use crate::client::{ContainerClient, Result};
use crate::error::Error;
use crate::model::{
    Container, ContainerState, EngineInfo, ExecOutcome, HealthStatus, Image, ListOptions,
    NetworkMode, PullAuth, StopOptions,
};
use crate::recreate::RecreateSpec;
use errors::{ErrorContext, Target};

/// The most output [`ContainerClient::exec`] keeps (64 KiB); the rest is read and dropped.
pub const EXEC_OUTPUT_LIMIT: usize = 64 * 1024;

/// How often state is polled while waiting for a container.
const POLL: Duration = Duration::from_millis(200);

/// How long a container may take to go away after it was killed.
const AFTER_KILL: Duration = Duration::from_secs(10);

/// The Docker Engine implementation of [`ContainerClient`].
///
/// Cheap to clone; all clones share one connection pool.
#[derive(Debug, Clone)]
pub struct DockerClient {
    docker: Docker,
    host: String,
    api: ApiVersion,
}

impl DockerClient {
    /// Connects as `options` say and settles the API version with the engine (see the crate
    /// docs). Fails when the engine does not answer or speaks no version this client knows.
    pub async fn connect(options: DockerOptions) -> Result<Self> {
        let (docker, host, api) = connect::connect(&options).await?;
        // Once per process, not an event worth a notification (`notify = "no"`: the
        // binary's notification layer leaves such lines in the local log).
        info!(notify = "no", host = %host, api_version = %api, "connected to the docker engine");
        Ok(Self { docker, host, api })
    }

    /// [`DockerClient::connect`] with [`DockerOptions::from_env`].
    pub async fn connect_from_env() -> Result<Self> {
        Self::connect(DockerOptions::from_env()?).await
    }

    /// The API version in use.
    pub fn api_version(&self) -> ApiVersion {
        self.api
    }

    /// The engine address, as given (`unix:///var/run/docker.sock`).
    pub fn host(&self) -> &str {
        &self.host
    }

    fn ctx<'a>(&'a self, operation: &'static str, target: Target<'a>) -> ErrorContext<'a> {
        ErrorContext {
            host: &self.host,
            operation,
            target,
        }
    }

    async fn inspect_raw(&self, id: &str) -> Result<bollard::models::ContainerInspectResponse> {
        self.docker
            .inspect_container(id, None)
            .await
            .map_err(|e| self.ctx("inspect", Target::Container(id)).translate(e))
    }

    /// Inspects, resolves `container:<id>` to the parent's name and leaves out the volumes
    /// that came through `VolumesFrom`.
    async fn inspect_resolved(&self, id: &str) -> Result<Container> {
        let mut c = convert::container(self.inspect_raw(id).await?);
        let sources = c.host_config.inner.volumes_from.clone().unwrap_or_default();
        for source in &sources {
            // `<container>[:ro|:rw]`
            let source = source.split(':').next().unwrap_or_default();
            match self.inspect_raw(source).await {
                Ok(s) => {
                    let shared: Vec<String> = s
                        .mounts
                        .unwrap_or_default()
                        .into_iter()
                        .filter_map(|m| m.name)
                        .collect();
                    c.volume_mounts.retain(|m| !shared.contains(&m.name));
                }
                Err(Error::NotFound { .. }) => {
                    warn!(container = %c.name, volumes_from = %source,
                        "the container this one takes volumes from does not exist");
                }
                Err(e) => return Err(e),
            }
        }
        if let NetworkMode::Container(parent) = &c.network_mode {
            match self.inspect_raw(parent).await {
                Ok(p) => {
                    let name = p
                        .name
                        .unwrap_or_default()
                        .trim_start_matches('/')
                        .to_owned();
                    c.network_mode = NetworkMode::Container(name);
                }
                Err(Error::NotFound { .. }) => {
                    warn!(container = %c.name, parent = %parent,
                        "the container whose network namespace this one shares does not exist");
                }
                Err(e) => return Err(e),
            }
        }
        Ok(c)
    }

    async fn is_running(&self, id: &str) -> Result<bool> {
        let s = self.inspect_raw(id).await?.state.unwrap_or_default();
        Ok(s.running.unwrap_or(false) || s.restarting.unwrap_or(false))
    }

    /// Polls until the container is not running, up to `limit`.
    async fn wait_stopped(&self, id: &str, limit: Duration) -> Result<bool> {
        let deadline = Instant::now() + limit;
        loop {
            match self.is_running(id).await {
                Ok(false) | Err(Error::NotFound { .. }) => return Ok(true),
                Ok(true) => {}
                Err(e) => return Err(e),
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Creates with a body that also carries `Config.MacAddress`, a field the models of
    /// newer APIs no longer have: the serialised body is replaced on the way out.
    async fn create_with_legacy_mac(
        &self,
        options: CreateContainerOptions,
        body: bollard::models::ContainerCreateBody,
        mac: &str,
    ) -> std::result::Result<bollard::models::ContainerCreateResponse, bollard::errors::Error> {
        let mut json = serde_json::to_value(&body)?;
        json["MacAddress"] = serde_json::Value::String(mac.to_owned());
        let bytes = bytes::Bytes::from(serde_json::to_vec(&json)?);
        let docker = self.docker.clone().with_request_modifier(move |req| {
            if req.uri().path().ends_with("/containers/create") {
                let (parts, _) = req.into_parts();
                http::Request::from_parts(
                    parts,
                    http_body_util::Either::Left(http_body_util::Full::new(bytes.clone())),
                )
            } else {
                req
            }
        });
        docker.create_container(Some(options), body).await
    }
}

fn same_signal(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        let s = s.trim().to_ascii_uppercase();
        s.strip_prefix("SIG").map(str::to_owned).unwrap_or(s)
    };
    norm(a) == norm(b)
}

fn duration_secs_i32(d: Duration) -> i32 {
    i32::try_from(d.as_secs() + u64::from(d.subsec_nanos() > 0)).unwrap_or(i32::MAX)
}

fn credentials(auth: Option<PullAuth>) -> Option<DockerCredentials> {
    let a = auth?;
    if a.username.is_none() && a.password.is_none() && a.identity_token.is_none() {
        return None;
    }
    Some(DockerCredentials {
        username: a.username,
        password: a.password,
        identitytoken: a.identity_token,
        serveraddress: (!a.server_address.is_empty()).then_some(a.server_address),
        ..DockerCredentials::default()
    })
}

/// Appends `chunk` to `out` up to [`EXEC_OUTPUT_LIMIT`]; returns whether something was dropped.
fn append_capped(out: &mut Vec<u8>, chunk: &[u8]) -> bool {
    let room = EXEC_OUTPUT_LIMIT.saturating_sub(out.len());
    out.extend_from_slice(&chunk[..chunk.len().min(room)]);
    chunk.len() > room
}

#[async_trait]
impl ContainerClient for DockerClient {
    async fn list_containers(&self, options: ListOptions) -> Result<Vec<Container>> {
        let mut status = vec!["running".to_owned()];
        if options.include_stopped {
            status.extend(["created".to_owned(), "exited".to_owned()]);
        }
        if options.include_restarting {
            status.push("restarting".to_owned());
        }
        let summaries = self
            .docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(HashMap::from([("status".to_owned(), status)])),
                ..ListContainersOptions::default()
            }))
            .await
            .map_err(|e| self.ctx("list", Target::Engine).translate(e))?;
        // The inspects run a few at a time (in list order): one after the other they cost
        // a round trip to the engine each, which is most of a session over many containers.
        let inspected: Vec<(String, Result<Container>)> =
            futures_util::stream::iter(summaries.into_iter().filter_map(|s| s.id))
                .map(|id| async move {
                    let result = self.inspect_resolved(&id).await;
                    (id, result)
                })
                .buffered(INSPECT_CONCURRENCY)
                .collect()
                .await;
        let mut out = Vec::with_capacity(inspected.len());
        for (id, result) in inspected {
            match result {
                Ok(c) => out.push(c),
                // Removed between list and inspect.
                Err(Error::NotFound { .. }) => debug!(container = %id, "gone before inspect"),
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    async fn inspect_container(&self, id_or_name: &str) -> Result<Container> {
        self.inspect_resolved(id_or_name).await
    }

    async fn inspect_image(&self, id_or_reference: &str) -> Result<Image> {
        self.docker
            .inspect_image(id_or_reference)
            .await
            .map(convert::image)
            .map_err(|e| {
                self.ctx("inspect", Target::Image(id_or_reference))
                    .translate(e)
            })
    }

    async fn pull_image(&self, reference: &str, auth: Option<PullAuth>) -> Result<Image> {
        let (repository, tag) = reference::split(reference)?;
        let ctx = self.ctx("pull", Target::Image(reference));
        debug!(image = %reference, authenticated = auth.is_some(), "pulling");
        let mut stream = self.docker.create_image(
            Some(CreateImageOptions {
                from_image: Some(repository),
                tag: Some(tag),
                ..CreateImageOptions::default()
            }),
            None,
            credentials(auth),
        );
        while let Some(item) = stream.next().await {
            let item = item.map_err(|e| ctx.translate(e))?;
            if let Some(detail) = item.error_detail {
                return Err(ctx.stream_error(&detail.message.unwrap_or_default()));
            }
        }
        info!(image = %reference, "pulled");
        self.inspect_image(reference).await
    }

    async fn stop_container(&self, id: &str, options: StopOptions) -> Result<()> {
        let ctx = self.ctx("stop", Target::Container(id));
        let inspected = self.inspect_raw(id).await?;
        let state = inspected.state.unwrap_or_default();
        if !(state.running.unwrap_or(false) || state.restarting.unwrap_or(false)) {
            debug!(container = %id, "already stopped");
            return Ok(());
        }
        let own = inspected
            .config
            .and_then(|c| c.stop_signal)
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "SIGTERM".to_owned());
        let signal = if options.signal.trim().is_empty() {
            own.clone()
        } else {
            options.signal.clone()
        };
        // The stop call returns only after the engine's own grace period.
        let slow = self
            .docker
            .clone()
            .with_timeout(options.timeout + Duration::from_secs(60));
        let t = duration_secs_i32(options.timeout);
        debug!(container = %id, signal = %signal, timeout_s = t, "stopping");
        if same_signal(&signal, &own) || self.api.has_stop_signal_parameter() {
            // `stop` marks the container as stopped by the user, so a restart policy does not
            // bring it back, and kills it after the timeout.
            let opts = StopContainerOptions {
                signal: (!same_signal(&signal, &own)).then_some(signal),
                t: Some(t),
            };
            slow.stop_container(id, Some(opts))
                .await
                .map_err(|e| ctx.translate(e))?;
        } else {
            match self
                .docker
                .kill_container(id, Some(KillContainerOptions { signal }))
                .await
            {
                Ok(()) => {}
                Err(e) => match ctx.translate(e) {
                    Error::Container { message, .. } if message.contains("is not running") => {}
                    e => return Err(e),
                },
            }
            if !self.wait_stopped(id, options.timeout).await? {
                // Still up: stop with no grace period (stop signal, then SIGKILL).
                slow.stop_container(
                    id,
                    Some(StopContainerOptions {
                        signal: None,
                        t: Some(0),
                    }),
                )
                .await
                .map_err(|e| ctx.translate(e))?;
            }
        }
        if self.wait_stopped(id, AFTER_KILL).await? {
            Ok(())
        } else {
            Err(Error::Timeout {
                what: "stop",
                container: id.to_owned(),
                seconds: (options.timeout + AFTER_KILL).as_secs(),
            })
        }
    }

    async fn rename_container(&self, id: &str, new_name: &str) -> Result<()> {
        self.docker
            .rename_container(
                id,
                RenameContainerOptions {
                    name: new_name.to_owned(),
                },
            )
            .await
            .map_err(|e| self.ctx("rename", Target::Container(id)).translate(e))
    }

    async fn remove_container(&self, id: &str, remove_volumes: bool) -> Result<()> {
        let ctx = self.ctx("remove", Target::Container(id));
        let result = self
            .docker
            .remove_container(
                id,
                Some(RemoveContainerOptions {
                    v: remove_volumes,
                    force: true,
                    link: false,
                }),
            )
            .await;
        match result.map_err(|e| ctx.translate(e)) {
            Ok(()) | Err(Error::NotFound { .. }) => {}
            // Auto-remove or another caller got there first: wait for it to finish.
            Err(Error::Container { message, .. }) if message.contains("already in progress") => {}
            Err(e) => return Err(e),
        }
        let deadline = Instant::now() + AFTER_KILL;
        loop {
            match self.inspect_raw(id).await {
                Err(Error::NotFound { .. }) => return Ok(()),
                Err(e) => return Err(e),
                Ok(_) if Instant::now() >= deadline => {
                    return Err(Error::Timeout {
                        what: "removal",
                        container: id.to_owned(),
                        seconds: AFTER_KILL.as_secs(),
                    });
                }
                Ok(_) => tokio::time::sleep(POLL).await,
            }
        }
    }

    async fn create_container(&self, spec: &RecreateSpec) -> Result<String> {
        let ctx = self.ctx("create", Target::Container(&spec.name));
        let parent = match &spec.network_mode {
            NetworkMode::Container(name) => Some(
                self.inspect_raw(name)
                    .await
                    .map_err(|e| match e {
                        Error::NotFound { .. } => Error::Container {
                            operation: "create",
                            container: spec.name.clone(),
                            message: format!(
                                "network_mode container:{name}: no container named {name}"
                            ),
                        },
                        e => e,
                    })?
                    .id
                    .unwrap_or_default(),
            ),
            _ => None,
        };
        let plan = convert::plan_create(spec, self.api, parent.as_deref());
        let options = CreateContainerOptions {
            name: Some(spec.name.clone()),
            ..CreateContainerOptions::default()
        };
        let created = match &plan.legacy_mac_address {
            Some(mac) => self.create_with_legacy_mac(options, plan.body, mac).await,
            None => self.docker.create_container(Some(options), plan.body).await,
        }
        .map_err(|e| ctx.translate(e))?;
        for w in &created.warnings {
            warn!(container = %spec.name, warning = %w, "engine warning on create");
        }
        info!(container = %spec.name, id = %created.id, image = %spec.image, "created");
        Ok(created.id)
    }

    async fn connect_networks(&self, id: &str, spec: &RecreateSpec) -> Result<()> {
        if spec.networks.is_empty() {
            return Ok(());
        }
        let attached: Vec<String> = self
            .inspect_raw(id)
            .await?
            .network_settings
            .and_then(|n| n.networks)
            .map(|n| n.into_keys().collect())
            .unwrap_or_default();
        for a in &spec.networks {
            if attached.contains(&a.network) {
                continue;
            }
            // Engines apply an endpoint's MAC only at create (from API 1.44): Docker 20.10
            // and 26.1 alike ignore it on connect, so a network connected here gets the
            // engine's MAC. From 1.44 every network is attached at create and none comes here.
            if a.mac_address.is_some() {
                warn!(container = %spec.name, network = %a.network, api_version = %self.api,
                    "a MAC address cannot be kept on a network connected after create (needs \
                    API 1.44, where every network is attached at create); the engine picks one");
            }
            self.docker
                .connect_network(
                    &a.network,
                    NetworkConnectRequest {
                        container: id.to_owned(),
                        endpoint_config: Some(convert::endpoint(a, self.api)),
                    },
                )
                .await
                .map_err(|e| {
                    self.ctx("connect network", Target::Container(&spec.name))
                        .translate(e)
                })?;
            debug!(container = %spec.name, network = %a.network, "connected");
        }
        Ok(())
    }

    async fn start_container(&self, id: &str) -> Result<()> {
        self.docker
            .start_container(id, None)
            .await
            .map_err(|e| self.ctx("start", Target::Container(id)).translate(e))
    }

    async fn exec(
        &self,
        id: &str,
        command: &str,
        timeout: Option<Duration>,
    ) -> Result<ExecOutcome> {
        let ctx = self.ctx("exec in", Target::Container(id));
        let exec = self
            .docker
            .create_exec(
                id,
                CreateExecOptions {
                    cmd: Some(vec!["sh", "-c", command]),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..CreateExecOptions::default()
                },
            )
            .await
            .map_err(|e| ctx.translate(e))?;
        let started = self
            .docker
            .start_exec(&exec.id, Some(StartExecOptions::default()))
            .await
            .map_err(|e| ctx.translate(e))?;
        let StartExecResults::Attached { mut output, input } = started else {
            return Err(ctx.stream_error("the engine did not attach to the exec"));
        };
        drop(input);
        let mut buf = Vec::new();
        let mut truncated = false;
        let read = async {
            while let Some(chunk) = output.next().await {
                let chunk = chunk.map_err(|e| ctx.translate(e))?;
                truncated |= append_capped(&mut buf, &chunk.into_bytes());
            }
            Ok::<(), Error>(())
        };
        let finished = match timeout {
            Some(limit) => tokio::time::timeout(limit, read).await.ok(),
            None => Some(read.await),
        };
        let mut text = String::from_utf8_lossy(&buf).into_owned();
        if truncated {
            text.push_str("\n[output truncated]");
        }
        match finished {
            None => {
                warn!(container = %id, command = %command, "exec timed out");
                return Ok(ExecOutcome {
                    exit_code: None,
                    output: text,
                });
            }
            Some(r) => r?,
        }
        // The stream ends when the process does; the exit code may lag a moment behind.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let i = self
                .docker
                .inspect_exec(&exec.id)
                .await
                .map_err(|e| ctx.translate(e))?;
            if !i.running.unwrap_or(false) || Instant::now() >= deadline {
                return Ok(ExecOutcome {
                    exit_code: i.exit_code.filter(|_| !i.running.unwrap_or(false)),
                    output: text,
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn remove_image(&self, image_id: &str) -> Result<()> {
        self.docker
            .remove_image(
                image_id,
                Some(RemoveImageOptions {
                    force: true,
                    ..RemoveImageOptions::default()
                }),
                None,
            )
            .await
            .map(|_| ())
            .map_err(|e| self.ctx("remove", Target::Image(image_id)).translate(e))
    }

    async fn tag_image(&self, image_id: &str, repository: &str, tag: &str) -> Result<()> {
        self.docker
            .tag_image(
                image_id,
                Some(TagImageOptions {
                    repo: Some(repository.to_owned()),
                    tag: Some(tag.to_owned()),
                }),
            )
            .await
            .map_err(|e| self.ctx("tag", Target::Image(image_id)).translate(e))
    }

    async fn engine_info(&self) -> Result<EngineInfo> {
        let ctx = self.ctx("query", Target::Engine);
        let version = self.docker.version().await.map_err(|e| ctx.translate(e))?;
        let info = self.docker.info().await.map_err(|e| ctx.translate(e))?;
        let registry = info.registry_config.unwrap_or_default();
        let mut names: Vec<String> = registry
            .index_configs
            .unwrap_or_default()
            .into_values()
            .filter(|i| i.secure == Some(false))
            .filter_map(|i| i.name)
            .collect();
        names.sort();
        Ok(EngineInfo {
            server_version: version.version.unwrap_or_default(),
            api_version: self.api.to_string(),
            insecure_registry_cidrs: registry.insecure_registry_cidrs.unwrap_or_default(),
            insecure_registry_names: names,
        })
    }

    async fn wait_until_ready(&self, id: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let c = convert::container(self.inspect_raw(id).await?);
            match (&c.state, &c.health) {
                (
                    ContainerState::Running,
                    None | Some(HealthStatus::None | HealthStatus::Healthy),
                ) => {
                    return Ok(());
                }
                (ContainerState::Running, Some(HealthStatus::Unhealthy)) => {
                    return Err(Error::Container {
                        operation: "wait for",
                        container: id.to_owned(),
                        message: "it is unhealthy".to_owned(),
                    });
                }
                (ContainerState::Exited | ContainerState::Dead | ContainerState::Removing, _) => {
                    return Err(Error::Container {
                        operation: "wait for",
                        container: id.to_owned(),
                        message: format!("it is {} instead of running", state_word(&c.state)),
                    });
                }
                _ => {}
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout {
                    what: "readiness",
                    container: id.to_owned(),
                    seconds: timeout.as_secs(),
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

fn state_word(s: &ContainerState) -> &str {
    match s {
        ContainerState::Created => "created",
        ContainerState::Running => "running",
        ContainerState::Paused => "paused",
        ContainerState::Restarting => "restarting",
        ContainerState::Removing => "being removed",
        ContainerState::Exited => "exited",
        ContainerState::Dead => "dead",
        ContainerState::Other(s) => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_compare_by_name() {
        assert!(same_signal("SIGTERM", "TERM"));
        assert!(same_signal("sigusr1", "SIGUSR1"));
        assert!(!same_signal("SIGTERM", "SIGINT"));
    }

    #[test]
    fn timeouts_round_up_to_whole_seconds() {
        assert_eq!(duration_secs_i32(Duration::from_secs(10)), 10);
        assert_eq!(duration_secs_i32(Duration::from_millis(1500)), 2);
        assert_eq!(duration_secs_i32(Duration::ZERO), 0);
        assert_eq!(duration_secs_i32(Duration::from_secs(u64::MAX)), i32::MAX);
    }

    #[test]
    fn credentials_map_to_the_registry_auth_header_fields() {
        assert_eq!(credentials(None), None);
        assert_eq!(credentials(Some(PullAuth::default())), None);
        let c = credentials(Some(PullAuth {
            username: Some("u".into()),
            password: Some("p".into()),
            identity_token: None,
            server_address: "127.0.0.1:5000".into(),
        }))
        .unwrap();
        assert_eq!(c.username.as_deref(), Some("u"));
        assert_eq!(c.password.as_deref(), Some("p"));
        assert_eq!(c.serveraddress.as_deref(), Some("127.0.0.1:5000"));
        let c = credentials(Some(PullAuth {
            identity_token: Some("tok".into()),
            ..PullAuth::default()
        }))
        .unwrap();
        assert_eq!(c.identitytoken.as_deref(), Some("tok"));
        assert_eq!(c.serveraddress, None);
    }

    #[test]
    fn exec_output_is_capped() {
        let mut out = Vec::new();
        assert!(!append_capped(&mut out, &[b'a'; 10]));
        assert!(append_capped(&mut out, &vec![b'b'; EXEC_OUTPUT_LIMIT]));
        assert_eq!(out.len(), EXEC_OUTPUT_LIMIT);
        assert!(append_capped(&mut out, b"c"));
        assert_eq!(out.len(), EXEC_OUTPUT_LIMIT);
        assert_eq!(&out[..10], &[b'a'; 10]);
    }
}
