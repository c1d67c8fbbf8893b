//! Registry credentials: `REPO_USER`/`REPO_PASS`, else the Docker config file with its
//! per-registry `credHelpers`, its `credsStore` and its `auths`.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;
use tokio::io::AsyncWriteExt;

use crate::Error;
use crate::reference::{DOCKER_HUB_API_HOST, DOCKER_HUB_CONFIG_KEY, DOCKER_HUB_DOMAIN};

/// A secret string (password, token). Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for putting on the wire. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Credentials for one registry.
///
/// ```
/// use watchtower_registry_auth::{Credential, Secret};
/// let c = Credential::Basic { username: "bob".into(), password: Secret::new("hunter2") };
/// assert!(!format!("{c:?}").contains("hunter2"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// A user name and password (sent as HTTP Basic to the registry or its token server).
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: Secret,
    },
    /// An `OAuth2` refresh token (`identitytoken` in `config.json`, or a helper answering with
    /// the user name `<token>`), exchanged at the token server for an access token.
    IdentityToken {
        /// The user name, if one was stored next to the token.
        username: Option<String>,
        /// The refresh token.
        token: Secret,
    },
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
            Self::IdentityToken { username, .. } => f
                .debug_struct("IdentityToken")
                .field("username", username)
                .field("token", &"<redacted>")
                .finish(),
        }
    }
}

impl Credential {
    /// The value of an `Authorization: Basic …` header for these credentials, when they are a
    /// user name and password.
    pub fn basic_authorization(&self) -> Option<Secret> {
        match self {
            Self::Basic { username, password } => {
                let raw = format!("{username}:{}", password.expose());
                Some(Secret(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(raw)
                )))
            }
            Self::IdentityToken { .. } => None,
        }
    }
}

/// Where credentials come from; see [`CredentialStore::from_env`] for the defaults.
#[derive(Debug, Clone)]
pub struct CredentialOptions {
    /// `REPO_USER` and `REPO_PASS`: used for every registry when both are non-empty.
    pub repo_user_pass: Option<(String, Secret)>,
    /// The Docker config file to read (`$DOCKER_CONFIG/config.json`), if any.
    pub docker_config: Option<PathBuf>,
    /// How long a `docker-credential-*` helper may run.
    pub helper_timeout: Duration,
    /// The `PATH` searched for `docker-credential-*` helpers; `None` uses the process's.
    pub helper_search_path: Option<std::ffi::OsString>,
}

impl Default for CredentialOptions {
    fn default() -> Self {
        Self {
            repo_user_pass: None,
            docker_config: None,
            helper_timeout: Duration::from_secs(10),
            helper_search_path: None,
        }
    }
}

/// Looks up credentials for a registry.
///
/// Order: `REPO_USER`/`REPO_PASS` (both non-empty) for every registry; else the Docker config
/// file: `credHelpers[<registry>]`, then `credsStore`, then `auths[<registry>]`. A helper that
/// knows nothing about the registry lets the search go on to `auths`. The file is read at each
/// look-up, so edited credentials are used without a restart.
#[derive(Debug, Clone)]
pub struct CredentialStore {
    options: CredentialOptions,
}

// No Debug: the entries hold secrets.
#[derive(Default, Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: HashMap<String, AuthEntry>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: HashMap<String, String>,
}

#[derive(Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default, rename = "identitytoken")]
    identity_token: Option<String>,
}

#[derive(Deserialize)]
struct HelperAnswer {
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

impl CredentialStore {
    /// No credentials at all: every registry is accessed anonymously.
    pub fn anonymous() -> Self {
        Self::new(CredentialOptions::default())
    }

    /// A store with explicit options.
    pub fn new(options: CredentialOptions) -> Self {
        Self { options }
    }

