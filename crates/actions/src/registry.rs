//! [`FreshnessChecker`] for the real registry client of `watchtower-registry-digest`.

use std::collections::HashMap;

use async_trait::async_trait;
use futures_util::StreamExt as _;
use futures_util::stream;
use watchtower_container_client::PullAuth;
use watchtower_registry_auth::{
    Credential, CredentialStore, DOCKER_HUB_CONFIG_KEY, ImageReference,
};
use watchtower_registry_digest::{CheckRequest, CheckResult, Registry, RegistryOptions};

use crate::{Error, Freshness, FreshnessChecker, FreshnessQuery};

/// The registry side of a session: freshness from [`Registry`] (one `GET /v2/` per registry
/// host per session, one `HEAD` per distinct reference, at most `concurrency` at once and
/// bounded per host), and pull credentials from the same [`CredentialStore`].
///
/// ```no_run
/// # async fn demo() -> Result<(), watchtower_actions::Error> {
/// use watchtower_actions::{Filter, Params, RegistryChecker, Updater};
/// use watchtower_container_client::DockerClient;
/// use watchtower_registry_auth::CredentialStore;
/// use watchtower_registry_digest::RegistryOptions;
///
/// let docker = DockerClient::connect_from_env().await.expect("a docker engine");
/// let registry = RegistryChecker::from_options(RegistryOptions {
///     credentials: CredentialStore::from_env(),
///     ..RegistryOptions::default()
/// })?;
/// let updater = Updater::new(docker, registry, Params::default());
/// let report = updater.update(&Filter::all()).await?;
/// println!("{} updated", report.counts().updated);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct RegistryChecker {
    registry: Registry,
    credentials: CredentialStore,
}

impl RegistryChecker {
    /// Joins a registry client and the credentials to pull with (normally the store the
    /// client was built with).
    pub fn new(registry: Registry, credentials: CredentialStore) -> Self {
        Self {
            registry,
            credentials,
        }
    }

    /// Builds the registry client from `options`, pulling with its credentials.
    pub fn from_options(options: RegistryOptions) -> Result<Self, Error> {
        let credentials = options.credentials.clone();
        let registry = Registry::new(options).map_err(|e| Error::RegistrySetup {
            message: e.to_string(),
        })?;
        Ok(Self::new(registry, credentials))
    }

    /// The registry client (its [`Registry::metrics`] count requests by kind).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }
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
impl FreshnessChecker for RegistryChecker {
    async fn check(&self, query: &FreshnessQuery) -> Freshness {
        convert(
            self.registry
                .check(&query.reference, &query.repo_digests)
                .await
                .freshness,
        )
    }

    /// One registry session for all queries (one `GET /v2/` per registry host), one `HEAD`
    /// per distinct reference. At most `concurrency` distinct references are asked at once
    /// (the session's budget, `Params::check_concurrency`), and the registry client
    /// bounds each host further (`RegistryOptions::per_host_concurrency`, shared by all
    /// sessions): the lower of the two applies to a single registry.
    async fn check_many(&self, queries: &[FreshnessQuery], concurrency: usize) -> Vec<Freshness> {
        let mut answers: Vec<Option<Freshness>> = vec![None; queries.len()];
        // Distinct references, each with the positions of the queries asking about it.
        let mut groups: Vec<(ImageReference, Vec<usize>)> = Vec::new();
        let mut group_of: HashMap<ImageReference, usize> = HashMap::new();
        for (position, query) in queries.iter().enumerate() {
            let group = *group_of.entry(query.reference.clone()).or_insert_with(|| {
                groups.push((query.reference.clone(), Vec::new()));
                groups.len() - 1
            });
            groups[group].1.push(position);
        }
        let session = self.registry.session();
        let session = &session;
        let checked: Vec<(Vec<usize>, Vec<CheckResult>)> = stream::iter(groups)
            .map(|(reference, positions)| async move {
                let requests: Vec<CheckRequest> = positions
                    .iter()
                    .map(|&i| CheckRequest {
                        reference: reference.clone(),
                        local_repo_digests: queries[i].repo_digests.clone(),
                    })
                    .collect();
                // One reference: the session asks the registry once for all its requests.
                let results = session.check_many(&requests).await;
                (positions, results)
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
        for (positions, results) in checked {
            for (position, result) in positions.into_iter().zip(results) {
                answers[position] = Some(convert(result.freshness));
            }
        }
        answers
            .into_iter()
            .map(|answer| {
                answer.unwrap_or_else(|| Freshness::Unknown {
                    reason: "the registry client gave no answer".to_owned(),
                })
            })
            .collect()
    }

    async fn pull_auth(&self, reference: &ImageReference) -> Result<Option<PullAuth>, Error> {
        let credential = self
            .credentials
            .lookup(reference.registry())
            .await
            .map_err(|e| Error::Credentials {
                image: reference.to_string(),
                message: e.to_string(),
            })?;
        let server_address = if reference.is_docker_hub() {
            DOCKER_HUB_CONFIG_KEY.to_owned()
        } else {
            reference.registry().to_owned()
        };
        Ok(credential.map(|c| match c {
            Credential::Basic { username, password } => PullAuth {
                username: Some(username),
                password: Some(password.expose().to_owned()),
                identity_token: None,
                server_address,
            },
            Credential::IdentityToken { username, token } => PullAuth {
                username,
                password: None,
                identity_token: Some(token.expose().to_owned()),
                server_address,
            },
        }))
    }
}

#[cfg(test)]
mod tests {
    use watchtower_registry_auth::{CredentialOptions, Secret};

    use super::*;

    fn reference(text: &str) -> ImageReference {
        ImageReference::parse(text).unwrap()
    }

    fn checker(options: CredentialOptions) -> RegistryChecker {
        RegistryChecker::from_options(RegistryOptions {
            credentials: CredentialStore::new(options),
            ..RegistryOptions::default()
        })
        .unwrap()
    }

    #[tokio::test]
    async fn pull_credentials_come_from_the_store_and_stay_secret() {
        let c = checker(CredentialOptions {
            repo_user_pass: Some(("bob".to_owned(), Secret::new("hunter2"))),
            ..CredentialOptions::default()
        });
        let auth = c
            .pull_auth(&reference("ghcr.io/team/app:1"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(auth.username.as_deref(), Some("bob"));
        assert_eq!(auth.password.as_deref(), Some("hunter2"));
        assert_eq!(auth.server_address, "ghcr.io");
        assert!(!format!("{auth:?}").contains("hunter2"));
        let hub = c.pull_auth(&reference("nginx")).await.unwrap().unwrap();
        assert_eq!(hub.server_address, DOCKER_HUB_CONFIG_KEY);
    }

    #[tokio::test]
    async fn anonymous_pulls_have_no_credentials() {
        let c = checker(CredentialOptions::default());
        assert_eq!(
            c.pull_auth(&reference("127.0.0.1:5000/app:1"))
                .await
                .unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn a_broken_docker_config_is_a_credentials_error_naming_the_image() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, "{ not json").unwrap();
        let err = checker(CredentialOptions {
            docker_config: Some(path),
            ..CredentialOptions::default()
        })
        .pull_auth(&reference("127.0.0.1:5000/app:1"))
        .await
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("credentials for 127.0.0.1:5000/app:1: "),
            "{err}"
        );
    }
}
