//! Registry requests through an HTTP proxy: the testkit's `CONNECT` + absolute-form
//! [`TestProxy`] on 127.0.0.1 (it records what it relayed and can demand
//! `Proxy-Authorization`), with the testkit's real registry behind it.
//!
//! The proxy resolves `registry.test` and `localhost` to 127.0.0.1 itself; the client cannot
//! resolve `registry.test` at all, so a request that reaches the registry under that name
//! proves the client left name resolution to the proxy. Go (and so the client by default)
//! never proxies `localhost` or loopback addresses, so the tests that need the registry's
//! certificate (issued for `localhost` and 127.0.0.1) set `ProxyConfig::proxy_loopback`.

use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::{Request, Uri, header};
use tokio::net::TcpListener;
use watchtower_registry_auth::http::{HttpClient, HttpOptions, ProxyConfig, RequestKind};
use watchtower_registry_auth::{
    BearerChallenge, Credential, Error, Secret, TransportErrorKind, fetch_token,
    parse_www_authenticate,
};
use watchtower_testkit::{Registry, RegistryMode, TestProxy, proxy};
use watchtower_tls_config::{CaBundle, TlsSettings};

const REPO: &str = "team/app";
const MANIFEST_TYPES: &str = "application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.v2+json";

// ---------------------------------------------------------------------------------------------
// The registry protocol, as the digest check speaks it: challenge, token, manifest HEAD.

fn credential_of(registry: &Registry) -> Option<Credential> {
    registry.credentials().map(|(u, p)| Credential::Basic {
        username: u.into(),
        password: Secret::new(p),
    })
}

/// `GET /v2/`, a token when the registry wants one, then `HEAD` of the manifest: the
/// registry's digest for `REPO:latest`.
async fn remote_digest(
    http: &HttpClient,
    base: &str,
    registry: &Registry,
) -> Result<String, Error> {
    remote_digest_as(http, base, credential_of(registry).as_ref()).await
}

async fn remote_digest_as(
    http: &HttpClient,
    base: &str,
    credential: Option<&Credential>,
) -> Result<String, Error> {
    let name = base.split_once("://").unwrap().1;
    let ping = http
        .send(
            RequestKind::Challenge,
            name,
            Request::get(format!("{base}/v2/"))
                .body(Bytes::new())
                .unwrap(),
        )
        .await?;
    let authorization = match ping.status.as_u16() {
        200 => None,
        401 => {
            let header = ping.headers[header::WWW_AUTHENTICATE].to_str().unwrap();
            let bearer = BearerChallenge::find(&parse_www_authenticate(header))
                .unwrap()
                .unwrap();
            let grant = fetch_token(
                http,
                name,
                &bearer,
                &format!("repository:{REPO}:pull"),
                credential,
            )
            .await?;
            Some(format!("Bearer {}", grant.token.expose()))
        }
        other => panic!("GET /v2/ answered {other}"),
    };
    let mut head = Request::head(format!("{base}/v2/{REPO}/manifests/latest"))
        .header(header::ACCEPT, MANIFEST_TYPES);
    if let Some(a) = authorization {
        head = head.header(header::AUTHORIZATION, a);
    }
    let response = http
        .send(
            RequestKind::ManifestHead,
            name,
            head.body(Bytes::new()).unwrap(),
        )
        .await?;
    assert_eq!(response.status, 200, "HEAD of the manifest");
    Ok(response.headers["docker-content-digest"]
        .to_str()
        .unwrap()
        .to_owned())
}

fn client(tls: TlsSettings, proxy: ProxyConfig) -> HttpClient {
    HttpClient::new(HttpOptions {
        tls,
        proxy,
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(15),
        ..HttpOptions::default()
    })
    .unwrap()
}

fn with_ca(registry: &Registry) -> TlsSettings {
    TlsSettings::verified(Some(
        CaBundle::load(registry.ca_pem_path().unwrap()).unwrap(),
    ))
}

