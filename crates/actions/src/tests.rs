//! Session rules, against the recording fake engine (and the mockall mock where a strict
//! "never called" reads better).

// Tests name their containers `a`, `b`, `e`ngine, `r`egistry, `u`pdater: short on purpose.
#![allow(clippy::many_single_char_names)]
// `Params` is `#[non_exhaustive]`: other crates must build it this way, so the tests do too.
#![allow(clippy::field_reassign_with_default)]

use std::time::Duration;

use watchtower_container_client::{
    Container, ContainerState, HostConfig, ListOptions, MockContainerClient, NetworkMode,
    VolumeMount,
};
use watchtower_lifecycle::{
    POST_CHECK_LABEL, POST_UPDATE_LABEL, PRE_CHECK_LABEL, PRE_UPDATE_LABEL,
};
use watchtower_session_report::{FailedStep, Report, State};

use crate::fake::{FakeEngine, FakeRegistry, image};
use crate::{
    CancelToken, Error, Filter, Freshness, FreshnessChecker, FreshnessQuery, Params, Reconciled,
    Updater, aside_name, check_rolling_restart, cleanup_excess_instances, label,
    volume_holder_name,
};

pub(crate) fn old_id(reference: &str) -> String {
    format!("sha256:old-{reference}")
}

pub(crate) fn new_id(reference: &str) -> String {
    format!("sha256:new-{reference}")
}

/// A local image for `reference` that the registry still serves.
fn fresh_image(e: &FakeEngine, reference: &str) {
    e.add_image(
        reference,
        image(&old_id(reference), &[&format!("{reference}@sha256:d1")]),
    );
}

/// A local image for `reference` and a newer one in the registry.
pub(crate) fn stale_image(e: &FakeEngine, r: &FakeRegistry, reference: &str) {
    fresh_image(e, reference);
    e.publish(
        reference,
        image(&new_id(reference), &[&format!("{reference}@sha256:d2")]),
    );
    r.stale(reference);
}

fn updater(e: FakeEngine, r: FakeRegistry, params: Params) -> Updater<FakeEngine, FakeRegistry> {
    Updater::new(e, r, params)
}

pub(crate) fn entry<'a>(
    report: &'a Report,
    name: &str,
) -> &'a watchtower_session_report::ContainerReport {
    let slashed = format!("/{name}");
    report
        .all()
        .iter()
        .find(|e| e.name() == slashed)
        .unwrap_or_else(|| panic!("{name} not in report {report:#?}"))
}

pub(crate) fn labelled(pairs: &[(&str, &str)]) -> impl FnOnce(&mut Container) {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |c: &mut Container| c.labels.extend(pairs)
}

// ---------------------------------------------------------------------------------------
// The safe update protocol

#[tokio::test]
async fn a_stale_container_is_replaced_step_by_step() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    let web = e.run("web", "app:latest");
    let aside = aside_name(&web);
    let u = updater(e, r, Params::default());

    let report = u.update(&Filter::all()).await.unwrap();

    let e = u.client();
    assert_eq!(
        e.calls_of(&[
            "pull", "stop", "rename", "create", "connect", "start", "remove"
        ]),
        [
            "pull app:latest".to_owned(),
            format!("rename web -> {aside}"),
            "stop web SIGTERM 10s".to_owned(),
            "create web from app:latest".to_owned(),
            "connect web".to_owned(),
            "start web".to_owned(),
            format!("remove {aside}"),
        ]
    );
    let now = e.container("web").unwrap();
    assert_ne!(now.id, web.id);
    assert_eq!(now.image_id, new_id("app:latest"));
    assert_eq!(now.state, ContainerState::Running);
    assert_eq!(e.names(), ["web"]);

    let w = entry(&report, "web");
    assert_eq!(w.state(), State::Updated);
    assert_eq!(w.current_image_id(), old_id("app:latest"));
    assert_eq!(w.latest_image_id(), new_id("app:latest"));
    assert_eq!(w.image_name(), "app:latest");
}

async fn fails_at(op: &str, step: FailedStep) {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    let web = e.run("web", "app:latest");
    e.fail(op, "web", 1);
    let u = updater(e, r, Params::default());

    let report = u.update(&Filter::all()).await.unwrap();

    let e = u.client();
    let back = e
        .container("web")
        .expect("the old container is back under its name");
    assert_eq!(back.id, web.id, "{op}: the very same container");
    assert_eq!(back.state, ContainerState::Running, "{op}");
    assert_eq!(back.image_id, old_id("app:latest"));
    assert_eq!(e.names(), ["web"], "{op}: nothing half-made left behind");
    let w = entry(&report, "web");
    assert_eq!(w.state(), State::Failed, "{op}");
    assert_eq!(w.failed_step(), Some(step), "{op}");
    assert!(w.restored(), "{op}");
    assert!(
        w.error()
            .unwrap()
            .contains(&format!("injected {op} failure")),
        "{op}: {w:?}"
    );
    assert_eq!(report.counts().restored, 1);
}

#[tokio::test]
async fn a_failing_create_puts_the_old_container_back() {
    fails_at("create", FailedStep::Create).await;
}

#[tokio::test]
async fn a_failing_network_connect_puts_the_old_container_back() {
    fails_at("connect", FailedStep::ConnectNetwork).await;
}

#[tokio::test]
async fn a_failing_start_puts_the_old_container_back() {
    fails_at("start", FailedStep::Start).await;
}

#[tokio::test]
async fn a_failing_rename_restarts_the_old_container() {
    fails_at("rename", FailedStep::Rename).await;
}

/// The engine renamed the container aside but its answer was an error (lost, timed out, or
/// docker-compose's "same name" race): the update asks the engine, sees the aside name and
/// goes on, so the old container never stays behind under its aside name.
#[tokio::test]
async fn a_rename_the_engine_did_despite_an_error_counts_as_done() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    let web = e.run("web", "app:latest");
    let aside = aside_name(&web);
    e.lose_answer("rename", "web", 1);
    let u = updater(e, r, Params::default());
    let report = u.update(&Filter::all()).await.unwrap();
    assert_eq!(report.counts().updated, 1, "{report:?}");
    assert_eq!(u.client().names(), ["web"]);
    let now = u.client().container("web").unwrap();
    assert!(now.state.is_running());
    assert_ne!(now.id, web.id, "the new container runs under the name");
    assert_eq!(
        u.client().calls_of(&["rename", "remove"]),
        [format!("rename web -> {aside}"), format!("remove {aside}"),]
    );
}

/// When the rename really failed, the old container keeps its name and runs again.
#[tokio::test]
async fn a_rename_that_failed_leaves_the_old_container_running_under_its_name() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    let web = e.run("web", "app:latest");
    e.fail("rename", "web", 1);
    let u = updater(e, r, Params::default());
    let report = u.update(&Filter::all()).await.unwrap();
    assert_eq!(report.counts().failed, 1, "{report:?}");
    let now = u.client().container("web").unwrap();
    assert_eq!(now.id, web.id);
    assert!(now.state.is_running());
    assert_eq!(u.client().names(), ["web"]);
}

#[tokio::test]
async fn a_failing_stop_is_reported_and_the_container_keeps_running() {
    fails_at("stop", FailedStep::Stop).await;
}

#[tokio::test]
async fn the_rollback_steps_are_exact() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    let web = e.run("web", "app:latest");
    let aside = aside_name(&web);
    e.fail("start", "web", 1);
    let u = updater(e, r, Params::default());
    u.update(&Filter::all()).await.unwrap();
    assert_eq!(
        u.client()
            .calls_of(&["stop", "rename", "create", "connect", "start", "remove"]),
        [
            format!("rename web -> {aside}"),
            "stop web SIGTERM 10s".to_owned(),
            "create web from app:latest".to_owned(),
            "connect web".to_owned(),
            "start web".to_owned(),
            "remove web +volumes".to_owned(),
            format!("rename {aside} -> web"),
            "start web".to_owned(),
        ]
    );
}

