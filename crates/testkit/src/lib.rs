//! Dev-only test bench for watchtower: a real Docker Engine, the real CNCF distribution
//! registry, fixture images built at test time, TLS material and a bearer-token server.
//!
//! Every integration test of the workspace that talks to Docker or to a registry builds on this
//! crate. Nothing here is faked: the registry is Debian's `docker-registry` binary (distribution
//! 2.8) started on `127.0.0.1:<free port>`, images are really built, pushed and pulled by the
//! engine, and the token server issues JWTs that the registry verifies.
//!
//! # The parts
//!
//! - [`Engine`]: a bollard client for the engine named by `DOCKER_HOST` (or the default socket).
//!   [`Engine::require`] returns `None` and prints a loud `SKIPPED` block when no engine answers,
//!   and panics instead when `WATCHTOWER_E2E=required` (CI must fail, not skip). Every object it
//!   creates carries the labels [`RUN_LABEL`] and [`PID_LABEL`]; dropping the `Engine` removes
//!   everything labelled with its run id (also while a test panics), and creating one sweeps
//!   objects left behind by test processes that no longer exist.
//! - [`Registry`]: the registry in one of four [`RegistryMode`]s: plain HTTP, HTTPS with a CA made
//!   at test time, htpasswd basic auth, or bearer tokens from the in-process [`TokenServer`]
//!   (combinations through [`RegistryOptions`]). It parses the registry's access log so tests can
//!   count requests ([`Registry::count_requests`]).
//! - [`Registry::push_synthetic_image`]: a tiny image pushed straight through the registry API
//!   (blobs and manifest, no engine), for tests of registry clients; [`Registry::push_manifest`]
//!   pushes any manifest (indexes, manifest lists) and [`Registry::manifest_bytes`] reads one.
//! - [`FixtureImage`]: an image `FROM scratch` around the host's static busybox, with a version
//!   label and env var, pushed to a [`Registry`]. [`FixtureImage::publish_next_version`] pushes
//!   version N+1 under the same tag while the engine keeps version N locally, exactly the state a
//!   watchtower run finds in the wild.
//! - [`tls::TestCa`]: certificate authorities and certificates made with rcgen.
//! - [`FaultProxy`] ([`faults`]): a fault-injecting HTTP/1.1 proxy in front of the engine's
//!   socket or a registry: by rule it answers 500, delays, closes the connection, drops the
//!   answer after the upstream acted, or kills the caller, and records which rules fired.
//! - [`TestProxy`]: an HTTP proxy (`CONNECT` tunnels and absolute-form forwarding) that
//!   records what it relayed; [`proxy::run_test_in_child`] runs a test again with proxy
//!   variables in its environment.
//!
//! # Example
//!
//! ```no_run
//! use watchtower_testkit::{ContainerSpec, Engine, FixtureImage, FixtureSpec, Registry, RegistryMode};
//!
//! #[tokio::test]
//! async fn updates_a_container() -> anyhow::Result<()> {
//!     // Skips loudly without an engine; fails under WATCHTOWER_E2E=required.
//!     let Some(engine) = Engine::require().await else { return Ok(()) };
//!     let registry = Registry::start(RegistryMode::Basic).await?;
//!     let mut image =
//!         FixtureImage::publish(&engine, &registry, "bench/app", FixtureSpec::default()).await?;
//!     let name = engine.unique_name("app");
//!     engine.run_container(&name, ContainerSpec::new(image.reference())).await?;
//!
//!     image.publish_next_version().await?; // the registry now has v2, the engine still v1
//!     registry.clear_access_log();
//!     // ... run the code under test against `registry.host()` with `registry.credentials()` ...
//!     registry.flush_access_log().await?;
//!     assert_eq!(registry.count_requests("HEAD", "/manifests/latest"), 1);
//!     Ok(())
//! } // dropping `engine` removes the container and the images, dropping `registry` stops it
//! ```
//!
//! # What tests see
//!
//! - [`Registry::access_log`] and [`Registry::count_requests`] leave out the bench's own requests
//!   (readiness checks, [`Registry::manifest_digest`], synthetic pushes, flushes; they carry
//!   [`client::TESTKIT_USER_AGENT`]), so a count is what the code under test and the engine
//!   sent. The registry writes a log line just after each response: call
//!   [`Registry::flush_access_log`] before counting.
//! - [`TokenServer::requests`] counts every request to the token endpoint, refused ones too;
//!   the bench's own tokens are minted in-process and never counted.
//! - Credentials are random per registry ([`Registry::credentials`]), so a test can search
//!   logs and errors for the password to prove it never leaks.
//! - The Docker Engine treats `127.0.0.0/8` as an insecure registry range, so it skips
//!   certificate checks for the HTTPS registry. Tests that must prove TLS verification use
//!   [`tls::TestCa::client_config`] (the CA as the only root) with their own client, or
//!   [`client::HttpClient`].
//! - [`FixtureImage::image_id`] is the id the engine reports after pulling that version (the
//!   classic image store's config digest).
//!
//! # Rules the bench keeps
//!
//! - Everything it starts listens on `127.0.0.1`. Containers default to `network_mode: none`;
//!   networks are always `internal`. Nothing connects to a container's address.
//! - No image is pulled from the internet: fixtures are built from `/bin/busybox`
//!   (Debian's `busybox-static`; override the path with `WATCHTOWER_TESTKIT_BUSYBOX`).
//! - The registry binary is `/usr/bin/docker-registry` (override with
//!   `WATCHTOWER_TESTKIT_REGISTRY_BIN`); when missing, the error says how to install it.
//! - Fixture images are built with the classic builder (`version=1`), with `network_mode:
//!   none` and no cache, so runs never share intermediate images.
//! - This crate is for tests only: it uses `anyhow`, prints to stderr and panics on misuse.
//!   Library crates must never depend on it outside `[dev-dependencies]`.
//!
//! # Environment
//!
//! | variable | effect |
//! | --- | --- |
//! | `DOCKER_HOST` | the engine (`unix://...`, `tcp://...`); default `/var/run/docker.sock` |
//! | `WATCHTOWER_E2E=required` | a missing engine fails the test instead of skipping it |
//! | `WATCHTOWER_TESTKIT_REGISTRY_BIN` | another distribution registry binary |
//! | `WATCHTOWER_TESTKIT_BUSYBOX` | another statically linked busybox |

