//! The rules of docs/update-protocol.md as expectations on the mockall mock of the engine:
//! which calls a session makes, in which order (a `Sequence`), and which it never makes.
//!
//! The containers, images and the registry come from the shared helpers of `tests.rs` and
//! `fake.rs`: a `FakeEngine` (the "world") only builds the containers here, the sessions talk
//! to the mock alone. The mock verifies its call counts when the updater is dropped at the end
//! of each test (or loop iteration).

// `Params` is `#[non_exhaustive]`: other crates must build it this way, so the tests do too.
#![allow(clippy::field_reassign_with_default)]

use std::time::Duration;

use mockall::Sequence;
use mockall::predicate::{always, eq};
use watchtower_container_client::{
    Container, Error as ClientError, ExecOutcome, Image, ListOptions, MockContainerClient,
    NetworkAttachment, StopOptions,
};
use watchtower_lifecycle::PRE_UPDATE_LABEL;
use watchtower_session_report::{FailedStep, Report, State};

use crate::fake::{FakeEngine, FakeRegistry, image};
use crate::tests::{entry, hooks_on, labelled, new_id, old_id, stale_image};
use crate::{Filter, Params, Updater, aside_name, label};

const APP: &str = "app:latest";

/// How reconciling and cleanup list: every container, running or not.
const EVERY_CONTAINER: ListOptions = ListOptions {
    include_stopped: true,
    include_restarting: true,
};

/// The image a container of `reference` runs, as `fresh_image` makes it.
fn old_image(reference: &str) -> Image {
    image(&old_id(reference), &[&format!("{reference}@sha256:d1")])
}

/// The newer image the registry serves, as `stale_image` publishes it.
fn new_image(reference: &str) -> Image {
    image(&new_id(reference), &[&format!("{reference}@sha256:d2")])
}

/// The ID the mock gives the container created to replace `name`.
fn replacement_id(name: &str) -> String {
    format!("{name}-replacement")
}

/// The container `replacement_id(old.name)` that replaced `old`, on the new image.
fn replacement(old: &Container) -> Container {
    Container {
        id: replacement_id(&old.name),
        image_id: new_id(APP),
        ..old.clone()
    }
}

fn sigterm_within(seconds: u64) -> StopOptions {
    StopOptions {
        signal: "SIGTERM".into(),
        timeout: Duration::from_secs(seconds),
    }
}

fn refused(operation: &'static str, container: &str, message: &str) -> ClientError {
    ClientError::Container {
        operation,
        container: container.to_owned(),
        message: message.to_owned(),
    }
}

/// A mock engine that lists `containers` whenever asked (reconciling, selection, post-check)
/// and inspects the image they run once, by ID.
fn engine_with(containers: &[Container], running: Image) -> MockContainerClient {
    let mut mock = MockContainerClient::new();
    let listed = containers.to_vec();
    mock.expect_list_containers()
        .returning(move |_| Ok(listed.clone()));
    mock.expect_inspect_image()
        .with(eq(running.id.clone()))
        .times(1)
        .returning(move |_| Ok(running.clone()));
    mock
}

/// `reference` is pulled exactly once, anonymously (the fake registry has no credentials).
fn expect_pull(mock: &mut MockContainerClient, seq: &mut Sequence, reference: &str, to: Image) {
    let reference = reference.to_owned();
    mock.expect_pull_image()
        .withf(move |r, auth| r == reference && auth.is_none())
        .times(1)
        .in_sequence(seq)
        .returning(move |_, _| Ok(to.clone()));
}

/// Rename aside, then stop with SIGTERM and the default timeout (renamed first, so that a
/// process killed during the stop leaves a container the next session recognises).
fn expect_stop_and_set_aside(mock: &mut MockContainerClient, seq: &mut Sequence, c: &Container) {
    mock.expect_rename_container()
        .with(eq(c.id.clone()), eq(aside_name(c)))
        .times(1)
        .in_sequence(seq)
        .returning(|_, _| Ok(()));
    mock.expect_stop_container()
        .with(eq(c.id.clone()), eq(sigterm_within(10)))
        .times(1)
        .in_sequence(seq)
        .returning(|_, _| Ok(()));
}

