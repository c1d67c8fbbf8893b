//! `--warn-on-head-failure`: a registry check that fails is logged at warn or at debug, as
//! the flag says. The sessions' log is captured with a `tracing-subscriber` JSON formatter
//! writing into a buffer, and the level of the "could not check the registry" event is read
//! back.
//!
//! The registry is real where the check goes to one (the testkit registry on 127.0.0.1,
//! stopped, or asked for a repository it does not have). Docker Hub and GHCR cannot be asked
//! from a test (nothing leaves 127.0.0.1), so `auto`'s choice by registry host is driven
//! through a `FreshnessChecker` that answers "unknown" without any traffic.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tracing::instrument::WithSubscriber as _;
use tracing_subscriber::fmt::MakeWriter;
use watchtower_actions::{
    Filter, Freshness, FreshnessChecker, FreshnessQuery, Params, RegistryChecker, Report, Updater,
    WarnOnHeadFailure, label,
};
use watchtower_container_client::{
    Container, ContainerState, DockerClient, Image, MockContainerClient, PullAuth,
};
use watchtower_registry_auth::ImageReference;
use watchtower_registry_digest::RegistryOptions;
use watchtower_session_report::FailedStep;
use watchtower_testkit::{
    ContainerSpec, Engine, FixtureImage, FixtureSpec, Registry, RegistryMode,
};

/// The message of the event under test (check sessions say what they cannot tell, update
/// sessions that they fall back to a pull).
const HEAD_FAILED: &str = "could not check the registry";

/// Log output collected in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

struct CapturedWriter(Arc<Mutex<Vec<u8>>>);

impl Write for CapturedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = CapturedWriter;

    fn make_writer(&'a self) -> Self::Writer {
        CapturedWriter(self.0.clone())
    }
}

/// One captured event.
#[derive(Debug, Clone)]
struct Event {
    level: String,
    message: String,
    fields: serde_json::Map<String, serde_json::Value>,
}

impl Captured {
    fn events(&self) -> Vec<Event> {
        let bytes = self.0.lock().expect("log buffer").clone();
        String::from_utf8(bytes)
            .expect("utf-8 log")
            .lines()
            .map(|line| {
                let value: serde_json::Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
                let fields = value["fields"].as_object().cloned().unwrap_or_default();
                Event {
                    level: value["level"].as_str().unwrap_or_default().to_owned(),
                    message: fields
                        .get("message")
                        .and_then(|m| m.as_str())
                        .unwrap_or_default()
                        .to_owned(),
                    fields,
                }
            })
            .collect()
    }

    /// The level of the failed-HEAD event for each image, by image reference.
    fn head_failures(&self) -> BTreeMap<String, Vec<String>> {
        let mut levels: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for event in self.events() {
            if event.message.starts_with(HEAD_FAILED) {
                let image = event.fields["image"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                levels.entry(image).or_default().push(event.level);
            }
        }
        levels
    }
}

/// Runs `session` with every event (trace and up) captured as JSON.
async fn captured<F: Future>(session: F) -> (F::Output, Captured) {
    let log = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(log.clone())
        .finish();
    let output = session.with_subscriber(subscriber).await;
    (output, log)
}

fn params(warn: WarnOnHeadFailure) -> Params {
    let mut params = Params::default();
    params.warn_on_head_failure = warn;
    params
}

const MODES: [(WarnOnHeadFailure, &str); 3] = [
    (WarnOnHeadFailure::Always, "always"),
    (WarnOnHeadFailure::Never, "never"),
    (WarnOnHeadFailure::Auto, "auto"),
];

/// The level `mode` must log a failed check at, for an image on a registry that
/// rate-limits pulls (Docker Hub, GHCR) or on another one.
fn expected(mode: WarnOnHeadFailure, rate_limited_registry: bool) -> &'static str {
    let warn = match mode {
        WarnOnHeadFailure::Always => true,
        WarnOnHeadFailure::Never => false,
        WarnOnHeadFailure::Auto => rate_limited_registry,
    };
    if warn { "WARN" } else { "DEBUG" }
}

/// A container running `reference` (image id derived from it) for the mock engine.
fn container(i: usize, reference: &str) -> (Container, Image) {
    let image = Image {
        id: format!("sha256:{i:064x}"),
        repo_digests: vec![],
        ..Image::default()
    };
    let container = Container {
        id: format!("{:064x}", 0xc0_0000 + i),
        name: format!("app{i}"),
        image_reference: reference.to_owned(),
        image_id: image.id.clone(),
        state: ContainerState::Running,
        created: "2024-01-01T00:00:00Z".to_owned(),
        ..Container::default()
    };
    (container, image)
}

