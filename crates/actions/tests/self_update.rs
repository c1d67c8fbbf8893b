//! Self-update and one-instance-per-scope against the real Docker Engine and the real
//! registry (testkit, 127.0.0.1). A container labelled `com.centurylinklabs.watchtower=true`
//! stands in for a watchtower instance (it runs the fixture's idle command; the test process
//! plays the instance's part): an update session must never stop it, only rename it aside
//! and start its successor under its name, and [`cleanup_excess_instances`], which the
//! successor runs when it starts, removes the old one.
//!
//! Every container carries this run's scope label and every call is scoped to it, so these
//! tests never touch another test's (or a real) watchtower instance.

#[allow(dead_code)] // each test binary uses part of it
mod common;

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context as _;
use bollard::query_parameters::EventsOptionsBuilder;
use futures_util::StreamExt as _;
use watchtower_actions::{
    Filter, Params, RegistryChecker, Updater, aside_name, cleanup_excess_instances, label,
    original_name,
};
use watchtower_container_client::{ContainerClient, DockerClient, ListOptions};
use watchtower_registry_digest::RegistryOptions;
use watchtower_session_report::State;
use watchtower_testkit::{
    AnonymousVolumes, ContainerSpec, Engine, FixtureImage, FixtureSpec, Registry, RegistryMode,
};

/// The label value that marks a watchtower instance.
const INSTANCE: &str = "true";

struct World {
    engine: Engine,
    registry: Registry,
    docker: DockerClient,
}

impl World {
    async fn new() -> anyhow::Result<Option<World>> {
        let Some(engine) = Engine::require().await else {
            return Ok(None);
        };
        let registry = Registry::start(RegistryMode::Plain).await?;
        let docker = DockerClient::connect_from_env().await?;
        Ok(Some(World {
            engine,
            registry,
            docker,
        }))
    }

    /// This run's scope (its run id).
    fn scope(&self) -> &str {
        self.engine.run_id()
    }

    async fn fixture(&self, repo: &str) -> anyhow::Result<FixtureImage> {
        self.fixture_with(repo, FixtureSpec::default()).await
    }

    async fn fixture_with(&self, repo: &str, spec: FixtureSpec) -> anyhow::Result<FixtureImage> {
        let repo = format!("{repo}-{}", self.scope());
        FixtureImage::publish(&self.engine, &self.registry, &repo, spec).await
    }

    /// Runs a stand-in watchtower instance `<short>-<run id>` of `image` in `scope`.
    async fn instance(
        &self,
        short: &str,
        image: &FixtureImage,
        scope: &str,
    ) -> anyhow::Result<(String, String)> {
        let name = self.engine.unique_name(short);
        let id = self
            .engine
            .run_container(
                &name,
                ContainerSpec::new(image.reference())
                    .label(label::WATCHTOWER, INSTANCE)
                    .label(label::SCOPE, scope),
            )
            .await?;
        Ok((name, id))
    }

    fn updater(&self, params: Params) -> anyhow::Result<Updater<DockerClient, RegistryChecker>> {
        let registry = RegistryChecker::from_options(RegistryOptions::default())?;
        Ok(Updater::new(self.docker.clone(), registry, params))
    }

    /// (name, running, image id) of a container by name or id.
    async fn state(&self, container: &str) -> anyhow::Result<(String, bool, String)> {
        let c = self.engine.inspect_container(container).await?;
        Ok((
            c.name
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_owned(),
            c.state.and_then(|s| s.running).unwrap_or(false),
            c.image.unwrap_or_default(),
        ))
    }

    async fn image_exists(&self, id: &str) -> anyhow::Result<bool> {
        Ok(self.engine.image_id(id).await?.is_some())
    }

