//! Running update sessions one at a time, whoever asks: the scheduler, the HTTP API or
//! `--run-once`.
//!
//! - A **scheduled tick** starts a session only when none is running; otherwise the tick is
//!   skipped and counted (`watchtower_scans_skipped`), as in the original.
//! - **API requests** never run two sessions at once either. A request that arrives while a
//!   session runs waits; every request that arrives during the same running session is
//!   merged (the union of their image lists) into **one** following session, and all of them
//!   get its report. So at most one session runs and at most one waits, however many
//!   requests come in, and each caller gets a session that started after its request.
//! - A session, once started, runs to its end even when the client that asked for it goes
//!   away or a shutdown is requested: stopping halfway could leave a container renamed aside.
//!   Shutdown ([`Sessions::shutdown`]) starts nothing new, answers waiting requests with
//!   "shutting down", and waits for the running session.
//!
//! - **Checks** (`POST /v1/check`) take the same lock: a check waits for a running session,
//!   and no session starts while a check runs (a check lists and inspects the containers a
//!   session renames aside and recreates, so side by side it would report half-updated
//!   containers, or fail on one that just went away). A scheduled tick that finds a check
//!   running waits for it instead of being skipped (a check asks the registries only).
//! - Every session and check is remembered for the read side ([`Record`]).
//!
//! The work itself is behind [`SessionRunner`], so all of this is tested with fakes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use tokio::sync::{OwnedMutexGuard, watch};
use watchtower_actions::CheckPlan;
use watchtower_container_client::Container;
use watchtower_http_api::{
    Metrics, ReadError, ReadSide, ScanCounts, UpdateError, UpdateScope, UpdateTrigger,
};
use watchtower_session_report::Report;

use crate::api_state::Record;
use crate::scheduler::{Clock, SystemClock};

/// How long `/readyz` waits for the engine to answer its ping.
pub const PING_TIMEOUT: Duration = Duration::from_secs(5);

/// A session that could not run at all (the engine did not answer, …).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SessionFailed(pub String);

/// Runs one update session over the watched containers within `scope`, and answers the
/// read side's questions about them.
///
/// The read methods have defaults that answer "cannot", for runners without an engine
/// behind them (the fakes of tests that only run sessions); the binary's runner implements
/// them all.
#[async_trait]
pub trait SessionRunner: Send + Sync + 'static {
    /// Runs a whole session and returns its report.
    async fn run(&self, scope: UpdateScope) -> Result<Report, SessionFailed>;

    /// Checks the watched containers, changing nothing (`watchtower check`'s answer).
    async fn check_plan(&self) -> Result<CheckPlan, SessionFailed> {
        Err(SessionFailed(
            "this runner cannot check containers".to_owned(),
        ))
    }

    /// The watched containers as the engine lists them now, each with the image reference
    /// a check uses.
    async fn watched(&self) -> Result<Vec<(Container, String)>, SessionFailed> {
        Err(SessionFailed(
            "this runner cannot list containers".to_owned(),
        ))
    }

    /// Whether the engine answers.
    async fn ping(&self) -> Result<(), SessionFailed> {
        Err(SessionFailed("this runner has no engine to ask".to_owned()))
    }
}

/// What a scheduled tick did.
#[derive(Debug)]
pub enum Tick {
    /// A session started; the handle resolves when it is over.
    Started(tokio::task::JoinHandle<Result<Report, SessionFailed>>),
    /// Another session was running: nothing started, the skip was counted.
    Skipped,
    /// Shutting down: nothing started.
    ShuttingDown,
}

type Outcome = Result<Arc<Report>, Refusal>;

#[derive(Debug, Clone)]
enum Refusal {
    ShuttingDown,
    Failed(String),
}

struct Pending {
    scope: UpdateScope,
    done: watch::Sender<Option<Outcome>>,
}

/// The one place sessions are started. Cloning shares it.
#[derive(Clone)]
pub struct Sessions {
    inner: Arc<Inner>,
}

struct Inner {
    runner: Arc<dyn SessionRunner>,
    metrics: Metrics,
    running: Arc<tokio::sync::Mutex<()>>,
    pending: Mutex<Option<Pending>>,
    shutting_down: AtomicBool,
    /// A check holds `running`.
    checking: AtomicBool,
    /// A scheduled tick waits for a check to end.
    tick_waiting: AtomicBool,
    record: Record,
}

/// Clears a flag when dropped: a check whose client went away is dropped mid-way.
struct ClearOnDrop<'a>(&'a AtomicBool);

