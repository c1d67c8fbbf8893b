//! Credentials from the environment options and a real `config.json` on disk, with fake
//! `docker-credential-*` helpers (shell scripts) on a private search path.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use watchtower_registry_auth::{Credential, CredentialOptions, CredentialStore, Error, Secret};

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("bin")).unwrap();
        Self { dir }
    }

    fn config(&self, json: &serde_json::Value) -> PathBuf {
        let path = self.dir.path().join("config.json");
        std::fs::write(&path, serde_json::to_vec_pretty(json).unwrap()).unwrap();
        path
    }

    /// A helper answering `get` with `script` (a shell fragment; stdin holds the server URL).
    fn helper(&self, name: &str, script: &str) {
        let path = self
            .dir
            .path()
            .join("bin")
            .join(format!("docker-credential-{name}"));
        std::fs::write(
            &path,
            format!("#!/bin/sh\n[ \"$1\" = get ] || exit 2\nserver=$(cat)\necho \"$server\" >> '{}'\n{script}\n", self.asked().display()),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn asked(&self) -> PathBuf {
        self.dir.path().join("asked.log")
    }

    fn asked_servers(&self) -> Vec<String> {
        std::fs::read_to_string(self.asked())
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn store(&self, config: &Path) -> CredentialStore {
        CredentialStore::new(CredentialOptions {
            docker_config: Some(config.to_owned()),
            helper_search_path: Some(
                format!("{}:/usr/bin:/bin", self.dir.path().join("bin").display()).into(),
            ),
            helper_timeout: Duration::from_secs(5),
            ..CredentialOptions::default()
        })
    }
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[allow(clippy::unnecessary_wraps)] // compared with lookup()'s Option directly
fn basic(user: &str, pass: &str) -> Option<Credential> {
    Some(Credential::Basic {
        username: user.into(),
        password: Secret::new(pass),
    })
}

#[tokio::test]
async fn repo_user_and_pass_apply_to_every_registry() {
    let s = Setup::new();
    let config =
        s.config(&serde_json::json!({ "auths": { "ghcr.io": { "auth": b64("file:user") } } }));
    let store = CredentialStore::new(CredentialOptions {
        repo_user_pass: Some(("env-user".into(), Secret::new("env-pass"))),
        docker_config: Some(config),
        ..CredentialOptions::default()
    });
    for registry in ["ghcr.io", "docker.io", "127.0.0.1:5000"] {
        assert_eq!(
            store.lookup(registry).await.unwrap(),
            basic("env-user", "env-pass")
        );
    }
    // An empty password does not count: the config file is used.
    let s2 = Setup::new();
    let config =
        s2.config(&serde_json::json!({ "auths": { "ghcr.io": { "auth": b64("file:user") } } }));
    let half = CredentialStore::new(CredentialOptions {
        repo_user_pass: Some(("env-user".into(), Secret::new(""))),
        docker_config: Some(config),
        ..CredentialOptions::default()
    });
    assert_eq!(half.lookup("ghcr.io").await.unwrap(), basic("file", "user"));
}

#[tokio::test]
async fn auths_match_by_host_including_every_docker_hub_spelling() {
    let s = Setup::new();
    let config = s.config(&serde_json::json!({
        "auths": {
            "https://index.docker.io/v1/": { "auth": b64("hubuser:hubpass") },
            "127.0.0.1:5000": { "auth": b64("local:pw:with:colons") },
            "http://reg.lan:5000/v2/": { "username": "lan", "password": "lanpw" },
            "tokens.example.com": { "auth": b64("tok:ignored"), "identitytoken": "refresh-123" },
            "empty.example.com": {}
        }
    }));
    let store = s.store(&config);
    for hub in ["docker.io", "index.docker.io", "registry-1.docker.io"] {
        assert_eq!(
            store.lookup(hub).await.unwrap(),
            basic("hubuser", "hubpass"),
            "{hub}"
        );
    }
    assert_eq!(
        store.lookup("127.0.0.1:5000").await.unwrap(),
        basic("local", "pw:with:colons")
    );
    assert_eq!(
        store.lookup("reg.lan:5000").await.unwrap(),
        basic("lan", "lanpw")
    );
    assert_eq!(
        store.lookup("tokens.example.com").await.unwrap(),
        Some(Credential::IdentityToken {
            username: Some("tok".into()),
            token: Secret::new("refresh-123")
        })
    );
    assert_eq!(store.lookup("empty.example.com").await.unwrap(), None);
    assert_eq!(store.lookup("ghcr.io").await.unwrap(), None);
}

#[tokio::test]
async fn cred_helpers_come_first_then_creds_store_then_auths() {
    let s = Setup::new();
    s.helper(
        "perreg",
        r#"echo '{"ServerURL":"x","Username":"from-perreg","Secret":"s1"}'"#,
    );
    s.helper(
        "store",
        r#"case "$server" in
  https://index.docker.io/v1/) echo '{"ServerURL":"hub","Username":"<token>","Secret":"hub-refresh"}' ;;
  known.example.com) echo '{"ServerURL":"k","Username":"from-store","Secret":"s2"}' ;;
  *) echo 'credentials not found in native keychain'; exit 1 ;;
esac"#,
    );
    let config = s.config(&serde_json::json!({
        "credsStore": "store",
        "credHelpers": { "special.example.com": "perreg" },
        "auths": {
            "special.example.com": { "auth": b64("auths:not-used") },
            "fallback.example.com": { "auth": b64("auths:used") }
        }
    }));
    let store = s.store(&config);
    assert_eq!(
        store.lookup("special.example.com").await.unwrap(),
        basic("from-perreg", "s1")
    );
    assert_eq!(
        store.lookup("known.example.com").await.unwrap(),
        basic("from-store", "s2")
    );
    assert_eq!(
        store.lookup("docker.io").await.unwrap(),
        Some(Credential::IdentityToken {
            username: None,
            token: Secret::new("hub-refresh")
        })
    );
    // The store has nothing for this registry: the search goes on to auths.
    assert_eq!(
        store.lookup("fallback.example.com").await.unwrap(),
        basic("auths", "used")
    );
    assert_eq!(store.lookup("nowhere.example.com").await.unwrap(), None);
    assert_eq!(
        s.asked_servers(),
        [
            "special.example.com",
            "known.example.com",
            "https://index.docker.io/v1/",
            "fallback.example.com",
            "nowhere.example.com"
        ]
    );
}

#[tokio::test]
async fn broken_helpers_are_clear_errors_without_secrets() {
    let s = Setup::new();
    s.helper("slow", "sleep 30");
    s.helper("garbage", "echo 'not json, secret=hunter2'");
    s.helper("fails", "echo 'backend exploded' >&2; exit 3");
    let config = s.config(&serde_json::json!({
        "credHelpers": {
            "slow.example.com": "slow",
            "garbage.example.com": "garbage",
            "fails.example.com": "fails",
            "missing.example.com": "does-not-exist"
        }
    }));
    let store = CredentialStore::new(CredentialOptions {
        helper_timeout: Duration::from_millis(300),
        ..CredentialOptions {
            docker_config: Some(config),
            helper_search_path: Some(
                format!("{}:/usr/bin:/bin", s.dir.path().join("bin").display()).into(),
            ),
            ..CredentialOptions::default()
        }
    });
    let started = tokio::time::Instant::now();
    let err = store.lookup("slow.example.com").await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        err.to_string(),
        "credential helper docker-credential-slow for registry slow.example.com: no answer within 0.3 s"
    );
    let err = store
        .lookup("garbage.example.com")
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "credential helper docker-credential-garbage for registry garbage.example.com: answer is not the expected JSON"
    );
    let err = store
        .lookup("fails.example.com")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("exited with") && err.contains("backend exploded"),
        "{err}"
    );
    let err = store.lookup("missing.example.com").await.unwrap_err();
    assert!(matches!(err, Error::CredentialHelper { .. }));
    assert!(
        err.to_string()
            .contains("docker-credential-does-not-exist not found on PATH"),
        "{err}"
    );
}

