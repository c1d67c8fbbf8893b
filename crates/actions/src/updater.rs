//! The embeddable entry point: one check or update session.

use std::collections::BTreeSet;

use tracing::{debug, error, info, warn};
use watchtower_container_client::{Container, ContainerClient, ListOptions};
use watchtower_session_report::{FailedStep, Report, ReportBuilder};

use crate::check::{self, Entry, Mode, Verdict};
use crate::gate::Gate;
use crate::order::Ordering;
use crate::plan::CheckPlan;
use crate::reconcile::{Reconciled, original_name, reconcile};
use crate::update::{Job, Outcome, Protocol, StopPhase, Stopped, why_not_start_first};
use crate::{Error, Filter, FreshnessChecker, Params, UpdateOrder, image_ref, labels, rejected};

/// Runs check and update sessions against a container engine and a registry.
///
/// `client` is the engine (`DockerClient` in the binary, a fake in tests), `registry`
/// answers freshness questions and supplies pull credentials. An `Updater` holds no state
/// between sessions; share it behind an `Arc` and run one session at a time (the binary
/// serialises them with a lock, as the original did).
#[derive(Debug)]
pub struct Updater<C, R> {
    client: C,
    registry: R,
    params: Params,
}

impl<C, R> Updater<C, R>
where
    C: ContainerClient,
    R: FreshnessChecker,
{
    /// An updater with these parts and settings.
    pub fn new(client: C, registry: R, params: Params) -> Self {
        Self {
            client,
            registry,
            params,
        }
    }

    /// The settings.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The container engine.
    pub fn client(&self) -> &C {
        &self.client
    }

    /// The registry side.
    pub fn registry(&self) -> &R {
        &self.registry
    }

    /// Checks the selected containers and reports which are fresh or stale, changing
    /// nothing: no pull, no hook, no container touched. A registry that cannot answer for an
    /// image makes its containers `Failed` at step `check`.
    pub async fn check(&self, filter: &Filter) -> Result<Report, Error> {
        let entries = self.checked(filter).await?;
        let mut report = ReportBuilder::new();
        for entry in &entries {
            entry.record(&mut report);
        }
        let report = report.build();
        log_done(&report);
        Ok(report)
    }

    /// What [`check`](Self::check) finds, in detail, and what an update would do about it:
    /// for each selected container its state, digests, and whether (and in which order) an
    /// update would recreate it. The same registry questions as `check` (manifest `HEAD`s
    /// only) and the same ordering as [`update`](Self::update); nothing is pulled or
    /// touched.
    pub async fn check_plan(&self, filter: &Filter) -> Result<CheckPlan, Error> {
        let entries = self.checked(filter).await?;
        let decision = decide(&self.params, &entries, |v| {
            matches!(v, Verdict::Stale { .. })
        });
        Ok(CheckPlan::new(&self.params, &entries, &decision))
    }

    /// The selected containers, each checked (manifest `HEAD`s only, nothing touched).
    async fn checked(&self, filter: &Filter) -> Result<Vec<check::Entry>, Error> {
        let selected = self.list(filter).await?;
        info!(
            notify = "no",
            containers = selected.len(),
            "checking containers (no changes)"
        );
        Ok(check::check_containers(
            &self.client,
            &self.registry,
            &self.params,
            selected,
            Mode::Check,
        )
        .await)
    }

    /// Runs one update session: settles interrupted updates, runs pre-check hooks, checks
    /// every selected container, pulls what is stale, updates what may be updated (in
    /// dependency order, safely), cleans up images and runs post-check hooks.
    ///
    /// `Err` only when the engine cannot list containers; everything that goes wrong for one
    /// container is in its line of the report.
    pub async fn update(&self, filter: &Filter) -> Result<Report, Error> {
        let settled = reconcile(&self.client, filter, &self.params).await?;
        if settled
            .iter()
            .any(|r| matches!(r, Reconciled::Failed { .. }))
        {
            warn!("some interrupted updates could not be settled; see above");
        }

        let selected = self.list(filter).await?;
        if self.params.lifecycle_hooks {
            watchtower_lifecycle::pre_check(&self.client, &selected).await;
        }
        info!(
            notify = "no",
            containers = selected.len(),
            "checking containers for updated images"
        );
        let mut entries = check::check_containers(
            &self.client,
            &self.registry,
            &self.params,
            selected,
            Mode::Update,
        )
        .await;

        let mut report = ReportBuilder::new();
        let jobs = self.plan(&mut entries);
        for entry in &entries {
            entry.record(&mut report);
        }

        let outcomes = if self.params.rolling_restart {
            self.rolling(jobs).await
        } else {
            self.stop_all_then_start(jobs).await
        };

        let mut old_images = BTreeSet::new();
        for (job, outcome) in &outcomes {
            match outcome {
                Outcome::Updated { .. } => {
                    report.updated(&job.cref, job.new_image.id.as_str());
                    if let Some(reason) = &job.fallback {
                        report.note(&job.cref, format!("updated stop-first: {reason}"));
                    }
                    if job.stale && !job.self_update && job.old_image.id != job.new_image.id {
                        old_images.insert(job.old_image.id.clone());
                    }
                }
                Outcome::Skipped(reason) => {
                    report.skipped(&job.cref, reason.as_str());
                }
                Outcome::Failed {
                    step,
                    reason,
                    restored,
                } => {
                    report.failed(&job.cref, *step, reason.as_str(), *restored);
                    if *step == FailedStep::HealthGate
                        && let (Some(digest), Some(reference)) = (
                            &job.new_digest,
                            image_ref::ImageName::of(&job.container).reference(),
                        )
                    {
                        rejected::remember(&self.client, &job.new_image.id, reference, digest)
                            .await;
                    }
                }
            }
        }

        if self.params.cleanup && !old_images.is_empty() {
            self.remove_unused_images(old_images).await;
        }
        if self.params.lifecycle_hooks {
            match self.list(filter).await {
                Ok(containers) => watchtower_lifecycle::post_check(&self.client, &containers).await,
                Err(err) => warn!(error = %err, "cannot list containers for the post-check hooks"),
            }
        }
        let report = report.build();
        log_done(&report);
        Ok(report)
    }

    /// Settles the renamed-aside containers an interrupted session left behind (see the
    /// [`crate::reconcile()`] function); `update` does this first anyway.
    pub async fn reconcile(&self, filter: &Filter) -> Result<Vec<Reconciled>, Error> {
        reconcile(&self.client, filter, &self.params).await
    }

    async fn list(&self, filter: &Filter) -> Result<Vec<Container>, Error> {
        let options = ListOptions {
            include_stopped: self.params.include_stopped,
            include_restarting: self.params.include_restarting,
        };
        let all = self
            .client
            .list_containers(options)
            .await
            .map_err(|source| Error::List { source })?;
        // A container renamed aside (`<name>-wt-old-<id>`) belongs to an update in progress
        // or an interrupted one: `reconcile` settles it, and a self-updated watchtower waits
        // there for its successor to remove it. Updating it would make a second replacement.
        Ok(all
            .into_iter()
            .filter(|c| {
                let aside = original_name(c).is_some();
                if aside {
                    debug!(container = %c.name, "renamed aside by an update: not a candidate");
                }
                !aside && filter.matches(c)
            })
            .collect())
    }

    /// Decides which containers are recreated, in which order: stale ones that are not
    /// monitor-only, then their dependents; containers caught in a dependency cycle fail.
    fn plan(&self, entries: &mut [Entry]) -> Vec<Job> {
        let Decision {
            ordering,
            restart,
            cycle_failures,
        } = decide(&self.params, entries, |v| {
            matches!(v, Verdict::Stale { latest: Some(_) })
        });
        for (i, reason) in cycle_failures {
            entries[i].verdict = Verdict::Failed(FailedStep::DependencyCycle, reason);
        }

        let mut jobs = Vec::new();
        for &i in &ordering.order {
            if !restart[i] {
                continue;
            }
            let entry = &entries[i];
            let Some(old_image) = entry.old_image.clone() else {
                continue;
            };
            let (new_image, stale) = match &entry.verdict {
                Verdict::Stale {
                    latest: Some(latest),
                } => ((**latest).clone(), true),
                _ => (old_image.clone(), false),
            };
            if !stale {
                info!(container = %entry.container.name, "recreating because a container it depends on is updated");
            }
            let c = &entry.container;
            let self_update = labels::is_watchtower(c);
            let gate = labels::health_gate_of(c, self.params.health_gate).then_some(Gate {
                timeout: self.params.health_gate_timeout,
                settle: self.params.health_gate_settle,
            });
            let wants_start_first = !self_update
                && !self.params.no_restart
                && labels::update_order_of(c, self.params.update_order) == UpdateOrder::StartFirst;
            let fallback = wants_start_first
                .then(|| why_not_start_first(c, &sharers_of(entries, c)))
                .flatten();
            if let Some(reason) = &fallback {
                warn!(container = %c.name, %reason, "cannot update start-first; stopping the old container first");
            }
            jobs.push(Job {
                container: c.clone(),
                cref: entry.cref.clone(),
                reference: image_ref::configured(c).to_owned(),
                self_update,
                old_image,
                new_image,
                stale,
                gate,
                start_first: wants_start_first && fallback.is_none(),
                fallback,
                new_digest: entry.remote_digest.clone().filter(|_| stale),
            });
        }
        jobs
    }

    fn protocol(&self) -> Protocol<'_, C> {
        Protocol {
            client: &self.client,
            params: &self.params,
        }
    }

    /// The default path: stop dependents first (reverse order), then recreate dependencies
    /// first (order).
    async fn stop_all_then_start(&self, jobs: Vec<Job>) -> Vec<(Job, Outcome)> {
        let protocol = self.protocol();
        let mut outcomes = Vec::new();
        let mut stopped: Vec<Pending> = Vec::new();
        for job in jobs.into_iter().rev() {
            if self.params.cancel.is_cancelled() {
                outcomes.push((job, cancelled()));
                continue;
            }
            if job.start_first {
                // Not stopped now: replaced in the start phase, in dependency order.
                stopped.push(Pending::StartFirst(Box::new(job)));
                continue;
            }
            let cref = job.cref.clone();
            let snapshot = job.clone();
            match Box::pin(protocol.stop(job)).await {
                StopPhase::Stopped(st) => stopped.push(Pending::Stopped(st)),
                StopPhase::Done(outcome) => {
                    debug!(container = %cref.name, ?outcome, "finished at the stop phase");
                    outcomes.push((snapshot, outcome));
                }
            }
        }
        // Every stopped container is recreated (or put back), cancelled or not; a
        // start-first one that was never stopped is left alone once the session is
        // cancelled. Dependencies come first, each through its gate before its dependents.
        for pending in stopped.into_iter().rev() {
            let (job, outcome) = match pending {
                Pending::Stopped(st) => {
                    let job = st.job().clone();
                    (job, Box::pin(protocol.start(*st, false)).await)
                }
                Pending::StartFirst(job) if self.params.cancel.is_cancelled() => {
                    (*job, cancelled())
                }
                Pending::StartFirst(job) => {
                    let snapshot = (*job).clone();
                    (snapshot, Box::pin(protocol.start_first(*job)).await)
                }
            };
            outcomes.push((job, outcome));
        }
        outcomes
    }

    /// `--rolling-restart`: one container at a time, each new one ready before the next.
    async fn rolling(&self, jobs: Vec<Job>) -> Vec<(Job, Outcome)> {
        let protocol = self.protocol();
        let mut outcomes = Vec::new();
        for job in jobs {
            if self.params.cancel.is_cancelled() {
                outcomes.push((job, cancelled()));
                continue;
            }
            let snapshot = job.clone();
            let outcome = if job.start_first {
                Box::pin(protocol.start_first(job)).await
            } else {
                match Box::pin(protocol.stop(job)).await {
                    StopPhase::Stopped(st) => Box::pin(protocol.start(*st, true)).await,
                    StopPhase::Done(outcome) => outcome,
                }
            };
            outcomes.push((snapshot, outcome));
        }
        outcomes
    }

    /// `--cleanup`: removes the old images that no container (running or not) uses now.
    async fn remove_unused_images(&self, candidates: BTreeSet<String>) {
        let all = match self
            .client
            .list_containers(ListOptions {
                include_stopped: true,
                include_restarting: true,
            })
            .await
        {
            Ok(all) => all,
            Err(err) => {
                warn!(error = %err, "cannot list containers; not removing old images");
                return;
            }
        };
        let in_use = check::images_in_use(&all);
        for image in candidates {
            if let Some(users) = in_use.get(&image) {
                info!(image = %image, users = ?users, "old image still in use; keeping it");
                continue;
            }
            match self.client.remove_image(&image).await {
                Ok(()) => info!(image = %image, "removed old image"),
                Err(err) => error!(image = %image, error = %err, "removing old image failed"),
            }
        }
    }
}

