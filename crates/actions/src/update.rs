//! The safe update of one container (DESIGN.md, "Safe update"):
//!
//! pre-update hook -> rename aside `<name>-wt-old-<short id>` -> stop -> create the new one
//! under the original name -> connect networks -> start (if the old one ran, or
//! `--revive-stopped`) -> [health gate | rolling: wait until ready] -> post-update hook ->
//! remove the old one. Start-first ([`Protocol::start_first`]) leaves out the stop until the
//! new one runs (and passed its gate), then stops the old one before removing it.
//!
//! Any failure after the rename rolls back: the half-made new container is removed, the old
//! one gets its name back and is started again if it was running. The outcome names the
//! step that failed and whether the rollback worked.
//!
//! The new container mounts the old one's anonymous volumes again (the recreate rules,
//! `RecreateSpec::carried_volumes`), by name; the engine deletes no volume that another
//! container uses or that a container mounts by name, so neither `--remove-volumes` nor a
//! rollback can delete them. A container started with `--rm` deletes its anonymous volumes as
//! it stops: a holder container (`<name>-wt-volumes-<short id>`) keeps those to be carried in
//! use until it is gone.

use std::time::Duration;

use tracing::{debug, error, info, warn};
use watchtower_container_client::{
    Container, ContainerClient, ContainerState, Error as ClientError, Image, RecreateSpec,
    StopOptions,
};
use watchtower_lifecycle::PreUpdateDecision;
use watchtower_session_report::{ContainerRef, FailedStep};

use crate::gate::Gate;
use crate::{Params, labels};

/// The part of a renamed-aside container's name between the original name and the short ID.
pub const ASIDE_MARKER: &str = "-wt-old-";

/// The name a container is renamed to while its replacement is made.
pub fn aside_name(container: &Container) -> String {
    format!(
        "{}{ASIDE_MARKER}{}",
        container.name.trim_start_matches('/'),
        container.short_id()
    )
}

/// The part of a volume holder's name between the original name and the short ID.
pub const HOLDER_MARKER: &str = "-wt-volumes-";

/// The name of the container that keeps a `--rm` container's anonymous volumes in use while
/// it stops (see [`RecreateSpec::volume_holder`]).
pub fn volume_holder_name(container: &Container) -> String {
    format!(
        "{}{HOLDER_MARKER}{}",
        container.name.trim_start_matches('/'),
        container.short_id()
    )
}

/// How long a container started with `--rm` may take to disappear after it stopped.
const AUTO_REMOVE_WAIT: Duration = Duration::from_secs(10);

/// One container to recreate.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    pub(crate) container: Container,
    pub(crate) cref: ContainerRef,
    pub(crate) old_image: Image,
    /// The image to recreate from (the old one for a dependent that is itself fresh).
    pub(crate) new_image: Image,
    /// What goes into the new container's `Config.Image`.
    pub(crate) reference: String,
    /// Recreated because its image is stale (otherwise: because a dependency was).
    pub(crate) stale: bool,
    /// This is a watchtower instance: never stopped, renamed aside while its successor starts.
    pub(crate) self_update: bool,
    /// The health gate the new container must pass (`--health-gate` or the label).
    pub(crate) gate: Option<Gate>,
    /// Start-first: the new container runs before the old one is stopped.
    pub(crate) start_first: bool,
    /// Start-first was asked for but cannot be done, for this reason (stop-first instead).
    pub(crate) fallback: Option<String>,
    /// The digest the registry served for the new image (to remember it when the health
    /// gate rolls it back).
    pub(crate) new_digest: Option<String>,
}

/// What happened to a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Recreated (`new_id`), or with `--no-restart` stopped and removed (`None`).
    Updated { new_id: Option<String> },
    /// Left alone (pre-update hook exit 75, session cancelled).
    Skipped(String),
    /// A step failed; `restored` says whether the old container is back as it was.
    Failed {
        step: FailedStep,
        reason: String,
        restored: bool,
    },
}

/// A job whose old container is stopped and out of the way.
#[derive(Debug)]
pub(crate) struct Stopped {
    job: Job,
    spec: RecreateSpec,
    was_running: bool,
    /// The name the old container was renamed to (`None`: not renamed yet / auto-removed).
    aside: Option<String>,
    /// The old container removed itself when it stopped (`--rm`).
    auto_removed: bool,
    /// Start-first: the old container still runs (renamed aside) while the new one starts.
    old_running: bool,
}

