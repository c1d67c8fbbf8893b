//! The container engine seam of watchtower: the [`ContainerClient`] trait, its Docker
//! implementation [`DockerClient`], and the rules for recreating a container from a new image
//! ([`RecreateSpec::build`]).
//!
//! The update engine (`watchtower-actions`) only ever sees the trait and the plain-data model
//! ([`Container`], [`Image`], ...); bollard and HTTP stay inside [`DockerClient`]. Unit tests of
//! the engine use `MockContainerClient` (feature `mock`), tests of this crate use the real
//! engine.
//!
//! # Connecting
//!
//! [`DockerOptions::from_env`] reads `DOCKER_HOST` (`unix://`, `tcp://`, `http://`,
//! `https://`), `DOCKER_TLS_VERIFY` with `DOCKER_CERT_PATH` (`ca.pem`, `cert.pem`, `key.pem`)
//! and `DOCKER_API_VERSION`. [`DockerClient::connect`] then asks the engine for its API range
//! with an unversioned `GET /version` and speaks the newest version both know, or the requested
//! one when the engine supports it (an unsupported request falls back to negotiation with a
//! warning, so a stale `DOCKER_API_VERSION=1.25` does not break on Docker 29). It works from
//! Docker Engine 20.10 (API 1.41) to 29.x (API 1.44 and up). Behaviour that depends on the
//! version is listed on [`ApiVersion`]:
//!
//! | API version | networks at create | user MAC address | stop with another signal |
//! |---|---|---|---|
//! | < 1.42 | the primary one, then connect the others | `Config.MacAddress` (primary network only) | `kill`, wait, then `stop` |
//! | 1.42, 1.43 | the primary one, then connect the others | `Config.MacAddress` (primary network only) | `stop?signal=` |
//! | >= 1.44 | all of them | per endpoint | `stop?signal=` |
//!
//! # Recreate rules
//!
//! [`RecreateSpec::build`] is a three-way merge between the old **container**, the **old
//! image** it was created from, and the **new image**. A value the user set (the container's
//! value differs from the old image's default) is kept; a value equal to the old image's default
//! follows the new image. The spec holds the complete configuration: the new container's
//! `inspect` shows exactly the spec's values (the engine's own merge of image defaults at create
//! time has nothing left to add).
//!
//! | Setting | Rule |
//! |---|---|
//! | `Env` | Key by key: an entry equal to the old image's `K=V` follows the new image (new value, or gone when the new image dropped `K`); any other entry is kept. The new image's other keys are added. |
//! | `Labels` | Key by key, as `Env` (compose labels, enable/scope labels and overrides are kept; image labels follow). |
//! | `Entrypoint` | Follows the new image when equal to the old image's; otherwise kept (a cleared entrypoint stays explicitly empty). |
//! | `Cmd` | Follows the new image only when the entrypoint follows too **and** it equals the old image's command; otherwise kept. A command belongs to its entrypoint, and the engine drops an image's command once a container sets an entrypoint. |
//! | `WorkingDir`, `User`, `StopSignal` | Follow the new image when equal to the old image's; otherwise kept. |
//! | `ExposedPorts` | The new image's, plus the container's ports the old image did not expose, plus every key of `HostConfig.PortBindings`. |
//! | `Volumes` (anonymous) | The new image's, plus the container's mount points the old image did not declare. |
//! | Anonymous volumes' data | Carried over, so a database's data survives its update (as `docker compose` does): each volume mounted in the old container under a name the engine generated (64 hex digits), at a destination that `Binds`, `Mounts` and `Tmpfs` give no source of their own, is mounted again at the same destination, by name, when the destination is still a volume of the new container (the `Volumes` above) or the user's host config asks for an anonymous volume there (a `Mounts` entry or bind without a source, whose source is then filled in). Others get a `HostConfig.Mounts` entry labelled [`CARRIED_VOLUME_LABEL`], which the next recreation decides again. A destination the new image no longer declares is not carried: the volume stays with the old container, and the new container gets nothing there. New `VOLUME`s get fresh volumes. Listed in [`RecreateSpec::carried_volumes`]. |
//! | `Healthcheck` | Field by field (test, interval, timeout, start period, start interval, retries): equal to the old image's follows the new image, otherwise kept. A check the old image did not have is the user's, whole; `NONE` stays disabled; nothing left means no check. |
//! | `Hostname`, `Domainname` | Kept only when the user set them: the default hostname (the old container's short ID) is dropped so the new container gets its own. Dropped for `network_mode` `host` or `container:` and `UTSMode=host`, where the engine refuses them. |
//! | `Shell`, `OnBuild` | Build-time settings: dropped when equal to the old image's, never frozen in. |
//! | `Tty`, `OpenStdin`, `StdinOnce`, `Attach*`, `StopTimeout` | Kept. |
//! | `MacAddress` | A user-set MAC of the primary network is kept; engine-generated ones (`02:42:` + the IPv4 address, up to Docker 27) are never carried over; Docker 28's random ones cannot be told from a user's and are kept. |
//! | `HostConfig` | Kept whole (but for the carried anonymous volumes above): binds, named volumes, mounts, tmpfs, port bindings, restart policy, resources and memory limits, capabilities, devices, log config, extra hosts, DNS, sysctls, ulimits, security options, init, IPC/PID/UTS/userns modes, runtime, ... `Links` are rewritten from the inspect form `/db:/web/db` to `db:db`. |
//! | Networks | Every endpoint is kept with its aliases (minus the old short-ID alias, which the engine would otherwise pile up), static IPv4/IPv6 (`IPAMConfig`), links, driver options and user-set MAC. The default `bridge` network gets no aliases (the engine rejects them there). |
//! | `network_mode` | `host`, `none`, `bridge`, a user network: kept. `container:<x>` is read as the *name* of the container owning the namespace and resolved to the current container of that name at create time, so dependents follow a recreated parent. |
//!
//! Carried volumes are safe from container removal: the engine deletes a container's volumes
//! (`v=true`: `--remove-volumes`, `--rm`, a rollback) only when the container mounted them
//! without a name and no other container uses them. So the old container's removal keeps the
//! volumes its successor uses, and removing a half-made successor deletes only the volumes the
//! engine made for it. The flip side, as with `docker compose`: a volume once carried is never
//! again deleted with a container; once unused it is dangling, and `docker volume prune` removes
//! it. Volumes a container gets through `VolumesFrom` are not in [`Container::volume_mounts`]
//! and come again through `VolumesFrom`. For a container started with `--rm`, which deletes its
//! anonymous volumes as it stops, [`RecreateSpec::volume_holder`] keeps them in use meanwhile.
//! Seen on Docker Engine 20.10 (API 1.41) and 26.1 (API 1.45) by `tests/docker_engine.rs`.
//!
//! ```
//! use watchtower_container_client::{Container, ContainerConfig, Image, RecreateSpec};
//!
//! let image = |env: &[&str]| Image {
//!     config: ContainerConfig {
//!         env: env.iter().map(|s| s.to_string()).collect(),
//!         ..ContainerConfig::default()
//!     },
//!     ..Image::default()
//! };
//! let old = image(&["VERSION=1", "MODE=prod"]);
//! let new = image(&["VERSION=2", "MODE=prod", "ADDED=yes"]);
//! let container = Container {
//!     id: "4f2a9c0e11d3".repeat(5),
//!     name: "/web".into(),
//!     config: ContainerConfig {
//!         // The user set TOKEN and overrode MODE; VERSION is the image's default.
//!         env: vec!["TOKEN=abc".into(), "MODE=dev".into(), "VERSION=1".into()],
//!         hostname: Some("4f2a9c0e11d3".into()),
//!         ..ContainerConfig::default()
//!     },
//!     ..Container::default()
//! };
//!
//! let spec = RecreateSpec::build(&container, &old, &new, "registry.example/web:latest");
//! assert_eq!(spec.name, "web");
//! assert_eq!(spec.config.env, ["TOKEN=abc", "MODE=dev", "VERSION=2", "ADDED=yes"]);
//! assert_eq!(spec.config.hostname, None); // the old short ID does not stick
//! ```
//!
//! # Boundaries
//!
//! This crate stands alone: it must not depend on `watchtower-actions`, `watchtower-lifecycle`
//! or any registry crate (credentials arrive as a plain [`PullAuth`]). No bollard type appears
//! in its public API. It logs with `tracing` and never prints; credentials never reach a log
//! line, an error or `Debug` output.

#![warn(missing_docs)]

mod api_version;
mod client;
mod docker;
mod error;
mod model;
mod recreate;

pub use api_version::ApiVersion;
#[cfg(any(test, feature = "mock"))]
pub use client::MockContainerClient;
pub use client::{ContainerClient, Result};
pub use docker::{DockerClient, DockerOptions, EXEC_OUTPUT_LIMIT};
pub use error::Error;
pub use model::{
    CARRIED_VOLUME_LABEL, Container, ContainerConfig, ContainerState, EngineInfo, ExecOutcome,
    HealthStatus, Healthcheck, HostConfig, Image, ListOptions, NetworkAttachment, NetworkMode,
    PullAuth, StopOptions, VolumeMount,
};
pub use recreate::RecreateSpec;
