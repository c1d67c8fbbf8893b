//! Shoutrrr-style service URLs: parsing (with every error naming the scheme, never the
//! secret) and turning a message into the requests each service's documented API expects.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::Engine as _;
use url::Url;

use crate::Error;

mod discord;
mod generic;
mod gotify;
mod ntfy;
mod pushover;
mod slack;
mod smtp;
mod teams;
mod telegram;

use discord::{Discord, parse_discord};
use generic::{Generic, parse_generic};
use gotify::{Gotify, parse_gotify};
use ntfy::{Ntfy, parse_ntfy};
use pushover::{Pushover, parse_pushover};
use slack::{Slack, parse_slack};
use smtp::parse_smtp;
pub(crate) use smtp::{SmtpAuth, SmtpConfig, SmtpEncryption, build_mail};
use teams::{Teams, parse_teams};
use telegram::{Telegram, parse_telegram};

/// Where the fixed-host services live. Tests replace these with a receiver on 127.0.0.1
/// (feature `test-endpoints`); users cannot.
#[derive(Debug, Clone)]
pub(crate) struct Endpoints {
    pub(crate) slack_hooks: String,
    pub(crate) slack_api: String,
    pub(crate) discord: String,
    pub(crate) telegram: String,
    pub(crate) pushover: String,
    /// Replaces `https://<host>` of Teams webhooks.
    pub(crate) teams: Option<String>,
}

impl Default for Endpoints {
    fn default() -> Self {
        Self {
            slack_hooks: "https://hooks.slack.com".to_owned(),
            slack_api: "https://slack.com".to_owned(),
            discord: "https://discord.com".to_owned(),
            telegram: "https://api.telegram.org".to_owned(),
            pushover: "https://api.pushover.net".to_owned(),
            teams: None,
        }
    }
}

impl Endpoints {
    /// Every fixed host replaced by `base` (e.g. `http://127.0.0.1:PORT`).
    #[cfg(any(test, feature = "test-endpoints"))]
    pub(crate) fn all_at(base: &str) -> Self {
        let base = base.trim_end_matches('/').to_owned();
        Self {
            slack_hooks: base.clone(),
            slack_api: base.clone(),
            discord: base.clone(),
            telegram: base.clone(),
            pushover: base.clone(),
            teams: Some(base),
        }
    }
}

/// How to tell a successful answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Success {
    /// Any 2xx status.
    Status2xx,
    /// 2xx and a JSON body with `"ok": true` (Slack's and Telegram's APIs).
    JsonOk,
    /// 2xx and a body that is empty or `ok` (Slack webhooks).
    SlackWebhook,
}

/// One HTTP request to make.
///
/// Its URL may hold a token (Telegram's bot token, Discord's and Slack's webhook paths,
/// Gotify's `?token=`), its headers credentials (`Authorization`, `@header` values) and its
/// body too (Pushover's form): `Debug` shows the method, the URL redacted to scheme and host,
/// the header names with only harmless values, and the body's length.
#[derive(Clone)]
pub(crate) struct HttpRequest {
    pub(crate) method: http::Method,
    pub(crate) url: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    pub(crate) success: Success,
}

/// Headers whose values `Debug` may show; every other value is `REDACTED`.
const SHOWN_HEADERS: &[&str] = &["accept", "content-type", "priority", "user-agent"];

impl std::fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(name, value)| {
                let shown = SHOWN_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name));
                (
                    name.as_str(),
                    if shown { value.as_str() } else { "REDACTED" },
                )
            })
            .collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &redact_request_url(&self.url))
            .field("headers", &headers)
            .field("body_bytes", &self.body.len())
            .field("success", &self.success)
            .finish()
    }
}

/// One mail to send.
#[derive(Debug, Clone)]
pub(crate) struct Mail {
    pub(crate) to: String,
    pub(crate) subject: String,
    pub(crate) body: String,
}

/// What sending one message to one service takes. `Debug` shows no secret (see
/// [`HttpRequest`]); mails and log lines hold only the message, never credentials.
#[derive(Debug, Clone)]
pub(crate) enum Delivery {
    Http(HttpRequest),
    Mail(Mail),
    Log(String),
}

#[derive(Clone)]
pub(crate) enum Service {
    Logger,
    Generic(Generic),
    Slack(Slack),
    Discord(Discord),
    Teams(Teams),
    Gotify(Gotify),
    Telegram(Telegram),
    Smtp(Box<SmtpConfig>),
    Ntfy(Ntfy),
    Pushover(Pushover),
}