impl Stopped {
    pub(crate) fn job(&self) -> &Job {
        &self.job
    }
}

pub(crate) enum StopPhase {
    Stopped(Box<Stopped>),
    Done(Outcome),
}

fn was_running(state: &ContainerState) -> bool {
    matches!(
        state,
        ContainerState::Running | ContainerState::Restarting | ContainerState::Paused
    )
}

fn failed(step: FailedStep, reason: String, rollback: Result<(), String>) -> Outcome {
    match rollback {
        Ok(()) => Outcome::Failed {
            step,
            reason,
            restored: true,
        },
        Err(problem) => Outcome::Failed {
            step,
            reason: format!("{reason}; putting the old container back failed: {problem}"),
            restored: false,
        },
    }
}

/// Runs the protocol's steps against one client with one set of params.
pub(crate) struct Protocol<'a, C: ?Sized> {
    pub(crate) client: &'a C,
    pub(crate) params: &'a Params,
}

impl<C: ContainerClient + ?Sized> Protocol<'_, C> {
    fn stop_options(&self, container: &Container) -> StopOptions {
        stop_options(self.params, container)
    }

    /// Pre-update hook, rename aside, stop (or, with `--no-restart`, stop and remove; a
    /// `--rm` container is stopped and waited for until the engine removed it).
    pub(crate) async fn stop(&self, job: Job) -> StopPhase {
        let c = &job.container;
        let spec = spec_for(&job);
        let running = was_running(&c.state);
        if job.self_update && c.host_config.publishes_host_ports() {
            return StopPhase::Done(Outcome::Failed {
                step: FailedStep::SelfUpdate,
                reason: "watchtower's own container publishes host ports, so its successor \
                         cannot start while it runs; recreate it from the new image by hand"
                    .to_owned(),
                restored: false,
            });
        }
        if job.self_update && self.params.no_restart {
            return StopPhase::Done(Outcome::Skipped(
                "watchtower's own container is not replaced with --no-restart".to_owned(),
            ));
        }
        if job.self_update {
            debug!(container = %c.name, "watchtower's own container: not stopped");
            return StopPhase::Stopped(Box::new(Stopped {
                job,
                spec,
                was_running: true,
                aside: None,
                auto_removed: false,
                old_running: false,
            }));
        }
        if let Some(outcome) = self.pre_update_hook(c).await {
            return StopPhase::Done(outcome);
        }
        let holder = if c.host_config.auto_remove()
            && !self.params.no_restart
            && !spec.carried_volumes.is_empty()
        {
            match self.hold_volumes(c, &spec).await {
                Ok(id) => Some(id),
                Err(outcome) => return StopPhase::Done(outcome),
            }
        } else {
            None
        };

        // Renamed aside before it is stopped: whatever happens from here on (the process
        // killed during the stop included), the container carries our name, so the next
        // session tells it from one a user stopped and settles it (`reconcile`).
        let renames = !self.params.no_restart && !c.host_config.auto_remove();
        let aside = if renames {
            match self.rename_aside(c).await {
                Ok(aside) => Some(aside),
                Err(outcome) => {
                    self.release_volumes(&volume_holder_name(c), holder.as_deref())
                        .await;
                    return StopPhase::Done(outcome);
                }
            }
        } else {
            None
        };

        info!(container = %c.name, signal = %labels::stop_signal_of(c), "stopping");
        if let Err(err) = self
            .client
            .stop_container(&c.id, self.stop_options(c))
            .await
        {
            error!(container = %c.name, error = %err, "stopping failed");
            let rollback = self.put_back(c, aside.as_deref(), running).await;
            self.release_volumes(&volume_holder_name(c), holder.as_deref())
                .await;
            return StopPhase::Done(failed(FailedStep::Stop, err.to_string(), rollback));
        }

        if self.params.no_restart {
            return StopPhase::Done(self.remove_without_replacement(c, running).await);
        }

        let holder_name = volume_holder_name(&job.container);
        let stopped = Stopped {
            spec,
            was_running: running,
            aside,
            auto_removed: false,
            old_running: false,
            job,
        };
        let phase = if stopped.job.container.host_config.auto_remove() {
            self.wait_removed(stopped).await
        } else {
            StopPhase::Stopped(Box::new(stopped))
        };
        // The old container is gone (or back): nothing deletes the held volumes any more.
        self.release_volumes(&holder_name, holder.as_deref()).await;
        phase
    }

    /// `--no-restart`: the stopped container is removed, and nothing replaces it.
    async fn remove_without_replacement(&self, c: &Container, was_running: bool) -> Outcome {
        info!(container = %c.name, "removing without a replacement (--no-restart)");
        match self
            .client
            .remove_container(&c.id, self.params.remove_volumes)
            .await
        {
            Ok(()) => Outcome::Updated { new_id: None },
            Err(err) => {
                let rollback = self.restart_if_stopped(c, was_running).await;
                failed(FailedStep::RemoveOld, err.to_string(), rollback)
            }
        }
    }

    /// Before a `--rm` container stops: the engine deletes the anonymous volumes of a
    /// container that removes itself unless another container uses them, so a holder
    /// container mounts the ones its successor carries over until it is gone. Nothing is
    /// touched when that fails.
    async fn hold_volumes(&self, c: &Container, spec: &RecreateSpec) -> Result<String, Outcome> {
        let name = volume_holder_name(c);
        let labels = [(
            labels::VOLUME_HOLDER.to_owned(),
            c.name.trim_start_matches('/').to_owned(),
        )]
        .into();
        let holder = RecreateSpec::volume_holder(c, &spec.carried_volumes, &name, labels);
        let created = match self.client.inspect_container(&name).await {
            // Left by a session killed before this container stopped: its volumes are
            // mounted by name, so removing it deletes none of them.
            Ok(stale) if stale.labels.contains_key(labels::VOLUME_HOLDER) => {
                match self.client.remove_container(&stale.id, true).await {
                    Ok(()) => self.client.create_container(&holder).await,
                    Err(err) => Err(err),
                }
            }
            Ok(_) => Err(ClientError::Container {
                operation: "create",
                container: name.clone(),
                message: "the name is taken by a container that is not a volume holder".to_owned(),
            }),
            Err(ClientError::NotFound { .. }) => self.client.create_container(&holder).await,
            Err(err) => Err(err),
        };
        match created {
            Ok(id) => {
                debug!(container = %c.name, holder = %name, volumes = spec.carried_volumes.len(),
                    "holding the anonymous volumes of a --rm container while it stops");
                Ok(id)
            }
            Err(err) => {
                error!(container = %c.name, error = %err, "cannot hold the anonymous volumes of a --rm container");
                Err(Outcome::Failed {
                    step: FailedStep::Stop,
                    reason: format!(
                        "not stopped: the container removes itself when it stops (--rm), and \
                         keeping its anonymous volumes needs the holder container {name}: {err}"
                    ),
                    restored: true,
                })
            }
        }
    }

    /// Removes a volume holder (with the anonymous volumes the engine made for the holder
    /// itself; the held volumes are mounted by name and stay). A failure leaves a created
    /// container behind and is logged.
    async fn release_volumes(&self, holder_name: &str, holder: Option<&str>) {
        let Some(holder) = holder else { return };
        match self.client.remove_container(holder, true).await {
            Ok(()) => debug!(holder = %holder_name, "removed the volume holder"),
            Err(err) => warn!(holder = %holder_name, error = %err,
                "cannot remove the container that held a --rm container's anonymous volumes; \
                 remove it by hand"),
        }
    }

    /// The pre-update hook's verdict, when it stops this update.
    async fn pre_update_hook(&self, c: &Container) -> Option<Outcome> {
        if !self.params.lifecycle_hooks {
            return None;
        }
        match watchtower_lifecycle::pre_update(self.client, c).await {
            PreUpdateDecision::Proceed => None,
            PreUpdateDecision::Skip { reason } => Some(Outcome::Skipped(reason)),
            PreUpdateDecision::Fail { reason } => Some(Outcome::Failed {
                step: FailedStep::PreUpdateHook,
                reason,
                restored: false,
            }),
        }
    }

    /// Renames the running old container aside, before it is stopped. Nothing was stopped
    /// when this fails, and the container keeps its name.
    async fn rename_aside(&self, c: &Container) -> Result<String, Outcome> {
        let aside = aside_name(c);
        match self.rename_verified(c, &aside).await {
            Ok(()) => {
                debug!(container = %c.name, aside = %aside, "renamed aside");
                Ok(aside)
            }
            Err(err) => {
                error!(container = %c.name, error = %err, "renaming aside failed");
                let reason = format!("renaming to {aside}: {err}");
                Err(match err {
                    ClientError::NotFound { .. } => Outcome::Failed {
                        step: FailedStep::Rename,
                        reason: format!("{reason}; the container is gone"),
                        restored: false,
                    },
                    _ => Outcome::Failed {
                        step: FailedStep::Rename,
                        reason,
                        restored: true,
                    },
                })
            }
        }
    }

    /// After a failed stop: the old container gets its name back (when it was renamed
    /// aside) and runs again if it ran.
    async fn put_back(
        &self,
        c: &Container,
        aside: Option<&str>,
        was_running: bool,
    ) -> Result<(), String> {
        if aside.is_some() {
            let original = c.name.trim_start_matches('/');
            self.rename_verified(c, original)
                .await
                .map_err(|e| format!("renaming back to {original}: {e}"))?;
        }
        self.restart_if_stopped(c, was_running).await
    }

    /// A stopped `--rm` container: waited for until the engine has removed it.
    async fn wait_removed(&self, mut stopped: Stopped) -> StopPhase {
        if let Err(reason) = self.wait_until_gone(&stopped.job.container).await {
            let rollback = self
                .restart_if_stopped(&stopped.job.container, stopped.was_running)
                .await;
            return StopPhase::Done(failed(FailedStep::Stop, reason, rollback));
        }
        stopped.auto_removed = true;
        StopPhase::Stopped(Box::new(stopped))
    }

    /// Start-first: pre-update hook, rename the running old container aside, create, connect
    /// and start the new one under the name, [gate], and only then stop and remove the old
    /// one. If the new one fails, it is removed and the old one, which never stopped, gets
    /// its name back.
    pub(crate) async fn start_first(&self, job: Job) -> Outcome {
        let c = &job.container;
        if let Some(outcome) = self.pre_update_hook(c).await {
            return outcome;
        }
        let aside = match self.rename_aside(c).await {
            Ok(aside) => aside,
            Err(outcome) => return outcome,
        };
        let spec = spec_for(&job);
        let st = Stopped {
            spec,
            was_running: true,
            aside: Some(aside),
            auto_removed: false,
            old_running: true,
            job,
        };
        self.start(st, false).await
    }

    /// Create, connect, start, [wait until ready], post-update hook, remove the old one.
    pub(crate) async fn start(&self, mut st: Stopped, wait_ready: bool) -> Outcome {
        let name = st.job.container.name.trim_start_matches('/').to_owned();
        if st.job.self_update {
            let aside = aside_name(&st.job.container);
            if let Err(err) = self.rename_verified(&st.job.container, &aside).await {
                error!(container = %name, error = %err, "renaming watchtower's own container aside failed");
                return Outcome::Failed {
                    step: FailedStep::SelfUpdate,
                    reason: format!("renaming to {aside}: {err}"),
                    restored: true,
                };
            }
            st.aside = Some(aside);
        }

        let (new_id, started) = match self.bring_up(&st, wait_ready).await {
            Ok(up) => up,
            Err(outcome) => return outcome,
        };

        if self.params.lifecycle_hooks && started {
            match self.client.inspect_container(&new_id).await {
                Ok(new_container) => {
                    let _logged =
                        watchtower_lifecycle::post_update(self.client, &new_container).await;
                }
                Err(err) => {
                    warn!(container = %name, error = %err, "cannot inspect the new container for its post-update hook");
                }
            }
        }

        if st.job.self_update {
            info!(container = %name, "started the new watchtower; it removes this instance when it starts");
            return Outcome::Updated {
                new_id: Some(new_id),
            };
        }
        if st.old_running {
            // Start-first: the new one runs (and passed its gate); now the old one goes,
            // stopped with its own signal and timeout before it is removed.
            let old = &st.job.container;
            info!(container = %name, signal = %labels::stop_signal_of(old), "stopping the old container (start-first)");
            if let Err(err) = self
                .client
                .stop_container(&old.id, self.stop_options(old))
                .await
            {
                warn!(container = %name, error = %err, "stopping the old container failed; removing it anyway");
            }
        }
        if !st.auto_removed
            && let Err(err) = self
                .client
                .remove_container(&st.job.container.id, self.params.remove_volumes)
                .await
            && !matches!(err, ClientError::NotFound { .. })
        {
            let aside = st.aside.as_deref().unwrap_or_default();
            error!(container = %name, error = %err, aside = %aside, "removing the old container failed");
            return Outcome::Failed {
                step: FailedStep::RemoveOld,
                reason: format!(
                    "the new container runs, but the old one ({aside}) could not be removed: {err}; the next session removes it"
                ),
                restored: false,
            };
        }
        info!(container = %name, new_id = %short(&new_id), "updated");
        Outcome::Updated {
            new_id: Some(new_id),
        }
    }

    /// Creates, connects and (if the old one ran, or with `--revive-stopped`) starts the new
    /// container, rolling back on failure. Returns its ID and whether it was started.
    async fn bring_up(&self, st: &Stopped, wait_ready: bool) -> Result<(String, bool), Outcome> {
        let name = st.job.container.name.trim_start_matches('/');
        let note = if st.job.stale {
            ""
        } else {
            " (recreated because a container it depends on was updated)"
        };
        let step = |step| {
            if st.job.self_update {
                FailedStep::SelfUpdate
            } else {
                step
            }
        };

        info!(container = %name, image = %st.job.reference, "creating the new container");
        let new_id = match self.client.create_container(&st.spec).await {
            Ok(id) => id,
            Err(err) => {
                error!(container = %name, error = %err, "creating the new container failed");
                let made = self.created_despite_error(st).await;
                let rollback = self.roll_back(st, made.as_deref(), false).await;
                return Err(failed(
                    step(FailedStep::Create),
                    format!("{err}{note}"),
                    rollback,
                ));
            }
        };
        if let Err(err) = self.client.connect_networks(&new_id, &st.spec).await {
            error!(container = %name, error = %err, "connecting networks failed");
            let rollback = self.roll_back(st, Some(&new_id), false).await;
            return Err(failed(
                step(FailedStep::ConnectNetwork),
                format!("{err}{note}"),
                rollback,
            ));
        }
        if !(st.was_running || self.params.revive_stopped) {
            debug!(container = %name, "the old container was not running; leaving the new one created");
            return Ok((new_id, false));
        }
        if let Err(err) = self.client.start_container(&new_id).await {
            error!(container = %name, error = %err, "starting the new container failed");
            let rollback = self.roll_back(st, Some(&new_id), false).await;
            return Err(failed(
                step(FailedStep::Start),
                format!("{err}{note}"),
                rollback,
            ));
        }
        if let Some(gate) = st.job.gate.filter(|_| !st.job.self_update) {
            if let Err(rejection) = gate
                .pass(self.client, &new_id, name, &self.params.cancel)
                .await
            {
                error!(container = %name, reason = %rejection, "the new container did not pass the health gate");
                let rollback = self.roll_back(st, Some(&new_id), true).await;
                let restored = rollback.is_ok();
                let reason = match rollback {
                    Ok(()) => format!("rolled back: {rejection}{note}"),
                    Err(problem) => format!(
                        "{rejection}{note}; putting the old container back failed: {problem}"
                    ),
                };
                return Err(Outcome::Failed {
                    step: FailedStep::HealthGate,
                    reason,
                    restored,
                });
            }
            info!(container = %name, "the new container passed the health gate");
        } else if wait_ready
            && let Err(err) = self
                .client
                .wait_until_ready(&new_id, self.params.ready_timeout)
                .await
        {
            error!(container = %name, error = %err, "the new container did not become ready");
            let rollback = self.roll_back(st, Some(&new_id), true).await;
            return Err(failed(
                step(FailedStep::Start),
                format!("the new container did not become ready: {err}{note}"),
                rollback,
            ));
        }
        Ok((new_id, true))
    }

    /// After a create that answered an error (or whose answer was lost): the ID of a
    /// container the engine made anyway under the name, so that the rollback removes it. The
    /// name was free once the old container was renamed aside, so a container there that is
    /// not the old one and was made from the new image reference is the half-made new one.
    async fn created_despite_error(&self, st: &Stopped) -> Option<String> {
        let old = &st.job.container;
        let name = old.name.trim_start_matches('/');
        match self.client.inspect_container(name).await {
            Ok(there) if there.id != old.id && there.image_reference == st.spec.image => {
                warn!(container = %name, new_id = %short(&there.id), "the engine answered the create with an error, but made the container; removing it");
                Some(there.id)
            }
            _ => None,
        }
    }

    /// Puts the old container back: removes the half-made new one, gives the old one its
    /// name back and starts it if it was running.
    async fn roll_back(
        &self,
        st: &Stopped,
        new_id: Option<&str>,
        new_started: bool,
    ) -> Result<(), String> {
        let c = &st.job.container;
        let name = c.name.trim_start_matches('/');
        warn!(container = %name, "rolling back to the old container");
        if let Some(id) = new_id {
            if new_started
                && let Err(err) = self.client.stop_container(id, self.stop_options(c)).await
            {
                warn!(container = %name, error = %err, "stopping the new container failed");
            }
            // With its volumes: the engine deletes only the anonymous volumes it made for
            // this container (new `VOLUME`s of the new image). The volumes carried over from
            // the old container are mounted by name (`RecreateSpec::carried_volumes`), and the
            // engine never deletes a volume mounted by name with a container.
            if let Err(err) = self.client.remove_container(id, true).await {
                return Err(format!("removing the new container: {err}"));
            }
        }
        if st.auto_removed {
            return self.recreate_from_old_image(st).await;
        }
        if let Some(aside) = &st.aside {
            match self.rename_verified(c, name).await {
                Ok(()) => {}
                // It removed itself when it stopped (renamed aside first, it was not
                // flagged `--rm`): made again from its old image.
                Err(ClientError::NotFound { .. }) => {
                    return self.recreate_from_old_image(st).await;
                }
                Err(err) => return Err(format!("renaming {aside} back to {name}: {err}")),
            }
        }
        if st.old_running {
            // Start-first: it never stopped (started again only if it died meanwhile).
            self.restart_if_stopped(c, true).await?;
        } else if st.was_running
            && !st.job.self_update
            && let Err(err) = self.client.start_container(&c.id).await
        {
            return Err(format!("starting the old container: {err}"));
        }
        info!(container = %name, "the old container is back");
        Ok(())
    }

    /// A container started with `--rm` is gone once stopped; its rollback makes it again
    /// from the image it ran, with its old configuration.
    async fn recreate_from_old_image(&self, st: &Stopped) -> Result<(), String> {
        let c = &st.job.container;
        let spec = RecreateSpec::build(
            c,
            &st.job.old_image,
            &st.job.old_image,
            &st.job.old_image.id,
        );
        warn!(container = %c.name, image = %st.job.old_image.id, "the old container removed itself when it stopped (--rm); making it again from its old image");
        let id = self
            .client
            .create_container(&spec)
            .await
            .map_err(|e| format!("re-creating the old container from its image: {e}"))?;
        self.client
            .connect_networks(&id, &spec)
            .await
            .map_err(|e| format!("connecting the re-created old container: {e}"))?;
        if st.was_running {
            self.client
                .start_container(&id)
                .await
                .map_err(|e| format!("starting the re-created old container: {e}"))?;
        }
        Ok(())
    }

    /// Renames `c` to `new_name`. When the engine answers with an error (or the answer is
    /// lost), asks the engine what it did: a container that carries `new_name` afterwards was
    /// renamed, and the rename counts as done, so that no failure path leaves the old
    /// container under its aside name (seen with docker-compose containers: "Renaming a
    /// container with the same name as its current name" after the engine had renamed it).
    async fn rename_verified(&self, c: &Container, new_name: &str) -> Result<(), ClientError> {
        let err = match self.client.rename_container(&c.id, new_name).await {
            Ok(()) => return Ok(()),
            Err(err @ ClientError::NotFound { .. }) => return Err(err),
            Err(err) => err,
        };
        match self.client.inspect_container(&c.id).await {
            Ok(now) if now.name.trim_start_matches('/') == new_name => {
                warn!(container = %c.name, aside = %new_name, error = %err, "the engine answered the rename with an error, but did rename the container");
                Ok(())
            }
            Err(gone @ ClientError::NotFound { .. }) => Err(gone),
            _ => Err(err),
        }
    }

    /// After a failed stop or rename: starts the old container again if it ran before and
    /// does not now.
    async fn restart_if_stopped(&self, c: &Container, was_running: bool) -> Result<(), String> {
        if !was_running {
            return Ok(());
        }
        match self.client.inspect_container(&c.id).await {
            Ok(now) if now.state.is_running() => Ok(()),
            Ok(_) => self
                .client
                .start_container(&c.id)
                .await
                .map_err(|e| format!("starting the old container: {e}")),
            Err(e) => Err(format!("inspecting the old container: {e}")),
        }
    }

    async fn wait_until_gone(&self, c: &Container) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + AUTO_REMOVE_WAIT;
        loop {
            match self.client.inspect_container(&c.id).await {
                Err(ClientError::NotFound { .. }) => return Ok(()),
                Err(e) => return Err(format!("waiting for the stopped --rm container to go: {e}")),
                Ok(_) if tokio::time::Instant::now() >= deadline => {
                    return self
                        .client
                        .remove_container(&c.id, self.params.remove_volumes)
                        .await
                        .map_err(|e| format!("removing the stopped --rm container: {e}"));
                }
                Ok(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }
}

/// How `c` is stopped: its stop-signal label (else `SIGTERM`) and `--stop-timeout`.
pub(crate) fn stop_options(params: &Params, c: &Container) -> StopOptions {
    StopOptions {
        signal: labels::stop_signal_of(c),
        timeout: params.stop_timeout,
    }
}

/// Why the old and the new container cannot run side by side, when they cannot: then a
/// start-first update falls back to stop-first. `sharers` are the names of other containers
/// that use this one's network namespace (`network_mode: container:<it>`).
pub(crate) fn why_not_start_first(c: &Container, sharers: &[&str]) -> Option<String> {
    use watchtower_container_client::NetworkMode;
    if !was_running(&c.state) {
        return Some("it is not running".to_owned());
    }
    if c.host_config.publishes_host_ports() {
        return Some(
            "it publishes host ports, which two containers cannot bind at once".to_owned(),
        );
    }
    match &c.network_mode {
        NetworkMode::Host => return Some("it uses the host's network".to_owned()),
        NetworkMode::Container(other) => {
            return Some(format!("it shares the network namespace of {other}"));
        }
        _ => {}
    }
    if let Some(n) = c
        .networks
        .iter()
        .find(|n| n.ipv4_address.is_some() || n.ipv6_address.is_some())
    {
        return Some(format!(
            "it has a static IP address on network {}",
            n.network
        ));
    }
    if c.config
        .mac_address
        .as_deref()
        .is_some_and(|m| !m.is_empty())
        || c.networks.iter().any(|n| n.mac_address.is_some())
    {
        return Some("it has a fixed MAC address".to_owned());
    }
    if let Some(sharer) = sharers.first() {
        return Some(format!("{sharer} uses its network namespace"));
    }
    if let Some(v) = c.volume_mounts.iter().find(|v| v.read_write) {
        return Some(format!(
            "it mounts volume {} read-write at {}, which two containers must not write at once",
            if v.has_generated_name() {
                short(&v.name)
            } else {
                v.name.as_str()
            },
            v.destination
        ));
    }
    if let Some(dest) = c.host_config.writable_binds().first() {
        return Some(format!(
            "it mounts a host path read-write at {dest}, which two containers must not write at once"
        ));
    }
    None
}

/// The new container's configuration: the recreate rules, plus (for a gated or start-first
/// update) the ID of the container it replaces in [`labels::REPLACES`], which an
/// interrupted session's successor reads. The label an earlier update left is not carried.
fn spec_for(job: &Job) -> RecreateSpec {
    let c = &job.container;
    let mut spec = RecreateSpec::build(c, &job.old_image, &job.new_image, &job.reference);
    spec.config.labels.remove(labels::REPLACES);
    if (job.gate.is_some() || job.start_first) && !job.self_update {
        spec.config
            .labels
            .insert(labels::REPLACES.to_owned(), c.id.clone());
    }
    spec
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}
