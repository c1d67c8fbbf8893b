//! The registry in each mode, talked to over HTTP directly (no Docker Engine needed).

use std::path::Path;

use base64::Engine as _;
use http::{Method, StatusCode};
use watchtower_testkit::client::HttpClient;
use watchtower_testkit::tls::TestCa;
use watchtower_testkit::{Auth, Registry, RegistryMode, RegistryOptions};

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// The value of `key="value"` in a `WWW-Authenticate` challenge.
fn challenge_param(challenge: &str, key: &str) -> Option<String> {
    let start = challenge.find(&format!("{key}=\""))? + key.len() + 2;
    let end = challenge[start..].find('"')? + start;
    Some(challenge[start..end].to_owned())
}

#[tokio::test]
async fn plain_registry_answers_and_logs_requests() -> anyhow::Result<()> {
    let registry = Registry::start(RegistryMode::Plain).await?;
    assert!(registry.host().starts_with("127.0.0.1:"));
    assert_eq!(registry.base_url(), format!("http://{}", registry.host()));
    assert_eq!(registry.credentials(), None);
    assert_eq!(registry.auth(), Auth::None);
    assert!(
        registry.access_log().is_empty(),
        "start-up requests are not in the log"
    );

    // A client other than the bench (another User-Agent) is counted.
    let client = HttpClient::new(None);
    let url = format!("{}/v2/some/repo/manifests/latest", registry.base_url());
    let response = client
        .request(Method::HEAD, &url, &[("user-agent", "bench-test/1")])
        .await?;
    assert_eq!(response.status, StatusCode::NOT_FOUND);
    registry.flush_access_log().await?;
    assert_eq!(
        registry.count_requests("HEAD", "/v2/some/repo/manifests/latest"),
        1
    );
    assert_eq!(registry.count_requests("head", "/manifests/"), 1);
    assert_eq!(registry.count_requests("GET", "/manifests/"), 0);
    let log = registry.access_log();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].status, 404);
    assert_eq!(log[0].user_agent, "bench-test/1");

    // The bench's own requests are not counted.
    assert!(
        registry
            .manifest_digest("some/repo", "latest")
            .await
            .is_err()
    );
    registry.flush_access_log().await?;
    assert_eq!(registry.count_requests("HEAD", "/manifests/"), 1);
    assert!(registry.full_access_log().len() > registry.access_log().len());

    registry.clear_access_log();
    assert_eq!(registry.count_requests("HEAD", "/manifests/"), 0);
    Ok(())
}

#[tokio::test]
async fn tls_registry_verifies_with_its_ca_only() -> anyhow::Result<()> {
    let registry = Registry::start(RegistryMode::Tls).await?;
    assert_eq!(registry.base_url(), format!("https://{}", registry.host()));
    let ca_path = registry.ca_pem_path().expect("a CA in TLS mode");
    assert!(std::fs::read_to_string(ca_path)?.starts_with("-----BEGIN CERTIFICATE-----"));
    let url = format!("{}/v2/", registry.base_url());

    let trusted = HttpClient::new(Some(registry.ca().expect("CA").client_config()));
    assert_eq!(trusted.get(&url).await?.status, StatusCode::OK);

    let other_ca = TestCa::new("a CA the registry never saw")?;
    let err = HttpClient::new(Some(other_ca.client_config()))
        .get(&url)
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("certificate"), "{err:#}");
    assert!(
        HttpClient::new(None).get(&url).await.is_err(),
        "no roots, no connection"
    );
    Ok(())
}

#[tokio::test]
async fn basic_registry_wants_the_right_password() -> anyhow::Result<()> {
    let registry = Registry::start(RegistryMode::Basic).await?;
    let (user, password) = registry.credentials().expect("credentials in Basic mode");
    assert_eq!(password.len(), 24);
    let client = HttpClient::new(None);
    let url = format!("{}/v2/", registry.base_url());

    let anonymous = client.get(&url).await?;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert!(
        anonymous
            .header("www-authenticate")
            .unwrap_or_default()
            .starts_with("Basic ")
    );
    let wrong = client
        .request(
            Method::GET,
            &url,
            &[("authorization", &basic(user, "wrong"))],
        )
        .await?;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let right = client
        .request(
            Method::GET,
            &url,
            &[("authorization", &basic(user, password))],
        )
        .await?;
    assert_eq!(right.status, StatusCode::OK);

    // A second registry gets another password.
    let other = Registry::start(RegistryMode::Basic).await?;
    assert_ne!(other.credentials().unwrap().1, password);
    Ok(())
}

