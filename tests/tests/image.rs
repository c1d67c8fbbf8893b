//! The container image, run the way users run it: `docker run` with the socket mounted, the
//! original's compose file through `docker-compose`, credentials from `/config.json` and from
//! `REPO_USER`/`REPO_PASS`, a `--registry-ca` bundle mounted as a file, and self-update from a
//! registry. Real engine, real registry (testkit, 127.0.0.1).
//!
//! The image is `WATCHTOWER_IMAGE`, else `watchtower-rs/watchtower:<version>` as built by
//! `cargo xtask dist` (`cargo xtask ci` builds it once before the tests and names it here).
//! Without it these tests skip loudly, and fail under `WATCHTOWER_E2E=required`.
//!
//! The watchtower containers use `--network host` to reach the registry on 127.0.0.1 (and the
//! engine through the mounted socket); they talk to nothing else. Every other container runs
//! with `--network none`. Every container watchtower is allowed to touch carries this test's
//! scope, and every watchtower runs with `--scope`, so no test sees another one's containers.
//! Everything carries the testkit's run labels and is removed when the test ends.

use std::collections::HashMap;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use base64::Engine as _;
use bollard::query_parameters::{ListContainersOptionsBuilder, StatsOptionsBuilder};
use futures_util::StreamExt as _;
use tokio::io::AsyncWriteExt as _;
use watchtower_testkit::{
    ContainerSpec, Engine, FixtureImage, FixtureSpec, Registry, RegistryMode, VERSION_LABEL,
};

/// The label that marks a watchtower instance.
const WATCHTOWER_LABEL: &str = "com.centurylinklabs.watchtower";
/// The label that puts a container in a watchtower scope.
const SCOPE_LABEL: &str = "com.centurylinklabs.watchtower.scope";
/// Idle memory the running container may use while it waits for its schedule (issue 11), as
/// `docker stats` counts it, before and after sessions that checked a registry (measured
/// with `cargo xtask bench memory`: ~2 MiB in `docker stats`, 7.5 MiB `VmRSS`; it was 26 MiB
/// before references were checked without `oci_spec`'s regex).
const IDLE_MEMORY_LIMIT: u64 = 10 * 1024 * 1024;
/// Image size goal (issue 11), as `docker image inspect -f '{{.Size}}'` reports it.
const IMAGE_SIZE_LIMIT: i64 = 10 * 1000 * 1000;

/// The image under test, or a loud skip (a failure under `WATCHTOWER_E2E=required`).
async fn image_under_test(engine: &Engine) -> anyhow::Result<Option<String>> {
    let image = std::env::var("WATCHTOWER_IMAGE")
        .unwrap_or_else(|_| format!("watchtower-rs/watchtower:{}", env!("CARGO_PKG_VERSION")));
    if engine.image_id(&image).await?.is_some() {
        return Ok(Some(image));
    }
    watchtower_testkit::skip(
        "the watchtower image",
        &format!("{image} is not in the engine; build it with `cargo xtask dist`"),
    );
    Ok(None)
}

/// Runs the docker CLI (it honours `DOCKER_HOST`) and returns its trimmed stdout.
async fn docker(args: &[&str]) -> anyhow::Result<String> {
    docker_with_input(args, None).await
}