/// Which containers a session recreates, in which order (see [`Updater::plan`]); shared by
/// the update and by [`Updater::check_plan`], so that both answer alike.
pub(crate) struct Decision {
    pub(crate) ordering: Ordering,
    /// Index -> recreated (stale and updated, or following an updated dependency).
    pub(crate) restart: Vec<bool>,
    /// Stale or following containers caught in a dependency cycle, with the reason.
    pub(crate) cycle_failures: Vec<(usize, String)>,
}

/// Stale ones (as `is_stale` says) that are not monitor-only restart, then their
/// dependents that are fresh; cycle members neither restart nor pass a restart on.
pub(crate) fn decide(
    params: &Params,
    entries: &[Entry],
    is_stale: impl Fn(&Verdict) -> bool,
) -> Decision {
    let containers: Vec<Container> = entries.iter().map(|e| e.container.clone()).collect();
    let ordering = Ordering::of(&containers);
    let monitor_only: Vec<bool> = entries
        .iter()
        .map(|e| check::monitor_only(params, &e.container))
        .collect();
    let mut restart: Vec<bool> = entries
        .iter()
        .zip(&monitor_only)
        .map(|(e, &m)| !m && is_stale(&e.verdict))
        .collect();
    let mut cycle_failures = Vec::new();
    let mut cycles: Vec<(&usize, &String)> = ordering.cycles.iter().collect();
    cycles.sort_unstable();
    for &(&i, description) in &cycles {
        if restart[i] {
            cycle_failures.push((i, description.clone()));
            restart[i] = false;
        }
    }
    let eligible: Vec<bool> = entries
        .iter()
        .zip(&monitor_only)
        .map(|(e, &m)| !m && matches!(e.verdict, Verdict::Fresh) && e.old_image.is_some())
        .collect();
    ordering.propagate(&mut restart, |i| eligible[i]);
    // A cycle member that would have to follow an updated dependency fails too.
    for &(&i, description) in &cycles {
        let needs = ordering.deps[i]
            .iter()
            .any(|&d| restart[d] && !ordering.cycles.contains_key(&d));
        if needs && eligible[i] {
            cycle_failures.push((
                i,
                format!("{description}; it depends on a container that is being updated"),
            ));
        }
    }
    Decision {
        ordering,
        restart,
        cycle_failures,
    }
}

/// A job waiting for the start phase of a stop-all-then-start session.
enum Pending {
    /// Stopped and renamed aside: to be recreated.
    Stopped(Box<Stopped>),
    /// Start-first: still running, replaced in the start phase.
    StartFirst(Box<Job>),
}

/// The other selected containers that use `c`'s network namespace
/// (`network_mode: container:<c>`).
fn sharers_of<'a>(entries: &'a [Entry], c: &Container) -> Vec<&'a str> {
    use watchtower_container_client::NetworkMode;
    entries
        .iter()
        .filter(|e| {
            matches!(&e.container.network_mode, NetworkMode::Container(target)
                if target == &c.name || target == &c.id || c.id.starts_with(target.as_str()))
        })
        .map(|e| e.container.name.as_str())
        .collect()
}

fn cancelled() -> Outcome {
    Outcome::Skipped("the session was cancelled before this container was updated".to_owned())
}

/// The session summary: for the local log only, like the original's "Session done" (the
/// report itself goes to notifications).
fn log_done(report: &Report) {
    let counts = report.counts();
    info!(
        notify = "no",
        scanned = counts.scanned,
        updated = counts.updated,
        failed = counts.failed,
        skipped = counts.skipped,
        "session done"
    );
}
