//! The freshness check with proxy variables in the environment, as the binary runs it:
//! `RegistryOptions::default()` builds its HTTP client with `HttpOptions::default()`, which
//! reads `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY`. The test process's environment is never
//! changed: each test runs itself again as a child process with the variables set.
//!
//! Relaying through a working proxy (`CONNECT` tunnels, absolute form, credentials,
//! `NO_PROXY`) is tested against the real registry in `watchtower-registry-auth`'s
//! `tests/proxy.rs`.

use std::time::Duration;

use watchtower_registry_auth::ImageReference;
use watchtower_registry_digest::{Freshness, Registry, RegistryOptions};

/// Set in the child process, which then does the check and prints `CHILD-RESULT`.
const CHILD: &str = "WATCHTOWER_PROXY_TEST_CHILD";

/// Runs `test` of this binary in a child process whose only proxy variables are `env`.
async fn run_child(test: &str, env: &[(&str, &str)]) -> String {
    let mut command = tokio::process::Command::new(std::env::current_exe().unwrap());
    command.args([test, "--exact", "--nocapture", "--test-threads=1"]);
    for variable in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "NO_PROXY",
        "no_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        command.env_remove(variable);
    }
    command.env(CHILD, "1");
    for (name, value) in env {
        command.env(name, value);
    }
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("the child process finishes")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "child failed\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        .find_map(|l| l.split_once("CHILD-RESULT ").map(|(_, result)| result))
        .unwrap_or_else(|| panic!("the child ran no test: {stdout}"))
        .to_owned()
}

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
    if std::env::var_os(CHILD).is_some() {
        return child_check().await;
    }
    // A port that was just free: nothing listens there.
    let dead = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    };
    let proxy = format!("http://alice:hunter22@{dead}");
    let result = run_child(
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
    if std::env::var_os(CHILD).is_some() {
        return child_check().await;
    }
    let result = run_child(
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