    /// Options from the environment, as the binary uses them:
    ///
    /// * `REPO_USER` and `REPO_PASS`, both non-empty;
    /// * `$DOCKER_CONFIG/config.json` when `DOCKER_CONFIG` is set; otherwise
    ///   `~/.docker/config.json`, and, when that does not exist, `/config.json` (where the
    ///   original's documentation tells users to mount the file).
    pub fn options_from_env() -> CredentialOptions {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let repo_user_pass = match (var("REPO_USER"), var("REPO_PASS")) {
            (Some(user), Some(pass)) => Some((user, Secret(pass))),
            _ => None,
        };
        let docker_config = if let Some(dir) = std::env::var_os("DOCKER_CONFIG") {
            Some(PathBuf::from(dir).join("config.json"))
        } else {
            let home = std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".docker").join("config.json"));
            match home {
                Some(path) if path.exists() => Some(path),
                _ => Some(PathBuf::from("/config.json")),
            }
        };
        CredentialOptions {
            repo_user_pass,
            docker_config,
            ..CredentialOptions::default()
        }
    }

    /// A store configured from the environment ([`CredentialStore::options_from_env`]).
    pub fn from_env() -> Self {
        Self::new(Self::options_from_env())
    }

    /// The config file this store reads, if any.
    pub fn docker_config_path(&self) -> Option<&Path> {
        self.options.docker_config.as_deref()
    }

    /// Credentials for `registry` (a registry host such as `ghcr.io`, `127.0.0.1:5000`, or any
    /// Docker Hub spelling: `docker.io`, `index.docker.io`). `Ok(None)` means anonymous access.
    pub async fn lookup(&self, registry: &str) -> Result<Option<Credential>, Error> {
        if let Some((user, pass)) = &self.options.repo_user_pass
            && !user.is_empty()
            && !pass.expose().is_empty()
        {
            return Ok(Some(Credential::Basic {
                username: user.clone(),
                password: pass.clone(),
            }));
        }
        let Some(path) = &self.options.docker_config else {
            return Ok(None);
        };
        let text = match tokio::fs::read(path).await {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(Error::DockerConfig {
                    path: path.clone(),
                    reason: format!("cannot read the file: {e}"),
                });
            }
        };
        if text.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        let config: DockerConfig =
            serde_json::from_slice(&text).map_err(|e| Error::DockerConfig {
                path: path.clone(),
                // serde_json's message names the line and column, never the content.
                reason: format!("not valid JSON: {e}"),
            })?;
        let host = canonical_host(registry);

        if let Some(helper) = config
            .cred_helpers
            .iter()
            .find(|(key, _)| canonical_host(key) == host)
            .map(|(_, helper)| helper)
        {
            if let Some(c) = self.run_helper(helper, &host).await? {
                return Ok(Some(c));
            }
        } else if let Some(store) = config.creds_store.as_deref().filter(|s| !s.is_empty())
            && let Some(c) = self.run_helper(store, &host).await?
        {
            return Ok(Some(c));
        }

        let entry = config
            .auths
            .iter()
            .filter(|(key, _)| canonical_host(key) == host)
            // Prefer the exact key Docker writes, for determinism when several keys match.
            .min_by_key(|(key, _)| (key.as_str() != server_url(&host), key.as_str()));
        match entry {
            None => Ok(None),
            Some((key, entry)) => decode_entry(path, key, entry),
        }
    }

    async fn run_helper(&self, helper: &str, host: &str) -> Result<Option<Credential>, Error> {
        let err = |reason: String| Error::CredentialHelper {
            helper: helper.to_owned(),
            registry: host.to_owned(),
            reason,
        };
        if helper.is_empty() || helper.contains(['/', '\\']) {
            return Err(err("invalid helper name".to_owned()));
        }
        let program = format!("docker-credential-{helper}");
        let mut command = tokio::process::Command::new(&program);
        if let Some(path) = &self.options.helper_search_path {
            command.env("PATH", path);
        }
        let mut child = command
            .arg("get")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    err(format!("{program} not found on PATH"))
                } else {
                    err(format!("cannot start {program}: {e}"))
                }
            })?;
        let server = server_url(host);
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let run = async move {
            // A helper that exits without reading its input is not an error in itself.
            let _ = stdin.write_all(server.as_bytes()).await;
            drop(stdin);
            child.wait_with_output().await
        };
        let output = tokio::time::timeout(self.options.helper_timeout, run)
            .await
            .map_err(|_| {
                err(format!(
                    "no answer within {} s",
                    self.options.helper_timeout.as_secs_f32()
                ))
            })?
            .map_err(|e| err(format!("cannot run {program}: {e}")))?;
        if !output.status.success() {
            let said = String::from_utf8_lossy(&output.stdout).to_string()
                + &String::from_utf8_lossy(&output.stderr);
            if said.to_ascii_lowercase().contains("credentials not found") {
                tracing::debug!(helper, registry = host, "credential helper has no entry");
                return Ok(None);
            }
            let first_line: String = said
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(200)
                .collect();
            return Err(err(format!("exited with {}: {first_line}", output.status)));
        }
        let answer: HelperAnswer = serde_json::from_slice(&output.stdout)
            .map_err(|_| err("answer is not the expected JSON".to_owned()))?;
        if answer.secret.is_empty() {
            return Ok(None);
        }
        tracing::debug!(
            helper,
            registry = host,
            "credentials from credential helper"
        );
        Ok(Some(if answer.username == "<token>" {
            Credential::IdentityToken {
                username: None,
                token: Secret(answer.secret),
            }
        } else {
            Credential::Basic {
                username: answer.username,
                password: Secret(answer.secret),
            }
        }))
    }
}

