//! Shoutrrr-style service URLs: parsing (with every error naming the scheme, never the
//! secret) and turning a message into the requests each service's documented API expects.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::Engine as _;
use serde_json::{Map, Value as J, json};
use url::Url;

use crate::Error;

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

/// SMTP settings from an `smtp://` URL.
#[derive(Clone)]
pub(crate) struct SmtpConfig {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) username: String,
    pub(crate) password: String,
    pub(crate) from_address: String,
    pub(crate) from_name: String,
    pub(crate) to: Vec<String>,
    pub(crate) subject: String,
    pub(crate) auth: SmtpAuth,
    pub(crate) encryption: SmtpEncryption,
    pub(crate) starttls: bool,
    pub(crate) html: bool,
    pub(crate) client_host: String,
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &"REDACTED")
            .field("from_address", &self.from_address)
            .field("to", &self.to)
            .field("auth", &self.auth)
            .field("encryption", &self.encryption)
            .field("starttls", &self.starttls)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SmtpAuth {
    None,
    Plain,
    Login,
    OAuth2,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SmtpEncryption {
    None,
    /// STARTTLS required.
    Explicit,
    /// TLS from the first byte.
    Implicit,
    /// Implicit TLS on port 465, else STARTTLS when offered (or as `starttls` says).
    Auto,
}

impl SmtpConfig {
    pub(crate) fn implicit_tls(&self) -> bool {
        match self.encryption {
            SmtpEncryption::Implicit => true,
            SmtpEncryption::Auto => self.port == 465,
            SmtpEncryption::None | SmtpEncryption::Explicit => false,
        }
    }
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

#[derive(Clone)]
pub(crate) struct Generic {
    target: Url,
    method: http::Method,
    content_type: String,
    json_template: bool,
    title: String,
    title_key: String,
    message_key: String,
    headers: BTreeMap<String, String>,
    extra: BTreeMap<String, String>,
}

#[derive(Clone)]
pub(crate) struct Slack {
    /// `hook` or `xoxb`/`xoxp`/...
    token_type: String,
    token_parts: [String; 3],
    channel: String,
    bot_name: String,
    icon: String,
    color: String,
    title: String,
    thread_ts: String,
}

#[derive(Clone)]
pub(crate) struct Discord {
    webhook_id: String,
    token: String,
    title: String,
    username: String,
    avatar: String,
    color: u32,
    split_lines: bool,
    raw_json: bool,
}

#[derive(Clone)]
pub(crate) struct Teams {
    group: String,
    tenant: String,
    alt_id: String,
    group_owner: String,
    host: String,
    title: String,
    color: String,
}

#[derive(Clone)]
pub(crate) struct Gotify {
    host: String,
    path: String,
    token: String,
    priority: i64,
    title: String,
    disable_tls: bool,
}

#[derive(Clone)]
pub(crate) struct Telegram {
    token: String,
    chats: Vec<String>,
    preview: bool,
    notification: bool,
    parse_mode: String,
    title: String,
}

#[derive(Clone)]
pub(crate) struct Ntfy {
    scheme: String,
    host: String,
    topic: String,
    username: String,
    password: String,
    title: String,
    priority: u8,
    headers: Vec<(&'static str, String)>,
    cache: bool,
    firebase: bool,
}

#[derive(Clone)]
pub(crate) struct Pushover {
    user: String,
    token: String,
    devices: Vec<String>,
    priority: i64,
    title: String,
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

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                *c == b'-'
            } else {
                c.is_ascii_hexdigit() && !c.is_ascii_uppercase()
            }
        })
}

fn is_gotify_token(t: &str) -> bool {
    t.len() == 15
        && t.starts_with('A')
        && t.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_'))
}

fn is_telegram_token(t: &str) -> bool {
    let Some((id, secret)) = t.split_once(':') else {
        return false;
    };
    !id.is_empty()
        && id.bytes().all(|c| c.is_ascii_digit())
        && !secret.is_empty()
        && secret
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
}