#[tokio::test]
async fn a_failed_rollback_says_so() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    let web = e.run("web", "app:latest");
    e.fail("create", "web", 1);
    e.fail("rename", &aside_name(&web), 1);
    let u = updater(e, r, Params::default());
    let report = u.update(&Filter::all()).await.unwrap();
    let w = entry(&report, "web");
    assert_eq!(w.failed_step(), Some(FailedStep::Create));
    assert!(!w.restored());
    let reason = w.error().unwrap();
    assert!(reason.contains("injected create failure"), "{reason}");
    assert!(
        reason.contains("putting the old container back failed"),
        "{reason}"
    );
    // Not lost: still there under the aside name, and the next session settles it.
    assert!(u.client().container(&aside_name(&web)).is_some());
    let report = u.update(&Filter::all()).await.unwrap();
    assert_eq!(entry(&report, "web").state(), State::Updated);
    assert_eq!(u.client().names(), ["web"]);
}

#[tokio::test]
async fn a_failing_removal_of_the_old_container_is_reported_and_settled_next_time() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    let web = e.run("web", "app:latest");
    let aside = aside_name(&web);
    e.fail("remove", &aside, 1);
    let u = updater(e, r, Params::default());
    let report = u.update(&Filter::all()).await.unwrap();
    let w = entry(&report, "web");
    assert_eq!(w.failed_step(), Some(FailedStep::RemoveOld));
    assert!(!w.restored());
    assert_eq!(
        u.client().container("web").unwrap().image_id,
        new_id("app:latest")
    );
    let mut names = vec!["web".to_owned(), aside.clone()];
    names.sort();
    assert_eq!(u.client().names(), names);

    let report = u.update(&Filter::all()).await.unwrap();
    assert_eq!(u.client().names(), ["web"]);
    assert_eq!(entry(&report, "web").state(), State::Fresh);
}

#[tokio::test]
async fn a_container_that_removes_itself_on_stop_is_still_replaced() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    e.run("web", "app:latest");
    e.vanish_on_stop("web");
    let u = updater(e, r, Params::default());
    let report = u.update(&Filter::all()).await.unwrap();
    assert_eq!(entry(&report, "web").state(), State::Updated);
    assert_eq!(
        u.client().container("web").unwrap().image_id,
        new_id("app:latest")
    );
}

#[tokio::test]
async fn a_container_that_removed_itself_is_made_again_from_its_old_image_on_failure() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    e.run("web", "app:latest");
    e.vanish_on_stop("web");
    e.fail("start", "web", 1);
    let u = updater(e, r, Params::default());
    let report = u.update(&Filter::all()).await.unwrap();
    let w = entry(&report, "web");
    assert_eq!(w.failed_step(), Some(FailedStep::Start));
    assert!(w.restored(), "{w:?}");
    let back = u.client().container("web").unwrap();
    assert_eq!(back.image_id, old_id("app:latest"));
    assert_eq!(back.state, ContainerState::Running);
}

/// `--rm`, and an anonymous volume at `/data` (the user's `-v /data`) that is carried over.
fn rm_with_volume(c: &mut Container) {
    c.host_config = HostConfig::auto_removing();
    c.config.volumes = vec!["/data".into()];
    c.volume_mounts = vec![VolumeMount {
        name: "d".repeat(64),
        destination: "/data".into(),
        driver: None,
        read_write: true,
    }];
}

#[tokio::test]
async fn a_container_started_with_rm_has_its_volumes_held_while_it_stops() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    let web = e.run_with("web", "app:latest", rm_with_volume);
    e.vanish_on_stop("web");
    let holder = volume_holder_name(&web);
    let u = updater(e, r, Params::default());

    let report = u.update(&Filter::all()).await.unwrap();

    assert_eq!(entry(&report, "web").state(), State::Updated);
    assert_eq!(
        u.client().calls_of(&["create", "stop", "remove", "start"]),
        [
            format!("create {holder} from {}", old_id("app:latest")),
            "stop web SIGTERM 10s".to_owned(),
            format!("remove {holder} +volumes"),
            "create web from app:latest".to_owned(),
            "start web".to_owned(),
        ]
    );
    assert_eq!(u.client().names(), ["web"]);
}

#[tokio::test]
async fn a_holder_that_cannot_be_made_leaves_the_rm_container_running() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    let web = e.run_with("web", "app:latest", rm_with_volume);
    e.vanish_on_stop("web");
    let holder = volume_holder_name(&web);
    e.fail("create", &holder, 1);
    let u = updater(e, r, Params::default());

    let report = u.update(&Filter::all()).await.unwrap();

    let w = entry(&report, "web");
    assert_eq!(w.failed_step(), Some(FailedStep::Stop));
    assert!(w.restored(), "{w:?}");
    assert!(w.error().unwrap_or_default().contains(&holder), "{w:?}");
    assert!(u.client().calls_of(&["stop"]).is_empty(), "never stopped");
    let now = u.client().container("web").unwrap();
    assert_eq!((now.id, now.state), (web.id, ContainerState::Running));
}

#[tokio::test]
async fn a_holder_left_by_a_killed_session_is_replaced_and_another_container_is_not() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    let web = e.run_with("web", "app:latest", rm_with_volume);
    e.vanish_on_stop("web");
    let holder = volume_holder_name(&web);
    e.run_with(
        &holder,
        "app:latest",
        labelled(&[(label::VOLUME_HOLDER, "web")]),
    );
    let u = updater(e, r, Params::default());
    let report = u
        .update(&Filter::all().names(["web"]).unwrap())
        .await
        .unwrap();
    assert_eq!(entry(&report, "web").state(), State::Updated);
    assert_eq!(
        u.client().calls_of(&["create", "remove"])[..3],
        [
            format!("remove {holder} +volumes"),
            format!("create {holder} from {}", old_id("app:latest")),
            format!("remove {holder} +volumes"),
        ]
    );
    assert_eq!(u.client().names(), ["web"]);

    // A container of the user's under that name is never removed.
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    let web = e.run_with("web", "app:latest", rm_with_volume);
    let holder = volume_holder_name(&web);
    e.run(&holder, "app:latest");
    let u = updater(e, r, Params::default());
    let report = u
        .update(&Filter::all().names(["web"]).unwrap())
        .await
        .unwrap();
    let w = entry(&report, "web");
    assert_eq!(w.failed_step(), Some(FailedStep::Stop), "{w:?}");
    assert!(w.restored());
    assert!(u.client().calls_of(&["remove", "stop"]).is_empty());
}

#[tokio::test]
async fn no_holder_without_carried_volumes_or_with_no_restart() {
    for (edit, no_restart) in [
        (
            (|c: &mut Container| c.host_config = HostConfig::auto_removing()) as fn(&mut Container),
            false,
        ),
        (rm_with_volume as fn(&mut Container), true),
    ] {
        let (e, r) = (FakeEngine::new(), FakeRegistry::new());
        stale_image(&e, &r, "app:latest");
        e.run_with("web", "app:latest", edit);
        e.vanish_on_stop("web");
        let mut params = Params::default();
        params.no_restart = no_restart;
        let u = updater(e, r, params);
        let report = u.update(&Filter::all()).await.unwrap();
        assert_eq!(entry(&report, "web").state(), State::Updated);
        assert!(
            u.client()
                .calls()
                .iter()
                .all(|c| !c.contains(crate::HOLDER_MARKER)),
            "{:?}",
            u.client().calls()
        );
    }
}

#[tokio::test]
async fn stop_signal_label_and_stop_timeout_are_used() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    e.run_with(
        "web",
        "app:latest",
        labelled(&[(label::STOP_SIGNAL, "SIGHUP")]),
    );
    let mut params = Params::default();
    params.stop_timeout = Duration::from_secs(42);
    let u = updater(e, r, params);
    u.update(&Filter::all()).await.unwrap();
    assert_eq!(u.client().calls_of(&["stop"]), ["stop web SIGHUP 42s"]);
}

