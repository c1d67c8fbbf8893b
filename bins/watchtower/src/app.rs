//! The long-running part of the process, from a checked [`Config`] and a [`SessionRunner`]
//! on: the startup message, the HTTP API, the schedule (or one session for `--run-once`),
//! and the orderly stop on SIGTERM/SIGINT. Everything real (Docker, registries,
//! notifications) comes in through the runner, so tests drive this with fakes and tokio's
//! paused clock.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use tokio::net::TcpListener;
use watchtower_config::Config;
use watchtower_http_api::{Api, Metrics, Token, UpdateScope};

use crate::scheduler::{Clock, Scheduler};
use crate::sessions::{SessionRunner, Sessions};
use crate::startup::{self, RunMode};

/// What can stop the application before or while it runs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// The HTTP API could not listen.
    #[error(transparent)]
    Api(#[from] watchtower_http_api::Error),
    /// The schedule has no next activation.
    #[error("the schedule {0:?} never fires")]
    ScheduleNeverFires(String),
}

/// How the application ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Normal end: after `--run-once`, or after a stop signal once the running session ended.
    Success,
    /// `--run-once` whose session could not run at all.
    SessionFailed,
}

/// Where the startup lines go besides the log: the notifier, which captures them from the
/// log (its session was started before) and sends them as one message.
pub trait StartupSink: Send + Sync {
    /// The startup lines were just logged: send them (and what was queued before) now.
    fn startup_logged(&self);
}

/// The application, ready to run.
pub struct App<C> {
    /// The configuration.
    pub config: Config,
    /// Who runs sessions.
    pub runner: Arc<dyn SessionRunner>,
    /// Wall-clock time for the schedule.
    pub clock: C,
    /// Metrics shared with the HTTP API.
    pub metrics: Metrics,
    /// Names of the notification services, for the startup message.
    pub notifiers: Vec<String>,
    /// The container filter as the startup message describes it.
    pub filter_description: String,
    /// Gets the startup message unless `--no-startup-message`.
    pub startup_sink: Option<Arc<dyn StartupSink>>,
    /// Called with the API's address once it listens (tests use port 0).
    pub on_listening: Option<Box<dyn FnOnce(SocketAddr) + Send>>,
}

