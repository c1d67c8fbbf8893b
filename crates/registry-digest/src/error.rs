//! Errors of this crate. They are cheap to clone, because one failure (say, a registry that
//! refuses TLS) is shared by every image checked against that registry in a session.

use std::sync::Arc;
use std::time::Duration;

/// Why a remote digest could not be had.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reference, credential, challenge, token or transport failure (it names the registry).
    #[error(transparent)]
    Auth(Arc<watchtower_registry_auth::Error>),

    /// The TLS settings could not be turned into a client configuration.
    #[error(transparent)]
    Tls(Arc<watchtower_tls_config::Error>),

    /// The registry answered a request with an unexpected status.
    #[error("registry {registry}: {request} answered {status}{detail}")]
    Status {
        /// The registry host.
        registry: String,
        /// The request, for example `HEAD /v2/library/nginx/manifests/latest`.
        request: String,
        /// The status.
        status: http::StatusCode,
        /// More context (`: manifest unknown`, the challenge), possibly empty.
        detail: String,
    },

    /// The registry asked us to slow down for longer than we wait.
    #[error("registry {registry}: rate limited (429){}", match retry_after {
        Some(d) => format!(", retry after {} s", d.as_secs()),
        None => String::new(),
    })]
    RateLimited {
        /// The registry host.
        registry: String,
        /// What `Retry-After` said, if anything usable.
        retry_after: Option<Duration>,
    },

    /// The registry's answer is malformed (for example a bad `Docker-Content-Digest`).
    #[error("registry {registry}: {reason}")]
    Protocol {
        /// The registry host.
        registry: String,
        /// What is wrong.
        reason: String,
    },

    /// An entry of the insecure-registry list is neither a CIDR nor a host name.
    #[error("insecure registry entry {entry:?}: {reason}")]
    InvalidInsecureRegistry {
        /// The entry as given.
        entry: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl From<watchtower_registry_auth::Error> for Error {
    fn from(e: watchtower_registry_auth::Error) -> Self {
        Self::Auth(Arc::new(e))
    }
}

impl From<watchtower_tls_config::Error> for Error {
    fn from(e: watchtower_tls_config::Error) -> Self {
        Self::Tls(Arc::new(e))
    }
}
