//! The registry client: endpoint discovery (scheme and challenge), manifest digests, the
//! freshness verdict, and checking many references at once.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode, header};
use sha2::{Digest as _, Sha256};
use tokio::sync::OnceCell;
use watchtower_http_client::retry_after;
use watchtower_registry_auth::http::{HttpClient, HttpOptions, HttpStats, RequestKind};
use watchtower_registry_auth::{
    AuthScheme, BearerChallenge, Clock, Credential, CredentialStore, ImageReference, SystemClock,
    TokenCache, TokenService, TransportErrorKind, parse_www_authenticate,
};
use watchtower_tls_config::TlsSettings;

use crate::limit::HostLimit;
use crate::{Error, InsecureRegistries};

/// The manifest media types we accept: Docker v2 manifest and manifest list, OCI manifest and
/// index (single- and multi-arch images, whatever built them), and Docker v1 for old images.
pub const MANIFEST_ACCEPT: &str = "application/vnd.docker.distribution.manifest.v2+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.v1+prettyjws;q=0.5";

/// Everything a [`Registry`] needs; [`RegistryOptions::default`] gives sensible values.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// TLS: verified by default (plus `--registry-ca`); insecure with `--insecure-registry`,
    /// which also allows plain HTTP for every registry.
    pub tls: TlsSettings,
    /// Registries the Docker Engine treats as insecure: plain HTTP is allowed for them when
    /// they do not speak TLS. Default: what an engine reports by default, `127.0.0.0/8`.
    pub insecure_registries: InsecureRegistries,
    /// Where credentials come from. Default: anonymous.
    pub credentials: CredentialStore,
    /// Wall-clock time for token expiry.
    pub clock: Arc<dyn Clock>,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Timeout of each whole request (connect, TLS, answer, body).
    pub request_timeout: Duration,
    /// Largest response body read.
    pub max_body_bytes: usize,
    /// At most this many manifest requests run at once against one registry host, counted
    /// over every session of the client and its clones. The client lowers its bound below
    /// this on a `429` (by half) and on a low `RateLimit-Remaining` (to half of what is
    /// left), and raises it again by one per answer without such a sign. Over HTTP/2 the
    /// requests share one connection; over HTTP/1.1 each one in flight needs its own.
    pub per_host_concurrency: usize,
    /// How often a request answered with 429 is retried.
    pub max_rate_limit_retries: u32,
    /// The longest wait before such a retry; a longer `Retry-After` gives up at once.
    pub max_retry_wait: Duration,
    /// `User-Agent` of every request.
    pub user_agent: String,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        let http = HttpOptions::default();
        Self {
            tls: TlsSettings::default(),
            insecure_registries: InsecureRegistries::engine_default(),
            credentials: CredentialStore::anonymous(),
            clock: Arc::new(SystemClock),
            connect_timeout: http.connect_timeout,
            request_timeout: http.request_timeout,
            max_body_bytes: http.max_body_bytes,
            // HEADs are cheap for a registry (Docker Hub does not count them as pulls): a
            // session's distinct images go out in one round, not in rounds of a few.
            per_host_concurrency: 20,
            max_rate_limit_retries: 2,
            max_retry_wait: Duration::from_secs(10),
            user_agent: http.user_agent,
        }
    }
}

/// A registry's rate-limit headers (`ratelimit-limit`, `ratelimit-remaining`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed per window, when sent.
    pub limit: Option<u64>,
    /// Requests left in the current window.
    pub remaining: u64,
    /// The window (`;w=<seconds>`), when sent.
    pub window: Option<Duration>,
}

impl RateLimit {
    /// Reads the headers; `None` when `ratelimit-remaining` is absent or not a number.
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        let parse = |name: &str| -> Option<(u64, Option<Duration>)> {
            let value = headers.get(name)?.to_str().ok()?;
            let mut parts = value.split(';');
            let n = parts.next()?.trim().parse().ok()?;
            let window = parts
                .filter_map(|p| p.trim().strip_prefix("w="))
                .find_map(|w| w.parse().ok())
                .map(Duration::from_secs);
            Some((n, window))
        };
        let (remaining, w1) = parse("ratelimit-remaining")?;
        let limit = parse("ratelimit-limit");
        Some(Self {
            limit: limit.map(|(n, _)| n),
            remaining,
            window: w1.or(limit.and_then(|(_, w)| w)),
        })
    }
}