#[tokio::test]
async fn token_registry_accepts_tokens_from_its_token_server() -> anyhow::Result<()> {
    let registry = Registry::start_with(RegistryOptions {
        auth: Auth::Token,
        token_expires_in: Some(7),
        ..RegistryOptions::default()
    })
    .await?;
    let (user, password) = registry.credentials().expect("credentials in Token mode");
    let tokens = registry
        .token_server()
        .expect("a token server in Token mode");
    let client = HttpClient::new(None);
    let url = format!("{}/v2/bench/app/manifests/latest", registry.base_url());

    // The registry sends clients to the token server.
    let challenge = client.request(Method::HEAD, &url, &[]).await?;
    assert_eq!(challenge.status, StatusCode::UNAUTHORIZED);
    let header = challenge
        .header("www-authenticate")
        .expect("a challenge")
        .to_owned();
    assert!(header.starts_with("Bearer "), "{header}");
    let realm = challenge_param(&header, "realm").expect("realm");
    let service = challenge_param(&header, "service").expect("service");
    let scope = challenge_param(&header, "scope").expect("scope");
    assert_eq!(realm, tokens.realm());
    assert!(realm.starts_with("http://127.0.0.1:"));
    assert_eq!(scope, "repository:bench/app:pull");

    let token_url = format!("{realm}?service={service}&scope={scope}&account={user}");
    // Anonymous and wrong credentials are refused (a private registry).
    assert_eq!(
        client.get(&token_url).await?.status,
        StatusCode::UNAUTHORIZED
    );
    let wrong = client
        .request(
            Method::GET,
            &token_url,
            &[("authorization", &basic(user, "nope"))],
        )
        .await?;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let answer = client
        .request(
            Method::GET,
            &token_url,
            &[("authorization", &basic(user, password))],
        )
        .await?;
    assert_eq!(answer.status, StatusCode::OK);
    let body: serde_json::Value = serde_json::from_slice(&answer.body)?;
    assert_eq!(body["expires_in"], 7);
    assert_eq!(body["token"], body["access_token"]);
    assert!(chrono::DateTime::parse_from_rfc3339(body["issued_at"].as_str().unwrap()).is_ok());
    let token = body["token"].as_str().unwrap();

    // The registry accepts the token: 404 (no such manifest), not 401.
    let bearer = format!("Bearer {token}");
    let authorized = client
        .request(Method::HEAD, &url, &[("authorization", &bearer)])
        .await?;
    assert_eq!(authorized.status, StatusCode::NOT_FOUND);
    // ... but only for the scope it grants.
    let other = format!("{}/v2/other/repo/manifests/latest", registry.base_url());
    let refused = client
        .request(Method::HEAD, &other, &[("authorization", &bearer)])
        .await?;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    // A token with a tampered signature is refused. (The first signature character carries six
    // full bits; the last one only two, and decoders ignore the rest.)
    let signature_start = token.rfind('.').unwrap() + 1;
    let replacement = if token[signature_start..].starts_with('A') {
        "B"
    } else {
        "A"
    };
    let tampered = format!(
        "Bearer {}{replacement}{}",
        &token[..signature_start],
        &token[signature_start + 1..]
    );
    let refused = client
        .request(Method::HEAD, &url, &[("authorization", &tampered)])
        .await?;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);

    assert_eq!(tokens.requests(), 3);
    assert_eq!(tokens.issued(), 1);
    assert_eq!(tokens.requests_for("repository:bench/app:pull"), 3);
    assert_eq!(tokens.requests_for("repository:other/repo:pull"), 0);
    let log = tokens.request_log();
    assert_eq!(log[0].user, None);
    assert_eq!(log[1].user.as_deref(), Some(user));
    assert_eq!(log[2].service.as_deref(), Some(service.as_str()));
    tokens.reset_counts();
    assert_eq!(tokens.requests(), 0);
    Ok(())
}