impl Drop for ClearOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

impl Sessions {
    /// Sessions run by `runner`, recorded in `metrics` and, with the system clock's time
    /// stamps, for the read side.
    pub fn new(runner: Arc<dyn SessionRunner>, metrics: Metrics) -> Self {
        Self::with_clock(runner, metrics, Box::new(SystemClock))
    }

    /// As [`Sessions::new`], with the read side's time stamps from `clock`.
    pub fn with_clock(
        runner: Arc<dyn SessionRunner>,
        metrics: Metrics,
        clock: Box<dyn Clock>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                runner,
                metrics,
                running: Arc::new(tokio::sync::Mutex::new(())),
                pending: Mutex::new(None),
                shutting_down: AtomicBool::new(false),
                checking: AtomicBool::new(false),
                tick_waiting: AtomicBool::new(false),
                record: Record::new(clock),
            }),
        }
    }

    /// What the read side remembers: recent sessions, last results.
    pub fn record(&self) -> &Record {
        &self.inner.record
    }

    /// The metrics sessions are recorded in.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// A scheduled tick: start a session over every watched container unless one runs.
    pub fn tick(&self) -> Tick {
        if self.inner.shutting_down.load(Ordering::SeqCst) {
            return Tick::ShuttingDown;
        }
        if let Ok(guard) = self.inner.running.clone().try_lock_owned() {
            let this = self.clone();
            Tick::Started(tokio::spawn(async move {
                this.run_locked(guard, UpdateScope::All).await
            }))
        } else if self.inner.checking.load(Ordering::SeqCst)
            && !self.inner.tick_waiting.swap(true, Ordering::SeqCst)
        {
            tracing::debug!("a check is running; the scheduled session waits for it");
            let this = self.clone();
            Tick::Started(tokio::spawn(async move {
                let guard = this.inner.running.clone().lock_owned().await;
                this.inner.tick_waiting.store(false, Ordering::SeqCst);
                if this.inner.shutting_down.load(Ordering::SeqCst) {
                    return Err(SessionFailed("watchtower is shutting down".to_owned()));
                }
                this.run_locked(guard, UpdateScope::All).await
            }))
        } else {
            self.inner.metrics.record_skipped_scan();
            tracing::debug!("Skipped another update already running.");
            Tick::Skipped
        }
    }

    /// Runs one session now, waiting for a running one to end first (`--run-once`).
    pub async fn run_now(&self, scope: UpdateScope) -> Result<Report, SessionFailed> {
        let guard = self.inner.running.clone().lock_owned().await;
        self.run_locked(guard, scope).await
    }

    /// An API request: joins the session waiting to start, or queues one (see module docs).
    pub async fn request(&self, scope: UpdateScope) -> Result<Arc<Report>, UpdateError> {
        let mut done = {
            let mut pending = self.inner.pending.lock().expect("pending lock");
            if self.inner.shutting_down.load(Ordering::SeqCst) {
                return Err(UpdateError::ShuttingDown);
            }
            if let Some(waiting) = pending.as_mut() {
                waiting.scope = waiting.scope.clone().merge(scope);
                tracing::debug!(scope = %waiting.scope, "update request joins the next session");
                waiting.done.subscribe()
            } else {
                let (tx, rx) = watch::channel(None);
                *pending = Some(Pending { scope, done: tx });
                let this = self.clone();
                tokio::spawn(async move { this.drive_pending().await });
                rx
            }
        };
        let outcome = done
            .wait_for(Option::is_some)
            .await
            .map_err(|_| UpdateError::ShuttingDown)?
            .clone()
            .expect("waited for Some");
        outcome.map_err(|refusal| match refusal {
            Refusal::ShuttingDown => UpdateError::ShuttingDown,
            Refusal::Failed(reason) => UpdateError::Session { reason },
        })
    }

    async fn drive_pending(self) {
        let guard = self.inner.running.clone().lock_owned().await;
        let Some(pending) = self.inner.pending.lock().expect("pending lock").take() else {
            return; // answered by shutdown
        };
        if self.inner.shutting_down.load(Ordering::SeqCst) {
            let _ = pending.done.send(Some(Err(Refusal::ShuttingDown)));
            return;
        }
        let outcome = self
            .run_locked(guard, pending.scope)
            .await
            .map(Arc::new)
            .map_err(|e| Refusal::Failed(e.0));
        let _ = pending.done.send(Some(outcome));
    }

    async fn run_locked(
        &self,
        guard: OwnedMutexGuard<()>,
        scope: UpdateScope,
    ) -> Result<Report, SessionFailed> {
        let started = tokio::time::Instant::now();
        let started_at = self.inner.record.now();
        tracing::debug!(%scope, "session starting");
        let result = self.inner.runner.run(scope).await;
        let elapsed = started.elapsed();
        self.inner.record.session(started_at, &result);
        match &result {
            Ok(report) => {
                let metric = ScanCounts::from_report(report);
                self.inner.metrics.record_scan(metric, elapsed);
                tracing::debug!(
                    scanned = metric.scanned,
                    updated = metric.updated,
                    failed = metric.failed,
                    seconds = elapsed.as_secs_f64(),
                    "session recorded in the metrics"
                );
            }
            Err(err) => {
                self.inner
                    .metrics
                    .record_scan(ScanCounts::default(), elapsed);
                tracing::error!(error = %err, "update session failed");
            }
        }
        drop(guard);
        result
    }

    /// Starts nothing new, answers a waiting request with "shutting down", and returns once
    /// the running session (if any) is over.
    pub async fn shutdown(&self) {
        self.inner.shutting_down.store(true, Ordering::SeqCst);
        if let Some(pending) = self.inner.pending.lock().expect("pending lock").take() {
            let _ = pending.done.send(Some(Err(Refusal::ShuttingDown)));
        }
        let _idle = self.inner.running.lock().await;
    }

    /// Whether a session (or a check) is running right now.
    pub fn is_running(&self) -> bool {
        self.inner.running.try_lock().is_err()
    }

    /// A check (`POST /v1/check`): waits for a running session to end, then checks while
    /// no session can start, and records what it found.
    pub async fn check(&self) -> Result<CheckPlan, ReadError> {
        if self.inner.shutting_down.load(Ordering::SeqCst) {
            return Err(ReadError::ShuttingDown);
        }
        let guard = self.inner.running.clone().lock_owned().await;
        if self.inner.shutting_down.load(Ordering::SeqCst) {
            return Err(ReadError::ShuttingDown);
        }
        self.inner.checking.store(true, Ordering::SeqCst);
        let result = {
            let _clear = ClearOnDrop(&self.inner.checking);
            let result = self.inner.runner.check_plan().await;
            drop(guard);
            result
        };
        let plan = result.map_err(|e| ReadError::Failed { reason: e.0 })?;
        self.inner.record.check(&plan);
        Ok(plan)
    }
}

