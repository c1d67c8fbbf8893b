//! The seam between the update engine and a container engine.

use std::time::Duration;

use async_trait::async_trait;

use crate::error::Error;
use crate::model::{Container, EngineInfo, ExecOutcome, Image, ListOptions, PullAuth, StopOptions};
use crate::recreate::RecreateSpec;

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything the update engine asks of a container engine, and nothing more.
///
/// Implemented for Docker by [`crate::DockerClient`]; `MockContainerClient` (feature `mock`)
/// is the mockall mock for unit tests of the engine. Containers are addressed by ID or name.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait ContainerClient: Send + Sync {
    /// Running containers (plus stopped/restarting ones per `options`), each inspected.
    async fn list_containers(&self, options: ListOptions) -> Result<Vec<Container>>;

    /// One container, inspected.
    async fn inspect_container(&self, id_or_name: &str) -> Result<Container>;

    /// One image by ID or reference.
    async fn inspect_image(&self, id_or_reference: &str) -> Result<Image>;

    /// Pulls `reference` (reading the progress stream to its end) and returns the image the
    /// reference now points to.
    async fn pull_image(&self, reference: &str, auth: Option<PullAuth>) -> Result<Image>;

    /// Sends the stop signal, waits up to the timeout, then kills. Does not remove.
    async fn stop_container(&self, id: &str, options: StopOptions) -> Result<()>;

    /// Renames a container.
    async fn rename_container(&self, id: &str, new_name: &str) -> Result<()>;

    /// Removes a container; anonymous volumes too when `remove_volumes`. Missing is success.
    async fn remove_container(&self, id: &str, remove_volumes: bool) -> Result<()>;

    /// Creates a container from a recreate spec, under `spec.name`; returns its ID. Attaches
    /// as many of the spec's networks at creation as the engine's API version allows.
    async fn create_container(&self, spec: &RecreateSpec) -> Result<String>;

    /// Attaches the spec's networks that `create_container` could not attach.
    async fn connect_networks(&self, id: &str, spec: &RecreateSpec) -> Result<()>;

    /// Starts a container.
    async fn start_container(&self, id: &str) -> Result<()>;

    /// Runs `sh -c <command>` inside a running container, waiting up to `timeout`
    /// (`None`: no limit).
    async fn exec(&self, id: &str, command: &str, timeout: Option<Duration>)
    -> Result<ExecOutcome>;

    /// Removes an image by ID (forced, as the original's cleanup does).
    async fn remove_image(&self, image_id: &str) -> Result<()>;

    /// Tags the image `image_id` as `<repository>:<tag>` (moving the tag if it exists).
    async fn tag_image(&self, image_id: &str, repository: &str, tag: &str) -> Result<()>;

    /// Engine version, negotiated API version, insecure registries.
    async fn engine_info(&self) -> Result<EngineInfo>;

    /// Waits until the container runs (and, when it has a healthcheck, is healthy), up to
    /// `timeout`. Errors when it exits or turns unhealthy.
    async fn wait_until_ready(&self, id: &str, timeout: Duration) -> Result<()>;
}
