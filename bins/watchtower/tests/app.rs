//! The application loop with a fake runner: first-run timing, skipped ticks, the HTTP API
//! over 127.0.0.1, `--run-once`, and stopping on a signal while a session runs.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::Timelike;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use watchtower::app::{App, Exit};
use watchtower::scheduler::TokioClock;
use watchtower::sessions::{SessionFailed, SessionRunner};
use watchtower_config::Config;
use watchtower_http_api::{Metrics, UpdateScope};
use watchtower_session_report::{ContainerRef, Report, ReportBuilder};

struct Runner {
    duration: Duration,
    origin: tokio::time::Instant,
    starts: Mutex<Vec<Duration>>,
    scopes: Mutex<Vec<UpdateScope>>,
    inside: AtomicBool,
    overlaps: AtomicUsize,
    finished: AtomicUsize,
    fail: bool,
}

impl Runner {
    fn new(duration: Duration) -> Arc<Self> {
        Arc::new(Self {
            duration,
            origin: tokio::time::Instant::now(),
            starts: Mutex::new(Vec::new()),
            scopes: Mutex::new(Vec::new()),
            inside: AtomicBool::new(false),
            overlaps: AtomicUsize::new(0),
            finished: AtomicUsize::new(0),
            fail: false,
        })
    }
}

#[async_trait]
impl SessionRunner for Runner {
    async fn run(&self, scope: UpdateScope) -> Result<Report, SessionFailed> {
        if self.inside.swap(true, Ordering::SeqCst) {
            self.overlaps.fetch_add(1, Ordering::SeqCst);
        }
        self.starts.lock().unwrap().push(self.origin.elapsed());
        self.scopes.lock().unwrap().push(scope);
        tokio::time::sleep(self.duration).await;
        self.inside.store(false, Ordering::SeqCst);
        self.finished.fetch_add(1, Ordering::SeqCst);
        if self.fail {
            return Err(SessionFailed("engine unreachable".to_owned()));
        }
        let web = ContainerRef::new("c0ffee00aaaa1111", "/web", "nginx:1.27", "sha256:0123");
        let mut b = ReportBuilder::new();
        b.fresh(&web);
        Ok(b.build())
    }
}

fn config(args: &[&str]) -> Config {
    let mut command_line = vec!["watchtower"];
    command_line.extend_from_slice(args);
    let cli = watchtower_config::cli::parse(&command_line).unwrap();
    Config::resolve(&cli, &BTreeMap::<String, String>::new()).unwrap()
}

fn app(config: Config, runner: Arc<Runner>, metrics: Metrics) -> App<TokioClock> {
    App {
        config,
        runner,
        // On a whole second, so that `@every` activations fall on whole seconds of tokio time.
        clock: TokioClock::starting_at(chrono::Local::now().with_nanosecond(0).unwrap()),
        metrics,
        notifiers: Vec::new(),
        filter_description: "Checking all containers (except explicitly disabled with label)"
            .to_owned(),
        startup_sink: None,
        on_listening: None,
    }
}

#[tokio::test(start_paused = true)]
async fn first_run_waits_one_interval_and_busy_ticks_are_skipped() {
    let runner = Runner::new(Duration::from_secs(90));
    let metrics = Metrics::new();
    let app = app(
        config(&["--interval", "60"]),
        runner.clone(),
        metrics.clone(),
    );
    let stop = async {
        tokio::time::sleep(Duration::from_secs(200)).await;
        "SIGTERM"
    };
    let exit = app.run(stop).await.unwrap();
    assert_eq!(exit, Exit::Success);
    // Ticks at 60 (runs until 150), 120 (skipped), 180 (runs until 270); stop at 200 waits.
    let starts = runner.starts.lock().unwrap().clone();
    let whole: Vec<u64> = starts.iter().map(Duration::as_secs).collect();
    assert_eq!(whole, [60, 180]);
    assert_eq!(
        runner.finished.load(Ordering::SeqCst),
        2,
        "the stop waited for the session"
    );
    assert_eq!(runner.overlaps.load(Ordering::SeqCst), 0);
    assert_eq!(metrics.scans_skipped(), 1);
    assert_eq!(metrics.scans_total(), 3);
}