async fn docker_with_input(args: &[&str], input: Option<&str>) -> anyhow::Result<String> {
    let mut command = tokio::process::Command::new("docker");
    command
        .args(args)
        .env("DOCKER_BUILDKIT", "0")
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().context("running the docker CLI")?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin.write_all(text.as_bytes()).await?;
    }
    let output = tokio::time::timeout(Duration::from_secs(300), child.wait_with_output())
        .await
        .with_context(|| format!("docker {args:?} did not finish within 300 s"))??;
    if !output.status.success() {
        bail!(
            "docker {args:?} failed with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// How a watchtower container reaches the engine: the socket mounted at its usual place, or
/// `DOCKER_HOST` passed on when it is a TCP address (reachable through `--network host`).
fn engine_access() -> Vec<String> {
    match std::env::var("DOCKER_HOST") {
        Ok(host) if host.starts_with("unix://") => vec![
            "--volume".to_owned(),
            format!(
                "{}:/var/run/docker.sock",
                host.trim_start_matches("unix://")
            ),
        ],
        Ok(host) if !host.is_empty() => vec!["--env".to_owned(), format!("DOCKER_HOST={host}")],
        _ => vec![
            "--volume".to_owned(),
            "/var/run/docker.sock:/var/run/docker.sock".to_owned(),
        ],
    }
}

/// `--label k=v` for each of the run's labels (so the engine's clean-up removes the object).
fn run_labels(engine: &Engine) -> Vec<String> {
    engine
        .labels()
        .into_iter()
        .flat_map(|(k, v)| ["--label".to_owned(), format!("{k}={v}")])
        .collect()
}

/// A watchtower container to start with `docker run -d`.
struct Run<'a> {
    engine: &'a Engine,
    name: String,
    image: String,
    docker_args: Vec<String>,
    args: Vec<String>,
}

impl<'a> Run<'a> {
    fn new(engine: &'a Engine, name: &str, image: &str) -> Self {
        Run {
            engine,
            name: name.to_owned(),
            image: image.to_owned(),
            docker_args: Vec::new(),
            args: Vec::new(),
        }
    }

    /// Adds options of `docker run` (before the image).
    fn docker(mut self, args: &[&str]) -> Self {
        self.docker_args.extend(args.iter().map(|&a| a.to_owned()));
        self
    }

    /// Adds watchtower's own arguments (after the image).
    fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|&a| a.to_owned()));
        self
    }

    /// Starts it; returns the container id.
    async fn start(self) -> anyhow::Result<String> {
        let mut argv: Vec<String> = vec![
            "run".into(),
            "--detach".into(),
            "--name".into(),
            self.name.clone(),
            "--network".into(),
            "host".into(),
        ];
        argv.extend(engine_access());
        argv.extend(run_labels(self.engine));
        argv.extend(self.docker_args);
        argv.push(self.image);
        argv.extend(self.args);
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        docker(&argv).await
    }
}

/// Waits (up to `limit`) for container `name` to exit; returns its exit code and its log.
async fn wait_exit(name: &str, limit: Duration) -> anyhow::Result<(i64, String)> {
    let code = tokio::time::timeout(limit, docker(&["wait", name]))
        .await
        .with_context(|| format!("{name} did not exit within {limit:?}"))??;
    let code = code
        .parse()
        .with_context(|| format!("docker wait said {code:?}"))?;
    Ok((code, logs(name).await?))
}

/// The container's whole log (stdout and stderr).
async fn logs(name: &str) -> anyhow::Result<String> {
    let output = tokio::process::Command::new("docker")
        .args(["logs", name])
        .output()
        .await
        .context("running docker logs")?;
    Ok(format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ))
}