#[tokio::test]
async fn remove_volumes_is_passed_when_removing_the_old_container() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    let web = e.run("web", "app:latest");
    let mut params = Params::default();
    params.remove_volumes = true;
    let u = updater(e, r, params);
    u.update(&Filter::all()).await.unwrap();
    assert!(
        u.client()
            .calls()
            .contains(&format!("remove {} +volumes", aside_name(&web)))
    );
}

#[tokio::test]
async fn no_restart_stops_and_removes_without_replacement() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    e.run("web", "app:latest");
    let mut params = Params::default();
    params.no_restart = true;
    let u = updater(e, r, params);
    let report = u.update(&Filter::all()).await.unwrap();
    assert_eq!(
        u.client()
            .calls_of(&["stop", "rename", "create", "start", "remove"]),
        ["stop web SIGTERM 10s", "remove web"]
    );
    assert!(u.client().names().is_empty());
    assert_eq!(entry(&report, "web").state(), State::Updated);
}

#[tokio::test]
async fn stopped_containers_are_recreated_but_only_revived_when_asked() {
    for revive in [false, true] {
        let (e, r) = (FakeEngine::new(), FakeRegistry::new());
        stale_image(&e, &r, "app:latest");
        e.run_with("idle", "app:latest", |c| c.state = ContainerState::Exited);
        let mut params = Params::default();
        params.include_stopped = true;
        params.revive_stopped = revive;
        let u = updater(e, r, params);
        let report = u.update(&Filter::all()).await.unwrap();
        assert_eq!(entry(&report, "idle").state(), State::Updated);
        let now = u.client().container("idle").unwrap();
        assert_eq!(now.image_id, new_id("app:latest"));
        let expected = if revive {
            ContainerState::Running
        } else {
            ContainerState::Created
        };
        assert_eq!(now.state, expected, "revive={revive}");
    }
}

// ---------------------------------------------------------------------------------------
// Selection

#[tokio::test]
async fn stopped_and_restarting_containers_are_listed_only_when_asked() {
    for (stopped, restarting) in [(false, false), (true, false), (false, true)] {
        let (e, r) = (FakeEngine::new(), FakeRegistry::new());
        fresh_image(&e, "app:latest");
        e.run("up", "app:latest");
        e.run_with("down", "app:latest", |c| c.state = ContainerState::Exited);
        e.run_with("looping", "app:latest", |c| {
            c.state = ContainerState::Restarting;
        });
        let mut params = Params::default();
        params.include_stopped = stopped;
        params.include_restarting = restarting;
        let u = updater(e, r, params);
        let report = u.check(&Filter::all()).await.unwrap();
        let mut names: Vec<&str> = report
            .all()
            .iter()
            .map(watchtower_session_report::ContainerReport::name)
            .collect();
        names.sort_unstable();
        let mut expected = vec!["/up"];
        if stopped {
            expected.push("/down");
        }
        if restarting {
            expected.push("/looping");
        }
        expected.sort_unstable();
        assert_eq!(names, expected);
    }
}

#[tokio::test]
async fn containers_outside_the_filter_are_not_touched_or_reported() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    e.run_with("off", "app:latest", labelled(&[(label::ENABLE, "false")]));
    e.run_with("other", "app:latest", labelled(&[(label::SCOPE, "dev")]));
    e.run_with("mine", "app:latest", labelled(&[(label::SCOPE, "prod")]));
    let u = updater(e, r, Params::default());
    let report = u.update(&Filter::all().scope("prod")).await.unwrap();
    assert_eq!(report.all().len(), 1);
    assert_eq!(entry(&report, "mine").state(), State::Updated);
    assert_eq!(u.client().calls_of(&["stop"]), ["stop mine SIGTERM 10s"]);
}

#[tokio::test]
async fn label_enable_selects_only_enabled_containers() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    e.run_with("yes", "app:latest", labelled(&[(label::ENABLE, "true")]));
    e.run("unlabelled", "app:latest");
    let u = updater(e, r, Params::default());
    let report = u.update(&Filter::all().label_enable(true)).await.unwrap();
    assert_eq!(report.all().len(), 1);
    assert_eq!(entry(&report, "yes").state(), State::Updated);
    assert_eq!(
        u.client().container("unlabelled").unwrap().image_id,
        old_id("app:latest")
    );
}

#[tokio::test]
async fn the_zodiac_label_names_the_image_to_check_and_recreate_from() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "team/app:2");
    e.run_with("z", "team/app:2", |c| {
        c.image_reference = old_id("team/app:2");
        c.labels
            .insert(label::ZODIAC_ORIGINAL_IMAGE.into(), "team/app:2".into());
    });
    let u = updater(e, r, Params::default());
    let report = u.update(&Filter::all()).await.unwrap();
    assert!(u.registry().asked_only(&["team/app:2"]));
    assert_eq!(entry(&report, "z").image_name(), "team/app:2");
    assert!(
        u.client()
            .calls()
            .contains(&"create z from team/app:2".to_owned())
    );
}

// ---------------------------------------------------------------------------------------
// Freshness

#[tokio::test]
async fn nothing_new_means_nothing_touched_and_no_pull() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    fresh_image(&e, "app:latest");
    fresh_image(&e, "db:16");
    e.run("web1", "app:latest");
    e.run("web2", "app:latest");
    e.run("db", "db:16");
    let u = updater(e, r, Params::default());
    let report = u.update(&Filter::all()).await.unwrap();
    assert_eq!(report.counts().fresh, 3);
    assert!(
        u.registry().asked_only(&["app:latest", "db:16"]),
        "one question per distinct image: {:?}",
        u.registry().asked()
    );
    let calls = u.client().calls();
    assert!(
        calls
            .iter()
            .all(|c| c == "list" || c.starts_with("inspect_image")),
        "{calls:?}"
    );
}

#[tokio::test]
async fn a_fresh_session_never_pulls_or_stops_with_the_strict_mock() {
    let web = Container {
        id: "a".repeat(64),
        name: "web".into(),
        image_reference: "app:latest".into(),
        image_id: "sha256:aa".into(),
        ..Container::default()
    };
    let mut mock = MockContainerClient::new();
    mock.expect_list_containers()
        .returning(move |_| Ok(vec![web.clone()]));
    mock.expect_inspect_image()
        .returning(|_| Ok(image("sha256:aa", &["app@sha256:d1"])));
    mock.expect_pull_image().never();
    mock.expect_stop_container().never();
    mock.expect_create_container().never();
    mock.expect_remove_image().never();
    let u = Updater::new(mock, FakeRegistry::new(), Params::default());
    let report = u.update(&Filter::all()).await.unwrap();
    assert_eq!(report.counts().fresh, 1);
}

#[tokio::test]
async fn distinct_images_are_checked_concurrently_but_bounded() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    for i in 0..12 {
        let reference = format!("img{i}:latest");
        fresh_image(&e, &reference);
        e.run(&format!("c{i}a"), &reference);
        e.run(&format!("c{i}b"), &reference);
    }
    let mut params = Params::default();
    params.check_concurrency = 3;
    let u = updater(e, r, params);
    u.check(&Filter::all()).await.unwrap();
    assert_eq!(u.registry().asked().len(), 12);
    let peak = u.registry().max_in_flight();
    assert!((2..=3).contains(&peak), "peak {peak}");
}

#[tokio::test]
async fn a_stale_image_is_pulled_once_for_all_its_containers() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    e.run("a", "app:latest");
    e.run("b", "app:latest");
    let u = updater(e, r, Params::default());
    let report = u.update(&Filter::all()).await.unwrap();
    assert_eq!(u.client().calls_of(&["pull"]), ["pull app:latest"]);
    assert_eq!(report.counts().updated, 2);
}