/// Slack tokens: `[type:|type-]A-B-C` with A, B of 9+ upper-case letters/digits and C of 24+
/// letters/digits, parts separated by one kind of `-`, `/` or `,`.
fn parse_slack_token(raw: &str) -> Result<(String, [String; 3]), String> {
    let invalid = || {
        "invalid slack token (expected hook:XXXXXXXXX-XXXXXXXXX-XXXXXXXXXXXXXXXXXXXXXXXX or xoxb:...)".to_owned()
    };
    let mut rest = raw;
    let mut token_type = "hook".to_owned();
    for prefix in ["hook", "xoxb", "xoxp", "xoxa", "xoxr", "xoxs"] {
        if let Some(r) = rest.strip_prefix(prefix)
            && let Some(r) = r.strip_prefix(':').or_else(|| r.strip_prefix('-'))
        {
            prefix.clone_into(&mut token_type);
            rest = r;
            break;
        }
    }
    let rest = rest.strip_prefix(':').unwrap_or(rest);
    let sep = rest
        .chars()
        .find(|c| matches!(c, '-' | '/' | ','))
        .ok_or_else(invalid)?;
    let parts: Vec<&str> = rest.split(sep).collect();
    let [a, b, c] = parts.as_slice() else {
        return Err(if rest.contains(['-', '/', ',']) && parts.len() == 2 {
            "mismatched slack token separators".to_owned()
        } else {
            invalid()
        });
    };
    let upper = |s: &str| {
        s.len() >= 9
            && s.bytes()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    };
    if !upper(a) || !upper(b) || c.len() < 24 || !c.bytes().all(|c| c.is_ascii_alphanumeric()) {
        return Err(invalid());
    }
    Ok((
        token_type,
        [(*a).to_owned(), (*b).to_owned(), (*c).to_owned()],
    ))
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

const GENERIC_PROPS: &[&[&str]] = &[
    &["contenttype"],
    &["disabletls"],
    &["template"],
    &["title"],
    &["titlekey"],
    &["messagekey"],
    &["method"],
];

fn parse_generic(url: &Url) -> Result<Generic, String> {
    let custom = url.scheme() != "generic";
    let mut props = BTreeMap::new();
    let mut headers = BTreeMap::new();
    let mut extra = BTreeMap::new();
    let mut forwarded: Vec<(String, String)> = Vec::new();
    for (key, value) in url.query_pairs() {
        let (key, value) = (key.into_owned(), value.into_owned());
        if let Some(h) = key.strip_prefix('@') {
            headers.insert(header_name(h), value);
        } else if let Some(e) = key.strip_prefix('$') {
            extra.insert(e.to_owned(), value);
        } else if let Some(escaped) = key.strip_prefix("__") {
            forwarded.push((escaped.to_owned(), value));
        } else if !custom
            && GENERIC_PROPS
                .iter()
                .any(|p| p[0] == key.to_ascii_lowercase())
        {
            props.insert(key.to_ascii_lowercase(), value);
        } else {
            forwarded.push((key, value));
        }
    }
    let get = |k: &str, d: &str| props.get(k).cloned().unwrap_or_else(|| d.to_owned());
    let disable_tls = match url.scheme() {
        "generic+http" => true,
        "generic+https" => false,
        _ => {
            let v = get("disabletls", "no");
            parse_bool(&v).ok_or_else(|| format!("invalid boolean {v:?} for disabletls"))?
        }
    };
    let template = get("template", "");
    let json_template = match template.as_str() {
        "" => false,
        "json" | "JSON" => true,
        other => {
            return Err(format!(
                "template {other:?} is not available (only json is)"
            ));
        }
    };
    let method = get("method", "POST");
    let method = http::Method::from_bytes(method.to_ascii_uppercase().as_bytes())
        .map_err(|_| format!("invalid method {method:?}"))?;
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or("missing host")?;
    let mut target = Url::parse(&format!(
        "{}://{host}",
        if disable_tls { "http" } else { "https" }
    ))
    .map_err(|e| e.to_string())?;
    target
        .set_port(url.port())
        .map_err(|()| "invalid port".to_owned())?;
    target.set_path(url.path());
    if !url.username().is_empty() {
        let _ = target.set_username(url.username());
        let _ = target.set_password(url.password());
    }
    if !forwarded.is_empty() {
        target.query_pairs_mut().extend_pairs(forwarded);
    }
    Ok(Generic {
        target,
        method,
        content_type: get("contenttype", "application/json"),
        json_template,
        title: get("title", ""),
        title_key: get("titlekey", "title"),
        message_key: get("messagekey", "message"),
        headers,
        extra,
    })
}

/// `acceptLanguage` -> `Accept-Language`, as shoutrrr normalises `@` header keys.
fn header_name(key: &str) -> String {
    let mut out = String::new();
    let mut prev: Option<char> = None;
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            if prev.is_some_and(|p| p != '-') {
                out.push('-');
            }
            out.push(c);
        } else if prev.is_none() || prev == Some('-') {
            out.push(c.to_ascii_uppercase());
        } else {
            out.push(c);
        }
        prev = Some(c);
    }
    out
}

