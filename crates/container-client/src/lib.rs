//! The container engine seam of watchtower (being written: the trait and the model are the
//! contract; the Docker implementation and the recreate rules follow).

#![warn(missing_docs)]

mod client;
mod error;
mod model;
mod recreate;

#[cfg(any(test, feature = "mock"))]
pub use client::MockContainerClient;
pub use client::{ContainerClient, Result};
pub use error::Error;
pub use model::{
    Container, ContainerConfig, ContainerState, EngineInfo, ExecOutcome, HealthStatus,
    Healthcheck, HostConfig, Image, ListOptions, NetworkAttachment, NetworkMode, PullAuth,
    StopOptions,
};
pub use recreate::RecreateSpec;
