//! The bench proves itself with real parts (issue 2, item 6).
//!
//! In each registry mode — plain HTTP, HTTPS, htpasswd basic auth, bearer tokens — fixture
//! version 1 is pushed, a container runs from it (`network_mode: none`), version 2 is published,
//! and then:
//! - the registry's manifest digest for the tag has changed,
//! - the engine still has version 1 until it pulls,
//! - the engine pulls version 2 with the right credentials and gets the recorded image id,
//! - in Basic and Token modes, pulling with wrong credentials fails.
//!
//! About TLS: this Docker Engine treats `127.0.0.0/8` as an insecure registry range (see
//! `docker info`, "Insecure Registries"), so it skips certificate verification for the HTTPS
//! registry; the engine's pull therefore does not prove the certificate. The TLS test proves it
//! separately: a rustls client with the test CA as its only root verifies the registry, and one
//! without that CA fails.
//!
//! These tests need a Docker Engine and skip loudly without one (fail under
//! `WATCHTOWER_E2E=required`). They also check that the bench cleans up after itself.

use std::path::Path;

use http::StatusCode;
use watchtower_testkit::client::HttpClient;
use watchtower_testkit::tls::TestCa;
use watchtower_testkit::{
    ContainerSpec, Engine, FixtureImage, FixtureSpec, RUN_LABEL, Registry, RegistryMode,
    VERSION_LABEL,
};

/// The version label of the image `reference` points at in the engine.
async fn local_version(engine: &Engine, reference: &str) -> anyhow::Result<Option<String>> {
    let image = engine.docker().inspect_image(reference).await?;
    Ok(image
        .config
        .and_then(|c| c.labels)
        .and_then(|l| l.get(VERSION_LABEL).cloned()))
}

/// The whole round in one mode; returns the registry so callers can look further.
async fn round(engine: &Engine, mode: RegistryMode) -> anyhow::Result<Registry> {
    let registry = Registry::start(mode).await?;
    let repo = format!("bench/{}", format!("{mode:?}").to_lowercase());
    let mut image = FixtureImage::publish(engine, &registry, &repo, FixtureSpec::default()).await?;
    assert_eq!(image.version(), 1);
    assert_eq!(
        image.reference(),
        format!("{}/{repo}:latest", registry.host())
    );
    let v1_digest = image.digest().to_owned();
    let v1_id = image.image_id().to_owned();
    assert_eq!(registry.manifest_digest(&repo, "latest").await?, v1_digest);

    let name = engine.unique_name(&format!("bench-{}", repo.replace('/', "-")));
    engine
        .run_container(&name, ContainerSpec::new(image.reference()))
        .await?;
    let running = engine.inspect_container(&name).await?;
    assert_eq!(
        running.state.and_then(|s| s.running),
        Some(true),
        "{name} is not running"
    );
    assert_eq!(
        running.host_config.and_then(|h| h.network_mode).as_deref(),
        Some("none")
    );
    assert_eq!(running.image.as_deref(), Some(v1_id.as_str()));

    image.publish_next_version().await?;
    assert_eq!(image.version(), 2);
    let v2_digest = registry.manifest_digest(&repo, "latest").await?;
    assert_eq!(v2_digest, image.digest());
    assert_ne!(
        v2_digest, v1_digest,
        "the registry's digest for the tag did not change"
    );
    assert_eq!(image.digest_of(1), Some(v1_digest.as_str()));
    // The engine still has version 1 under the tag, and not version 2 at all.
    assert_eq!(
        engine.image_id(&image.reference()).await?.as_deref(),
        Some(v1_id.as_str())
    );
    assert_eq!(
        engine.image_id(image.image_id()).await?,
        None,
        "version 2 is still in the engine"
    );
    assert_eq!(
        local_version(engine, &image.reference()).await?.as_deref(),
        Some("1")
    );

    if let Some((user, _)) = registry.credentials() {
        let err = engine
            .pull(&image.reference(), Some((user, "wrong-password")))
            .await
            .unwrap_err();
        let text = format!("{err:#}");
        assert!(
            !text.contains(registry.credentials().unwrap().1),
            "the password leaked: {text}"
        );
        assert_eq!(
            engine.image_id(&image.reference()).await?.as_deref(),
            Some(v1_id.as_str())
        );
    }
    engine
        .pull(&image.reference(), registry.credentials())
        .await?;
    assert_eq!(
        engine.image_id(&image.reference()).await?.as_deref(),
        Some(image.image_id())
    );
    assert_eq!(
        local_version(engine, &image.reference()).await?.as_deref(),
        Some("2")
    );
    let pulled = engine.docker().inspect_image(&image.reference()).await?;
    let env = pulled.config.and_then(|c| c.env).unwrap_or_default();
    assert!(env.contains(&"FIXTURE_VERSION=2".to_owned()), "{env:?}");
    let repo_digests = pulled.repo_digests.unwrap_or_default();
    assert!(
        repo_digests.contains(&format!("{}@{v2_digest}", image.repository())),
        "{repo_digests:?} lacks {v2_digest}"
    );
    Ok(registry)
}

#[tokio::test]
async fn plain_registry_round() -> anyhow::Result<()> {
    let Some(engine) = Engine::require().await else {
        return Ok(());
    };
    let registry = round(&engine, RegistryMode::Plain).await?;
    registry.flush_access_log().await?;
    // The engine's pull asked the registry for the manifest.
    assert!(
        registry.count_requests("GET", "/v2/bench/plain/manifests/") >= 1,
        "{:?}",
        registry.access_log()
    );
    Ok(())
}