/// The remote digest of a reference, and what the registry said about rate limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteDigest {
    /// `sha256:…`.
    pub digest: String,
    /// Rate-limit headers of the answer, if any.
    pub rate_limit: Option<RateLimit>,
}

/// The verdict for one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Freshness {
    /// The registry's digest is one of the local image's `RepoDigests` (or the reference is
    /// digest-pinned, which is never stale): no pull needed.
    Fresh,
    /// The registry has another digest under the tag: pulling gives a new image.
    Stale {
        /// The registry's digest.
        remote: String,
    },
    /// The registry could not be asked; the reason names the registry. Callers typically fall
    /// back to a pull.
    Unknown {
        /// Why.
        reason: String,
    },
}

/// One image to check: its reference and the local image's `RepoDigests`
/// (`127.0.0.1:5000/app@sha256:…`, `nginx@sha256:…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRequest {
    /// The reference the container was created from.
    pub reference: ImageReference,
    /// The local image's `RepoDigests`, as the engine reports them.
    pub local_repo_digests: Vec<String>,
}

/// The answer for one [`CheckRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// The reference checked.
    pub reference: ImageReference,
    /// The verdict.
    pub freshness: Freshness,
    /// The registry's digest, when it was had (or the pinned digest).
    pub remote_digest: Option<String>,
    /// The registry's rate-limit headers, when sent.
    pub rate_limit: Option<RateLimit>,
}

/// Counters for metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistryMetrics {
    /// Requests by kind and status, TCP connections opened.
    pub http: HttpStats,
    /// The last rate-limit headers seen per registry host.
    pub rate_limits: BTreeMap<String, RateLimit>,
}

/// The digests in `local_repo_digests` that belong to `reference`'s repository. Entries are
/// normalised like references, so `nginx@sha256:x` and `docker.io/library/nginx@sha256:x`
/// both belong to `nginx:latest`. Malformed entries are ignored.
pub fn local_digests_for(reference: &ImageReference, local_repo_digests: &[String]) -> Vec<String> {
    let name = reference.name();
    local_repo_digests
        .iter()
        .filter_map(|entry| {
            let (repo, digest) = entry.rsplit_once('@')?;
            let parsed = ImageReference::parse(repo).ok()?;
            (parsed.name() == name).then(|| digest.to_owned())
        })
        .collect()
}

