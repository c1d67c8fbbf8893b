//! The HTTP API of watchtower: `/v1/update` to trigger an update session, `/v1/metrics`
//! for Prometheus, the read side (`/v1/check`, `/v1/containers`, `/v1/history`), the probes
//! `/livez` and `/readyz`, and `/v1/openapi.json`, the [`OPENAPI`] document of all of it.
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
//! - With a [`ReadSide`] ([`Api::with_read`]): `POST /v1/check` (the check document, optionally
//!   for some container names, from the query `name` or the body `{"names": [..]}`),
//!   `GET /v1/containers`, `GET /v1/history` and `GET /readyz` (no token: 200 or 503 with a
//!   reason).
//! - Always: `GET /livez` (no token) and `GET /v1/openapi.json`.
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
mod read;
mod routes;
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
use http::{HeaderValue, StatusCode, header};
use tokio::net::TcpListener;

pub use crate::auth::Token;
pub use crate::error::Error;
pub use crate::format::MetricsFormat;
pub use crate::metrics::{Metrics, RegistryRequestCount, RegistryStats, ScanCounts};
pub use crate::read::{ReadError, ReadSide};
pub use crate::scope::{MAX_IMAGE_VALUE_CHARS, UpdateScope};
pub use watchtower_registry_auth::ImageSelector;

/// The `OpenAPI` 3.0 document of the whole API, as `GET /v1/openapi.json` serves it.
pub const OPENAPI: &str = include_str!("openapi.json");

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
    read: Option<Arc<dyn ReadSide>>,
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
            .field("read", &self.read.is_some())
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
    read: Option<Arc<dyn ReadSide>>,
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
            read: None,
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

    /// Turns on the read side, served by `read`: `/v1/check`, `/v1/containers`,
    /// `/v1/history` and `/readyz`. It does not count for [`Api::has_endpoints`]: the binary
    /// adds it whenever the API is on.
    #[must_use]
    pub fn with_read(mut self, read: Arc<dyn ReadSide>) -> Self {
        self.read = Some(read);
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
            read: self.read,
            body_limit: self.body_limit,
            read_timeout: self.read_timeout,
        });
        let mut router = Router::new()
            .route(routes::LIVEZ.path, any(livez))
            .route(routes::OPENAPI.path, any(openapi));
        if state.update.is_some() {
            router = router.route(routes::UPDATE.path, any(update));
        }
        if state.metrics.is_some() {
            router = router.route(routes::METRICS.path, any(metrics));
        }
        if state.read.is_some() {
            router = router
                .route(routes::CHECK.path, any(check))
                .route(routes::CONTAINERS.path, any(containers))
                .route(routes::HISTORY.path, any(history))
                .route(routes::READYZ.path, any(readyz));
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

fn method_not_allowed(route: &routes::Route) -> Response {
    let allow = route.methods.join(", ");
    let mut response = StatusCode::METHOD_NOT_ALLOWED.into_response();
    if let Ok(value) = HeaderValue::from_str(&allow) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    response
}

/// The answer to a request `route` does not serve: 401 without the token (before anything
/// else is looked at), 405 for another method; `None` when the request may go on.
fn refuse(state: &AppState, route: &routes::Route, request: &Request) -> Option<Response> {
    if route.token && !authorized(state, request) {
        tracing::debug!(path = route.path, "request without a valid token refused");
        return Some(unauthorized());
    }
    if !route.methods.contains(&request.method().as_str()) {
        return Some(method_not_allowed(route));
    }
    None
}

/// Reads a request body within the body limit and the read timeout; the error is the
/// status to answer (413 or 408) and why.
async fn read_body(
    state: &AppState,
    request: Request,
) -> Result<bytes::Bytes, (StatusCode, String)> {
    let read = axum::body::to_bytes(request.into_body(), state.body_limit);
    match tokio::time::timeout(state.read_timeout, read).await {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(_)) => Err((
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request bodies are limited to {} bytes", state.body_limit),
        )),
        Err(_) => Err((
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request body did not arrive within {} s",
                state.read_timeout.as_secs_f64()
            ),
        )),
    }
}