/// Create the replacement under the original name from `reference`, connect it, start it,
/// remove the old container (without its volumes).
fn expect_replacement(
    mock: &mut MockContainerClient,
    seq: &mut Sequence,
    c: &Container,
    reference: &str,
) {
    let (name, reference, new) = (
        c.name.clone(),
        reference.to_owned(),
        replacement_id(&c.name),
    );
    let id = new.clone();
    mock.expect_create_container()
        .withf(move |spec| spec.name == name && spec.image == reference)
        .times(1)
        .in_sequence(seq)
        .returning(move |_| Ok(id.clone()));
    mock.expect_connect_networks()
        .with(eq(new.clone()), always())
        .times(1)
        .in_sequence(seq)
        .returning(|_, _| Ok(()));
    mock.expect_start_container()
        .with(eq(new))
        .times(1)
        .in_sequence(seq)
        .returning(|_| Ok(()));
    mock.expect_remove_container()
        .with(eq(c.id.clone()), eq(false))
        .times(1)
        .in_sequence(seq)
        .returning(|_, _| Ok(()));
}

/// No container is stopped, renamed, created, connected, started, waited for or removed, and
/// no image removed.
fn expect_no_change(mock: &mut MockContainerClient) {
    mock.expect_stop_container().never();
    mock.expect_rename_container().never();
    mock.expect_create_container().never();
    mock.expect_connect_networks().never();
    mock.expect_start_container().never();
    mock.expect_wait_until_ready().never();
    mock.expect_remove_container().never();
    mock.expect_remove_image().never();
}

// ---------------------------------------------------------------------------------------
// What is checked, pulled and left alone

#[tokio::test]
async fn monitor_only_never_stops_anything() {
    // The flag, then the label without the flag.
    for by_label in [false, true] {
        let (world, r) = (FakeEngine::new(), FakeRegistry::new());
        stale_image(&world, &r, APP);
        let web = if by_label {
            world.run_with("web", APP, labelled(&[(label::MONITOR_ONLY, "true")]))
        } else {
            world.run("web", APP)
        };
        let mut params = Params::default();
        params.monitor_only = !by_label;

        let mut mock = engine_with(&[web], old_image(APP));
        // The check pulls a stale image before the plan leaves monitor-only containers alone
        // (update-protocol.md, steps 4 and 5): that is how the report names the new image, and
        // what the original did too. Nothing else happens.
        expect_pull(&mut mock, &mut Sequence::new(), APP, new_image(APP));
        expect_no_change(&mut mock);
        mock.expect_exec().never();
        mock.expect_inspect_container().never();

        let u = Updater::new(mock, r, params);
        let report = u.update(&Filter::all()).await.unwrap();

        let w = entry(&report, "web");
        assert_eq!(w.state(), State::Stale, "by_label={by_label}");
        assert_eq!(w.current_image_id(), old_id(APP));
        assert_eq!(w.latest_image_id(), new_id(APP));
        assert_eq!(report.counts().stale, 1);
        assert!(report.updated().is_empty() && report.failed().is_empty());
        assert!(u.registry().asked_only(&[APP]));
    }
}