impl Generic {
    fn request(&self, message: &str, title: &str) -> HttpRequest {
        let title = if title.is_empty() {
            self.title.as_str()
        } else {
            title
        };
        let body = if self.json_template {
            let mut map = Map::new();
            for (k, v) in &self.extra {
                map.insert(k.clone(), J::from(v.as_str()));
            }
            if !title.is_empty() {
                map.insert(self.title_key.clone(), J::from(title));
            }
            map.insert(self.message_key.clone(), J::from(message));
            J::Object(map).to_string().into_bytes()
        } else {
            message.as_bytes().to_vec()
        };
        let mut url = self.target.clone();
        let mut headers = vec![
            ("Content-Type".to_owned(), self.content_type.clone()),
            ("Accept".to_owned(), self.content_type.clone()),
        ];
        if !url.username().is_empty() {
            headers.push((
                "Authorization".to_owned(),
                basic_auth(
                    &percent_decode(url.username()),
                    &percent_decode(url.password().unwrap_or("")),
                ),
            ));
            let _ = url.set_username("");
            let _ = url.set_password(None);
        }
        for (k, v) in &self.headers {
            headers.retain(|(h, _)| !h.eq_ignore_ascii_case(k));
            headers.push((k.clone(), v.clone()));
        }
        HttpRequest {
            method: self.method.clone(),
            url: url.to_string(),
            headers,
            body,
            success: Success::Status2xx,
        }
    }
}

fn parse_slack(url: &Url) -> Result<Slack, String> {
    let props = Props::parse(
        url,
        &[
            &["botname", "username"],
            &["icon", "icon_emoji", "icon_url"],
            &["color"],
            &["title"],
            &["thread_ts"],
        ],
    )?;
    let host = url.host_str().unwrap_or("");
    let (token, channel, mut bot_name) = if url.path().len() > 1 {
        // Old format: slack://[botname@]A/B/C
        (
            format!("{host}{}", url.path()),
            "webhook".to_owned(),
            percent_decode(url.username()),
        )
    } else {
        let user = percent_decode(url.username());
        let token = match url.password() {
            Some(p) => format!("{user}:{}", percent_decode(p)),
            None => user,
        };
        (token, host.to_owned(), String::new())
    };
    let (token_type, token_parts) = parse_slack_token(token.trim_end_matches('/'))?;
    if channel.is_empty() {
        return Err("missing channel (the URL's host; `webhook` for webhooks)".to_owned());
    }
    if let Some(b) = props.values.get("botname") {
        bot_name.clone_from(b);
    }
    Ok(Slack {
        token_type,
        token_parts,
        channel,
        bot_name,
        icon: props.string("icon", ""),
        color: props.string("color", ""),
        title: props.string("title", ""),
        thread_ts: props.string("thread_ts", ""),
    })
}

impl Slack {
    fn request(&self, message: &str, title: &str, endpoints: &Endpoints) -> HttpRequest {
        let mut lines: Vec<String> = Vec::new();
        for (i, line) in message.split('\n').enumerate() {
            if i >= 100 {
                if let Some(last) = lines.last_mut() {
                    last.push('\n');
                    last.push_str(line);
                }
                continue;
            }
            lines.push(line.to_owned());
        }
        if lines.last().is_some_and(String::is_empty) {
            lines.pop();
        }
        let attachments: Vec<J> = lines
            .into_iter()
            .map(|text| {
                let mut a = Map::new();
                a.insert("text".to_owned(), J::from(text));
                if !self.color.is_empty() {
                    a.insert("color".to_owned(), J::from(self.color.as_str()));
                }
                J::Object(a)
            })
            .collect();
        let mut payload = Map::new();
        let title = if title.is_empty() {
            self.title.as_str()
        } else {
            title
        };
        payload.insert("text".to_owned(), J::from(title));
        if !self.bot_name.is_empty() {
            payload.insert("username".to_owned(), J::from(self.bot_name.as_str()));
        }
        if !attachments.is_empty() {
            payload.insert("attachments".to_owned(), J::Array(attachments));
        }
        if !self.thread_ts.is_empty() {
            payload.insert("thread_ts".to_owned(), J::from(self.thread_ts.as_str()));
        }
        if self.channel != "webhook" {
            payload.insert("channel".to_owned(), J::from(self.channel.as_str()));
        }
        if !self.icon.is_empty() {
            let key = if self.icon.contains("http://") || self.icon.contains("https://") {
                "icon_url"
            } else {
                "icon_emoji"
            };
            payload.insert(key.to_owned(), J::from(self.icon.as_str()));
        }
        let body = J::Object(payload).to_string().into_bytes();
        let [a, b, c] = &self.token_parts;
        if self.token_type == "hook" {
            HttpRequest {
                method: http::Method::POST,
                url: format!("{}/services/{a}/{b}/{c}", endpoints.slack_hooks),
                headers: vec![("Content-Type".to_owned(), "application/json".to_owned())],
                body,
                success: Success::SlackWebhook,
            }
        } else {
            HttpRequest {
                method: http::Method::POST,
                url: format!("{}/api/chat.postMessage", endpoints.slack_api),
                headers: vec![
                    (
                        "Content-Type".to_owned(),
                        "application/json; charset=utf-8".to_owned(),
                    ),
                    (
                        "Authorization".to_owned(),
                        format!("Bearer {}-{a}-{b}-{c}", self.token_type),
                    ),
                ],
                body,
                success: Success::JsonOk,
            }
        }
    }
}

