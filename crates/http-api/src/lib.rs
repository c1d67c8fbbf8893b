//! The HTTP API of watchtower: `/v1/update` to trigger an update session and `/v1/metrics`
//! for Prometheus, both behind a bearer token.
//!
//! What it does, as in containrrr/watchtower (see `docs/http-api.md` for the differences):
//!
//! - Every endpoint needs `Authorization: Bearer <token>`; anything else gets `401` with an
//!   empty body. The check runs before anything else and compares in constant time
//!   ([`Token`]).
//! - `/v1/update` (`POST`, and `GET` like the original accepted): runs an update session
//!   through an [`UpdateTrigger`] and answers `200` with the session report as JSON once the
//!   session is over. `?image=repo/a,host:5000/b` (repeatable) limits it to containers running
//!   those images ([`UpdateScope`]). The request body is read up to a limit (`413` above) and
//!   discarded.
//! - `/v1/metrics` (`GET`): the series of [`Metrics`] in the Prometheus text format 0.0.4,
//!   or in `OpenMetrics` 1.0.0 for a scraper whose `Accept` header asks for it
//!   ([`MetricsFormat::negotiate`]).
//!
//! The listener ([`Api::serve`]) gives each client [`DEFAULT_READ_TIMEOUT`] to send its
//! request headers (then disconnects it), serves at most [`DEFAULT_MAX_CONNECTIONS`]
//! connections at once (further clients wait to be accepted), and logs its address at
//! start ("HTTP API listening", field `addr`).
//!
//! Whether two triggered sessions may overlap is the trigger's business: the binary's
//! trigger never runs two at once (see `docs/http-api.md`).
//!
//! ```
//! # async fn demo() -> Result<(), watchtower_http_api::Error> {
//! use watchtower_http_api::{Api, Metrics, Token};
//!
//! let metrics = Metrics::new();
//! let api = Api::new(Token::new("s3cret")?).with_metrics(metrics.clone());
//! let listener = watchtower_http_api::bind("127.0.0.1:0".parse().unwrap()).await?;
//! let server = tokio::spawn(api.serve(listener, std::future::ready(())));
//! # let _ = server.await;
//! # Ok(())
//! # }
//! ```
//!
//! This crate knows nothing of Docker, registries or how a session works. Its watchtower
//! dependencies are `watchtower-registry-auth`, for [`ImageSelector`] (the same selector
//! type the update engine's image filter takes, so the API and the engine cannot disagree on
//! which containers `?image=` means), and `watchtower-session-report`, whose report
//! [`ScanCounts::from_report`] turns into the metrics' counts. Update responses reach it as
//! JSON values.

#![warn(missing_docs)]

mod auth;
mod error;
mod format;
mod metrics;
mod scope;
mod server;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use http::{HeaderValue, Method, StatusCode, header};
use tokio::net::TcpListener;

pub use crate::auth::Token;
pub use crate::error::Error;
pub use crate::format::MetricsFormat;
pub use crate::metrics::{Metrics, RegistryRequestCount, RegistryStats, ScanCounts};
pub use crate::scope::UpdateScope;
pub use watchtower_registry_auth::ImageSelector;

/// The default cap on request bodies, in bytes.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// How long a client has, by default, to send a request's headers (and `/v1/update`'s body)
/// before it is disconnected; an idle kept-alive connection is closed after it too.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How many connections the API serves at once by default.
pub const DEFAULT_MAX_CONNECTIONS: usize = 64;

/// Runs update sessions on behalf of `/v1/update`.
#[async_trait]
pub trait UpdateTrigger: Send + Sync + 'static {
    /// Runs an update session for `scope` (or joins one that will cover it) and returns its
    /// report as JSON once it is over.
    async fn update(&self, scope: UpdateScope) -> Result<serde_json::Value, UpdateError>;
}

/// Why an update request did not produce a session report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpdateError {
    /// The process is shutting down and starts no new session (answered with 503).
    #[error("watchtower is shutting down and starts no new session")]
    ShuttingDown,
    /// The session could not run at all, e.g. the engine did not answer (answered with 500).
    #[error("the update session failed: {reason}")]
    Session {
        /// What went wrong, without credentials.
        reason: String,
    },
}