#[tokio::test]
async fn a_failed_check_falls_back_to_a_pull() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    r.answer(
        "app:latest",
        Freshness::Unknown {
            reason: "registry answered 503".into(),
        },
    );
    e.run("web", "app:latest");
    let u = updater(e, r, Params::default());
    let report = u.update(&Filter::all()).await.unwrap();
    assert_eq!(u.client().calls_of(&["pull"]), ["pull app:latest"]);
    assert_eq!(entry(&report, "web").state(), State::Updated);
}

#[tokio::test]
async fn a_failed_check_whose_pull_brings_nothing_new_is_fresh() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    fresh_image(&e, "app:latest");
    r.answer(
        "app:latest",
        Freshness::Unknown {
            reason: "timeout".into(),
        },
    );
    e.run("web", "app:latest");
    let u = updater(e, r, Params::default());
    let report = u.update(&Filter::all()).await.unwrap();
    assert_eq!(u.client().calls_of(&["pull"]), ["pull app:latest"]);
    assert_eq!(entry(&report, "web").state(), State::Fresh);
}

/// A checker that breaks the contract of `check_many`: it answers only the first `keep`
/// questions, or adds answers nobody asked for.
struct Miscounting {
    inner: FakeRegistry,
    keep: usize,
    extra: usize,
}

#[async_trait::async_trait]
impl FreshnessChecker for Miscounting {
    async fn check(&self, query: &FreshnessQuery) -> Freshness {
        self.inner.check(query).await
    }

    async fn check_many(&self, queries: &[FreshnessQuery], _: usize) -> Vec<Freshness> {
        let mut answers = Vec::new();
        for query in queries.iter().take(self.keep) {
            answers.push(self.inner.check(query).await);
        }
        answers.extend(std::iter::repeat_n(Freshness::Fresh, self.extra));
        answers
    }

    async fn pull_auth(
        &self,
        reference: &watchtower_registry_auth::ImageReference,
    ) -> Result<Option<watchtower_container_client::PullAuth>, Error> {
        self.inner.pull_auth(reference).await
    }
}

#[tokio::test]
async fn a_checker_answering_too_few_questions_fails_those_containers_without_a_panic() {
    for check_only in [false, true] {
        let (e, r) = (FakeEngine::new(), FakeRegistry::new());
        stale_image(&e, &r, "app:latest");
        stale_image(&e, &r, "db:1");
        e.run("web", "app:latest");
        e.run("db", "db:1");
        let checker = Miscounting {
            inner: r,
            keep: 1,
            extra: 0,
        };
        let u = Updater::new(e, checker, Params::default());
        let report = if check_only {
            u.check(&Filter::all()).await.unwrap()
        } else {
            u.update(&Filter::all()).await.unwrap()
        };
        let answered = u.registry().inner.asked();
        assert_eq!(answered.len(), 1, "{answered:?}");
        let (with, without, pulled) = if answered[0] == crate::fake::parsed("app:latest") {
            ("web", "db", "app:latest")
        } else {
            ("db", "web", "db:1")
        };
        let expected = if check_only {
            State::Stale
        } else {
            State::Updated
        };
        assert_eq!(entry(&report, with).state(), expected, "{report:#?}");
        let missing = entry(&report, without);
        assert_eq!(missing.state(), State::Failed, "{report:#?}");
        assert_eq!(missing.failed_step(), Some(FailedStep::Check));
        assert!(
            missing.error().unwrap().contains("gave no answer"),
            "{:?}",
            missing.error()
        );
        // Nothing was pulled for the container without an answer.
        let pulls = u.client().calls_of(&["pull"]);
        assert!(
            pulls.iter().all(|p| p == &format!("pull {pulled}")),
            "{pulls:?}"
        );
    }
}

#[tokio::test]
async fn a_checker_answering_too_many_questions_is_harmless() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    e.run("web", "app:latest");
    let checker = Miscounting {
        inner: r,
        keep: usize::MAX,
        extra: 3,
    };
    let u = Updater::new(e, checker, Params::default());
    let report = u.update(&Filter::all()).await.unwrap();
    assert_eq!(entry(&report, "web").state(), State::Updated);
    assert_eq!(report.all().len(), 1);
}

#[tokio::test]
async fn check_changes_nothing_and_reports_unknowns_as_failed_checks() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    fresh_image(&e, "down:1");
    r.answer(
        "down:1",
        Freshness::Unknown {
            reason: "connection refused".into(),
        },
    );
    e.run("web", "app:latest");
    e.run("other", "down:1");
    let u = updater(e, r, Params::default());
    let report = u.check(&Filter::all()).await.unwrap();
    let calls = u.client().calls();
    assert!(
        calls
            .iter()
            .all(|c| c == "list" || c.starts_with("inspect_image")),
        "{calls:?}"
    );
    let w = entry(&report, "web");
    assert_eq!(w.state(), State::Stale);
    assert_eq!(w.latest_image_id(), "");
    let o = entry(&report, "other");
    assert_eq!(o.state(), State::Failed);
    assert_eq!(o.failed_step(), Some(FailedStep::Check));
    assert_eq!(o.error(), Some("connection refused"));
}

#[tokio::test]
async fn a_failed_pull_fails_the_container_and_touches_nothing() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    let web = e.run("web", "app:latest");
    e.fail("pull", "app:latest", 1);
    let u = updater(e, r, Params::default());
    let report = u.update(&Filter::all()).await.unwrap();
    let w = entry(&report, "web");
    assert_eq!(w.failed_step(), Some(FailedStep::Pull));
    assert!(!w.restored());
    assert_eq!(u.client().container("web").unwrap().id, web.id);
    assert!(u.client().calls_of(&["stop"]).is_empty());
}

#[tokio::test]
async fn no_pull_compares_the_local_tag_only() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    fresh_image(&e, "app:latest");
    e.run("web", "app:latest");
    // Someone pulled a newer image by hand: the local tag moved.
    e.add_image("app:latest", image(&new_id("app:latest"), &[]));
    r.stale("app:latest");
    let mut params = Params::default();
    params.no_pull = true;
    let u = updater(e, r, params);
    let report = u.update(&Filter::all()).await.unwrap();
    assert!(u.registry().asked().is_empty(), "no registry question");
    assert!(u.client().calls_of(&["pull"]).is_empty());
    assert_eq!(entry(&report, "web").state(), State::Updated);
    assert_eq!(
        u.client().container("web").unwrap().image_id,
        new_id("app:latest")
    );
}

#[tokio::test]
async fn the_no_pull_label_and_label_precedence() {
    // Label on, flag off: no pull for that container only.
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    stale_image(&e, &r, "db:1");
    e.run_with("web", "app:latest", labelled(&[(label::NO_PULL, "true")]));
    e.run("db", "db:1");
    let u = updater(e, r, Params::default());
    let report = u.update(&Filter::all()).await.unwrap();
    assert!(u.registry().asked_only(&["db:1"]));
    assert_eq!(entry(&report, "web").state(), State::Fresh);
    assert_eq!(entry(&report, "db").state(), State::Updated);

    // Flag on, label false: only with --label-take-precedence does the label win.
    for precedence in [false, true] {
        let (e, r) = (FakeEngine::new(), FakeRegistry::new());
        stale_image(&e, &r, "app:latest");
        e.run_with("web", "app:latest", labelled(&[(label::NO_PULL, "false")]));
        let mut params = Params::default();
        params.no_pull = true;
        params.label_take_precedence = precedence;
        let u = updater(e, r, params);
        let report = u.update(&Filter::all()).await.unwrap();
        let expected = if precedence {
            State::Updated
        } else {
            State::Fresh
        };
        assert_eq!(
            entry(&report, "web").state(),
            expected,
            "precedence={precedence}"
        );
    }
}

