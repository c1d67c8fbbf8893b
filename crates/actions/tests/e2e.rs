//! Sessions end to end: the real Docker Engine (`DockerClient`), the real registry
//! (`RegistryChecker` against a testkit registry on 127.0.0.1), fixture images built at test
//! time. Every container of a test carries the scope label of its run and every session is
//! scoped to it, so tests running at the same time never see each other's containers.
//!
//! Without an engine these tests skip loudly (and fail under `WATCHTOWER_E2E=required`).

#[allow(dead_code)] // each test binary uses part of it
mod common;

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context as _;
use bollard::models::{EndpointSettings, HostConfig, NetworkingConfig};
use bollard::query_parameters::EventsOptionsBuilder;
use futures_util::StreamExt as _;
use watchtower_actions::{
    Filter, Params, RegistryChecker, Updater, aside_name, label, volume_holder_name,
};
use watchtower_container_client::{ContainerClient, DockerClient};
use watchtower_lifecycle::{POST_UPDATE_LABEL, PRE_UPDATE_LABEL};
use watchtower_registry_digest::RegistryOptions;
use watchtower_session_report::{ContainerReport, FailedStep, Report, State};

use common::{sh, volume_at, volume_exists, with_volumes, write_data};
use watchtower_testkit::{
    AnonymousVolumes, ContainerSpec, Engine, FixtureImage, FixtureSpec, RUN_LABEL, Registry,
    RegistryMode,
};

struct World {
    engine: Engine,
    registry: Registry,
}

impl World {
    async fn new() -> anyhow::Result<Option<World>> {
        let Some(engine) = Engine::require().await else {
            return Ok(None);
        };
        let registry = Registry::start(RegistryMode::Plain).await?;
        Ok(Some(World { engine, registry }))
    }

    fn scope(&self) -> &str {
        self.engine.run_id()
    }

    fn filter(&self) -> Filter {
        Filter::all().scope(self.scope())
    }

    async fn updater(
        &self,
        params: Params,
    ) -> anyhow::Result<Updater<DockerClient, RegistryChecker>> {
        let docker = DockerClient::connect_from_env().await?;
        let registry = RegistryChecker::from_options(RegistryOptions::default())?;
        Ok(Updater::new(docker, registry, params))
    }

    async fn fixture(&self, repo: &str) -> anyhow::Result<FixtureImage> {
        self.fixture_with(repo, FixtureSpec::default()).await
    }

    async fn fixture_with(&self, repo: &str, spec: FixtureSpec) -> anyhow::Result<FixtureImage> {
        let repo = format!("{repo}-{}", self.scope());
        FixtureImage::publish(&self.engine, &self.registry, &repo, spec).await
    }

    /// Runs a container `<name>-<run id>` in this run's scope; returns the full name.
    async fn run(&self, name: &str, spec: ContainerSpec) -> anyhow::Result<String> {
        let name = self.engine.unique_name(name);
        let spec = spec.label(label::SCOPE, self.scope());
        self.engine.run_container(&name, spec).await?;
        Ok(name)
    }

    fn name(&self, short: &str) -> String {
        self.engine.unique_name(short)
    }

    /// (id, running, image id) of a container.
    async fn state(&self, name: &str) -> anyhow::Result<(String, bool, String)> {
        let c = self.engine.inspect_container(name).await?;
        Ok((
            c.id.unwrap_or_default(),
            c.state.and_then(|s| s.running).unwrap_or(false),
            c.image.unwrap_or_default(),
        ))
    }

    /// The names of every container of this run.
    async fn container_names(&self) -> anyhow::Result<Vec<String>> {
        let filters = HashMap::from([(
            "label".to_owned(),
            vec![format!("{RUN_LABEL}={}", self.scope())],
        )]);
        let options = bollard::query_parameters::ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let mut names: Vec<String> = self
            .engine
            .docker()
            .list_containers(Some(options))
            .await?
            .into_iter()
            .filter_map(|c| c.names.and_then(|n| n.into_iter().next()))
            .map(|n| n.trim_start_matches('/').to_owned())
            .collect();
        names.sort();
        Ok(names)
    }