#[tokio::test]
async fn no_pull_never_pulls_and_never_asks_the_registry() {
    // The flag, then the label without the flag.
    for by_label in [false, true] {
        let (world, r) = (FakeEngine::new(), FakeRegistry::new());
        // The registry would say stale, if it were asked.
        stale_image(&world, &r, APP);
        let web = if by_label {
            world.run_with("web", APP, labelled(&[(label::NO_PULL, "true")]))
        } else {
            world.run("web", APP)
        };
        let mut params = Params::default();
        params.no_pull = !by_label;

        let mut mock = engine_with(std::slice::from_ref(&web), old_image(APP));
        // Only the local tag is compared; someone pulled the newer image by hand.
        mock.expect_inspect_image()
            .with(eq(APP))
            .times(1)
            .returning(|_| Ok(new_image(APP)));
        mock.expect_pull_image().never();
        let mut seq = Sequence::new();
        expect_stop_and_set_aside(&mut mock, &mut seq, &web);
        expect_replacement(&mut mock, &mut seq, &web, APP);

        let u = Updater::new(mock, r, params);
        let report = u.update(&Filter::all()).await.unwrap();

        assert!(u.registry().asked().is_empty(), "by_label={by_label}");
        let w = entry(&report, "web");
        assert_eq!(w.state(), State::Updated, "by_label={by_label}");
        assert_eq!(w.latest_image_id(), new_id(APP));
    }
}

#[tokio::test]
async fn a_digest_pinned_container_is_never_checked_or_pulled() {
    let (world, r) = (FakeEngine::new(), FakeRegistry::new());
    let pinned = format!("app@sha256:{}", "ab".repeat(32));
    // The registry would say stale, if it were asked.
    stale_image(&world, &r, &pinned);
    let web = world.run("web", &pinned);

    // The image it runs is inspected by ID; the reference is never looked up.
    let mut mock = engine_with(&[web], old_image(&pinned));
    mock.expect_pull_image().never();
    expect_no_change(&mut mock);

    let u = Updater::new(mock, r, Params::default());
    let report = u.update(&Filter::all()).await.unwrap();

    assert!(u.registry().asked().is_empty());
    let w = entry(&report, "web");
    assert_eq!(w.state(), State::Fresh);
    assert_eq!(w.image_name(), pinned);
    assert_eq!(report.counts().fresh, 1);
}

// ---------------------------------------------------------------------------------------
// The safe update and its rollbacks

#[tokio::test]
async fn a_stale_container_is_replaced_in_the_safe_order() {
    // Without and with --rolling-restart: only the latter waits until the new one is ready.
    for rolling in [false, true] {
        let (world, r) = (FakeEngine::new(), FakeRegistry::new());
        stale_image(&world, &r, APP);
        let web = world.run_with("web", APP, |c| {
            c.networks = vec![NetworkAttachment {
                network: "backend".into(),
                aliases: vec!["api".into()],
                ..NetworkAttachment::default()
            }];
        });
        let (old, new) = (web.id.clone(), replacement_id("web"));
        let mut params = Params::default();
        params.rolling_restart = rolling;
        params.ready_timeout = Duration::from_secs(7);

        let mut mock = engine_with(std::slice::from_ref(&web), old_image(APP));
        let mut seq = Sequence::new();
        expect_pull(&mut mock, &mut seq, APP, new_image(APP));
        mock.expect_rename_container()
            .with(
                eq(old.clone()),
                eq(format!("web-wt-old-{}", web.short_id())),
            )
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        mock.expect_stop_container()
            .with(eq(old.clone()), eq(sigterm_within(10)))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        let created = new.clone();
        mock.expect_create_container()
            .withf(|spec| {
                spec.name == "web"
                    && spec.image == APP
                    && spec.networks.iter().any(|n| n.network == "backend")
            })
            .times(1)
            .in_sequence(&mut seq)
            .returning(move |_| Ok(created.clone()));
        let connected = new.clone();
        mock.expect_connect_networks()
            .withf(move |id, spec| id == connected && spec.networks.len() == 1)
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        mock.expect_start_container()
            .with(eq(new.clone()))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(()));
        if rolling {
            mock.expect_wait_until_ready()
                .with(eq(new.clone()), eq(Duration::from_secs(7)))
                .times(1)
                .in_sequence(&mut seq)
                .returning(|_, _| Ok(()));
        } else {
            mock.expect_wait_until_ready().never();
        }
        mock.expect_remove_container()
            .with(eq(old.clone()), eq(false))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        // No hooks, no cleanup.
        mock.expect_exec().never();
        mock.expect_inspect_container().never();
        mock.expect_remove_image().never();

        let u = Updater::new(mock, r, params);
        let report = u.update(&Filter::all()).await.unwrap();

        let w = entry(&report, "web");
        assert_eq!(w.state(), State::Updated, "rolling={rolling}");
        assert_eq!(
            w.id(),
            old,
            "the report names the container that was checked"
        );
        assert_eq!(w.current_image_id(), old_id(APP));
        assert_eq!(w.latest_image_id(), new_id(APP));
        assert_eq!(w.error(), None);
        assert_eq!(report.counts().updated, 1);
    }
}

