//! Who am I talking to, and with what credentials? Image references, registry credentials,
//! `WWW-Authenticate` challenges, bearer tokens and their cache.
//!
//! * [`ImageReference`]: references parsed and normalised like Docker (`nginx` is
//!   `docker.io/library/nginx:latest`; API calls for Docker Hub go to `index.docker.io`);
//!   [`ImageSelector`]: a repository with an optional tag, matched against references (the
//!   HTTP API's `?image=` and the update engine's image filter use it).
//! * [`CredentialStore`]: `REPO_USER`/`REPO_PASS`, else `$DOCKER_CONFIG/config.json` with its
//!   per-registry `credHelpers`, `credsStore` and `auths`. [`Credential`] and [`Secret`] never
//!   show a secret in `Debug` output.
//! * [`parse_www_authenticate`] and [`BearerChallenge`]: the registry's answer to `GET /v2/`.
//! * [`fetch_token`], [`TokenCache`] and [`TokenService`]: the Docker token protocol, with one
//!   token per (realm, service, scope) reused until shortly before it expires, and one fetch
//!   for many concurrent askers. Wall-clock time comes from a [`Clock`] ([`FakeClock`] in
//!   tests).
//! * [`HttpClient`]: the registry's handle on the one HTTP client of `watchtower-http-client`
//!   (pooled HTTPS, timeouts, a body cap, [`ProxyConfig`] with Go's `HTTPS_PROXY`/`NO_PROXY`
//!   rules), counting requests by kind and status; `watchtower-registry-digest` uses it too.
//!
//! ```
//! use watchtower_registry_auth::{BearerChallenge, ImageReference, parse_www_authenticate};
//!
//! let image = ImageReference::parse("nginx:1.27").unwrap();
//! assert_eq!(image.to_string(), "docker.io/library/nginx:1.27");
//! assert_eq!(image.api_host(), "index.docker.io");
//! assert_eq!(image.pull_scope(), "repository:library/nginx:pull");
//!
//! let header = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io""#;
//! let bearer = BearerChallenge::find(&parse_www_authenticate(header)).unwrap().unwrap();
//! assert_eq!(bearer.realm, "https://auth.docker.io/token");
//! ```
//!
//! Depends on `watchtower-http-client` (and through it `watchtower-tls-config`) for HTTP and
//! TLS, and on nothing Docker-specific: no bollard, no
//! Docker Engine. Errors and logs never contain passwords, tokens or `Authorization` values.

#![warn(missing_docs)]

mod cache;
mod challenge;
mod clock;
mod credentials;
mod error;
pub mod http;
mod reference;
mod token;

pub use cache::{DEFAULT_MARGIN, TokenCache, TokenKey, TokenService};
pub use challenge::{AuthScheme, BearerChallenge, Challenge, parse_www_authenticate};
pub use clock::{Clock, FakeClock, SystemClock};
pub use credentials::{Credential, CredentialOptions, CredentialStore, Secret};
pub use error::{Error, TransportErrorKind};
pub use http::{
    HttpClient, HttpOptions, HttpResponse, HttpStats, ProxyConfig, RequestCount, RequestKind,
};
pub use reference::{
    DOCKER_HUB_API_HOST, DOCKER_HUB_CONFIG_KEY, DOCKER_HUB_DOMAIN, ImageReference, ImageSelector,
    is_image_id,
};
pub use token::{DEFAULT_EXPIRES_IN, Token, TokenGrant, fetch_token, parse_token_response};