    /// Container events of this run from `since` (ns since the epoch) until now, as
    /// (action, name).
    async fn events_since(&self, since: i64) -> anyhow::Result<Vec<(String, String)>> {
        let until = (chrono::Utc::now().timestamp() + 1).to_string();
        let since_nanos = since;
        let since = (since / 1_000_000_000 - 1).to_string();
        let label = format!("{RUN_LABEL}={}", self.scope());
        let filters = HashMap::from([("type", vec!["container"]), ("label", vec![label.as_str()])]);
        let options = EventsOptionsBuilder::default()
            .since(&since)
            .until(&until)
            .filters(&filters)
            .build();
        let mut stream = self.engine.docker().events(Some(options));
        let mut events = Vec::new();
        while let Some(event) = stream.next().await {
            let event = event.context("reading engine events")?;
            if event.time_nano.unwrap_or_default() < since_nanos {
                continue;
            }
            let name = event
                .actor
                .and_then(|a| a.attributes)
                .and_then(|a| a.get("name").cloned())
                .unwrap_or_default();
            events.push((event.action.unwrap_or_default(), name));
        }
        Ok(events)
    }
}

fn entry<'a>(report: &'a Report, name: &str) -> &'a ContainerReport {
    let slashed = format!("/{name}");
    report
        .all()
        .iter()
        .find(|e| e.name() == slashed)
        .unwrap_or_else(|| panic!("{name} not in the report: {report:#?}"))
}

/// Now, in ns since the epoch (engine events carry the same clock).
fn now() -> i64 {
    chrono::Utc::now()
        .timestamp_nanos_opt()
        .expect("a date before 2262")
}

#[tokio::test]
async fn a_stale_container_is_updated() -> anyhow::Result<()> {
    let Some(w) = World::new().await? else {
        return Ok(());
    };
    let mut app = w.fixture("e2e/update").await?;
    let web = w
        .run(
            "web",
            ContainerSpec::new(app.reference()).env("USER_SET", "kept"),
        )
        .await?;
    let (old_id, _, _) = w.state(&web).await?;
    app.publish_next_version().await?;

    let report = w
        .updater(Params::default())
        .await?
        .update(&w.filter())
        .await?;

    let e = entry(&report, &web);
    assert_eq!(e.state(), State::Updated, "{e:?}");
    assert_eq!(e.latest_image_id(), app.image_id());
    let (new_id, running, image) = w.state(&web).await?;
    assert_ne!(new_id, old_id);
    assert!(running);
    assert_eq!(image, app.image_id());
    let inspected = w.engine.inspect_container(&web).await?;
    let env = inspected.config.and_then(|c| c.env).unwrap_or_default();
    assert!(env.contains(&"USER_SET=kept".to_owned()), "{env:?}");
    assert!(env.contains(&"FIXTURE_VERSION=2".to_owned()), "{env:?}");
    assert_eq!(
        w.container_names().await?,
        [web],
        "the old container is gone"
    );
    Ok(())
}

#[tokio::test]
async fn nothing_new_touches_nothing_and_pulls_nothing() -> anyhow::Result<()> {
    let Some(w) = World::new().await? else {
        return Ok(());
    };
    let app = w.fixture("e2e/fresh").await?;
    let a = w.run("a", ContainerSpec::new(app.reference())).await?;
    let b = w.run("b", ContainerSpec::new(app.reference())).await?;
    let before = (w.state(&a).await?, w.state(&b).await?);
    w.registry.flush_access_log().await?;
    w.registry.clear_access_log();
    let since = now();

    let report = w
        .updater(Params::default())
        .await?
        .update(&w.filter())
        .await?;

    assert_eq!(report.counts().fresh, 2, "{report:#?}");
    assert_eq!((w.state(&a).await?, w.state(&b).await?), before);
    w.registry.flush_access_log().await?;
    let log = w.registry.access_log();
    let manifests: Vec<_> = log
        .iter()
        .filter(|e| e.path.contains("/manifests/"))
        .collect();
    assert_eq!(
        manifests.len(),
        1,
        "one HEAD for the one distinct image: {log:?}"
    );
    assert_eq!(manifests[0].method, "HEAD");
    assert!(
        log.iter()
            .all(|e| !e.path.contains("/blobs/") && (e.method == "HEAD" || e.path == "/v2/")),
        "only the ping and HEADs: {log:?}"
    );
    let touched: Vec<_> = w
        .events_since(since)
        .await?
        .into_iter()
        .filter(|(action, _)| !action.starts_with("exec"))
        .collect();
    assert!(touched.is_empty(), "{touched:?}");
    Ok(())
}

