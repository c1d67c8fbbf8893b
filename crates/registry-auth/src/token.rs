//! The Docker token protocol: asking the Bearer realm for a pull token.

use std::fmt;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use serde::Deserialize;

use crate::http::{HttpClient, RequestKind};
use crate::{BearerChallenge, Credential, Error, Secret};

/// A bearer token and the time our cache stops using it.
#[derive(Clone)]
pub struct Token {
    value: Secret,
    expires_at: SystemTime,
    usable_until: SystemTime,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("value", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .field("usable_until", &self.usable_until)
            .finish()
    }
}

impl Token {
    pub(crate) fn new(value: Secret, expires_at: SystemTime, usable_until: SystemTime) -> Self {
        Self {
            value,
            expires_at,
            usable_until,
        }
    }

    /// When the token server said the token expires.
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }

    /// Until when the cache hands it out: the expiry minus a safety margin.
    pub fn usable_until(&self) -> SystemTime {
        self.usable_until
    }

    /// The token itself. Never log it.
    pub fn secret(&self) -> &Secret {
        &self.value
    }

    /// The `Authorization` header value, `Bearer <token>`. Never log it.
    pub fn authorization(&self) -> Secret {
        Secret::new(format!("Bearer {}", self.value.expose()))
    }

    pub(crate) fn same_as(&self, other: &Self) -> bool {
        self.value == other.value && self.expires_at == other.expires_at
    }
}

/// A token server's answer, parsed.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenGrant {
    /// The token (`token`, or `access_token` when `token` is absent).
    pub token: Secret,
    /// `expires_in`; 60 s when absent, as the token specification says.
    pub expires_in: Duration,
    /// `issued_at`, when present and a valid RFC 3339 date.
    pub issued_at: Option<SystemTime>,
}

impl fmt::Debug for TokenGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenGrant")
            .field("token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .field("issued_at", &self.issued_at)
            .finish()
    }
}

/// Token lifetime when the server does not say (Docker token specification).
pub const DEFAULT_EXPIRES_IN: Duration = Duration::from_secs(60);

#[derive(Deserialize)]
struct Body {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
    #[serde(default)]
    issued_at: Option<String>,
}

/// Parses a token server's JSON answer. The error text never contains the token.
pub fn parse_token_response(body: &[u8]) -> Result<TokenGrant, String> {
    let body: Body = serde_json::from_slice(body)
        .map_err(|e| format!("not a JSON token response ({})", e.classify_name()))?;
    let token = body
        .token
        .filter(|t| !t.is_empty())
        .or(body.access_token.filter(|t| !t.is_empty()))
        .ok_or("no `token` or `access_token` in the response")?;
    let expires_in = match body.expires_in {
        None | Some(serde_json::Value::Null) => DEFAULT_EXPIRES_IN,
        Some(serde_json::Value::Number(n)) => match n.as_f64() {
            Some(secs) if secs.is_finite() && secs > 0.0 && secs < 1e9 => {
                Duration::from_secs_f64(secs)
            }
            _ => DEFAULT_EXPIRES_IN,
        },
        Some(_) => return Err("`expires_in` is not a number".to_owned()),
    };
    let issued_at = body
        .issued_at
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(&s).ok())
        .map(SystemTime::from);
    Ok(TokenGrant {
        token: Secret::new(token),
        expires_in,
        issued_at,
    })
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "read error",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "unexpected field types",
            serde_json::error::Category::Eof => "truncated",
        }
    }
}

