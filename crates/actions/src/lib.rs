//! The update engine of watchtower: which containers to look at, whether their images are
//! still fresh, and how to recreate them without ever losing one.
//!
//! An [`Updater`] joins a container engine
//! ([`ContainerClient`](watchtower_container_client::ContainerClient)) and a registry
//! ([`FreshnessChecker`]) under a set of [`Params`]. Each session takes a [`Filter`] and
//! returns a [`Report`]:
//!
//! - [`Updater::check`] answers "what is stale?" and changes nothing;
//! - [`Updater::update`] also pulls and recreates, following the safe update protocol: the
//!   old container is stopped and renamed aside (`<name>-wt-old-<short id>`) and kept until
//!   its replacement runs; any failure puts it back under its name, running as before, and
//!   the report names the step that failed.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), watchtower_actions::Error> {
//! use async_trait::async_trait;
//! use watchtower_actions::{
//!     Filter, Freshness, FreshnessChecker, FreshnessQuery, Params, Updater,
//! };
//! use watchtower_container_client::{Container, Image, MockContainerClient, PullAuth};
//! use watchtower_registry_auth::ImageReference;
//!
//! /// A registry that says every image is fresh.
//! struct AlwaysFresh;
//!
//! #[async_trait]
//! impl FreshnessChecker for AlwaysFresh {
//!     async fn check(&self, _: &FreshnessQuery) -> Freshness {
//!         Freshness::Fresh
//!     }
//!     async fn pull_auth(
//!         &self,
//!         _: &ImageReference,
//!     ) -> Result<Option<PullAuth>, watchtower_actions::Error> {
//!         Ok(None)
//!     }
//! }
//!
//! // The engine knows one running container, `web`, on image sha256:aa.
//! let web = Container {
//!     id: "0123456789ab0123456789ab".into(),
//!     name: "web".into(),
//!     image_reference: "nginx:1.27".into(),
//!     image_id: "sha256:aa".into(),
//!     ..Container::default()
//! };
//! let image = Image { id: "sha256:aa".into(), ..Image::default() };
//! let mut engine = MockContainerClient::new();
//! engine.expect_list_containers().returning(move |_| Ok(vec![web.clone()]));
//! engine.expect_inspect_image().returning(move |_| Ok(image.clone()));
//! engine.expect_pull_image().never();
//!
//! let updater = Updater::new(engine, AlwaysFresh, Params::default());
//! let report = updater.check(&Filter::all()).await?;
//! assert_eq!(report.fresh()[0].name(), "/web");
//! assert!(report.updated().is_empty());
//! # Ok(())
//! # }
//! ```
//!
//! The binary wires the real parts in: `DockerClient` from `watchtower-container-client`
//! and [`RegistryChecker`], the registry client of `watchtower-registry-digest` with the pull
//! credentials of `watchtower-registry-auth` (see its example).
//!
//! Besides sessions, the crate offers the start-up steps of the binary:
//! [`cleanup_excess_instances`] (one watchtower per scope; completes a self-update),
//! [`check_rolling_restart`] and [`reconcile()`] (also run at the start of every update).
//!
//! # What a session does
//!
//! 1. settle containers left renamed aside by an interrupted session ([`reconcile()`]);
//! 2. list containers (running; `include_stopped`, `include_restarting`) and keep those the
//!    [`Filter`] selects; run their `pre-check` hooks;
//! 3. check: one registry question per distinct image (concurrently, bounded), digest-pinned
//!    references are never stale, `no_pull` (flag or label) compares the local tag only; a pull
//!    only when the registry says stale or could not answer;
//! 4. plan: stale containers that are not monitor-only, plus every container depending on
//!    one (links, the `depends-on` label, `network_mode: container:<x>`), in dependency order;
//!    containers in a dependency cycle fail with step `dependency-cycle`, the others go on;
//! 5. update: stop dependents first, then recreate dependencies first (or, with
//!    `rolling_restart`, one container at a time, each ready before the next); watchtower's own
//!    container is never stopped: it is renamed aside and its successor started;
//! 6. with `cleanup`, remove the old images no container uses any more; run `post-check` hooks.
//!
//! # Logging
//!
//! Sessions log `tracing` events with structured fields (`container`, `image`, `reason`).
//! Bookkeeping lines that every session writes ("checking containers for updated images",
//! "session done" with the counts) carry the field `notify = "no"`: the binary's
//! notification layer leaves them in the local log, so a session notification holds what
//! happened to containers, as the original's did.
//!
//! # Dependencies
//!
//! The container engine only through the `ContainerClient` trait, registries only through
//! [`FreshnessChecker`] (implemented for the real client by [`RegistryChecker`]); no bollard
//! or hyper type appears in this crate's API.

#![warn(missing_docs)]

mod check;
mod error;
mod filter;
mod freshness;
mod gate;
mod image_ref;
mod instances;
mod labels;
mod order;
mod params;
mod plan;
mod reconcile;
mod registry;
mod rejected;
mod update;
mod updater;

pub use error::Error;
pub use filter::Filter;
pub use freshness::{Freshness, FreshnessChecker, FreshnessQuery, WarnOnHeadFailure};
pub use instances::{
    EXCESS_INSTANCE_STOP_TIMEOUT, check_rolling_restart, cleanup_excess_instances,
};
pub use order::dependencies_of;
pub use params::{CancelToken, Params, UpdateOrder, format_go_duration};
pub use plan::{CheckAction, CheckPlan, CheckState, CheckedContainer};
pub use reconcile::{Reconciled, original_name, reconcile};
pub use registry::RegistryChecker;
pub use rejected::REJECTED_TAG_PREFIX;
pub use update::{ASIDE_MARKER, HOLDER_MARKER, aside_name, volume_holder_name};
pub use updater::Updater;
pub use watchtower_session_report::Report;

/// The container labels the engine reads, and how their values combine with flags.
pub mod label {
    pub use crate::labels::{
        DEPENDS_ON, ENABLE, HEALTH_GATE, MONITOR_ONLY, NO_PULL, REPLACES, SCOPE, STOP_SIGNAL,
        SWARM_SERVICE_ID, SWARM_SERVICE_NAME, SWARM_TASK_ID, UPDATE_ORDER, VOLUME_HOLDER,
        WATCHTOWER, ZODIAC_ORIGINAL_IMAGE, health_gate_of, is_watchtower, label_or_global,
        parse_bool, scope_of, stop_signal_of, swarm_service_of, update_order_of,
    };
}

/// The image a container is checked with, parsed once ([`ImageName`](reference::ImageName)),
/// and the selectors of [`Filter::images`](crate::Filter::images). References are parsed by
/// `watchtower_registry_auth::ImageReference`.
pub mod reference {
    pub use crate::image_ref::{ImageName, ImageSelector, is_image_id};
}

#[cfg(test)]
mod fake;
#[cfg(test)]
mod gate_tests;
#[cfg(test)]
mod mock_tests;
#[cfg(test)]
mod tests;
