//! Shared helpers of the integration tests: pushing small OCI images straight through the
//! registry API (no Docker Engine needed), and registry clients for each testkit mode.

#![allow(dead_code, unreachable_pub)] // each test binary uses a different subset

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, bail};
use base64::Engine as _;
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use sha2::{Digest as _, Sha256};
use watchtower_registry_auth::http::{HttpClient, HttpOptions, RequestKind};
use watchtower_registry_auth::{
    Clock, CredentialOptions, CredentialStore, FakeClock, ImageReference, Secret,
};
use watchtower_registry_digest::{InsecureRegistries, Registry, RegistryOptions};
use watchtower_testkit::{Auth, Registry as TestRegistry};
use watchtower_tls_config::{CaBundle, TlsSettings};

pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn push_client(registry: &TestRegistry) -> anyhow::Result<HttpClient> {
    let tls = match registry.ca_pem_path() {
        Some(path) => TlsSettings::verified(Some(CaBundle::load(path)?)),
        None => TlsSettings::default(),
    };
    Ok(HttpClient::new(HttpOptions {
        tls,
        user_agent: "watchtower-tests-push".to_owned(),
        ..HttpOptions::default()
    })?)
}

fn push_authorization(registry: &TestRegistry, repo: &str) -> anyhow::Result<Option<String>> {
    Ok(match registry.auth() {
        Auth::None => None,
        Auth::Basic => {
            let (u, p) = registry.credentials().context("basic credentials")?;
            Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            ))
        }
        Auth::Token => {
            let (u, _) = registry.credentials().context("token credentials")?;
            let token = registry
                .token_server()
                .context("token server")?
                .issue_token(u, &[format!("repository:{repo}:pull,push")])?;
            Some(format!("Bearer {token}"))
        }
    })
}

async fn send(
    client: &HttpClient,
    method: Method,
    url: &str,
    auth: Option<&str>,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> anyhow::Result<watchtower_registry_auth::HttpResponse> {
    let mut b = Request::builder().method(method.clone()).uri(url);
    if let Some(a) = auth {
        b = b.header(http::header::AUTHORIZATION, a);
    }
    if let Some(ct) = content_type {
        b = b.header(http::header::CONTENT_TYPE, ct);
    }
    let request = b.body(Bytes::from(body))?;
    client
        .send(RequestKind::ManifestGet, "push", request)
        .await
        .with_context(|| format!("{method} {url}"))
}

async fn push_blob(
    client: &HttpClient,
    base: &str,
    repo: &str,
    auth: Option<&str>,
    blob: &[u8],
) -> anyhow::Result<String> {
    let digest = sha256(blob);
    let start = send(
        client,
        Method::POST,
        &format!("{base}/v2/{repo}/blobs/uploads/"),
        auth,
        None,
        Vec::new(),
    )
    .await?;
    if start.status != StatusCode::ACCEPTED {
        bail!("starting a blob upload to {repo} answered {}", start.status);
    }
    let location = start
        .headers
        .get(http::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .context("upload without Location")?;
    let location = if location.starts_with('/') {
        format!("{base}{location}")
    } else {
        location.to_owned()
    };
    let sep = if location.contains('?') { '&' } else { '?' };
    let put = send(
        client,
        Method::PUT,
        &format!("{location}{sep}digest={digest}"),
        auth,
        Some("application/octet-stream"),
        blob.to_vec(),
    )
    .await?;
    if put.status != StatusCode::CREATED {
        bail!("finishing a blob upload to {repo} answered {}", put.status);
    }
    Ok(digest)
}

/// Pushes a tiny single-arch OCI image (one config, one layer) as `repo:tag`; `salt` makes
/// its digest unique. Returns the manifest digest.
pub async fn push_image(
    registry: &TestRegistry,
    repo: &str,
    tag: &str,
    salt: &str,
) -> anyhow::Result<String> {
    let client = push_client(registry)?;
    let base = registry.base_url();
    let auth = push_authorization(registry, repo)?;
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": { "Labels": { "salt": salt } },
        "rootfs": { "type": "layers", "diff_ids": [] }
    }))?;
    let layer = format!("layer of {repo} {salt}").into_bytes();
    let config_digest = push_blob(&client, &base, repo, auth.as_deref(), &config).await?;
    let layer_digest = push_blob(&client, &base, repo, auth.as_deref(), &layer).await?;
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config.len()
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": layer_digest,
            "size": layer.len()
        }]
    }))?;
    push_manifest(
        registry,
        repo,
        tag,
        "application/vnd.oci.image.manifest.v1+json",
        &manifest,
    )
    .await
}

