//! Collects outcomes during a session and turns them into a [`Report`].

use std::collections::BTreeMap;

use crate::{ContainerRef, ContainerReport, FailedStep, Report, State};

/// Collects what happened to each container during a session.
///
/// One entry per container ID: each call replaces what an earlier call recorded for the same
/// container, so the engine records the check result first and then overwrites it with the
/// update's outcome.
///
/// ```
/// use watchtower_session_report::{ContainerRef, FailedStep, ReportBuilder, State};
///
/// let web = ContainerRef::new("aaa1", "/web", "nginx:1.27", "sha256:old0");
/// let db = ContainerRef::new("bbb2", "/db", "postgres:17", "sha256:pg00");
/// let mut builder = ReportBuilder::new();
/// builder.scanned(&web, "sha256:new0"); // stale: different image
/// builder.scanned(&db, "sha256:pg00"); // fresh: same image
/// builder.failed(&web, FailedStep::Start, "port 80 is already allocated", true);
/// let report = builder.build();
/// assert_eq!(report.failed()[0].state(), State::Failed);
/// assert_eq!(report.failed()[0].latest_image_id(), "sha256:new0");
/// assert_eq!(report.counts().scanned, 2);
/// assert_eq!(report.counts().restored, 1);
/// ```
#[derive(Debug, Clone, Default)]
pub struct ReportBuilder {
    entries: BTreeMap<String, ContainerReport>,
}

impl ReportBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// The container was checked and `latest_image_id` is the newest image found for it.
    /// At [`build`](Self::build) it becomes `Fresh` when that is the image it runs (or when
    /// `latest_image_id` is empty, i.e. nothing newer is known) and `Stale` otherwise.
    pub fn scanned(
        &mut self,
        container: &ContainerRef,
        latest_image_id: impl Into<String>,
    ) -> &mut Self {
        self.put(ContainerReport::new(
            container,
            latest_image_id.into(),
            State::Scanned,
        ))
    }

    /// The container was checked and runs the newest image.
    pub fn fresh(&mut self, container: &ContainerRef) -> &mut Self {
        self.put(ContainerReport::new(
            container,
            container.image_id.clone(),
            State::Fresh,
        ))
    }

    /// The container was checked, a newer image exists, and the container is left as it is
    /// (monitor-only). `latest_image_id` is `""` when the newer image was seen in the registry
    /// but not pulled.
    pub fn stale(
        &mut self,
        container: &ContainerRef,
        latest_image_id: impl Into<String>,
    ) -> &mut Self {
        self.put(ContainerReport::new(
            container,
            latest_image_id.into(),
            State::Stale,
        ))
    }

    /// The container was not checked or not updated, because of `reason` (shown as the
    /// entry's error). A skipped container is never counted as scanned or fresh.
    pub fn skipped(&mut self, container: &ContainerRef, reason: impl Into<String>) -> &mut Self {
        self.put(
            ContainerReport::new(container, container.image_id.clone(), State::Skipped)
                .with_error(reason.into()),
        )
    }

    /// The container was recreated from `new_image_id`.
    pub fn updated(
        &mut self,
        container: &ContainerRef,
        new_image_id: impl Into<String>,
    ) -> &mut Self {
        self.put(ContainerReport::new(
            container,
            new_image_id.into(),
            State::Updated,
        ))
    }

    /// Updating the container failed at `step` because of `reason`; `restored` says whether
    /// the old container was put back. The latest image ID recorded earlier for this container
    /// (by [`scanned`](Self::scanned) or [`stale`](Self::stale)) is kept; without one it is the
    /// current image ID.
    pub fn failed(
        &mut self,
        container: &ContainerRef,
        step: FailedStep,
        reason: impl Into<String>,
        restored: bool,
    ) -> &mut Self {
        let latest = self.entries.get(&container.id).map_or_else(
            || container.image_id.clone(),
            |e| e.latest_image_id().to_owned(),
        );
        self.put(
            ContainerReport::new(container, latest, State::Failed)
                .with_error(reason.into())
                .with_failure(step, restored),
        )
    }

    /// How many containers have been recorded so far.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing has been recorded.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The report: every recorded container in its final state, sorted by container ID.
    pub fn build(self) -> Report {
        let entries = self
            .entries
            .into_values()
            .map(|mut entry| {
                if entry.state() == State::Scanned {
                    if entry.latest_image_id().is_empty() {
                        entry.set_latest_image_id(entry.current_image_id().to_owned());
                    }
                    let fresh = entry.latest_image_id() == entry.current_image_id();
                    entry.set_state(if fresh { State::Fresh } else { State::Stale });
                }
                entry
            })
            .collect();
        Report::from_sorted_entries(entries)
    }

    /// Adds a remark to the container's entry (see [`ContainerReport::note`]); nothing
    /// happens when the container has no entry yet.
    pub fn note(&mut self, container: &ContainerRef, note: impl Into<String>) -> &mut Self {
        if let Some(entry) = self.entries.get_mut(&container.id) {
            entry.set_note(note.into());
        }
        self
    }

    fn put(&mut self, entry: ContainerReport) -> &mut Self {
        self.entries.insert(entry.id().to_owned(), entry);
        self
    }
}
