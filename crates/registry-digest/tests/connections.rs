//! Connection reuse and the per-host concurrency bound (and how a low `RateLimit-Remaining`
//! lowers it), measured on the server side: a slow
//! fake registry on 127.0.0.1:0 (hyper, HTTP/1.1) counts the TCP connections that carry
//! HTTP requests and the peak number of manifest `HEAD`s in flight at once.
//!
//! The fake hangs up on a TLS `ClientHello` like any plain-HTTP server, so the client's first
//! contact (HTTPS first, then plain HTTP because 127.0.0.0/8 is insecure by default) costs one
//! extra connection that carries no request; it is counted apart.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncReadExt as _;
use tokio::net::TcpListener;
use watchtower_registry_auth::ImageReference;
use watchtower_registry_digest::{CheckRequest, Freshness, Registry, RegistryOptions};

const DIGEST: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

/// What the fake saw.
#[derive(Default)]
struct Seen {
    /// Connections whose first byte was a TLS handshake record (hung up on).
    tls_probes: AtomicUsize,
    /// Connections that carried HTTP.
    http_connections: AtomicUsize,
    /// `GET /v2/` requests.
    pings: AtomicUsize,
    /// Manifest `HEAD` requests.
    heads: AtomicUsize,
    /// Manifest `HEAD`s being answered right now.
    in_flight: AtomicUsize,
    /// The most `HEAD`s ever in flight at once.
    peak: AtomicUsize,
    /// The `RateLimit-Remaining` every `HEAD` answer carries (0: none).
    remaining: AtomicUsize,
}

impl Seen {
    fn get(counter: &AtomicUsize) -> usize {
        counter.load(Ordering::SeqCst)
    }
}

/// Decrements the in-flight count however the handler ends.
struct InFlight(Arc<Seen>);

