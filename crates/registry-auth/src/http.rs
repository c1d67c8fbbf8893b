//! The one pooled HTTP client for registry traffic (hyper-util + hyper-rustls), with connect
//! and request timeouts, a body size cap, counters for requests and TCP connections, and
//! `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` support ([`ProxyConfig`]).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::uri::Scheme;
use http::{HeaderMap, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use watchtower_tls_config::TlsSettings;

pub use crate::proxy::ProxyConfig;
use crate::proxy::{Proxies, ProxyEndpoint, ProxyFailure, RegistryConnector};
use crate::{Error, TransportErrorKind};

/// Options of the shared client.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// TLS verification settings (`--registry-ca`, `--insecure-registry`).
    pub tls: TlsSettings,
    /// Limit for establishing a TCP connection (to the registry or the proxy), and for the
    /// proxy's answer to a `CONNECT`.
    pub connect_timeout: Duration,
    /// Limit for a whole request: connect, TLS handshake, response and body.
    pub request_timeout: Duration,
    /// Largest response body read; larger ones are an error.
    pub max_body_bytes: usize,
    /// `User-Agent` header sent with every request.
    pub user_agent: String,
    /// How long an idle pooled connection is kept.
    pub pool_idle_timeout: Duration,
    /// Which proxy to use for which registry. The default reads `HTTPS_PROXY`, `HTTP_PROXY`
    /// and `NO_PROXY` from the environment (as Go's default transport does); use
    /// [`ProxyConfig::none`] for a client that ignores them.
    pub proxy: ProxyConfig,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            tls: TlsSettings::default(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            // Registries refuse manifests above 4 MiB; token answers are tiny.
            max_body_bytes: 4 * 1024 * 1024,
            user_agent: concat!("watchtower/", env!("CARGO_PKG_VERSION")).to_owned(),
            pool_idle_timeout: Duration::from_secs(90),
            proxy: ProxyConfig::from_env(),
        }
    }
}

/// What a request was for; requests are counted per kind and status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum RequestKind {
    /// `GET /v2/`, to learn how the registry wants to be authenticated.
    Challenge,
    /// A token request to the Bearer realm.
    Token,
    /// `HEAD /v2/<repo>/manifests/<tag>`.
    ManifestHead,
    /// `GET /v2/<repo>/manifests/<tag>`, when HEAD gave no digest.
    ManifestGet,
}

impl RequestKind {
    /// Every kind, in a stable order.
    pub const ALL: [Self; 4] = [
        Self::Challenge,
        Self::Token,
        Self::ManifestHead,
        Self::ManifestGet,
    ];

    /// A label for metrics: `challenge`, `token`, `manifest_head`, `manifest_get`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Challenge => "challenge",
            Self::Token => "token",
            Self::ManifestHead => "manifest_head",
            Self::ManifestGet => "manifest_get",
        }
    }
}

impl fmt::Display for RequestKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How many requests of one kind ended with one status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestCount {
    /// What the requests were for.
    pub kind: RequestKind,
    /// The HTTP status, or `None` when no response came (connect error, TLS error, timeout).
    pub status: Option<u16>,
    /// How many.
    pub count: u64,
}

/// A snapshot of the client's counters, for metrics and benchmarks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpStats {
    /// Requests by kind and status, sorted by kind then status.
    pub requests: Vec<RequestCount>,
    /// TCP connections opened since the client was made: to registries, or to the proxy for
    /// proxied registries (one per `CONNECT` tunnel or forwarding connection).
    pub connections_opened: u64,
}

impl HttpStats {
    /// All requests of `kind`, whatever their status.
    pub fn requests_of(&self, kind: RequestKind) -> u64 {
        self.requests
            .iter()
            .filter(|c| c.kind == kind)
            .map(|c| c.count)
            .sum()
    }

    /// Requests of `kind` that ended with `status` (`None`: no response).
    pub fn requests_with(&self, kind: RequestKind, status: Option<u16>) -> u64 {
        self.requests
            .iter()
            .filter(|c| c.kind == kind && c.status == status)
            .map(|c| c.count)
            .sum()
    }

    /// The difference `self - earlier`, for measuring one phase of a run.
    #[must_use]
    pub fn since(&self, earlier: &Self) -> Self {
        let requests = self
            .requests
            .iter()
            .filter_map(|c| {
                let before = earlier.requests_with(c.kind, c.status);
                (c.count > before).then(|| RequestCount {
                    count: c.count - before,
                    ..*c
                })
            })
            .collect();
        Self {
            requests,
            connections_opened: self
                .connections_opened
                .saturating_sub(earlier.connections_opened),
        }
    }
}

/// A complete response: status, headers and the (capped) body.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body, empty for HEAD.
    pub body: Bytes,
}

/// Requests by (kind, status).
type RequestCounts = BTreeMap<(RequestKind, Option<u16>), u64>;