fn parse_discord(url: &Url) -> Result<Discord, String> {
    let props = Props::parse(
        url,
        &[
            &["title"],
            &["username"],
            &["avatar", "avatarurl"],
            &["color"],
            &["colorerror"],
            &["colorwarn"],
            &["colorinfo"],
            &["colordebug"],
            &["splitlines"],
            &["json"],
        ],
    )?;
    let webhook_id = url.host_str().unwrap_or("").to_owned();
    let token = percent_decode(url.username());
    let raw_json = match url.path() {
        "" | "/" => props.bool("json", false)?,
        "/raw" => true,
        _ => {
            return Err(
                "illegal argument in config URL (the only path allowed is /raw)".to_owned(),
            );
        }
    };
    if webhook_id.is_empty() {
        return Err("webhook ID missing from config URL".to_owned());
    }
    if token.is_empty() {
        return Err("token missing from config URL".to_owned());
    }
    let color = match props.values.get("color") {
        Some(c) => parse_color(c).ok_or_else(|| format!("invalid color {c:?}"))?,
        None => 0x0050_D9FF,
    };
    Ok(Discord {
        webhook_id,
        token,
        title: props.string("title", ""),
        username: props.string("username", ""),
        avatar: props.string("avatar", ""),
        color,
        split_lines: props.bool("splitlines", true)?,
        raw_json,
    })
}

const DISCORD_CHUNK: usize = 2000;
const DISCORD_TOTAL: usize = 6000;
const DISCORD_EMBEDS: usize = 10;

impl Discord {
    fn requests(
        &self,
        message: &str,
        title: &str,
        endpoints: &Endpoints,
    ) -> Result<Vec<Delivery>, String> {
        let url = format!(
            "{}/api/webhooks/{}/{}",
            endpoints.discord, self.webhook_id, self.token
        );
        let post = |body: Vec<u8>| {
            Delivery::Http(HttpRequest {
                method: http::Method::POST,
                url: url.clone(),
                headers: vec![("Content-Type".to_owned(), "application/json".to_owned())],
                body,
                success: Success::Status2xx,
            })
        };
        if self.raw_json {
            return Ok(vec![post(message.as_bytes().to_vec())]);
        }
        let items: Vec<String> = if self.split_lines {
            message
                .split('\n')
                .filter(|l| !l.is_empty())
                .map(|l| {
                    if l.chars().count() > DISCORD_CHUNK {
                        let mut s: String = l.chars().take(DISCORD_CHUNK - 6).collect();
                        s.push_str(" [...]");
                        s
                    } else {
                        l.to_owned()
                    }
                })
                .collect()
        } else {
            chunk_text(message, DISCORD_CHUNK)
        };
        if items.is_empty() {
            return Err("message is empty".to_owned());
        }
        let title = if title.is_empty() {
            self.title.as_str()
        } else {
            title
        };
        let mut batches: Vec<Vec<String>> = Vec::new();
        let mut current: Vec<String> = Vec::new();
        let mut total = 0;
        for item in items {
            let len = item.chars().count();
            if current.len() == DISCORD_EMBEDS
                || (total + len > DISCORD_TOTAL && !current.is_empty())
            {
                batches.push(std::mem::take(&mut current));
                total = 0;
            }
            total += len;
            current.push(item);
        }
        batches.push(current);
        Ok(batches
            .into_iter()
            .map(|batch| {
                let embeds: Vec<J> = batch
                    .into_iter()
                    .enumerate()
                    .map(|(i, text)| {
                        let mut e = Map::new();
                        if i == 0 && !title.is_empty() {
                            e.insert("title".to_owned(), J::from(title));
                        }
                        e.insert("description".to_owned(), J::from(text));
                        if self.color != 0 {
                            e.insert("color".to_owned(), J::from(self.color));
                        }
                        J::Object(e)
                    })
                    .collect();
                let mut payload = Map::new();
                payload.insert("embeds".to_owned(), J::Array(embeds));
                if !self.username.is_empty() {
                    payload.insert("username".to_owned(), J::from(self.username.as_str()));
                }
                if !self.avatar.is_empty() {
                    payload.insert("avatar_url".to_owned(), J::from(self.avatar.as_str()));
                }
                post(J::Object(payload).to_string().into_bytes())
            })
            .collect())
    }
}