/// The scheme of a URL as the original names it: text before the first `:`, or `invalid`.
///
/// Only text that can be a URL scheme (a letter, then letters, digits, `+`, `-`, `.`; at most
/// 32 characters) is shown: in a value without a scheme the text before the first `:` may be
/// a token (`123456:<bot secret>`) and must not end up in an error.
pub(crate) fn scheme_of(raw: &str) -> String {
    let candidate = raw.trim().split_once(':').map_or("", |(scheme, _)| scheme);
    let is_scheme = (1..=32).contains(&candidate.len())
        && candidate.starts_with(|c: char| c.is_ascii_alphabetic())
        && candidate
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if is_scheme {
        candidate.to_owned()
    } else {
        "invalid".to_owned()
    }
}

/// A URL with everything that may be secret taken out: only the scheme and, for services
/// whose host is a server name, the host and port.
pub(crate) fn redact(raw: &str) -> String {
    let scheme = scheme_of(raw);
    let Ok(url) = Url::parse(raw) else {
        return format!("{scheme}://REDACTED");
    };
    let shows_host = matches!(
        scheme.as_str(),
        "generic" | "generic+http" | "generic+https" | "gotify" | "ntfy" | "smtp" | "teams+https"
    );
    match (shows_host, url.host_str()) {
        (true, Some(host)) => match url.port() {
            Some(port) => format!("{scheme}://{host}:{port}/REDACTED"),
            None => format!("{scheme}://{host}/REDACTED"),
        },
        _ => format!("{scheme}://REDACTED"),
    }
}