#[tokio::test]
async fn a_failing_create_renames_the_old_container_back_and_starts_it() {
    let (world, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&world, &r, APP);
    let web = world.run("web", APP);

    let mut mock = engine_with(std::slice::from_ref(&web), old_image(APP));
    let mut seq = Sequence::new();
    expect_pull(&mut mock, &mut seq, APP, new_image(APP));
    expect_stop_and_set_aside(&mut mock, &mut seq, &web);
    mock.expect_create_container()
        .withf(|spec| spec.name == "web")
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Err(refused("create", "web", "no space left on device")));
    // Asked whether the engine made it anyway: the name is free.
    mock.expect_inspect_container()
        .with(eq("web"))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| {
            Err(watchtower_container_client::Error::NotFound {
                kind: "container",
                name: "web".to_owned(),
            })
        });
    mock.expect_rename_container()
        .with(eq(web.id.clone()), eq("web"))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(()));
    mock.expect_start_container()
        .with(eq(web.id.clone()))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    // Nothing was made, so nothing is removed: least of all the old container.
    mock.expect_connect_networks().never();
    mock.expect_remove_container().never();
    mock.expect_remove_image().never();

    let u = Updater::new(mock, r, Params::default());
    let report = u.update(&Filter::all()).await.unwrap();

    let w = entry(&report, "web");
    assert_eq!(w.state(), State::Failed);
    assert_eq!(w.failed_step(), Some(FailedStep::Create));
    assert!(w.restored(), "{w:?}");
    let reason = w.error().unwrap();
    assert!(reason.contains("no space left on device"), "{reason}");
    assert!(
        !reason.contains("putting the old container back failed"),
        "{reason}"
    );
    assert_eq!(report.counts().restored, 1);
    assert!(report.updated().is_empty());
}

#[tokio::test]
async fn a_failing_start_removes_the_new_container_and_restores_the_old_one() {
    let (world, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&world, &r, APP);
    let web = world.run("web", APP);
    let new = replacement_id("web");

    let mut mock = engine_with(std::slice::from_ref(&web), old_image(APP));
    let mut seq = Sequence::new();
    expect_pull(&mut mock, &mut seq, APP, new_image(APP));
    expect_stop_and_set_aside(&mut mock, &mut seq, &web);
    let id = new.clone();
    mock.expect_create_container()
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |_| Ok(id.clone()));
    mock.expect_connect_networks()
        .with(eq(new.clone()), always())
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(()));
    mock.expect_start_container()
        .with(eq(new.clone()))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|id| Err(refused("start", id, "port is already allocated")));
    // The half-made one goes, with the volumes the engine made for it; it never ran, so it is
    // not stopped.
    mock.expect_remove_container()
        .with(eq(new.clone()), eq(true))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(()));
    mock.expect_rename_container()
        .with(eq(web.id.clone()), eq("web"))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(()));
    mock.expect_start_container()
        .with(eq(web.id.clone()))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    mock.expect_stop_container().with(eq(new), always()).never();
    mock.expect_remove_container()
        .with(eq(web.id.clone()), always())
        .never();
    mock.expect_remove_image().never();

    let u = Updater::new(mock, r, Params::default());
    let report = u.update(&Filter::all()).await.unwrap();

    let w = entry(&report, "web");
    assert_eq!(w.state(), State::Failed);
    assert_eq!(w.failed_step(), Some(FailedStep::Start));
    assert!(w.restored(), "{w:?}");
    assert!(
        w.error().unwrap().contains("port is already allocated"),
        "{w:?}"
    );
    assert_eq!(report.counts().restored, 1);
}