#[tokio::test]
async fn pinned_references_are_never_stale() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    let pinned = format!("app@sha256:{}", "ab".repeat(32));
    fresh_image(&e, &pinned);
    fresh_image(&e, "by-id");
    e.run("digest", &pinned);
    e.run_with("id", "by-id", |c| c.image_reference = "sha256:0123".into());
    let u = updater(e, r, Params::default());
    let report = u.update(&Filter::all()).await.unwrap();
    assert!(u.registry().asked().is_empty());
    assert!(u.client().calls_of(&["pull"]).is_empty());
    assert_eq!(entry(&report, "digest").state(), State::Fresh);
    let id = entry(&report, "id");
    assert_eq!(id.state(), State::Skipped);
    assert!(id.error().unwrap().contains("pinned image"));
}

/// A reference that does not parse is never sent to the registry checker: a check reports it
/// failed with the parser's reason; an update falls back to the engine's pull (which says
/// what is wrong with the name), as for a registry that could not tell.
#[tokio::test]
async fn unparsable_references_never_reach_the_registry() {
    for check_only in [true, false] {
        let (e, r) = (FakeEngine::new(), FakeRegistry::new());
        fresh_image(&e, "UPPER/Case:tag");
        e.run("odd", "UPPER/Case:tag");
        let u = updater(e, r, Params::default());
        let report = if check_only {
            u.check(&Filter::all()).await.unwrap()
        } else {
            u.update(&Filter::all()).await.unwrap()
        };
        assert!(u.registry().asked().is_empty(), "check_only={check_only}");
        let odd = entry(&report, "odd");
        let pulls = u.client().calls_of(&["pull"]);
        if check_only {
            assert_eq!(odd.state(), State::Failed);
            assert_eq!(odd.failed_step(), Some(FailedStep::Check));
            let error = odd.error().unwrap();
            assert!(
                error.contains(r#"image reference "UPPER/Case:tag" cannot be checked"#),
                "{error}"
            );
            assert!(pulls.is_empty(), "{pulls:?}");
        } else {
            // This engine accepts the name and has nothing newer under it.
            assert_eq!(pulls, ["pull UPPER/Case:tag"]);
            assert_eq!(odd.state(), State::Fresh, "{report:#?}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Monitor-only

#[tokio::test]
async fn monitor_only_reports_stale_without_touching() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    e.run("web", "app:latest");
    e.run_with(
        "tagged",
        "app:latest",
        labelled(&[(label::MONITOR_ONLY, "true")]),
    );
    let mut params = Params::default();
    params.monitor_only = true;
    let u = updater(e, r, params);
    let report = u.update(&Filter::all()).await.unwrap();
    assert!(u.client().calls_of(&["stop", "create"]).is_empty());
    let w = entry(&report, "web");
    assert_eq!(w.state(), State::Stale);
    assert_eq!(w.latest_image_id(), new_id("app:latest"));
}

#[tokio::test]
async fn the_monitor_only_label_and_its_precedence() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    e.run_with(
        "watched",
        "app:latest",
        labelled(&[(label::MONITOR_ONLY, "1")]),
    );
    e.run("free", "app:latest");
    let u = updater(e, r, Params::default());
    let report = u.update(&Filter::all()).await.unwrap();
    assert_eq!(entry(&report, "watched").state(), State::Stale);
    assert_eq!(entry(&report, "free").state(), State::Updated);

    for precedence in [false, true] {
        let (e, r) = (FakeEngine::new(), FakeRegistry::new());
        stale_image(&e, &r, "app:latest");
        e.run_with(
            "web",
            "app:latest",
            labelled(&[(label::MONITOR_ONLY, "false")]),
        );
        let mut params = Params::default();
        params.monitor_only = true;
        params.label_take_precedence = precedence;
        let u = updater(e, r, params);
        let report = u.update(&Filter::all()).await.unwrap();
        let expected = if precedence {
            State::Updated
        } else {
            State::Stale
        };
        assert_eq!(
            entry(&report, "web").state(),
            expected,
            "precedence={precedence}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Ordering and dependents

#[tokio::test]
async fn dependents_stop_first_and_start_last() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    // Listed in an unhelpful order on purpose.
    e.run_with("web", "app:latest", labelled(&[(label::DEPENDS_ON, "api")]));
    e.run_with("api", "app:latest", |c| c.links = vec!["db".into()]);
    e.run("db", "app:latest");
    let u = updater(e, r, Params::default());
    u.update(&Filter::all()).await.unwrap();
    assert_eq!(
        u.client().calls_of(&["stop", "start"]),
        [
            "stop web SIGTERM 10s",
            "stop api SIGTERM 10s",
            "stop db SIGTERM 10s",
            "start db",
            "start api",
            "start web",
        ]
    );
}

#[tokio::test]
async fn containers_depending_on_an_updated_one_are_recreated_too() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "db:16");
    fresh_image(&e, "web:1");
    fresh_image(&e, "tool:1");
    let web = e.run_with("web", "web:1", |c| c.links = vec!["db".into()]);
    e.run_with("sidecar", "tool:1", |c| {
        c.network_mode = NetworkMode::Container("web".into());
    });
    e.run_with("watcher", "tool:1", |c| {
        c.links = vec!["db".into()];
        c.labels.insert(label::MONITOR_ONLY.into(), "true".into());
    });
    e.run("db", "db:16");
    let u = updater(e, r, Params::default());
    let report = u.update(&Filter::all()).await.unwrap();
    assert_eq!(entry(&report, "db").state(), State::Updated);
    let w = entry(&report, "web");
    assert_eq!(w.state(), State::Updated);
    assert_eq!(
        w.latest_image_id(),
        old_id("web:1"),
        "same image, new container"
    );
    assert_ne!(u.client().container("web").unwrap().id, web.id);
    assert_eq!(
        entry(&report, "sidecar").state(),
        State::Updated,
        "transitive"
    );
    assert_eq!(
        entry(&report, "watcher").state(),
        State::Fresh,
        "monitor-only"
    );
    assert_eq!(
        u.client().calls_of(&["start"]),
        ["start db", "start web", "start sidecar"]
    );
    // Only the stale one was pulled.
    assert_eq!(u.client().calls_of(&["pull"]), ["pull db:16"]);
}

/// `check_plan` answers from the update's own decision: the order, the dependents that
/// would follow, monitor-only and cycles; and it changes nothing.
#[tokio::test]
async fn the_check_plan_says_what_an_update_would_do_and_changes_nothing() {
    use crate::{CheckAction, CheckState};
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "db:16");
    stale_image(&e, &r, "app:latest");
    fresh_image(&e, "web:1");
    fresh_image(&e, "tool:1");
    e.run_with("web", "web:1", |c| c.links = vec!["db".into()]);
    e.run_with("sidecar", "tool:1", |c| {
        c.network_mode = NetworkMode::Container("web".into());
    });
    e.run_with("watcher", "db:16", |c| {
        c.labels.insert(label::MONITOR_ONLY.into(), "true".into());
    });
    e.run_with("a", "app:latest", labelled(&[(label::DEPENDS_ON, "b")]));
    e.run_with("b", "app:latest", labelled(&[(label::DEPENDS_ON, "a")]));
    e.run("db", "db:16");
    let u = updater(e, r, Params::default());
    let plan = u.check_plan(&Filter::all()).await.unwrap();
    let calls = u.client().calls();
    assert!(
        calls
            .iter()
            .all(|c| c == "list" || c.starts_with("inspect_image")),
        "{calls:?}"
    );
    let get = |name: &str| {
        plan.containers
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("{name} not in {plan:#?}"))
    };
    let db = get("db");
    assert_eq!(db.state, CheckState::Stale);
    assert_eq!(db.action, CheckAction::Update);
    assert_eq!(db.order, Some(1));
    assert_eq!(db.dependents, ["web", "sidecar"]);
    assert_eq!(db.local_digest.as_deref(), Some("sha256:d1"));
    assert_eq!(db.remote_digest.as_deref(), Some("sha256:remote"));
    let web = get("web");
    assert_eq!(web.state, CheckState::Fresh);
    assert_eq!((web.action, web.order), (CheckAction::Restart, Some(2)));
    assert_eq!(
        web.remote_digest.as_deref(),
        Some("sha256:d1"),
        "fresh: the same"
    );
    assert!(web.dependents.is_empty());
    assert_eq!(get("sidecar").order, Some(3));
    let watcher = get("watcher");
    assert_eq!(watcher.state, CheckState::Stale);
    assert!(watcher.monitor_only);
    assert_eq!(watcher.action, CheckAction::None);
    assert_eq!(watcher.reason.as_deref(), Some("monitor-only: not updated"));
    for name in ["a", "b"] {
        let x = get(name);
        assert_eq!(x.state, CheckState::Stale, "{name}");
        assert_eq!(x.action, CheckAction::None, "{name}");
        assert_eq!(
            x.reason.as_deref(),
            Some("not updated: circular dependency between a, b"),
            "{name}"
        );
    }
    assert!(plan.any_stale());
    assert_eq!(plan.failed().count(), 0);
}

#[tokio::test]
async fn a_cycle_fails_only_its_members() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    e.run_with("a", "app:latest", labelled(&[(label::DEPENDS_ON, "b")]));
    e.run_with("b", "app:latest", labelled(&[(label::DEPENDS_ON, "a")]));
    e.run("c", "app:latest");
    let u = updater(e, r, Params::default());
    let report = u.update(&Filter::all()).await.unwrap();
    for name in ["a", "b"] {
        let x = entry(&report, name);
        assert_eq!(x.failed_step(), Some(FailedStep::DependencyCycle), "{name}");
        assert_eq!(
            x.error(),
            Some("circular dependency between a, b"),
            "{name}"
        );
        assert!(!x.restored());
    }
    assert_eq!(entry(&report, "c").state(), State::Updated);
    assert_eq!(u.client().calls_of(&["stop"]), ["stop c SIGTERM 10s"]);
}

