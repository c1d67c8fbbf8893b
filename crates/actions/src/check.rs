//! The check phase: which containers run an outdated image, with one registry question per
//! distinct image and a pull only where the answer calls for one.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures_util::StreamExt as _;
use futures_util::stream;
use tracing::{debug, info, warn};
use watchtower_container_client::{Container, ContainerClient, Image};
use watchtower_registry_auth::ImageReference;
use watchtower_session_report::{ContainerRef, FailedStep, ReportBuilder};

use crate::freshness::{Freshness, FreshnessChecker, FreshnessQuery};
use crate::image_ref::ImageName;
use crate::{Params, labels, rejected};

/// Whether the session may change anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Report only: no pull, no hook, no container touched.
    Check,
    /// Pull what is stale and update.
    Update,
}

/// What the check found for one container.
#[derive(Debug, Clone)]
pub(crate) enum Verdict {
    /// Runs the newest image.
    Fresh,
    /// A newer image exists; `latest` is it when it is available locally (pulled), `None`
    /// when it was only seen in the registry.
    Stale { latest: Option<Box<Image>> },
    /// Not checked, for this reason.
    Skipped(String),
    /// The check itself failed.
    Failed(FailedStep, String),
}

/// One selected container through the session.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) container: Container,
    pub(crate) cref: ContainerRef,
    /// The reference checked (zodiac label or `Config.Image`, with a default tag).
    pub(crate) image_name: ImageName,
    /// The image the container runs, inspected.
    pub(crate) old_image: Option<Image>,
    pub(crate) verdict: Verdict,
    /// The digest the registry serves for the reference, when it answered `Stale` (for
    /// `watchtower check`; the update does not use it).
    pub(crate) remote_digest: Option<String>,
    /// Whether the registry answered `Fresh` (it serves the digest the container runs).
    pub(crate) registry_fresh: bool,
}

impl Entry {
    pub(crate) fn record(&self, report: &mut ReportBuilder) {
        match &self.verdict {
            Verdict::Fresh => report.fresh(&self.cref),
            Verdict::Stale { latest } => report.stale(
                &self.cref,
                latest.as_ref().map(|i| i.id.as_str()).unwrap_or_default(),
            ),
            Verdict::Skipped(reason) => report.skipped(&self.cref, reason.as_str()),
            Verdict::Failed(step, reason) => {
                report.failed(&self.cref, *step, reason.as_str(), false)
            }
        };
    }
}

pub(crate) fn container_ref(container: &Container, image_name: &ImageName) -> ContainerRef {
    ContainerRef::new(
        container.id.clone(),
        format!("/{}", container.name.trim_start_matches('/')),
        image_name.as_str(),
        container.image_id.clone(),
    )
}

enum Route {
    Decided(Verdict),
    Local,
    /// The answer to the registry question with this index.
    Registry(usize),
    /// A reference that cannot be asked about: what a registry that could not tell would
    /// answer, without asking (in an update, the engine's pull then says what is wrong).
    Unchecked(Freshness),
}

impl Route {
    /// The registry's answer this route follows, if it follows one.
    fn answer<'a>(&'a self, answers: &'a [Freshness]) -> Option<&'a Freshness> {
        match self {
            Self::Registry(i) => answers.get(*i),
            Self::Unchecked(answer) => Some(answer),
            Self::Decided(_) | Self::Local => None,
        }
    }
}

type Lookups = HashMap<String, Result<Image, String>>;