#![warn(missing_docs)]

pub mod client;
mod engine;
pub mod faults;
mod fixture;
pub mod latency;
pub mod proxy;
mod push;
mod registry;
pub mod tls;
mod token;
mod volumes;

pub use engine::{
    ContainerSpec, Engine, PID_LABEL, PID_NAMESPACE_LABEL, RUN_LABEL, SESSION_ENV, SESSION_LABEL,
};
pub use faults::FaultProxy;
pub use fixture::{DEFAULT_CMD, FixtureImage, FixtureSpec, VERSION_LABEL};
pub use latency::{LatencyOptions, LatencyProxy};
pub use proxy::{Relayed, TestProxy};
pub use registry::{AccessLogEntry, Auth, REGISTRY_USER, Registry, RegistryMode, RegistryOptions};
pub use token::{TokenRequest, TokenServer};
pub use volumes::AnonymousVolumes;

/// [`Engine::require`] under the name issue 2 gives it: the engine, or a loud skip (`None`),
/// or a panic under `WATCHTOWER_E2E=required`.
pub async fn require_engine() -> Option<Engine> {
    Engine::require().await
}

/// The environment variable that turns a skipped Docker-backed test into a failure.
pub const E2E_ENV: &str = "WATCHTOWER_E2E";

/// Whether Docker-backed tests must run: `WATCHTOWER_E2E=required` (set by CI).
///
/// When this is true a missing engine or registry is a test failure, not a skip.
pub fn e2e_required() -> bool {
    std::env::var(E2E_ENV).is_ok_and(|v| v.trim().eq_ignore_ascii_case("required"))
}

/// Reports that the current test cannot run because it `needs` something that is missing.
///
/// Prints a loud multi-line `SKIPPED: <test> needs <needs>: <reason>` block to stderr, or panics
/// with the same reason when [`e2e_required`] is true. Tests call this and then return early.
pub fn skip(needs: &str, reason: &str) {
    let test = current_test_name();
    let line = format!("SKIPPED: {test} needs {needs}: {reason}");
    assert!(
        !e2e_required(),
        "{line}\n({E2E_ENV}=required, so a skip is a failure)"
    );
    let bar = "=".repeat(line.len().min(100));
    eprintln!(
        "\n{bar}\n{line}\nThis test did NOT run. Set {E2E_ENV}=required to make this a failure.\n{bar}\n"
    );
}

/// The name of the running test, as far as the test harness tells it.
fn current_test_name() -> String {
    match std::thread::current().name() {
        Some(name) if name != "main" => name.to_owned(),
        _ => std::env::args()
            .skip(1)
            .find(|a| !a.starts_with('-'))
            .unwrap_or_else(|| "this test".to_owned()),
    }
}

/// A random lowercase hex string of `bytes` random bytes (ids, passwords, secrets).
pub(crate) fn random_hex(bytes: usize) -> String {
    use ring::rand::SecureRandom;
    let mut buf = vec![0u8; bytes];
    ring::rand::SystemRandom::new()
        .fill(&mut buf)
        .expect("the system random generator failed");
    hex::encode(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_hex_has_the_asked_length_and_differs() {
        let a = random_hex(8);
        let b = random_hex(8);
        assert_eq!(a.len(), 16);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