#[tokio::test]
async fn a_dependent_whose_dependency_was_restored_is_still_recreated_cleanly() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "db:16");
    fresh_image(&e, "web:1");
    e.run_with("web", "web:1", |c| c.links = vec!["db".into()]);
    let db = e.run("db", "db:16");
    e.fail("create", "db", 1);
    let u = updater(e, r, Params::default());
    let report = u.update(&Filter::all()).await.unwrap();
    assert_eq!(entry(&report, "db").failed_step(), Some(FailedStep::Create));
    assert!(entry(&report, "db").restored());
    assert_eq!(u.client().container("db").unwrap().id, db.id);
    assert_eq!(entry(&report, "web").state(), State::Updated);
    for name in ["db", "web"] {
        assert_eq!(
            u.client().container(name).unwrap().state,
            ContainerState::Running,
            "{name}"
        );
    }
}

#[tokio::test]
async fn rolling_restart_updates_one_container_at_a_time() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    let a = e.run("a", "app:latest");
    let b = e.run("b", "app:latest");
    let mut params = Params::default();
    params.rolling_restart = true;
    params.ready_timeout = Duration::from_secs(7);
    let u = updater(e, r, params);
    u.update(&Filter::all()).await.unwrap();
    let steps = ["stop", "rename", "create", "start", "wait_ready", "remove"];
    assert_eq!(
        u.client().calls_of(&steps),
        [
            format!("rename a -> {}", aside_name(&a)),
            "stop a SIGTERM 10s".to_owned(),
            "create a from app:latest".to_owned(),
            "start a".to_owned(),
            "wait_ready a 7s".to_owned(),
            format!("remove {}", aside_name(&a)),
            format!("rename b -> {}", aside_name(&b)),
            "stop b SIGTERM 10s".to_owned(),
            "create b from app:latest".to_owned(),
            "start b".to_owned(),
            "wait_ready b 7s".to_owned(),
            format!("remove {}", aside_name(&b)),
        ]
    );
}

#[tokio::test]
async fn rolling_restart_rolls_back_a_container_that_does_not_become_ready() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    let a = e.run("a", "app:latest");
    e.run("b", "app:latest");
    e.fail("wait_ready", "a", 1);
    let mut params = Params::default();
    params.rolling_restart = true;
    let u = updater(e, r, params);
    let report = u.update(&Filter::all()).await.unwrap();
    let x = entry(&report, "a");
    assert_eq!(x.failed_step(), Some(FailedStep::Start));
    assert!(x.restored());
    assert!(x.error().unwrap().contains("did not become ready"));
    let back = u.client().container("a").unwrap();
    assert_eq!(back.id, a.id);
    assert_eq!(back.state, ContainerState::Running);
    assert_eq!(
        entry(&report, "b").state(),
        State::Updated,
        "the session goes on"
    );
}

#[tokio::test]
async fn rolling_restart_refuses_dependencies_at_start_up() {
    let (e, _r) = (FakeEngine::new(), FakeRegistry::new());
    fresh_image(&e, "app:latest");
    e.run("db", "app:latest");
    e.run_with("web", "app:latest", |c| c.links = vec!["db".into()]);
    let err = check_rolling_restart(&e, &Filter::all(), ListOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::RollingRestartWithDependencies { .. }));
    assert!(
        err.to_string().contains("container web depends on db"),
        "{err}"
    );
    check_rolling_restart(&e, &Filter::all().disabled(["web"]), ListOptions::default())
        .await
        .unwrap();
}

// ---------------------------------------------------------------------------------------
// Cleanup

#[tokio::test]
async fn cleanup_removes_an_old_image_only_when_no_container_uses_it() {
    // Two containers share the old image; one stays on it (monitor-only).
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    e.run("a", "app:latest");
    e.run_with(
        "b",
        "app:latest",
        labelled(&[(label::MONITOR_ONLY, "true")]),
    );
    let mut params = Params::default();
    params.cleanup = true;
    let u = updater(e, r, params.clone());
    u.update(&Filter::all()).await.unwrap();
    assert!(u.client().calls_of(&["remove_image"]).is_empty());
    assert!(u.client().has_image(&old_id("app:latest")));

    // Both updated: removed once, after every restart.
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    e.run("a", "app:latest");
    e.run("b", "app:latest");
    let u = updater(e, r, params);
    u.update(&Filter::all()).await.unwrap();
    let calls = u.client().calls_of(&["start", "remove_image"]);
    assert_eq!(
        calls,
        [
            "start a".to_owned(),
            "start b".to_owned(),
            format!("remove_image {}", old_id("app:latest"))
        ]
    );
    assert!(!u.client().has_image(&old_id("app:latest")));
}

#[tokio::test]
async fn without_cleanup_old_images_stay() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    e.run("a", "app:latest");
    let u = updater(e, r, Params::default());
    u.update(&Filter::all()).await.unwrap();
    assert!(u.client().has_image(&old_id("app:latest")));
}

// ---------------------------------------------------------------------------------------
// Lifecycle hooks

pub(crate) fn hooks_on() -> Params {
    let mut p = Params::default();
    p.lifecycle_hooks = true;
    p
}

#[tokio::test]
async fn hooks_run_around_the_update() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    e.run_with(
        "web",
        "app:latest",
        labelled(&[
            (PRE_CHECK_LABEL, "precheck"),
            (PRE_UPDATE_LABEL, "preupdate"),
            (POST_UPDATE_LABEL, "postupdate"),
            (POST_CHECK_LABEL, "postcheck"),
        ]),
    );
    let u = updater(e, r, hooks_on());
    u.update(&Filter::all()).await.unwrap();
    assert_eq!(
        u.client().calls_of(&["exec", "stop", "start"]),
        [
            "exec web precheck 60s",
            "exec web preupdate 60s",
            "stop web SIGTERM 10s",
            "start web",
            "exec web postupdate 60s",
            "exec web postcheck 60s",
        ]
    );
}