/// Splits text into chunks of at most `size` characters, preferring to break at a newline or
/// space within the last 100 characters of a chunk.
fn chunk_text(text: &str, size: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut start = 0;
    while start < chars.len() {
        let mut end = (start + size).min(chars.len());
        let mut next = end;
        if end < chars.len() {
            for back in 0..100.min(end - start) {
                let p = end - back;
                if chars[p] == '\n' || chars[p] == ' ' {
                    end = p;
                    next = p + 1;
                    break;
                }
            }
        }
        let chunk: String = chars[start..end].iter().collect();
        if !chunk.is_empty() {
            out.push(chunk);
        }
        start = next;
    }
    out
}

const TEAMS_LEGACY_HOST: &str = "outlook.office.com";

fn parse_teams(url: &Url) -> Result<Teams, String> {
    if url.scheme() == "teams+https" {
        // The webhook URL itself: https://<org>.webhook.office.com/webhookb2/<g>@<t>/IncomingWebhook/<a>/<o>
        let host = url.host_str().unwrap_or("").to_owned();
        let path = percent_decode(url.path());
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let [_, group_tenant, _, alt_id, owner] = segments.as_slice() else {
            return Err("expected https://<org>.webhook.office.com/webhookb2/<group>@<tenant>/IncomingWebhook/<altId>/<groupOwner>".to_owned());
        };
        let (group, tenant) = group_tenant
            .split_once('@')
            .ok_or("missing <group>@<tenant> in webhook URL")?;
        let props = Props::parse(url, &[&["title"], &["color"], &["host"]])?;
        return teams_from_parts(
            [group, tenant, alt_id, owner],
            &props.string("host", &host),
            &props,
        );
    }
    let props = Props::parse(url, &[&["title"], &["color"], &["host"]])?;
    let user = percent_decode(url.username());
    let parts: [String; 4] = if let Some(pass) = url.password() {
        // Legacy form: teams://<group>@<tenant>:<altId>@<groupOwner>
        let (group, tenant) = user.split_once('@').ok_or("invalid URL format")?;
        [
            group.to_owned(),
            tenant.to_owned(),
            percent_decode(pass),
            url.host_str().unwrap_or("").to_owned(),
        ]
    } else {
        let path: Vec<&str> = url.path().trim_start_matches('/').split('/').collect();
        let [alt, owner, ..] = path.as_slice() else {
            return Err("expected teams://<group>@<tenant>/<altId>/<groupOwner>?host=<org>.webhook.office.com".to_owned());
        };
        [
            user,
            url.host_str().unwrap_or("").to_owned(),
            (*alt).to_owned(),
            (*owner).to_owned(),
        ]
    };
    let host = props.string("host", TEAMS_LEGACY_HOST);
    teams_from_parts([&parts[0], &parts[1], &parts[2], &parts[3]], &host, &props)
}

fn teams_from_parts(parts: [&str; 4], host: &str, props: &Props) -> Result<Teams, String> {
    let names = ["group", "tenant", "altId", "groupOwner"];
    for (i, part) in parts.iter().enumerate() {
        let ok = if i == 2 {
            part.len() == 32 && part.bytes().all(|c| c.is_ascii_alphanumeric())
        } else {
            is_uuid(part)
        };
        if !ok {
            return Err(format!(
                "invalid URL format: the {} part is not valid",
                names[i]
            ));
        }
    }
    Ok(Teams {
        group: parts[0].to_owned(),
        tenant: parts[1].to_owned(),
        alt_id: parts[2].to_owned(),
        group_owner: parts[3].to_owned(),
        host: host.to_owned(),
        title: props.string("title", ""),
        color: props.string("color", ""),
    })
}

