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
//! The work itself is behind [`SessionRunner`], so all of this is tested with fakes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::sync::{OwnedMutexGuard, watch};
use watchtower_http_api::{Metrics, ScanCounts, UpdateError, UpdateScope, UpdateTrigger};
use watchtower_session_report::Report;

/// A session that could not run at all (the engine did not answer, …).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SessionFailed(pub String);

/// Runs one update session over the watched containers within `scope`.
#[async_trait]
pub trait SessionRunner: Send + Sync + 'static {
    /// Runs a whole session and returns its report.
    async fn run(&self, scope: UpdateScope) -> Result<Report, SessionFailed>;
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
}

impl Sessions {
    /// Sessions run by `runner`, recorded in `metrics`.
    pub fn new(runner: Arc<dyn SessionRunner>, metrics: Metrics) -> Self {
        Self {
            inner: Arc::new(Inner {
                runner,
                metrics,
                running: Arc::new(tokio::sync::Mutex::new(())),
                pending: Mutex::new(None),
                shutting_down: AtomicBool::new(false),
            }),
        }
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
        tracing::debug!(%scope, "session starting");
        let result = self.inner.runner.run(scope).await;
        let elapsed = started.elapsed();
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

    /// Whether a session is running right now.
    pub fn is_running(&self) -> bool {
        self.inner.running.try_lock().is_err()
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