#[tokio::test]
async fn token_without_expires_in_omits_the_field() -> anyhow::Result<()> {
    let registry = Registry::start(RegistryMode::Token).await?;
    let (user, password) = registry.credentials().unwrap();
    let tokens = registry.token_server().unwrap();
    let url = format!(
        "{}?service={}&scope=repository:a:pull",
        tokens.realm(),
        tokens.service()
    );
    let answer = HttpClient::new(None)
        .request(
            Method::GET,
            &url,
            &[("authorization", &basic(user, password))],
        )
        .await?;
    let body: serde_json::Value = serde_json::from_slice(&answer.body)?;
    assert!(body.get("expires_in").is_none(), "{body}");
    assert!(body["token"].is_string());
    Ok(())
}

#[tokio::test]
async fn tls_and_token_combine() -> anyhow::Result<()> {
    let registry = Registry::start_with(RegistryOptions {
        tls: true,
        auth: Auth::Token,
        ..RegistryOptions::default()
    })
    .await?;
    assert!(registry.is_tls());
    assert_eq!(registry.auth(), Auth::Token);
    let client = HttpClient::new(Some(registry.ca().unwrap().client_config()));
    let response = client.get(&format!("{}/v2/", registry.base_url())).await?;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    assert!(
        response
            .header("www-authenticate")
            .unwrap()
            .starts_with("Bearer ")
    );
    Ok(())
}

#[tokio::test]
async fn dropping_the_registry_stops_it_and_removes_its_folder() -> anyhow::Result<()> {
    let registry = Registry::start(RegistryMode::Token).await?;
    let pid = registry.pid();
    let dir = registry.dir().to_path_buf();
    let base_url = registry.base_url();
    let realm = registry.token_server().unwrap().realm();
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    drop(registry);
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "registry process {pid} still runs"
    );
    assert!(!dir.exists(), "{} still exists", dir.display());
    let client = HttpClient::new(None);
    assert!(
        client.get(&format!("{base_url}/v2/")).await.is_err(),
        "the port still answers"
    );
    tokio::task::yield_now().await; // let the aborted token server task finish
    assert!(
        client.get(&realm).await.is_err(),
        "the token server still answers"
    );
    Ok(())
}

/// `sha256:<hex>` of `bytes`, computed here independently of the testkit.
fn sha256(bytes: &[u8]) -> String {
    format!(
        "sha256:{}",
        hex::encode(ring::digest::digest(&ring::digest::SHA256, bytes))
    )
}

