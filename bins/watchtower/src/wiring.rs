//! The real parts plugged into [`App`]: the Docker engine, the registry client, the update
//! engine (`watchtower-actions`) and the metrics, in the order the original started them,
//! each failure one [`StartupError`] line before any container is touched.
//!
//! 1. Registry TLS: the `--registry-ca` bundle is read (and with `--registry-ca-validate`
//!    checked) first, so a bad bundle stops the start.
//! 2. The Docker engine is asked for its version; unreachable means no start.
//! 3. The registry client learns the engine's insecure registries.
//! 4. With `--rolling-restart`, no watched container may depend on another.
//! 5. Unless `--run-once`: other watchtower instances (same scope) are stopped, the newest
//!    wins, as the original did.
//! 6. [`App::run`] with a runner calling [`Updater::update`], each session batched into one
//!    notification with its report; SIGTERM/SIGINT cancel the session at the next container
//!    boundary (the current container finishes or is restored), queued notifications are
//!    sent, and the process exits 0.
//!
//! The notifier is built first ([`notifier`], before logging, because its layer captures
//! log events), so a bad notification URL is also a start-up error.

use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use watchtower_actions::{CheckPlan, Filter, RegistryChecker, Updater};
use watchtower_config::Config;
use watchtower_container_client::{Container, ContainerClient, DockerClient};
use watchtower_http_api::{Metrics, RegistryRequestCount, RegistryStats, UpdateScope};
use watchtower_notify::{Notifier, NotifyLayer};
use watchtower_registry_auth::CredentialStore;
use watchtower_registry_digest::{InsecureRegistries, Registry, RegistryOptions};
use watchtower_session_report::Report;
use watchtower_tls_config::TlsSettings;

use crate::app::{App, AppError, Exit, StartupSink};
use crate::scheduler::SystemClock;
use crate::sessions::{SessionFailed, SessionRunner};