#[tokio::test]
async fn selection_monitor_only_label_enable_and_scope() -> anyhow::Result<()> {
    let Some(w) = World::new().await? else {
        return Ok(());
    };
    let mut app = w.fixture("e2e/select").await?;
    let watched = w
        .run(
            "watched",
            ContainerSpec::new(app.reference())
                .label(label::ENABLE, "true")
                .label(label::MONITOR_ONLY, "true"),
        )
        .await?;
    let enabled = w
        .run(
            "enabled",
            ContainerSpec::new(app.reference()).label(label::ENABLE, "true"),
        )
        .await?;
    let unlabelled = w
        .run("unlabelled", ContainerSpec::new(app.reference()))
        .await?;
    // Another scope: same image, never seen.
    let elsewhere = w.engine.unique_name("elsewhere");
    w.engine
        .run_container(
            &elsewhere,
            ContainerSpec::new(app.reference())
                .label(label::SCOPE, "another-scope")
                .label(label::ENABLE, "true"),
        )
        .await?;
    let ids = [
        w.state(&watched).await?.0,
        w.state(&unlabelled).await?.0,
        w.state(&elsewhere).await?.0,
    ];
    app.publish_next_version().await?;

    let report = w
        .updater(Params::default())
        .await?
        .update(&w.filter().label_enable(true))
        .await?;

    assert_eq!(report.all().len(), 2, "{report:#?}");
    let m = entry(&report, &watched);
    assert_eq!(m.state(), State::Stale);
    assert_eq!(m.latest_image_id(), app.image_id());
    assert_eq!(entry(&report, &enabled).state(), State::Updated);
    assert_eq!(
        [
            w.state(&watched).await?.0,
            w.state(&unlabelled).await?.0,
            w.state(&elsewhere).await?.0,
        ],
        ids,
        "monitor-only, unlabelled and out-of-scope containers are untouched"
    );
    assert_eq!(w.state(&enabled).await?.2, app.image_id());
    Ok(())
}

#[tokio::test]
async fn depends_on_order_is_followed_by_the_engine() -> anyhow::Result<()> {
    let Some(w) = World::new().await? else {
        return Ok(());
    };
    let mut app = w.fixture("e2e/order").await?;
    let (db, api, web) = (w.name("db"), w.name("api"), w.name("web"));
    // Created in an unhelpful order on purpose.
    w.run(
        "web",
        ContainerSpec::new(app.reference()).label(label::DEPENDS_ON, &api),
    )
    .await?;
    w.run(
        "api",
        ContainerSpec::new(app.reference()).label(label::DEPENDS_ON, &db),
    )
    .await?;
    w.run("db", ContainerSpec::new(app.reference())).await?;
    app.publish_next_version().await?;
    let since = now();

    let report = w
        .updater(Params::default())
        .await?
        .update(&w.filter())
        .await?;
    assert_eq!(report.counts().updated, 3, "{report:#?}");

    let events = w.events_since(since).await?;
    let of = |action: &str| -> Vec<String> {
        events
            .iter()
            .filter(|(a, _)| a == action)
            .map(|(_, n)| n.clone())
            .collect()
    };
    // Stopped after being renamed aside: every stop happens under watchtower's name.
    assert!(
        of("die").iter().all(|n| n.contains("-wt-old-")),
        "{events:?}"
    );
    assert_eq!(
        of("die").iter().map(|n| original(n)).collect::<Vec<_>>(),
        [web.clone(), api.clone(), db.clone()],
        "{events:?}"
    );
    assert_eq!(of("start"), [db, api, web], "{events:?}");
    Ok(())
}

