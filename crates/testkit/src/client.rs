//! A small HTTP(S) client for tests: hyper + rustls (ring), with the roots the test chooses.
//!
//! The bench uses it to wait for the registry and to read manifest digests; tests use it to prove
//! that the HTTPS registry verifies with the test CA and fails without it.

use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// The `User-Agent` of the bench's own requests; the registry's access log is filtered by it.
pub const TESTKIT_USER_AGENT: &str = concat!("watchtower-testkit/", env!("CARGO_PKG_VERSION"));

/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The most of a body the client reads.
const BODY_LIMIT: usize = 16 * 1024 * 1024;

/// A response with its body read.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body (at most 16 MiB are read).
    pub body: Bytes,
}

impl Response {
    /// The header `name` as a string, if present and valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// An HTTP client for `http://` and `https://` URLs. HTTPS verifies against the configured
/// roots only (none by default, so every HTTPS request fails unless roots are given).
#[derive(Clone)]
pub struct HttpClient {
    inner: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient").finish_non_exhaustive()
    }
}

impl HttpClient {
    /// A client whose HTTPS requests verify with `tls` (see
    /// [`TestCa::client_config`](crate::tls::TestCa::client_config)); `None` trusts no root.
    pub fn new(tls: Option<rustls::ClientConfig>) -> HttpClient {
        let tls = tls.unwrap_or_else(|| crate::tls::client_config(rustls::RootCertStore::empty()));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        HttpClient {
            inner: Client::builder(TokioExecutor::new()).build(connector),
        }
    }

    /// `GET url`.
    pub async fn get(&self, url: &str) -> anyhow::Result<Response> {
        self.request(Method::GET, url, &[]).await
    }

    /// Sends `method url` with `headers` and an empty body, reads the answer. Without a
    /// `User-Agent` in `headers` the request carries [`TESTKIT_USER_AGENT`], which the
    /// registry's access-log counts leave out.
    pub async fn request(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<Response> {
        self.send(method, url, headers, Bytes::new()).await
    }

    /// Sends `method url` with `headers` and `body`, reads the answer; otherwise like
    /// [`HttpClient::request`] (the same `User-Agent` rule, timeout and body limit).
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> anyhow::Result<Response> {
        let mut builder = Request::builder().method(method.clone()).uri(url);
        if !headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("user-agent"))
        {
            builder = builder.header(http::header::USER_AGENT, TESTKIT_USER_AGENT);
        }
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder
            .body(Full::new(body))
            .with_context(|| format!("building the request {method} {url}"))?;
        let response = tokio::time::timeout(REQUEST_TIMEOUT, self.inner.request(request))
            .await
            .with_context(|| format!("{method} {url} timed out after {REQUEST_TIMEOUT:?}"))?
            .with_context(|| format!("{method} {url}"))?;
        let (parts, body) = response.into_parts();
        let body = http_body_util::Limited::new(body, BODY_LIMIT)
            .collect()
            .await
            .map_err(|err| anyhow::anyhow!("reading the body of {method} {url}: {err}"))?
            .to_bytes();
        Ok(Response {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}