#[tokio::test(start_paused = true)]
async fn cron_schedules_fire_on_their_seconds() {
    let runner = Runner::new(Duration::from_secs(1));
    let app = app(
        config(&["--schedule", "*/20 * * * * *"]),
        runner.clone(),
        Metrics::new(),
    );
    let stop = async {
        tokio::time::sleep(Duration::from_secs(65)).await;
        "SIGINT"
    };
    app.run(stop).await.unwrap();
    let count = runner.starts.lock().unwrap().len();
    // Within 65 s, a */20 seconds spec fires three or four times depending on the phase.
    assert!((3..=4).contains(&count), "{count} sessions");
}

#[tokio::test(start_paused = true)]
async fn run_once_runs_one_session_and_a_signal_lets_it_finish() {
    let runner = Runner::new(Duration::from_secs(30));
    let app = app(config(&["--run-once"]), runner.clone(), Metrics::new());
    let stop = async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        "SIGTERM"
    };
    let began = tokio::time::Instant::now();
    assert_eq!(app.run(stop).await.unwrap(), Exit::Success);
    assert_eq!(began.elapsed(), Duration::from_secs(30));
    assert_eq!(runner.finished.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn run_once_reports_a_session_that_could_not_run() {
    let mut runner = Runner::new(Duration::from_secs(1));
    Arc::get_mut(&mut runner).unwrap().fail = true;
    let app = app(config(&["--run-once"]), runner, Metrics::new());
    let exit = app.run(std::future::pending()).await.unwrap();
    assert_eq!(exit, Exit::SessionFailed);
}

async fn post(addr: SocketAddr, path: &str, token: Option<&str>) -> (u16, String) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut request = http::Request::post(format!("http://{addr}{path}"));
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = client
        .request(request.body(Full::new(Bytes::new())).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn the_update_api_runs_sessions_and_periodic_runs_stay_off() {
    let runner = Runner::new(Duration::from_millis(10));
    let metrics = Metrics::new();
    let mut app = app(
        config(&[
            "--http-api-update",
            "--http-api-metrics",
            "--http-api-token",
            "tok",
            "--http-api-host",
            "127.0.0.1",
            "--http-api-port",
            "0",
            "--interval",
            "1",
        ]),
        runner.clone(),
        metrics.clone(),
    );
    let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
    app.on_listening = Some(Box::new(move |addr| {
        let _ = addr_tx.send(addr);
    }));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(app.run(async move {
        let _ = stop_rx.await;
        "SIGTERM"
    }));
    let addr = addr_rx.await.unwrap();
    assert!(addr.ip().is_loopback());

    assert_eq!(post(addr, "/v1/update", None).await.0, 401);
    assert_eq!(post(addr, "/v1/update", Some("wrong")).await.0, 401);
    let (status, body) = post(addr, "/v1/update?image=127.0.0.1:5000/app", Some("tok")).await;
    assert_eq!(status, 200);
    let report: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["counts"]["fresh"], 1, "{body}");
    assert!(runner.scopes.lock().unwrap()[0].includes_image("127.0.0.1:5000/app:latest"));

    // With --http-api-update and no --http-api-periodic-polls the 1 s interval never ticks.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(runner.finished.load(Ordering::SeqCst), 1);
    assert_eq!(metrics.scans_total(), 1);

    stop_tx.send(()).unwrap();
    assert_eq!(task.await.unwrap().unwrap(), Exit::Success);
}

#[tokio::test(start_paused = true)]
async fn periodic_polls_keep_the_schedule_next_to_the_update_api() {
    let runner = Runner::new(Duration::from_secs(1));
    let app = app(
        config(&[
            "--http-api-update",
            "--http-api-token",
            "tok",
            "--http-api-periodic-polls",
            "--http-api-host",
            "127.0.0.1",
            "--http-api-port",
            "0",
            "--interval",
            "10",
        ]),
        runner.clone(),
        Metrics::new(),
    );
    let stop = async {
        tokio::time::sleep(Duration::from_secs(35)).await;
        "SIGTERM"
    };
    assert_eq!(app.run(stop).await.unwrap(), Exit::Success);
    let whole: Vec<u64> = runner
        .starts
        .lock()
        .unwrap()
        .iter()
        .map(Duration::as_secs)
        .collect();
    assert_eq!(whole, [10, 20, 30]);
}