#[tokio::test]
async fn linked_and_network_sharing_dependents_are_recreated() -> anyhow::Result<()> {
    let Some(w) = World::new().await? else {
        return Ok(());
    };
    let mut db_image = w.fixture("e2e/linked-db").await?;
    let tool = w.fixture("e2e/linked-tool").await?;
    let net = w.engine.unique_name("net");
    w.engine.create_network(&net).await?;
    let db = w
        .run(
            "db",
            ContainerSpec::new(db_image.reference()).network_mode(&net),
        )
        .await?;
    // `--link` on a user-defined network lives in the endpoint settings.
    let endpoint = EndpointSettings {
        links: Some(vec![format!("{db}:database")]),
        ..EndpointSettings::default()
    };
    let web = w
        .run(
            "web",
            ContainerSpec::new(tool.reference())
                .network_mode(&net)
                .with_body(|b| {
                    b.networking_config = Some(NetworkingConfig {
                        endpoints_config: Some(HashMap::from([(net.clone(), endpoint)])),
                    });
                }),
        )
        .await?;
    let sidecar = w
        .run(
            "sidecar",
            ContainerSpec::new(tool.reference()).network_mode(&format!("container:{db}")),
        )
        .await?;
    let before_web = w.state(&web).await?.0;
    let before_sidecar = w.state(&sidecar).await?.0;
    db_image.publish_next_version().await?;

    let report = w
        .updater(Params::default())
        .await?
        .update(&w.filter())
        .await?;

    assert_eq!(entry(&report, &db).state(), State::Updated, "{report:#?}");
    for (name, before) in [(&web, before_web), (&sidecar, before_sidecar)] {
        let e = entry(&report, name);
        assert_eq!(e.state(), State::Updated, "{e:?}");
        assert_eq!(
            e.latest_image_id(),
            tool.image_id(),
            "same image, new container"
        );
        let (id, running, _) = w.state(name).await?;
        assert_ne!(id, before, "{name} was recreated");
        assert!(running, "{name} runs");
    }
    let (db_id, _, _) = w.state(&db).await?;
    let sidecar_mode = w
        .engine
        .inspect_container(&sidecar)
        .await?
        .host_config
        .and_then(|h| h.network_mode)
        .unwrap_or_default();
    assert_eq!(
        sidecar_mode,
        format!("container:{db_id}"),
        "joined the new db"
    );
    let links = w
        .engine
        .inspect_container(&web)
        .await?
        .network_settings
        .and_then(|s| s.networks)
        .and_then(|n| n.get(&net).cloned())
        .and_then(|e| e.links)
        .unwrap_or_default();
    assert_eq!(links, [format!("{db}:database")], "the link is kept");
    Ok(())
}

#[tokio::test]
async fn rolling_restart_replaces_one_container_at_a_time() -> anyhow::Result<()> {
    let Some(w) = World::new().await? else {
        return Ok(());
    };
    let mut app = w.fixture("e2e/rolling").await?;
    let a = w.run("a", ContainerSpec::new(app.reference())).await?;
    let b = w.run("b", ContainerSpec::new(app.reference())).await?;
    app.publish_next_version().await?;
    let since = now();
    let mut params = Params::default();
    params.rolling_restart = true;
    params.ready_timeout = Duration::from_secs(30);

    let report = w.updater(params).await?.update(&w.filter()).await?;
    assert_eq!(report.counts().updated, 2, "{report:#?}");

    let events: Vec<(String, String)> = w
        .events_since(since)
        .await?
        .into_iter()
        .filter(|(action, _)| action == "die" || action == "start")
        .map(|(action, name)| (action, original(&name)))
        .collect();
    assert_eq!(events.len(), 4, "{events:?}");
    let first = events[0].1.clone();
    let second = if first == a { b.clone() } else { a.clone() };
    assert_eq!(
        events,
        [
            ("die".to_owned(), first.clone()),
            ("start".to_owned(), first),
            ("die".to_owned(), second.clone()),
            ("start".to_owned(), second),
        ],
        "the second container is stopped only after the first one's successor started"
    );
    Ok(())
}