type Inner = Client<HttpsConnector<RegistryConnector>, Full<Bytes>>;

/// The shared, pooled registry HTTP client. Cheap to clone: clones share the pool and counters.
///
/// HTTPS (HTTP/2 or HTTP/1.1 by ALPN) and plain HTTP go through the same pool; which one is
/// used is decided by the URL's scheme, and the caller decides the scheme.
///
/// With a proxy ([`HttpOptions::proxy`]), HTTPS requests go through a `CONNECT` tunnel with TLS
/// end to end (verified against the registry's name) and plain-HTTP requests are sent to the
/// proxy in absolute form; the client never resolves a proxied registry's name.
#[derive(Clone)]
pub struct HttpClient {
    client: Inner,
    options: Arc<HttpOptions>,
    proxies: Arc<Proxies>,
    requests: Arc<Mutex<RequestCounts>>,
    connections: Arc<AtomicU64>,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("options", &self.options)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// Builds the client. Call once per process and clone it.
    ///
    /// The proxy settings are read here, once; an unusable proxy URL is an
    /// [`Error::ProxyConfig`] naming the variable (its credentials hidden).
    pub fn new(options: HttpOptions) -> Result<Self, Error> {
        let tls = options.tls.client_config()?;
        let proxies = Arc::new(Proxies::new(&options.proxy)?);
        for (variable, addr, has_credentials) in proxies.describe() {
            tracing::info!(
                variable,
                proxy = addr,
                has_credentials,
                no_proxy = options.proxy.no_proxy.as_deref().unwrap_or(""),
                "registry requests go through a proxy"
            );
        }
        let connections = Arc::new(AtomicU64::new(0));
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_connect_timeout(Some(options.connect_timeout));
        tcp.set_nodelay(true);
        tcp.set_keepalive(Some(Duration::from_secs(60)));
        let connector = RegistryConnector::new(
            tcp,
            proxies.clone(),
            connections.clone(),
            options.connect_timeout,
            options.user_agent.parse().ok(),
        );
        // hyper-rustls sets ALPN itself (h2 and http/1.1, matching the enabled versions) and
        // insists on an empty list.
        let mut tls = (*tls).clone();
        tls.alpn_protocols.clear();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_all_versions()
            .wrap_connector(connector);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(options.pool_idle_timeout)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(https);
        Ok(Self {
            client,
            options: Arc::new(options),
            proxies,
            requests: Arc::default(),
            connections,
        })
    }

    /// The options the client was built with.
    pub fn options(&self) -> &HttpOptions {
        &self.options
    }

    /// The proxy (`host:port`) a request to `url` goes through, or `None` when it goes
    /// direct (no proxy for its scheme, `NO_PROXY`, or a loopback host).
    pub fn proxy_for(&self, url: &Uri) -> Option<&str> {
        self.proxies.route(url).map(|p| p.addr())
    }

    /// The counters so far.
    pub fn stats(&self) -> HttpStats {
        let requests = self
            .requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(&(kind, status), &count)| RequestCount {
                kind,
                status,
                count,
            })
            .collect();
        HttpStats {
            requests,
            connections_opened: self.connections.load(Ordering::Relaxed),
        }
    }

    fn count(&self, kind: RequestKind, status: Option<u16>) {
        *self
            .requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry((kind, status))
            .or_insert(0) += 1;
    }

    /// Sends `request` and reads the whole response within the request timeout. `registry`
    /// names the host in errors. A `User-Agent` is added when the request has none.
    ///
    /// Through a proxy, errors also name the proxy (`host:port`, never its credentials): a
    /// failure of the proxy itself is [`TransportErrorKind::Proxy`] (also a 407 answer to a
    /// plain-HTTP request), other failures end with `(via proxy host:port)`.
    pub async fn send(
        &self,
        kind: RequestKind,
        registry: &str,
        request: Request<Bytes>,
    ) -> Result<HttpResponse, Error> {
        let (mut parts, body) = request.into_parts();
        if !parts.headers.contains_key(header::USER_AGENT)
            && let Ok(ua) = self.options.user_agent.parse()
        {
            parts.headers.insert(header::USER_AGENT, ua);
        }
        let proxy = self.proxies.route(&parts.uri).cloned();
        let forwarded = proxy.is_some() && parts.uri.scheme() == Some(&Scheme::HTTP);
        if forwarded
            && let Some(authorization) = proxy.as_deref().and_then(ProxyEndpoint::authorization)
        {
            // Plain HTTP through a proxy: each request carries the proxy's credentials (an
            // HTTPS request carries none; only its CONNECT does).
            parts
                .headers
                .insert(header::PROXY_AUTHORIZATION, authorization.clone());
        }
        let is_head = parts.method == http::Method::HEAD;
        let request = Request::from_parts(parts, Full::new(body));
        let cap = self.options.max_body_bytes;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| classify(registry, &e))?;
            let (parts, body) = response.into_parts();
            self.count(kind, Some(parts.status.as_u16()));
            let body = if is_head {
                Bytes::new()
            } else {
                Limited::new(body, cap)
                    .collect()
                    .await
                    .map_err(|e| {
                        if e.is::<http_body_util::LengthLimitError>() {
                            Error::Transport {
                                registry: registry.to_owned(),
                                kind: TransportErrorKind::BodyTooLarge,
                                reason: format!("response body exceeds {cap} bytes"),
                            }
                        } else {
                            Error::Transport {
                                registry: registry.to_owned(),
                                kind: TransportErrorKind::Protocol,
                                reason: format!("reading the response body: {}", chain(&*e)),
                            }
                        }
                    })?
                    .to_bytes()
            };
            Ok::<_, Error>(HttpResponse {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        let result = match tokio::time::timeout(self.options.request_timeout, exchange).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(err)) => {
                if !matches!(
                    err,
                    Error::Transport {
                        kind: TransportErrorKind::BodyTooLarge | TransportErrorKind::Protocol,
                        ..
                    }
                ) {
                    self.count(kind, None);
                }
                Err(err)
            }
            Err(_) => {
                self.count(kind, None);
                Err(Error::Transport {
                    registry: registry.to_owned(),
                    kind: TransportErrorKind::Timeout,
                    reason: format!(
                        "no complete answer within {} s",
                        self.options.request_timeout.as_secs_f32()
                    ),
                })
            }
        };
        match proxy {
            Some(proxy) => through_proxy(result, &proxy, forwarded, registry),
            None => result,
        }
    }
}