#[tokio::test]
async fn config_file_problems() {
    let s = Setup::new();
    // Missing file: anonymous.
    let store = s.store(&s.dir.path().join("nope.json"));
    assert_eq!(store.lookup("ghcr.io").await.unwrap(), None);
    // Malformed JSON: an error naming the file and position, not the content.
    let path = s.dir.path().join("config.json");
    std::fs::write(&path, r#"{"auths": {"ghcr.io": {"auth": "c2VjcmV0OnB3"}"#).unwrap();
    let err = s
        .store(&path)
        .lookup("ghcr.io")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!("docker config {}: not valid JSON", path.display())),
        "{err}"
    );
    assert!(!err.contains("c2VjcmV0OnB3"), "{err}");
    // An auth value that is not base64 of user:password.
    let config = s.config(&serde_json::json!({ "auths": { "ghcr.io": { "auth": "%%%" } } }));
    let err = s
        .store(&config)
        .lookup("ghcr.io")
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!(
            "docker config {}: auths[\"ghcr.io\"]: `auth` is not base64",
            config.display()
        )
    );
}

#[test]
fn debug_output_never_shows_secrets() {
    let store = CredentialStore::new(CredentialOptions {
        repo_user_pass: Some(("u".into(), Secret::new("the-password"))),
        ..CredentialOptions::default()
    });
    let text = format!("{store:?}");
    assert!(!text.contains("the-password"), "{text}");
}
