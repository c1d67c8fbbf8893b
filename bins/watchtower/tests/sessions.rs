//! Sessions never overlap: scheduled ticks skip (and count) while one runs, API requests
//! wait and are merged, shutdown lets the running session finish. Runs on tokio's paused
//! clock with a fake runner.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use watchtower::sessions::{SessionFailed, SessionRunner, Sessions, Tick};
use watchtower_http_api::{Metrics, UpdateError, UpdateScope};
use watchtower_session_report::{ContainerRef, Report, ReportBuilder};

/// A runner whose sessions last `duration` of tokio time and that fails the test if two
/// sessions ever overlap.
struct SlowRunner {
    duration: Duration,
    inside: AtomicBool,
    overlaps: AtomicUsize,
    scopes: Mutex<Vec<UpdateScope>>,
    finished: AtomicUsize,
}

impl SlowRunner {
    fn new(duration: Duration) -> Arc<Self> {
        Arc::new(Self {
            duration,
            inside: AtomicBool::new(false),
            overlaps: AtomicUsize::new(0),
            scopes: Mutex::new(Vec::new()),
            finished: AtomicUsize::new(0),
        })
    }
}

fn one_updated_report() -> Report {
    let web = ContainerRef::new("c0ffee00aaaa1111", "/web", "nginx:1.27", "sha256:0123");
    let mut b = ReportBuilder::new();
    b.scanned(&web, "sha256:4567");
    b.updated(&web, "sha256:4567");
    b.build()
}

#[async_trait]
impl SessionRunner for SlowRunner {
    async fn run(&self, scope: UpdateScope) -> Result<Report, SessionFailed> {
        if self.inside.swap(true, Ordering::SeqCst) {
            self.overlaps.fetch_add(1, Ordering::SeqCst);
        }
        self.scopes.lock().unwrap().push(scope);
        tokio::time::sleep(self.duration).await;
        self.inside.store(false, Ordering::SeqCst);
        self.finished.fetch_add(1, Ordering::SeqCst);
        Ok(one_updated_report())
    }
}

#[tokio::test(start_paused = true)]
async fn a_tick_during_a_session_is_skipped_and_counted() {
    let runner = SlowRunner::new(Duration::from_secs(90));
    let metrics = Metrics::new();
    let sessions = Sessions::new(runner.clone(), metrics.clone());

    let Tick::Started(first) = sessions.tick() else {
        panic!("the first tick starts a session");
    };
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(matches!(sessions.tick(), Tick::Skipped));
    assert_eq!(metrics.scans_skipped(), 1);
    first.await.unwrap().unwrap();
    assert!(matches!(sessions.tick(), Tick::Started(_)));
    assert_eq!(runner.overlaps.load(Ordering::SeqCst), 0);
    // One finished scan, one skipped one, one started.
    assert_eq!(metrics.scans_total(), 2);
    let text = metrics.encode();
    assert!(text.contains("watchtower_containers_updated 1"), "{text}");
}

#[tokio::test(start_paused = true)]
async fn api_requests_during_a_session_wait_and_share_one_following_session() {
    let runner = SlowRunner::new(Duration::from_secs(30));
    let sessions = Sessions::new(runner.clone(), Metrics::new());
    let Tick::Started(running) = sessions.tick() else {
        panic!("tick starts");
    };
    tokio::time::sleep(Duration::from_secs(1)).await;

    let requests: Vec<_> = [vec!["a"], vec!["b"], vec!["a", "c"]]
        .into_iter()
        .map(|images| {
            let sessions = sessions.clone();
            tokio::spawn(async move {
                let scope = UpdateScope::from_query_values(images).unwrap();
                sessions.request(scope).await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        runner.finished.load(Ordering::SeqCst),
        0,
        "the tick's session still runs"
    );
    running.await.unwrap().unwrap();
    for request in requests {
        let report = request.await.unwrap().unwrap();
        assert_eq!(report.counts().updated, 1);
    }
    // The tick's session plus exactly one merged session, never overlapping.
    assert_eq!(runner.finished.load(Ordering::SeqCst), 2);
    assert_eq!(runner.overlaps.load(Ordering::SeqCst), 0);
    let scopes = runner.scopes.lock().unwrap().clone();
    assert_eq!(scopes[0], UpdateScope::All);
    let merged = &scopes[1];
    for image in ["a", "b", "c"] {
        assert!(merged.includes_image(image), "{merged:?} lacks {image}");
    }
    assert!(!merged.includes_image("d"));
}

#[tokio::test(start_paused = true)]
async fn a_request_when_idle_runs_at_once() {
    let runner = SlowRunner::new(Duration::from_secs(3));
    let sessions = Sessions::new(runner.clone(), Metrics::new());
    let started = tokio::time::Instant::now();
    let report = sessions.request(UpdateScope::All).await.unwrap();
    assert_eq!(started.elapsed(), Duration::from_secs(3));
    assert_eq!(report.counts().scanned, 1);
}

#[tokio::test(start_paused = true)]
async fn shutdown_waits_for_the_running_session_and_refuses_waiting_requests() {
    let runner = SlowRunner::new(Duration::from_secs(40));
    let sessions = Sessions::new(runner.clone(), Metrics::new());
    let Tick::Started(_) = sessions.tick() else {
        panic!("tick starts");
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let waiting = tokio::spawn({
        let sessions = sessions.clone();
        async move { sessions.request(UpdateScope::All).await }
    });
    tokio::time::sleep(Duration::from_secs(1)).await;

    let began = tokio::time::Instant::now();
    sessions.shutdown().await;
    assert_eq!(
        began.elapsed(),
        Duration::from_secs(38),
        "shutdown waited for the session"
    );
    assert_eq!(runner.finished.load(Ordering::SeqCst), 1);
    assert!(matches!(
        waiting.await.unwrap(),
        Err(UpdateError::ShuttingDown)
    ));
    assert!(matches!(sessions.tick(), Tick::ShuttingDown));
    assert!(matches!(
        sessions.request(UpdateScope::All).await,
        Err(UpdateError::ShuttingDown)
    ));
    assert_eq!(
        runner.finished.load(Ordering::SeqCst),
        1,
        "nothing new started"
    );
}

struct FailingRunner;

#[async_trait]
impl SessionRunner for FailingRunner {
    async fn run(&self, _: UpdateScope) -> Result<Report, SessionFailed> {
        Err(SessionFailed(
            "cannot list containers: engine unreachable".to_owned(),
        ))
    }
}

#[tokio::test]
async fn a_failed_session_reaches_the_requester() {
    let sessions = Sessions::new(Arc::new(FailingRunner), Metrics::new());
    match sessions.request(UpdateScope::All).await {
        Err(UpdateError::Session { reason }) => assert!(reason.contains("engine unreachable")),
        other => panic!("unexpected {other:?}"),
    }
}