/// Waits (up to `limit`) until `check` says yes; `what` names it in the error, with the log of
/// container `log_of`.
async fn eventually<F, Fut>(
    what: &str,
    log_of: &str,
    limit: Duration,
    mut check: F,
) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<bool>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if check().await? {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!(
                "{what}: not within {limit:?}; log of {log_of}:\n{}",
                logs(log_of).await.unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The image id the container `name` runs (it must be running).
async fn running_image(engine: &Engine, name: &str) -> anyhow::Result<String> {
    let inspect = engine.inspect_container(name).await?;
    let running = inspect.state.and_then(|s| s.running).unwrap_or(false);
    ensure!(running, "container {name} is not running");
    Ok(inspect.image.unwrap_or_default())
}

/// A fixture container in `scope` (`--network none`) running version 1 of a fresh fixture
/// image, whose version 2 is then pushed under the same tag.
async fn stale_fixture(
    engine: &Engine,
    registry: &Registry,
    short: &str,
    scope: &str,
) -> anyhow::Result<(String, FixtureImage)> {
    let (name, mut image) = fresh_fixture(engine, registry, short, scope).await?;
    image.publish_next_version().await?;
    Ok((name, image))
}

/// A fixture container in `scope` (`--network none`) running version 1 of a fresh fixture
/// image, the newest in the registry.
async fn fresh_fixture(
    engine: &Engine,
    registry: &Registry,
    short: &str,
    scope: &str,
) -> anyhow::Result<(String, FixtureImage)> {
    let repo = format!("image/{short}-{}", engine.run_id());
    let image = FixtureImage::publish(engine, registry, &repo, FixtureSpec::default()).await?;
    let name = engine.unique_name(short);
    engine
        .run_container(
            &name,
            ContainerSpec::new(image.reference())
                .network_mode("none")
                .label(SCOPE_LABEL, scope),
        )
        .await?;
    Ok((name, image))
}

/// Names of containers (any state) whose name contains `part`, other than `except`.
async fn containers_named_like(
    engine: &Engine,
    part: &str,
    except: &str,
) -> anyhow::Result<Vec<String>> {
    let options = ListContainersOptionsBuilder::default().all(true).build();
    Ok(engine
        .docker()
        .list_containers(Some(options))
        .await?
        .into_iter()
        .flat_map(|c| c.names.unwrap_or_default())
        .map(|n| n.trim_start_matches('/').to_owned())
        .filter(|n| n.contains(part) && n != except)
        .collect())
}

/// The container's memory use as `docker stats` shows it: usage less the inactive page cache.
async fn memory_use(engine: &Engine, name: &str) -> anyhow::Result<u64> {
    let options = StatsOptionsBuilder::default().stream(false).build();
    let stats = engine
        .docker()
        .stats(name, Some(options))
        .next()
        .await
        .context("no stats")??;
    let memory = stats.memory_stats.context("no memory stats")?;
    let usage = memory.usage.context("no memory usage")?;
    let stats = memory.stats.unwrap_or_default();
    // cgroup v1 names it total_inactive_file, v2 inactive_file (docker stats subtracts it).
    let cache = stats
        .get("total_inactive_file")
        .or_else(|| stats.get("inactive_file"))
        .copied()
        .unwrap_or(0);
    Ok(usage.saturating_sub(cache))
}

#[allow(clippy::cast_precision_loss)] // memory figures far below 2^52
fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one story: inspect the image, run it, watch it idle, stop it
async fn the_image_is_built_like_the_original_tz_works_and_it_idles_in_little_memory()
-> anyhow::Result<()> {
    let Some(engine) = Engine::require().await else {
        return Ok(());
    };
    let Some(image) = image_under_test(&engine).await? else {
        return Ok(());
    };
    let inspect = engine.docker().inspect_image(&image).await?;
    let size = inspect.size.context("no size")?;
    eprintln!("image {image}: {size} bytes");
    assert!(size <= IMAGE_SIZE_LIMIT, "{image} is {size} bytes");
    let config = inspect.config.context("no config")?;
    assert_eq!(config.entrypoint, Some(vec!["/watchtower".to_owned()]));
    assert_eq!(
        config.cmd, None,
        "no CMD: arguments go straight to watchtower"
    );
    assert!(
        config
            .exposed_ports
            .unwrap_or_default()
            .contains(&"8080/tcp".to_owned()),
        "EXPOSE 8080"
    );
    assert_eq!(
        config
            .labels
            .unwrap_or_default()
            .get(WATCHTOWER_LABEL)
            .map(String::as_str),
        Some("true")
    );
    assert!(
        config
            .env
            .unwrap_or_default()
            .contains(&"DOCKER_CONFIG=/".to_owned()),
        "DOCKER_CONFIG=/"
    );
    let health = config.healthcheck.context("no HEALTHCHECK")?;
    assert_eq!(
        health.test,
        Some(vec![
            "CMD".to_owned(),
            "/watchtower".to_owned(),
            "--health-check".to_owned()
        ])
    );
    // FROM scratch: one layer of ours, no shell to run.
    let name = engine.unique_name("wt-shell");
    let shell = Run::new(&engine, &name, &image)
        .docker(&["--entrypoint", "/bin/sh"])
        .args(&["-c", "true"])
        .start()
        .await;
    assert!(shell.is_err(), "the image has a shell: {shell:?}");

    // TZ names a zone of the image's tzdata: the first run is scheduled at 04:00 India time.
    let scope = engine.run_id().to_owned();
    let name = engine.unique_name("wt-tz");
    Run::new(&engine, &name, &image)
        .docker(&[
            "--health-interval",
            "1s",
            "--env",
            "TZ=Asia/Kolkata",
            "--label",
            &format!("{SCOPE_LABEL}={scope}"),
        ])
        .args(&["--schedule", "0 0 4 * * *", "--scope", &scope])
        .start()
        .await?;
    eventually(
        "the schedule is announced",
        &name,
        Duration::from_secs(60),
        || async { Ok(logs(&name).await?.contains("Scheduling first run:")) },
    )
    .await?;
    let log = logs(&name).await?;
    let line = log
        .lines()
        .find(|l| l.contains("Scheduling first run:"))
        .unwrap_or_default();
    assert!(line.contains("04:00:00 +0530"), "TZ=Asia/Kolkata: {line}");
    // Idle memory while it waits for its schedule, healthy.
    eventually(
        "watchtower's container is healthy",
        &name,
        Duration::from_secs(60),
        || async {
            let state = engine.inspect_container(&name).await?.state;
            let health = state.and_then(|s| s.health).and_then(|h| h.status);
            Ok(health.is_some_and(|h| h.to_string() == "healthy"))
        },
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let memory = memory_use(&engine, &name).await?;
    eprintln!(
        "idle memory of the watchtower container, waiting for its schedule: {memory} bytes ({:.2} MiB)",
        mib(memory)
    );
    assert!(memory <= IDLE_MEMORY_LIMIT, "{:.2} MiB", mib(memory));
    // `docker stop` (SIGTERM to PID 1) ends it with status 0.
    docker(&["stop", "--time", "30", &name]).await?;
    let (code, log) = wait_exit(&name, Duration::from_secs(60)).await?;
    assert_eq!(code, 0, "{log}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_run_run_once_updates_a_container_and_exits_zero() -> anyhow::Result<()> {
    let Some(engine) = Engine::require().await else {
        return Ok(());
    };
    let Some(image) = image_under_test(&engine).await? else {
        return Ok(());
    };
    let registry = Registry::start(RegistryMode::Plain).await?;
    let scope = engine.run_id().to_owned();
    let (app, fixture) = stale_fixture(&engine, &registry, "img-once", &scope).await?;
    let old = running_image(&engine, &app).await?;
    assert_ne!(old, fixture.image_id());

    let name = engine.unique_name("wt-once");
    Run::new(&engine, &name, &image)
        .args(&["--run-once", &app])
        .start()
        .await?;
    let (code, log) = wait_exit(&name, Duration::from_secs(300)).await?;
    assert_eq!(code, 0, "exit status of --run-once; log:\n{log}");
    assert_eq!(
        running_image(&engine, &app).await?,
        fixture.image_id(),
        "the container runs version 2; log:\n{log}"
    );
    let aside = containers_named_like(&engine, &app, &app).await?;
    assert!(aside.is_empty(), "left behind: {aside:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_a_daemon_it_turns_healthy_and_updates_a_container_whose_tag_moved() -> anyhow::Result<()>
{
    let Some(engine) = Engine::require().await else {
        return Ok(());
    };
    let Some(image) = image_under_test(&engine).await? else {
        return Ok(());
    };
    let registry = Registry::start(RegistryMode::Plain).await?;
    let scope = engine.run_id().to_owned();
    let (app, mut fixture) = fresh_fixture(&engine, &registry, "img-daemon", &scope).await?;

    let name = engine.unique_name("wt-daemon");
    Run::new(&engine, &name, &image)
        // The image's own HEALTHCHECK, checked every second instead of every 30.
        .docker(&[
            "--health-interval",
            "1s",
            "--label",
            &format!("{SCOPE_LABEL}={scope}"),
        ])
        .args(&["--interval", "2", "--scope", &scope])
        .start()
        .await?;
    eventually(
        "watchtower's container is healthy",
        &name,
        Duration::from_secs(60),
        || async {
            let state = engine.inspect_container(&name).await?.state;
            let health = state.and_then(|s| s.health).and_then(|h| h.status);
            Ok(health.is_some_and(|h| h.to_string() == "healthy"))
        },
    )
    .await?;
    // Idle between sessions (every 2 s, one HEAD each) with nothing to update yet.
    eventually(
        "two sessions ran",
        &name,
        Duration::from_secs(60),
        || async { Ok(logs(&name).await?.matches("session done").count() >= 2) },
    )
    .await?;
    let before = memory_use(&engine, &name).await?;
    eprintln!(
        "memory of the watchtower container between sessions, nothing updated yet: {before} bytes ({:.2} MiB)",
        mib(before)
    );

    fixture.publish_next_version().await?;
    eventually(
        "the container runs version 2",
        &name,
        Duration::from_secs(120),
        || async {
            Ok(running_image(&engine, &app).await.ok().as_deref() == Some(fixture.image_id()))
        },
    )
    .await?;
    // Idle again, a few sessions after the update.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after = memory_use(&engine, &name).await?;
    eprintln!(
        "memory of the watchtower container between sessions after an update: {after} bytes ({:.2} MiB)",
        mib(after)
    );
    for (when, memory) in [("before the update", before), ("after it", after)] {
        assert!(
            memory <= IDLE_MEMORY_LIMIT,
            "{when}: {:.2} MiB",
            mib(memory)
        );
    }
    let log = logs(&name).await?;
    assert!(log.contains("found a newer image"), "{log}");
    docker(&["stop", "--time", "30", &name]).await?;
    let (code, log) = wait_exit(&name, Duration::from_secs(60)).await?;
    assert_eq!(code, 0, "{log}");
    Ok(())
}

/// The original's compose example, with only the image changed.
fn original_compose_file(image: &str) -> String {
    format!(
        "version: \"3\"\n\
         services:\n  \
           watchtower:\n    \
             image: {image}\n    \
             volumes:\n      \
               - /var/run/docker.sock:/var/run/docker.sock\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_original_compose_file_with_the_image_swapped_updates_a_container() -> anyhow::Result<()>
{
    let Some(engine) = Engine::require().await else {
        return Ok(());
    };
    let Some(image) = image_under_test(&engine).await? else {
        return Ok(());
    };
    if std::env::var("DOCKER_HOST").is_ok_and(|h| !h.starts_with("unix:///var/run/docker.sock")) {
        // The compose file mounts the default socket, as users' files do.
        watchtower_testkit::skip(
            "the engine on /var/run/docker.sock",
            "the original compose file mounts that socket",
        );
        return Ok(());
    }
    let registry = Registry::start(RegistryMode::Plain).await?;
    let scope = engine.run_id().to_owned();
    let (app, fixture) = stale_fixture(&engine, &registry, "img-compose", &scope).await?;

    let dir = tempfile::tempdir()?;
    let file = dir.path().join("docker-compose.yml");
    std::fs::write(&file, original_compose_file(&image))?;
    // What only this test needs goes into an override file, so the user's file stays as it is:
    // the registry on 127.0.0.1, this test's scope, a short interval, the run labels.
    let mut labels: Vec<String> = engine
        .labels()
        .into_iter()
        .map(|(k, v)| format!("      {k}: \"{v}\"\n"))
        .collect();
    labels.sort();
    let overrides = dir.path().join("test-override.yml");
    std::fs::write(
        &overrides,
        format!(
            "version: \"3\"\nservices:\n  watchtower:\n    network_mode: host\n    \
             command: --interval 2 --scope {scope}\n    labels:\n      {SCOPE_LABEL}: \"{scope}\"\n{}",
            labels.concat()
        ),
    )?;
    let project = format!("wt{}", engine.run_id().replace('-', ""));
    let compose = |args: &[&str]| {
        let mut command = tokio::process::Command::new("docker-compose");
        command
            .arg("--file")
            .arg(&file)
            .arg("--file")
            .arg(&overrides)
            .args(["--project-name", &project])
            .args(args)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        command
    };
    let up = compose(&["up", "--detach"]).output().await?;
    ensure!(
        up.status.success(),
        "docker-compose up failed: {}",
        String::from_utf8_lossy(&up.stderr)
    );
    let name = format!("{project}_watchtower_1");
    let outcome = eventually(
        "the container runs version 2",
        &name,
        Duration::from_secs(120),
        || async {
            Ok(running_image(&engine, &app).await.ok().as_deref() == Some(fixture.image_id()))
        },
    )
    .await;
    let down = compose(&["down", "--timeout", "30"]).output().await?;
    outcome?;
    ensure!(
        down.status.success(),
        "docker-compose down failed: {}",
        String::from_utf8_lossy(&down.stderr)
    );
    Ok(())
}

/// `--run-once` of the image against an htpasswd registry, with `extra` docker options giving
/// the credentials; asserts the update and that the password never reached the log.
async fn run_once_with_credentials(
    engine: &Engine,
    registry: &Registry,
    image: &str,
    short: &str,
    extra: &[&str],
) -> anyhow::Result<()> {
    let scope = engine.run_id().to_owned();
    let (app, fixture) = stale_fixture(engine, registry, short, &scope).await?;
    registry.clear_access_log();
    let name = engine.unique_name(&format!("wt-{short}"));
    Run::new(engine, &name, image)
        .docker(extra)
        .args(&["--run-once", &app])
        .start()
        .await?;
    let (code, log) = wait_exit(&name, Duration::from_secs(300)).await?;
    assert_eq!(code, 0, "{short}: exit status; log:\n{log}");
    assert_eq!(
        running_image(engine, &app).await?,
        fixture.image_id(),
        "{short}: the container runs version 2; log:\n{log}"
    );
    // watchtower's own check was authenticated (the engine's pull sends docker/… requests).
    registry.flush_access_log().await?;
    let heads: Vec<_> = registry
        .access_log()
        .into_iter()
        .filter(|e| e.user_agent.starts_with("watchtower/") && e.method == "HEAD")
        .collect();
    assert!(
        heads.iter().any(|e| e.status == 200),
        "{short}: no authenticated HEAD from watchtower: {heads:#?}"
    );
    let (_, password) = registry.credentials().context("basic registry")?;
    assert!(
        !log.contains(password),
        "{short}: the password reached the log"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_from_a_mounted_config_json_and_from_repo_user_and_pass() -> anyhow::Result<()>
{
    let Some(engine) = Engine::require().await else {
        return Ok(());
    };
    let Some(image) = image_under_test(&engine).await? else {
        return Ok(());
    };
    let registry = Registry::start(RegistryMode::Basic).await?;
    let (user, password) = registry.credentials().context("basic registry")?;

    // The original's way: a config.json mounted at /config.json (the image sets DOCKER_CONFIG=/).
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("config.json");
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    std::fs::write(
        &config,
        serde_json::json!({ "auths": { registry.host(): { "auth": auth } } }).to_string(),
    )?;
    let mount = format!("{}:/config.json:ro", config.display());
    run_once_with_credentials(&engine, &registry, &image, "cfg", &["--volume", &mount]).await?;

    // REPO_USER and REPO_PASS.
    let user_env = format!("REPO_USER={user}");
    let pass_env = format!("REPO_PASS={password}");
    run_once_with_credentials(
        &engine,
        &registry,
        &image,
        "env",
        &["--env", &user_env, "--env", &pass_env],
    )
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_ca_bundle_mounted_as_a_file_is_trusted() -> anyhow::Result<()> {
    let Some(engine) = Engine::require().await else {
        return Ok(());
    };
    let Some(image) = image_under_test(&engine).await? else {
        return Ok(());
    };
    let registry = Registry::start(RegistryMode::Tls).await?;
    let ca = registry.ca_pem_path().context("a TLS registry has a CA")?;
    let scope = engine.run_id().to_owned();
    let (app, fixture) = stale_fixture(&engine, &registry, "img-ca", &scope).await?;
    registry.clear_access_log();
    let name = engine.unique_name("wt-ca");
    let mount = format!("{}:/certs/ca.pem:ro", ca.display());
    Run::new(&engine, &name, &image)
        .docker(&["--volume", &mount])
        .args(&[
            "--run-once",
            "--registry-ca",
            "/certs/ca.pem",
            "--registry-ca-validate",
            "--warn-on-head-failure",
            "always",
            &app,
        ])
        .start()
        .await?;
    let (code, log) = wait_exit(&name, Duration::from_secs(300)).await?;
    assert_eq!(code, 0, "{log}");
    assert_eq!(
        running_image(&engine, &app).await?,
        fixture.image_id(),
        "{log}"
    );
    // The check went to the HTTPS registry, trusted through the bundle: a TLS failure would
    // log no request at all (and the engine, which trusts 127.0.0.1, would still pull).
    registry.flush_access_log().await?;
    let heads: Vec<_> = registry
        .access_log()
        .into_iter()
        .filter(|e| e.user_agent.starts_with("watchtower/") && e.method == "HEAD")
        .collect();
    assert!(heads.iter().any(|e| e.status == 200), "{heads:#?}\n{log}");
    assert!(!log.contains("could not check the registry"), "{log}");
    Ok(())
}

/// Builds a derived image `FROM base` with the run labels and `VERSION_LABEL=version` (a new
/// image id per version), tags it `reference` and pushes it.
async fn push_watchtower_version(
    engine: &Engine,
    base: &str,
    reference: &str,
    version: u32,
) -> anyhow::Result<String> {
    let mut argv: Vec<String> = vec![
        "build".into(),
        "--quiet".into(),
        "--tag".into(),
        reference.into(),
    ];
    argv.extend(run_labels(engine));
    argv.extend(["--label".to_owned(), format!("{VERSION_LABEL}={version}")]);
    argv.push("-".into());
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let id = docker_with_input(&argv, Some(&format!("FROM {base}\n"))).await?;
    docker(&["push", reference]).await?;
    Ok(id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one story: run v1, push v2, watch it replace itself, check
async fn as_a_container_it_replaces_itself_with_a_new_version_from_the_registry()
-> anyhow::Result<()> {
    let Some(engine) = Engine::require().await else {
        return Ok(());
    };
    let Some(image) = image_under_test(&engine).await? else {
        return Ok(());
    };
    let registry = Registry::start(RegistryMode::Plain).await?;
    let scope = engine.run_id().to_owned();
    let reference = format!("{}/self/watchtower-{scope}:latest", registry.host());
    let v1 = push_watchtower_version(&engine, &image, &reference, 1).await?;

    // A bystander in the same scope whose image is current: it must not be touched.
    let repo = format!("self/bystander-{scope}");
    let bystander_image =
        FixtureImage::publish(&engine, &registry, &repo, FixtureSpec::default()).await?;
    let bystander = engine.unique_name("bystander");
    let bystander_id = engine
        .run_container(
            &bystander,
            ContainerSpec::new(bystander_image.reference())
                .network_mode("none")
                .label(SCOPE_LABEL, &scope),
        )
        .await?;
    let bystander_started = engine
        .inspect_container(&bystander)
        .await?
        .state
        .and_then(|s| s.started_at);

    let name = engine.unique_name("watchtower");
    let old_id = Run::new(&engine, &name, &reference)
        .docker(&[
            "--label",
            &format!("{SCOPE_LABEL}={scope}"),
            "--env",
            "E2E_SETTING=kept",
            "--restart",
            "on-failure:3",
        ])
        .args(&["--interval", "2", "--cleanup", "--scope", &scope])
        .start()
        .await?;
    eventually(
        "the first session ran",
        &name,
        Duration::from_secs(60),
        || async { Ok(logs(&name).await?.contains("session done")) },
    )
    .await?;
    let v2 = push_watchtower_version(&engine, &image, &reference, 2).await?;
    assert_ne!(v1, v2);

    eventually(
        "a single instance runs version 2 and version 1 is gone",
        &name,
        Duration::from_secs(180),
        || async {
            let Ok(current) = engine.inspect_container(&name).await else {
                return Ok(false);
            };
            let running = current.state.as_ref().and_then(|s| s.running) == Some(true);
            let old_gone = !engine.container_exists(&old_id).await?;
            Ok(running && current.image.as_deref() == Some(v2.as_str()) && old_gone)
        },
    )
    .await?;

    let current = engine.inspect_container(&name).await?;
    let old = docker(&["image", "inspect", "--format", "{{.Id}}", &v1]).await;
    assert!(
        old.is_err(),
        "--cleanup: the old image is still there: {old:?}"
    );
    // Exactly one instance in this scope, under the same name, configured as before.
    let filters = HashMap::from([(
        "label".to_owned(),
        vec![
            format!("{WATCHTOWER_LABEL}=true"),
            format!("{SCOPE_LABEL}={scope}"),
        ],
    )]);
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    let instances = engine.docker().list_containers(Some(options)).await?;
    assert_eq!(instances.len(), 1, "{instances:#?}");
    let config = current.config.context("no config")?;
    assert_eq!(
        config.cmd,
        Some(
            ["--interval", "2", "--cleanup", "--scope", &scope]
                .map(str::to_owned)
                .to_vec()
        )
    );
    assert!(
        config
            .env
            .unwrap_or_default()
            .contains(&"E2E_SETTING=kept".to_owned())
    );
    let host = current.host_config.context("no host config")?;
    assert_eq!(host.network_mode.as_deref(), Some("host"));
    let restart = host.restart_policy.context("no restart policy")?;
    assert_eq!(restart.maximum_retry_count, Some(3));
    assert!(
        host.binds
            .unwrap_or_default()
            .iter()
            .any(|b| b.ends_with(":/var/run/docker.sock"))
            || std::env::var("DOCKER_HOST").is_ok_and(|h| !h.starts_with("unix://")),
        "the socket mount is kept"
    );
    // Nothing else was disturbed: the bystander is the same container, never restarted.
    let after = engine.inspect_container(&bystander).await?;
    assert_eq!(after.id.as_deref(), Some(bystander_id.as_str()));
    assert_eq!(after.state.and_then(|s| s.started_at), bystander_started);
    let aside = containers_named_like(&engine, &name, &name).await?;
    assert!(aside.is_empty(), "left behind: {aside:?}");
    Ok(())
}
