//! `watchtower` end to end: the real binary against the real Docker Engine and the real
//! registry (HTTPS with a CA made at test time), on 127.0.0.1 only. Test containers run with
//! `network_mode: none`. Skips loudly without an engine; fails under `WATCHTOWER_E2E=required`.

use std::time::Duration;

use http::Method;
use watchtower_e2e::{Watchtower, request};
use watchtower_testkit::{
    ContainerSpec, Engine, FixtureImage, FixtureSpec, Registry, RegistryMode,
};

/// The container label that puts a container in a watchtower scope.
const SCOPE_LABEL: &str = "com.centurylinklabs.watchtower.scope";

/// The `User-Agent` prefix of watchtower's registry requests (the engine's pulls send
/// `docker/…`).
const WATCHTOWER_AGENT: &str = "watchtower/";

/// The image id the container `name` runs.
async fn running_image(engine: &Engine, name: &str) -> anyhow::Result<String> {
    let inspect = engine.inspect_container(name).await?;
    let running = inspect.state.and_then(|s| s.running).unwrap_or(false);
    anyhow::ensure!(running, "container {name} is not running");
    Ok(inspect.image.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_once_updates_a_container_from_an_https_registry_with_registry_ca() -> anyhow::Result<()>
{
    let Some(engine) = Engine::require().await else {
        return Ok(());
    };
    let registry = Registry::start(RegistryMode::Tls).await?;
    let ca = registry
        .ca_pem_path()
        .expect("a TLS registry has a CA")
        .to_str()
        .expect("utf-8 path")
        .to_owned();
    let mut image =
        FixtureImage::publish(&engine, &registry, "e2e/app", FixtureSpec::default()).await?;
    let name = engine.unique_name("e2e-app");
    engine
        .run_container(
            &name,
            ContainerSpec::new(image.reference()).network_mode("none"),
        )
        .await?;
    let old_image = running_image(&engine, &name).await?;
    image.publish_next_version().await?;
    let new_image = image.image_id().to_owned();
    assert_ne!(old_image, new_image);
    registry.clear_access_log();

    let watchtower = Watchtower::start(
        &[
            "--run-once",
            "--registry-ca",
            &ca,
            "--registry-ca-validate",
            // Every failed registry check would be logged at warn.
            "--warn-on-head-failure",
            "always",
            &name,
        ],
        &[],
    )?;
    let (code, log) = watchtower.wait_with_log(Duration::from_secs(300)).await?;
    assert_eq!(code, Some(0), "watchtower --run-once exit code");

    assert_eq!(
        running_image(&engine, &name).await?,
        new_image,
        "the container runs version 2"
    );
    // The freshness check went to the HTTPS registry, trusted through --registry-ca: the
    // engine's pull sends requests of its own, so only watchtower's User-Agent counts. Had
    // the CA been ignored, the TLS handshake would fail before any HTTP request was logged
    // (and the engine, which treats 127.0.0.1 as insecure, would still pull and update).
    registry.flush_access_log().await?;
    let from_watchtower: Vec<_> = registry
        .access_log()
        .into_iter()
        .filter(|e| e.user_agent.starts_with(WATCHTOWER_AGENT))
        .collect();
    let heads: Vec<_> = from_watchtower
        .iter()
        .filter(|e| e.method == "HEAD" && e.path.contains("/manifests/latest"))
        .collect();
    assert_eq!(
        heads.len(),
        1,
        "one manifest HEAD from watchtower: {from_watchtower:#?}"
    );
    assert_eq!(heads[0].status, 200, "{heads:?}");
    // The registry said stale; the update was not a pull after a failed check.
    assert!(
        log.iter().any(|l| l.contains("found a newer image")),
        "{log:#?}"
    );
    assert!(
        log.iter()
            .all(|l| !l.contains("could not check the registry")),
        "{log:#?}"
    );
    // Nothing else was renamed aside or left behind under another name.
    let leftovers: Vec<_> = engine
        .docker()
        .list_containers(Some(
            bollard::query_parameters::ListContainersOptionsBuilder::default()
                .all(true)
                .build(),
        ))
        .await?
        .into_iter()
        .flat_map(|c| c.names.unwrap_or_default())
        .filter(|n| n.contains(&name) && n.trim_start_matches('/') != name)
        .collect();
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
    Ok(())
}

/// `POST /v1/update?image=<selector>`, asserting that the session scanned exactly one
/// container and updated it.
async fn update_one(addr: std::net::SocketAddr, token: &str, selector: &str) -> anyhow::Result<()> {
    let path = format!("/v1/update?image={selector}");
    let response = request(addr, Method::POST, &path, Some(token)).await?;
    assert_eq!(response.status, 200, "{selector}: {}", response.body);
    assert_eq!(response.content_type.as_deref(), Some("application/json"));
    let report: serde_json::Value = serde_json::from_str(&response.body)?;
    assert_eq!(report["counts"]["scanned"], 1, "{selector}: {report}");
    assert_eq!(report["counts"]["updated"], 1, "{selector}: {report}");
    Ok(())
}

/// `?image=` is the only restriction (no container names are given): a stale container of
/// another image stays untouched; then a selector written differently from the container's
/// reference (with a tag where the container's has none, and the other way round) selects it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one story: start, refuse, update one, the other, scrape, stop
async fn http_api_needs_the_token_updates_only_selected_images_and_serves_metrics()
-> anyhow::Result<()> {
    let Some(engine) = Engine::require().await else {
        return Ok(());
    };
    let registry = Registry::start(RegistryMode::Tls).await?;
    let ca = registry
        .ca_pem_path()
        .expect("a TLS registry has a CA")
        .to_str()
        .expect("utf-8 path")
        .to_owned();
    // The instance's scope is this run: its start-up clean-up of other watchtower instances
    // and its sessions see only this run's containers.
    let scope = engine.run_id().to_owned();
    let mut api_image =
        FixtureImage::publish(&engine, &registry, "e2e/api", FixtureSpec::default()).await?;
    let mut other_image =
        FixtureImage::publish(&engine, &registry, "e2e/other", FixtureSpec::default()).await?;
    // `127.0.0.1:PORT/e2e/api:latest`, with its tag, and `127.0.0.1:PORT/e2e/other` without.
    let api = engine.unique_name("e2e-api");
    let other = engine.unique_name("e2e-other");
    for (name, reference) in [
        (&api, api_image.reference()),
        (&other, other_image.repository()),
    ] {
        let spec = ContainerSpec::new(reference)
            .network_mode("none")
            .label(SCOPE_LABEL, &scope);
        engine.run_container(name, spec).await?;
    }
    let other_old = running_image(&engine, &other).await?;
    api_image.publish_next_version().await?;
    other_image.publish_next_version().await?;

    let token = "e2e-token-5b1f";
    let watchtower = Watchtower::start(
        &[
            "--http-api-update",
            "--http-api-metrics",
            "--http-api-host",
            "127.0.0.1",
            "--http-api-port",
            "0",
            "--registry-ca",
            &ca,
            "--scope",
            &scope,
        ],
        &[("WATCHTOWER_HTTP_API_TOKEN", token)],
    )?;
    let addr = watchtower.api_addr().await?;
    assert!(addr.ip().is_loopback());

    assert_eq!(
        request(addr, Method::POST, "/v1/update", None)
            .await?
            .status,
        401
    );
    assert_eq!(
        request(addr, Method::POST, "/v1/update", Some("e2e-token-5b1g"))
            .await?
            .status,
        401
    );
    assert_ne!(
        running_image(&engine, &api).await?,
        api_image.image_id(),
        "nothing ran yet"
    );

    // Without a tag, for a container whose reference has one.
    update_one(addr, token, &api_image.repository()).await?;
    assert_eq!(
        running_image(&engine, &api).await?,
        api_image.image_id(),
        "updated by the request"
    );
    assert_eq!(
        running_image(&engine, &other).await?,
        other_old,
        "a stale container of another image is not touched"
    );

    // With the default tag, for a container whose reference has none.
    update_one(addr, token, &format!("{}:latest", other_image.repository())).await?;
    assert_eq!(
        running_image(&engine, &other).await?,
        other_image.image_id(),
        "updated by the second request"
    );

    let metrics = request(addr, Method::GET, "/v1/metrics", Some(token)).await?;
    assert_eq!(metrics.status, 200);
    let scrape = prometheus_parse::Scrape::parse(metrics.body.lines().map(|l| Ok(l.to_owned())))?;
    for name in [
        "watchtower_containers_scanned",
        "watchtower_containers_updated",
        "watchtower_containers_failed",
        "watchtower_scans_total",
        "watchtower_scans_skipped",
    ] {
        assert!(
            scrape.samples.iter().any(|s| s.metric == name),
            "{name} missing:\n{}",
            metrics.body
        );
    }
    assert!(
        metrics.body.contains("watchtower_containers_updated 1"),
        "{}",
        metrics.body
    );
    assert!(
        metrics
            .body
            .contains("watchtower_registry_requests_total{kind=\"manifest_head\""),
        "{}",
        metrics.body
    );

    // The token never reaches the log.
    assert!(watchtower.log().iter().all(|l| !l.contains(token)));
    watchtower.terminate()?;
    assert_eq!(
        watchtower.wait(Duration::from_secs(60)).await?,
        Some(0),
        "exit 0 after SIGTERM"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedule_uses_the_local_time_zone_and_sigterm_exits_zero() -> anyhow::Result<()> {
    let Some(engine) = Engine::require().await else {
        return Ok(());
    };
    // POSIX TZ strings need no zoneinfo files: "XYZ-3" is UTC+3.
    for (tz, offset) in [("UTC0", "+0000"), ("XYZ-3", "+0300")] {
        let watchtower = Watchtower::start(
            &[
                "--schedule",
                "0 0 4 * * *",
                // Not --run-once: the start-up clean-up of other instances looks only here.
                "--scope",
                engine.run_id(),
                "e2e-no-such-container-77aa",
            ],
            &[("TZ", tz)],
        )?;
        let line = watchtower
            .wait_for_log("Scheduling first run:", Duration::from_secs(60))
            .await?;
        assert!(
            line.contains(&format!("04:00:00 {offset}")),
            "TZ={tz}: {line}"
        );
        watchtower
            .wait_for_log(
                "Note that the first check will be performed in",
                Duration::from_secs(5),
            )
            .await?;
        watchtower.terminate()?;
        assert_eq!(
            watchtower.wait(Duration::from_secs(30)).await?,
            Some(0),
            "TZ={tz}"
        );
    }
    Ok(())
}