/// Names the proxy in the outcome of a proxied request: a 407 to a plain-HTTP request is the
/// proxy's failure; other transport errors get `(via proxy host:port)`.
fn through_proxy(
    result: Result<HttpResponse, Error>,
    proxy: &ProxyEndpoint,
    forwarded: bool,
    registry: &str,
) -> Result<HttpResponse, Error> {
    match result {
        Ok(response)
            if forwarded && response.status == StatusCode::PROXY_AUTHENTICATION_REQUIRED =>
        {
            Err(Error::Transport {
                registry: registry.to_owned(),
                kind: TransportErrorKind::Proxy,
                reason: format!(
                    "proxy {} answered 407 Proxy Authentication Required ({})",
                    proxy.addr(),
                    proxy.auth_hint()
                ),
            })
        }
        Err(Error::Transport {
            registry,
            kind,
            reason,
        }) if kind != TransportErrorKind::Proxy => Err(Error::Transport {
            registry,
            kind,
            reason: format!("{reason} (via proxy {})", proxy.addr()),
        }),
        other => other,
    }
}

/// The messages of an error and its sources, joined, without repeats.
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = Some(err);
    while let Some(e) = cur {
        let msg = e.to_string();
        if !parts.iter().any(|p| p == &msg) {
            parts.push(msg);
        }
        // io::Error hides the error it wraps from `source()`; look inside explicitly.
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            // Examine the wrapped error itself next (it may be another io::Error).
            cur = Some(inner);
        } else {
            cur = e.source();
        }
    }
    parts.join(": ")
}

fn find_rustls<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    find::<rustls::Error>(err)
}

/// The first error of type `T` in `err`'s source chain (looking inside `io::Error`s too).
fn find<'a, T: std::error::Error + 'static>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(r) = e.downcast_ref::<T>() {
            return Some(r);
        }
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            cur = Some(inner);
        } else {
            cur = e.source();
        }
    }
    None
}

fn classify(registry: &str, err: &hyper_util::client::legacy::Error) -> Error {
    let full = chain(err);
    // hyper-util's own layer ("client error (Connect)") adds nothing for a reader.
    let reason = full
        .strip_prefix("client error (Connect): ")
        .or_else(|| full.strip_prefix("client error (SendRequest): "))
        .unwrap_or(&full)
        .to_owned();
    let kind = match find_rustls(err) {
        // The proxy's own failures name it; TLS failures inside a tunnel are the registry's.
        None if find::<ProxyFailure>(err).is_some() => TransportErrorKind::Proxy,
        Some(
            rustls::Error::InvalidCertificate(_)
            | rustls::Error::NoCertificatesPresented
            | rustls::Error::InvalidCertRevocationList(_),
        ) => TransportErrorKind::TlsCertificate,
        Some(_) => TransportErrorKind::TlsHandshake,
        None if err.is_connect() => {
            // A TLS handshake that ends in EOF (the server hung up on our ClientHello) is
            // reported as a plain io error by the TLS stack.
            if reason.contains("tls handshake eof") {
                TransportErrorKind::TlsHandshake
            } else {
                TransportErrorKind::Connect
            }
        }
        None => TransportErrorKind::Protocol,
    };
    Error::Transport {
        registry: registry.to_owned(),
        kind,
        reason,
    }
}
