//! Sends deliveries: HTTP(S) through the one client of `watchtower-http-client` (connect and
//! request timeouts, a body cap, `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` as Go reads them) with
//! bounded retries of what can succeed on retry, SMTP through lettre, and the `logger://`
//! output. Errors never contain URLs or credentials.
//!
//! HTTPS is verified with the [`TlsSettings`] the notifier was given: the webpki roots, the
//! system trust store as Go finds it, the `--registry-ca` bundle, and the builder's extra
//! roots, the same as registry traffic. Mail servers are verified against the same roots.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use watchtower_http_client::{
    HttpClient, HttpOptions, HttpResponse, ProxyConfig, TransportErrorKind, error_chain,
    retry_after, status_is_retryable,
};
use watchtower_tls_config::{CaBundle, TlsSettings};

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

pub(crate) struct Transport {
    http: HttpClient,
    /// Roots beyond the webpki ones (system trust store, `--registry-ca`, extra roots), for
    /// mail servers; lettre adds the webpki roots itself.
    mail_roots: Vec<Certificate>,
    policy: Policy,
    log: LogSink,
}

/// `tls` with `extra_pem` (when not empty) as additional trust anchors.
fn with_extra_roots(tls: TlsSettings, extra_pem: &[u8]) -> Result<TlsSettings, Error> {
    if extra_pem.is_empty() {
        return Ok(tls);
    }
    let extra = CaBundle::from_pem(EXTRA_ROOTS_NAME, extra_pem).map_err(|e| roots_error(&e))?;
    Ok(tls.with_extra_bundle(extra))
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
        tls: TlsSettings,
        extra_roots_pem: &[u8],
    ) -> Result<Self, Error> {
        let tls = with_extra_roots(tls, extra_roots_pem)?;
        let mail_roots = tls
            .extra_roots()
            .into_iter()
            .map(|der| Certificate::from_der(der.to_vec()))
            .collect::<Result<_, _>>()
            .map_err(|e| Error::InvalidRoots {
                reason: e.to_string(),
            })?;
        let http = HttpClient::new(HttpOptions {
            tls,
            connect_timeout: policy.connect_timeout,
            request_timeout: policy.timeout,
            max_body_bytes: MAX_ANSWER,
            // HTTP/1.1, as notifications were always sent.
            http2: false,
            proxy: ProxyConfig::from_env(),
            ..HttpOptions::default()
        })
        .map_err(|e| match e {
            watchtower_http_client::Error::Tls(e) => roots_error(&e),
            other => Error::Http(other),
        })?;
        Ok(Self {
            http,
            mail_roots,
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
            let (error, retry_after) = match self.http_once(&request).await {
                Ok(()) => return Ok(()),
                Err(Attempt::Final(e)) => return Err(e),
                Err(Attempt::Retry(e, after)) => (e, after),
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
            .uri(&request.url);
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let req = builder
            .body(Bytes::from(request.body.clone()))
            .map_err(|e| {
                Attempt::Final(format!(
                    "could not build the request: {}",
                    e.to_string().replace(&request.url, "<url>")
                ))
            })?;
        let host = req.uri().host().unwrap_or_default().to_owned();
        let response = match self.http.send(&host, req).await {
            Ok(response) => response,
            // An answer larger than we read: its status decides, its body is not looked at.
            Err(watchtower_http_client::Error::Transport {
                kind: TransportErrorKind::BodyTooLarge,
                status: Some(status),
                ..
            }) => HttpResponse {
                status,
                headers: http::HeaderMap::new(),
                body: Bytes::new(),
            },
            // The error names the host, never the URL.
            Err(e) if e.is_retryable() => {
                return Err(Attempt::Retry(format!("request failed: {e}"), None));
            }
            Err(e) => return Err(Attempt::Final(format!("request failed: {e}"))),
        };
        let status = response.status;
        if status_is_retryable(status) {
            let wait = retry_after(&response.headers, SystemTime::now())
                .map(|wait| wait.min(MAX_RETRY_AFTER));
            return Err(Attempt::Retry(format!("server answered {status}"), wait));
        }
        if !status.is_success() {
            return Err(Attempt::Final(format!("server answered {status}")));
        }
        let text = String::from_utf8_lossy(&response.body);
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
            for root in &self.mail_roots {
                builder = builder.add_root_certificate(root.clone());
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
