//! Sends deliveries: HTTP(S) with a connect timeout, a per-request timeout and bounded
//! retries, SMTP through lettre, and the `logger://` output. Errors never contain URLs or
//! credentials.
//!
//! HTTPS is verified with the rustls configuration of `watchtower-tls-config` (webpki roots
//! plus the extra roots the builder was given, *ring* provider), the same as registry traffic.

use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use watchtower_tls_config::{CaBundle, ClientConfig, TlsSettings};

use crate::Error;
use crate::service::{
    Delivery, HttpRequest, Mail, SmtpAuth, SmtpConfig, SmtpEncryption, Success, build_mail,
};

/// How much of an answer's body is read (enough for Slack's and Telegram's `ok` field).
const MAX_ANSWER: usize = 64 * 1024;
/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
/// How the extra roots are named in the TLS configuration's errors.
const EXTRA_ROOTS_NAME: &str = "extra root certificates";

/// Where `logger://` writes.
#[derive(Clone)]
pub(crate) enum LogSink {
    /// A `tracing` event at trace level (the original logged at logrus' trace level).
    Tracing,
    /// A writer, normally standard output (`--notification-log-stdout`).
    Writer(Arc<Mutex<Box<dyn Write + Send>>>),
}

/// Retry and timeout policy.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Policy {
    /// One request, connecting included.
    pub(crate) timeout: Duration,
    /// Connecting: the TCP connection and the TLS handshake.
    pub(crate) connect_timeout: Duration,
    pub(crate) attempts: u32,
    pub(crate) backoff: Duration,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A connector whose connections must be established (TCP and TLS) within a time limit: a
/// server that takes the connection but never speaks TLS costs the limit, not the request
/// timeout.
#[derive(Clone)]
struct TimedConnect<C> {
    inner: C,
    limit: Duration,
}

impl<C> tower::Service<http::Uri> for TimedConnect<C>
where
    C: tower::Service<http::Uri>,
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

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let connecting = self.inner.call(uri);
        let limit = self.limit;
        Box::pin(async move {
            match tokio::time::timeout(limit, connecting).await {
                Ok(result) => result.map_err(Into::into),
                Err(_) => Err(Box::new(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no connection (TCP and TLS handshake) within {limit:?}"),
                )) as BoxError),
            }
        })
    }
}

type HttpClient = Client<TimedConnect<hyper_rustls::HttpsConnector<HttpConnector>>, Full<Bytes>>;

pub(crate) struct Transport {
    http: HttpClient,
    extra_roots_pem: Vec<u8>,
    policy: Policy,
    log: LogSink,
}

/// The rustls configuration for HTTPS services: `watchtower-tls-config`'s verified settings
/// with `extra_pem` (when not empty) as additional trust anchors.
fn tls_config(extra_pem: &[u8]) -> Result<ClientConfig, Error> {
    let bundle = if extra_pem.is_empty() {
        None
    } else {
        Some(CaBundle::from_pem(EXTRA_ROOTS_NAME, extra_pem).map_err(|e| roots_error(&e))?)
    };
    let shared = TlsSettings::verified(bundle)
        .client_config()
        .map_err(|e| roots_error(&e))?;
    let mut config = (*shared).clone();
    // hyper-rustls sets ALPN itself, for the HTTP versions it enables, and insists on an
    // empty list.
    config.alpn_protocols.clear();
    Ok(config)
}

/// The TLS configuration's error, without its "registry CA bundle" wording.
fn roots_error(e: &watchtower_tls_config::Error) -> Error {
    use watchtower_tls_config::Error as Tls;
    let reason = match e {
        Tls::NoCertificate { .. } => "no PEM certificate found".to_owned(),
        Tls::Pem { reason, .. } => format!("invalid PEM: {reason}"),
        Tls::InvalidCertificate { index, reason, .. } => {
            format!("certificate #{index} is not a valid X.509 certificate: {reason}")
        }
        Tls::NotATrustAnchor { index, reason, .. } => {
            format!("certificate #{index} cannot be used as a trust anchor: {reason}")
        }
        other => other.to_string(),
    };
    Error::InvalidRoots { reason }
}