#[tokio::test]
async fn synthetic_images_push_through_the_api_in_every_mode() -> anyhow::Result<()> {
    for options in [
        RegistryMode::Plain.into(),
        RegistryMode::Tls.into(),
        RegistryMode::Basic.into(),
        RegistryMode::Token.into(),
        RegistryOptions {
            tls: true,
            auth: Auth::Token,
            ..RegistryOptions::default()
        },
    ] {
        let what = format!("{options:?}");
        let registry = Registry::start_with(options).await?;

        let v1 = registry
            .push_synthetic_image("team/app", "latest", "v1")
            .await?;
        assert!(v1.starts_with("sha256:") && v1.len() == 71, "{what}: {v1}");
        assert_eq!(
            registry.manifest_digest("team/app", "latest").await?,
            v1,
            "{what}"
        );
        // The returned digest is the digest of what the registry serves.
        let stored = registry.manifest_bytes("team/app", &v1).await?;
        assert_eq!(sha256(&stored), v1, "{what}");
        let manifest: serde_json::Value = serde_json::from_slice(&stored)?;
        assert_eq!(
            manifest["mediaType"], "application/vnd.oci.image.manifest.v1+json",
            "{what}"
        );
        assert_eq!(
            manifest["layers"].as_array().map(Vec::len),
            Some(1),
            "{what}"
        );

        // Another variant moves the tag; the same variant always gives the same digest.
        let v2 = registry
            .push_synthetic_image("team/app", "latest", "v2")
            .await?;
        assert_ne!(v2, v1, "{what}");
        assert_eq!(registry.manifest_digest("team/app", "latest").await?, v2);
        let again = registry
            .push_synthetic_image("team/app", "1.0", "v1")
            .await?;
        assert_eq!(again, v1, "{what}");
        assert_eq!(registry.manifest_digest("team/app", "1.0").await?, v1);
        // Another repository with the same variant is another image.
        let other = registry
            .push_synthetic_image("team/other", "latest", "v1")
            .await?;
        assert_ne!(other, v1, "{what}");

        // The pushes reached the registry (five requests each) but stay out of the counts.
        registry.flush_access_log().await?;
        assert!(
            registry.access_log().is_empty(),
            "{what}: {:?}",
            registry.access_log()
        );
        assert_eq!(registry.count_requests("PUT", "/manifests/"), 0, "{what}");
        let full = registry.full_access_log();
        let uploads = full
            .iter()
            .filter(|e| e.method == "POST" && e.path.contains("/blobs/uploads/"))
            .count();
        let manifest_puts: Vec<_> = full
            .iter()
            .filter(|e| e.method == "PUT" && e.path.contains("/manifests/"))
            .collect();
        assert_eq!(uploads, 8, "{what}");
        assert_eq!(manifest_puts.len(), 4, "{what}");
        assert!(manifest_puts.iter().all(|e| e.status == 201), "{what}");
        if let Some(tokens) = registry.token_server() {
            assert_eq!(
                tokens.requests(),
                0,
                "{what}: push tokens are minted in-process"
            );
        }
    }
    Ok(())
}

#[tokio::test]
async fn any_manifest_pushes_for_example_an_index() -> anyhow::Result<()> {
    let registry = Registry::start(RegistryMode::Token).await?;
    let single = registry
        .push_synthetic_image("multi/app", "single", "s")
        .await?;
    let single_len = registry.manifest_bytes("multi/app", "single").await?.len();
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": single,
            "size": single_len,
            "platform": { "architecture": "amd64", "os": "linux" }
        }]
    }))?;
    let digest = registry
        .push_manifest(
            "multi/app",
            "latest",
            "application/vnd.oci.image.index.v1+json",
            &index,
        )
        .await?;
    assert_eq!(digest, sha256(&index));
    assert_eq!(
        registry.manifest_digest("multi/app", "latest").await?,
        digest
    );
    assert_eq!(
        registry
            .manifest_bytes("multi/app", "latest")
            .await?
            .as_ref(),
        index.as_slice()
    );
    Ok(())
}

/// Asserts that `err` names every one of `parts` and does not contain `password`.
fn assert_names(err: &anyhow::Error, parts: &[&str], password: &str) {
    let message = format!("{err:#}");
    for part in parts {
        assert!(message.contains(part), "{part:?} missing in: {message}");
    }
    assert!(
        !message.contains(password),
        "the password leaked: {message}"
    );
}

#[tokio::test]
async fn refused_pushes_say_what_and_where_without_the_password() -> anyhow::Result<()> {
    let registry = Registry::start(RegistryMode::Basic).await?;
    let (_, password) = registry.credentials().expect("credentials in Basic mode");

    // An index naming a manifest the registry does not have.
    let missing = format!("sha256:{}", "0".repeat(64));
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": missing,
            "size": 10
        }]
    }))?;
    let err = registry
        .push_manifest(
            "team/app",
            "broken",
            "application/vnd.oci.image.index.v1+json",
            &index,
        )
        .await
        .unwrap_err();
    assert_names(
        &err,
        &["pushing the manifest team/app:broken", "400"],
        password,
    );

    // An invalid repository name (upper case) is refused at the first step.
    let err = registry
        .push_synthetic_image("Team/App", "latest", "x")
        .await
        .unwrap_err();
    assert_names(&err, &["starting a blob upload to Team/App"], password);

    let err = registry
        .manifest_bytes("team/app", "nope")
        .await
        .unwrap_err();
    assert_names(&err, &["GET the manifest team/app:nope", "404"], password);
    Ok(())
}