/// A request URL with everything that may be secret taken out: scheme, host and port stay,
/// a path or query becomes `/REDACTED` (webhook tokens live there).
pub(crate) fn redact_request_url(raw: &str) -> String {
    let Ok(url) = Url::parse(raw) else {
        return "REDACTED".to_owned();
    };
    let mut out = format!("{}://{}", url.scheme(), url.host_str().unwrap_or(""));
    if let Some(port) = url.port() {
        let _ = write!(out, ":{port}");
    }
    if url.path() != "/" || url.query().is_some() {
        out.push_str("/REDACTED");
    }
    out
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (
                char::from(bytes[i + 1]).to_digit(16),
                char::from(bytes[i + 2]).to_digit(16),
            )
        {
            out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Query properties of a service URL, matched case-insensitively against known keys.
struct Props {
    values: BTreeMap<&'static str, String>,
}

impl Props {
    /// `keys`: each property's canonical name followed by its aliases.
    fn parse(url: &Url, keys: &[&[&'static str]]) -> Result<Self, String> {
        let mut values = BTreeMap::new();
        for (key, value) in url.query_pairs() {
            let lower = key.to_ascii_lowercase();
            let Some(names) = keys
                .iter()
                .find(|names| names.iter().any(|n| n.eq_ignore_ascii_case(&lower)))
            else {
                return Err(format!("{key:?} is not a valid config key"));
            };
            values.insert(names[0], value.into_owned());
        }
        Ok(Self { values })
    }

    fn string(&self, key: &str, default: &str) -> String {
        self.values
            .get(key)
            .cloned()
            .unwrap_or_else(|| default.to_owned())
    }

    fn bool(&self, key: &str, default: bool) -> Result<bool, String> {
        match self.values.get(key) {
            None => Ok(default),
            Some(v) => parse_bool(v).ok_or_else(|| format!("invalid boolean {v:?} for {key}")),
        }
    }

    fn int(&self, key: &str, default: i64) -> Result<i64, String> {
        match self.values.get(key) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse()
                .map_err(|_| format!("invalid number {v:?} for {key}")),
        }
    }

    fn list(&self, key: &str, sep: char) -> Vec<String> {
        self.values
            .get(key)
            .map(|v| {
                v.split(sep)
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Shoutrrr's booleans: yes/no, true/false, 1/0, on/off, y/n, any case.
// Not watchtower_actions' Go-style parse_bool: other words, and notify stays independent.
fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "yes" | "y" | "true" | "1" | "on" => Some(true),
        "no" | "n" | "false" | "0" | "off" => Some(false),
        _ => None,
    }
}

fn parse_color(v: &str) -> Option<u32> {
    let t = v.trim();
    let hex = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .or_else(|| t.strip_prefix('#'))
        .unwrap_or(t);
    u32::from_str_radix(hex, 16).ok()
}

fn basic_auth(user: &str, pass: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

impl Service {
    /// Parses a service URL. Errors name the scheme and show the URL redacted.
    pub(crate) fn parse(raw: &str) -> Result<Self, Error> {
        let scheme = scheme_of(raw);
        let invalid = |reason: String| Error::InvalidUrl {
            scheme: scheme.clone(),
            url: redact(raw),
            reason,
        };
        let url = Url::parse(raw.trim()).map_err(|e| invalid(e.to_string()))?;
        let service = match url.scheme() {
            "logger" => Service::Logger,
            "generic" | "generic+http" | "generic+https" => {
                Service::Generic(parse_generic(&url).map_err(invalid)?)
            }
            "slack" => Service::Slack(parse_slack(&url).map_err(invalid)?),
            "discord" => Service::Discord(parse_discord(&url).map_err(invalid)?),
            "teams" | "teams+https" => Service::Teams(parse_teams(&url).map_err(invalid)?),
            "gotify" => Service::Gotify(parse_gotify(&url).map_err(invalid)?),
            "telegram" => Service::Telegram(parse_telegram(&url).map_err(invalid)?),
            "smtp" => Service::Smtp(Box::new(parse_smtp(&url).map_err(invalid)?)),
            "ntfy" => Service::Ntfy(parse_ntfy(&url).map_err(invalid)?),
            "pushover" => Service::Pushover(parse_pushover(&url).map_err(invalid)?),
            _ => {
                return Err(Error::UnsupportedService {
                    scheme,
                    url: redact(raw),
                });
            }
        };
        Ok(service)
    }

    /// What to show in logs for this service (no secrets).
    pub(crate) fn target(&self) -> String {
        match self {
            Service::Logger => "logger".to_owned(),
            Service::Generic(g) => {
                let mut t = format!(
                    "{}://{}",
                    g.target.scheme(),
                    g.target.host_str().unwrap_or("")
                );
                if let Some(port) = g.target.port() {
                    let _ = write!(t, ":{port}");
                }
                t
            }
            Service::Slack(s) => {
                if s.token_type == "hook" {
                    "slack webhook".to_owned()
                } else {
                    "slack api".to_owned()
                }
            }
            Service::Discord(_) => "discord webhook".to_owned(),
            Service::Teams(t) => format!("teams webhook at {}", t.host),
            Service::Gotify(g) => format!("gotify at {}", g.host),
            Service::Telegram(_) => "telegram bot api".to_owned(),
            Service::Smtp(s) => format!("smtp server {}:{}", s.host, s.port),
            Service::Ntfy(n) => format!("ntfy at {}", n.host),
            Service::Pushover(_) => "pushover api".to_owned(),
        }
    }

    pub(crate) fn smtp(&self) -> Option<&SmtpConfig> {
        match self {
            Service::Smtp(s) => Some(s),
            _ => None,
        }
    }

    /// The requests that deliver `message` (titled `title`, empty for none).
    pub(crate) fn deliveries(
        &self,
        message: &str,
        title: &str,
        endpoints: &Endpoints,
    ) -> Result<Vec<Delivery>, String> {
        match self {
            Service::Logger => Ok(vec![Delivery::Log(message.to_owned())]),
            Service::Generic(g) => Ok(vec![Delivery::Http(g.request(message, title))]),
            Service::Slack(s) => Ok(vec![Delivery::Http(s.request(message, title, endpoints))]),
            Service::Discord(d) => d.requests(message, title, endpoints),
            Service::Teams(t) => Ok(vec![Delivery::Http(t.request(message, title, endpoints))]),
            Service::Gotify(g) => Ok(vec![Delivery::Http(g.request(message, title))]),
            Service::Telegram(t) => t.requests(message, title, endpoints),
            Service::Smtp(s) => {
                let subject = if title.is_empty() {
                    s.subject.clone()
                } else {
                    title.to_owned()
                };
                Ok(s.to
                    .iter()
                    .map(|to| {
                        Delivery::Mail(Mail {
                            to: to.clone(),
                            subject: subject.clone(),
                            body: message.to_owned(),
                        })
                    })
                    .collect())
            }
            Service::Ntfy(n) => Ok(vec![Delivery::Http(n.request(message, title))]),
            Service::Pushover(p) => Ok(vec![Delivery::Http(p.request(message, title, endpoints))]),
        }
    }
}

#[cfg(test)]
mod tests;