/// Checks `containers` and returns one entry per container, in the same order.
pub(crate) async fn check_containers<C, R>(
    client: &C,
    registry: &R,
    params: &Params,
    containers: Vec<Container>,
    mode: Mode,
) -> Vec<Entry>
where
    C: ContainerClient + ?Sized,
    R: FreshnessChecker + ?Sized,
{
    let concurrency = params.check_concurrency.max(1);

    // The images the containers run, each inspected once.
    let image_ids: BTreeSet<String> = containers.iter().map(|c| c.image_id.clone()).collect();
    let old_images = inspect_all(client, image_ids, concurrency).await;

    // Where each container's answer comes from; distinct registry questions.
    let mut questions = Questions::default();
    let mut routes = Vec::with_capacity(containers.len());
    let mut entries = Vec::with_capacity(containers.len());
    for container in containers {
        let image_name = ImageName::of(&container);
        let old_image = old_images.get(&container.image_id);
        routes.push(route(
            params,
            &container,
            &image_name,
            old_image,
            &mut questions,
        ));
        entries.push(Entry {
            cref: container_ref(&container, &image_name),
            old_image: old_image.and_then(|r| r.as_ref().ok()).cloned(),
            container,
            image_name,
            verdict: Verdict::Fresh,
            remote_digest: None,
            registry_fresh: false,
        });
    }

    let answers = if questions.queries.is_empty() {
        Vec::new()
    } else {
        debug!(
            distinct = questions.queries.len(),
            "asking registries about distinct images"
        );
        registry.check_many(&questions.queries, concurrency).await
    };
    if answers.len() != questions.queries.len() {
        // A checker that breaks the contract: the containers without an answer fail below.
        warn!(
            asked = questions.queries.len(),
            answered = answers.len(),
            "the registry checker did not answer every question"
        );
    }
    log_unknowns(params, mode, &entries, &routes, &answers);
    let rejected = rejected_digests(client, &entries, &routes, &answers, concurrency).await;
    let is_rejected = |entry: &Entry, route: &Route| match route.answer(&answers) {
        Some(Freshness::Stale { remote_digest }) => {
            rejected.contains(&(entry.image_name.as_str().to_owned(), remote_digest.clone()))
        }
        _ => false,
    };

    // Follow-ups: local look-ups of the tag and pulls, each once per reference.
    let mut local_refs = BTreeSet::new();
    let mut pull_refs: BTreeMap<String, ImageName> = BTreeMap::new();
    for (entry, route) in entries.iter().zip(&routes) {
        let name = &entry.image_name;
        if is_rejected(entry, route) {
            continue;
        }
        match (route, route.answer(&answers), mode) {
            (Route::Local, ..) | (_, Some(Freshness::Fresh), _) => {
                local_refs.insert(name.as_str().to_owned());
            }
            (_, Some(_), Mode::Update) => {
                pull_refs.insert(name.as_str().to_owned(), name.clone());
            }
            _ => {}
        }
    }
    let local = inspect_all(client, local_refs, concurrency).await;
    let pulled: Lookups = stream::iter(pull_refs)
        .map(|(text, name)| async move {
            let result = pull(client, registry, &name).await;
            (text, result)
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;

    for (entry, route) in entries.iter_mut().zip(routes) {
        let rejected = is_rejected(entry, &route);
        settle(entry, route, &answers, rejected, mode, &local, &pulled);
        log_verdict(entry);
    }
    entries
}

/// The entry's verdict from its route, the registry's answer and the follow-ups; `rejected`:
/// the registry's digest is one the health gate rolled back before.
fn settle(
    entry: &mut Entry,
    route: Route,
    answers: &[Freshness],
    rejected: bool,
    mode: Mode,
    local: &Lookups,
    pulled: &Lookups,
) {
    let answer = route.answer(answers);
    match answer {
        Some(Freshness::Stale { remote_digest }) => {
            entry.remote_digest = Some(remote_digest.clone());
        }
        Some(Freshness::Fresh) => entry.registry_fresh = true,
        _ => {}
    }
    if rejected
        && let (Some(reference), Some(Freshness::Stale { remote_digest })) =
            (entry.image_name.reference(), answer)
    {
        entry.verdict = Verdict::Skipped(rejected::reason(reference, remote_digest));
        return;
    }
    entry.verdict = match route {
        Route::Decided(verdict) => verdict,
        Route::Local => match local.get(entry.image_name.as_str()) {
            Some(Ok(image)) => compare(&entry.container, image),
            Some(Err(err)) => Verdict::Failed(FailedStep::Inspect, err.clone()),
            None => Verdict::Failed(
                FailedStep::Inspect,
                format!("image {} was not looked up", entry.image_name),
            ),
        },
        Route::Registry(_) | Route::Unchecked(_) => match answer {
            Some(answer) => after_registry(entry, answer, mode, local, pulled),
            None => Verdict::Failed(
                FailedStep::Check,
                format!(
                    "the registry checker gave no answer for {}",
                    entry.image_name
                ),
            ),
        },
    };
}

/// The (image name, digest) pairs among the registry's stale answers that the health gate
/// rolled back before (see [`crate::rejected`]), each looked up once.
async fn rejected_digests<C: ContainerClient + ?Sized>(
    client: &C,
    entries: &[Entry],
    routes: &[Route],
    answers: &[Freshness],
    concurrency: usize,
) -> BTreeSet<(String, String)> {
    let mut asked: BTreeMap<(String, String), ImageReference> = BTreeMap::new();
    for (entry, route) in entries.iter().zip(routes) {
        if let (Some(reference), Some(Freshness::Stale { remote_digest })) =
            (entry.image_name.reference(), route.answer(answers))
        {
            asked
                .entry((entry.image_name.as_str().to_owned(), remote_digest.clone()))
                .or_insert_with(|| reference.clone());
        }
    }
    stream::iter(asked)
        .map(|(key, reference)| async move {
            let rejected = rejected::was_rejected(client, &reference, &key.1).await;
            rejected.then_some(key)
        })
        .buffer_unordered(concurrency)
        .filter_map(|found| async move { found })
        .collect()
        .await
}

/// Distinct registry questions, keyed by (reference, image the container runs).
#[derive(Default)]
struct Questions {
    queries: Vec<FreshnessQuery>,
    index: HashMap<(ImageReference, String), usize>,
}

fn route(
    params: &Params,
    container: &Container,
    image_name: &ImageName,
    old_image: Option<&Result<Image, String>>,
    questions: &mut Questions,
) -> Route {
    let no_pull = labels::label_or_global(
        &container.labels,
        labels::NO_PULL,
        params.no_pull,
        params.label_take_precedence,
    );
    if let Some(service) = labels::swarm_service_of(container) {
        return Route::Decided(Verdict::Skipped(format!(
            "managed by swarm service {service}: Swarm replaces its tasks, watchtower never \
             recreates them as loose containers"
        )));
    }
    if image_name.is_image_id() {
        return Route::Decided(Verdict::Skipped(
            "container uses a pinned image, and cannot be updated by watchtower".to_owned(),
        ));
    }
    let old_image = match old_image {
        Some(Ok(image)) => image,
        Some(Err(err)) => return Route::Decided(Verdict::Failed(FailedStep::Inspect, err.clone())),
        None => {
            return Route::Decided(Verdict::Failed(
                FailedStep::Inspect,
                format!("image {} was not inspected", container.image_id),
            ));
        }
    };
    if image_name.is_digest_pinned() {
        debug!(container = %container.name, image = %image_name, "pinned to a digest; never stale");
        return Route::Decided(Verdict::Fresh);
    }
    if no_pull {
        return Route::Local;
    }
    let Some(reference) = image_name.reference() else {
        let reason = image_name
            .invalid_reason()
            .unwrap_or("the image reference cannot be checked");
        return Route::Unchecked(Freshness::Unknown {
            reason: reason.to_owned(),
        });
    };
    let key = (reference.clone(), container.image_id.clone());
    let queries = &mut questions.queries;
    let index = *questions.index.entry(key).or_insert_with(|| {
        queries.push(FreshnessQuery {
            reference: reference.clone(),
            repo_digests: old_image.repo_digests.clone(),
        });
        queries.len() - 1
    });
    Route::Registry(index)
}

fn after_registry(
    entry: &Entry,
    answer: &Freshness,
    mode: Mode,
    local: &Lookups,
    pulled: &Lookups,
) -> Verdict {
    match (answer, mode) {
        // The registry serves what the container runs; a newer image pulled by hand still
        // counts (the local tag is compared too, as the original did).
        (Freshness::Fresh, _) => match local.get(entry.image_name.as_str()) {
            Some(Ok(image)) => compare(&entry.container, image),
            Some(Err(_)) | None => Verdict::Fresh,
        },
        (Freshness::Stale { .. }, Mode::Check) => Verdict::Stale { latest: None },
        (Freshness::Unknown { reason }, Mode::Check) => {
            Verdict::Failed(FailedStep::Check, reason.clone())
        }
        (Freshness::Stale { .. }, Mode::Update) => match pulled.get(entry.image_name.as_str()) {
            Some(Ok(image)) => compare(&entry.container, image),
            Some(Err(err)) => Verdict::Failed(FailedStep::Pull, err.clone()),
            None => not_pulled(entry),
        },
        (Freshness::Unknown { reason }, Mode::Update) => {
            match pulled.get(entry.image_name.as_str()) {
                Some(Ok(image)) => compare(&entry.container, image),
                Some(Err(err)) => Verdict::Failed(
                    FailedStep::Pull,
                    format!("{err} (after the registry check failed: {reason})"),
                ),
                None => not_pulled(entry),
            }
        }
    }
}

/// A pull that should have been made and was not (never expected: the pulls are planned
/// from the same answers), reported rather than a panic.
fn not_pulled(entry: &Entry) -> Verdict {
    Verdict::Failed(
        FailedStep::Pull,
        format!("image {} was not pulled", entry.image_name),
    )
}

async fn inspect_all<C>(client: &C, ids: BTreeSet<String>, concurrency: usize) -> Lookups
where
    C: ContainerClient + ?Sized,
{
    stream::iter(ids)
        .map(|id| async move {
            let result = client.inspect_image(&id).await.map_err(|e| e.to_string());
            (id, result)
        })
        .buffer_unordered(concurrency)
        .collect()
        .await
}

/// A line for each registry check that could not tell, at warn or debug as
/// `--warn-on-head-failure` says.
fn log_unknowns(
    params: &Params,
    mode: Mode,
    entries: &[Entry],
    routes: &[Route],
    answers: &[Freshness],
) {
    // One line per registry question, or per (reference, image) that could not be asked.
    let mut logged = BTreeSet::new();
    for (entry, route) in entries.iter().zip(routes) {
        let image = &entry.image_name;
        if let Some(Freshness::Unknown { reason }) = route.answer(answers) {
            let question = match route {
                Route::Registry(i) => (*i, "", ""),
                _ => (
                    usize::MAX,
                    image.as_str(),
                    entry.container.image_id.as_str(),
                ),
            };
            if !logged.insert(question) {
                continue;
            }
            let action = match mode {
                Mode::Update => "falling back to a pull",
                Mode::Check => "cannot tell whether it is fresh",
            };
            if params.warn_on_head_failure.warns_for_image(image) {
                warn!(%image, %reason, "could not check the registry; {action}");
            } else {
                debug!(%image, %reason, "could not check the registry; {action}");
            }
        }
    }
}

fn log_verdict(entry: &Entry) {
    let name = &entry.container.name;
    let image = &entry.image_name;
    match &entry.verdict {
        Verdict::Stale { .. } => info!(container = %name, %image, "found a newer image"),
        Verdict::Fresh => debug!(container = %name, %image, "image is fresh"),
        Verdict::Skipped(reason) | Verdict::Failed(_, reason) => {
            info!(container = %name, %image, %reason, "unable to update container; proceeding to next");
        }
    }
}

async fn pull<C, R>(client: &C, registry: &R, image: &ImageName) -> Result<Image, String>
where
    C: ContainerClient + ?Sized,
    R: FreshnessChecker + ?Sized,
{
    // Without a reference there are no credentials to look up: the engine says what is
    // wrong with the name when it pulls.
    let auth = match image.reference() {
        Some(reference) => registry
            .pull_auth(reference)
            .await
            .map_err(|e| e.to_string())?,
        None => None,
    };
    info!(%image, "pulling");
    client
        .pull_image(image.as_str(), auth)
        .await
        .map_err(|e| e.to_string())
}

fn compare(container: &Container, latest: &Image) -> Verdict {
    if latest.id == container.image_id {
        Verdict::Fresh
    } else {
        Verdict::Stale {
            latest: Some(Box::new(latest.clone())),
        }
    }
}

/// The monitor-only decision for each entry.
pub(crate) fn monitor_only(params: &Params, container: &Container) -> bool {
    labels::label_or_global(
        &container.labels,
        labels::MONITOR_ONLY,
        params.monitor_only,
        params.label_take_precedence,
    )
}

/// A map from image ID to the containers (names) running it, for logs.
pub(crate) fn images_in_use(containers: &[Container]) -> BTreeMap<String, Vec<String>> {
    let mut used: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for c in containers {
        used.entry(c.image_id.clone())
            .or_default()
            .push(c.name.clone());
    }
    used
}