#[tokio::test]
async fn hooks_do_not_run_unless_enabled() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    e.run_with("web", "app:latest", labelled(&[(PRE_UPDATE_LABEL, "x")]));
    let u = updater(e, r, Params::default());
    u.update(&Filter::all()).await.unwrap();
    assert!(u.client().calls_of(&["exec"]).is_empty());
}

#[tokio::test]
async fn pre_update_exit_75_skips_the_container() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    e.run_with("web", "app:latest", labelled(&[(PRE_UPDATE_LABEL, "busy")]));
    e.exec_result("busy", Some(75), "");
    let u = updater(e, r, hooks_on());
    let report = u.update(&Filter::all()).await.unwrap();
    let w = entry(&report, "web");
    assert_eq!(w.state(), State::Skipped);
    assert!(w.error().unwrap().contains("75"));
    assert!(u.client().calls_of(&["stop"]).is_empty());
}

#[tokio::test]
async fn a_failing_pre_update_hook_fails_the_container_with_its_output() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    e.run_with(
        "web",
        "app:latest",
        labelled(&[
            (PRE_UPDATE_LABEL, "backup"),
            (watchtower_lifecycle::PRE_UPDATE_TIMEOUT_LABEL, "3"),
        ]),
    );
    e.exec_result("backup", Some(2), "disk full");
    let u = updater(e, r, hooks_on());
    let report = u.update(&Filter::all()).await.unwrap();
    let w = entry(&report, "web");
    assert_eq!(w.failed_step(), Some(FailedStep::PreUpdateHook));
    assert_eq!(
        w.error(),
        Some("pre-update command exited with code 2: disk full")
    );
    assert_eq!(u.client().calls_of(&["exec"]), ["exec web backup 180s"]);
    assert!(u.client().calls_of(&["stop"]).is_empty());
}

#[tokio::test]
async fn a_failing_post_update_hook_is_only_logged() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    e.run_with(
        "web",
        "app:latest",
        labelled(&[(POST_UPDATE_LABEL, "notify")]),
    );
    e.exec_result("notify", Some(1), "nope");
    let u = updater(e, r, hooks_on());
    let report = u.update(&Filter::all()).await.unwrap();
    assert_eq!(entry(&report, "web").state(), State::Updated);
}

// ---------------------------------------------------------------------------------------
// Self-update and instances

#[tokio::test]
async fn watchtower_updates_itself_by_renaming_aside_never_stopping() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "wt:latest");
    let me = e.run_with(
        "watchtower",
        "wt:latest",
        labelled(&[(label::WATCHTOWER, "true"), (PRE_UPDATE_LABEL, "x")]),
    );
    let mut params = hooks_on();
    params.cleanup = true;
    let u = updater(e, r, params);
    let report = u.update(&Filter::all()).await.unwrap();
    let aside = aside_name(&me);
    assert_eq!(
        u.client()
            .calls_of(&["stop", "rename", "create", "start", "remove", "exec"]),
        [
            format!("rename watchtower -> {aside}"),
            "create watchtower from wt:latest".to_owned(),
            "start watchtower".to_owned(),
        ]
    );
    assert_eq!(entry(&report, "watchtower").state(), State::Updated);
    let old = u.client().container(&aside).unwrap();
    assert_eq!(old.state, ContainerState::Running, "still running");
    assert!(u.client().has_image(&old_id("wt:latest")), "not cleaned");
}

#[tokio::test]
async fn a_second_session_leaves_the_aside_instance_to_its_successor() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "wt:latest");
    let me = e.run_with(
        "watchtower",
        "wt:latest",
        labelled(&[(label::WATCHTOWER, "true")]),
    );
    let u = updater(e, r, Params::default());
    u.update(&Filter::all()).await.unwrap();
    let changes = || {
        u.client()
            .calls_of(&["stop", "rename", "create", "start", "remove"])
    };
    let after_first = changes();

    // The old instance runs on, aside and stale, until its successor removes it: a session in
    // between must not take it for a watchtower to update.
    let report = u.update(&Filter::all()).await.unwrap();
    assert_eq!(changes(), after_first);
    assert!(report.all().iter().all(|c| c.id() != me.id), "{report:#?}");
    assert_eq!(entry(&report, "watchtower").state(), State::Fresh);
}

#[tokio::test]
async fn no_restart_never_touches_watchtower_itself() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "wt:latest");
    let me = e.run_with(
        "watchtower",
        "wt:latest",
        labelled(&[(label::WATCHTOWER, "true")]),
    );
    let mut params = Params::default();
    params.no_restart = true;
    let u = updater(e, r, params);
    let report = u.update(&Filter::all()).await.unwrap();
    assert_eq!(entry(&report, "watchtower").state(), State::Skipped);
    assert!(
        u.client()
            .calls_of(&["stop", "rename", "create", "remove"])
            .is_empty()
    );
    assert_eq!(u.client().container("watchtower").unwrap().id, me.id);
}

#[tokio::test]
async fn a_failed_self_update_renames_watchtower_back() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "wt:latest");
    let me = e.run_with(
        "watchtower",
        "wt:latest",
        labelled(&[(label::WATCHTOWER, "true")]),
    );
    e.fail("start", "watchtower", 1);
    let u = updater(e, r, Params::default());
    let report = u.update(&Filter::all()).await.unwrap();
    let w = entry(&report, "watchtower");
    assert_eq!(w.failed_step(), Some(FailedStep::SelfUpdate));
    assert!(w.restored());
    let back = u.client().container("watchtower").unwrap();
    assert_eq!(back.id, me.id);
    assert_eq!(u.client().names(), ["watchtower"]);
}

#[tokio::test]
async fn the_newest_instance_removes_the_others_in_its_scope() {
    let e = FakeEngine::new();
    fresh_image(&e, "wt:1");
    fresh_image(&e, "wt:2");
    let wt = |scope: &str| {
        let scope = scope.to_owned();
        move |c: &mut Container| {
            c.labels.insert(label::WATCHTOWER.into(), "true".into());
            if !scope.is_empty() {
                c.labels.insert(label::SCOPE.into(), scope);
            }
        }
    };
    e.run_with("old", "wt:1", wt("prod"));
    e.run_with("other-scope", "wt:1", wt("dev"));
    e.run_with("new", "wt:2", wt("prod"));
    e.run("not-watchtower", "wt:1");
    let removed = cleanup_excess_instances(&e, Some("prod"), true)
        .await
        .unwrap();
    assert_eq!(removed, 1);
    assert_eq!(
        e.calls_of(&["stop", "remove"]),
        ["stop old SIGTERM 600s", "remove old"]
    );
    assert!(
        e.has_image(&old_id("wt:1")),
        "still used by other containers"
    );
    assert_eq!(e.names(), ["new", "not-watchtower", "other-scope"]);

    // Unscoped: every instance counts; the image goes when nobody uses it.
    let e = FakeEngine::new();
    fresh_image(&e, "wt:1");
    fresh_image(&e, "wt:2");
    e.run_with("a", "wt:1", wt("dev"));
    e.run_with("b", "wt:2", wt(""));
    assert_eq!(cleanup_excess_instances(&e, None, true).await.unwrap(), 1);
    assert_eq!(e.names(), ["b"]);
    assert!(!e.has_image(&old_id("wt:1")));
    // Alone: nothing to do.
    assert_eq!(cleanup_excess_instances(&e, None, true).await.unwrap(), 0);
}

#[tokio::test]
async fn an_instance_that_cannot_be_stopped_is_an_error() {
    let e = FakeEngine::new();
    fresh_image(&e, "wt:1");
    let wt = |c: &mut Container| {
        c.labels.insert(label::WATCHTOWER.into(), "true".into());
    };
    e.run_with("a", "wt:1", wt);
    e.run_with("b", "wt:1", wt);
    e.fail("stop", "a", 1);
    let err = cleanup_excess_instances(&e, None, false).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "1 of 1 other watchtower instances could not be stopped"
    );
}