impl<C: Clock + 'static> App<C> {
    /// Runs until done (`--run-once`) or until `stop` resolves (with the signal's name).
    #[allow(clippy::too_many_lines)] // one linear story: run-once, API, schedule, stop
    pub async fn run(
        mut self,
        stop: impl Future<Output = &'static str> + Send,
    ) -> Result<Exit, AppError> {
        let sessions = Sessions::new(self.runner.clone(), self.metrics.clone());
        let mut stop = std::pin::pin!(stop);

        if self.config.run_once {
            self.announce(&RunMode::Once, None);
            let run = tokio::spawn({
                let sessions = sessions.clone();
                async move { sessions.run_now(UpdateScope::All).await }
            });
            let mut run = std::pin::pin!(run);
            let result = tokio::select! {
                result = &mut run => result,
                signal = &mut stop => {
                    tracing::info!(signal, "Waiting for running update to be finished...");
                    run.await
                }
            };
            return Ok(match result {
                Ok(Ok(_)) => Exit::Success,
                Ok(Err(_)) | Err(_) => Exit::SessionFailed,
            });
        }

        // The HTTP API.
        let (api_stop_tx, api_stop_rx) = tokio::sync::watch::channel(false);
        let mut api_task = None;
        let mut api_addr = None;
        if self.config.http_api.enabled() {
            let token = self
                .config
                .http_api
                .token
                .as_ref()
                .map(|t| Token::new(t.expose()))
                .transpose()?
                .ok_or(watchtower_http_api::Error::EmptyToken)?;
            // The read side (check, containers, history, readyz) whenever the API is on.
            let mut api = Api::new(token).with_read(Arc::new(sessions.clone()));
            if self.config.http_api.update {
                api = api.with_update(Arc::new(sessions.clone()));
            }
            if self.config.http_api.metrics {
                api = api.with_metrics(self.metrics.clone());
            }
            let listener = bind(&self.config).await?;
            let local =
                listener
                    .local_addr()
                    .map_err(|source| watchtower_http_api::Error::Bind {
                        addr: self.config.http_api.listen_addr(),
                        source,
                    })?;
            if let Some(notify) = self.on_listening.take() {
                notify(local);
            }
            api_addr = Some(if self.config.http_api.port == 0 {
                local.to_string()
            } else {
                self.config.http_api.display_addr()
            });
            let mut rx = api_stop_rx.clone();
            api_task = Some(tokio::spawn(api.serve(listener, async move {
                let _ = rx.wait_for(|stopped| *stopped).await;
            })));
        }
        let update_api_addr = self
            .config
            .http_api
            .update
            .then(|| api_addr.clone())
            .flatten();

        let signal = if self.config.http_api.update && !self.config.http_api.periodic_polls {
            self.announce(&RunMode::ApiOnly, update_api_addr.as_deref());
            stop.await
        } else {
            let scheduler = Scheduler::new(self.config.schedule.clone(), self.clock);
            let now = scheduler.clock().now();
            let first = scheduler.first_run().ok_or_else(|| {
                AppError::ScheduleNeverFires(self.config.schedule.spec().to_owned())
            })?;
            let mode = RunMode::Scheduled { first, now };
            let lines = startup::lines(
                env!("CARGO_PKG_VERSION"),
                &self.notifiers,
                &self.filter_description,
                &mode,
                update_api_addr.as_deref(),
            );
            emit(
                &lines,
                self.config.no_startup_message,
                self.startup_sink.as_deref(),
            );
            let (signal_tx, signal_rx) = tokio::sync::oneshot::channel();
            let stop_and_tell = async {
                let signal = stop.await;
                let _ = signal_tx.send(signal);
            };
            scheduler.run(first, &sessions, stop_and_tell).await;
            signal_rx.await.unwrap_or("stop")
        };

        if sessions.is_running() {
            tracing::info!(signal, "Waiting for running update to be finished...");
        } else {
            tracing::info!(notify = "no", signal, "stopping");
        }
        sessions.shutdown().await;
        let _ = api_stop_tx.send(true);
        if let Some(task) = api_task {
            match task.await {
                Ok(Err(err)) => tracing::warn!(error = %err, "the HTTP API stopped with an error"),
                Err(err) => tracing::warn!(error = %err, "the HTTP API task failed"),
                Ok(Ok(())) => {}
            }
        }
        Ok(Exit::Success)
    }

    fn announce(&self, mode: &RunMode, update_api_addr: Option<&str>) {
        let lines = startup::lines(
            env!("CARGO_PKG_VERSION"),
            &self.notifiers,
            &self.filter_description,
            mode,
            update_api_addr,
        );
        emit(
            &lines,
            self.config.no_startup_message,
            self.startup_sink.as_deref(),
        );
    }
}

/// Logs the startup lines; unless `local_only`, also as one notification (the original's
/// batch), otherwise marked for the local log only.
fn emit(lines: &[String], local_only: bool, sink: Option<&dyn StartupSink>) {
    if let (false, Some(sink)) = (local_only, sink) {
        for line in lines {
            tracing::info!("{line}");
        }
        sink.startup_logged();
    } else {
        for line in lines {
            tracing::info!(notify = "no", "{line}");
        }
    }
}

/// Binds the API address; "every interface" falls back from IPv6 to IPv4 where the host
/// has no IPv6.
async fn bind(config: &Config) -> Result<TcpListener, watchtower_http_api::Error> {
    let addr = config.http_api.listen_addr();
    match watchtower_http_api::bind(addr).await {
        Ok(listener) => Ok(listener),
        Err(err) if config.http_api.host.is_empty() => {
            let v4 = SocketAddr::from((Ipv4Addr::UNSPECIFIED, config.http_api.port));
            tracing::debug!(notify = "no", error = %err, "no IPv6 listener, trying IPv4");
            watchtower_http_api::bind(v4).await
        }
        Err(err) => Err(err),
    }
}