    /// The actions of the engine's events for container `id` from `since` (ns since the
    /// epoch) until now; a `kill` names its signal number (`kill 2`).
    async fn events_of(&self, id: &str, since: i64) -> anyhow::Result<Vec<String>> {
        let until = (chrono::Utc::now().timestamp() + 1).to_string();
        let since_secs = (since / 1_000_000_000 - 1).to_string();
        let filters = HashMap::from([("type", vec!["container"]), ("container", vec![id])]);
        let options = EventsOptionsBuilder::default()
            .since(&since_secs)
            .until(&until)
            .filters(&filters)
            .build();
        let mut stream = self.engine.docker().events(Some(options));
        let mut actions = Vec::new();
        while let Some(event) = stream.next().await {
            let event = event.context("reading engine events")?;
            if event.time_nano.unwrap_or_default() < since {
                continue;
            }
            let action = event.action.unwrap_or_default();
            let signal = event
                .actor
                .and_then(|a| a.attributes)
                .and_then(|a| a.get("signal").cloned());
            actions.push(match signal {
                Some(signal) if action == "kill" => format!("kill {signal}"),
                _ => action,
            });
        }
        Ok(actions)
    }
}

fn now() -> i64 {
    chrono::Utc::now()
        .timestamp_nanos_opt()
        .expect("a date before 2262")
}

/// Events that mean a container was stopped, killed or died.
fn stopping(actions: &[String]) -> Vec<&String> {
    actions
        .iter()
        .filter(|a| {
            let a = a.as_str();
            a == "stop" || a == "die" || a == "destroy" || a.starts_with("kill")
        })
        .collect()
}

#[tokio::test]
#[allow(clippy::too_many_lines)] // one story: the update, then the successor's start
async fn self_update_renames_the_instance_aside_and_its_successor_removes_it() -> anyhow::Result<()>
{
    let Some(w) = World::new().await? else {
        return Ok(());
    };
    let mut image = w.fixture("self-update/watchtower").await?;
    let v1 = image.image_id().to_owned();
    let (name, old_id) = w.instance("watchtower", &image, w.scope()).await?;
    let started_at = |c: bollard::models::ContainerInspectResponse| {
        c.state.and_then(|s| s.started_at).unwrap_or_default()
    };
    let old_started = started_at(w.engine.inspect_container(&old_id).await?);
    let aside = aside_name(&w.docker.inspect_container(&old_id).await?);
    image.publish_next_version().await?;
    let v2 = image.image_id().to_owned();
    assert_ne!(v1, v2);

    let mut params = Params::default();
    params.cleanup = true;
    let updater = w.updater(params)?;
    let filter = Filter::all().scope(w.scope());
    let since = now();
    let report = updater.update(&filter).await?;

    // The session reports the instance updated...
    let entries = report.updated();
    assert_eq!(entries.len(), 1, "{report:#?}");
    assert_eq!(entries[0].name(), format!("/{name}"));
    assert_eq!(entries[0].latest_image_id(), v2);
    // ...the old instance was never stopped, only renamed aside, and runs on v1...
    let old = w.engine.inspect_container(&old_id).await?;
    let old_container = w
        .docker
        .inspect_container(&old_id)
        .await
        .context("inspecting the old instance")?;
    assert_eq!(
        w.state(&old_id).await?,
        (aside.clone(), true, v1.clone()),
        "the old instance runs on, renamed aside"
    );
    assert_eq!(original_name(&old_container), Some(name.as_str()));
    assert_eq!(
        started_at(old),
        old_started,
        "the old instance was restarted"
    );
    let old_events = w.events_of(&old_id, since).await?;
    assert!(
        stopping(&old_events).is_empty(),
        "the update session stopped the running instance: {old_events:?}"
    );
    assert!(old_events.iter().any(|a| a == "rename"), "{old_events:?}");
    // ...its successor runs under the original name on v2, as an instance of the same scope...
    let (_, running, image_id) = w.state(&name).await?;
    assert!(running, "the new instance runs");
    assert_eq!(image_id, v2);
    let new = w.engine.inspect_container(&name).await?;
    let new_id = new.id.clone().unwrap_or_default();
    assert_ne!(new_id, old_id);
    let labels = new.config.and_then(|c| c.labels).unwrap_or_default();
    assert_eq!(
        labels.get(label::WATCHTOWER).map(String::as_str),
        Some("true")
    );
    assert_eq!(
        labels.get(label::SCOPE).map(String::as_str),
        Some(w.scope())
    );
    // ...and --cleanup kept v1: the old instance still runs it.
    assert!(w.image_exists(&v1).await?, "v1 removed while in use");

    // The successor starts: it stops and removes the old instance and, with cleanup, v1.
    let removed = cleanup_excess_instances(&w.docker, Some(w.scope()), true).await?;
    assert_eq!(removed, 1);
    assert!(
        !w.engine.container_exists(&old_id).await?,
        "the old instance is gone"
    );
    assert!(!w.engine.container_exists(&aside).await?);
    let (now_name, running, image_id) = w.state(&new_id).await?;
    assert_eq!((now_name.as_str(), running), (name.as_str(), true));
    assert_eq!(image_id, v2);
    assert!(
        !w.image_exists(&v1).await?,
        "v1 is unused and was cleaned up"
    );
    assert!(w.image_exists(&v2).await?, "v2 runs and stays");

    // Alone in its scope now: nothing more to do.
    assert_eq!(
        cleanup_excess_instances(&w.docker, Some(w.scope()), true).await?,
        0
    );
    assert!(w.state(&new_id).await?.1);
    Ok(())
}