impl Teams {
    fn request(&self, message: &str, title: &str, endpoints: &Endpoints) -> HttpRequest {
        let title = if title.is_empty() {
            self.title.as_str()
        } else {
            title
        };
        let sections: Vec<J> = message
            .split('\n')
            .map(|line| {
                let mut s = Map::new();
                if !line.is_empty() {
                    s.insert("text".to_owned(), J::from(line));
                }
                s.insert("startGroup".to_owned(), J::from(false));
                J::Object(s)
            })
            .collect();
        let summary = if title.is_empty() {
            let first = message.split('\n').next().unwrap_or("");
            first.chars().take(21).collect::<String>()
        } else {
            title.to_owned()
        };
        let mut payload = Map::new();
        payload.insert("@type".to_owned(), J::from("MessageCard"));
        payload.insert(
            "@context".to_owned(),
            J::from("http://schema.org/extensions"),
        );
        payload.insert("markdown".to_owned(), J::from(true));
        if !title.is_empty() {
            payload.insert("title".to_owned(), J::from(title));
        }
        if !summary.is_empty() {
            payload.insert("summary".to_owned(), J::from(summary));
        }
        payload.insert("sections".to_owned(), J::Array(sections));
        if !self.color.is_empty() {
            payload.insert("themeColor".to_owned(), J::from(self.color.as_str()));
        }
        let path = if self.host == TEAMS_LEGACY_HOST {
            "webhook"
        } else {
            "webhookb2"
        };
        let base = endpoints
            .teams
            .clone()
            .unwrap_or_else(|| format!("https://{}", self.host));
        HttpRequest {
            method: http::Method::POST,
            url: format!(
                "{base}/{path}/{}@{}/IncomingWebhook/{}/{}",
                self.group, self.tenant, self.alt_id, self.group_owner
            ),
            headers: vec![("Content-Type".to_owned(), "application/json".to_owned())],
            body: J::Object(payload).to_string().into_bytes(),
            success: Success::Status2xx,
        }
    }
}

fn parse_gotify(url: &Url) -> Result<Gotify, String> {
    let props = Props::parse(url, &[&["priority"], &["title"], &["disabletls"]])?;
    let path = url.path().trim_end_matches('/');
    let cut = path.rfind('/').map_or(0, |i| i + 1);
    let token = percent_decode(&path[cut..]);
    let mut sub = path[..cut].to_owned();
    if sub == "/" {
        sub.clear();
    }
    let mut host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or("missing host")?
        .to_owned();
    if let Some(port) = url.port() {
        let _ = write!(host, ":{port}");
    }
    if !is_gotify_token(&token) {
        return Err("invalid gotify token (expected 15 characters starting with A)".to_owned());
    }
    Ok(Gotify {
        host,
        path: sub.trim_end_matches('/').to_owned(),
        token,
        priority: props.int("priority", 0)?,
        title: props.string("title", "Shoutrrr notification"),
        disable_tls: props.bool("disabletls", false)?,
    })
}

impl Gotify {
    fn request(&self, message: &str, title: &str) -> HttpRequest {
        let scheme = if self.disable_tls { "http" } else { "https" };
        let title = if title.is_empty() {
            self.title.as_str()
        } else {
            title
        };
        HttpRequest {
            method: http::Method::POST,
            url: format!(
                "{scheme}://{}{}/message?token={}",
                self.host, self.path, self.token
            ),
            headers: vec![("Content-Type".to_owned(), "application/json".to_owned())],
            body: json!({"message": message, "title": title, "priority": self.priority})
                .to_string()
                .into_bytes(),
            success: Success::Status2xx,
        }
    }
}