impl InFlight {
    fn enter(seen: &Arc<Seen>) -> Self {
        let now = seen.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        seen.peak.fetch_max(now, Ordering::SeqCst);
        InFlight(seen.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A registry that answers `GET /v2/` at once and every manifest `HEAD` after `delay`.
struct SlowRegistry {
    addr: SocketAddr,
    seen: Arc<Seen>,
    server: tokio::task::JoinHandle<()>,
}

impl SlowRegistry {
    async fn start(delay: Duration) -> SlowRegistry {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let seen = Arc::new(Seen::default());
        let server = tokio::spawn({
            let seen = seen.clone();
            async move {
                loop {
                    let Ok((mut stream, _)) = listener.accept().await else {
                        return;
                    };
                    let seen = seen.clone();
                    tokio::spawn(async move {
                        let mut first = [0u8; 1];
                        match stream.peek(&mut first).await {
                            Ok(1) if first[0] == 0x16 => {
                                seen.tls_probes.fetch_add(1, Ordering::SeqCst);
                                // A ClientHello: read it and hang up, as a plain server
                                // that does not speak TLS would (unread data would make
                                // the close a reset).
                                let mut hello = [0u8; 4096];
                                let _ = stream.read(&mut hello).await;
                                return;
                            }
                            Ok(1) => {}
                            _ => return,
                        }
                        seen.http_connections.fetch_add(1, Ordering::SeqCst);
                        let service = service_fn(move |req| answer(req, seen.clone(), delay));
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            }
        });
        SlowRegistry { addr, seen, server }
    }

    fn image(&self, repo: &str) -> ImageReference {
        ImageReference::parse(&format!("{}/{repo}:latest", self.addr)).expect("valid reference")
    }
}

impl Drop for SlowRegistry {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn answer(
    req: Request<Incoming>,
    seen: Arc<Seen>,
    delay: Duration,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path();
    let response = if req.method() == Method::GET && path == "/v2/" {
        seen.pings.fetch_add(1, Ordering::SeqCst);
        Response::new(Full::new(Bytes::from_static(b"{}")))
    } else if req.method() == Method::HEAD && path.contains("/manifests/") {
        seen.heads.fetch_add(1, Ordering::SeqCst);
        let _in_flight = InFlight::enter(&seen);
        tokio::time::sleep(delay).await;
        let mut response = Response::builder();
        match Seen::get(&seen.remaining) {
            0 => {}
            n => response = response.header("ratelimit-remaining", format!("{n};w=21600")),
        }
        response
            .header("docker-content-digest", DIGEST)
            .header(
                "content-type",
                "application/vnd.docker.distribution.manifest.v2+json",
            )
            .body(Full::new(Bytes::new()))
            .expect("a valid response")
    } else {
        Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Full::new(Bytes::new()))
            .expect("a valid response")
    };
    Ok(response)
}

fn client(per_host_concurrency: usize) -> Registry {
    Registry::new(RegistryOptions {
        per_host_concurrency,
        request_timeout: Duration::from_secs(20),
        ..RegistryOptions::default()
    })
    .expect("registry client")
}

fn local_digests(image: &ImageReference) -> Vec<String> {
    vec![format!(
        "{}/{}@{DIGEST}",
        image.registry(),
        image.repository()
    )]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_checks_reuse_pooled_connections() {
    const SESSIONS: usize = 30;
    const IN_ONE_SESSION: usize = 15;
    let fake = SlowRegistry::start(Duration::from_millis(20)).await;
    let registry = client(4);

    // Sessions one right after the other...
    for i in 0..SESSIONS {
        let image = fake.image(&format!("team/app{}", i % 3));
        let result = registry.check(&image, &local_digests(&image)).await;
        assert_eq!(result.freshness, Freshness::Fresh, "check {i}: {result:?}");
    }
    // ...and HEADs one right after the other within one session.
    let session = registry.session();
    for i in 0..IN_ONE_SESSION {
        let image = fake.image(&format!("team/lib{i}"));
        let result = session.check(&image, &local_digests(&image)).await;
        assert_eq!(result.freshness, Freshness::Fresh, "session check {i}");
    }

    let seen = &fake.seen;
    let requests = 2 * SESSIONS + 1 + IN_ONE_SESSION;
    assert_eq!(Seen::get(&seen.heads), SESSIONS + IN_ONE_SESSION);
    assert_eq!(Seen::get(&seen.pings), SESSIONS + 1, "one ping per session");
    assert_eq!(Seen::get(&seen.peak), 1, "sequential checks never overlap");
    assert_eq!(Seen::get(&seen.tls_probes), 1);
    // Connections are reused, but not always exactly one: an answer without a body (a
    // HEAD, or a ping whose two-byte body came with the headers) reaches the caller a
    // moment before hyper-util has put its connection back into the pool, and a request
    // made in that moment opens another connection (which then stays pooled too). Seen:
    // one connection in most runs, two or three in some. Without reuse there would be one
    // connection per request.
    let connections = Seen::get(&seen.http_connections);
    assert!(
        (1..=requests / 8).contains(&connections),
        "{requests} sequential requests used {connections} connections"
    );
    // The client's own count: the TLS probe, the connections the server saw, and any that
    // lost the race to a pooled one and never carried a request.
    let opened = usize::try_from(registry.metrics().http.connections_opened).expect("small");
    assert!(
        (connections + 1..=1 + requests / 8).contains(&opened),
        "the client opened {opened} connections for {requests} sequential requests"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_low_ratelimit_remaining_lowers_the_per_host_bound() {
    let fake = SlowRegistry::start(Duration::from_millis(150)).await;
    let registry = client(20);
    let batch = |from: usize| -> Vec<CheckRequest> {
        (from..from + 12)
            .map(|i| {
                let reference = fake.image(&format!("limited/app{i}"));
                CheckRequest {
                    local_repo_digests: local_digests(&reference),
                    reference,
                }
            })
            .collect()
    };
    let host = fake.addr.to_string();

    // Plenty left: all twelve at once.
    fake.seen.remaining.store(5000, Ordering::SeqCst);
    registry.check_many(&batch(0)).await;
    assert_eq!(Seen::get(&fake.seen.peak), 12);
    assert_eq!(registry.concurrency_limit(&host), Some(20));

    // Six left: at most three at once from the next request on.
    fake.seen.remaining.store(6, Ordering::SeqCst);
    registry.check_many(&batch(100)).await;
    assert_eq!(registry.concurrency_limit(&host), Some(3));
    fake.seen.peak.store(0, Ordering::SeqCst);
    let results = registry.check_many(&batch(200)).await;
    assert!(results.iter().all(|r| r.freshness == Freshness::Fresh));
    assert_eq!(Seen::get(&fake.seen.peak), 3);
}

/// `count` distinct images of one host checked in one `check_many` with the bound
/// `per_host`: returns (peak HEADs in flight, HTTP connections) as the server saw them.
async fn check_many_against_slow_registry(per_host: usize, count: usize) -> (usize, usize) {
    let fake = SlowRegistry::start(Duration::from_millis(150)).await;
    let registry = client(per_host);
    let requests: Vec<CheckRequest> = (0..count)
        .map(|i| {
            let reference = fake.image(&format!("many/app{i}"));
            CheckRequest {
                local_repo_digests: local_digests(&reference),
                reference,
            }
        })
        .collect();

    let results = registry.check_many(&requests).await;

    assert_eq!(results.len(), count);
    for result in &results {
        assert_eq!(result.freshness, Freshness::Fresh, "{result:?}");
    }
    let seen = &fake.seen;
    assert_eq!(Seen::get(&seen.heads), count, "one HEAD per distinct image");
    assert_eq!(Seen::get(&seen.pings), 1, "one ping for the session");
    assert_eq!(Seen::get(&seen.in_flight), 0);
    (Seen::get(&seen.peak), Seen::get(&seen.http_connections))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_heads_to_one_host_stay_within_per_host_concurrency() {
    for per_host in [1, 3, 4] {
        let count = 12.max(4 * per_host + 2);
        let (peak, connections) = check_many_against_slow_registry(per_host, count).await;
        // The bound holds: without it all `count` HEADs would be in flight at once.
        assert!(
            peak <= per_host,
            "per_host_concurrency {per_host}: {peak} HEADs were in flight at once"
        );
        // And it is used: the images are checked concurrently up to the bound.
        assert_eq!(
            peak, per_host,
            "per_host_concurrency {per_host}: the checks did not run concurrently"
        );
        // Connections are reused for the queued checks: far fewer than HEADs. (Not a hard
        // `per_host`: see `sequential_checks_reuse_pooled_connections`.)
        assert!(
            (1..=count / 3).contains(&connections),
            "per_host_concurrency {per_host}: {connections} connections for {count} HEADs"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_checks_of_one_client_share_the_per_host_bound() {
    // Many tasks asking one (cloned) client at the same time, each `check` a session of its
    // own: `per_host_concurrency` says "at most this many manifest requests run at once
    // against one registry host", not "per session".
    let fake = Arc::new(SlowRegistry::start(Duration::from_millis(250)).await);
    let per_host = 2;
    let registry = client(per_host);
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let registry = registry.clone();
            let image = fake.image(&format!("tasks/app{i}"));
            tokio::spawn(async move { registry.check(&image, &local_digests(&image)).await })
        })
        .collect();
    for task in tasks {
        let result = task.await.expect("the check task");
        assert_eq!(result.freshness, Freshness::Fresh, "{result:?}");
    }
    let peak = Seen::get(&fake.seen.peak);
    assert!(
        peak <= per_host,
        "{peak} HEADs in flight at once with per_host_concurrency {per_host}"
    );
}