// ---------------------------------------------------------------------------------------
// The pre-update hook

/// A session with lifecycle hooks on, whose one stale container's pre-update hook `busy`
/// exits with `exit_code`: the hook runs once, after the pull, and nothing is changed.
async fn pre_update_hook_exits_with(exit_code: i64, output: &'static str) -> Report {
    let (world, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&world, &r, APP);
    let web = world.run_with("web", APP, labelled(&[(PRE_UPDATE_LABEL, "busy")]));

    let mut mock = engine_with(std::slice::from_ref(&web), old_image(APP));
    let mut seq = Sequence::new();
    expect_pull(&mut mock, &mut seq, APP, new_image(APP));
    mock.expect_exec()
        .with(
            eq(web.id.clone()),
            eq("busy"),
            eq(Some(Duration::from_secs(60))),
        )
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |_, _, _| {
            Ok(ExecOutcome {
                exit_code: Some(exit_code),
                output: output.to_owned(),
            })
        });
    expect_no_change(&mut mock);

    let u = Updater::new(mock, r, hooks_on());
    u.update(&Filter::all()).await.unwrap()
}

#[tokio::test]
async fn pre_update_exit_75_skips_the_container_before_it_is_stopped() {
    let report = pre_update_hook_exits_with(75, "a backup is running").await;
    let w = entry(&report, "web");
    assert_eq!(w.state(), State::Skipped);
    assert_eq!(
        w.error(),
        Some("the pre-update command returned exit code 75 (EX_TEMPFAIL)")
    );
    assert_eq!(w.failed_step(), None);
    assert_eq!(report.counts().skipped, 1);
    assert!(report.failed().is_empty() && report.updated().is_empty());
}

#[tokio::test]
async fn a_pre_update_hook_failing_otherwise_fails_the_container_before_it_is_stopped() {
    let report = pre_update_hook_exits_with(1, "migration pending").await;
    let w = entry(&report, "web");
    assert_eq!(w.state(), State::Failed);
    assert_eq!(w.failed_step(), Some(FailedStep::PreUpdateHook));
    assert_eq!(
        w.error(),
        Some("pre-update command exited with code 1: migration pending")
    );
    assert!(
        !w.restored(),
        "nothing was touched, so nothing was restored"
    );
    assert_eq!(report.counts().failed, 1);
    assert!(report.skipped().is_empty() && report.updated().is_empty());
}

// ---------------------------------------------------------------------------------------
// --no-restart and --cleanup

#[tokio::test]
async fn no_restart_stops_and_removes_the_container_without_a_replacement() {
    // update-protocol.md: with --no-restart, steps 3-8 are replaced by removing the stopped
    // container (an outside supervisor recreates it, as with the original).
    let (world, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&world, &r, APP);
    let web = world.run("web", APP);
    let mut params = Params::default();
    params.no_restart = true;

    let mut mock = engine_with(std::slice::from_ref(&web), old_image(APP));
    let mut seq = Sequence::new();
    expect_pull(&mut mock, &mut seq, APP, new_image(APP));
    mock.expect_stop_container()
        .with(eq(web.id.clone()), eq(sigterm_within(10)))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(()));
    mock.expect_remove_container()
        .with(eq(web.id.clone()), eq(false))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(()));
    mock.expect_rename_container().never();
    mock.expect_create_container().never();
    mock.expect_connect_networks().never();
    mock.expect_start_container().never();
    mock.expect_wait_until_ready().never();
    mock.expect_remove_image().never();

    let u = Updater::new(mock, r, params);
    let report = u.update(&Filter::all()).await.unwrap();

    let w = entry(&report, "web");
    assert_eq!(w.state(), State::Updated);
    assert_eq!(w.latest_image_id(), new_id(APP));
    assert_eq!(report.counts().updated, 1);
}

