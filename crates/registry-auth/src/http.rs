//! The one pooled HTTP client for registry traffic (hyper-util + hyper-rustls), with connect
//! and request timeouts, a body size cap, and counters for requests and TCP connections.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use watchtower_tls_config::TlsSettings;

use crate::{Error, TransportErrorKind};

/// Options of the shared client.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// TLS verification settings (`--registry-ca`, `--insecure-registry`).
    pub tls: TlsSettings,
    /// Limit for establishing a TCP connection.
    pub connect_timeout: Duration,
    /// Limit for a whole request: connect, TLS handshake, response and body.
    pub request_timeout: Duration,
    /// Largest response body read; larger ones are an error.
    pub max_body_bytes: usize,
    /// `User-Agent` header sent with every request.
    pub user_agent: String,
    /// How long an idle pooled connection is kept.
    pub pool_idle_timeout: Duration,
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
    /// TCP connections opened since the client was made.
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

type Inner = Client<HttpsConnector<CountingConnector>, Full<Bytes>>;

/// The shared, pooled registry HTTP client. Cheap to clone: clones share the pool and counters.
///
/// HTTPS (HTTP/2 or HTTP/1.1 by ALPN) and plain HTTP go through the same pool; which one is
/// used is decided by the URL's scheme, and the caller decides the scheme.
#[derive(Clone)]
pub struct HttpClient {
    client: Inner,
    options: Arc<HttpOptions>,
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
    pub fn new(options: HttpOptions) -> Result<Self, Error> {
        let tls = options.tls.client_config()?;
        let connections = Arc::new(AtomicU64::new(0));
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_connect_timeout(Some(options.connect_timeout));
        tcp.set_nodelay(true);
        tcp.set_keepalive(Some(Duration::from_secs(60)));
        let counting = CountingConnector {
            inner: tcp,
            opened: connections.clone(),
        };
        // hyper-rustls sets ALPN itself (h2 and http/1.1, matching the enabled versions) and
        // insists on an empty list.
        let mut tls = (*tls).clone();
        tls.alpn_protocols.clear();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_all_versions()
            .wrap_connector(counting);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(options.pool_idle_timeout)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(https);
        Ok(Self {
            client,
            options: Arc::new(options),
            requests: Arc::default(),
            connections,
        })
    }

    /// The options the client was built with.
    pub fn options(&self) -> &HttpOptions {
        &self.options
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
        match tokio::time::timeout(self.options.request_timeout, exchange).await {
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
        }
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
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(r) = e.downcast_ref::<rustls::Error>() {
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

/// Counts every TCP connection the pool opens.
#[derive(Clone)]
struct CountingConnector {
    inner: HttpConnector,
    opened: Arc<AtomicU64>,
}

impl tower::Service<Uri> for CountingConnector {
    type Response = TokioIo<tokio::net::TcpStream>;
    type Error = <HttpConnector as tower::Service<Uri>>::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let fut = self.inner.call(dst);
        let opened = self.opened.clone();
        Box::pin(async move {
            let stream = fut.await?;
            opened.fetch_add(1, Ordering::Relaxed);
            tracing::trace!("registry TCP connection opened");
            Ok(stream)
        })
    }
}