#[tokio::test]
async fn without_cleanup_the_old_instance_image_stays() -> anyhow::Result<()> {
    let Some(w) = World::new().await? else {
        return Ok(());
    };
    let mut image = w.fixture("self-update/keep").await?;
    let v1 = image.image_id().to_owned();
    let (name, old_id) = w.instance("watchtower", &image, w.scope()).await?;
    image.publish_next_version().await?;

    let report = w
        .updater(Params::default())?
        .update(&Filter::all().scope(w.scope()))
        .await?;
    let entry = report
        .all()
        .iter()
        .find(|e| e.name() == format!("/{name}"))
        .context("the instance is in the report")?;
    assert_eq!(entry.state(), State::Updated, "{entry:?}");

    assert_eq!(
        cleanup_excess_instances(&w.docker, Some(w.scope()), false).await?,
        1
    );
    assert!(!w.engine.container_exists(&old_id).await?);
    assert!(w.state(&name).await?.1);
    assert!(
        w.image_exists(&v1).await?,
        "without cleanup the old image is kept"
    );
    Ok(())
}

#[tokio::test]
async fn one_instance_per_scope_the_newest_stays() -> anyhow::Result<()> {
    let Some(w) = World::new().await? else {
        return Ok(());
    };
    let image = w.fixture("instances/watchtower").await?;
    let scope = w.scope().to_owned();
    let other_scope = format!("{scope}-other");

    // Three instances in one scope, created one after the other; the middle one only stops
    // on SIGINT (its stop-signal label), so stopping it with SIGTERM would hang.
    let (first, first_id) = w.instance("first", &image, &scope).await?;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let second = w.engine.unique_name("second");
    let second_id = w
        .engine
        .run_container(
            &second,
            ContainerSpec::new(image.reference())
                .label(label::WATCHTOWER, INSTANCE)
                .label(label::SCOPE, &scope)
                .label(label::STOP_SIGNAL, "SIGINT")
                .cmd([
                    "/bin/sh",
                    "-c",
                    "trap '' TERM; trap 'exit 0' INT; while true; do sleep 1; done",
                ]),
        )
        .await?;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let (newest, newest_id) = w.instance("newest", &image, &scope).await?;
    // Not instances of this scope: one of another scope (created last, so it would be the
    // newest if scopes were ignored), and a plain container of this scope.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let (other, other_id) = w.instance("other-scope", &image, &other_scope).await?;
    let plain = w.engine.unique_name("plain");
    let plain_id = w
        .engine
        .run_container(
            &plain,
            ContainerSpec::new(image.reference()).label(label::SCOPE, &scope),
        )
        .await?;
    let since = now();

    let removed = tokio::time::timeout(
        Duration::from_secs(120),
        cleanup_excess_instances(&w.docker, Some(&scope), false),
    )
    .await
    .context("cleanup_excess_instances hung (stop signal label ignored?)")??;

    assert_eq!(removed, 2);
    for (name, id) in [(&first, &first_id), (&second, &second_id)] {
        assert!(
            !w.engine.container_exists(id).await?,
            "{name} (older) is still there"
        );
    }
    let second_events = w.events_of(&second_id, since).await?;
    assert!(
        second_events.iter().any(|a| a == "kill 2"),
        "stopped with its stop-signal label's SIGINT: {second_events:?}"
    );
    for (name, id) in [
        (&newest, &newest_id),
        (&other, &other_id),
        (&plain, &plain_id),
    ] {
        let (now_name, running, _) = w.state(id).await?;
        assert_eq!(&now_name, name);
        assert!(running, "{name} was stopped");
        let events = w.events_of(id, since).await?;
        assert!(stopping(&events).is_empty(), "{name}: {events:?}");
    }

    // The other scope's instance is alone in its scope.
    assert_eq!(
        cleanup_excess_instances(&w.docker, Some(&other_scope), false).await?,
        0
    );
    assert!(w.state(&other_id).await?.1);
    Ok(())
}