/// The API: which endpoints are on, the token, the limits.
pub struct Api {
    token: Token,
    update: Option<Arc<dyn UpdateTrigger>>,
    metrics: Option<Metrics>,
    body_limit: usize,
    read_timeout: Duration,
    max_connections: usize,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("token", &self.token)
            .field("update", &self.update.is_some())
            .field("metrics", &self.metrics.is_some())
            .field("body_limit", &self.body_limit)
            .field("read_timeout", &self.read_timeout)
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

struct AppState {
    token: Token,
    update: Option<Arc<dyn UpdateTrigger>>,
    metrics: Option<Metrics>,
    body_limit: usize,
    read_timeout: Duration,
}

impl Api {
    /// An API with no endpoint yet.
    pub fn new(token: Token) -> Self {
        Self {
            token,
            update: None,
            metrics: None,
            body_limit: DEFAULT_BODY_LIMIT,
            read_timeout: DEFAULT_READ_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }

    /// Turns on `/v1/update`, served by `trigger`.
    #[must_use]
    pub fn with_update(mut self, trigger: Arc<dyn UpdateTrigger>) -> Self {
        self.update = Some(trigger);
        self
    }

    /// Turns on `/v1/metrics`, serving `metrics`.
    #[must_use]
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Changes the request body cap (default [`DEFAULT_BODY_LIMIT`]).
    #[must_use]
    pub fn with_body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Changes how long a client may take to send a request's headers, and `/v1/update`'s
    /// body (default [`DEFAULT_READ_TIMEOUT`]). A connection that has not delivered its
    /// headers by then is closed; a body that is not in by then is answered with 408.
    #[must_use]
    pub fn with_read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// Changes how many connections are served at once (default
    /// [`DEFAULT_MAX_CONNECTIONS`], at least 1). Clients beyond it wait to be accepted.
    #[must_use]
    pub fn with_max_connections(mut self, connections: usize) -> Self {
        self.max_connections = connections;
        self
    }

    /// Whether any endpoint is on; the original started no server otherwise.
    pub fn has_endpoints(&self) -> bool {
        self.update.is_some() || self.metrics.is_some()
    }

    /// The axum router, for serving or for driving in-process in tests. It carries none of
    /// the connection limits; [`Api::serve`] adds them.
    pub fn router(self) -> Router {
        let state = Arc::new(AppState {
            token: self.token,
            update: self.update,
            metrics: self.metrics,
            body_limit: self.body_limit,
            read_timeout: self.read_timeout,
        });
        let mut router = Router::new();
        if state.update.is_some() {
            router = router.route("/v1/update", any(update));
        }
        if state.metrics.is_some() {
            router = router.route("/v1/metrics", any(metrics));
        }
        router.with_state(state)
    }

    /// Serves on `listener` until `shutdown` completes, then closes the listener and idle
    /// connections and lets requests in flight finish.
    ///
    /// Logs the listening address first (`HTTP API listening`, field `addr`). Errors of
    /// single connections (a client cut off by the read timeout, a reset) end only that
    /// connection.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), Error> {
        let addr = listener
            .local_addr()
            .map_err(|source| Error::Serve { source })?;
        let limits = server::Limits {
            read_timeout: self.read_timeout,
            max_connections: self.max_connections,
        };
        // Local only: not a notification.
        tracing::info!(
            notify = "no",
            %addr,
            max_connections = limits.max_connections,
            read_timeout = ?limits.read_timeout,
            "HTTP API listening"
        );
        server::serve(listener, self.router(), limits, shutdown).await;
        Ok(())
    }
}

/// Binds the API's listening socket.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, Error> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind { addr, source })
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))],
    )
        .into_response()
}

fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.to_string(),
    )
        .into_response()
}

fn error_response(status: StatusCode, message: &str) -> Response {
    json_response(status, &serde_json::json!({ "error": message }))
}

fn method_not_allowed(allow: &'static str) -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(header::ALLOW, HeaderValue::from_static(allow))],
    )
        .into_response()
}

fn authorized(state: &AppState, request: &Request) -> bool {
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    state.token.accepts(header)
}

async fn update(State(state): State<Arc<AppState>>, request: Request) -> Response {
    if !authorized(&state, &request) {
        tracing::debug!(path = "/v1/update", "request without a valid token refused");
        return unauthorized();
    }
    if request.method() != Method::POST && request.method() != Method::GET {
        return method_not_allowed("GET, POST");
    }
    let Some(trigger) = state.update.clone() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let pairs = match Query::<Vec<(String, String)>>::try_from_uri(request.uri()) {
        Ok(Query(pairs)) => pairs,
        Err(err) => {
            return error_response(StatusCode::BAD_REQUEST, &err.body_text());
        }
    };
    let images = pairs
        .iter()
        .filter(|(key, _)| key == "image")
        .map(|(_, value)| value.as_str());
    let scope = match UpdateScope::from_query_values(images) {
        Ok(scope) => scope,
        Err(err) => return error_response(StatusCode::BAD_REQUEST, &err.to_string()),
    };
    let read = axum::body::to_bytes(request.into_body(), state.body_limit);
    let body = match tokio::time::timeout(state.read_timeout, read).await {
        Ok(Ok(body)) => body,
        Ok(Err(_)) => {
            return error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("request bodies are limited to {} bytes", state.body_limit),
            );
        }
        Err(_) => {
            return error_response(
                StatusCode::REQUEST_TIMEOUT,
                &format!(
                    "the request body did not arrive within {} s",
                    state.read_timeout.as_secs_f64()
                ),
            );
        }
    };
    tracing::info!(%scope, body_bytes = body.len(), "Updates triggered by HTTP API request.");
    match trigger.update(scope).await {
        Ok(report) => json_response(StatusCode::OK, &report),
        Err(err @ UpdateError::ShuttingDown) => {
            error_response(StatusCode::SERVICE_UNAVAILABLE, &err.to_string())
        }
        Err(err @ UpdateError::Session { .. }) => {
            error_response(StatusCode::INTERNAL_SERVER_ERROR, &err.to_string())
        }
    }
}

async fn metrics(State(state): State<Arc<AppState>>, request: Request) -> Response {
    if !authorized(&state, &request) {
        tracing::debug!(
            path = "/v1/metrics",
            "request without a valid token refused"
        );
        return unauthorized();
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return method_not_allowed("GET, HEAD");
    }
    let Some(metrics) = &state.metrics else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let format = MetricsFormat::negotiate(request.headers().get(header::ACCEPT));
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(format.content_type()),
            ),
            // Caches must not hand one scraper's format to another.
            (header::VARY, HeaderValue::from_static("Accept")),
        ],
        Body::from(metrics.encode_in(format)),
    )
        .into_response()
}
