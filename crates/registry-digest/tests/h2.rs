//! HTTP/2 where the registry offers it: the CNCF registry (Go's `net/http`) offers `h2` by
//! ALPN over TLS, and every manifest `HEAD` of a session then shares one connection. Over
//! plain HTTP the client stays on HTTP/1.1. Connections are counted by a testkit
//! [`LatencyProxy`] with no delay in front of the registry; the protocol of each request is
//! read from the registry's own access log (`"HEAD /v2/... HTTP/2.0"`).

mod common;

use watchtower_registry_auth::ImageReference;
use watchtower_registry_digest::{CheckRequest, Freshness, RequestKind};
use watchtower_testkit::{LatencyOptions, LatencyProxy, Registry as TestRegistry, RegistryMode};

/// Distinct images checked at once: above the per-host limit of HTTP/1.1 would make the
/// client open at least this many connections without multiplexing.
const IMAGES: usize = 20;

/// Pushes `IMAGES` images; returns the registry, a proxy in front of it and the requests
/// (named through the proxy), each fresh.
async fn images_behind_a_proxy(
    mode: RegistryMode,
) -> (TestRegistry, LatencyProxy, Vec<CheckRequest>) {
    let registry = TestRegistry::start(mode).await.expect("a testkit registry");
    let proxy = LatencyProxy::start(
        registry.host().parse().expect("an address"),
        LatencyOptions::none(),
    )
    .await
    .expect("the proxy");
    let mut requests = Vec::new();
    for i in 0..IMAGES {
        let repo = format!("h2/app-{i:02}");
        let digest = registry
            .push_synthetic_image(&repo, "latest", &repo)
            .await
            .expect("push");
        requests.push(CheckRequest {
            reference: ImageReference::parse(&format!("{}/{repo}:latest", proxy.host()))
                .expect("a reference"),
            local_repo_digests: vec![format!("{}/{repo}@{digest}", proxy.host())],
        });
    }
    (registry, proxy, requests)
}

/// The protocols (`HTTP/2.0`, `HTTP/1.1`) of the manifest `HEAD`s in the registry's log.
fn head_protocols(registry: &TestRegistry) -> Vec<String> {
    registry
        .log_tail()
        .lines()
        .filter(|l| l.contains("\"HEAD /v2/h2/"))
        .filter_map(|l| {
            let request = l.split('"').nth(1)?;
            Some(request.rsplit(' ').next()?.to_owned())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heads_over_tls_share_one_http2_connection() {
    let (registry, proxy, requests) = images_behind_a_proxy(RegistryMode::Tls).await;
    let client = common::client_for(&registry, &common::fake_now());
    registry.flush_access_log().await.expect("flush");
    registry.clear_access_log();

    for session in 0..2 {
        let results = client.check_many(&requests).await;
        for result in &results {
            assert_eq!(result.freshness, Freshness::Fresh, "{result:?}");
        }
        // The challenge and every HEAD on one connection after one TLS handshake; the
        // second session reuses the pooled connection.
        assert_eq!(
            proxy.connections(),
            1,
            "session {session}: {} connections for {IMAGES} concurrent HEADs",
            proxy.connections()
        );
        assert_eq!(proxy.client_hellos(), 1, "session {session}");
    }
    registry.flush_access_log().await.expect("flush");
    assert_eq!(registry.count_requests("HEAD", "/manifests/"), 2 * IMAGES);
    assert_eq!(
        client.metrics().http.requests_of(RequestKind::ManifestHead),
        2 * IMAGES as u64
    );
    let protocols = head_protocols(&registry);
    assert_eq!(protocols.len(), 2 * IMAGES, "{protocols:?}");
    assert!(
        protocols.iter().all(|p| p == "HTTP/2.0"),
        "the registry saw {protocols:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_stays_on_http1_with_parallel_connections() {
    let (registry, proxy, requests) = images_behind_a_proxy(RegistryMode::Plain).await;
    let client = common::client_for(&registry, &common::fake_now());
    let results = client.check_many(&requests).await;
    for result in &results {
        assert_eq!(result.freshness, Freshness::Fresh, "{result:?}");
    }
    let protocols = head_protocols(&registry);
    assert_eq!(protocols.len(), IMAGES, "{protocols:?}");
    assert!(
        protocols.iter().all(|p| p == "HTTP/1.1"),
        "the registry saw {protocols:?}"
    );
    // The first contact tries TLS (a ClientHello the plain server hangs up on), then all
    // HEADs run at once (the per-host limit is 20), each HTTP/1.1 request on a connection
    // of its own (the challenge's connection is reused by one of them).
    assert_eq!(proxy.client_hellos(), 1);
    assert!(
        proxy.connections() > IMAGES as u64,
        "{} connections: the HEADs were not all sent at once",
        proxy.connections()
    );
}
