//! The bearer-token server of the Token mode: an in-process axum server on `127.0.0.1:0`.
//!
//! It implements the token endpoint of the Docker registry token authentication protocol as
//! the distribution registry 2.8 expects it: `GET /token?service=..&scope=..` with HTTP Basic
//! credentials answers `{"token", "access_token", "expires_in", "issued_at"}`. The token is a
//! JWT signed with ES256; its header carries the signing certificate in `x5c`, which the
//! registry verifies against its `rootcertbundle` (the CA returned by
//! [`TokenServer::root_cert_pem`]). Claims: `iss`, `sub`, `aud` (the service), `exp`, `nbf`,
//! `iat`, `jti` and `access` granting exactly the requested scopes' actions.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use serde_json::json;

use crate::tls::TestCa;

/// How long issued JWTs stay valid in real time, whatever `expires_in` says.
const JWT_LIFETIME_SECS: u64 = 3600;

/// One request the token server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// The `account` query parameter.
    pub account: Option<String>,
    /// The `service` query parameter.
    pub service: Option<String>,
    /// The `scope` query parameters, in order.
    pub scopes: Vec<String>,
    /// The user name of the Basic credentials, if any were sent (never the password).
    pub user: Option<String>,
    /// The status answered: 200, or 401 for missing or wrong credentials.
    pub status: u16,
}

pub(crate) struct TokenServerConfig {
    pub(crate) username: String,
    pub(crate) password: String,
    pub(crate) expires_in: Option<u64>,
}

struct TokenState {
    username: String,
    password: String,
    expires_in: Option<u64>,
    service: String,
    issuer: String,
    key: EcdsaKeyPair,
    x5c: String,
    root_pem: String,
    requests: Mutex<Vec<TokenRequest>>,
}

/// The token server of a [`Registry`](crate::Registry) in Token mode.
///
/// Counts every request it answers (good or refused); tests assert on
/// [`TokenServer::requests`] and [`TokenServer::requests_for`] to prove a client caches tokens.
/// The bench's own tokens ([`TokenServer::issue_token`]) are not counted.
pub struct TokenServer {
    state: Arc<TokenState>,
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for TokenServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenServer")
            .field("realm", &self.realm())
            .field("service", &self.state.service)
            .finish_non_exhaustive()
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TokenServer {
    pub(crate) async fn start(config: TokenServerConfig) -> anyhow::Result<TokenServer> {
        let ca = TestCa::new("watchtower-testkit token CA")?;
        let signing = ca.issue_signing_cert("watchtower-testkit token signer")?;
        let key = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            signing.key_pkcs8_der(),
            &ring::rand::SystemRandom::new(),
        )
        .map_err(|err| anyhow::anyhow!("loading the token signing key: {err}"))?;
        let state = Arc::new(TokenState {
            username: config.username,
            password: config.password,
            expires_in: config.expires_in,
            service: "watchtower-testkit-registry".to_owned(),
            issuer: "watchtower-testkit-token-server".to_owned(),
            key,
            x5c: STANDARD.encode(signing.cert_der()),
            root_pem: ca.cert_pem(),
            requests: Mutex::new(Vec::new()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the token server to 127.0.0.1")?;
        let addr = listener
            .local_addr()
            .context("reading the token server's address")?;
        let app = Router::new()
            .route("/token", get(token))
            .with_state(Arc::clone(&state));
        let task = tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, app).await {
                eprintln!("watchtower-testkit: the token server stopped: {err}");
            }
        });
        Ok(TokenServer { state, addr, task })
    }

    /// The realm URL the registry sends clients to: `http://127.0.0.1:PORT/token`.
    pub fn realm(&self) -> String {
        format!("http://{}/token", self.addr)
    }

    /// The `service` the registry names in its challenge (and the tokens' audience).
    pub fn service(&self) -> &str {
        &self.state.service
    }

    /// The tokens' issuer.
    pub fn issuer(&self) -> &str {
        &self.state.issuer
    }

    /// The PEM of the CA that signed the token-signing certificate (the registry's
    /// `rootcertbundle`).
    pub fn root_cert_pem(&self) -> &str {
        &self.state.root_pem
    }

    /// How many token requests were answered (any status) since the start or the last reset.
    pub fn requests(&self) -> usize {
        self.state.requests.lock().expect("token lock").len()
    }

    /// How many token requests asked for exactly `scope` (one of their `scope` parameters),
    /// e.g. `repository:bench/app:pull`.
    pub fn requests_for(&self, scope: &str) -> usize {
        self.state
            .requests
            .lock()
            .expect("token lock")
            .iter()
            .filter(|r| r.scopes.iter().any(|s| s == scope))
            .count()
    }

    /// How many tokens were issued (requests answered 200).
    pub fn issued(&self) -> usize {
        self.state
            .requests
            .lock()
            .expect("token lock")
            .iter()
            .filter(|r| r.status == 200)
            .count()
    }

    /// Every request answered so far, oldest first.
    pub fn request_log(&self) -> Vec<TokenRequest> {
        self.state.requests.lock().expect("token lock").clone()
    }

    /// Forgets the requests so far (the counts start again at zero).
    pub fn reset_counts(&self) {
        self.state.requests.lock().expect("token lock").clear();
    }

    /// Issues a token for `subject` granting `scopes` directly, without a request (not
    /// counted). Useful to call the registry the way a client with a token would.
    pub fn issue_token(&self, subject: &str, scopes: &[String]) -> anyhow::Result<String> {
        self.state.issue(subject, scopes)
    }

    pub(crate) fn token_issuer(&self) -> TokenIssuer {
        TokenIssuer(Arc::clone(&self.state))
    }
}

