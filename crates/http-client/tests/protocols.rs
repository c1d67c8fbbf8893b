//! HTTP/2 by ALPN against the CNCF registry (Go's `net/http`, which offers `h2` over TLS),
//! HTTP/1.1 over plain HTTP, and the first-contact gate: requests started together to a new
//! HTTPS server share one HTTP/2 connection instead of each opening one. Connections and TLS
//! handshakes are counted by a testkit `LatencyProxy` in front of the registry, with a small
//! delay so that connection attempts overlap as they do over a real network.

use std::time::Duration;

use bytes::Bytes;
use http::Version;
use watchtower_http_client::{HttpClient, HttpOptions, ProxyConfig, TlsSettings};
use watchtower_testkit::{LatencyOptions, LatencyProxy, Registry, RegistryMode};
use watchtower_tls_config::CaBundle;

const CONCURRENT: usize = 20;

fn client(registry: &Registry, http2: bool) -> HttpClient {
    let tls = match registry.ca_pem_path() {
        Some(path) => TlsSettings::verified(Some(CaBundle::load(path).expect("the testkit CA"))),
        None => TlsSettings::default(),
    };
    HttpClient::new(HttpOptions {
        tls,
        http2,
        proxy: ProxyConfig::none(),
        ..HttpOptions::default()
    })
    .expect("a client")
}

/// Sends `CONCURRENT` `GET /v2/` at once to `base` (through the proxy); returns the
/// protocol the client learned for `host`.
async fn concurrent_gets(client: &HttpClient, base: &str, host: &str) -> Option<Version> {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENT {
        let client = client.clone();
        let url = format!("{base}/v2/");
        let host = host.to_owned();
        tasks.spawn(async move {
            let request = http::Request::get(url)
                .body(Bytes::new())
                .expect("a request");
            client.send(&host, request).await.expect("an answer").status
        });
    }
    let mut answered = 0;
    while let Some(status) = tasks.join_next().await {
        assert_eq!(status.expect("the task"), http::StatusCode::OK);
        answered += 1;
    }
    assert_eq!(answered, CONCURRENT);
    client.protocol_of(host)
}

async fn behind_proxy(mode: RegistryMode) -> (Registry, LatencyProxy) {
    let registry = Registry::start(mode).await.expect("a testkit registry");
    let proxy = LatencyProxy::start(
        registry.host().parse().expect("an address"),
        LatencyOptions::round_trip(Duration::from_millis(20)),
    )
    .await
    .expect("the proxy");
    (registry, proxy)
}

/// The protocols of the `GET /v2/` requests the registry logged (the bench's own included:
/// its readiness checks come in HTTP/1.1 and before the proxy existed).
fn logged_protocols(registry: &Registry, from: usize) -> Vec<String> {
    registry
        .log_tail()
        .lines()
        .filter(|l| l.contains("\"GET /v2/ HTTP/"))
        .filter_map(|l| Some(l.split('"').nth(1)?.rsplit(' ').next()?.to_owned()))
        .skip(from)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_requests_over_tls_share_one_http2_connection() {
    let (registry, proxy) = behind_proxy(RegistryMode::Tls).await;
    let before = logged_protocols(&registry, 0).len();
    let client = client(&registry, true);
    let base = format!("https://{}", proxy.host());
    assert_eq!(client.protocol_of(&proxy.host()), None);

    let version = concurrent_gets(&client, &base, &proxy.host()).await;
    assert_eq!(
        proxy.connections(),
        1,
        "connections for {CONCURRENT} requests"
    );
    assert_eq!(proxy.client_hellos(), 1);
    assert_eq!(client.connections_opened(), 1);
    assert_eq!(version, Some(Version::HTTP_2));

    // Known to be HTTP/2 now: the next burst goes at once, on the same connection.
    concurrent_gets(&client, &base, &proxy.host()).await;
    assert_eq!(proxy.connections(), 1);

    registry.flush_access_log().await.expect("flush");
    let logged = logged_protocols(&registry, before);
    assert_eq!(logged.len(), 2 * CONCURRENT, "{logged:?}");
    assert!(logged.iter().all(|p| p == "HTTP/2.0"), "{logged:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_http2_tls_requests_run_on_parallel_http1_connections() {
    let (registry, proxy) = behind_proxy(RegistryMode::Tls).await;
    let before = logged_protocols(&registry, 0).len();
    let client = client(&registry, false);
    let base = format!("https://{}", proxy.host());
    // Not gated: HTTP/1.1 needs a connection per request in flight.
    let version = concurrent_gets(&client, &base, &proxy.host()).await;
    assert_eq!(version, None, "not recorded without HTTP/2");
    assert!(
        proxy.connections() > 1,
        "{} connections: the requests were serialised",
        proxy.connections()
    );
    assert_eq!(proxy.client_hellos(), proxy.connections());
    let logged = logged_protocols(&registry, before);
    assert!(logged.iter().all(|p| p == "HTTP/1.1"), "{logged:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_stays_on_http1_and_is_not_gated() {
    let (registry, proxy) = behind_proxy(RegistryMode::Plain).await;
    let before = logged_protocols(&registry, 0).len();
    let client = client(&registry, true);
    let base = format!("http://{}", proxy.host());
    let version = concurrent_gets(&client, &base, &proxy.host()).await;
    assert_eq!(version, None, "plain HTTP is not recorded");
    assert_eq!(proxy.client_hellos(), 0);
    assert!(
        proxy.connections() > 1,
        "{} connections: plain requests were serialised",
        proxy.connections()
    );
    let logged = logged_protocols(&registry, before);
    assert_eq!(logged.len(), CONCURRENT, "{logged:?}");
    assert!(logged.iter().all(|p| p == "HTTP/1.1"), "{logged:?}");
}