impl Transport {
    pub(crate) fn new(
        policy: Policy,
        log: LogSink,
        extra_roots_pem: Vec<u8>,
    ) -> Result<Self, Error> {
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(Some(policy.connect_timeout));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config(&extra_roots_pem)?)
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        let connector = TimedConnect {
            inner: https,
            limit: policy.connect_timeout,
        };
        let http = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Self {
            http,
            extra_roots_pem,
            policy,
            log,
        })
    }

    pub(crate) async fn deliver(
        &self,
        smtp: Option<&SmtpConfig>,
        delivery: Delivery,
    ) -> Result<(), String> {
        match delivery {
            Delivery::Http(request) => self.http(request).await,
            Delivery::Mail(mail) => match smtp {
                Some(config) => self.mail(config, mail).await,
                None => Err("mail delivery without smtp settings".to_owned()),
            },
            Delivery::Log(message) => {
                self.log(&message);
                Ok(())
            }
        }
    }

    fn log(&self, message: &str) {
        match &self.log {
            LogSink::Tracing => {
                for line in message.lines() {
                    tracing::trace!(target: "watchtower_notify::logger", "Shoutrrr: {line}");
                }
            }
            LogSink::Writer(writer) => {
                let mut text = message.to_owned();
                if !text.ends_with('\n') {
                    text.push('\n');
                }
                if let Ok(mut w) = writer.lock() {
                    let _ = w.write_all(text.as_bytes());
                    let _ = w.flush();
                }
            }
        }
    }

    async fn http(&self, request: HttpRequest) -> Result<(), String> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = tokio::time::timeout(self.policy.timeout, self.http_once(&request)).await;
            let (error, retry_after) = match outcome {
                Err(_) => return Err(format!("no answer within {:?}", self.policy.timeout)),
                Ok(Ok(())) => return Ok(()),
                Ok(Err(Attempt::Final(e))) => return Err(e),
                Ok(Err(Attempt::Retry(e, after))) => (e, after),
            };
            if attempt >= self.policy.attempts {
                return Err(format!("{error} (gave up after {attempt} attempts)"));
            }
            let wait =
                retry_after.unwrap_or(self.policy.backoff * 2u32.saturating_pow(attempt - 1));
            tracing::debug!(attempt, error = %error, wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX), "notification request failed; retrying");
            tokio::time::sleep(wait).await;
        }
    }

    async fn http_once(&self, request: &HttpRequest) -> Result<(), Attempt> {
        let mut builder = http::Request::builder()
            .method(request.method.clone())
            .uri(&request.url)
            .header(
                "User-Agent",
                concat!("watchtower/", env!("CARGO_PKG_VERSION")),
            );
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let req = builder
            .body(Full::new(Bytes::from(request.body.clone())))
            .map_err(|e| {
                Attempt::Final(format!(
                    "could not build the request: {}",
                    e.to_string().replace(&request.url, "<url>")
                ))
            })?;
        let response = self.http.request(req).await.map_err(|e| {
            // Connection errors are worth another try; their text names no URL.
            Attempt::Retry(format!("request failed: {}", error_chain(&e)), None)
        })?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER));
        let body = Limited::new(response.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map(http_body_util::Collected::to_bytes)
            .unwrap_or_default();
        if status == http::StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            return Err(Attempt::Retry(
                format!("server answered {status}"),
                retry_after,
            ));
        }
        if !status.is_success() {
            return Err(Attempt::Final(format!("server answered {status}")));
        }
        let text = String::from_utf8_lossy(&body);
        match request.success {
            Success::Status2xx => Ok(()),
            Success::SlackWebhook => {
                let t = text.trim();
                if t.is_empty() || t == "ok" {
                    Ok(())
                } else {
                    Err(Attempt::Final(format!(
                        "webhook answered {:?}",
                        truncate(t)
                    )))
                }
            }
            Success::JsonOk => match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(v) if v.get("ok") == Some(&serde_json::Value::Bool(true)) => Ok(()),
                Ok(v) => Err(Attempt::Final(format!(
                    "api answered not ok: {}",
                    v.get("error")
                        .or_else(|| v.get("description"))
                        .map_or_else(|| "unknown error".to_owned(), ToString::to_string)
                ))),
                Err(_) => Err(Attempt::Final(format!(
                    "api answered with no JSON: {:?}",
                    truncate(&text)
                ))),
            },
        }
    }

    async fn mail(&self, config: &SmtpConfig, mail: Mail) -> Result<(), String> {
        let message = build_mail(config, mail)?;
        let transport = self.smtp_transport(config)?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match tokio::time::timeout(self.policy.timeout, transport.send(message.clone())).await {
                Err(_) => return Err(format!("no answer within {:?}", self.policy.timeout)),
                Ok(Ok(_)) => return Ok(()),
                Ok(Err(e)) => {
                    let text = smtp_error(&e, config);
                    if !e.is_transient() || attempt >= self.policy.attempts {
                        return Err(text);
                    }
                    tokio::time::sleep(self.policy.backoff * 2u32.saturating_pow(attempt - 1))
                        .await;
                }
            }
        }
    }

    fn smtp_transport(
        &self,
        config: &SmtpConfig,
    ) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
        let params = || -> Result<TlsParameters, String> {
            let mut builder = TlsParameters::builder(config.host.clone());
            if !self.extra_roots_pem.is_empty() {
                let bundle = Certificate::from_pem(&self.extra_roots_pem)
                    .map_err(|e| format!("extra roots: {e}"))?;
                builder = builder.add_root_certificate(bundle);
            }
            builder
                .build_rustls()
                .map_err(|e| format!("tls settings: {e}"))
        };
        let loopback = is_loopback(&config.host);
        let authenticate = config.auth != SmtpAuth::None;
        let tls = if config.implicit_tls() {
            Tls::Wrapper(params()?)
        } else if config.encryption == SmtpEncryption::Explicit
            || (authenticate && !loopback && config.starttls)
        {
            // Credentials go only over an encrypted connection (as Go's PlainAuth insists).
            Tls::Required(params()?)
        } else if config.starttls {
            Tls::Opportunistic(params()?)
        } else {
            Tls::None
        };
        if authenticate && !loopback && matches!(tls, Tls::None) {
            return Err("refusing to send smtp credentials over an unencrypted connection to a remote server (enable starttls or use encryption=ImplicitTLS)".to_owned());
        }
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.clone())
                .port(config.port)
                .tls(tls)
                .timeout(Some(self.policy.timeout))
                .hello_name(ClientId::Domain(config.client_host.clone()));
        if authenticate {
            let mechanism = match config.auth {
                SmtpAuth::Login => Mechanism::Login,
                SmtpAuth::OAuth2 => Mechanism::Xoauth2,
                SmtpAuth::Plain | SmtpAuth::None => Mechanism::Plain,
            };
            builder = builder
                .credentials(Credentials::new(
                    config.username.clone(),
                    config.password.clone(),
                ))
                .authentication(vec![mechanism]);
        }
        Ok(builder.build())
    }
}

fn smtp_error(e: &lettre::transport::smtp::Error, config: &SmtpConfig) -> String {
    let mut text = error_chain(e);
    if !config.password.is_empty() {
        text = text.replace(&config.password, "REDACTED");
    }
    text
}

enum Attempt {
    Final(String),
    Retry(String, Option<Duration>),
}

fn truncate(s: &str) -> String {
    s.chars().take(200).collect()
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// An error and its sources, joined with `: `.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let t = s.to_string();
        if !text.contains(&t) {
            text.push_str(": ");
            text.push_str(&t);
        }
        source = s.source();
    }
    text
}
