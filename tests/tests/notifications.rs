//! Notifications from the real binary to a webhook receiver on 127.0.0.1: the startup
//! message is one notification unless `--no-startup-message`, and an update session sends
//! its report. Skips loudly without an engine; fails under `WATCHTOWER_E2E=required`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::post;
use watchtower_e2e::Watchtower;
use watchtower_testkit::{
    ContainerSpec, Engine, FixtureImage, FixtureSpec, Registry, RegistryMode,
};

/// A webhook on 127.0.0.1 that records every body posted to `/hook`.
async fn receiver() -> anyhow::Result<(String, Arc<Mutex<Vec<String>>>)> {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let app = Router::new().route(
        "/hook",
        post({
            let bodies = bodies.clone();
            move |body: String| async move {
                bodies.lock().unwrap().push(body);
                ""
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((
        format!("generic+http://{addr}/hook?contenttype=text/plain"),
        bodies,
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn startup_message_is_one_notification_unless_disabled() -> anyhow::Result<()> {
    let Some(_engine) = Engine::require().await else {
        return Ok(());
    };
    let (url, bodies) = receiver().await?;
    let unmatched = "e2e-no-such-container-4d1c";
    let watchtower =
        Watchtower::start(&["--run-once", "--notification-url", &url, unmatched], &[])?;
    assert_eq!(watchtower.wait(Duration::from_secs(120)).await?, Some(0));
    let sent = bodies.lock().unwrap().clone();
    let startup: Vec<_> = sent.iter().filter(|b| b.contains("Watchtower ")).collect();
    assert_eq!(startup.len(), 1, "one startup notification: {sent:#?}");
    for line in [
        "Using notifications: generic",
        "Only checking containers which name matches",
        "Running a one time update.",
    ] {
        assert!(
            startup[0].contains(line),
            "{line:?} missing in {:?}",
            startup[0]
        );
    }

    bodies.lock().unwrap().clear();
    let watchtower = Watchtower::start(
        &[
            "--run-once",
            "--no-startup-message",
            "--notification-url",
            &url,
            unmatched,
        ],
        &[],
    )?;
    assert_eq!(watchtower.wait(Duration::from_secs(120)).await?, Some(0));
    let sent = bodies.lock().unwrap().clone();
    assert!(
        sent.iter()
            .all(|b| !b.contains("Running a one time update.")),
        "the startup message stays local: {sent:#?}"
    );
    // It is still logged.
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_session_sends_its_report() -> anyhow::Result<()> {
    let Some(engine) = Engine::require().await else {
        return Ok(());
    };
    let registry = Registry::start(RegistryMode::Plain).await?;
    let mut image =
        FixtureImage::publish(&engine, &registry, "e2e/notify", FixtureSpec::default()).await?;
    let name = engine.unique_name("e2e-notify");
    engine
        .run_container(
            &name,
            ContainerSpec::new(image.reference()).network_mode("none"),
        )
        .await?;
    image.publish_next_version().await?;
    let (url, bodies) = receiver().await?;
    let watchtower = Watchtower::start(
        &[
            "--run-once",
            "--no-startup-message",
            "--notification-report",
            "--notification-url",
            &url,
            &name,
        ],
        &[],
    )?;
    assert_eq!(watchtower.wait(Duration::from_secs(300)).await?, Some(0));
    let sent = bodies.lock().unwrap().clone();
    let report = sent
        .iter()
        .find(|b| b.contains("1 Scanned, 1 Updated, 0 Failed"))
        .unwrap_or_else(|| panic!("no report notification in {sent:#?}"));
    assert!(report.contains(&name), "{report}");
    Ok(())
}

/// A `--notification-template` that does not parse is named in one line at start-up, as the
/// original logs it, and the default template is used: the run goes on and the startup
/// message still goes out (without that line: it stays local).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_template_is_reported_and_the_default_is_used() -> anyhow::Result<()> {
    let Some(_engine) = Engine::require().await else {
        return Ok(());
    };
    let (url, bodies) = receiver().await?;
    let watchtower = Watchtower::start(
        &[
            "--run-once",
            "--notification-url",
            &url,
            "--notification-template",
            "{{ .Broken",
            "e2e-no-such-container-7b2e",
        ],
        &[],
    )?;
    let (code, log) = watchtower.wait_with_log(Duration::from_secs(120)).await?;
    assert_eq!(code, Some(0), "{log:#?}");
    let problems: Vec<_> = log
        .iter()
        .filter(|l| l.contains("Could not use configured notification template"))
        .collect();
    assert_eq!(
        problems.len(),
        1,
        "one line for the broken template: {log:#?}"
    );
    assert!(problems[0].contains("level=error"), "{}", problems[0]);
    assert!(
        problems[0].contains("using the default template"),
        "{}",
        problems[0]
    );
    let sent = bodies.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "the startup message: {sent:#?}");
    assert!(
        sent[0].contains("Running a one time update."),
        "rendered with the default template: {:?}",
        sent[0]
    );
    assert!(
        !sent[0].contains("Could not use configured"),
        "the problem stays local: {:?}",
        sent[0]
    );
    Ok(())
}
