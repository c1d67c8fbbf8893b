//! Faults, against small fake registries on 127.0.0.1:0 written here: a registry that is down,
//! answers 500, hangs, speaks garbage, sends bad headers, rate-limits or revokes tokens. Every
//! one ends in `Freshness::Unknown` with a reason naming the registry, never a panic.

mod common;

use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use watchtower_registry_auth::ImageReference;
use watchtower_registry_digest::{Freshness, Registry, RegistryOptions, RequestKind};

const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

struct Req {
    method: String,
    path: String,
    head: String,
    body: String,
}

enum Reply {
    Raw(Vec<u8>),
    Hang,
}

fn http(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut out = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        let _ = write!(out, "{k}: {v}\r\n");
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    Reply::Raw(bytes)
}

type Handler = Arc<dyn Fn(&Req) -> Reply + Send + Sync>;

/// A fake registry. It closes connections that start with a TLS handshake (as a plain-HTTP
/// server that does not speak TLS), so clients fall back to HTTP for 127.0.0.1.
struct Fake {
    port: u16,
    log: Arc<Mutex<Vec<String>>>,
}

impl Fake {
    async fn start(handler: impl Fn(&Req) -> Reply + Send + Sync + 'static) -> Fake {
        let handler: Handler = Arc::new(handler);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let log2 = log.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let handler = handler.clone();
                let log = log2.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    loop {
                        let mut chunk = [0u8; 4096];
                        let Ok(n) = sock.read(&mut chunk).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if buf.first() == Some(&0x16) {
                            return; // a TLS ClientHello: hang up
                        }
                        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                            continue;
                        };
                        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                        let length: usize = head
                            .lines()
                            .find_map(|l| {
                                let (name, value) = l.split_once(':')?;
                                name.eq_ignore_ascii_case("content-length")
                                    .then(|| value.trim().parse().ok())?
                            })
                            .unwrap_or(0);
                        while buf.len() < end + 4 + length {
                            let Ok(n) = sock.read(&mut chunk).await else {
                                return;
                            };
                            if n == 0 {
                                return;
                            }
                            buf.extend_from_slice(&chunk[..n]);
                        }
                        let body =
                            String::from_utf8_lossy(&buf[end + 4..end + 4 + length]).into_owned();
                        buf.drain(..end + 4 + length);
                        let mut first = head.lines().next().unwrap_or("").split(' ');
                        let req = Req {
                            method: first.next().unwrap_or("").to_owned(),
                            path: first.next().unwrap_or("").to_owned(),
                            head: head.clone(),
                            body,
                        };
                        log.lock()
                            .unwrap()
                            .push(format!("{} {}", req.method, req.path));
                        match handler(&req) {
                            Reply::Raw(bytes) => {
                                if sock.write_all(&bytes).await.is_err() {
                                    return;
                                }
                            }
                            Reply::Hang => {
                                tokio::time::sleep(Duration::from_secs(3600)).await;
                                return;
                            }
                        }
                    }
                });
            }
        });
        Fake { port, log }
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn image(&self) -> ImageReference {
        ImageReference::parse(&format!("{}/app:latest", self.host())).unwrap()
    }

    fn requests(&self, prefix: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.starts_with(prefix))
            .count()
    }
}

fn client(options: RegistryOptions) -> Registry {
    Registry::new(RegistryOptions {
        request_timeout: Duration::from_secs(2),
        ..options
    })
    .unwrap()
}

async fn unknown_reason(registry: &Registry, image: &ImageReference) -> String {
    match registry.check(image, &[]).await.freshness {
        Freshness::Unknown { reason } => reason,
        other => panic!("expected Unknown, got {other:?}"),
    }
}

/// The `Host` header of a request (hyper sends header names in lower case).
fn host_header(r: &Req) -> String {
    r.head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("host")
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_default()
}

fn ok_v2(req: &Req) -> Option<Reply> {
    (req.path == "/v2/").then(|| http("200 OK", &[], b"{}"))
}