/// Pushes `manifest` (of `media_type`) as `repo:tag`; returns its digest.
pub async fn push_manifest(
    registry: &TestRegistry,
    repo: &str,
    tag: &str,
    media_type: &str,
    manifest: &[u8],
) -> anyhow::Result<String> {
    let client = push_client(registry)?;
    let base = registry.base_url();
    let auth = push_authorization(registry, repo)?;
    let put = send(
        &client,
        Method::PUT,
        &format!("{base}/v2/{repo}/manifests/{tag}"),
        auth.as_deref(),
        Some(media_type),
        manifest.to_vec(),
    )
    .await?;
    if put.status != StatusCode::CREATED {
        bail!(
            "pushing the manifest {repo}:{tag} answered {}: {}",
            put.status,
            String::from_utf8_lossy(&put.body)
        );
    }
    Ok(sha256(manifest))
}

/// The manifest bytes stored under `repo:reference`, read as the bench's user.
pub async fn manifest_bytes(
    registry: &TestRegistry,
    repo: &str,
    reference: &str,
) -> anyhow::Result<Vec<u8>> {
    let client = push_client(registry)?;
    let auth = push_authorization(registry, repo)?;
    let mut b = Request::builder()
        .method(Method::GET)
        .uri(format!(
            "{}/v2/{repo}/manifests/{reference}",
            registry.base_url()
        ))
        .header(
            http::header::ACCEPT,
            watchtower_registry_digest::MANIFEST_ACCEPT,
        );
    if let Some(a) = &auth {
        b = b.header(http::header::AUTHORIZATION, a);
    }
    let response = client
        .send(RequestKind::ManifestGet, "push", b.body(Bytes::new())?)
        .await?;
    if response.status != StatusCode::OK {
        bail!(
            "GET manifest {repo}:{reference} answered {}",
            response.status
        );
    }
    Ok(response.body.to_vec())
}

/// Credentials of the testkit registry, as `REPO_USER`/`REPO_PASS` would give them.
pub fn credentials_of(registry: &TestRegistry) -> CredentialStore {
    match registry.credentials() {
        Some((u, p)) => CredentialStore::new(CredentialOptions {
            repo_user_pass: Some((u.to_owned(), Secret::new(p))),
            ..CredentialOptions::default()
        }),
        None => CredentialStore::anonymous(),
    }
}

/// A fake clock at the real current time (the registry checks JWT times in real time).
pub fn fake_now() -> FakeClock {
    FakeClock::new(SystemTime::now())
}

/// Options for a client of `registry`: its credentials, its CA when it serves TLS, the
/// engine's default insecure list (127.0.0.0/8), short timeouts.
pub fn options_for(registry: &TestRegistry, clock: &FakeClock) -> RegistryOptions {
    let tls = match registry.ca_pem_path() {
        Some(path) => {
            TlsSettings::verified(Some(CaBundle::load(path).expect("the testkit CA loads")))
        }
        None => TlsSettings::default(),
    };
    RegistryOptions {
        tls,
        insecure_registries: InsecureRegistries::engine_default(),
        credentials: credentials_of(registry),
        clock: Arc::new(clock.clone()) as Arc<dyn Clock>,
        request_timeout: Duration::from_secs(10),
        ..RegistryOptions::default()
    }
}

pub fn client_for(registry: &TestRegistry, clock: &FakeClock) -> Registry {
    Registry::new(options_for(registry, clock)).expect("registry client")
}

pub fn reference(registry: &TestRegistry, repo: &str, tag: &str) -> ImageReference {
    ImageReference::parse(&format!("{}/{repo}:{tag}", registry.host())).expect("valid reference")
}

/// `RepoDigests` as the engine reports them for an image pulled from `registry`.
pub fn repo_digests(registry: &TestRegistry, repo: &str, digest: &str) -> Vec<String> {
    vec![format!("{}/{repo}@{digest}", registry.host())]
}
