//! SIGTERM and SIGINT while the real binary is updating (issue 6): the container being
//! updated is finished (or restored), no other container is touched, and the process exits
//! 0. The binary runs against the real Docker Engine and the real registry (plain HTTP on
//! 127.0.0.1); test containers run with `network_mode: none`.
//!
//! Each test runs two containers of one image with a slow pre-update hook (`sleep 3`),
//! publishes a new version, starts an update session and sends the signal while the first
//! container's hook runs. The binary is scoped to the test's run (`--scope <run id>`), so
//! it touches nothing else. Skips loudly without an engine; fails under
//! `WATCHTOWER_E2E=required`.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context as _;
use bollard::query_parameters::{EventsOptionsBuilder, ListContainersOptionsBuilder};
use futures_util::StreamExt as _;
use http::Method;
use watchtower_e2e::{Watchtower, request};
use watchtower_testkit::{
    ContainerSpec, Engine, FixtureImage, FixtureSpec, RUN_LABEL, Registry, RegistryMode,
};

const SCOPE_LABEL: &str = "com.centurylinklabs.watchtower.scope";
const PRE_UPDATE_LABEL: &str = "com.centurylinklabs.watchtower.lifecycle.pre-update";
/// How long each container's pre-update hook takes.
const HOOK_SECONDS: u64 = 3;

/// Two containers of one image, the registry serving a newer version.
struct Scene {
    engine: Engine,
    _registry: Registry,
    scope: String,
    v1: String,
    v2: String,
    /// name -> (id, `StartedAt`) before the session.
    before: HashMap<String, (String, String)>,
}

/// (id, running, image id, `StartedAt`) of a container.
async fn state(engine: &Engine, name: &str) -> anyhow::Result<(String, bool, String, String)> {
    let c = engine.inspect_container(name).await?;
    let state = c.state.unwrap_or_default();
    Ok((
        c.id.unwrap_or_default(),
        state.running.unwrap_or(false),
        c.image.unwrap_or_default(),
        state.started_at.unwrap_or_default(),
    ))
}

impl Scene {
    async fn new(repo: &str) -> anyhow::Result<Option<Scene>> {
        let Some(engine) = Engine::require().await else {
            return Ok(None);
        };
        let registry = Registry::start(RegistryMode::Plain).await?;
        let scope = engine.run_id().to_owned();
        let mut image = FixtureImage::publish(
            &engine,
            &registry,
            &format!("{repo}-{scope}"),
            FixtureSpec::default(),
        )
        .await?;
        let v1 = image.image_id().to_owned();
        let mut before = HashMap::new();
        for short in ["sig-a", "sig-b"] {
            let name = engine.unique_name(short);
            engine
                .run_container(
                    &name,
                    ContainerSpec::new(image.reference())
                        .network_mode("none")
                        .label(SCOPE_LABEL, &scope)
                        .label(PRE_UPDATE_LABEL, &format!("sleep {HOOK_SECONDS}")),
                )
                .await?;
            let (id, running, image_id, started) = state(&engine, &name).await?;
            anyhow::ensure!(running && image_id == v1, "{name} did not start on v1");
            before.insert(name, (id, started));
        }
        image.publish_next_version().await?;
        let v2 = image.image_id().to_owned();
        anyhow::ensure!(v1 != v2, "the new version has another image id");
        Ok(Some(Scene {
            engine,
            _registry: registry,
            scope,
            v1,
            v2,
            before,
        }))
    }

    /// The arguments every run shares: hooks on, debug log (hook lines), this run's scope.
    fn args(&self) -> Vec<String> {
        [
            "--enable-lifecycle-hooks",
            "--debug",
            "--scope",
            &self.scope,
        ]
        .map(str::to_owned)
        .to_vec()
    }

    /// Waits for the first pre-update hook to start and returns that container's name.
    async fn first_hook(&self, watchtower: &Watchtower) -> anyhow::Result<String> {
        let line = watchtower
            .wait_for_log("hook=pre-update", Duration::from_secs(120))
            .await?;
        anyhow::ensure!(
            line.contains("running hook"),
            "unexpected hook line: {line}"
        );
        self.before
            .keys()
            .find(|name| line.contains(name.as_str()))
            .cloned()
            .with_context(|| format!("no container of this test in: {line}"))
    }

    /// Every container of this run by name.
    async fn names(&self) -> anyhow::Result<Vec<String>> {
        let filters = HashMap::from([(
            "label".to_owned(),
            vec![format!("{RUN_LABEL}={}", self.scope)],
        )]);
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let mut names: Vec<String> = self
            .engine
            .docker()
            .list_containers(Some(options))
            .await?
            .into_iter()
            .flat_map(|c| c.names.unwrap_or_default())
            .map(|n| n.trim_start_matches('/').to_owned())
            .collect();
        names.sort();
        Ok(names)
    }

    /// The actions of the engine's events for container `id` at or after `since` (Unix
    /// nanoseconds). The engine's `since` filter counts whole seconds, so the scene's own
    /// create and start, made in the same second, are dropped here by their `timeNano`.
    async fn events_of(&self, id: &str, since: i64) -> anyhow::Result<Vec<String>> {
        let until = (now_nanos() / NANOS + 1).to_string();
        let since_nanos = since;
        let since = (since / NANOS - 1).to_string();
        let filters = HashMap::from([("type", vec!["container"]), ("container", vec![id])]);
        let options = EventsOptionsBuilder::default()
            .since(&since)
            .until(&until)
            .filters(&filters)
            .build();
        let mut stream = self.engine.docker().events(Some(options));
        let mut actions = Vec::new();
        while let Some(event) = stream.next().await {
            let event = event?;
            if event.time_nano.unwrap_or(i64::MAX) >= since_nanos {
                actions.push(event.action.unwrap_or_default());
            }
        }
        Ok(actions)
    }

