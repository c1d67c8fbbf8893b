//! Errors of this crate. None of them ever carries a password, a token or an
//! `Authorization` header: they name the registry, the file, the helper or the status instead.

use std::path::PathBuf;

/// Why a reference, a credential, a challenge or a token could not be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The image reference is not valid Docker syntax.
    #[error("invalid image reference {reference:?}: {reason}")]
    InvalidReference {
        /// The reference as given.
        reference: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The Docker config file exists but cannot be read or parsed.
    #[error("docker config {}: {reason}", path.display())]
    DockerConfig {
        /// The config file.
        path: PathBuf,
        /// What is wrong with it (never its secrets).
        reason: String,
    },

    /// A `docker-credential-<name>` helper could not be run or gave an unusable answer.
    #[error("credential helper docker-credential-{helper} for registry {registry}: {reason}")]
    CredentialHelper {
        /// The helper's name (the part after `docker-credential-`).
        helper: String,
        /// The registry asked about.
        registry: String,
        /// What went wrong (never the helper's secret output).
        reason: String,
    },

    /// The registry asked for credentials that we do not have.
    #[error(
        "registry {registry} requires {scheme} authentication but no credentials are configured for it"
    )]
    CredentialsRequired {
        /// The registry host.
        registry: String,
        /// The scheme the registry asked for (`Basic` or `Bearer`).
        scheme: String,
    },

    /// The registry's `WWW-Authenticate` challenge is unusable.
    #[error("registry {registry}: unusable authentication challenge: {reason}")]
    Challenge {
        /// The registry host.
        registry: String,
        /// What is missing or malformed.
        reason: String,
    },

    /// The token server answered with a status other than 200.
    #[error("registry {registry}: token server {realm} answered {status}")]
    TokenStatus {
        /// The registry host.
        registry: String,
        /// The token endpoint (realm), without any query.
        realm: String,
        /// The HTTP status.
        status: http::StatusCode,
    },

    /// The token server's answer is not a usable token response.
    #[error("registry {registry}: token server {realm} gave an unusable answer: {reason}")]
    TokenResponse {
        /// The registry host.
        registry: String,
        /// The token endpoint (realm), without any query.
        realm: String,
        /// What is wrong with the answer.
        reason: String,
    },

    /// The request could not be made or did not complete (connect, TLS, timeout, body).
    #[error("registry {registry}: {kind}: {reason}")]
    Transport {
        /// The host the request went to.
        registry: String,
        /// What kind of failure, for callers that decide on it (for example downgrade or not).
        kind: TransportErrorKind,
        /// The details.
        reason: String,
    },

    /// An HTTP client or request could not be built (bad URL, bad header value).
    #[error("registry {registry}: cannot build the request: {reason}")]
    Request {
        /// The registry host.
        registry: String,
        /// What is wrong.
        reason: String,
    },

    /// The HTTP client could not be set up: a proxy variable that is not a usable proxy URL
    /// ([`watchtower_http_client::Error::ProxyConfig`], its credentials hidden) or TLS
    /// settings that cannot be built.
    #[error(transparent)]
    Client(watchtower_http_client::Error),
}

pub use watchtower_http_client::TransportErrorKind;

impl From<watchtower_http_client::Error> for Error {
    fn from(err: watchtower_http_client::Error) -> Self {
        use watchtower_http_client::Error as Http;
        match err {
            Http::Transport {
                host, kind, reason, ..
            } => Self::Transport {
                registry: host,
                kind,
                reason,
            },
            setup @ (Http::ProxyConfig { .. } | Http::Tls(_)) => Self::Client(setup),
            other => Self::Request {
                registry: String::new(),
                reason: other.to_string(),
            },
        }
    }
}
