//! The health gate and start-first updates, against the recording fake engine. Time is
//! paused (`start_paused`), so the gate's settle time and timeout pass at once.

#![allow(clippy::field_reassign_with_default)]

use std::time::Duration;

use watchtower_container_client::{ContainerState, HealthStatus, NetworkAttachment};
use watchtower_session_report::{FailedStep, State};

use crate::fake::{AfterStart, FakeEngine, FakeRegistry};
use crate::tests::{entry, labelled, stale_image};
use crate::{Filter, Params, UpdateOrder, Updater, aside_name, label};

fn gated() -> Params {
    let mut params = Params::default();
    params.health_gate = true;
    params.health_gate_timeout = Duration::from_secs(120);
    params.health_gate_settle = Duration::from_secs(10);
    params
}

fn start_first() -> Params {
    let mut params = Params::default();
    params.update_order = UpdateOrder::StartFirst;
    params
}

/// One stale container `web` whose new container behaves as `script`, updated with `params`.
async fn update_web(
    script: &[AfterStart],
    params: Params,
) -> (
    Updater<FakeEngine, FakeRegistry>,
    watchtower_session_report::Report,
    watchtower_container_client::Container,
) {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    let web = e.run("web", "app:latest");
    e.on_start("web", script);
    let u = Updater::new(e, r, params);
    let report = u.update(&Filter::all()).await.unwrap();
    (u, report, web)
}

/// The old container is back under its name, running, and nothing else is left.
fn assert_rolled_back(
    u: &Updater<FakeEngine, FakeRegistry>,
    old: &watchtower_container_client::Container,
) {
    let back = u.client().container("web").expect("web exists");
    assert_eq!(back.id, old.id, "the old container has its name back");
    assert_eq!(back.state, ContainerState::Running);
    assert_eq!(u.client().names(), ["web"], "the new container is gone");
}

async fn rejected(script: &[AfterStart], reason: &str) {
    let (u, report, old) = update_web(script, gated()).await;
    let w = entry(&report, "web");
    assert_eq!(w.state(), State::Failed, "{w:?}");
    assert_eq!(w.failed_step(), Some(FailedStep::HealthGate));
    assert!(w.restored());
    assert_eq!(w.error(), Some(format!("rolled back: {reason}").as_str()));
    assert_rolled_back(&u, &old);
    assert_eq!(report.counts().restored, 1);
}

