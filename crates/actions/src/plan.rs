//! What `watchtower check` shows: the check's verdicts in detail, and what an update would do
//! about them, read from the same [`Decision`] the update follows.

use watchtower_container_client::{Container, ContainerClient};
use watchtower_registry_digest::local_digests_for;

use crate::check::{self, Entry, Verdict};
use crate::image_ref::ImageName;
use crate::updater::Decision;
use crate::{Error, Filter, FreshnessChecker, Params, Updater, original_name};

/// The result of [`Updater::check_plan`](crate::Updater::check_plan): one line per selected
/// container, in the order the engine listed them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckPlan {
    /// The selected containers.
    pub containers: Vec<CheckedContainer>,
}

/// What the check found for one container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckState {
    /// The registry (or, with `no-pull`, the local tag) serves the image the container runs.
    Fresh,
    /// A newer image exists.
    Stale,
    /// Not checked (a container run from an image ID, for instance).
    Skipped,
    /// The check failed (registry unreachable or refusing, image not inspectable, ...).
    Failed,
}

impl CheckState {
    /// `fresh`, `stale`, `skipped` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fresh => "fresh",
            Self::Stale => "stale",
            Self::Skipped => "skipped",
            Self::Failed => "failed",
        }
    }
}

/// What an update session would do with a container, as things stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckAction {
    /// Nothing.
    None,
    /// Pull the new image and recreate the container with it.
    Update,
    /// Recreate it with its current image, because a container it depends on is updated.
    Restart,
}

impl CheckAction {
    /// `none`, `update` or `restart`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Update => "update",
            Self::Restart => "restart",
        }
    }
}

/// One selected container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedContainer {
    /// The name, without the leading `/`.
    pub name: String,
    /// The container ID.
    pub id: String,
    /// The reference checked (the zodiac label or `Config.Image`).
    pub image: String,
    /// The ID of the image it runs.
    pub image_id: String,
    /// Fresh, stale, skipped or failed.
    pub state: CheckState,
    /// Why it was skipped or failed, or why a stale one would not be updated (monitor-only,
    /// a dependency cycle); a note for a digest-pinned reference.
    pub reason: Option<String>,
    /// The digest (`sha256:…`) of the image it runs, in the checked reference's repository.
    pub local_digest: Option<String>,
    /// The digest the registry serves for the reference, when it answered.
    pub remote_digest: Option<String>,
    /// Monitor-only (flag or label): reported, never updated.
    pub monitor_only: bool,
    /// What an update would do.
    pub action: CheckAction,
    /// The 1-based position among the containers an update would recreate (dependencies
    /// first), when it would recreate this one.
    pub order: Option<usize>,
    /// For an updated container: the containers that would be recreated because they
    /// depend on it (directly or not), in update order.
    pub dependents: Vec<String>,
}

impl CheckPlan {
    pub(crate) fn new(params: &Params, entries: &[Entry], decision: &Decision) -> Self {
        let mut order = vec![None; entries.len()];
        let mut position = 0;
        for &i in &decision.ordering.order {
            if decision.restart[i] {
                position += 1;
                order[i] = Some(position);
            }
        }
        let cycle = |i: usize| {
            decision
                .cycle_failures
                .iter()
                .find(|(j, _)| *j == i)
                .map(|(_, r)| r.clone())
        };
        let containers = entries
            .iter()
            .enumerate()
            .map(|(i, entry)| {
                let monitor_only = check::monitor_only(params, &entry.container);
                let (mut state, mut reason) = match &entry.verdict {
                    Verdict::Fresh => (CheckState::Fresh, None),
                    Verdict::Stale { .. } => (CheckState::Stale, None),
                    Verdict::Skipped(r) => (CheckState::Skipped, Some(r.clone())),
                    Verdict::Failed(_, r) => (CheckState::Failed, Some(r.clone())),
                };
                let action = if !decision.restart[i] {
                    CheckAction::None
                } else if state == CheckState::Stale {
                    CheckAction::Update
                } else {
                    CheckAction::Restart
                };
                if let Some(r) = cycle(i) {
                    // The update would fail this container; the check only reports why.
                    reason = Some(format!("not updated: {r}"));
                    if state == CheckState::Fresh {
                        state = CheckState::Skipped;
                    }
                } else if state == CheckState::Stale && monitor_only {
                    reason = Some("monitor-only: not updated".to_owned());
                } else if state == CheckState::Fresh && entry.image_name.is_digest_pinned() {
                    reason = Some("pinned to a digest".to_owned());
                }
                let local_digest = entry.old_image.as_ref().and_then(|image| {
                    let reference = entry.image_name.reference()?;
                    local_digests_for(reference, &image.repo_digests)
                        .into_iter()
                        .next()
                });
                let remote_digest = entry
                    .remote_digest
                    .clone()
                    .or_else(|| local_digest.clone().filter(|_| entry.registry_fresh));
                let dependents = if action == CheckAction::Update {
                    dependents_of(decision, i)
                        .into_iter()
                        .map(|j| entries[j].container.name.trim_start_matches('/').to_owned())
                        .collect()
                } else {
                    Vec::new()
                };
                CheckedContainer {
                    name: entry.container.name.trim_start_matches('/').to_owned(),
                    id: entry.container.id.clone(),
                    image: entry.image_name.as_str().to_owned(),
                    image_id: entry.container.image_id.clone(),
                    state,
                    reason,
                    local_digest,
                    remote_digest,
                    monitor_only,
                    action,
                    order: order[i],
                    dependents,
                }
            })
            .collect();
        Self { containers }
    }

    /// Whether any container is stale.
    pub fn any_stale(&self) -> bool {
        self.containers.iter().any(|c| c.state == CheckState::Stale)
    }

    /// The containers whose check failed.
    pub fn failed(&self) -> impl Iterator<Item = &CheckedContainer> {
        self.containers
            .iter()
            .filter(|c| c.state == CheckState::Failed)
    }
}

/// The containers recreated (`restart`) because they depend, directly or not, on `updated`,
/// in update order: the same dependency edges the update follows.
fn dependents_of(decision: &Decision, updated: usize) -> Vec<usize> {
    let ordering = &decision.ordering;
    let mut reached = vec![false; ordering.deps.len()];
    reached[updated] = true;
    let mut found = Vec::new();
    // Dependencies come first in `order`, so one pass reaches every transitive dependent.
    for &i in &ordering.order {
        if i == updated || !decision.restart[i] {
            continue;
        }
        if ordering.deps[i].iter().any(|&d| reached[d]) {
            reached[i] = true;
            found.push(i);
        }
    }
    found
}

impl<C, R> Updater<C, R>
where
    C: ContainerClient,
    R: FreshnessChecker,
{
    /// The containers a session with `filter` would select, without checking any of them,
    /// each with the image reference a check would use (the zodiac `original-image` label
    /// or `Config.Image`): one engine listing (running containers, plus stopped or
    /// restarting ones as the [`Params`] say), less those renamed aside by an update, kept
    /// by `filter`. No registry is asked, nothing is touched. The HTTP API's
    /// `GET /v1/containers` shows this.
    pub async fn watched(&self, filter: &Filter) -> Result<Vec<(Container, String)>, Error> {
        let all = self
            .client()
            .list_containers(self.params().list_options())
            .await
            .map_err(|source| Error::List { source })?;
        Ok(all
            .into_iter()
            .filter(|c| original_name(c).is_none() && filter.matches(c))
            .map(|c| {
                let image = ImageName::of(&c).as_str().to_owned();
                (c, image)
            })
            .collect())
    }
}