#[async_trait]
impl ReadSide for Sessions {
    async fn check(&self, names: Option<Vec<String>>) -> Result<Value, ReadError> {
        let mut plan = Sessions::check(self).await?;
        if let Some(names) = names {
            plan.containers.retain(|c| names.contains(&c.name));
        }
        Ok(crate::check::to_json(&plan))
    }

    async fn containers(&self) -> Result<Value, ReadError> {
        if self.inner.shutting_down.load(Ordering::SeqCst) {
            return Err(ReadError::ShuttingDown);
        }
        let watched = self
            .inner
            .runner
            .watched()
            .await
            .map_err(|e| ReadError::Failed { reason: e.0 })?;
        Ok(self.inner.record.containers_json(&watched))
    }

    async fn history(&self) -> Value {
        self.inner.record.history_json()
    }

    async fn ready(&self) -> Result<(), String> {
        if self.inner.shutting_down.load(Ordering::SeqCst) {
            return Err("watchtower is shutting down and starts no new session".to_owned());
        }
        match tokio::time::timeout(PING_TIMEOUT, self.inner.runner.ping()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => Err(format!("the Docker engine does not answer: {err}")),
            Err(_) => Err(format!(
                "the Docker engine did not answer within {} s",
                PING_TIMEOUT.as_secs()
            )),
        }
    }
}