    /// After the signal: the first container finished (v2) or was restored (v1), the other
    /// one was not touched, nothing is left renamed aside.
    async fn assert_settled(&self, first: &str, log: &[String], since: i64) -> anyhow::Result<()> {
        let other = self
            .before
            .keys()
            .find(|n| n.as_str() != first)
            .context("two containers")?;

        let (first_id, running, image, _) = state(&self.engine, first).await?;
        assert!(
            running,
            "{first} (being updated at the signal) is not running"
        );
        let (old_id, _) = &self.before[first];
        if image == self.v2 {
            assert_ne!(&first_id, old_id, "{first} on v2 must be a new container");
        } else {
            assert_eq!(image, self.v1, "{first} runs neither v1 nor v2");
            assert_eq!(&first_id, old_id, "{first} restored is the old container");
        }
        // This implementation finishes the container it is on.
        assert_eq!(image, self.v2, "{first} was restored instead of finished");

        let (other_id, running, image, started) = state(&self.engine, other).await?;
        assert_eq!(
            (other_id.as_str(), running, image.as_str(), started.as_str()),
            (
                self.before[other].0.as_str(),
                true,
                self.v1.as_str(),
                self.before[other].1.as_str()
            ),
            "{other} (not reached yet at the signal) must run as before, never stopped"
        );
        let events = self.events_of(&other_id, since).await?;
        let touched: Vec<_> = events.iter().filter(|a| !a.starts_with("exec_")).collect();
        assert!(touched.is_empty(), "{other} was touched: {events:?}");
        assert!(
            !log.iter()
                .any(|l| l.contains("hook=pre-update") && l.contains(other.as_str())),
            "the pre-update hook of {other} ran after the signal"
        );

        let mut expected: Vec<String> = self.before.keys().cloned().collect();
        expected.sort();
        assert_eq!(
            self.names().await?,
            expected,
            "every container under its own name, none left renamed aside"
        );
        Ok(())
    }
}

const NANOS: i64 = 1_000_000_000;

/// Now as Unix nanoseconds (the engine runs on this machine, so its clock is this one).
fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// The `key=value` field of a logfmt line.
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace()
        .find_map(|f| f.strip_prefix(key)?.strip_prefix('='))
}

/// The "session done" line's counts.
fn session_counts(log: &[String]) -> Option<(String, String, String)> {
    let line = log.iter().find(|l| l.contains("msg=\"session done\""))?;
    Some((
        field(line, "updated")?.to_owned(),
        field(line, "skipped")?.to_owned(),
        field(line, "failed")?.to_owned(),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_run_once_update_finishes_the_current_container_and_exits_zero()
-> anyhow::Result<()> {
    let Some(scene) = Scene::new("e2e/sigterm").await? else {
        return Ok(());
    };
    let since = now_nanos();
    let mut args = scene.args();
    args.push("--run-once".to_owned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let watchtower = Watchtower::start(&args, &[])?;

    let first = scene.first_hook(&watchtower).await?;
    // Well inside the hook's three seconds.
    tokio::time::sleep(Duration::from_millis(500)).await;
    watchtower.terminate()?;
    let (code, log) = watchtower.wait_with_log(Duration::from_secs(120)).await?;

    assert_eq!(
        code,
        Some(0),
        "exit code after SIGTERM; log:\n{}",
        log.join("\n")
    );
    assert!(
        log.iter()
            .any(|l| l.contains("Waiting for running update to be finished")
                && l.contains("signal=SIGTERM")),
        "the signal was not noticed:\n{}",
        log.join("\n")
    );
    assert_eq!(
        session_counts(&log),
        Some(("1".to_owned(), "1".to_owned(), "0".to_owned())),
        "one updated, one skipped (cancelled), none failed:\n{}",
        log.join("\n")
    );
    scene.assert_settled(&first, &log, since).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_during_an_api_update_finishes_the_current_container_answers_and_exits_zero()
-> anyhow::Result<()> {
    let Some(scene) = Scene::new("e2e/sigint").await? else {
        return Ok(());
    };
    let since = now_nanos();
    let token = "e2e-signals-token-7c21";
    let mut args = scene.args();
    args.extend(
        [
            "--http-api-update",
            "--http-api-host",
            "127.0.0.1",
            "--http-api-port",
            "0",
        ]
        .map(str::to_owned),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let watchtower = Watchtower::start(&args, &[("WATCHTOWER_HTTP_API_TOKEN", token)])?;
    let addr = watchtower.api_addr().await?;
    let update =
        tokio::spawn(async move { request(addr, Method::POST, "/v1/update", Some(token)).await });

    let first = scene.first_hook(&watchtower).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    watchtower.signal("INT")?;
    let (code, log) = watchtower.wait_with_log(Duration::from_secs(120)).await?;

    assert_eq!(
        code,
        Some(0),
        "exit code after SIGINT; log:\n{}",
        log.join("\n")
    );
    assert!(
        log.iter()
            .any(|l| l.contains("Waiting for running update to be finished")
                && l.contains("signal=SIGINT")),
        "the signal was not noticed:\n{}",
        log.join("\n")
    );
    // The caller that asked for the session gets its report, although the process stops.
    let response = tokio::time::timeout(Duration::from_secs(30), update)
        .await
        .context("the update request did not end")???;
    assert_eq!(response.status, 200, "{}", response.body);
    let report: serde_json::Value = serde_json::from_str(&response.body)?;
    assert_eq!(report["counts"]["updated"], 1, "{report:#}");
    assert_eq!(report["counts"]["skipped"], 1, "{report:#}");
    assert_eq!(report["counts"]["failed"], 0, "{report:#}");
    scene.assert_settled(&first, &log, since).await
}