fn https_via(proxy_url: &str) -> ProxyConfig {
    ProxyConfig {
        https_proxy: Some(proxy_url.to_owned()),
        ..ProxyConfig::none()
    }
}

fn http_via(proxy_url: &str) -> ProxyConfig {
    ProxyConfig {
        http_proxy: Some(proxy_url.to_owned()),
        ..ProxyConfig::none()
    }
}

fn transport(err: &Error) -> (TransportErrorKind, &str) {
    match err {
        Error::Transport { kind, reason, .. } => (*kind, reason.as_str()),
        other => panic!("expected a transport error, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The tests.

#[tokio::test]
async fn https_registry_is_checked_through_a_connect_tunnel_with_tls_end_to_end() {
    let registry = Registry::start(RegistryMode::Tls).await.unwrap();
    let digest = registry
        .push_synthetic_image(REPO, "latest", "v1")
        .await
        .unwrap();
    let proxy = TestProxy::start(None).await;
    let http = client(
        with_ca(&registry),
        ProxyConfig {
            proxy_loopback: true,
            ..https_via(&proxy.url())
        },
    );
    // The certificate names localhost: the proxy resolves it, the client only sends it.
    let base = format!("https://localhost:{}", registry.port());
    assert_eq!(
        http.proxy_for(&base.parse::<Uri>().unwrap()),
        Some(proxy.addr().to_string().as_str())
    );

    for _ in 0..3 {
        assert_eq!(
            remote_digest(&http, &base, &registry).await.unwrap(),
            digest
        );
    }

    let log = proxy.log();
    assert!(!log.is_empty());
    let target = format!("localhost:{}", registry.port());
    for r in &log {
        assert_eq!(
            (r.method.as_str(), r.target.as_str()),
            ("CONNECT", target.as_str())
        );
        assert_eq!(r.host.as_deref(), Some(target.as_str()));
        assert_eq!(r.proxy_authorization, None);
        assert_eq!(r.refused, None);
    }
    // Pooled keep-alive connections through the tunnel: every TCP connection the client
    // counted is one the proxy accepted, and three checks did not need three.
    let stats = http.stats();
    assert_eq!(stats.connections_opened, proxy.accepted() as u64);
    assert_eq!(log.len(), proxy.accepted());
    assert!(stats.connections_opened < 3, "{stats:?}");
    assert_eq!(stats.requests_with(RequestKind::ManifestHead, Some(200)), 3);

    // The proxy saw a TLS handshake (record type 22) and then only ciphertext.
    for start in &proxy.tunnel_starts() {
        assert_eq!(start.first(), Some(&0x16), "{start:?}");
    }
    let bytes = proxy.tunnel_bytes();
    assert!(bytes.len() > 500);
    for plain in [&b"/v2/"[..], b"HTTP/1.1", b"manifests", b"HEAD "] {
        assert!(
            !bytes.windows(plain.len()).any(|w| w == plain),
            "the proxy saw plaintext {:?}",
            String::from_utf8_lossy(plain)
        );
    }
    registry.flush_access_log().await.unwrap();
    assert_eq!(
        registry.count_requests("HEAD", &format!("/v2/{REPO}/manifests/latest")),
        3
    );

    // Verification runs inside the tunnel: without the testkit CA the same path fails on the
    // certificate, and the error names the registry and the proxy.
    let untrusting = client(
        TlsSettings::default(),
        ProxyConfig {
            proxy_loopback: true,
            ..https_via(&proxy.url())
        },
    );
    let err = remote_digest(&untrusting, &base, &registry)
        .await
        .unwrap_err();
    let (kind, reason) = transport(&err);
    assert_eq!(kind, TransportErrorKind::TlsCertificate, "{err}");
    assert!(reason.contains("UnknownIssuer"), "{err}");
    let text = err.to_string();
    assert!(text.contains(&target), "{text}");
    assert!(
        text.ends_with(&format!("(via proxy {})", proxy.addr())),
        "{text}"
    );
}

#[tokio::test]
async fn the_certificate_is_checked_against_the_registry_name_and_the_proxy_resolves_it() {
    // `registry.test` resolves nowhere but in the proxy, and the registry's certificate does
    // not name it: the handshake must fail on the name (not on DNS, not on the proxy).
    let registry = Registry::start(RegistryMode::Tls).await.unwrap();
    let proxy = TestProxy::start(None).await;
    let http = client(with_ca(&registry), https_via(&proxy.url()));
    let base = format!("https://registry.test:{}", registry.port());
    let err = remote_digest(&http, &base, &registry).await.unwrap_err();
    let (kind, reason) = transport(&err);
    assert_eq!(kind, TransportErrorKind::TlsCertificate, "{err}");
    assert!(
        reason.contains("not valid for name \"registry.test\""),
        "{err}"
    );
    assert_eq!(proxy.log().len(), 1);
    assert_eq!(
        proxy.log()[0].target,
        format!("registry.test:{}", registry.port())
    );

    // A name the proxy cannot reach: its refusal is reported with its status.
    let err = http
        .send(
            RequestKind::Challenge,
            "nowhere.test",
            Request::get("https://nowhere.test/v2/")
                .body(Bytes::new())
                .unwrap(),
        )
        .await
        .unwrap_err();
    let (kind, _) = transport(&err);
    assert_eq!(kind, TransportErrorKind::Proxy, "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "registry nowhere.test: proxy error: proxy {} refused CONNECT nowhere.test:443: \
             502 Bad Gateway",
            proxy.addr()
        )
    );
}

#[tokio::test]
async fn plain_http_registry_is_asked_in_absolute_form_and_loopback_token_server_directly() {
    let registry = Registry::start(RegistryMode::Token).await.unwrap();
    let digest = registry
        .push_synthetic_image(REPO, "latest", "v1")
        .await
        .unwrap();
    let proxy = TestProxy::start(None).await;
    let http = client(TlsSettings::default(), http_via(&proxy.url()));
    let authority = format!("registry.test:{}", registry.port());
    let base = format!("http://{authority}");

    assert_eq!(
        remote_digest(&http, &base, &registry).await.unwrap(),
        digest
    );

    let seen: Vec<(String, String)> = proxy
        .log()
        .into_iter()
        .map(|r| {
            assert_eq!(r.host.as_deref(), Some(authority.as_str()));
            assert_eq!(r.refused, None);
            (r.method, r.target)
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("GET".to_owned(), format!("{base}/v2/")),
            (
                "HEAD".to_owned(),
                format!("{base}/v2/{REPO}/manifests/latest")
            ),
        ]
    );
    // The token server is on 127.0.0.1: never proxied (Go's rule), so it was asked directly.
    let server = registry.token_server().unwrap();
    assert_eq!(server.requests(), 1);
    assert!(
        http.proxy_for(&server.realm().parse::<Uri>().unwrap())
            .is_none()
    );
    // One connection per forwarded request (the proxy closes), plus one to the token server.
    assert_eq!(http.stats().connections_opened, proxy.accepted() as u64 + 1);
    registry.flush_access_log().await.unwrap();
    assert_eq!(
        registry.count_requests("HEAD", &format!("/v2/{REPO}/manifests/latest")),
        1
    );
}

#[tokio::test]
async fn no_proxy_sends_listed_registries_directly() {
    let registry = Registry::start(RegistryMode::Plain).await.unwrap();
    let digest = registry
        .push_synthetic_image(REPO, "latest", "v1")
        .await
        .unwrap();
    let proxy = TestProxy::start(None).await;
    let base = registry.base_url(); // http://127.0.0.1:PORT
    let config = |no_proxy: &str| ProxyConfig {
        no_proxy: Some(no_proxy.to_owned()),
        proxy_loopback: true,
        ..http_via(&proxy.url())
    };

    for no_proxy in [
        registry.host(),             // 127.0.0.1:PORT
        "127.0.0.0/8".to_owned(),    // a CIDR
        "127.0.0.1".to_owned(),      // an IP, any port
        "example.com, *".to_owned(), // everything
    ] {
        let http = client(TlsSettings::default(), config(&no_proxy));
        assert_eq!(
            remote_digest(&http, &base, &registry).await.unwrap(),
            digest,
            "{no_proxy}"
        );
        assert_eq!(
            proxy.accepted(),
            0,
            "NO_PROXY={no_proxy} should bypass the proxy"
        );
        assert!(http.stats().connections_opened >= 1);
    }

    // Entries that do not match this registry leave it proxied.
    let other_port = format!("127.0.0.1:{}", registry.port().wrapping_add(1));
    for no_proxy in [other_port.as_str(), "10.0.0.0/8", "registry.test"] {
        let before = proxy.accepted();
        let http = client(TlsSettings::default(), config(no_proxy));
        assert_eq!(
            remote_digest(&http, &base, &registry).await.unwrap(),
            digest
        );
        assert!(
            proxy.accepted() > before,
            "NO_PROXY={no_proxy} should not bypass"
        );
    }
}

#[tokio::test]
async fn proxy_credentials_are_sent_to_the_proxy_only() {
    let tls_registry = Registry::start(RegistryMode::Tls).await.unwrap();
    let tls_digest = tls_registry
        .push_synthetic_image(REPO, "latest", "v1")
        .await
        .unwrap();
    let plain_registry = Registry::start(RegistryMode::Plain).await.unwrap();
    let plain_digest = plain_registry
        .push_synthetic_image(REPO, "latest", "v1")
        .await
        .unwrap();
    // A password that needs percent-encoding in the URL.
    let password = "s3cr3t:p@ss";
    let encoded = "s3cr3t%3Ap%40ss";
    let proxy = TestProxy::start(Some(("alice", password))).await;
    let url = proxy.url_with("alice", encoded);
    let config = ProxyConfig {
        http_proxy: Some(url.clone()),
        https_proxy: Some(url),
        no_proxy: None,
        proxy_loopback: true,
    };
    let http = client(with_ca(&tls_registry), config);
    assert!(!format!("{http:?}").contains("s3cr3t"));

    let tls_base = format!("https://localhost:{}", tls_registry.port());
    assert_eq!(
        remote_digest(&http, &tls_base, &tls_registry)
            .await
            .unwrap(),
        tls_digest
    );
    let plain_base = format!("http://registry.test:{}", plain_registry.port());
    assert_eq!(
        remote_digest(&http, &plain_base, &plain_registry)
            .await
            .unwrap(),
        plain_digest
    );
    let log = proxy.log();
    assert!(log.iter().any(|r| r.method == "CONNECT"));
    assert!(log.iter().any(|r| r.method == "HEAD"));
    for r in &log {
        assert_eq!(r.refused, None, "{r:?}");
    }
    // The forwarded requests reached the registry without the proxy's credentials (the
    // proxy strips them; the client put them nowhere else).
    let forwarded = proxy.forwarded_headers();
    assert!(
        forwarded
            .iter()
            .any(|h| h.starts_with("host: registry.test"))
    );
    assert!(
        forwarded
            .iter()
            .all(|h| !h.starts_with("authorization") && !h.contains("Basic")),
        "{forwarded:?}"
    );
}

#[tokio::test]
async fn wrong_or_missing_proxy_credentials_give_a_clear_error_without_the_password() {
    let tls_registry = Registry::start(RegistryMode::Tls).await.unwrap();
    let plain_registry = Registry::start(RegistryMode::Plain).await.unwrap();
    let proxy = TestProxy::start(Some(("alice", "right-password"))).await;
    let wrong = proxy.url_with("alice", "wrong-password-1234");
    let wrong_b64 = base64::engine::general_purpose::STANDARD.encode("alice:wrong-password-1234");
    let tls_base = format!("https://localhost:{}", tls_registry.port());
    let plain_base = format!("http://registry.test:{}", plain_registry.port());

    for (variable, config, base, registry) in [
        (
            "HTTPS_PROXY",
            https_via(&wrong),
            tls_base.as_str(),
            &tls_registry,
        ),
        (
            "HTTP_PROXY",
            http_via(&wrong),
            plain_base.as_str(),
            &plain_registry,
        ),
    ] {
        let http = client(
            with_ca(&tls_registry),
            ProxyConfig {
                proxy_loopback: true,
                ..config
            },
        );
        let err = remote_digest(&http, base, registry).await.unwrap_err();
        let (kind, _) = transport(&err);
        assert_eq!(kind, TransportErrorKind::Proxy, "{err}");
        let text = err.to_string();
        let name = base.split_once("://").unwrap().1;
        assert!(
            text.starts_with(&format!(
                "registry {name}: proxy error: proxy {}",
                proxy.addr()
            )),
            "{text}"
        );
        assert!(text.contains("407 Proxy Authentication Required"), "{text}");
        assert!(
            text.contains(&format!("the proxy rejected the credentials in {variable}")),
            "{text}"
        );
        for shown in [text, format!("{err:?}"), format!("{http:?}")] {
            assert!(!shown.contains("wrong-password-1234"), "{shown}");
            assert!(!shown.contains(&wrong_b64), "{shown}");
        }
    }

    // No credentials at all: the error says where to put them.
    let http = client(
        with_ca(&tls_registry),
        ProxyConfig {
            proxy_loopback: true,
            ..https_via(&proxy.url())
        },
    );
    let err = remote_digest(&http, &tls_base, &tls_registry)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains(&format!(
            "the proxy wants credentials: set HTTPS_PROXY to http://user:password@{}",
            proxy.addr()
        )),
        "{err}"
    );
    assert!(proxy.log().iter().all(|r| r.refused == Some(407)));
}

#[tokio::test]
async fn a_dead_proxy_is_a_proxy_error_naming_it_and_the_registry() {
    // A port that was just free: nothing listens there.
    let dead = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    };
    let config = ProxyConfig {
        https_proxy: Some(format!("http://alice:hunter22@{dead}")),
        http_proxy: Some(format!("http://alice:hunter22@{dead}")),
        no_proxy: None,
        proxy_loopback: false,
    };
    let http = client(TlsSettings::default(), config);
    for url in [
        "https://registry.test:5000/v2/",
        "http://registry.test:5000/v2/",
    ] {
        let err = http
            .send(
                RequestKind::Challenge,
                "registry.test:5000",
                Request::get(url).body(Bytes::new()).unwrap(),
            )
            .await
            .unwrap_err();
        let (kind, reason) = transport(&err);
        assert_eq!(kind, TransportErrorKind::Proxy, "{err}");
        assert!(
            reason.starts_with(&format!("proxy {dead} unreachable")),
            "{reason}"
        );
        assert!(reason.to_lowercase().contains("refused"), "{reason}");
        let text = err.to_string();
        assert!(
            text.starts_with("registry registry.test:5000: proxy error"),
            "{text}"
        );
        assert!(!text.contains("hunter22") && !format!("{err:?}").contains("hunter22"));
    }
    let stats = http.stats();
    assert_eq!(stats.connections_opened, 0);
    assert_eq!(stats.requests_with(RequestKind::Challenge, None), 2);
}