/// A cheap handle that issues tokens like the server does (for the bench's own requests).
#[derive(Clone)]
pub(crate) struct TokenIssuer(Arc<TokenState>);

impl TokenIssuer {
    pub(crate) fn issue(&self, subject: &str, scopes: &[String]) -> anyhow::Result<String> {
        self.0.issue(subject, scopes)
    }
}

impl TokenState {
    fn issue(&self, subject: &str, scopes: &[String]) -> anyhow::Result<String> {
        let now =
            u64::try_from(chrono::Utc::now().timestamp()).context("the clock is before 1970")?;
        let lifetime = self.expires_in.unwrap_or(0).max(JWT_LIFETIME_SECS);
        let access: Vec<_> = scopes.iter().filter_map(|s| parse_scope(s)).collect();
        let header = json!({ "typ": "JWT", "alg": "ES256", "x5c": [self.x5c] });
        let claims = json!({
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "exp": now + lifetime,
            "nbf": now,
            "iat": now,
            "jti": crate::random_hex(16),
            "access": access,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self
            .key
            .sign(&ring::rand::SystemRandom::new(), signing_input.as_bytes())
            .map_err(|err| anyhow::anyhow!("signing a token: {err}"))?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.as_ref())
        ))
    }

    /// The user name of valid Basic credentials; `Err` carries the user name of wrong ones.
    fn check_credentials(&self, headers: &HeaderMap) -> Result<String, Option<String>> {
        let value = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(None)?;
        let (scheme, encoded) = value.split_once(' ').ok_or(None)?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(None);
        }
        let decoded = STANDARD.decode(encoded.trim()).map_err(|_| None)?;
        let decoded = String::from_utf8(decoded).map_err(|_| None)?;
        let (user, password) = decoded.split_once(':').ok_or(None)?;
        // Constant time does not matter for a test fixture listening on loopback.
        if user == self.username && password == self.password {
            Ok(user.to_owned())
        } else {
            Err(Some(user.to_owned()))
        }
    }
}

/// `type:name:actions` -> the `access` claim entry. The name may itself contain colons
/// (never in practice, but the format allows a port in a name), the actions are after the last.
fn parse_scope(scope: &str) -> Option<serde_json::Value> {
    let (kind, rest) = scope.split_once(':')?;
    let (name, actions) = rest.rsplit_once(':')?;
    let actions: Vec<&str> = actions.split(',').filter(|a| !a.is_empty()).collect();
    Some(json!({ "type": kind, "name": name, "actions": actions }))
}

async fn token(
    State(state): State<Arc<TokenState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let mut request = TokenRequest {
        account: None,
        service: None,
        scopes: Vec::new(),
        user: None,
        status: 200,
    };
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match &*key {
            "account" => request.account = Some(value.into_owned()),
            "service" => request.service = Some(value.into_owned()),
            "scope" => request.scopes.extend(
                value
                    .split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            ),
            _ => {}
        }
    }
    let response = match state.check_credentials(&headers) {
        Ok(user) => {
            request.user = Some(user.clone());
            match state.issue(&user, &request.scopes) {
                Ok(token) => {
                    let mut body = json!({
                        "token": token,
                        "access_token": token,
                        "issued_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    });
                    if let Some(expires_in) = state.expires_in {
                        body["expires_in"] = json!(expires_in);
                    }
                    (
                        StatusCode::OK,
                        [(header::CONTENT_TYPE, "application/json")],
                        body.to_string(),
                    )
                        .into_response()
                }
                Err(err) => {
                    request.status = 500;
                    (StatusCode::INTERNAL_SERVER_ERROR, format!("{err:#}")).into_response()
                }
            }
        }
        Err(user) => {
            request.user = user;
            request.status = 401;
            let body =
                json!({"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]});
            (
                StatusCode::UNAUTHORIZED,
                [
                    (
                        header::WWW_AUTHENTICATE,
                        "Basic realm=\"watchtower-testkit token server\"",
                    ),
                    (header::CONTENT_TYPE, "application/json"),
                ],
                body.to_string(),
            )
                .into_response()
        }
    };
    state.requests.lock().expect("token lock").push(request);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_become_access_entries() {
        assert_eq!(
            parse_scope("repository:bench/app:pull,push"),
            Some(json!({"type": "repository", "name": "bench/app", "actions": ["pull", "push"]}))
        );
        assert_eq!(
            parse_scope("registry:catalog:*"),
            Some(json!({"type": "registry", "name": "catalog", "actions": ["*"]}))
        );
        assert_eq!(parse_scope("nonsense"), None);
    }

    use ring::signature::KeyPair as _;

    #[tokio::test]
    async fn tokens_are_es256_jwts_with_the_signing_certificate() {
        let server = TokenServer::start(TokenServerConfig {
            username: "u".into(),
            password: "p".into(),
            expires_in: Some(5),
        })
        .await
        .unwrap();
        let token = server
            .issue_token("u", &["repository:a/b:pull".to_owned()])
            .unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["x5c"].as_array().unwrap().len(), 1);
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["aud"], server.service());
        assert_eq!(claims["iss"], server.issuer());
        assert_eq!(claims["access"][0]["name"], "a/b");
        // Valid for an hour of real time although the server reports expires_in = 5.
        assert!(claims["exp"].as_u64().unwrap() >= claims["iat"].as_u64().unwrap() + 3600);
        // The signature verifies with the public key of the signing certificate.
        let public = server.state.key.public_key().as_ref().to_vec();
        let key = ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_FIXED,
            public,
        );
        let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        key.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
            .unwrap();
        assert_eq!(server.requests(), 0, "issue_token is not counted");
    }
}