/// Percent-encodes a query or form value (everything but RFC 3986 unreserved characters).
pub(crate) fn encode_component(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The realm without its query, for error messages.
fn realm_for_display(realm: &str) -> String {
    realm.split('?').next().unwrap_or(realm).to_owned()
}

/// The client id sent with `OAuth2` refresh-token requests.
const CLIENT_ID: &str = "watchtower";

/// Asks the token server for a token for `scope` (for example `repository:library/nginx:pull`).
///
/// * No credentials: anonymous `GET <realm>?service=…&scope=…`.
/// * User name and password: the same GET with `Authorization: Basic …`.
/// * Identity (refresh) token: the `OAuth2` form `POST <realm>` with
///   `grant_type=refresh_token`, as Docker does for such credentials.
pub async fn fetch_token(
    http: &HttpClient,
    registry: &str,
    challenge: &BearerChallenge,
    scope: &str,
    credential: Option<&Credential>,
) -> Result<TokenGrant, Error> {
    let realm_display = realm_for_display(&challenge.realm);
    let build_err = |reason: String| Error::Request {
        registry: registry.to_owned(),
        reason,
    };
    let request = match credential {
        Some(Credential::IdentityToken { token, .. }) => {
            let mut form = format!(
                "grant_type=refresh_token&client_id={CLIENT_ID}&refresh_token={}",
                encode_component(token.expose())
            );
            if let Some(service) = &challenge.service {
                let _ = write!(form, "&service={}", encode_component(service));
            }
            let _ = write!(form, "&scope={}", encode_component(scope));
            Request::builder()
                .method(Method::POST)
                .uri(challenge.realm.as_str())
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Bytes::from(form))
                .map_err(|e| build_err(format!("token request to {realm_display}: {e}")))?
        }
        other => {
            let mut url = challenge.realm.clone();
            let mut sep = if url.contains('?') { '&' } else { '?' };
            if let Some(service) = &challenge.service {
                url.push(sep);
                let _ = write!(url, "service={}", encode_component(service));
                sep = '&';
            }
            url.push(sep);
            let _ = write!(url, "scope={}", encode_component(scope));
            let mut builder = Request::builder().method(Method::GET).uri(url);
            if let Some(basic) = other.and_then(Credential::basic_authorization) {
                let mut value = http::HeaderValue::from_str(basic.expose()).map_err(|_| {
                    build_err("the credentials cannot be sent in an HTTP header".to_owned())
                })?;
                value.set_sensitive(true);
                builder = builder.header(header::AUTHORIZATION, value);
            }
            builder
                .body(Bytes::new())
                .map_err(|e| build_err(format!("token request to {realm_display}: {e}")))?
        }
    };
    tracing::debug!(registry, realm = %realm_display, scope, "fetching registry token");
    let response = http.send(RequestKind::Token, registry, request).await?;
    if response.status != StatusCode::OK {
        return Err(Error::TokenStatus {
            registry: registry.to_owned(),
            realm: realm_display,
            status: response.status,
        });
    }
    parse_token_response(&response.body).map_err(|reason| Error::TokenResponse {
        registry: registry.to_owned(),
        realm: realm_display,
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_token_answers() {
        let g = parse_token_response(
            br#"{"token":"abc","expires_in":300,"issued_at":"2024-01-02T03:04:05Z"}"#,
        )
        .unwrap();
        assert_eq!(g.token.expose(), "abc");
        assert_eq!(g.expires_in, Duration::from_secs(300));
        assert_eq!(
            g.issued_at,
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_164_645))
        );
        let g = parse_token_response(br#"{"access_token":"xyz"}"#).unwrap();
        assert_eq!(g.token.expose(), "xyz");
        assert_eq!(g.expires_in, DEFAULT_EXPIRES_IN);
        assert_eq!(g.issued_at, None);
        let g = parse_token_response(
            br#"{"token":"","access_token":"second","expires_in":0,"issued_at":"yesterday"}"#,
        )
        .unwrap();
        assert_eq!(g.token.expose(), "second");
        assert_eq!(g.expires_in, DEFAULT_EXPIRES_IN);
        assert_eq!(g.issued_at, None);
    }

    #[test]
    fn bad_answers_are_described_without_the_token() {
        assert!(
            parse_token_response(b"<html>")
                .unwrap_err()
                .contains("not a JSON")
        );
        assert!(
            parse_token_response(b"{}")
                .unwrap_err()
                .contains("no `token`")
        );
        let e = parse_token_response(br#"{"token":"s3cr3t","expires_in":"soon"}"#).unwrap_err();
        assert!(e.contains("expires_in") && !e.contains("s3cr3t"));
        let e = parse_token_response(br#"{"token":["s3cr3t"]}"#).unwrap_err();
        assert!(!e.contains("s3cr3t"), "{e}");
    }

    #[test]
    fn encodes_query_values() {
        assert_eq!(
            encode_component("repository:library/nginx:pull"),
            "repository%3Alibrary%2Fnginx%3Apull"
        );
        assert_eq!(encode_component("a b&c=d~"), "a%20b%26c%3Dd~");
        assert_eq!(realm_for_display("https://x/token?a=b"), "https://x/token");
    }
}
