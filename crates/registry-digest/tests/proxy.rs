//! The freshness check with proxy variables in the environment, as the binary runs it:
//! `RegistryOptions::default()` builds its HTTP client with `HttpOptions::default()`, which
//! reads `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY`. The test process's environment is never
//! changed: each test runs itself again as a child process with the variables set
//! (`watchtower_testkit::proxy::run_test_in_child`).
//!
//! Relaying through a working proxy (`CONNECT` tunnels, absolute form, credentials,
//! `NO_PROXY`) is tested against the real registry in `watchtower-registry-auth`'s
//! `tests/proxy.rs`.

use std::time::Duration;

use watchtower_registry_auth::ImageReference;
use watchtower_registry_digest::{Freshness, Registry, RegistryOptions};
use watchtower_testkit::proxy;

/// The child's part: the check as the binary makes it, with default options.
async fn child_check() {
    let registry = match Registry::new(RegistryOptions {
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(10),
        ..RegistryOptions::default()
    }) {
        Ok(registry) => registry,
        Err(err) => {
            println!("CHILD-RESULT startup error: {err}");
            return;
        }
    };
    let image = ImageReference::parse("registry.test:5000/team/app:latest").unwrap();
    let local = vec![format!(
        "registry.test:5000/team/app@sha256:{}",
        "a".repeat(64)
    )];
    let result = registry.check(&image, &local).await;
    println!("CHILD-RESULT {:?}", result.freshness);
}

#[tokio::test]
async fn a_dead_proxy_from_the_environment_makes_the_check_unknown_with_a_reason() {
    if proxy::is_child() {
        return child_check().await;
    }
    // A port that was just free: nothing listens there.
    let dead = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    };
    let proxy = format!("http://alice:hunter22@{dead}");
    let result = proxy::run_test_in_child(
        "a_dead_proxy_from_the_environment_makes_the_check_unknown_with_a_reason",
        &[("https_proxy", &proxy), ("NO_PROXY", "corp.example")],
    )
    .await;
    let expected = format!(
        "{:?}",
        Freshness::Unknown {
            reason: format!("registry registry.test:5000: proxy error: proxy {dead} unreachable: ")
        }
    );
    // Everything up to the OS's wording of "connection refused".
    let prefix = expected.trim_end_matches("\" }");
    assert!(result.starts_with(prefix), "{result}\nexpected {prefix}…");
    assert!(result.to_lowercase().contains("refused"), "{result}");
    assert!(!result.contains("hunter22"), "{result}");
}

#[tokio::test]
async fn an_unusable_proxy_variable_stops_the_registry_client_with_one_clear_error() {
    if proxy::is_child() {
        return child_check().await;
    }
    let result = proxy::run_test_in_child(
        "an_unusable_proxy_variable_stops_the_registry_client_with_one_clear_error",
        &[("HTTPS_PROXY", "socks5://alice:hunter22@proxy.corp:1080")],
    )
    .await;
    assert_eq!(
        result,
        "startup error: proxy setting HTTPS_PROXY=socks5://***@proxy.corp:1080: socks5 \
         proxies are not supported; use an http:// proxy"
    );
}