fn parse_telegram(url: &Url) -> Result<Telegram, String> {
    let props = Props::parse(
        url,
        &[
            &["chats", "channels"],
            &["preview"],
            &["notification"],
            &["parsemode"],
            &["title"],
        ],
    )?;
    let token = format!(
        "{}:{}",
        percent_decode(url.username()),
        percent_decode(url.password().unwrap_or(""))
    );
    if !is_telegram_token(&token) {
        return Err("invalid telegram token (expected <digits>:<secret>)".to_owned());
    }
    let chats = props.list("chats", ',');
    if chats.is_empty() {
        return Err("no channels defined in config URL (add ?chats=<id>[,<id>...])".to_owned());
    }
    let parse_mode = match props
        .string("parsemode", "None")
        .to_ascii_lowercase()
        .as_str()
    {
        "none" | "" => String::new(),
        "markdown" => "Markdown".to_owned(),
        "html" => "HTML".to_owned(),
        "markdownv2" => "MarkdownV2".to_owned(),
        other => {
            return Err(format!(
                "invalid parsemode {other:?} (None, Markdown, HTML or MarkdownV2)"
            ));
        }
    };
    Ok(Telegram {
        token,
        chats,
        preview: props.bool("preview", true)?,
        notification: props.bool("notification", true)?,
        parse_mode,
        title: props.string("title", ""),
    })
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

impl Telegram {
    fn requests(
        &self,
        message: &str,
        title: &str,
        endpoints: &Endpoints,
    ) -> Result<Vec<Delivery>, String> {
        if message.len() > 4096 {
            return Err(format!(
                "message is {} bytes; telegram accepts at most 4096",
                message.len()
            ));
        }
        let title = if title.is_empty() {
            self.title.as_str()
        } else {
            title
        };
        let mut parse_mode = self.parse_mode.clone();
        let mut text = message.to_owned();
        if parse_mode.is_empty() && !title.is_empty() {
            "HTML".clone_into(&mut parse_mode);
            text = html_escape(message);
        }
        if parse_mode == "HTML" {
            text = format!("<b>{}</b>\n{text}", html_escape(title));
        }
        Ok(self
            .chats
            .iter()
            .map(|chat| {
                let (chat_id, thread) = match chat.split_once(':') {
                    Some((id, t)) => (id, t.parse::<i64>().ok()),
                    None => (chat.as_str(), None),
                };
                let mut payload = Map::new();
                payload.insert("text".to_owned(), J::from(text.as_str()));
                payload.insert("chat_id".to_owned(), J::from(chat_id));
                if let Some(t) = thread {
                    payload.insert("message_thread_id".to_owned(), J::from(t));
                }
                if !parse_mode.is_empty() {
                    payload.insert("parse_mode".to_owned(), J::from(parse_mode.as_str()));
                }
                payload.insert(
                    "disable_web_page_preview".to_owned(),
                    J::from(!self.preview),
                );
                payload.insert(
                    "disable_notification".to_owned(),
                    J::from(!self.notification),
                );
                Delivery::Http(HttpRequest {
                    method: http::Method::POST,
                    url: format!("{}/bot{}/sendMessage", endpoints.telegram, self.token),
                    headers: vec![("Content-Type".to_owned(), "application/json".to_owned())],
                    body: J::Object(payload).to_string().into_bytes(),
                    success: Success::JsonOk,
                })
            })
            .collect())
    }
}

fn parse_smtp(url: &Url) -> Result<SmtpConfig, String> {
    let props = Props::parse(
        url,
        &[
            &["fromaddress", "from"],
            &["fromname"],
            &["toaddresses", "to"],
            &["subject", "title"],
            &["auth"],
            &["encryption"],
            &["usestarttls", "starttls"],
            &["usehtml"],
            &["clienthost"],
        ],
    )?;
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or("missing host")?
        .to_owned();
    let username = percent_decode(url.username());
    let from_address = props.string("fromaddress", "").replace(' ', "+");
    if from_address.is_empty() {
        return Err("fromAddress missing from config URL (add ?from=<address>)".to_owned());
    }
    let to: Vec<String> = props
        .list("toaddresses", ',')
        .into_iter()
        .map(|a| a.replace(' ', "+"))
        .collect();
    if to.is_empty() {
        return Err(
            "toAddress missing from config URL (add ?to=<address>[,<address>...])".to_owned(),
        );
    }
    let auth = match props
        .string("auth", "Unknown")
        .to_ascii_lowercase()
        .as_str()
    {
        "unknown" | "" => {
            if username.is_empty() {
                SmtpAuth::None
            } else {
                SmtpAuth::Plain
            }
        }
        "none" => SmtpAuth::None,
        "plain" => SmtpAuth::Plain,
        "login" => SmtpAuth::Login,
        "oauth2" => SmtpAuth::OAuth2,
        "crammd5" => {
            return Err("auth CRAMMD5 is not supported (use Plain, Login or OAuth2)".to_owned());
        }
        other => {
            return Err(format!(
                "invalid auth {other:?} (None, Plain, Login or OAuth2)"
            ));
        }
    };
    let encryption = match props
        .string("encryption", "Auto")
        .to_ascii_lowercase()
        .as_str()
    {
        "auto" => SmtpEncryption::Auto,
        "none" => SmtpEncryption::None,
        "explicittls" => SmtpEncryption::Explicit,
        "implicittls" => SmtpEncryption::Implicit,
        other => {
            return Err(format!(
                "invalid encryption {other:?} (Auto, None, ExplicitTLS or ImplicitTLS)"
            ));
        }
    };
    Ok(SmtpConfig {
        host,
        port: url.port().unwrap_or(25),
        username,
        password: percent_decode(url.password().unwrap_or("")),
        from_address,
        from_name: props.string("fromname", ""),
        to,
        subject: props.string("subject", ""),
        auth,
        encryption,
        starttls: props.bool("usestarttls", true)?,
        html: props.bool("usehtml", false)?,
        client_host: props.string("clienthost", "localhost"),
    })
}

fn parse_ntfy(url: &Url) -> Result<Ntfy, String> {
    let props = Props::parse(
        url,
        &[
            &["title"],
            &["scheme"],
            &["tags"],
            &["priority"],
            &["actions"],
            &["click"],
            &["attach"],
            &["filename"],
            &["delay", "at", "in"],
            &["email"],
            &["icon"],
            &["cache"],
            &["firebase"],
        ],
    )?;
    let mut host = url.host_str().unwrap_or("").to_owned();
    if host.is_empty() {
        "ntfy.sh".clone_into(&mut host);
    }
    if let Some(port) = url.port() {
        let _ = write!(host, ":{port}");
    }
    let topic = url.path().trim_start_matches('/').to_owned();
    if topic.is_empty() {
        return Err("missing topic (ntfy://[user:password@]host/<topic>)".to_owned());
    }
    let scheme = props.string("scheme", "https").to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(format!("invalid scheme {scheme:?} (http or https)"));
    }
    let priority = match props
        .string("priority", "default")
        .to_ascii_lowercase()
        .as_str()
    {
        "1" | "min" => 1,
        "2" | "low" => 2,
        "3" | "default" | "" => 3,
        "4" | "high" => 4,
        "5" | "max" | "urgent" => 5,
        other => {
            return Err(format!(
                "invalid priority {other:?} (1-5, min, low, default, high, max)"
            ));
        }
    };
    let mut headers = Vec::new();
    let tags = props.list("tags", ',');
    if !tags.is_empty() {
        headers.push(("Tags", tags.join(",")));
    }
    for (key, header) in [
        ("delay", "Delay"),
        ("click", "Click"),
        ("attach", "Attach"),
        ("icon", "X-Icon"),
        ("filename", "Filename"),
        ("email", "Email"),
    ] {
        let v = props.string(key, "");
        if !v.is_empty() {
            headers.push((header, v));
        }
    }
    let actions = props.list("actions", ';');
    if !actions.is_empty() {
        headers.push(("Actions", actions.join(";")));
    }
    Ok(Ntfy {
        scheme,
        host,
        topic,
        username: percent_decode(url.username()),
        password: percent_decode(url.password().unwrap_or("")),
        title: props.string("title", ""),
        priority,
        headers,
        cache: props.bool("cache", true)?,
        firebase: props.bool("firebase", true)?,
    })
}