/// Why watchtower did not start (or stopped early). One line each, naming the culprit.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartupError {
    /// The `--registry-ca` bundle is missing, unreadable, malformed or (with
    /// `--registry-ca-validate`) not valid now.
    #[error("--registry-ca: {0}")]
    RegistryCa(#[source] watchtower_tls_config::Error),
    /// The Docker engine did not answer.
    #[error("cannot reach the Docker engine at {host}: {source}")]
    Engine {
        /// `--host`.
        host: String,
        /// What the client said.
        #[source]
        source: watchtower_container_client::Error,
    },
    /// The registry client could not be built.
    #[error("cannot set up the registry client: {0}")]
    Registry(#[source] watchtower_registry_digest::Error),
    /// A start-up check of the update engine failed (rolling restart with dependencies,
    /// other instances that could not be stopped).
    #[error("{0}")]
    Actions(#[source] watchtower_actions::Error),
    /// A notification setting is unusable (bad URL, missing legacy setting).
    #[error("{0}")]
    Notifications(#[source] watchtower_notify::Error),
    /// The application could not run (API address in use, ...).
    #[error(transparent)]
    App(#[from] AppError),
}

/// The notifier and its log layer, from the notification flags (`--porcelain v1` already
/// added `logger://` and its template). Needs a tokio runtime context. Unless
/// `--no-startup-message`, the notifier starts queuing at once, so the startup message and
/// whatever is logged before it go out as one notification.
pub fn notifier(config: &Config) -> Result<(Notifier, NotifyLayer), StartupError> {
    // Notifications trust what registry traffic trusts (`--registry-ca`, the system roots),
    // but `--insecure-registry` is about registries only. A bad bundle is reported (and stops
    // the start) by `run`, as before.
    let mut notifications = config.notifications.clone();
    let r = &config.registry;
    if let Ok(tls) =
        TlsSettings::from_flags(r.ca.as_deref(), r.ca_validate, false, SystemTime::now())
    {
        notifications.tls = tls;
    }
    let (notifier, layer) = Notifier::new(notifications).map_err(StartupError::Notifications)?;
    if !config.no_startup_message {
        notifier.start_session();
    }
    Ok((notifier, layer))
}

/// Sends the batched startup message.
struct NotifierStartup(Notifier);

impl StartupSink for NotifierStartup {
    fn startup_logged(&self) {
        self.0.send(None);
    }
}

/// Starts everything from `config` and runs until done or stopped; `notifier` comes from
/// [`notifier`] and is flushed before returning.
pub async fn run(config: Config, notifier: Notifier) -> Result<Exit, StartupError> {
    let result = start_and_run(config, notifier.clone()).await;
    if let Err(err) = &result {
        // The original notified about fatal start-up errors too.
        tracing::error!("{err}");
    }
    notifier.close().await;
    result
}

/// The engine and registry sides every command starts from: the registry TLS settings
/// (`--registry-ca` checked), the connected Docker client, and the registry client that
/// trusts what the engine treats as insecure.
pub(crate) async fn connect(
    config: &Config,
) -> Result<(DockerClient, RegistryChecker), StartupError> {
    let tls = TlsSettings::from_flags(
        config.registry.ca.as_deref(),
        config.registry.ca_validate,
        config.registry.insecure,
        SystemTime::now(),
    )
    .map_err(StartupError::RegistryCa)?;

    let engine_error = |source| StartupError::Engine {
        host: config.docker.host.clone().unwrap_or_default(),
        source,
    };
    let docker = DockerClient::connect(config.docker.clone())
        .await
        .map_err(engine_error)?;
    let engine = docker.engine_info().await.map_err(engine_error)?;
    tracing::debug!(
        notify = "no",
        server = %engine.server_version,
        api = %engine.api_version,
        "connected to the Docker engine"
    );
    let registry = registry_client(config, tls, &engine)?;
    Ok((docker, registry))
}

async fn start_and_run(config: Config, notifier: Notifier) -> Result<Exit, StartupError> {
    let (docker, registry) = connect(&config).await?;

    let filter = config.filter.clone();
    let params = config.params.clone();
    if params.rolling_restart {
        watchtower_actions::check_rolling_restart(&docker, &filter, params.list_options())
            .await
            .map_err(StartupError::Actions)?;
    }
    if !config.run_once {
        watchtower_actions::cleanup_excess_instances(&docker, filter.scope_value(), params.cleanup)
            .await
            .map_err(StartupError::Actions)?;
    }

    let metrics = Metrics::new();
    metrics.set_registry_stats(Arc::new(RegistryStatsSource(registry.registry().clone())));
    let cancel = params.cancel.clone();
    let description = filter.describe();
    let runner = Arc::new(ActionsRunner {
        updater: Updater::new(docker, registry, params),
        filter,
        notifier: notifier.clone(),
    });
    let app = App {
        config,
        runner,
        clock: SystemClock,
        metrics,
        notifiers: notifier.names(),
        filter_description: description,
        startup_sink: Some(Arc::new(NotifierStartup(notifier))),
        on_listening: None,
    };
    let stop = async move {
        let signal = crate::signals::shutdown_signal().await;
        // The session finishes (or restores) the container it is on, then stops.
        cancel.cancel();
        signal
    };
    Ok(app.run(stop).await?)
}

/// The registry side of sessions (`watchtower-actions`' adapter for the registry client),
/// trusting what the engine trusts as insecure and pulling with the same credentials.
fn registry_client(
    config: &Config,
    tls: TlsSettings,
    engine: &watchtower_container_client::EngineInfo,
) -> Result<RegistryChecker, StartupError> {
    let mut insecure = InsecureRegistries::engine_default();
    for entry in engine
        .insecure_registry_cidrs
        .iter()
        .chain(&engine.insecure_registry_names)
    {
        if let Err(err) = insecure.add(entry) {
            tracing::warn!(entry = %entry, error = %err, "ignoring an insecure registry entry of the engine");
        }
    }
    let credentials = CredentialStore::new(config.registry.credentials.clone());
    let registry = Registry::new(RegistryOptions {
        tls,
        insecure_registries: insecure,
        credentials: credentials.clone(),
        ..RegistryOptions::default()
    })
    .map_err(StartupError::Registry)?;
    Ok(RegistryChecker::new(registry, credentials))
}

/// Sessions through the update engine, each one notification (entries and report).
struct ActionsRunner<C> {
    updater: Updater<C, RegistryChecker>,
    filter: Filter,
    notifier: Notifier,
}

#[async_trait]
impl<C: ContainerClient + 'static> SessionRunner for ActionsRunner<C> {
    async fn run(&self, scope: UpdateScope) -> Result<Report, SessionFailed> {
        let filter = match &scope {
            UpdateScope::All => self.filter.clone(),
            // The API's selectors are the filter's own type: no re-parsing, one matcher.
            UpdateScope::Images(selectors) => self.filter.clone().images(selectors.iter().cloned()),
        };
        self.notifier.start_session();
        let result = self.updater.update(&filter).await;
        match &result {
            Ok(report) => self.notifier.send(Some(report)),
            Err(err) => {
                tracing::error!("{err}");
                self.notifier.send(None);
            }
        }
        result.map_err(|e| SessionFailed(e.to_string()))
    }

    async fn check_plan(&self) -> Result<CheckPlan, SessionFailed> {
        let plan = self.updater.check_plan(&self.filter).await;
        plan.map_err(|e| SessionFailed(e.to_string()))
    }

    async fn watched(&self) -> Result<Vec<(Container, String)>, SessionFailed> {
        let watched = self.updater.watched(&self.filter).await;
        watched.map_err(|e| SessionFailed(e.to_string()))
    }

    async fn ping(&self) -> Result<(), SessionFailed> {
        let info = self.updater.client().engine_info().await;
        info.map(|_| ()).map_err(|e| SessionFailed(e.to_string()))
    }
}

/// Registry counters for `/v1/metrics`.
struct RegistryStatsSource(Registry);

impl RegistryStats for RegistryStatsSource {
    fn request_counts(&self) -> Vec<RegistryRequestCount> {
        self.0
            .metrics()
            .http
            .requests
            .into_iter()
            .map(|c| RegistryRequestCount {
                kind: c.kind.as_str().to_owned(),
                status: c
                    .status
                    .map_or_else(|| "error".to_owned(), |s| s.to_string()),
                count: c.count,
            })
            .collect()
    }

    fn rate_limit_remaining(&self) -> Vec<(String, u64)> {
        self.0
            .metrics()
            .rate_limits
            .into_iter()
            .map(|(host, limit)| (host, limit.remaining))
            .collect()
    }
}