/// The verdict for `remote` against the local image's `RepoDigests`.
///
/// ```
/// use watchtower_registry_auth::ImageReference;
/// use watchtower_registry_digest::{Freshness, compare};
///
/// let image = ImageReference::parse("nginx:1.27").unwrap();
/// let local = vec!["docker.io/library/nginx@sha256:aaaa".to_owned()];
/// assert_eq!(compare(&image, "sha256:aaaa", &local), Freshness::Fresh);
/// assert_eq!(
///     compare(&image, "sha256:bbbb", &local),
///     Freshness::Stale { remote: "sha256:bbbb".into() }
/// );
/// ```
pub fn compare(
    reference: &ImageReference,
    remote: &str,
    local_repo_digests: &[String],
) -> Freshness {
    if local_digests_for(reference, local_repo_digests)
        .iter()
        .any(|d| d == remote)
    {
        Freshness::Fresh
    } else {
        Freshness::Stale {
            remote: remote.to_owned(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Https,
    Http,
}

impl Scheme {
    fn as_str(self) -> &'static str {
        match self {
            Self::Https => "https",
            Self::Http => "http",
        }
    }
}

#[derive(Debug)]
enum HostAuth {
    Anonymous,
    Basic,
    Bearer(BearerChallenge),
}

#[derive(Debug)]
struct Endpoint {
    base: String,
    auth: HostAuth,
    credential: Option<Credential>,
}

struct Inner {
    http: HttpClient,
    tokens: TokenService,
    credentials: CredentialStore,
    insecure: InsecureRegistries,
    insecure_all: bool,
    per_host: usize,
    /// The manifest-request bound per registry host, shared by every session of this
    /// client, so that `per_host_concurrency` holds however many sessions run at once.
    limits: Mutex<HashMap<String, Arc<HostLimit>>>,
    clock: Arc<dyn Clock>,
    max_retries: u32,
    max_retry_wait: Duration,
    schemes: Mutex<HashMap<String, Scheme>>,
    rate_limits: Mutex<BTreeMap<String, RateLimit>>,
}

/// A registry client: one pooled HTTP client, one token cache. Cheap to clone.
///
/// [`Registry::check`] and [`Registry::check_many`] each run one [`Session`]: within it every
/// registry host is asked `GET /v2/` once. Tokens are cached across sessions until they expire.
#[derive(Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("http", &self.inner.http)
            .field("insecure_registries", &self.inner.insecure)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Registry {
    /// Builds the client (and its TLS configuration).
    pub fn new(options: RegistryOptions) -> Result<Self, Error> {
        let insecure_all = options.tls.is_insecure();
        let http = HttpClient::new(HttpOptions {
            tls: options.tls,
            connect_timeout: options.connect_timeout,
            request_timeout: options.request_timeout,
            max_body_bytes: options.max_body_bytes,
            user_agent: options.user_agent,
            ..HttpOptions::default()
        })?;
        let tokens = TokenService::new(
            http.clone(),
            Arc::new(TokenCache::new(options.clock.clone())),
        );
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                tokens,
                credentials: options.credentials,
                insecure: options.insecure_registries,
                insecure_all,
                per_host: options.per_host_concurrency.max(1),
                limits: Mutex::default(),
                clock: options.clock,
                max_retries: options.max_rate_limit_retries,
                max_retry_wait: options.max_retry_wait,
                schemes: Mutex::default(),
                rate_limits: Mutex::default(),
            }),
        })
    }

    /// A new session: one `GET /v2/` per registry host for all checks made through it.
    pub fn session(&self) -> Session {
        Session {
            registry: self.clone(),
            hosts: Mutex::default(),
        }
    }

    /// Checks one image in a session of its own.
    pub async fn check(
        &self,
        reference: &ImageReference,
        local_repo_digests: &[String],
    ) -> CheckResult {
        self.session().check(reference, local_repo_digests).await
    }

    /// Checks many images in one session: references are deduplicated, distinct ones are
    /// asked concurrently (at most `per_host_concurrency` at once per registry host). The
    /// results are in the order of `requests`.
    pub async fn check_many(&self, requests: &[CheckRequest]) -> Vec<CheckResult> {
        self.session().check_many(requests).await
    }

    /// The remote digest of `reference`, in a session of its own.
    pub async fn remote_digest(&self, reference: &ImageReference) -> Result<RemoteDigest, Error> {
        self.session().remote_digest(reference).await
    }

    /// Counters for metrics: requests by kind and status, TCP connections, rate limits.
    pub fn metrics(&self) -> RegistryMetrics {
        RegistryMetrics {
            http: self.inner.http.stats(),
            rate_limits: lock(&self.inner.rate_limits).clone(),
        }
    }

    /// The token cache shared by all sessions.
    pub fn token_cache(&self) -> &Arc<TokenCache> {
        self.inner.tokens.cache()
    }

    /// How many manifest requests may run at once against `host` now (`host:port` as in
    /// image references, `registry-1.docker.io` for Docker Hub), or `None` before the
    /// first: `per_host_concurrency`, or less after a `429` or a low
    /// `RateLimit-Remaining`.
    pub fn concurrency_limit(&self, host: &str) -> Option<usize> {
        lock(&self.inner.limits).get(host).map(|l| l.limit())
    }

    /// The manifest-request bound of `host`, shared by all sessions.
    fn host_limit(&self, host: &str) -> Arc<HostLimit> {
        lock(&self.inner.limits)
            .entry(host.to_owned())
            .or_insert_with(|| Arc::new(HostLimit::new(self.inner.per_host)))
            .clone()
    }
}

struct HostState {
    endpoint: OnceCell<Result<Arc<Endpoint>, Error>>,
    /// The client's bound for this host (see `Inner::limits`).
    limit: Arc<HostLimit>,
}