/// A mock engine that lists `containers` and inspects their images, and must do nothing
/// else (a check session changes nothing).
fn mock_engine(containers: &[(Container, Image)]) -> MockContainerClient {
    let listed: Vec<Container> = containers.iter().map(|(c, _)| c.clone()).collect();
    let images: Vec<Image> = containers.iter().map(|(_, i)| i.clone()).collect();
    let mut engine = MockContainerClient::new();
    engine
        .expect_list_containers()
        .returning(move |_| Ok(listed.clone()));
    engine.expect_inspect_image().returning(move |id| {
        images
            .iter()
            .find(|i| i.id == id)
            .cloned()
            .ok_or_else(|| panic!("unexpected image inspect {id}"))
    });
    engine.expect_pull_image().never();
    engine.expect_stop_container().never();
    engine
}

/// Answers "unknown" for every image, sending nothing anywhere.
struct Unreachable;

#[async_trait]
impl FreshnessChecker for Unreachable {
    async fn check(&self, query: &FreshnessQuery) -> Freshness {
        Freshness::Unknown {
            reason: format!("registry of {} did not answer (test)", query.reference),
        }
    }

    async fn pull_auth(
        &self,
        _: &ImageReference,
    ) -> Result<Option<PullAuth>, watchtower_actions::Error> {
        Ok(None)
    }
}

fn assert_check_failed(report: &Report, count: usize) {
    let failed = report.failed();
    assert_eq!(failed.len(), count, "{report:#?}");
    for entry in failed {
        assert_eq!(entry.failed_step(), Some(FailedStep::Check), "{entry:?}");
    }
}

#[tokio::test]
async fn auto_warns_only_for_rate_limited_registries() {
    // (reference as the container has it, the image name the session checks, rate limited)
    let cases = [
        ("ghcr.io/team/app:1", "ghcr.io/team/app:1", true),
        ("nginx", "nginx:latest", true),
        ("library/redis:7", "library/redis:7", true),
        (
            "docker.io/library/busybox:1",
            "docker.io/library/busybox:1",
            true,
        ),
        (
            "index.docker.io/team/api:2",
            "index.docker.io/team/api:2",
            true,
        ),
        ("127.0.0.1:5000/app:1", "127.0.0.1:5000/app:1", false),
        ("localhost/app", "localhost/app:latest", false),
        (
            "registry.example.com/team/app:2",
            "registry.example.com/team/app:2",
            false,
        ),
        ("quay.io/org/tool:3", "quay.io/org/tool:3", false),
    ];
    let containers: Vec<(Container, Image)> = cases
        .iter()
        .enumerate()
        .map(|(i, (reference, _, _))| container(i, reference))
        .collect();

    for (mode, name) in MODES {
        let updater = Updater::new(mock_engine(&containers), Unreachable, params(mode));
        let (report, log) = captured(updater.check(&Filter::all())).await;
        let report = report.expect("a check session");
        assert_check_failed(&report, cases.len());

        let levels = log.head_failures();
        for (_, image, rate_limited) in cases {
            assert_eq!(
                levels.get(image).map(Vec::as_slice),
                Some([expected(mode, rate_limited).to_owned()].as_slice()),
                "--warn-on-head-failure={name}, image {image}: {levels:#?}"
            );
        }
        assert_eq!(levels.len(), cases.len(), "{levels:#?}");
    }
}

