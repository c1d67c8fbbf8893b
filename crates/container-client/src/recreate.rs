//! The recreate rules: how a container is re-made from a new image with the same
//! configuration.

use crate::model::{ContainerConfig, HostConfig, NetworkAttachment, NetworkMode};

/// Everything needed to create the replacement of a container.
#[derive(Debug, Clone, PartialEq)]
pub struct RecreateSpec {
    /// Name for the new container (the old one's name).
    pub name: String,
    /// Image reference to create from.
    pub image: String,
    /// The merged configuration.
    pub config: ContainerConfig,
    /// The old container's host configuration, whole.
    pub host_config: HostConfig,
    /// Network mode, with `container:<x>` pointing at the current container named `x`.
    pub network_mode: NetworkMode,
    /// Network endpoints to attach.
    pub networks: Vec<NetworkAttachment>,
}