/// One round of checks. Endpoint discovery (scheme, challenge, credentials) happens once per
/// registry host per session, however many images are checked.
pub struct Session {
    registry: Registry,
    hosts: Mutex<HashMap<String, Arc<HostState>>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("hosts", &lock(&self.hosts).keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Session {
    fn host(&self, host: &str) -> Arc<HostState> {
        lock(&self.hosts)
            .entry(host.to_owned())
            .or_insert_with(|| {
                Arc::new(HostState {
                    endpoint: OnceCell::new(),
                    limit: self.registry.host_limit(host),
                })
            })
            .clone()
    }

    /// Checks one image.
    pub async fn check(
        &self,
        reference: &ImageReference,
        local_repo_digests: &[String],
    ) -> CheckResult {
        let outcome = if reference.is_digest_pinned() {
            None
        } else {
            Some(self.remote_digest(reference).await)
        };
        verdict(reference, local_repo_digests, outcome.as_ref())
    }

    /// Checks many images; see [`Registry::check_many`].
    pub async fn check_many(&self, requests: &[CheckRequest]) -> Vec<CheckResult> {
        let mut distinct: Vec<&ImageReference> = Vec::new();
        for r in requests {
            if !r.reference.is_digest_pinned() && !distinct.contains(&&r.reference) {
                distinct.push(&r.reference);
            }
        }
        let answers =
            futures_util::future::join_all(distinct.iter().map(|r| self.remote_digest(r))).await;
        let answers: HashMap<&ImageReference, Result<RemoteDigest, Error>> =
            distinct.into_iter().zip(answers).collect();
        requests
            .iter()
            .map(|r| {
                verdict(
                    &r.reference,
                    &r.local_repo_digests,
                    answers.get(&r.reference),
                )
            })
            .collect()
    }

    /// The registry's digest for `reference`'s tag.
    pub async fn remote_digest(&self, reference: &ImageReference) -> Result<RemoteDigest, Error> {
        let inner = &self.registry.inner;
        let host = reference.api_host();
        let state = self.host(host);
        let endpoint = state
            .endpoint
            .get_or_init(|| async { self.discover(host).await.map(Arc::new) })
            .await
            .clone()?;
        let _permit = state.limit.acquire().await;

        let reference_part = reference.digest().or(reference.tag()).unwrap_or("latest");
        let path = format!("/v2/{}/manifests/{reference_part}", reference.repository());
        let url = format!("{}{path}", endpoint.base);
        let scope = reference.pull_scope();
        let mut token_refreshed = false;
        let mut rate_retries = 0;
        loop {
            let mut token = None;
            let authorization = match &endpoint.auth {
                HostAuth::Anonymous => None,
                HostAuth::Basic => endpoint
                    .credential
                    .as_ref()
                    .and_then(Credential::basic_authorization),
                HostAuth::Bearer(challenge) => {
                    let t = inner
                        .tokens
                        .token(host, challenge, &scope, endpoint.credential.as_ref())
                        .await?;
                    let value = t.authorization();
                    token = Some((challenge, t));
                    Some(value)
                }
            };
            let request = manifest_request(Method::HEAD, &url, authorization.as_ref(), host)?;
            let response = inner
                .http
                .send(RequestKind::ManifestHead, host, request)
                .await?;
            let rate_limit = RateLimit::from_headers(&response.headers);
            if let Some(rl) = rate_limit {
                lock(&inner.rate_limits).insert(host.to_owned(), rl);
            }
            adapt(&state.limit, host, response.status, rate_limit);
            match response.status {
                StatusCode::OK => {
                    let digest = if let Some(value) = response.headers.get("docker-content-digest")
                    {
                        validate_digest(host, value.as_bytes())?
                    } else {
                        tracing::debug!(registry = host, %path, "HEAD gave no digest; reading the manifest");
                        self.digest_by_get(host, &url, authorization.as_ref(), &path)
                            .await?
                    };
                    tracing::debug!(registry = host, image = %reference, %digest, "remote digest");
                    return Ok(RemoteDigest { digest, rate_limit });
                }
                StatusCode::UNAUTHORIZED if !token_refreshed && token.is_some() => {
                    // The token may have been revoked or expired early: fetch a new one once.
                    if let Some((challenge, t)) = &token {
                        inner.tokens.invalidate(challenge, &scope, t).await;
                    }
                    token_refreshed = true;
                }
                StatusCode::TOO_MANY_REQUESTS => {
                    let retry_after = retry_after(&response.headers, inner.clock.now());
                    let wait = retry_after
                        .unwrap_or_else(|| Duration::from_secs(1u64 << rate_retries.min(6)));
                    if rate_retries >= inner.max_retries || wait > inner.max_retry_wait {
                        return Err(Error::RateLimited {
                            registry: host.to_owned(),
                            retry_after,
                        });
                    }
                    tracing::debug!(
                        registry = host,
                        wait_s = wait.as_secs_f32(),
                        "rate limited; waiting"
                    );
                    tokio::time::sleep(wait).await;
                    rate_retries += 1;
                }
                status => {
                    return Err(status_error(
                        host,
                        &format!("HEAD {path}"),
                        status,
                        &response.headers,
                    ));
                }
            }
        }
    }

    async fn digest_by_get(
        &self,
        host: &str,
        url: &str,
        authorization: Option<&watchtower_registry_auth::Secret>,
        path: &str,
    ) -> Result<String, Error> {
        let request = manifest_request(Method::GET, url, authorization, host)?;
        let response = self
            .registry
            .inner
            .http
            .send(RequestKind::ManifestGet, host, request)
            .await?;
        if response.status != StatusCode::OK {
            return Err(status_error(
                host,
                &format!("GET {path}"),
                response.status,
                &response.headers,
            ));
        }
        Ok(format!(
            "sha256:{}",
            hex::encode(Sha256::digest(&response.body))
        ))
    }

    /// Finds how to talk to `host`: the scheme, the authentication it wants, our credentials.
    async fn discover(&self, host: &str) -> Result<Endpoint, Error> {
        let inner = &self.registry.inner;
        // Plain HTTP is learned only for insecure registries, and the insecure list does not
        // change while the process runs.
        let learned = lock(&inner.schemes).get(host).copied();
        let (scheme, response) = if learned == Some(Scheme::Http) {
            (Scheme::Http, self.ping(host, Scheme::Http).await?)
        } else {
            match self.ping(host, Scheme::Https).await {
                Ok(r) => (Scheme::Https, r),
                // Only a server that does not speak TLS is retried over plain HTTP, and only
                // when the registry is insecure (decided here, so that secure registries never
                // cost a DNS look-up for it).
                Err(Error::Auth(e))
                    if matches!(
                        &*e,
                        watchtower_registry_auth::Error::Transport {
                            kind: TransportErrorKind::TlsHandshake,
                            ..
                        }
                    ) && (inner.insecure_all || inner.insecure.matches(host).await) =>
                {
                    tracing::debug!(registry = host, error = %e, "no TLS; using plain HTTP for an insecure registry");
                    match self.ping(host, Scheme::Http).await {
                        Ok(r) => (Scheme::Http, r),
                        Err(http_err) => {
                            return Err(Error::Protocol {
                                registry: host.to_owned(),
                                reason: format!(
                                    "HTTPS failed ({e}) and plain HTTP failed ({http_err})"
                                ),
                            });
                        }
                    }
                }
                Err(e) => return Err(e),
            }
        };
        lock(&inner.schemes).insert(host.to_owned(), scheme);
        let base = format!("{}://{host}", scheme.as_str());

        let auth = match response.status {
            StatusCode::OK => HostAuth::Anonymous,
            StatusCode::UNAUTHORIZED => {
                let challenges: Vec<_> = response
                    .headers
                    .get_all(header::WWW_AUTHENTICATE)
                    .iter()
                    .flat_map(|v| parse_www_authenticate(&String::from_utf8_lossy(v.as_bytes())))
                    .collect();
                match BearerChallenge::find(&challenges) {
                    Some(Ok(bearer)) => HostAuth::Bearer(bearer),
                    Some(Err(reason)) => {
                        return Err(watchtower_registry_auth::Error::Challenge {
                            registry: host.to_owned(),
                            reason,
                        }
                        .into());
                    }
                    None if challenges.iter().any(|c| c.scheme() == AuthScheme::Basic) => {
                        HostAuth::Basic
                    }
                    None => {
                        let sent: Vec<String> = challenges
                            .iter()
                            .map(|c| c.scheme_name().to_owned())
                            .collect();
                        return Err(watchtower_registry_auth::Error::Challenge {
                            registry: host.to_owned(),
                            reason: if sent.is_empty() {
                                "401 without a WWW-Authenticate challenge".to_owned()
                            } else {
                                format!("unsupported authentication scheme(s): {}", sent.join(", "))
                            },
                        }
                        .into());
                    }
                }
            }
            status => return Err(status_error(host, "GET /v2/", status, &response.headers)),
        };
        let credential = match auth {
            HostAuth::Anonymous => None,
            _ => inner.credentials.lookup(host).await?,
        };
        if matches!(auth, HostAuth::Basic)
            && credential
                .as_ref()
                .and_then(Credential::basic_authorization)
                .is_none()
        {
            return Err(watchtower_registry_auth::Error::CredentialsRequired {
                registry: host.to_owned(),
                scheme: "Basic".to_owned(),
            }
            .into());
        }
        tracing::debug!(registry = host, scheme = scheme.as_str(), auth = ?auth, has_credentials = credential.is_some(), "registry endpoint");
        Ok(Endpoint {
            base,
            auth,
            credential,
        })
    }

    async fn ping(
        &self,
        host: &str,
        scheme: Scheme,
    ) -> Result<watchtower_registry_auth::HttpResponse, Error> {
        let request = Request::builder()
            .method(Method::GET)
            .uri(format!("{}://{host}/v2/", scheme.as_str()))
            .body(Bytes::new())
            .map_err(|e| watchtower_registry_auth::Error::Request {
                registry: host.to_owned(),
                reason: e.to_string(),
            })?;
        Ok(self
            .registry
            .inner
            .http
            .send(RequestKind::Challenge, host, request)
            .await?)
    }
}

/// Tells the host's bound what the registry answered (see [`HostLimit`]).
fn adapt(limit: &HostLimit, host: &str, status: StatusCode, rate_limit: Option<RateLimit>) {
    if status == StatusCode::TOO_MANY_REQUESTS {
        let limit = limit.rate_limited();
        tracing::debug!(
            registry = host,
            limit,
            "429: fewer manifest requests at once"
        );
        return;
    }
    let before = limit.limit();
    let remaining = rate_limit.map(|r| r.remaining);
    let limit = limit.answered(remaining);
    if limit < before {
        tracing::debug!(
            registry = host,
            limit,
            remaining,
            "few requests left: fewer manifest requests at once"
        );
    }
}

fn manifest_request(
    method: Method,
    url: &str,
    authorization: Option<&watchtower_registry_auth::Secret>,
    host: &str,
) -> Result<Request<Bytes>, Error> {
    let bad = |reason: String| watchtower_registry_auth::Error::Request {
        registry: host.to_owned(),
        reason,
    };
    let mut builder = Request::builder()
        .method(method)
        .uri(url)
        .header(header::ACCEPT, MANIFEST_ACCEPT);
    if let Some(secret) = authorization {
        let mut value = http::HeaderValue::from_str(secret.expose())
            .map_err(|_| bad("the credentials cannot be sent in an HTTP header".to_owned()))?;
        value.set_sensitive(true);
        builder = builder.header(header::AUTHORIZATION, value);
    }
    Ok(builder.body(Bytes::new()).map_err(|e| bad(e.to_string()))?)
}

fn validate_digest(host: &str, value: &[u8]) -> Result<String, Error> {
    let text = std::str::from_utf8(value).unwrap_or("").trim();
    let ok = match text.split_once(':') {
        Some(("sha256", hex)) => hex.len() == 64,
        Some(("sha512", hex)) => hex.len() == 128,
        _ => false,
    } && text.split_once(':').is_some_and(|(_, h)| {
        h.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    });
    if ok {
        Ok(text.to_owned())
    } else {
        let shown: String = String::from_utf8_lossy(value).chars().take(80).collect();
        Err(Error::Protocol {
            registry: host.to_owned(),
            reason: format!("invalid Docker-Content-Digest header {shown:?}"),
        })
    }
}

fn status_error(host: &str, request: &str, status: StatusCode, headers: &HeaderMap) -> Error {
    let detail = match status {
        StatusCode::NOT_FOUND => ": manifest or repository unknown".to_owned(),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            match headers.get(header::WWW_AUTHENTICATE) {
                Some(v) => {
                    let challenges = parse_www_authenticate(&String::from_utf8_lossy(v.as_bytes()));
                    match challenges.first().and_then(|c| c.param("error")) {
                        Some(err) => format!(" ({err})"),
                        None => " (access denied)".to_owned(),
                    }
                }
                None => " (access denied)".to_owned(),
            }
        }
        _ => String::new(),
    };
    Error::Status {
        registry: host.to_owned(),
        request: request.to_owned(),
        status,
        detail,
    }
}

fn verdict(
    reference: &ImageReference,
    local_repo_digests: &[String],
    outcome: Option<&Result<RemoteDigest, Error>>,
) -> CheckResult {
    match outcome {
        None => CheckResult {
            reference: reference.clone(),
            freshness: Freshness::Fresh,
            remote_digest: reference.digest().map(str::to_owned),
            rate_limit: None,
        },
        Some(Ok(remote)) => CheckResult {
            reference: reference.clone(),
            freshness: compare(reference, &remote.digest, local_repo_digests),
            remote_digest: Some(remote.digest.clone()),
            rate_limit: remote.rate_limit,
        },
        Some(Err(e)) => CheckResult {
            reference: reference.clone(),
            freshness: Freshness::Unknown {
                reason: e.to_string(),
            },
            remote_digest: None,
            rate_limit: None,
        },
    }
}