#[tokio::test]
async fn registry_down() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let image = ImageReference::parse(&format!("127.0.0.1:{port}/app")).unwrap();
    let reason = unknown_reason(&client(RegistryOptions::default()), &image).await;
    assert!(
        reason.starts_with(&format!("registry 127.0.0.1:{port}: cannot connect")),
        "{reason}"
    );
}

#[tokio::test]
async fn server_error_on_the_challenge() {
    let fake = Fake::start(|_| http("500 Internal Server Error", &[], b"oops")).await;
    let reason = unknown_reason(&client(RegistryOptions::default()), &fake.image()).await;
    assert_eq!(
        reason,
        format!(
            "registry {}: GET /v2/ answered 500 Internal Server Error",
            fake.host()
        )
    );
}

#[tokio::test]
async fn server_error_on_the_manifest() {
    let fake =
        Fake::start(|r| ok_v2(r).unwrap_or_else(|| http("503 Service Unavailable", &[], b"")))
            .await;
    let reason = unknown_reason(&client(RegistryOptions::default()), &fake.image()).await;
    assert_eq!(
        reason,
        format!(
            "registry {}: HEAD /v2/app/manifests/latest answered 503 Service Unavailable",
            fake.host()
        )
    );
}

#[tokio::test]
async fn slow_registry_times_out() {
    let fake = Fake::start(|r| ok_v2(r).unwrap_or(Reply::Hang)).await;
    let registry = Registry::new(RegistryOptions {
        request_timeout: Duration::from_millis(500),
        ..RegistryOptions::default()
    })
    .unwrap();
    let started = tokio::time::Instant::now();
    let reason = unknown_reason(&registry, &fake.image()).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(
        reason.starts_with(&format!("registry {}: timed out", fake.host())),
        "{reason}"
    );
    assert_eq!(
        registry
            .metrics()
            .http
            .requests_with(RequestKind::ManifestHead, None),
        1
    );
}

#[tokio::test]
async fn garbage_instead_of_http() {
    let fake = Fake::start(|_| Reply::Raw(b"SSH-2.0-OpenSSH_9.2\r\n\r\n".to_vec())).await;
    let reason = unknown_reason(&client(RegistryOptions::default()), &fake.image()).await;
    assert!(
        reason.starts_with(&format!("registry {}: ", fake.host())),
        "{reason}"
    );
}

#[tokio::test]
async fn garbage_digest_header() {
    for bad in [
        "sha256:xyz",
        "md5:abcd",
        "nonsense",
        "sha256:ABCDEF1111111111111111111111111111111111111111111111111111111111",
    ] {
        let fake = Fake::start(move |r| {
            ok_v2(r).unwrap_or_else(|| http("200 OK", &[("Docker-Content-Digest", bad)], b""))
        })
        .await;
        let reason = unknown_reason(&client(RegistryOptions::default()), &fake.image()).await;
        assert_eq!(
            reason,
            format!(
                "registry {}: invalid Docker-Content-Digest header {bad:?}",
                fake.host()
            )
        );
    }
}

#[tokio::test]
async fn garbage_and_unsupported_challenges() {
    for (header, expected) in [
        (
            "Bearer =,,\"",
            "unusable authentication challenge: Bearer challenge without a realm",
        ),
        ("Bearer realm=\"not a url\"", "is not an http(s) URL"),
        (
            "Negotiate abc==",
            "unsupported authentication scheme(s): Negotiate",
        ),
        ("", "401 without a WWW-Authenticate challenge"),
    ] {
        let fake = Fake::start(move |_| {
            if header.is_empty() {
                http("401 Unauthorized", &[], b"")
            } else {
                http("401 Unauthorized", &[("WWW-Authenticate", header)], b"")
            }
        })
        .await;
        let reason = unknown_reason(&client(RegistryOptions::default()), &fake.image()).await;
        assert!(
            reason.starts_with(&format!("registry {}", fake.host())),
            "{reason}"
        );
        assert!(reason.contains(expected), "{header:?}: {reason}");
    }
}