fn decode_entry(path: &Path, key: &str, entry: &AuthEntry) -> Result<Option<Credential>, Error> {
    let bad = |reason: &str| Error::DockerConfig {
        path: path.to_owned(),
        reason: format!("auths[{key:?}]: {reason}"),
    };
    if let Some(token) = entry.identity_token.as_deref().filter(|t| !t.is_empty()) {
        let mut username = entry.username.clone().filter(|u| !u.is_empty());
        if username.is_none()
            && let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty())
        {
            username = decode_auth(auth).ok().map(|(u, _)| u);
        }
        return Ok(Some(Credential::IdentityToken {
            username,
            token: Secret(token.to_owned()),
        }));
    }
    if let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
        let (username, password) = decode_auth(auth).map_err(|r| bad(&r))?;
        return Ok(Some(Credential::Basic {
            username,
            password: Secret(password),
        }));
    }
    match (entry.username.as_deref(), entry.password.as_deref()) {
        (Some(u), Some(p)) if !u.is_empty() && !p.is_empty() => Ok(Some(Credential::Basic {
            username: u.to_owned(),
            password: Secret(p.to_owned()),
        })),
        _ => Ok(None),
    }
}

/// Decodes `base64(user:password)`, standard or URL-safe alphabet, padded or not.
fn decode_auth(auth: &str) -> Result<(String, String), String> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let auth = auth.trim();
    let bytes = [STANDARD, URL_SAFE, STANDARD_NO_PAD, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|e| e.decode(auth).ok())
        .ok_or_else(|| "`auth` is not base64".to_owned())?;
    let text = String::from_utf8(bytes).map_err(|_| "`auth` is not UTF-8".to_owned())?;
    let (user, pass) = text
        .split_once(':')
        .ok_or_else(|| "`auth` does not hold user:password".to_owned())?;
    if user.is_empty() {
        return Err("`auth` has an empty user name".to_owned());
    }
    Ok((user.to_owned(), pass.to_owned()))
}

/// Reduces a config key or registry name to a comparable host: drops the scheme and any path,
/// lower-cases, and maps every Docker Hub spelling to `index.docker.io`.
fn canonical_host(key: &str) -> String {
    let key = key.trim();
    let without_scheme = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = without_scheme
        .split('/')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    match host.as_str() {
        DOCKER_HUB_DOMAIN | "registry-1.docker.io" | "registry.hub.docker.com" => {
            DOCKER_HUB_API_HOST.to_owned()
        }
        _ => host,
    }
}

/// The server URL handed to credential helpers: Docker's Hub key, or the bare host.
fn server_url(host: &str) -> String {
    if host == DOCKER_HUB_API_HOST {
        DOCKER_HUB_CONFIG_KEY.to_owned()
    } else {
        host.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_compare_like_docker() {
        assert_eq!(
            canonical_host("https://index.docker.io/v1/"),
            "index.docker.io"
        );
        assert_eq!(canonical_host("docker.io"), "index.docker.io");
        assert_eq!(canonical_host("registry-1.docker.io"), "index.docker.io");
        assert_eq!(
            canonical_host("http://127.0.0.1:5000/v2/"),
            "127.0.0.1:5000"
        );
        assert_eq!(canonical_host("GHCR.io"), "ghcr.io");
        assert_eq!(server_url("index.docker.io"), "https://index.docker.io/v1/");
        assert_eq!(server_url("ghcr.io"), "ghcr.io");
    }

    #[test]
    fn auth_decodes_in_both_alphabets() {
        // "u:p?>" encodes with '/' in the standard alphabet and '_' in the URL-safe one.
        let std = base64::engine::general_purpose::STANDARD.encode("user:pa?>ss");
        let url = base64::engine::general_purpose::URL_SAFE.encode("user:pa?>ss");
        assert_ne!(std, url);
        for enc in [std, url] {
            assert_eq!(
                decode_auth(&enc).unwrap(),
                ("user".to_owned(), "pa?>ss".to_owned())
            );
        }
        assert!(decode_auth("%%%").unwrap_err().contains("not base64"));
        let no_colon = base64::engine::general_purpose::STANDARD.encode("nocolon");
        assert!(
            decode_auth(&no_colon)
                .unwrap_err()
                .contains("user:password")
        );
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let c = Credential::IdentityToken {
            username: Some("u".into()),
            token: Secret::new("refresh-me"),
        };
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("refresh-me"), "{dbg}");
        assert!(dbg.contains("<redacted>"));
        let opts = CredentialOptions {
            repo_user_pass: Some(("u".into(), Secret::new("p4ss"))),
            ..CredentialOptions::default()
        };
        assert!(!format!("{opts:?}").contains("p4ss"));
        let basic = Credential::Basic {
            username: "u".into(),
            password: Secret::new("p"),
        };
        assert_eq!(basic.basic_authorization().unwrap().expose(), "Basic dTpw");
    }
}
