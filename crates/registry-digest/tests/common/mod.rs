//! Shared helpers of the integration tests: registry clients for each testkit mode. Test
//! images are pushed with `watchtower_testkit::Registry::push_synthetic_image` (straight
//! through the registry API, no Docker Engine needed).

#![allow(dead_code, unreachable_pub)] // each test binary uses a different subset

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use sha2::{Digest as _, Sha256};
use watchtower_registry_auth::{
    Clock, CredentialOptions, CredentialStore, FakeClock, ImageReference, Secret,
};
use watchtower_registry_digest::{InsecureRegistries, Registry, RegistryOptions};
use watchtower_testkit::Registry as TestRegistry;
use watchtower_tls_config::{CaBundle, TlsSettings};

pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Credentials of the testkit registry, as `REPO_USER`/`REPO_PASS` would give them.
pub fn credentials_of(registry: &TestRegistry) -> CredentialStore {
    match registry.credentials() {
        Some((u, p)) => CredentialStore::new(CredentialOptions {
            repo_user_pass: Some((u.to_owned(), Secret::new(p))),
            ..CredentialOptions::default()
        }),
        None => CredentialStore::anonymous(),
    }
}

/// A fake clock at the real current time (the registry checks JWT times in real time).
pub fn fake_now() -> FakeClock {
    FakeClock::new(SystemTime::now())
}

/// Options for a client of `registry`: its credentials, its CA when it serves TLS, the
/// engine's default insecure list (127.0.0.0/8), short timeouts.
pub fn options_for(registry: &TestRegistry, clock: &FakeClock) -> RegistryOptions {
    let tls = match registry.ca_pem_path() {
        Some(path) => {
            TlsSettings::verified(Some(CaBundle::load(path).expect("the testkit CA loads")))
        }
        None => TlsSettings::default(),
    };
    RegistryOptions {
        tls,
        insecure_registries: InsecureRegistries::engine_default(),
        credentials: credentials_of(registry),
        clock: Arc::new(clock.clone()) as Arc<dyn Clock>,
        request_timeout: Duration::from_secs(10),
        ..RegistryOptions::default()
    }
}

pub fn client_for(registry: &TestRegistry, clock: &FakeClock) -> Registry {
    Registry::new(options_for(registry, clock)).expect("registry client")
}

pub fn reference(registry: &TestRegistry, repo: &str, tag: &str) -> ImageReference {
    ImageReference::parse(&format!("{}/{repo}:{tag}", registry.host())).expect("valid reference")
}

/// `RepoDigests` as the engine reports them for an image pulled from `registry`.
pub fn repo_digests(registry: &TestRegistry, repo: &str, digest: &str) -> Vec<String> {
    vec![format!("{}/{repo}@{digest}", registry.host())]
}
