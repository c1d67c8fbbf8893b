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
//! 6. [`App::run`] with a runner calling [`Updater::update`]; SIGTERM/SIGINT cancel the
//!    session at the next container boundary (the current container finishes or is
//!    restored) and the process exits 0.

use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use watchtower_actions::{
    Filter, Freshness, FreshnessChecker, FreshnessQuery, Params, Updater,
    WarnOnHeadFailure as ActionsWarn,
};
use watchtower_container_client::{
    ApiVersion, ContainerClient, DockerClient, DockerOptions, ListOptions, PullAuth,
};
use watchtower_http_api::{Metrics, RegistryRequestCount, RegistryStats, UpdateScope};
use watchtower_registry_auth::{Credential, CredentialStore, ImageReference};
use watchtower_registry_digest::{CheckRequest, InsecureRegistries, Registry, RegistryOptions};
use watchtower_session_report::Report;
use watchtower_tls_config::TlsSettings;

use crate::app::{App, AppError, Exit};
use crate::config::{Config, WarnOnHeadFailure};
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
    /// A start-up check of the update engine failed (name pattern, rolling restart with
    /// dependencies, other instances that could not be stopped).
    #[error("{0}")]
    Actions(#[source] watchtower_actions::Error),
    /// The application could not run (API address in use, ...).
    #[error(transparent)]
    App(#[from] AppError),
}

/// Starts everything from `config` and runs until done or stopped.
pub async fn run(config: Config) -> Result<Exit, StartupError> {
    let tls = TlsSettings::from_flags(
        config.registry.ca.as_deref(),
        config.registry.ca_validate,
        config.registry.insecure,
        SystemTime::now(),
    )
    .map_err(StartupError::RegistryCa)?;

    let docker = connect_engine(&config).await?;
    let engine = docker
        .engine_info()
        .await
        .map_err(|source| StartupError::Engine {
            host: config.docker.host.clone(),
            source,
        })?;
    tracing::debug!(
        server = %engine.server_version,
        api = %engine.api_version,
        "connected to the Docker engine"
    );

    let (registry, credentials) = registry_client(&config, tls, &engine)?;

    let filter = Filter::all()
        .names(config.filter.names.iter().cloned())
        .map_err(StartupError::Actions)?
        .disabled(config.filter.disable_containers.iter().cloned())
        .label_enable(config.filter.label_enable)
        .scope(config.filter.scope.clone().unwrap_or_default());
    let params = params(&config);
    let list = ListOptions {
        include_stopped: config.update.include_stopped,
        include_restarting: config.update.include_restarting,
    };
    if config.update.rolling_restart {
        watchtower_actions::check_rolling_restart(&docker, &filter, list)
            .await
            .map_err(StartupError::Actions)?;
    }
    if !config.run_once {
        watchtower_actions::cleanup_excess_instances(
            &docker,
            config.filter.scope.as_deref(),
            config.update.cleanup,
        )
        .await
        .map_err(StartupError::Actions)?;
    }

    if !config.notifications.urls.is_empty() || !config.notifications.types.is_empty() {
        tracing::warn!(
            "notifications are configured, but this build does not send them yet; \
             session results are logged only"
        );
    }

    let metrics = Metrics::new();
    metrics.set_registry_stats(Arc::new(RegistryStatsSource(registry.clone())));
    let cancel = params.cancel.clone();
    let description = filter.describe();
    let runner = Arc::new(ActionsRunner {
        updater: Updater::new(
            docker,
            RegistryFreshness {
                registry,
                credentials,
            },
            params,
        ),
        filter,
    });
    let app = App {
        config,
        runner,
        clock: SystemClock,
        metrics,
        notifiers: Vec::new(),
        filter_description: description,
        startup_sink: None,
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

/// The registry client, trusting what the engine trusts as insecure.
fn registry_client(
    config: &Config,
    tls: TlsSettings,
    engine: &watchtower_container_client::EngineInfo,
) -> Result<(Registry, CredentialStore), StartupError> {
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
    let mut credential_options = CredentialStore::options_from_env();
    credential_options.repo_user_pass =
        match (&config.registry.repo_user, &config.registry.repo_pass) {
            (Some(user), Some(pass)) => Some((
                user.clone(),
                watchtower_registry_auth::Secret::new(pass.expose()),
            )),
            _ => None,
        };
    let credentials = CredentialStore::new(credential_options);
    let registry = Registry::new(RegistryOptions {
        tls,
        insecure_registries: insecure,
        credentials: credentials.clone(),
        ..RegistryOptions::default()
    })
    .map_err(StartupError::Registry)?;
    Ok((registry, credentials))
}

async fn connect_engine(config: &Config) -> Result<DockerClient, StartupError> {
    let engine_error = |source| StartupError::Engine {
        host: config.docker.host.clone(),
        source,
    };
    let api_version = config
        .docker
        .api_version
        .as_deref()
        .map(str::parse::<ApiVersion>)
        .transpose()
        .map_err(engine_error)?;
    DockerClient::connect(DockerOptions {
        host: Some(config.docker.host.clone()),
        tls_verify: config.docker.tls_verify,
        cert_path: config.docker.cert_path.clone(),
        api_version,
        request_timeout: None,
    })
    .await
    .map_err(engine_error)
}

fn params(config: &Config) -> Params {
    let u = &config.update;
    let mut params = Params::default();
    params.cleanup = u.cleanup;
    params.remove_volumes = u.remove_volumes;
    params.no_pull = u.no_pull;
    params.no_restart = u.no_restart;
    params.monitor_only = u.monitor_only;
    params.label_take_precedence = u.label_take_precedence;
    params.include_stopped = u.include_stopped;
    params.include_restarting = u.include_restarting;
    params.revive_stopped = u.revive_stopped;
    params.rolling_restart = u.rolling_restart;
    params.lifecycle_hooks = u.lifecycle_hooks;
    params.stop_timeout = u.stop_timeout;
    params.warn_on_head_failure = match u.warn_on_head_failure {
        WarnOnHeadFailure::Always => ActionsWarn::Always,
        WarnOnHeadFailure::Auto => ActionsWarn::Auto,
        WarnOnHeadFailure::Never => ActionsWarn::Never,
    };
    params
}

/// Sessions through the update engine.
struct ActionsRunner<C> {
    updater: Updater<C, RegistryFreshness>,
    filter: Filter,
}

#[async_trait]
impl<C: ContainerClient + 'static> SessionRunner for ActionsRunner<C> {
    async fn run(&self, scope: UpdateScope) -> Result<Report, SessionFailed> {
        let filter = match &scope {
            UpdateScope::All => self.filter.clone(),
            UpdateScope::Images(selectors) => self
                .filter
                .clone()
                .images(selectors.iter().map(|s| s.as_str().to_owned())),
        };
        self.updater
            .update(&filter)
            .await
            .map_err(|e| SessionFailed(e.to_string()))
    }
}

/// `watchtower-registry-digest` as the update engine's freshness seam.
struct RegistryFreshness {
    registry: Registry,
    credentials: CredentialStore,
}

fn convert(freshness: watchtower_registry_digest::Freshness) -> Freshness {
    match freshness {
        watchtower_registry_digest::Freshness::Fresh => Freshness::Fresh,
        watchtower_registry_digest::Freshness::Stale { remote } => Freshness::Stale {
            remote_digest: remote,
        },
        watchtower_registry_digest::Freshness::Unknown { reason } => Freshness::Unknown { reason },
    }
}

#[async_trait]
impl FreshnessChecker for RegistryFreshness {
    async fn check(&self, query: &FreshnessQuery) -> Freshness {
        match ImageReference::parse(&query.reference) {
            Ok(reference) => convert(
                self.registry
                    .check(&reference, &query.repo_digests)
                    .await
                    .freshness,
            ),
            Err(err) => Freshness::Unknown {
                reason: err.to_string(),
            },
        }
    }

    async fn check_many(&self, queries: &[FreshnessQuery], _concurrency: usize) -> Vec<Freshness> {
        // One registry session for all of them: one challenge per host, bounded per host.
        let mut answers: Vec<Option<Freshness>> = vec![None; queries.len()];
        let mut requests = Vec::new();
        let mut positions = Vec::new();
        for (i, query) in queries.iter().enumerate() {
            match ImageReference::parse(&query.reference) {
                Ok(reference) => {
                    requests.push(CheckRequest {
                        reference,
                        local_repo_digests: query.repo_digests.clone(),
                    });
                    positions.push(i);
                }
                Err(err) => {
                    answers[i] = Some(Freshness::Unknown {
                        reason: err.to_string(),
                    });
                }
            }
        }
        let results = self.registry.check_many(&requests).await;
        for (position, result) in positions.into_iter().zip(results) {
            answers[position] = Some(convert(result.freshness));
        }
        answers
            .into_iter()
            .map(|a| {
                a.unwrap_or(Freshness::Unknown {
                    reason: "no answer".to_owned(),
                })
            })
            .collect()
    }

    async fn pull_auth(
        &self,
        reference: &str,
    ) -> Result<Option<PullAuth>, watchtower_actions::Error> {
        let credentials_error = |message: String| watchtower_actions::Error::Credentials {
            image: reference.to_owned(),
            message,
        };
        let parsed =
            ImageReference::parse(reference).map_err(|e| credentials_error(e.to_string()))?;
        let found = self
            .credentials
            .lookup(parsed.registry())
            .await
            .map_err(|e| credentials_error(e.to_string()))?;
        Ok(found.map(|credential| match credential {
            Credential::Basic { username, password } => PullAuth {
                username: Some(username),
                password: Some(password.expose().to_owned()),
                identity_token: None,
                server_address: parsed.registry().to_owned(),
            },
            Credential::IdentityToken { username, token } => PullAuth {
                username,
                password: None,
                identity_token: Some(token.expose().to_owned()),
                server_address: parsed.registry().to_owned(),
            },
        }))
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
