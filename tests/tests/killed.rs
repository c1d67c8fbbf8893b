//! A watchtower killed (SIGKILL) while the engine stops a container must not leave that
//! container down for good: the update renames the container aside *before* it stops it, so
//! whatever the kill leaves carries watchtower's name, and the next session settles it (the
//! original left it stopped under its own name, and the next session skipped it as a
//! container the user had stopped). Real binary, real engine and registry on 127.0.0.1; the
//! container runs with `network_mode: none`. Skips loudly without an engine; fails under
//! `WATCHTOWER_E2E=required`.

use std::time::Duration;

use watchtower_e2e::Watchtower;
use watchtower_testkit::{
    ContainerSpec, Engine, FixtureImage, FixtureSpec, Registry, RegistryMode,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watchtower_killed_during_the_stop_leaves_a_container_the_next_session_brings_back()
-> anyhow::Result<()> {
    let Some(engine) = Engine::require().await else {
        return Ok(());
    };
    let registry = Registry::start(RegistryMode::Plain).await?;
    let mut image = FixtureImage::publish(
        &engine,
        &registry,
        &format!("e2e/killed-{}", engine.run_id()),
        FixtureSpec::default(),
    )
    .await?;
    let name = engine.unique_name("e2e-killed");
    // Ignores SIGTERM, so the engine's stop takes the whole --stop-timeout.
    let id = engine
        .run_container(
            &name,
            ContainerSpec::new(image.reference())
                .network_mode("none")
                .cmd([
                    "/bin/sh",
                    "-c",
                    "trap '' TERM; echo trapped; while true; do sleep 1; done",
                ]),
        )
        .await?;
    engine
        .wait_for_output(&id, "trapped", Duration::from_secs(30))
        .await?;
    image.publish_next_version().await?;

    let watchtower = Watchtower::start(&["--run-once", "--stop-timeout", "8s", &name], &[])?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while !watchtower
        .log()
        .iter()
        .any(|l| l.contains("stopping") && l.contains(&name))
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no stopping line: {:#?}",
            watchtower.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The engine is now waiting out the stop timeout; the process dies in the middle.
    watchtower.signal("KILL")?;
    let code = watchtower.wait(Duration::from_secs(30)).await?;
    assert_eq!(code, None, "killed by a signal");

    // Whatever the engine did with the stop, the container carries the aside name.
    let aside = engine.inspect_container(&id).await?;
    let aside_name = aside.name.unwrap_or_default();
    assert!(
        aside_name.contains("-wt-old-"),
        "renamed aside before the stop: {aside_name}"
    );
    // Let the engine finish the stop (SIGKILL after 8 s), as it does without a client.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while engine
        .inspect_container(&id)
        .await?
        .state
        .and_then(|s| s.running)
        .unwrap_or(false)
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // The next session settles it first, then updates it: one container under the name,
    // running the new version, nothing left aside.
    let watchtower = Watchtower::start(&["--run-once", "--stop-timeout", "1s", &name], &[])?;
    let (code, log) = watchtower.wait_with_log(Duration::from_secs(180)).await?;
    assert_eq!(code, Some(0), "{log:#?}");
    assert!(
        log.iter()
            .any(|l| l.contains("settled an interrupted update")),
        "{log:#?}"
    );
    let now = engine.inspect_container(&name).await?;
    assert!(
        now.state.and_then(|s| s.running).unwrap_or(false),
        "{name} runs"
    );
    assert_eq!(now.image.as_deref(), Some(image.image_id()));
    let left = engine
        .docker()
        .inspect_container(&aside_name, None)
        .await
        .is_ok();
    assert!(!left, "the aside container {aside_name} is gone");
    Ok(())
}