/// The values of the query parameter `key`, in order; the error says why the query does
/// not parse (answered with 400).
fn query_values(request: &Request, key: &str) -> Result<Vec<String>, String> {
    match Query::<Vec<(String, String)>>::try_from_uri(request.uri()) {
        Ok(Query(pairs)) => Ok(pairs
            .into_iter()
            .filter(|(k, _)| k == key)
            .map(|(_, value)| value)
            .collect()),
        Err(err) => Err(err.body_text()),
    }
}

fn read_error(err: &ReadError) -> Response {
    match err {
        ReadError::ShuttingDown => {
            error_response(StatusCode::SERVICE_UNAVAILABLE, &err.to_string())
        }
        ReadError::Failed { .. } => {
            error_response(StatusCode::INTERNAL_SERVER_ERROR, &err.to_string())
        }
    }
}

fn authorized(state: &AppState, request: &Request) -> bool {
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    state.token.accepts(header)
}

async fn update(State(state): State<Arc<AppState>>, request: Request) -> Response {
    if let Some(refusal) = refuse(&state, &routes::UPDATE, &request) {
        return refusal;
    }
    let Some(trigger) = state.update.clone() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let images = match query_values(&request, "image") {
        Ok(images) => images,
        Err(reason) => return error_response(StatusCode::BAD_REQUEST, &reason),
    };
    let scope = match UpdateScope::from_query_values(images.iter().map(String::as_str)) {
        Ok(scope) => scope,
        Err(err) => return error_response(StatusCode::BAD_REQUEST, &err.to_string()),
    };
    let body = match read_body(&state, request).await {
        Ok(body) => body,
        Err((status, reason)) => return error_response(status, &reason),
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
    if let Some(refusal) = refuse(&state, &routes::METRICS, &request) {
        return refusal;
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

async fn check(State(state): State<Arc<AppState>>, request: Request) -> Response {
    if let Some(refusal) = refuse(&state, &routes::CHECK, &request) {
        return refusal;
    }
    let Some(read) = state.read.clone() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let query = match query_values(&request, "name") {
        Ok(values) => values,
        Err(reason) => return error_response(StatusCode::BAD_REQUEST, &reason),
    };
    let body = match read_body(&state, request).await {
        Ok(body) => body,
        Err((status, reason)) => return error_response(status, &reason),
    };
    let names = match read::check_names(query, &body) {
        Ok(names) => names,
        Err(reason) => return error_response(StatusCode::BAD_REQUEST, &reason),
    };
    tracing::info!(notify = "no", names = ?names, "check requested through the HTTP API");
    match read.check(names).await {
        Ok(document) => json_response(StatusCode::OK, &document),
        Err(err) => read_error(&err),
    }
}

async fn containers(State(state): State<Arc<AppState>>, request: Request) -> Response {
    if let Some(refusal) = refuse(&state, &routes::CONTAINERS, &request) {
        return refusal;
    }
    let Some(read) = state.read.clone() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match read.containers().await {
        Ok(document) => json_response(StatusCode::OK, &document),
        Err(err) => read_error(&err),
    }
}

async fn history(State(state): State<Arc<AppState>>, request: Request) -> Response {
    if let Some(refusal) = refuse(&state, &routes::HISTORY, &request) {
        return refusal;
    }
    let Some(read) = state.read.clone() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    json_response(StatusCode::OK, &read.history().await)
}

async fn readyz(State(state): State<Arc<AppState>>, request: Request) -> Response {
    if let Some(refusal) = refuse(&state, &routes::READYZ, &request) {
        return refusal;
    }
    let Some(read) = state.read.clone() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match read.ready().await {
        Ok(()) => json_response(StatusCode::OK, &serde_json::json!({ "ready": true })),
        Err(reason) => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &serde_json::json!({ "ready": false, "reason": reason }),
        ),
    }
}

async fn livez(State(state): State<Arc<AppState>>, request: Request) -> Response {
    if let Some(refusal) = refuse(&state, &routes::LIVEZ, &request) {
        return refusal;
    }
    json_response(StatusCode::OK, &serde_json::json!({ "live": true }))
}

async fn openapi(State(state): State<Arc<AppState>>, request: Request) -> Response {
    if let Some(refusal) = refuse(&state, &routes::OPENAPI, &request) {
        return refusal;
    }
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        OPENAPI,
    )
        .into_response()
}

#[cfg(test)]
mod openapi_tests;