#[async_trait]
impl UpdateTrigger for Sessions {
    async fn update(&self, scope: UpdateScope) -> Result<serde_json::Value, UpdateError> {
        let report = self.request(scope).await?;
        serde_json::to_value(&*report).map_err(|e| UpdateError::Session {
            reason: format!("cannot encode the report: {e}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use watchtower_actions::{CheckAction, CheckState, CheckedContainer};
    use watchtower_session_report::{ContainerRef, ReportBuilder};

    use super::*;

    /// Sessions and checks each last 10 s of tokio time; counts overlaps between them.
    #[derive(Default)]
    struct Slow {
        inside: AtomicBool,
        overlaps: AtomicUsize,
        events: Mutex<Vec<&'static str>>,
    }

    impl Slow {
        async fn work(&self, what: &'static str) {
            if self.inside.swap(true, Ordering::SeqCst) {
                self.overlaps.fetch_add(1, Ordering::SeqCst);
            }
            self.events.lock().unwrap().push(what);
            tokio::time::sleep(Duration::from_secs(10)).await;
            self.inside.store(false, Ordering::SeqCst);
        }
    }

    #[async_trait]
    impl SessionRunner for Slow {
        async fn run(&self, _: UpdateScope) -> Result<Report, SessionFailed> {
            self.work("session").await;
            let web = ContainerRef::new("c0ffee", "/web", "app:1", "sha256:1");
            let mut b = ReportBuilder::new();
            b.scanned(&web, "sha256:2");
            b.updated(&web, "sha256:2");
            Ok(b.build())
        }

        async fn check_plan(&self) -> Result<CheckPlan, SessionFailed> {
            self.work("check").await;
            Ok(CheckPlan {
                containers: ["web", "db"]
                    .map(|name| CheckedContainer {
                        name: name.to_owned(),
                        id: format!("{name}-id"),
                        image: "app:1".to_owned(),
                        image_id: "sha256:1".to_owned(),
                        state: CheckState::Stale,
                        reason: None,
                        local_digest: None,
                        remote_digest: None,
                        monitor_only: false,
                        action: CheckAction::Update,
                        order: Some(1),
                        dependents: Vec::new(),
                    })
                    .into(),
            })
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_check_waits_for_the_session_and_a_tick_waits_for_the_check() {
        let runner = Arc::new(Slow::default());
        let metrics = Metrics::new();
        let sessions = Sessions::new(runner.clone(), metrics.clone());

        let Tick::Started(first) = sessions.tick() else {
            panic!("the first tick starts a session");
        };
        tokio::task::yield_now().await;
        let check = tokio::spawn({
            let sessions = sessions.clone();
            async move { ReadSide::check(&sessions, Some(vec!["db".to_owned()])).await }
        });
        first.await.unwrap().unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
        // The check runs now: a tick waits for it instead of being skipped.
        let Tick::Started(second) = sessions.tick() else {
            panic!("a tick during a check waits for it");
        };
        assert!(
            matches!(sessions.tick(), Tick::Skipped),
            "one waiting tick is enough"
        );
        let document = check.await.unwrap().unwrap();
        second.await.unwrap().unwrap();

        assert_eq!(runner.overlaps.load(Ordering::SeqCst), 0);
        assert_eq!(
            *runner.events.lock().unwrap(),
            ["session", "check", "session"]
        );
        assert_eq!(metrics.scans_skipped(), 1);
        // Only the asked-for name, in the check document's shape.
        assert_eq!(document["summary"]["checked"], 1);
        assert_eq!(document["containers"][0]["name"], "db");
        // Both sessions are in the history, newest first, and the check's result for db
        // is its last one while web's comes from the last session.
        let history = ReadSide::history(&sessions).await;
        assert_eq!(history["sessions"].as_array().unwrap().len(), 2);
        let watched = [
            (
                Container {
                    name: "web".to_owned(),
                    ..Container::default()
                },
                "app:1".to_owned(),
            ),
            (
                Container {
                    name: "db".to_owned(),
                    ..Container::default()
                },
                "app:1".to_owned(),
            ),
        ];
        let containers = sessions.record().containers_json(&watched);
        assert_eq!(
            containers["containers"][0]["last_check"]["result"],
            "updated"
        );
        assert_eq!(containers["containers"][1]["last_check"]["result"], "stale");
        assert_eq!(containers["containers"][1]["last_check"]["source"], "check");
    }

    #[tokio::test(start_paused = true)]
    async fn after_shutdown_checks_are_refused_and_not_ready() {
        let sessions = Sessions::new(Arc::new(Slow::default()), Metrics::new());
        sessions.shutdown().await;
        assert!(matches!(
            ReadSide::check(&sessions, None).await,
            Err(ReadError::ShuttingDown)
        ));
        let reason = ReadSide::ready(&sessions).await.expect_err("not ready");
        assert!(reason.contains("shutting down"), "{reason}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_runner_without_an_engine_is_not_ready() {
        let sessions = Sessions::new(Arc::new(Slow::default()), Metrics::new());
        let reason = ReadSide::ready(&sessions).await.expect_err("not ready");
        assert!(reason.contains("does not answer"), "{reason}");
    }
}
