//! Is this image still fresh? Asks the registry for the digest under an image's tag and
//! compares it with the local image's `RepoDigests`, over one shared, pooled HTTPS client.
//!
//! ```no_run
//! # async fn demo() -> Result<(), watchtower_registry_digest::Error> {
//! use watchtower_registry_auth::{CredentialStore, ImageReference};
//! use watchtower_registry_digest::{Freshness, Registry, RegistryOptions};
//!
//! let registry = Registry::new(RegistryOptions {
//!     credentials: CredentialStore::from_env(), // REPO_USER/REPO_PASS, $DOCKER_CONFIG
//!     ..RegistryOptions::default()
//! })?;
//! let image = ImageReference::parse("nginx:1.27").unwrap();
//! // The local image's RepoDigests, as `docker image inspect` shows them.
//! let local = vec!["nginx@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31".to_owned()];
//! match registry.check(&image, &local).await.freshness {
//!     Freshness::Fresh => println!("up to date"),
//!     Freshness::Stale { remote } => println!("new image {remote}"),
//!     Freshness::Unknown { reason } => println!("could not check: {reason}"),
//! }
//! # Ok(()) }
//! ```
//!
//! How it talks to registries:
//!
//! * HTTPS with certificate verification always (webpki roots plus `--registry-ca`). Plain
//!   HTTP only for registries the Docker Engine treats as insecure ([`InsecureRegistries`]:
//!   `127.0.0.0/8` and the engine's list) when they do not speak TLS, or for every registry
//!   with `--insecure-registry`. A certificate error is reported, never downgraded.
//! * `GET /v2/` once per registry host per [`Session`]; Bearer tokens per (realm, service,
//!   scope), cached until shortly before they expire and fetched once for concurrent askers.
//! * `HEAD /v2/<repo>/manifests/<tag>` accepting Docker v2 manifests and lists and OCI
//!   manifests and indexes; `Docker-Content-Digest` is the answer, else a `GET` and the
//!   sha256 of the body.
//! * Every request has a timeout and every body a size cap. A 429 is retried after
//!   `Retry-After` (bounded); rate-limit headers are returned and kept for metrics.
//! * [`Registry::check_many`] deduplicates references and bounds concurrency per host: 20
//!   manifest requests at once by default, halved on a `429` and held to half of a low
//!   `RateLimit-Remaining` ([`Registry::concurrency_limit`]). Over TLS, HTTP/2 is offered
//!   by ALPN and the requests to one host share one connection.
//!
//! Any failure ends in [`Freshness::Unknown`] with a reason naming the registry, never a panic.
//!
//! This crate depends on `watchtower-registry-auth` and `watchtower-tls-config`, and on no
//! Docker client: the caller passes the engine's `RepoDigests` and insecure-registry list.

#![warn(missing_docs)]

mod error;
mod insecure;
mod limit;
mod registry;

pub use error::Error;
pub use insecure::InsecureRegistries;
pub use registry::{
    CheckRequest, CheckResult, Freshness, MANIFEST_ACCEPT, RateLimit, Registry, RegistryMetrics,
    RegistryOptions, RemoteDigest, Session, compare, local_digests_for,
};
pub use watchtower_registry_auth::http::{HttpStats, RequestCount, RequestKind};