#[tokio::test(start_paused = true)]
async fn a_new_container_that_exits_is_rolled_back() {
    rejected(
        &[AfterStart::Running(None), AfterStart::Exited(3)],
        "the new container exited with code 3",
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_new_container_that_turns_unhealthy_is_rolled_back() {
    rejected(
        &[
            AfterStart::Running(Some(HealthStatus::Starting)),
            AfterStart::Running(Some(HealthStatus::Unhealthy)),
        ],
        "the new container became unhealthy",
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_new_container_that_restarts_is_rolled_back() {
    rejected(
        &[AfterStart::Running(None), AfterStart::Restarted(2)],
        "the new container restarted 2 times",
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_new_container_not_healthy_in_time_is_rolled_back() {
    rejected(
        &[AfterStart::Running(Some(HealthStatus::Starting))],
        "the new container was not healthy within 2m0s (timed out; health: starting)",
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_healthy_new_container_passes_and_carries_the_replaced_id() {
    let (u, report, old) = update_web(
        &[
            AfterStart::Running(Some(HealthStatus::Starting)),
            AfterStart::Running(Some(HealthStatus::Healthy)),
        ],
        gated(),
    )
    .await;
    assert_eq!(entry(&report, "web").state(), State::Updated);
    let new = u.client().container("web").unwrap();
    assert_ne!(new.id, old.id);
    assert_eq!(
        new.labels.get(label::REPLACES),
        Some(&old.id),
        "an interrupted session's successor can tell what it replaced"
    );
    assert_eq!(u.client().names(), ["web"], "the old container is removed");
}

#[tokio::test(start_paused = true)]
async fn without_a_healthcheck_the_new_container_must_keep_running_for_the_settle_time() {
    let started = tokio::time::Instant::now();
    let (_u, report, _) = update_web(&[AfterStart::Running(None)], gated()).await;
    assert_eq!(entry(&report, "web").state(), State::Updated);
    assert!(
        started.elapsed() >= Duration::from_secs(10),
        "passed after {:?}, before the settle time",
        started.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn the_label_switches_the_gate_off_for_its_container_and_on_without_the_flag() {
    // Flag on, label off: an exiting container is not gated (and so not rolled back).
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    e.run_with(
        "web",
        "app:latest",
        labelled(&[(label::HEALTH_GATE, "false")]),
    );
    e.on_start("web", &[AfterStart::Exited(1)]);
    let u = Updater::new(e, r, gated());
    let report = u.update(&Filter::all()).await.unwrap();
    assert_eq!(entry(&report, "web").state(), State::Updated);
    let new = u.client().container("web").unwrap();
    assert!(
        !new.labels.contains_key(label::REPLACES),
        "an ungated stop-first update marks nothing"
    );

    // Flag off, label on: gated.
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    let old = e.run_with(
        "web",
        "app:latest",
        labelled(&[(label::HEALTH_GATE, "true")]),
    );
    e.on_start("web", &[AfterStart::Exited(1)]);
    let u = Updater::new(e, r, Params::default());
    let report = u.update(&Filter::all()).await.unwrap();
    assert_eq!(
        entry(&report, "web").failed_step(),
        Some(FailedStep::HealthGate)
    );
    assert_rolled_back(&u, &old);
}

#[tokio::test(start_paused = true)]
async fn a_dependent_starts_only_after_its_dependency_passed_its_gate() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    e.run("db", "app:latest");
    e.run_with("web", "app:latest", |c| c.links = vec!["db".into()]);
    e.on_start("db", &[AfterStart::Running(None)]);
    let u = Updater::new(e, r, gated());
    let started = tokio::time::Instant::now();
    let report = u.update(&Filter::all()).await.unwrap();
    assert_eq!(entry(&report, "db").state(), State::Updated);
    assert_eq!(entry(&report, "web").state(), State::Updated);
    let calls = u.client().calls_of(&["start", "stop"]);
    assert_eq!(
        calls,
        [
            "stop web SIGTERM 10s",
            "stop db SIGTERM 10s",
            "start db",
            "start web"
        ]
    );
    // Both gates ran one after the other: 2 x the settle time.
    assert!(started.elapsed() >= Duration::from_secs(20));
}

// ---------------------------------------------------------------------------------------
// Start-first

#[tokio::test(start_paused = true)]
async fn start_first_starts_the_new_container_before_the_old_one_stops() {
    let (u, report, old) = update_web(&[AfterStart::Running(None)], start_first()).await;
    assert_eq!(entry(&report, "web").state(), State::Updated);
    assert_eq!(
        u.client()
            .calls_of(&["stop", "rename", "create", "start", "remove"]),
        [
            format!("rename web -> {}", aside_name(&old)),
            "create web from app:latest".to_owned(),
            "start web".to_owned(),
            "stop web SIGTERM 10s".to_owned(),
            format!("remove {}", aside_name(&old)),
        ]
    );
    assert_eq!(u.client().names(), ["web"]);
}

#[tokio::test(start_paused = true)]
async fn start_first_with_the_gate_never_stops_the_old_container_when_the_new_one_fails() {
    let mut params = gated();
    params.update_order = UpdateOrder::StartFirst;
    let (u, report, old) = update_web(&[AfterStart::Exited(2)], params).await;
    let w = entry(&report, "web");
    assert_eq!(w.failed_step(), Some(FailedStep::HealthGate));
    assert!(w.restored());
    assert_rolled_back(&u, &old);
    // The only stop is the new container's, on rollback; the old one ran throughout.
    let stops = u.client().calls_of(&["stop"]);
    assert_eq!(stops, ["stop web SIGTERM 10s"]);
    let calls = u.client().calls();
    let stop = calls.iter().position(|c| c.starts_with("stop")).unwrap();
    let start = calls.iter().position(|c| c == "start web").unwrap();
    assert!(start < stop, "{calls:?}");
}

#[tokio::test(start_paused = true)]
async fn start_first_puts_the_running_old_container_back_when_the_start_fails() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    let old = e.run("web", "app:latest");
    e.fail("start", "web", 1);
    let u = Updater::new(e, r, start_first());
    let report = u.update(&Filter::all()).await.unwrap();
    let w = entry(&report, "web");
    assert_eq!(w.failed_step(), Some(FailedStep::Start));
    assert!(w.restored());
    assert_rolled_back(&u, &old);
    assert!(
        u.client().calls_of(&["stop"]).is_empty(),
        "nothing was stopped: {:?}",
        u.client().calls()
    );
}

#[tokio::test(start_paused = true)]
async fn start_first_falls_back_to_stop_first_when_both_cannot_run_and_says_why() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    let old = e.run_with("web", "app:latest", |c| {
        c.networks = vec![NetworkAttachment {
            network: "backend".into(),
            ipv4_address: Some("10.9.0.5".into()),
            ..NetworkAttachment::default()
        }];
    });
    let u = Updater::new(e, r, start_first());
    let report = u.update(&Filter::all()).await.unwrap();
    let w = entry(&report, "web");
    assert_eq!(w.state(), State::Updated);
    assert_eq!(
        w.note(),
        Some("updated stop-first: it has a static IP address on network backend")
    );
    assert_eq!(
        u.client().calls_of(&["stop", "create"]),
        [
            "stop web SIGTERM 10s".to_owned(),
            "create web from app:latest".to_owned()
        ],
        "stopped before the new one was made"
    );
    assert_ne!(u.client().container("web").unwrap().id, old.id);
}

#[tokio::test(start_paused = true)]
async fn the_update_order_label_wins_over_the_flag() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    e.run_with(
        "web",
        "app:latest",
        labelled(&[(label::UPDATE_ORDER, "start-first")]),
    );
    let u = Updater::new(e, r, Params::default());
    u.update(&Filter::all()).await.unwrap();
    let calls = u.client().calls_of(&["stop", "start"]);
    assert_eq!(calls, ["start web", "stop web SIGTERM 10s"]);
}

// ---------------------------------------------------------------------------------------
// Settling a gated or start-first update that was interrupted

/// `web` renamed aside (running or not) and its replacement, marked as ours, running.
fn interrupted(e: &FakeEngine, old_runs: bool) -> watchtower_container_client::Container {
    stale_image(e, &FakeRegistry::new(), "app:latest");
    let old = e.run("web", "app:latest");
    if !old_runs {
        e.set_state("web", ContainerState::Exited);
    }
    e.rename("web", &aside_name(&old));
    let id = old.id.clone();
    e.run_with("web", "app:latest", move |c| {
        c.labels.insert(label::REPLACES.to_owned(), id);
    });
    old
}

#[tokio::test(start_paused = true)]
async fn a_replacement_killed_in_its_gate_is_gated_again_and_rolled_back_when_it_fails() {
    let e = FakeEngine::new();
    let old = interrupted(&e, false);
    // The replacement runs when the session starts, then exits.
    e.script("web", &[AfterStart::Running(None), AfterStart::Exited(1)]);
    let settled = crate::reconcile(&e, &Filter::all(), &gated())
        .await
        .unwrap();
    assert_eq!(
        settled,
        [crate::Reconciled::RolledBack { name: "web".into() }]
    );
    let back = e.container("web").unwrap();
    assert_eq!(back.id, old.id);
    assert_eq!(back.state, ContainerState::Running);
    assert_eq!(e.names(), ["web"], "the replacement is removed");
}

#[tokio::test(start_paused = true)]
async fn a_replacement_that_passes_the_gate_again_keeps_the_name() {
    let e = FakeEngine::new();
    let old = interrupted(&e, false);
    let new = e.container("web").unwrap();
    let settled = crate::reconcile(&e, &Filter::all(), &gated())
        .await
        .unwrap();
    assert_eq!(
        settled,
        [crate::Reconciled::RemovedOld { name: "web".into() }]
    );
    assert_eq!(e.names(), ["web"]);
    assert_eq!(e.container("web").unwrap().id, new.id);
    assert_ne!(new.id, old.id);
}

#[tokio::test(start_paused = true)]
async fn an_interrupted_start_first_update_stops_the_running_old_container_before_removing_it() {
    let e = FakeEngine::new();
    let old = interrupted(&e, true);
    let settled = crate::reconcile(&e, &Filter::all(), &Params::default())
        .await
        .unwrap();
    assert_eq!(
        settled,
        [crate::Reconciled::RemovedOld { name: "web".into() }]
    );
    assert_eq!(
        e.calls_of(&["stop", "remove"]),
        [
            "stop web SIGTERM 10s".to_owned(),
            format!("remove {}", aside_name(&old))
        ]
    );
}

// ---------------------------------------------------------------------------------------
// No retry of a known-bad image

fn digest(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

#[tokio::test(start_paused = true)]
async fn a_rolled_back_digest_is_not_tried_again_until_the_tag_moves_on() {
    use crate::Freshness;
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    r.answer(
        "app:latest",
        Freshness::Stale {
            remote_digest: digest('b'),
        },
    );
    let old = e.run("web", "app:latest");
    e.on_start("web", &[AfterStart::Exited(1)]);
    let u = Updater::new(e, r, gated());
    let first = u.update(&Filter::all()).await.unwrap();
    assert_eq!(
        entry(&first, "web").failed_step(),
        Some(FailedStep::HealthGate)
    );
    let marker = format!("docker.io/library/app:wt-rejected-{}", "b".repeat(64));
    assert!(
        u.client().calls().contains(&format!(
            "tag {} {marker}",
            crate::tests::new_id("app:latest")
        )),
        "{:?}",
        u.client().calls()
    );

    // The same digest again: skipped with the reason, not pulled, nothing touched.
    let calls_before = u.client().calls().len();
    let second = u.update(&Filter::all()).await.unwrap();
    let w = entry(&second, "web");
    assert_eq!(w.state(), State::Skipped, "{w:?}");
    assert!(
        w.error()
            .unwrap()
            .contains("rolled back by the health gate before")
            && w.error().unwrap().contains(&marker),
        "{w:?}"
    );
    let later = &u.client().calls()[calls_before..];
    assert!(
        later
            .iter()
            .all(|c| !c.starts_with("pull") && !c.starts_with("stop")),
        "{later:?}"
    );
    assert_eq!(u.client().container("web").unwrap().id, old.id);

    // The tag moves on to a newer digest: tried (and here, updated).
    u.registry().answer(
        "app:latest",
        Freshness::Stale {
            remote_digest: digest('c'),
        },
    );
    let third = u.update(&Filter::all()).await.unwrap();
    assert_eq!(entry(&third, "web").state(), State::Updated);
}

// ---------------------------------------------------------------------------------------
// Swarm tasks

#[tokio::test]
async fn a_swarm_task_container_is_never_recreated_and_says_by_whom_it_is_managed() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    let task = e.run_with(
        "web.1.abc",
        "app:latest",
        labelled(&[
            (label::SWARM_SERVICE_ID, "svc123"),
            (label::SWARM_SERVICE_NAME, "web"),
            (label::SWARM_TASK_ID, "task456"),
        ]),
    );
    let u = Updater::new(e, r, Params::default());
    let report = u.update(&Filter::all()).await.unwrap();
    let w = entry(&report, "web.1.abc");
    assert_eq!(w.state(), State::Skipped);
    assert!(
        w.error()
            .unwrap()
            .starts_with("managed by swarm service web:"),
        "{w:?}"
    );
    assert!(
        u.client()
            .calls_of(&["pull", "stop", "rename", "create"])
            .is_empty(),
        "{:?}",
        u.client().calls()
    );
    assert_eq!(u.client().container("web.1.abc").unwrap().id, task.id);
    assert!(u.registry().asked().is_empty(), "not even checked");
}

#[tokio::test(start_paused = true)]
async fn a_session_cancelled_during_the_gate_rolls_back_to_the_old_container() {
    let params = gated();
    let cancel = params.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        cancel.cancel();
    });
    let (u, report, old) = update_web(&[AfterStart::Running(None)], params).await;
    let w = entry(&report, "web");
    assert_eq!(w.failed_step(), Some(FailedStep::HealthGate));
    assert_eq!(
        w.error(),
        Some("rolled back: watchtower is stopping before the gate could pass")
    );
    assert_rolled_back(&u, &old);
}

#[tokio::test]
async fn a_create_the_engine_did_despite_an_error_is_removed_and_the_old_container_is_back() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    let old = e.run("web", "app:latest");
    e.lose_answer("create", "web", 1);
    let u = Updater::new(e, r, Params::default());
    let report = u.update(&Filter::all()).await.unwrap();
    let w = entry(&report, "web");
    assert_eq!(w.failed_step(), Some(FailedStep::Create));
    assert!(w.restored(), "{w:?}");
    assert_rolled_back(&u, &old);
}