#[tokio::test]
async fn no_digest_header_means_get_and_hash_the_body() {
    let body = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;
    let fake = Fake::start(move |r| {
        ok_v2(r).unwrap_or_else(|| match r.method.as_str() {
            "HEAD" => http("200 OK", &[], b""),
            _ => http(
                "200 OK",
                &[("Content-Type", "application/vnd.oci.image.index.v1+json")],
                body,
            ),
        })
    })
    .await;
    let registry = client(RegistryOptions::default());
    let expected = common::sha256(body);
    let result = registry
        .check(&fake.image(), &[format!("{}/app@{expected}", fake.host())])
        .await;
    assert_eq!(result.freshness, Freshness::Fresh, "{result:?}");
    assert_eq!(result.remote_digest.as_deref(), Some(expected.as_str()));
    assert_eq!(fake.requests("GET /v2/app/manifests/latest"), 1);
    let stats = registry.metrics().http;
    assert_eq!(stats.requests_of(RequestKind::ManifestGet), 1);
    assert_eq!(stats.requests_of(RequestKind::ManifestHead), 1);
}

#[tokio::test]
async fn oversized_manifest_body_is_refused() {
    let fake = Fake::start(|r| {
        ok_v2(r).unwrap_or_else(|| match r.method.as_str() {
            "HEAD" => http("200 OK", &[], b""),
            _ => http("200 OK", &[], &[b'x'; 8192]),
        })
    })
    .await;
    let registry = client(RegistryOptions {
        max_body_bytes: 1024,
        ..RegistryOptions::default()
    });
    let reason = unknown_reason(&registry, &fake.image()).await;
    assert_eq!(
        reason,
        format!(
            "registry {}: response too large: response body exceeds 1024 bytes",
            fake.host()
        )
    );
}

#[tokio::test]
async fn accept_header_names_every_manifest_type() {
    let seen = Arc::new(Mutex::new(String::new()));
    let seen2 = seen.clone();
    let fake = Fake::start(move |r| {
        if r.method == "HEAD" {
            *seen2.lock().unwrap() = r.head.to_ascii_lowercase();
        }
        ok_v2(r).unwrap_or_else(|| http("200 OK", &[("Docker-Content-Digest", DIGEST)], b""))
    })
    .await;
    let result = client(RegistryOptions::default())
        .check(&fake.image(), &[])
        .await;
    assert_eq!(
        result.freshness,
        Freshness::Stale {
            remote: DIGEST.to_owned()
        }
    );
    let head = seen.lock().unwrap().clone();
    for media_type in [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    ] {
        assert!(head.contains(media_type), "{media_type} missing in {head}");
    }
    assert!(head.contains("user-agent: watchtower/"), "{head}");
}

#[tokio::test]
async fn rate_limits_are_reported_and_429_is_retried_after_retry_after() {
    let heads = Arc::new(AtomicUsize::new(0));
    let heads2 = heads.clone();
    let fake = Fake::start(move |r| {
        ok_v2(r).unwrap_or_else(|| {
            if heads2.fetch_add(1, Ordering::SeqCst) == 0 {
                http("429 Too Many Requests", &[("Retry-After", "1")], b"")
            } else {
                http(
                    "200 OK",
                    &[
                        ("Docker-Content-Digest", DIGEST),
                        ("RateLimit-Limit", "100;w=21600"),
                        ("RateLimit-Remaining", "76;w=21600"),
                    ],
                    b"",
                )
            }
        })
    })
    .await;
    let registry = client(RegistryOptions::default());
    let started = tokio::time::Instant::now();
    let result = registry.check(&fake.image(), &[]).await;
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(
        result.freshness,
        Freshness::Stale {
            remote: DIGEST.to_owned()
        }
    );
    let rl = result.rate_limit.expect("rate limit headers");
    assert_eq!(
        (rl.limit, rl.remaining, rl.window),
        (Some(100), 76, Some(Duration::from_secs(21600)))
    );
    let metrics = registry.metrics();
    assert_eq!(
        metrics.rate_limits.get(&fake.host()).map(|r| r.remaining),
        Some(76)
    );
    assert_eq!(
        metrics
            .http
            .requests_with(RequestKind::ManifestHead, Some(429)),
        1
    );
    assert_eq!(
        metrics
            .http
            .requests_with(RequestKind::ManifestHead, Some(200)),
        1
    );
}