impl Ntfy {
    fn request(&self, message: &str, title: &str) -> HttpRequest {
        let title = if title.is_empty() {
            self.title.as_str()
        } else {
            title
        };
        let mut headers = vec![(
            "Content-Type".to_owned(),
            "text/plain; charset=utf-8".to_owned(),
        )];
        if !title.is_empty() {
            headers.push(("Title".to_owned(), title.to_owned()));
        }
        if self.priority != 3 {
            headers.push(("Priority".to_owned(), self.priority.to_string()));
        }
        headers.extend(
            self.headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone())),
        );
        if !self.cache {
            headers.push(("Cache".to_owned(), "no".to_owned()));
        }
        if !self.firebase {
            headers.push(("Firebase".to_owned(), "no".to_owned()));
        }
        if !self.password.is_empty() {
            headers.push((
                "Authorization".to_owned(),
                basic_auth(&self.username, &self.password),
            ));
        }
        HttpRequest {
            method: http::Method::POST,
            url: format!("{}://{}/{}", self.scheme, self.host, self.topic),
            headers,
            body: message.as_bytes().to_vec(),
            success: Success::Status2xx,
        }
    }
}

fn parse_pushover(url: &Url) -> Result<Pushover, String> {
    let props = Props::parse(url, &[&["devices"], &["priority"], &["title"]])?;
    let user = url.host_str().unwrap_or("").to_owned();
    let token = percent_decode(url.password().unwrap_or(""));
    if user.is_empty() {
        return Err(
            "user key missing from config URL (pushover://shoutrrr:<token>@<userKey>)".to_owned(),
        );
    }
    if token.is_empty() {
        return Err(
            "API token missing from config URL (pushover://shoutrrr:<token>@<userKey>)".to_owned(),
        );
    }
    Ok(Pushover {
        user,
        token,
        devices: props.list("devices", ','),
        priority: props.int("priority", 0)?,
        title: props.string("title", ""),
    })
}

impl Pushover {
    fn request(&self, message: &str, title: &str, endpoints: &Endpoints) -> HttpRequest {
        let title = if title.is_empty() {
            self.title.as_str()
        } else {
            title
        };
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("device", &self.devices.join(","));
        form.append_pair("message", message);
        if (-2..=1).contains(&self.priority) {
            form.append_pair("priority", &self.priority.to_string());
        }
        if !title.is_empty() {
            form.append_pair("title", title);
        }
        form.append_pair("token", &self.token);
        form.append_pair("user", &self.user);
        HttpRequest {
            method: http::Method::POST,
            url: format!("{}/1/messages.json", endpoints.pushover),
            headers: vec![(
                "Content-Type".to_owned(),
                "application/x-www-form-urlencoded".to_owned(),
            )],
            body: form.finish().into_bytes(),
            success: Success::Status2xx,
        }
    }
}

#[cfg(test)]
mod tests;
