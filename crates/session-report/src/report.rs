//! The report of one session and its JSON form.

use serde::{Deserialize, Serialize};

use crate::{ContainerReport, State};

/// How many containers ended in each list of a [`Report`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Containers that were checked: every one that was not skipped.
    pub scanned: usize,
    /// Containers recreated from a newer image.
    pub updated: usize,
    /// Containers whose update failed.
    pub failed: usize,
    /// Failed containers whose old container was put back.
    pub restored: usize,
    /// Containers not checked or not updated, with a reason.
    pub skipped: usize,
    /// Containers with a newer image that were left as they are.
    pub stale: usize,
    /// Containers running the newest image.
    pub fresh: usize,
}

/// What happened in one session: one [`ContainerReport`] per container, sorted by container ID.
///
/// Built by [`crate::ReportBuilder`]. Its lists follow the original's model: `scanned` holds
/// every container that was not skipped; `updated`, `failed`, `skipped`, `stale` and `fresh`
/// each hold the containers in that state; [`Report::all`] holds each container once.
/// The JSON form is described in the crate docs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "ReportJson", from = "ReportJson")]
pub struct Report {
    entries: Vec<ContainerReport>,
}

impl Report {
    pub(crate) fn from_sorted_entries(entries: Vec<ContainerReport>) -> Self {
        debug_assert!(entries.windows(2).all(|w| w[0].id() < w[1].id()));
        Self { entries }
    }

    fn with_state(&self, state: State) -> Vec<&ContainerReport> {
        self.entries.iter().filter(|e| e.state() == state).collect()
    }

    /// Every container that was not skipped (fresh, stale, updated and failed ones).
    pub fn scanned(&self) -> Vec<&ContainerReport> {
        self.entries
            .iter()
            .filter(|e| e.state() != State::Skipped)
            .collect()
    }

    /// Containers recreated from a newer image.
    pub fn updated(&self) -> Vec<&ContainerReport> {
        self.with_state(State::Updated)
    }

    /// Containers whose update failed.
    pub fn failed(&self) -> Vec<&ContainerReport> {
        self.with_state(State::Failed)
    }

    /// Failed containers whose old container was put back.
    pub fn restored(&self) -> Vec<&ContainerReport> {
        self.entries.iter().filter(|e| e.restored()).collect()
    }

    /// Containers not checked or not updated (each with its reason in `error`).
    pub fn skipped(&self) -> Vec<&ContainerReport> {
        self.with_state(State::Skipped)
    }

    /// Containers with a newer image that were left as they are.
    pub fn stale(&self) -> Vec<&ContainerReport> {
        self.with_state(State::Stale)
    }

    /// Containers running the newest image.
    pub fn fresh(&self) -> Vec<&ContainerReport> {
        self.with_state(State::Fresh)
    }

    /// Every container once, sorted by ID. (The original de-duplicated its lists in the
    /// priority updated > failed > skipped > stale > fresh > scanned; here a container has a
    /// single state, which is the same thing.)
    pub fn all(&self) -> &[ContainerReport] {
        &self.entries
    }

    /// The entry of the container with this full ID.
    pub fn get(&self, id: &str) -> Option<&ContainerReport> {
        self.entries
            .binary_search_by(|e| e.id().cmp(id))
            .ok()
            .map(|i| &self.entries[i])
    }

    /// Whether the session saw no container at all.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The size of each list.
    pub fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for entry in &self.entries {
            match entry.state() {
                State::Skipped => counts.skipped += 1,
                State::Updated => counts.updated += 1,
                State::Failed => counts.failed += 1,
                State::Stale => counts.stale += 1,
                State::Fresh | State::Scanned => counts.fresh += 1,
            }
            if entry.state() != State::Skipped {
                counts.scanned += 1;
            }
            if entry.restored() {
                counts.restored += 1;
            }
        }
        counts
    }
}

/// The wire form: counts first, then the lists in the original's order.
#[derive(Serialize, Deserialize)]
struct ReportJson {
    counts: Counts,
    scanned: Vec<ContainerReport>,
    updated: Vec<ContainerReport>,
    failed: Vec<ContainerReport>,
    skipped: Vec<ContainerReport>,
    stale: Vec<ContainerReport>,
    fresh: Vec<ContainerReport>,
}

impl From<Report> for ReportJson {
    fn from(report: Report) -> Self {
        let owned = |list: Vec<&ContainerReport>| list.into_iter().cloned().collect();
        Self {
            counts: report.counts(),
            scanned: owned(report.scanned()),
            updated: owned(report.updated()),
            failed: owned(report.failed()),
            skipped: owned(report.skipped()),
            stale: owned(report.stale()),
            fresh: owned(report.fresh()),
        }
    }
}

impl From<ReportJson> for Report {
    /// Reads the lists back; each container keeps the first entry found in the priority
    /// order updated > failed > skipped > stale > fresh > scanned. The counts are recomputed.
    fn from(json: ReportJson) -> Self {
        let mut by_id = std::collections::BTreeMap::new();
        for list in [
            json.updated,
            json.failed,
            json.skipped,
            json.stale,
            json.fresh,
            json.scanned,
        ] {
            for entry in list {
                by_id.entry(entry.id().to_owned()).or_insert(entry);
            }
        }
        Report::from_sorted_entries(by_id.into_values().collect())
    }
}