#[tokio::test]
async fn a_long_retry_after_gives_up_at_once() {
    let fake = Fake::start(|r| {
        ok_v2(r).unwrap_or_else(|| http("429 Too Many Requests", &[("Retry-After", "3600")], b""))
    })
    .await;
    let registry = client(RegistryOptions::default());
    let started = tokio::time::Instant::now();
    let reason = unknown_reason(&registry, &fake.image()).await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        reason,
        format!(
            "registry {}: rate limited (429), retry after 3600 s",
            fake.host()
        )
    );
}

#[tokio::test]
async fn repeated_429_is_bounded() {
    let fake = Fake::start(|r| {
        ok_v2(r).unwrap_or_else(|| http("429 Too Many Requests", &[("Retry-After", "0")], b""))
    })
    .await;
    let registry = client(RegistryOptions {
        max_rate_limit_retries: 3,
        ..RegistryOptions::default()
    });
    let reason = unknown_reason(&registry, &fake.image()).await;
    assert!(reason.contains("rate limited (429)"), "{reason}");
    assert_eq!(fake.requests("HEAD"), 4, "one try and three retries");
}

#[tokio::test]
async fn a_refused_token_is_replaced_once() {
    let issued = Arc::new(AtomicUsize::new(0));
    let issued2 = issued.clone();
    let fake = Fake::start(move |r| {
        let realm = host_header(r);
        if r.path == "/v2/" {
            let challenge = format!("Bearer realm=\"http://{realm}/token\",service=\"fake\"");
            return http("401 Unauthorized", &[("WWW-Authenticate", &challenge)], b"");
        }
        if r.path.starts_with("/token?") {
            let n = issued2.fetch_add(1, Ordering::SeqCst) + 1;
            return http(
                "200 OK",
                &[],
                format!(r#"{{"token":"t{n}","expires_in":300}}"#).as_bytes(),
            );
        }
        if r.head
            .to_ascii_lowercase()
            .contains("authorization: bearer t2")
        {
            http("200 OK", &[("Docker-Content-Digest", DIGEST)], b"")
        } else {
            http(
                "401 Unauthorized",
                &[(
                    "WWW-Authenticate",
                    "Bearer realm=\"x\",error=\"invalid_token\"",
                )],
                b"",
            )
        }
    })
    .await;
    let registry = client(RegistryOptions::default());
    let result = registry.check(&fake.image(), &[]).await;
    assert_eq!(
        result.freshness,
        Freshness::Stale {
            remote: DIGEST.to_owned()
        },
        "{result:?}"
    );
    assert_eq!(issued.load(Ordering::SeqCst), 2);
    // The scope asked for is the repository's pull scope.
    assert_eq!(
        fake.requests("GET /token?service=fake&scope=repository%3Aapp%3Apull"),
        2
    );

    // A registry that refuses every token: one retry, then a clear reason.
    let always = Fake::start(move |r| {
        let realm = host_header(r);
        match r.path.as_str() {
            "/v2/" => http(
                "401 Unauthorized",
                &[(
                    "WWW-Authenticate",
                    &format!("Bearer realm=\"http://{realm}/token\""),
                )],
                b"",
            ),
            p if p.starts_with("/token") => http("200 OK", &[], br#"{"access_token":"nope"}"#),
            _ => http(
                "401 Unauthorized",
                &[(
                    "WWW-Authenticate",
                    "Bearer realm=\"x\",error=\"insufficient_scope\"",
                )],
                b"",
            ),
        }
    })
    .await;
    let reason = unknown_reason(&registry, &always.image()).await;
    assert_eq!(
        reason,
        format!(
            "registry {}: HEAD /v2/app/manifests/latest answered 401 Unauthorized (insufficient_scope)",
            always.host()
        )
    );
    assert_eq!(always.requests("HEAD"), 2);
}

#[tokio::test]
async fn token_server_errors_name_registry_and_status() {
    let fake = Fake::start(move |r| {
        let realm = host_header(r);
        match r.path.as_str() {
            "/v2/" => http(
                "401 Unauthorized",
                &[(
                    "WWW-Authenticate",
                    &format!("Bearer realm=\"http://{realm}/token\",service=\"s\""),
                )],
                b"",
            ),
            p if p.starts_with("/token") => http("403 Forbidden", &[], b"denied"),
            _ => http("500 Internal Server Error", &[], b""),
        }
    })
    .await;
    let reason = unknown_reason(&client(RegistryOptions::default()), &fake.image()).await;
    assert_eq!(
        reason,
        format!(
            "registry {h}: token server http://{h}/token answered 403 Forbidden",
            h = fake.host()
        )
    );
}

#[tokio::test]
async fn check_many_keeps_order_and_isolates_failures() {
    let good = Fake::start(|r| {
        ok_v2(r).unwrap_or_else(|| http("200 OK", &[("Docker-Content-Digest", DIGEST)], b""))
    })
    .await;
    let bad = Fake::start(|_| http("500 Internal Server Error", &[], b"")).await;
    let registry = client(RegistryOptions::default());
    let requests = vec![
        watchtower_registry_digest::CheckRequest {
            reference: good.image(),
            local_repo_digests: vec![format!("{}/app@{DIGEST}", good.host())],
        },
        watchtower_registry_digest::CheckRequest {
            reference: bad.image(),
            local_repo_digests: vec![],
        },
        watchtower_registry_digest::CheckRequest {
            reference: good.image(),
            local_repo_digests: vec![],
        },
    ];
    let results = registry.check_many(&requests).await;
    assert_eq!(results[0].freshness, Freshness::Fresh);
    assert!(
        matches!(&results[1].freshness, Freshness::Unknown { reason } if reason.contains(&bad.host()))
    );
    assert_eq!(
        results[2].freshness,
        Freshness::Stale {
            remote: DIGEST.to_owned()
        }
    );
    assert_eq!(good.requests("HEAD"), 1, "the same reference is asked once");
    assert_eq!(bad.requests("GET /v2/"), 1);
}

#[tokio::test]
async fn identity_tokens_use_the_oauth2_refresh_form() {
    let forms = Arc::new(Mutex::new(Vec::new()));
    let forms2 = forms.clone();
    let fake = Fake::start(move |r| {
        let realm = host_header(r);
        match (r.method.as_str(), r.path.as_str()) {
            (_, "/v2/") => http(
                "401 Unauthorized",
                &[(
                    "WWW-Authenticate",
                    &format!("Bearer realm=\"http://{realm}/oauth\",service=\"svc\""),
                )],
                b"",
            ),
            ("POST", "/oauth") => {
                forms2
                    .lock()
                    .unwrap()
                    .push((r.head.to_ascii_lowercase(), r.body.clone()));
                http(
                    "200 OK",
                    &[],
                    br#"{"access_token":"acc-1","expires_in":120}"#,
                )
            }
            _ if r
                .head
                .to_ascii_lowercase()
                .contains("authorization: bearer acc-1") =>
            {
                http("200 OK", &[("Docker-Content-Digest", DIGEST)], b"")
            }
            _ => http("401 Unauthorized", &[], b""),
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    std::fs::write(
        &config,
        serde_json::to_vec(&serde_json::json!({
            "auths": { fake.host(): { "identitytoken": "refresh+me/=" } }
        }))
        .unwrap(),
    )
    .unwrap();
    let registry = client(RegistryOptions {
        credentials: watchtower_registry_auth::CredentialStore::new(
            watchtower_registry_auth::CredentialOptions {
                docker_config: Some(config),
                ..Default::default()
            },
        ),
        ..RegistryOptions::default()
    });
    let result = registry.check(&fake.image(), &[]).await;
    assert_eq!(
        result.freshness,
        Freshness::Stale {
            remote: DIGEST.to_owned()
        },
        "{result:?}"
    );
    let forms = forms.lock().unwrap().clone();
    assert_eq!(forms.len(), 1);
    let (head, body) = &forms[0];
    assert!(
        head.contains("content-type: application/x-www-form-urlencoded"),
        "{head}"
    );
    assert_eq!(
        body,
        "grant_type=refresh_token&client_id=watchtower&refresh_token=refresh%2Bme%2F%3D&service=svc&scope=repository%3Aapp%3Apull"
    );
}