/// A mock for a `--cleanup` session over `before`, every container on the old image of
/// `APP`: lists `before` to reconcile and to select, in this order in `seq`, then pulls the
/// stale image once.
fn cleanup_engine(seq: &mut Sequence, before: &[Container]) -> MockContainerClient {
    let mut mock = MockContainerClient::new();
    for options in [EVERY_CONTAINER, ListOptions::default()] {
        let listed = before.to_vec();
        mock.expect_list_containers()
            .with(eq(options))
            .times(1)
            .in_sequence(seq)
            .returning(move |_| Ok(listed.clone()));
    }
    let running = old_image(APP);
    mock.expect_inspect_image()
        .with(eq(running.id.clone()))
        .times(1)
        .returning(move |_| Ok(running.clone()));
    expect_pull(&mut mock, seq, APP, new_image(APP));
    mock
}

/// The cleanup lists every container, running or not, after all restarts.
fn expect_cleanup_listing(mock: &mut MockContainerClient, seq: &mut Sequence, now: &[Container]) {
    let listed = now.to_vec();
    mock.expect_list_containers()
        .with(eq(EVERY_CONTAINER))
        .times(1)
        .in_sequence(seq)
        .returning(move |_| Ok(listed.clone()));
}

#[tokio::test]
async fn cleanup_removes_the_old_image_once_no_container_uses_it() {
    let (world, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&world, &r, APP);
    let a = world.run("a", APP);
    let b = world.run("b", APP);
    let mut params = Params::default();
    params.cleanup = true;

    let mut seq = Sequence::new();
    let mut mock = cleanup_engine(&mut seq, &[a.clone(), b.clone()]);
    // Stop both (the later one first), then replace both (the earlier one first) ...
    expect_stop_and_set_aside(&mut mock, &mut seq, &b);
    expect_stop_and_set_aside(&mut mock, &mut seq, &a);
    expect_replacement(&mut mock, &mut seq, &a, APP);
    expect_replacement(&mut mock, &mut seq, &b, APP);
    // ... and only then look whether anything still uses the old image: nothing does.
    expect_cleanup_listing(&mut mock, &mut seq, &[replacement(&a), replacement(&b)]);
    mock.expect_remove_image()
        .with(eq(old_id(APP)))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));

    let u = Updater::new(mock, r, params);
    let report = u.update(&Filter::all()).await.unwrap();

    assert_eq!(report.counts().updated, 2);
    for name in ["a", "b"] {
        assert_eq!(
            entry(&report, name).latest_image_id(),
            new_id(APP),
            "{name}"
        );
    }
}

#[tokio::test]
async fn cleanup_keeps_an_old_image_another_container_still_runs() {
    let (world, r) = (FakeEngine::new(), FakeRegistry::new());
    stale_image(&world, &r, APP);
    let a = world.run("a", APP);
    let b = world.run_with("b", APP, labelled(&[(label::MONITOR_ONLY, "true")]));
    let mut params = Params::default();
    params.cleanup = true;

    let mut seq = Sequence::new();
    let mut mock = cleanup_engine(&mut seq, &[a.clone(), b.clone()]);
    expect_stop_and_set_aside(&mut mock, &mut seq, &a);
    expect_replacement(&mut mock, &mut seq, &a, APP);
    // b, monitor-only, still runs the old image.
    expect_cleanup_listing(&mut mock, &mut seq, &[replacement(&a), b.clone()]);
    mock.expect_remove_image().never();
    mock.expect_stop_container()
        .with(eq(b.id.clone()), always())
        .never();

    let u = Updater::new(mock, r, params);
    let report = u.update(&Filter::all()).await.unwrap();

    assert_eq!(entry(&report, "a").state(), State::Updated);
    let b = entry(&report, "b");
    assert_eq!(b.state(), State::Stale);
    assert_eq!(b.current_image_id(), old_id(APP));
}