#[tokio::test]
async fn hooks_run_in_the_containers_and_exit_75_skips() -> anyhow::Result<()> {
    let Some(w) = World::new().await? else {
        return Ok(());
    };
    let mut app = w.fixture("e2e/hooks").await?;
    let volume = w
        .engine
        .create_volume(&w.engine.unique_name("hooks"))
        .await?;
    let hooked = w
        .run(
            "hooked",
            ContainerSpec::new(app.reference())
                .label(PRE_UPDATE_LABEL, "echo pre-$FIXTURE_VERSION >> /data/log")
                .label(POST_UPDATE_LABEL, "echo post-$FIXTURE_VERSION >> /data/log")
                .host_config(HostConfig {
                    network_mode: Some("none".into()),
                    binds: Some(vec![format!("{volume}:/data")]),
                    ..HostConfig::default()
                }),
        )
        .await?;
    let busy = w
        .run(
            "busy",
            ContainerSpec::new(app.reference()).label(PRE_UPDATE_LABEL, "echo busy; exit 75"),
        )
        .await?;
    let failing = w
        .run(
            "failing",
            ContainerSpec::new(app.reference()).label(PRE_UPDATE_LABEL, "echo no space; exit 3"),
        )
        .await?;
    let busy_id = w.state(&busy).await?.0;
    let failing_id = w.state(&failing).await?.0;
    app.publish_next_version().await?;
    let mut params = Params::default();
    params.lifecycle_hooks = true;

    let updater = w.updater(params).await?;
    let report = updater.update(&w.filter()).await?;

    assert_eq!(
        entry(&report, &hooked).state(),
        State::Updated,
        "{report:#?}"
    );
    let (hooked_id, _, _) = w.state(&hooked).await?;
    let log = updater
        .client()
        .exec(&hooked_id, "cat /data/log", Some(Duration::from_secs(20)))
        .await?;
    assert_eq!(
        log.output.split_whitespace().collect::<Vec<_>>(),
        ["pre-1", "post-2"]
    );

    let b = entry(&report, &busy);
    assert_eq!(b.state(), State::Skipped);
    assert!(b.error().unwrap_or_default().contains("75"), "{b:?}");
    assert_eq!(
        w.state(&busy).await?,
        (busy_id, true, app.image_id_of(1).unwrap().to_owned())
    );

    let f = entry(&report, &failing);
    assert_eq!(f.state(), State::Failed);
    assert_eq!(f.failed_step(), Some(FailedStep::PreUpdateHook));
    assert!(f.error().unwrap_or_default().contains("no space"), "{f:?}");
    assert_eq!(w.state(&failing).await?.0, failing_id);
    Ok(())
}

#[tokio::test]
async fn cleanup_removes_an_old_image_only_when_no_container_uses_it() -> anyhow::Result<()> {
    let Some(w) = World::new().await? else {
        return Ok(());
    };
    let mut shared = w.fixture("e2e/cleanup-shared").await?;
    let mut kept = w.fixture("e2e/cleanup-kept").await?;
    w.run("s1", ContainerSpec::new(shared.reference())).await?;
    w.run("s2", ContainerSpec::new(shared.reference())).await?;
    w.run("k1", ContainerSpec::new(kept.reference())).await?;
    let k2 = w
        .run(
            "k2",
            ContainerSpec::new(kept.reference()).label(label::MONITOR_ONLY, "true"),
        )
        .await?;
    shared.publish_next_version().await?;
    kept.publish_next_version().await?;
    let mut params = Params::default();
    params.cleanup = true;

    let report = w.updater(params).await?.update(&w.filter()).await?;

    assert_eq!(report.counts().updated, 3, "{report:#?}");
    let shared_v1 = shared.image_id_of(1).unwrap();
    let kept_v1 = kept.image_id_of(1).unwrap();
    assert_eq!(
        w.engine.image_id(shared_v1).await?,
        None,
        "no container uses it any more"
    );
    assert_eq!(
        w.engine.image_id(kept_v1).await?.as_deref(),
        Some(kept_v1),
        "k2 still runs it"
    );
    assert_eq!(w.state(&k2).await?.2, kept_v1);
    Ok(())
}