/// A session between a self-update and the successor's start-up must leave the renamed-aside
/// old instance alone (it is running, watchtower-labelled, in scope and stale). It once
/// self-updated it: a third instance under `<name>-wt-old-<id>`, the old one renamed
/// `<name>-wt-old-<id>-wt-old-<id>`, and the successor removed by the instance cleanup.
#[tokio::test]
async fn a_session_before_the_successor_starts_leaves_the_aside_instance_alone()
-> anyhow::Result<()> {
    let Some(w) = World::new().await? else {
        return Ok(());
    };
    let mut image = w.fixture("self-update/between").await?;
    let v1 = image.image_id().to_owned();
    let (name, old_id) = w.instance("watchtower", &image, w.scope()).await?;
    let aside = aside_name(&w.docker.inspect_container(&old_id).await?);
    image.publish_next_version().await?;
    let updater = w.updater(Params::default())?;
    let filter = Filter::all().scope(w.scope());
    assert_eq!(updater.update(&filter).await?.updated().len(), 1);

    // The old instance's next session, before its successor has stopped it.
    let report = updater.update(&filter).await?;
    assert!(report.updated().is_empty(), "{report:#?}");
    assert!(report.failed().is_empty(), "{report:#?}");
    assert_eq!(w.state(&old_id).await?, (aside, true, v1));
    assert!(w.state(&name).await?.1);
    let instances: Vec<String> = w
        .docker
        .list_containers(ListOptions::default())
        .await?
        .into_iter()
        .filter(|c| label::is_watchtower(c) && label::scope_of(c) == w.scope())
        .map(|c| c.name)
        .collect();
    assert_eq!(
        instances.len(),
        2,
        "old instance and successor only: {instances:?}"
    );
    Ok(())
}

/// An instance whose image declares a `VOLUME`: its successor mounts the same anonymous
/// volume while the old instance still runs, and keeps it when the old one is removed.
#[tokio::test]
async fn the_successor_keeps_the_anonymous_volume_of_the_instance() -> anyhow::Result<()> {
    let Some(w) = World::new().await? else {
        return Ok(());
    };
    let volumes = AnonymousVolumes::default();
    let mut image = w
        .fixture_with("self-update/volume", common::with_volumes(&["/data"]))
        .await?;
    let (name, old_id) = w.instance("watchtower", &image, w.scope()).await?;
    let data = common::write_data(&w.engine, &w.docker, &volumes, &old_id).await?;
    image
        .publish_next_with(common::with_volumes(&["/data"]))
        .await?;
    let mut params = Params::default();
    params.remove_volumes = true;
    let report = w
        .updater(params)?
        .update(&Filter::all().scope(w.scope()))
        .await?;
    assert_eq!(report.updated().len(), 1, "{report:#?}");

    // Both instances run and share the volume until the successor removes the old one.
    let new_id = w
        .engine
        .inspect_container(&name)
        .await?
        .id
        .unwrap_or_default();
    assert_ne!(new_id, old_id);
    assert!(w.state(&old_id).await?.1 && w.state(&new_id).await?.1);
    assert_eq!(
        common::volume_at(&w.engine, &new_id, "/data").await?,
        Some(data.clone())
    );
    assert_eq!(
        cleanup_excess_instances(&w.docker, Some(w.scope()), false).await?,
        1
    );
    assert!(!w.engine.container_exists(&old_id).await?);
    assert!(common::volume_exists(&w.engine, &data).await?);
    assert_eq!(
        common::sh(&w.docker, &new_id, "cat /data/file").await?,
        "precious"
    );
    Ok(())
}
