//! The registry's use of the one HTTP client (`watchtower-http-client`: pooled hyper-rustls,
//! connect and request timeouts, a body cap, `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` with Go's
//! rules): requests counted by what they were for ([`RequestKind`]) and their status.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Uri};
use watchtower_http_client::HttpClient as Client;
pub use watchtower_http_client::{HttpOptions, HttpResponse, ProxyConfig};

use crate::{Error, TransportErrorKind};

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

/// Requests by (kind, status).
type RequestCounts = BTreeMap<(RequestKind, Option<u16>), u64>;

/// The shared, pooled registry HTTP client: `watchtower-http-client`'s [`Client`] with a
/// count of requests by kind and status. Cheap to clone: clones share the pool and counters.
///
/// HTTPS (HTTP/2 or HTTP/1.1 by ALPN) and plain HTTP go through the same pool; which one is
/// used is decided by the URL's scheme, and the caller decides the scheme.
///
/// With a proxy ([`HttpOptions::proxy`]), HTTPS requests go through a `CONNECT` tunnel with TLS
/// end to end (verified against the registry's name) and plain-HTTP requests are sent to the
/// proxy in absolute form; the client never resolves a proxied registry's name.
#[derive(Clone)]
pub struct HttpClient {
    client: Client,
    requests: Arc<Mutex<RequestCounts>>,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("options", self.client.options())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// Builds the client. Call once per process and clone it.
    ///
    /// The proxy settings are read here, once; an unusable proxy URL is an
    /// [`Error::Client`] naming the variable (its credentials hidden).
    pub fn new(options: HttpOptions) -> Result<Self, Error> {
        Ok(Self {
            client: Client::new(options)?,
            requests: Arc::default(),
        })
    }

    /// The options the client was built with.
    pub fn options(&self) -> &HttpOptions {
        self.client.options()
    }

    /// The proxy (`host:port`) a request to `url` goes through, or `None` when it goes
    /// direct (no proxy for its scheme, `NO_PROXY`, or a loopback host).
    pub fn proxy_for(&self, url: &Uri) -> Option<&str> {
        self.client.proxy_for(url)
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
            connections_opened: self.client.connections_opened(),
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
        let result = self.client.send(registry, request).await;
        match &result {
            Ok(response) => self.count(kind, Some(response.status.as_u16())),
            // An answer came, then its body failed: counted with its status.
            Err(watchtower_http_client::Error::Transport {
                status: Some(status),
                ..
            }) => self.count(kind, Some(status.as_u16())),
            // No answer at all (a protocol failure before the answer is not counted).
            Err(watchtower_http_client::Error::Transport { kind: failure, .. })
                if !matches!(
                    failure,
                    TransportErrorKind::BodyTooLarge | TransportErrorKind::Protocol
                ) =>
            {
                self.count(kind, None);
            }
            Err(_) => {}
        }
        Ok(result?)
    }
}