// ---------------------------------------------------------------------------------------
// Reconciling interrupted sessions

#[tokio::test]
async fn an_aside_container_without_replacement_gets_its_name_back_and_runs() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    fresh_image(&e, "app:latest");
    let web = e.run("web", "app:latest");
    e.set_state("web", ContainerState::Exited);
    e.rename("web", &aside_name(&web));
    let u = updater(e, r, Params::default());
    let report = u.update(&Filter::all()).await.unwrap();
    let back = u.client().container("web").unwrap();
    assert_eq!(back.id, web.id);
    assert_eq!(back.state, ContainerState::Running);
    assert_eq!(entry(&report, "web").state(), State::Fresh);
}

#[tokio::test]
async fn an_aside_container_whose_replacement_runs_is_removed() {
    let e = FakeEngine::new();
    fresh_image(&e, "app:latest");
    let old = e.run("web", "app:latest");
    e.set_state("web", ContainerState::Exited);
    e.rename("web", &aside_name(&old));
    let new = e.run("web", "app:latest");
    let settled = crate::reconcile(&e, &Filter::all(), &Params::default())
        .await
        .unwrap();
    assert_eq!(settled, [Reconciled::RemovedOld { name: "web".into() }]);
    assert_eq!(e.names(), ["web"]);
    assert_eq!(e.container("web").unwrap().id, new.id);
}

#[tokio::test]
async fn a_half_made_replacement_is_removed_and_the_old_container_restored() {
    let (e, _r) = (FakeEngine::new(), FakeRegistry::new());
    fresh_image(&e, "app:latest");
    let old = e.run("web", "app:latest");
    e.set_state("web", ContainerState::Exited);
    e.rename("web", &aside_name(&old));
    e.run_with("web", "app:latest", |c| c.state = ContainerState::Created);
    let settled = crate::reconcile(&e, &Filter::all(), &Params::default())
        .await
        .unwrap();
    assert_eq!(settled, [Reconciled::RolledBack { name: "web".into() }]);
    let back = e.container("web").unwrap();
    assert_eq!(back.id, old.id);
    assert_eq!(back.state, ContainerState::Running);
}

#[tokio::test]
async fn reconciling_respects_the_scope_and_leaves_watchtower_to_its_successor() {
    let e = FakeEngine::new();
    fresh_image(&e, "app:latest");
    let theirs = e.run_with("theirs", "app:latest", labelled(&[(label::SCOPE, "dev")]));
    e.rename("theirs", &aside_name(&theirs));
    let me = e.run_with("wt", "app:latest", labelled(&[(label::WATCHTOWER, "true")]));
    e.rename("wt", &aside_name(&me));
    e.run_with("wt", "app:latest", labelled(&[(label::WATCHTOWER, "true")]));
    // Names that merely look similar are not touched.
    e.run("db-wt-old-nothex", "app:latest");
    let settled = crate::reconcile(&e, &Filter::all().scope("none"), &Params::default())
        .await
        .unwrap();
    assert!(settled.is_empty(), "{settled:?}");
    assert!(e.container(&aside_name(&theirs)).is_some());
    assert!(e.container(&aside_name(&me)).is_some());
}

// ---------------------------------------------------------------------------------------
// Logging

/// One recorded event: its message and the value of its `notify` field, if any.
type Recorded = (String, Option<String>);

/// The events of a session.
#[derive(Clone, Default)]
struct Events(std::sync::Arc<std::sync::Mutex<Vec<Recorded>>>);

#[derive(Default)]
struct EventFields {
    message: String,
    notify: Option<String>,
}

impl tracing::field::Visit for EventFields {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "notify" {
            self.notify = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        }
    }
}

impl tracing::Subscriber for Events {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = EventFields::default();
        event.record(&mut fields);
        self.0.lock().unwrap().push((fields.message, fields.notify));
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

impl Events {
    /// The `notify` field of the event with `message` (panics when there is none).
    fn notify_of(&self, message: &str) -> Option<String> {
        let events = self.0.lock().unwrap();
        events
            .iter()
            .find(|(m, _)| m == message)
            .unwrap_or_else(|| panic!("no event {message:?} in {events:?}"))
            .1
            .clone()
    }
}

#[tokio::test]
async fn session_bookkeeping_is_local_only_and_container_events_are_not() {
    use tracing::instrument::WithSubscriber as _;

    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    e.run("web", "app:latest");
    let u = updater(e, r, Params::default());
    let events = Events::default();
    u.update(&Filter::all())
        .with_subscriber(events.clone())
        .await
        .unwrap();
    u.check(&Filter::all())
        .with_subscriber(events.clone())
        .await
        .unwrap();

    let local = Some("no".to_owned());
    assert_eq!(events.notify_of("session done"), local);
    assert_eq!(
        events.notify_of("checking containers for updated images"),
        local
    );
    assert_eq!(events.notify_of("checking containers (no changes)"), local);
    // What happened to containers still reaches notifications.
    assert_eq!(events.notify_of("found a newer image"), None);
    assert_eq!(events.notify_of("updated"), None);
}

// ---------------------------------------------------------------------------------------
// Cancellation and session errors

#[tokio::test]
async fn a_cancelled_session_updates_nothing_more() {
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    e.run("a", "app:latest");
    let cancel = CancelToken::new();
    let mut params = Params::default();
    params.cancel = cancel.clone();
    cancel.cancel();
    let u = updater(e, r, params);
    let report = u.update(&Filter::all()).await.unwrap();
    let a = entry(&report, "a");
    assert_eq!(a.state(), State::Skipped);
    assert!(a.error().unwrap().contains("cancelled"));
    assert!(u.client().calls_of(&["stop"]).is_empty());
}

#[tokio::test]
async fn cancelling_mid_session_finishes_the_stopped_containers() {
    // A pre-update hook that takes a while; the cancel arrives while it runs.
    let (e, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&e, &r, "app:latest");
    e.run("a", "app:latest");
    e.run_with("b", "app:latest", labelled(&[(PRE_UPDATE_LABEL, "slow")]));
    e.exec_delay("slow", Duration::from_millis(50));
    let cancel = CancelToken::new();
    let mut params = hooks_on();
    params.cancel = cancel.clone();
    let u = std::sync::Arc::new(updater(e, r, params));
    let session = tokio::spawn({
        let u = u.clone();
        async move { u.update(&Filter::all()).await }
    });
    // b (last in list order) is stopped first; cancel once its hook ran.
    loop {
        if u.client()
            .calls()
            .iter()
            .any(|c| c.starts_with("exec b slow"))
        {
            cancel.cancel();
            break;
        }
        tokio::task::yield_now().await;
    }
    let report = session.await.unwrap().unwrap();
    let b = entry(&report, "b");
    assert_eq!(
        b.state(),
        State::Updated,
        "the container being updated is finished"
    );
    let a = entry(&report, "a");
    assert_eq!(a.state(), State::Skipped);
    assert_eq!(
        u.client().container("a").unwrap().state,
        ContainerState::Running
    );
    assert_eq!(
        u.client().container("b").unwrap().image_id,
        new_id("app:latest")
    );
}

#[tokio::test]
async fn a_session_fails_only_when_the_engine_cannot_list() {
    let e = FakeEngine::new();
    e.fail("list", "", 1);
    let u = updater(e, FakeRegistry::new(), Params::default());
    let err = u.update(&Filter::all()).await.unwrap_err();
    assert!(err.to_string().starts_with("listing containers"), "{err}");
}

#[test]
fn params_defaults_match_the_original() {
    let p = Params::default();
    assert_eq!(p.stop_timeout, Duration::from_secs(10));
    assert!(!p.cleanup && !p.no_pull && !p.monitor_only && !p.rolling_restart);
    assert!(!p.cancel.is_cancelled());
}