#[tokio::test]
async fn a_new_image_that_cannot_start_leaves_the_old_container_running() -> anyhow::Result<()> {
    let Some(w) = World::new().await? else {
        return Ok(());
    };
    let mut app = w.fixture("e2e/broken").await?;
    let web = w
        .run("web", ContainerSpec::new(app.reference()).env("KEEP", "me"))
        .await?;
    let before = w.state(&web).await?;
    app.publish_next_with(FixtureSpec::default().line(r#"ENTRYPOINT ["/missing-entrypoint"]"#))
        .await?;

    let report = w
        .updater(Params::default())
        .await?
        .update(&w.filter())
        .await?;

    let e = entry(&report, &web);
    assert_eq!(e.state(), State::Failed, "{e:?}");
    assert_eq!(e.failed_step(), Some(FailedStep::Start));
    assert!(e.restored());
    assert!(
        e.error().unwrap_or_default().contains("missing-entrypoint"),
        "{e:?}"
    );
    assert_eq!(
        w.state(&web).await?,
        before,
        "the same container, running, on its image"
    );
    assert_eq!(
        w.container_names().await?,
        std::slice::from_ref(&web),
        "nothing half-made left"
    );
    let env = w
        .engine
        .inspect_container(&web)
        .await?
        .config
        .and_then(|c| c.env)
        .unwrap_or_default();
    assert!(env.contains(&"KEEP=me".to_owned()));
    Ok(())
}

#[tokio::test]
async fn an_interrupted_update_is_settled_by_the_next_session() -> anyhow::Result<()> {
    let Some(w) = World::new().await? else {
        return Ok(());
    };
    let app = w.fixture("e2e/interrupted").await?;
    let web = w.run("web", ContainerSpec::new(app.reference())).await?;
    let updater = w.updater(Params::default()).await?;
    let before = updater.client().inspect_container(&web).await?;
    // What a killed session leaves: stopped and renamed aside, no replacement.
    updater
        .client()
        .stop_container(
            &before.id,
            watchtower_container_client::StopOptions {
                signal: "SIGTERM".into(),
                timeout: Duration::from_secs(10),
            },
        )
        .await?;
    updater
        .client()
        .rename_container(&before.id, &aside_name(&before))
        .await?;

    let report = updater.update(&w.filter()).await?;

    assert_eq!(entry(&report, &web).state(), State::Fresh, "{report:#?}");
    let (id, running, _) = w.state(&web).await?;
    assert_eq!(id, before.id);
    assert!(running);
    assert_eq!(w.container_names().await?, [web]);
    Ok(())
}

#[tokio::test]
async fn containers_started_with_rm_are_updated_and_restored() -> anyhow::Result<()> {
    let Some(w) = World::new().await? else {
        return Ok(());
    };
    let mut good = w.fixture("e2e/rm-good").await?;
    let mut broken = w.fixture("e2e/rm-broken").await?;
    let rm = |reference: String| {
        ContainerSpec::new(reference).host_config(HostConfig {
            network_mode: Some("none".into()),
            auto_remove: Some(true),
            ..HostConfig::default()
        })
    };
    let fine = w.run("fine", rm(good.reference())).await?;
    let fragile = w.run("fragile", rm(broken.reference())).await?;
    good.publish_next_version().await?;
    broken
        .publish_next_with(FixtureSpec::default().line(r#"ENTRYPOINT ["/missing-entrypoint"]"#))
        .await?;

    let report = w
        .updater(Params::default())
        .await?
        .update(&w.filter())
        .await?;

    assert_eq!(entry(&report, &fine).state(), State::Updated, "{report:#?}");
    let (_, running, image) = w.state(&fine).await?;
    assert!(running);
    assert_eq!(image, good.image_id());
    let f = entry(&report, &fragile);
    assert_eq!(f.failed_step(), Some(FailedStep::Start), "{f:?}");
    assert!(f.restored(), "{f:?}");
    let (_, running, image) = w.state(&fragile).await?;
    assert!(running, "made again from its old image and running");
    assert_eq!(image, broken.image_id_of(1).unwrap());
    let mut expected = vec![fine, fragile];
    expected.sort();
    assert_eq!(w.container_names().await?, expected);
    Ok(())
}

/// `--remove-volumes` params.
fn removing_volumes() -> Params {
    let mut params = Params::default();
    params.remove_volumes = true;
    params
}

#[tokio::test]
async fn anonymous_volumes_survive_updates_with_remove_volumes() -> anyhow::Result<()> {
    let Some(w) = World::new().await? else {
        return Ok(());
    };
    let volumes = AnonymousVolumes::default();
    let mut app = w.fixture_with("e2e/anon", with_volumes(&["/data"])).await?;
    let db = w.run("db", ContainerSpec::new(app.reference())).await?;
    let updater = w.updater(removing_volumes()).await?;
    let data = write_data(&w.engine, updater.client(), &volumes, &db).await?;

    for round in 2..=3 {
        app.publish_next_with(with_volumes(&["/data"])).await?;
        let report = updater.update(&w.filter()).await?;
        assert_eq!(entry(&report, &db).state(), State::Updated, "{report:#?}");
        let (id, running, image) = w.state(&db).await?;
        assert!(running);
        assert_eq!(image, app.image_id(), "round {round}");
        assert_eq!(
            volume_at(&w.engine, &id, "/data").await?,
            Some(data.clone()),
            "round {round}: the same volume at /data"
        );
        assert_eq!(
            sh(updater.client(), &id, "cat /data/file").await?,
            "precious"
        );
        assert!(volume_exists(&w.engine, &data).await?, "round {round}");
        assert_eq!(w.container_names().await?, std::slice::from_ref(&db));
    }
    Ok(())
}

#[tokio::test]
async fn a_failed_update_keeps_the_anonymous_volume_in_the_restored_container() -> anyhow::Result<()>
{
    let Some(w) = World::new().await? else {
        return Ok(());
    };
    let volumes = AnonymousVolumes::default();
    let mut app = w
        .fixture_with("e2e/anon-broken", with_volumes(&["/data"]))
        .await?;
    let db = w.run("db", ContainerSpec::new(app.reference())).await?;
    let updater = w.updater(removing_volumes()).await?;
    let data = write_data(&w.engine, updater.client(), &volumes, &db).await?;
    let before = w.state(&db).await?;
    app.publish_next_with(
        with_volumes(&["/data", "/cache"]).line(r#"ENTRYPOINT ["/missing-entrypoint"]"#),
    )
    .await?;

    let report = updater.update(&w.filter()).await?;

    let e = entry(&report, &db);
    assert_eq!(e.failed_step(), Some(FailedStep::Start), "{e:?}");
    assert!(e.restored(), "{e:?}");
    assert_eq!(w.state(&db).await?, before, "the old container runs again");
    assert_eq!(
        volume_at(&w.engine, &before.0, "/data").await?,
        Some(data.clone())
    );
    assert_eq!(
        sh(updater.client(), &before.0, "cat /data/file").await?,
        "precious"
    );
    assert!(volume_exists(&w.engine, &data).await?);
    assert_eq!(w.container_names().await?, [db]);
    Ok(())
}

#[tokio::test]
async fn containers_started_with_rm_keep_their_anonymous_volumes() -> anyhow::Result<()> {
    let Some(w) = World::new().await? else {
        return Ok(());
    };
    let volumes = AnonymousVolumes::default();
    let mut good = w
        .fixture_with("e2e/rm-anon-good", with_volumes(&["/data"]))
        .await?;
    let mut broken = w
        .fixture_with("e2e/rm-anon-broken", with_volumes(&["/data"]))
        .await?;
    let rm = |reference: String| {
        ContainerSpec::new(reference).host_config(HostConfig {
            network_mode: Some("none".into()),
            auto_remove: Some(true),
            ..HostConfig::default()
        })
    };
    let fine = w.run("fine", rm(good.reference())).await?;
    let fragile = w.run("fragile", rm(broken.reference())).await?;
    let updater = w.updater(Params::default()).await?;
    let fine_data = write_data(&w.engine, updater.client(), &volumes, &fine).await?;
    let fragile_data = write_data(&w.engine, updater.client(), &volumes, &fragile).await?;
    let holders = [
        volume_holder_name(&updater.client().inspect_container(&fine).await?),
        volume_holder_name(&updater.client().inspect_container(&fragile).await?),
    ];
    good.publish_next_with(with_volumes(&["/data"])).await?;
    broken
        .publish_next_with(with_volumes(&["/data"]).line(r#"ENTRYPOINT ["/missing-entrypoint"]"#))
        .await?;

    let report = updater.update(&w.filter()).await?;

    assert_eq!(entry(&report, &fine).state(), State::Updated, "{report:#?}");
    let (id, running, image) = w.state(&fine).await?;
    assert!(running);
    assert_eq!(image, good.image_id());
    assert_eq!(volume_at(&w.engine, &id, "/data").await?, Some(fine_data));
    assert_eq!(
        sh(updater.client(), &id, "cat /data/file").await?,
        "precious"
    );

    let f = entry(&report, &fragile);
    assert_eq!(f.failed_step(), Some(FailedStep::Start), "{f:?}");
    assert!(f.restored(), "{f:?}");
    let (id, running, image) = w.state(&fragile).await?;
    assert!(running, "made again from its old image and running");
    assert_eq!(image, broken.image_id_of(1).unwrap());
    assert_eq!(
        volume_at(&w.engine, &id, "/data").await?,
        Some(fragile_data)
    );
    assert_eq!(
        sh(updater.client(), &id, "cat /data/file").await?,
        "precious"
    );

    for holder in holders {
        assert!(
            !w.engine.container_exists(&holder).await?,
            "{holder} was removed"
        );
    }
    let mut expected = vec![fine, fragile];
    expected.sort();
    assert_eq!(w.container_names().await?, expected);
    Ok(())
}

/// The name a container had before an update renamed it aside (`<name>-wt-old-<id>`).
fn original(name: &str) -> String {
    name.rsplit_once("-wt-old-")
        .map_or(name, |(original, _)| original)
        .to_owned()
}