#[tokio::test]
async fn a_head_answered_404_by_a_real_registry_is_logged_as_the_flag_says() {
    let registry = match Registry::start(RegistryMode::Plain).await {
        Ok(registry) => registry,
        Err(err) => {
            watchtower_testkit::skip("the docker-registry binary", &format!("{err:#}"));
            return;
        }
    };
    // The registry has no such repository: its HEAD answers 404.
    let reference = format!("{}/no-such/repository:latest", registry.host());
    let containers = [container(1, &reference)];

    for (mode, name) in MODES {
        let checker = RegistryChecker::from_options(RegistryOptions::default()).expect("client");
        let updater = Updater::new(mock_engine(&containers), checker, params(mode));
        let (report, log) = captured(updater.check(&Filter::all())).await;
        let report = report.expect("a check session");
        assert_check_failed(&report, 1);
        let reason = report.failed()[0].error().unwrap_or_default().to_owned();
        assert!(reason.contains("404"), "{name}: {reason}");

        let levels = log.head_failures();
        assert_eq!(
            levels.get(&reference).map(Vec::as_slice),
            Some([expected(mode, false).to_owned()].as_slice()),
            "--warn-on-head-failure={name}: {levels:#?}"
        );
        // Nothing else about the failure reaches warn in the modes that keep it at debug.
        if expected(mode, false) == "DEBUG" {
            let warnings: Vec<_> = log
                .events()
                .into_iter()
                .filter(|e| e.level == "WARN" || e.level == "ERROR")
                .collect();
            assert!(warnings.is_empty(), "{name}: {warnings:#?}");
        }
    }
    registry.flush_access_log().await.expect("access log");
    assert_eq!(
        registry.count_requests("HEAD", "/v2/no-such/repository/manifests/latest"),
        MODES.len(),
        "one real HEAD per session: {:?}",
        registry.access_log()
    );
}

#[tokio::test]
async fn auto_warns_for_a_reference_that_does_not_parse() {
    // The original warns in `auto` when the reference cannot be parsed, whatever registry
    // it seems to name (upper case is not allowed in a repository path).
    let reference = "127.0.0.1:5000/Team/App:1";
    let containers = [container(1, reference)];
    let checker = RegistryChecker::from_options(RegistryOptions::default()).expect("client");
    let updater = Updater::new(
        mock_engine(&containers),
        checker,
        params(WarnOnHeadFailure::Auto),
    );
    let (report, log) = captured(updater.check(&Filter::all())).await;
    assert_check_failed(&report.expect("a check session"), 1);
    assert_eq!(
        log.head_failures().get(reference).map(Vec::as_slice),
        Some(["WARN".to_owned()].as_slice()),
        "{:#?}",
        log.head_failures()
    );
}

/// The real engine, and a real registry that has stopped: check and update sessions log
/// the failed check at the flag's level; the update session's pull fails too and the
/// container is left as it was.
#[tokio::test]
async fn a_stopped_registry_is_logged_as_the_flag_says_in_check_and_update_sessions()
-> anyhow::Result<()> {
    let Some(engine) = Engine::require().await else {
        return Ok(());
    };
    let registry = Registry::start(RegistryMode::Plain).await?;
    let scope = engine.run_id().to_owned();
    let repo = format!("head-failure/app-{scope}");
    let image = FixtureImage::publish(&engine, &registry, &repo, FixtureSpec::default()).await?;
    let name = engine.unique_name("head-failure");
    let id = engine
        .run_container(
            &name,
            ContainerSpec::new(image.reference()).label(label::SCOPE, &scope),
        )
        .await?;
    let reference = image.reference();
    drop(registry); // stops it: every request is refused from now on

    let filter = Filter::all().scope(scope.as_str());
    for (mode, name_of_mode) in MODES {
        let docker = DockerClient::connect_from_env().await?;
        let checker = RegistryChecker::from_options(RegistryOptions::default())?;
        let updater = Updater::new(docker, checker, params(mode));

        let (report, log) = captured(updater.check(&filter)).await;
        assert_check_failed(&report?, 1);
        let want = vec![expected(mode, false).to_owned()];
        assert_eq!(
            log.head_failures().get(&reference),
            Some(&want),
            "check, --warn-on-head-failure={name_of_mode}: {:#?}",
            log.events()
        );

        let (report, log) = captured(updater.update(&filter)).await;
        let report = report?;
        let failed = report.failed();
        assert_eq!(failed.len(), 1, "{report:#?}");
        assert_eq!(
            failed[0].failed_step(),
            Some(FailedStep::Pull),
            "{report:#?}"
        );
        let events = log.events();
        let head: Vec<&Event> = events
            .iter()
            .filter(|e| e.message.starts_with(HEAD_FAILED))
            .collect();
        assert_eq!(head.len(), 1, "update, {name_of_mode}: {events:#?}");
        assert_eq!(head[0].level, want[0], "update, {name_of_mode}: {head:#?}");
        assert!(
            head[0].message.contains("falling back to a pull"),
            "{:?}",
            head[0].message
        );
        // The container was not touched.
        let inspect = engine.inspect_container(&name).await?;
        assert_eq!(inspect.id.as_deref(), Some(id.as_str()));
        assert_eq!(inspect.state.and_then(|s| s.running), Some(true));
    }
    Ok(())
}
