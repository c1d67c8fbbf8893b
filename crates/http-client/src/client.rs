//! The pooled client: hyper-util's pool over hyper-rustls over our proxy-aware connector,
//! a connect limit covering TCP, `CONNECT` and the TLS handshake, a request limit covering
//! the whole exchange, and a body cap.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::uri::Scheme;
use http::{HeaderMap, Request, StatusCode, Uri, Version, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use watchtower_tls_config::TlsSettings;

use crate::chain::{error_chain, find};
use crate::proxy::{ProxiedConnector, ProxyConfig, ProxyEndpoint, ProxyFailure, ProxyRoutes};
use crate::{Error, TransportErrorKind};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Options of a client.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// TLS verification: the webpki roots, the system's trust store (as Go reads it) and an
    /// optional extra bundle (`--registry-ca`); or the explicit insecure mode.
    pub tls: TlsSettings,
    /// Limit for establishing a connection: the TCP connect (to the server or the proxy),
    /// the proxy's answer to a `CONNECT`, and the TLS handshake.
    pub connect_timeout: Duration,
    /// Limit for a whole request: connect, TLS handshake, response and body.
    pub request_timeout: Duration,
    /// Largest response body read; larger ones are [`TransportErrorKind::BodyTooLarge`].
    pub max_body_bytes: usize,
    /// `User-Agent` header sent with every request that has none.
    pub user_agent: String,
    /// How long an idle pooled connection is kept.
    pub pool_idle_timeout: Duration,
    /// Offer HTTP/2 by ALPN on TLS connections (HTTP/1.1 otherwise, and always on plain
    /// connections). Until the client knows which protocol a server's TLS connections
    /// speak, one request to it goes first and the others wait for its answer, so that
    /// concurrent requests to an HTTP/2 server share one connection instead of each
    /// opening (and throwing away) one; see [`HttpClient::protocol_of`].
    pub http2: bool,
    /// Which proxy to use for which host. The default reads `HTTPS_PROXY`, `HTTP_PROXY` and
    /// `NO_PROXY` from the environment (as Go's default transport does); use
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
            http2: true,
            proxy: ProxyConfig::from_env(),
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

type Connector = TimedConnect<HttpsConnector<ProxiedConnector>>;
type Inner = Client<Connector, Full<Bytes>>;

/// The pooled HTTP(S) client. Cheap to clone: clones share the pool and the counter.
///
/// HTTPS (HTTP/2 or HTTP/1.1 by ALPN) and plain HTTP go through the same pool; which one
/// is used is decided by the URL's scheme, and the caller decides the scheme.
///
/// With a proxy ([`HttpOptions::proxy`]), HTTPS requests go through a `CONNECT` tunnel with
/// TLS end to end (verified against the server's name) and plain-HTTP requests are sent to
/// the proxy in absolute form; the client never resolves a proxied host's name.
#[derive(Clone)]
pub struct HttpClient {
    client: Inner,
    options: Arc<HttpOptions>,
    proxies: Arc<ProxyRoutes>,
    connections: Arc<AtomicU64>,
    protocols: Arc<Protocols>,
}

/// What the client learned about each HTTPS server (`host:port`): the HTTP version its last
/// answer came in, and the gate the first request to it holds.
///
/// hyper-util's pool cannot know before a TLS handshake that a connection will speak HTTP/2,
/// so requests started together to a new server each open a connection; once one of them has
/// negotiated `h2`, the pool shares it and drops the rest. The gate lets one request find out
/// first. A server that answered in HTTP/1.1 is not gated again: its requests need parallel
/// connections.
#[derive(Default)]
struct Protocols {
    hosts: Mutex<HashMap<String, Arc<HostProtocol>>>,
}

#[derive(Default)]
struct HostProtocol {
    version: Mutex<Option<Version>>,
    first: tokio::sync::Mutex<()>,
}

impl HostProtocol {
    fn version(&self) -> Option<Version> {
        *lock(&self.version)
    }
}

impl Protocols {
    fn host(&self, authority: &str) -> Arc<HostProtocol> {
        lock(&self.hosts)
            .entry(authority.to_owned())
            .or_default()
            .clone()
    }

    fn version(&self, authority: &str) -> Option<Version> {
        lock(&self.hosts).get(authority).and_then(|h| h.version())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("options", &self.options)
            .field("connections_opened", &self.connections_opened())
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// Builds the client. Call once per process (per purpose) and clone it.
    ///
    /// The proxy settings are read here, once; an unusable proxy URL is an
    /// [`Error::ProxyConfig`] naming the variable (its credentials hidden).
    pub fn new(options: HttpOptions) -> Result<Self, Error> {
        let tls = options.tls.client_config()?;
        let proxies = Arc::new(ProxyRoutes::new(&options.proxy)?);
        for (variable, addr, has_credentials) in proxies.describe() {
            tracing::info!(
                variable,
                proxy = addr,
                has_credentials,
                no_proxy = options.proxy.no_proxy.as_deref().unwrap_or(""),
                "requests go through a proxy"
            );
        }
        let connections = Arc::new(AtomicU64::new(0));
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_connect_timeout(Some(options.connect_timeout));
        tcp.set_nodelay(true);
        tcp.set_keepalive(Some(Duration::from_secs(60)));
        let connector = ProxiedConnector::new(
            tcp,
            proxies.clone(),
            connections.clone(),
            options.connect_timeout,
            options.user_agent.parse().ok(),
        );
        // hyper-rustls sets ALPN itself (matching the enabled versions) and insists on an
        // empty list.
        let mut tls = (*tls).clone();
        tls.alpn_protocols.clear();
        let builder = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http();
        let https = if options.http2 {
            builder.enable_all_versions().wrap_connector(connector)
        } else {
            builder.enable_http1().wrap_connector(connector)
        };
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(options.pool_idle_timeout)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(TimedConnect {
                inner: https,
                limit: options.connect_timeout,
            });
        Ok(Self {
            client,
            options: Arc::new(options),
            proxies,
            connections,
            protocols: Arc::default(),
        })
    }

    /// The HTTP version of the last answer from the HTTPS server `authority` (`host:port`,
    /// the port always written), or `None` before its first answer. Plain-HTTP servers are
    /// not recorded: they are always asked in HTTP/1.1.
    pub fn protocol_of(&self, authority: &str) -> Option<Version> {
        self.protocols.version(authority)
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

    /// TCP connections opened since the client was made: to servers, or to the proxy for
    /// proxied hosts (one per `CONNECT` tunnel or forwarding connection).
    pub fn connections_opened(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    /// Sends `request` and reads the whole response within the request timeout. `host`
    /// names the server in errors (pass the host, never the URL: URLs may hold secrets). A
    /// `User-Agent` is added when the request has none.
    ///
    /// Through a proxy, errors also name the proxy (`host:port`, never its credentials): a
    /// failure of the proxy itself is [`TransportErrorKind::Proxy`] (also a 407 answer to a
    /// plain-HTTP request), other failures end with `(via proxy host:port)`.
    pub async fn send(&self, host: &str, request: Request<Bytes>) -> Result<HttpResponse, Error> {
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
        // HTTPS servers whose protocol is not known yet (see `Protocols`).
        let learning = (self.options.http2 && parts.uri.scheme() == Some(&Scheme::HTTPS))
            .then(|| authority_of(&parts.uri))
            .flatten()
            .map(|authority| self.protocols.host(&authority));
        let request = Request::from_parts(parts, Full::new(body));
        let cap = self.options.max_body_bytes;
        let exchange = async {
            // The first request to a server whose protocol is unknown goes alone; the ones
            // that waited for it find the protocol known (or go first themselves when it
            // failed). HTTP/2 servers are gated until they have answered once, HTTP/1.1 ones
            // never again.
            let _first = match &learning {
                Some(h) if h.version().is_none() => {
                    let guard = h.first.lock().await;
                    h.version().is_none().then_some(guard)
                }
                _ => None,
            };
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| classify(host, &e))?;
            if let Some(h) = &learning {
                *lock(&h.version) = Some(response.version());
            }
            let (parts, body) = response.into_parts();
            let body = if is_head {
                Bytes::new()
            } else {
                let body_error = |kind, reason| Error::Transport {
                    host: host.to_owned(),
                    kind,
                    reason,
                    status: Some(parts.status),
                };
                Limited::new(body, cap)
                    .collect()
                    .await
                    .map_err(|e| {
                        if e.is::<http_body_util::LengthLimitError>() {
                            body_error(
                                TransportErrorKind::BodyTooLarge,
                                format!("response body exceeds {cap} bytes"),
                            )
                        } else {
                            body_error(
                                TransportErrorKind::Protocol,
                                format!("reading the response body: {}", error_chain(&*e)),
                            )
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
            Ok(result) => result,
            Err(_) => Err(Error::Transport {
                host: host.to_owned(),
                kind: TransportErrorKind::Timeout,
                reason: format!(
                    "no complete answer within {} s",
                    self.options.request_timeout.as_secs_f32()
                ),
                status: None,
            }),
        };
        match proxy {
            Some(proxy) => through_proxy(result, &proxy, forwarded, host),
            None => result,
        }
    }
}

/// `host:port` of an absolute URL, the scheme's port filled in.
fn authority_of(uri: &Uri) -> Option<String> {
    let host = uri.host()?;
    let port = uri.port_u16().or_else(|| match uri.scheme_str() {
        Some("https") => Some(443),
        Some("http") => Some(80),
        _ => None,
    })?;
    Some(if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    })
}

/// Names the proxy in the outcome of a proxied request: a 407 to a plain-HTTP request is the
/// proxy's failure; other transport errors get `(via proxy host:port)`.
fn through_proxy(
    result: Result<HttpResponse, Error>,
    proxy: &ProxyEndpoint,
    forwarded: bool,
    host: &str,
) -> Result<HttpResponse, Error> {
    match result {
        Ok(response)
            if forwarded && response.status == StatusCode::PROXY_AUTHENTICATION_REQUIRED =>
        {
            Err(Error::Transport {
                host: host.to_owned(),
                kind: TransportErrorKind::Proxy,
                reason: format!(
                    "proxy {} answered 407 Proxy Authentication Required ({})",
                    proxy.addr(),
                    proxy.auth_hint()
                ),
                status: None,
            })
        }
        Err(Error::Transport {
            host,
            kind,
            reason,
            status,
        }) if kind != TransportErrorKind::Proxy => Err(Error::Transport {
            host,
            kind,
            reason: format!("{reason} (via proxy {})", proxy.addr()),
            status,
        }),
        other => other,
    }
}

fn classify(host: &str, err: &hyper_util::client::legacy::Error) -> Error {
    let full = error_chain(err);
    // hyper-util's own layer ("client error (Connect)") adds nothing for a reader.
    let reason = full
        .strip_prefix("client error (Connect): ")
        .or_else(|| full.strip_prefix("client error (SendRequest): "))
        .unwrap_or(&full)
        .to_owned();
    let kind = match find::<rustls::Error>(err) {
        // The proxy's own failures name it; TLS failures inside a tunnel are the server's.
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
        host: host.to_owned(),
        kind,
        reason,
        status: None,
    }
}

/// No connection (TCP, `CONNECT`, TLS handshake) within the connect limit.
#[derive(Debug)]
struct ConnectTimeout(Duration);

impl fmt::Display for ConnectTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no connection (TCP and TLS handshake) within {:?}",
            self.0
        )
    }
}

impl std::error::Error for ConnectTimeout {}

/// A connector whose connections must be established (TCP, tunnel and TLS) within a time
/// limit: a server that takes the connection but never speaks TLS costs the limit, not the
/// request timeout.
#[derive(Clone)]
struct TimedConnect<C> {
    inner: C,
    limit: Duration,
}

impl<C> tower::Service<Uri> for TimedConnect<C>
where
    C: tower::Service<Uri>,
    C::Error: Into<BoxError>,
    C::Future: Send + 'static,
    C::Response: Send + 'static,
{
    type Response = C::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<C::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let connecting = self.inner.call(uri);
        let limit = self.limit;
        Box::pin(async move {
            match tokio::time::timeout(limit, connecting).await {
                Ok(result) => result.map_err(Into::into),
                Err(_) => Err(Box::new(ConnectTimeout(limit)) as BoxError),
            }
        })
    }
}