#[tokio::test]
async fn tls_registry_round() -> anyhow::Result<()> {
    let Some(engine) = Engine::require().await else {
        return Ok(());
    };
    let registry = round(&engine, RegistryMode::Tls).await?;
    // The engine skips verification for 127.0.0.0/8; prove the certificate with rustls instead.
    let url = format!("{}/v2/", registry.base_url());
    assert!(url.starts_with("https://"));
    let with_ca = HttpClient::new(Some(registry.ca().expect("a CA").client_config()));
    assert_eq!(with_ca.get(&url).await?.status, StatusCode::OK);
    let stranger = TestCa::new("not the registry's CA")?;
    assert!(
        HttpClient::new(Some(stranger.client_config()))
            .get(&url)
            .await
            .is_err()
    );
    Ok(())
}

#[tokio::test]
async fn basic_registry_round() -> anyhow::Result<()> {
    let Some(engine) = Engine::require().await else {
        return Ok(());
    };
    let registry = round(&engine, RegistryMode::Basic).await?;
    registry.flush_access_log().await?;
    let log = registry.access_log();
    assert!(
        log.iter().any(|e| e.status == 401),
        "the wrong password was refused: {log:?}"
    );
    let manifest_gets = |status: u16| {
        log.iter()
            .filter(|e| e.method == "GET" && e.path.contains("/manifests/") && e.status == status)
            .count()
    };
    assert!(
        manifest_gets(200) >= 1,
        "the right password pulled the manifest: {log:?}"
    );
    Ok(())
}

#[tokio::test]
async fn token_registry_round() -> anyhow::Result<()> {
    let Some(engine) = Engine::require().await else {
        return Ok(());
    };
    let registry = round(&engine, RegistryMode::Token).await?;
    let tokens = registry.token_server().expect("a token server");
    // Pushes of two versions, a refused pull and a pull: the engine asked for tokens, and the
    // refused request is on record.
    assert!(tokens.issued() >= 3, "{:?}", tokens.request_log());
    assert!(tokens.request_log().iter().any(|r| r.status == 401));
    assert!(
        tokens.requests_for("repository:bench/token:pull") >= 1,
        "{:?}",
        tokens.request_log()
    );
    Ok(())
}

#[tokio::test]
async fn extra_lines_reach_the_image_and_sigterm_stops_it_promptly() -> anyhow::Result<()> {
    let Some(engine) = Engine::require().await else {
        return Ok(());
    };
    let registry = Registry::start(RegistryMode::Plain).await?;
    let spec = FixtureSpec::default()
        .tag("v1")
        .line("HEALTHCHECK --interval=1s CMD true")
        .line("VOLUME /data")
        .line("ENV MODE=fixture")
        .file("/app/hello.sh", "#!/bin/sh\necho hello\n", 0o755);
    let mut image = FixtureImage::publish(&engine, &registry, "bench/extra", spec).await?;
    assert_eq!(
        image.reference(),
        format!("{}/bench/extra:v1", registry.host())
    );
    let config = engine
        .docker()
        .inspect_image(&image.reference())
        .await?
        .config
        .unwrap();
    assert!(config.healthcheck.is_some());
    assert!(config.env.unwrap().contains(&"MODE=fixture".to_owned()));
    assert!(config.volumes.unwrap().iter().any(|v| v == "/data"));
    assert_eq!(
        config.labels.unwrap().get(RUN_LABEL).map(String::as_str),
        Some(engine.run_id())
    );

    // The default command stops at once on SIGTERM (well inside a 10 s stop timeout).
    let name = engine.unique_name("sigterm");
    engine
        .run_container(&name, ContainerSpec::new(image.reference()))
        .await?;
    let started = tokio::time::Instant::now();
    engine
        .docker()
        .stop_container(
            &name,
            Some(
                bollard::query_parameters::StopContainerOptionsBuilder::default()
                    .t(10)
                    .build(),
            ),
        )
        .await?;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    let state = engine.inspect_container(&name).await?.state.unwrap();
    assert_eq!(state.exit_code, Some(0), "the trap exits 0");

    // The next version may change the command; the tag stays.
    image
        .publish_next_with(FixtureSpec::default().line("CMD [\"/app/hello.sh\"]"))
        .await?;
    assert_eq!(
        image.reference(),
        format!("{}/bench/extra:v1", registry.host())
    );
    engine.pull(&image.reference(), None).await?;
    let config = engine
        .docker()
        .inspect_image(&image.reference())
        .await?
        .config
        .unwrap();
    assert_eq!(config.cmd, Some(vec!["/app/hello.sh".to_owned()]));
    Ok(())
}

#[tokio::test]
async fn dropping_engine_and_registry_leaves_nothing_behind() -> anyhow::Result<()> {
    let Some(engine) = Engine::require().await else {
        return Ok(());
    };
    let registry = Registry::start(RegistryMode::Plain).await?;
    let image =
        FixtureImage::publish(&engine, &registry, "bench/drop", FixtureSpec::default()).await?;
    let name = engine.unique_name("drop");
    engine
        .run_container(&name, ContainerSpec::new(image.reference()))
        .await?;
    let reference = image.reference();
    let pid = registry.pid();
    let dir = registry.dir().to_path_buf();

    drop(engine);
    drop(registry);

    let observer = Engine::require()
        .await
        .expect("the engine answered a moment ago");
    assert!(
        !observer.container_exists(&name).await?,
        "the container survived"
    );
    assert_eq!(
        observer.image_id(&reference).await?,
        None,
        "the fixture image survived"
    );
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "the registry process survived"
    );
    assert!(!dir.exists(), "the registry folder survived");
    Ok(())
}