#[tokio::test]
async fn unusable_proxy_settings_stop_the_client_from_being_built() {
    for (config, variable) in [
        (https_via("socks5://bob:pw-socks@proxy:1080"), "HTTPS_PROXY"),
        (http_via("https://bob:pw-tls@proxy:443"), "HTTP_PROXY"),
        (https_via("http://bob:pw-port@proxy:70000"), "HTTPS_PROXY"),
    ] {
        let err = HttpClient::new(HttpOptions {
            proxy: config,
            ..HttpOptions::default()
        })
        .unwrap_err();
        assert!(
            matches!(
                err,
                Error::Client(watchtower_http_client::Error::ProxyConfig { .. })
            ),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("proxy setting {variable}=")),
            "{text}"
        );
        assert!(text.contains("***@proxy"), "{text}");
        assert!(
            !text.contains("pw-") && !format!("{err:?}").contains("pw-"),
            "{text}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The environment: `HttpOptions::default()` reads the proxy variables (which is how
// `watchtower-registry-digest` and the binary get them). The test process's own environment is
// never changed: the test runs itself again as a child process with the variables set.

/// Runs `test` in a child process whose only proxy variables are `env`, with
/// `REGISTRY_BASE` set to `base`, and returns its `CHILD-RESULT` line.
async fn run_child(test: &str, base: &str, env: &[(&str, &str)]) -> String {
    let mut env = env.to_vec();
    env.push(("REGISTRY_BASE", base));
    proxy::run_test_in_child(test, &env).await
}

/// The child's part: a default client, i.e. the proxy variables of this process.
async fn child_check() {
    let base = std::env::var("REGISTRY_BASE").unwrap();
    let http = HttpClient::new(HttpOptions::default()).unwrap();
    let proxy = http
        .proxy_for(&base.parse::<Uri>().unwrap())
        .map(str::to_owned);
    match remote_digest_as(&http, &base, None).await {
        Ok(digest) => println!("CHILD-RESULT proxy={proxy:?} digest={digest}"),
        Err(err) => println!("CHILD-RESULT proxy={proxy:?} error={err}"),
    }
}

#[tokio::test]
async fn default_options_read_the_proxy_variables_of_the_environment() {
    if proxy::is_child() {
        return child_check().await;
    }
    let registry = Registry::start(RegistryMode::Plain).await.unwrap();
    let digest = registry
        .push_synthetic_image(REPO, "latest", "v1")
        .await
        .unwrap();
    let proxy = TestProxy::start(None).await;
    let proxy_url = proxy.url();
    let base = format!("http://registry.test:{}", registry.port());
    let test = "default_options_read_the_proxy_variables_of_the_environment";

    // The lower-case form, and a NO_PROXY that does not list this registry.
    let result = run_child(
        test,
        &base,
        &[
            ("http_proxy", &proxy_url),
            ("NO_PROXY", "corp.example,10.0.0.0/8"),
        ],
    )
    .await;
    assert_eq!(
        result,
        format!("proxy=Some(\"{}\") digest={digest}", proxy.addr())
    );
    let targets: Vec<String> = proxy.log().into_iter().map(|r| r.target).collect();
    assert_eq!(
        targets,
        [
            format!("{base}/v2/"),
            format!("{base}/v2/{REPO}/manifests/latest")
        ]
    );

    // NO_PROXY (lower case) listing the registry: the child goes direct, so it must resolve
    // `registry.test` itself, which nothing can.
    let before = proxy.accepted();
    let result = run_child(
        test,
        &base,
        &[
            ("HTTP_PROXY", &proxy_url),
            ("no_proxy", ".example,registry.test"),
        ],
    )
    .await;
    assert!(
        result.starts_with(&format!(
            "proxy=None error=registry registry.test:{}: cannot connect",
            registry.port()
        )),
        "{result}"
    );
    assert_eq!(proxy.accepted(), before);

    // HTTPS_PROXY is not used for plain HTTP (and HTTP_PROXY not for HTTPS), as in Go.
    let result = run_child(test, &base, &[("HTTPS_PROXY", &proxy_url)]).await;
    assert!(result.starts_with("proxy=None error="), "{result}");
    assert_eq!(proxy.accepted(), before);
}
