//! `RegistryChecker::check_many` against a slow registry on 127.0.0.1: the session's
//! `concurrency` bounds how many manifest `HEAD`s are in flight, the registry client's
//! per-host bound still applies on top, and every answer lands at its query's position.
//!
//! The registry is a small HTTP/1.1 server written here (the real one cannot be slowed
//! down): `GET /v2/` answers 200 without a challenge, `HEAD /v2/<repo>/manifests/<tag>`
//! answers after a delay with a digest derived from the repository name, and the peak
//! number of `HEAD`s in flight is recorded.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use watchtower_actions::{Freshness, FreshnessChecker, FreshnessQuery, RegistryChecker};
use watchtower_registry_auth::ImageReference;
use watchtower_registry_digest::RegistryOptions;

/// How long each manifest `HEAD` takes.
const DELAY: Duration = Duration::from_millis(150);

#[derive(Default)]
struct Counters {
    in_flight: AtomicUsize,
    peak: AtomicUsize,
    heads: AtomicUsize,
}

struct SlowRegistry {
    host: String,
    counters: Arc<Counters>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SlowRegistry {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SlowRegistry {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let host = listener.local_addr().expect("local address").to_string();
        let counters = Arc::new(Counters::default());
        let task = tokio::spawn({
            let counters = counters.clone();
            async move {
                while let Ok((socket, _)) = listener.accept().await {
                    tokio::spawn(serve(socket, counters.clone()));
                }
            }
        });
        Self {
            host,
            counters,
            task,
        }
    }

    fn peak(&self) -> usize {
        self.counters.peak.load(Ordering::SeqCst)
    }

    fn heads(&self) -> usize {
        self.counters.heads.load(Ordering::SeqCst)
    }
}

/// The digest the registry serves for `repo`: its first byte's hex, repeated.
fn digest_of(repo: &str) -> String {
    format!(
        "sha256:{}",
        format!("{:02x}", repo.as_bytes()[0]).repeat(32)
    )
}

async fn serve(mut socket: TcpStream, counters: Arc<Counters>) {
    let mut buffer: Vec<u8> = Vec::new();
    let mut chunk = [0_u8; 4096];
    loop {
        let head_end = loop {
            if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n".as_slice()) {
                break i + 4;
            }
            // The client tries TLS first: a plain-HTTP server answers its ClientHello with
            // 400 and hangs up, and the client falls back to HTTP (127.0.0.1 is insecure).
            if buffer.first().is_some_and(|b| !b.is_ascii_uppercase()) {
                let _ = socket
                    .write_all(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
                    .await;
                return;
            }
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
        buffer.drain(..head_end);
        let mut request_line = head.lines().next().unwrap_or_default().split(' ');
        let method = request_line.next().unwrap_or_default();
        let path = request_line.next().unwrap_or_default();
        let response = match (method, path) {
            ("GET", "/v2/") => {
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
                    .to_owned()
            }
            ("HEAD", _) if path.contains("/manifests/") => {
                let now = counters.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                counters.peak.fetch_max(now, Ordering::SeqCst);
                counters.heads.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(DELAY).await;
                counters.in_flight.fetch_sub(1, Ordering::SeqCst);
                let repo = path
                    .trim_start_matches("/v2/")
                    .split("/manifests/")
                    .next()
                    .unwrap_or_default();
                format!(
                    "HTTP/1.1 200 OK\r\n\
                     Content-Type: application/vnd.docker.distribution.manifest.v2+json\r\n\
                     Docker-Content-Digest: {}\r\nContent-Length: 0\r\n\r\n",
                    digest_of(repo)
                )
            }
            _ => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_owned(),
        };
        if socket.write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}

fn checker(per_host_concurrency: usize) -> RegistryChecker {
    RegistryChecker::from_options(RegistryOptions {
        per_host_concurrency,
        request_timeout: Duration::from_secs(10),
        ..RegistryOptions::default()
    })
    .expect("a registry client")
}

/// `count` queries for distinct repositories of `registry`: even ones run what the registry
/// serves (fresh), odd ones something else (stale).
fn queries(registry: &SlowRegistry, count: usize) -> Vec<FreshnessQuery> {
    (0..count)
        .map(|i| {
            let repo = format!("{}pp", char::from(b'a' + u8::try_from(i).expect("few")));
            let digest = if i % 2 == 0 {
                digest_of(&repo)
            } else {
                format!("sha256:{}", "ee".repeat(32))
            };
            FreshnessQuery {
                reference: ImageReference::parse(&format!("{}/{repo}:1", registry.host))
                    .expect("a valid reference"),
                repo_digests: vec![format!("{}/{repo}@{digest}", registry.host)],
            }
        })
        .collect()
}

fn assert_fresh_and_stale(answers: &[Freshness], count: usize) {
    assert_eq!(answers.len(), count, "{answers:?}");
    for (i, answer) in answers.iter().enumerate() {
        if i % 2 == 0 {
            assert_eq!(answer, &Freshness::Fresh, "query {i}: {answers:?}");
        } else {
            assert!(
                matches!(answer, Freshness::Stale { .. }),
                "query {i}: {answers:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_many_keeps_to_the_session_concurrency() {
    let registry = SlowRegistry::start().await;
    // The per-host bound is far above the session's: only `concurrency` can hold it to 2.
    let answers = checker(16).check_many(&queries(&registry, 6), 2).await;
    assert_fresh_and_stale(&answers, 6);
    assert_eq!(registry.heads(), 6);
    assert_eq!(
        registry.peak(),
        2,
        "at most 2 HEADs at once, and the 6 were not asked one by one"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_host_bound_still_applies_below_the_session_concurrency() {
    let registry = SlowRegistry::start().await;
    let answers = checker(1).check_many(&queries(&registry, 4), 8).await;
    assert_fresh_and_stale(&answers, 4);
    assert_eq!(registry.peak(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_head_per_distinct_reference_and_answers_in_query_order() {
    let registry = SlowRegistry::start().await;
    let mut asked = queries(&registry, 2);
    // The same reference again, from a container on another local image (stale).
    asked.push(FreshnessQuery {
        reference: asked[0].reference.clone(),
        repo_digests: vec![],
    });
    let answers = checker(4).check_many(&asked, 4).await;
    assert_eq!(answers.len(), 3, "{answers:?}");
    assert_eq!(answers[0], Freshness::Fresh, "{answers:?}");
    assert!(matches!(answers[1], Freshness::Stale { .. }), "{answers:?}");
    assert!(matches!(answers[2], Freshness::Stale { .. }), "{answers:?}");
    assert_eq!(registry.heads(), 2, "one HEAD per distinct reference");
}
