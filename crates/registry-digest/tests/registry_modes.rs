//! Against the real registry (Debian's `docker-registry`, started by the testkit on
//! 127.0.0.1) in its four modes: plain HTTP, HTTPS with a private CA, Basic, Token.

mod common;

use std::time::Duration;

use common::{client_for, fake_now, options_for, reference, repo_digests};
use watchtower_registry_digest::{
    CheckRequest, Freshness, InsecureRegistries, Registry, RegistryOptions, RequestKind,
};
use watchtower_testkit::{Registry as TestRegistry, RegistryMode, RegistryOptions as TestOptions};
use watchtower_tls_config::{CaBundle, TlsSettings};

async fn fresh_then_stale(mode: RegistryMode) {
    let registry = TestRegistry::start(mode).await.unwrap();
    let v1 = registry
        .push_synthetic_image("team/app", "latest", "v1")
        .await
        .unwrap();
    assert_eq!(
        registry
            .manifest_digest("team/app", "latest")
            .await
            .unwrap(),
        v1
    );

    let clock = fake_now();
    let client = client_for(&registry, &clock);
    let image = reference(&registry, "team/app", "latest");
    let local = repo_digests(&registry, "team/app", &v1);

    let result = client.check(&image, &local).await;
    assert_eq!(result.freshness, Freshness::Fresh, "{mode:?}: {result:?}");
    assert_eq!(result.remote_digest.as_deref(), Some(v1.as_str()));

    let v2 = registry
        .push_synthetic_image("team/app", "latest", "v2")
        .await
        .unwrap();
    let result = client.check(&image, &local).await;
    assert_eq!(
        result.freshness,
        Freshness::Stale { remote: v2.clone() },
        "{mode:?}"
    );

    // The short form Docker uses in RepoDigests for the same repository matches too.
    let short = vec![format!("{}/team/app@{v2}", registry.host())];
    assert_eq!(
        client.check(&image, &short).await.freshness,
        Freshness::Fresh
    );
    // A digest of another repository does not.
    let other = vec![format!("{}/team/other@{v2}", registry.host())];
    assert!(matches!(
        client.check(&image, &other).await.freshness,
        Freshness::Stale { .. }
    ));

    registry.flush_access_log().await.unwrap();
    assert_eq!(
        registry.count_requests("HEAD", "/v2/team/app/manifests/latest"),
        4,
        "{mode:?}"
    );
    assert_eq!(
        registry.count_requests("GET", "/v2/team/app/manifests/"),
        0,
        "{mode:?}"
    );
    let stats = client.metrics().http;
    assert_eq!(stats.requests_with(RequestKind::ManifestHead, Some(200)), 4);
    assert!(stats.connections_opened >= 1);
}

#[tokio::test]
async fn digest_head_plain() {
    fresh_then_stale(RegistryMode::Plain).await;
}

#[tokio::test]
async fn digest_head_tls() {
    fresh_then_stale(RegistryMode::Tls).await;
}

#[tokio::test]
async fn digest_head_basic() {
    fresh_then_stale(RegistryMode::Basic).await;
}

#[tokio::test]
async fn digest_head_token() {
    fresh_then_stale(RegistryMode::Token).await;
}

#[tokio::test]
async fn digest_head_tls_with_token_auth() {
    let registry = TestRegistry::start_with(TestOptions {
        tls: true,
        auth: watchtower_testkit::Auth::Token,
        ..TestOptions::default()
    })
    .await
    .unwrap();
    let digest = registry
        .push_synthetic_image("secure/app", "latest", "t")
        .await
        .unwrap();
    let client = client_for(&registry, &fake_now());
    let result = client
        .check(
            &reference(&registry, "secure/app", "latest"),
            &repo_digests(&registry, "secure/app", &digest),
        )
        .await;
    assert_eq!(result.freshness, Freshness::Fresh, "{result:?}");
    assert_eq!(
        registry
            .token_server()
            .unwrap()
            .requests_for("repository:secure/app:pull"),
        1
    );
    let stats = client.metrics().http;
    assert_eq!(stats.requests_with(RequestKind::Challenge, Some(401)), 1);
    assert_eq!(
        stats.requests_with(RequestKind::Challenge, None),
        0,
        "no HTTP fallback needed"
    );
}

#[tokio::test]
async fn private_ca_is_accepted_only_with_the_bundle() {
    let registry = TestRegistry::start(RegistryMode::Tls).await.unwrap();
    let digest = registry
        .push_synthetic_image("app", "1", "x")
        .await
        .unwrap();
    let image = reference(&registry, "app", "1");
    let local = repo_digests(&registry, "app", &digest);
    let clock = fake_now();

    // No bundle: the registry is on 127.0.0.0/8 (engine-insecure), but a certificate error is
    // never downgraded to plain HTTP.
    let no_bundle = Registry::new(RegistryOptions {
        tls: TlsSettings::default(),
        ..options_for(&registry, &clock)
    })
    .unwrap();
    let result = no_bundle.check(&image, &local).await;
    let Freshness::Unknown { reason } = &result.freshness else {
        panic!("expected a TLS error, got {result:?}");
    };
    assert!(
        reason.starts_with(&format!(
            "registry {}: TLS certificate not trusted",
            registry.host()
        )),
        "{reason}"
    );
    assert!(reason.contains("UnknownIssuer"), "{reason}");

    // A bundle with another CA: the same clear error.
    let other = watchtower_testkit::tls::TestCa::new("some other CA").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let other_path = dir.path().join("other.pem");
    other.write_pem(&other_path).unwrap();
    let wrong = Registry::new(RegistryOptions {
        tls: TlsSettings::verified(Some(CaBundle::load(&other_path).unwrap())),
        ..options_for(&registry, &clock)
    })
    .unwrap();
    let result = wrong.check(&image, &local).await;
    assert!(
        matches!(&result.freshness, Freshness::Unknown { reason } if reason.contains("TLS certificate not trusted") && reason.contains(&registry.host())),
        "{result:?}"
    );

    // The registry's own CA (as --registry-ca): fresh.
    assert_eq!(
        client_for(&registry, &clock)
            .check(&image, &local)
            .await
            .freshness,
        Freshness::Fresh
    );

    // --insecure-registry: verification off, works without any bundle.
    let insecure = Registry::new(RegistryOptions {
        tls: TlsSettings::insecure(),
        insecure_registries: InsecureRegistries::none(),
        ..options_for(&registry, &clock)
    })
    .unwrap();
    assert_eq!(
        insecure.check(&image, &local).await.freshness,
        Freshness::Fresh
    );

    // No plain-HTTP request ever reached the TLS registry (it would log a 400 for TLS bytes
    // on... nothing: all requests were TLS). Every HEAD that reached it was answered 200.
    registry.flush_access_log().await.unwrap();
    assert!(
        registry
            .access_log()
            .iter()
            .filter(|e| e.method == "HEAD")
            .all(|e| e.status == 200)
    );
}

#[tokio::test]
async fn plain_http_only_where_the_engine_or_the_flag_allows_it() {
    let registry = TestRegistry::start(RegistryMode::Plain).await.unwrap();
    let digest = registry
        .push_synthetic_image("app", "latest", "p")
        .await
        .unwrap();
    let image = reference(&registry, "app", "latest");
    let local = repo_digests(&registry, "app", &digest);
    let clock = fake_now();

    // Not on the insecure list: HTTPS only, and the registry does not speak it.
    let strict = Registry::new(RegistryOptions {
        insecure_registries: InsecureRegistries::none(),
        ..options_for(&registry, &clock)
    })
    .unwrap();
    let result = strict.check(&image, &local).await;
    assert!(
        matches!(&result.freshness, Freshness::Unknown { reason } if reason.starts_with(&format!("registry {}: TLS handshake failed", registry.host()))),
        "{result:?}"
    );

    // On the engine's default list (127.0.0.0/8): falls back to HTTP and learns it.
    let engine = client_for(&registry, &clock);
    assert_eq!(
        engine.check(&image, &local).await.freshness,
        Freshness::Fresh
    );
    let first = engine.metrics().http;
    assert_eq!(
        first.requests_with(RequestKind::Challenge, None),
        1,
        "the HTTPS attempt"
    );
    assert_eq!(first.requests_with(RequestKind::Challenge, Some(200)), 1);
    assert_eq!(
        engine.check(&image, &local).await.freshness,
        Freshness::Fresh
    );
    let second = engine.metrics().http.since(&first);
    assert_eq!(
        second.requests_of(RequestKind::Challenge),
        1,
        "plain HTTP remembered"
    );

    // Named on the list (as `--insecure-registry` entries of the engine are).
    let named = Registry::new(RegistryOptions {
        insecure_registries: InsecureRegistries::from_engine([registry.host()]).unwrap(),
        ..options_for(&registry, &clock)
    })
    .unwrap();
    assert_eq!(
        named.check(&image, &local).await.freshness,
        Freshness::Fresh
    );

    // The --insecure-registry flag allows HTTP for every registry.
    let flag = Registry::new(RegistryOptions {
        tls: TlsSettings::insecure(),
        insecure_registries: InsecureRegistries::none(),
        ..options_for(&registry, &clock)
    })
    .unwrap();
    assert_eq!(flag.check(&image, &local).await.freshness, Freshness::Fresh);
}

#[tokio::test]
async fn basic_registry_without_credentials_is_unknown_with_a_reason() {
    let registry = TestRegistry::start(RegistryMode::Basic).await.unwrap();
    let digest = registry
        .push_synthetic_image("app", "latest", "b")
        .await
        .unwrap();
    let clock = fake_now();
    let anonymous = Registry::new(RegistryOptions {
        credentials: watchtower_registry_auth::CredentialStore::anonymous(),
        ..options_for(&registry, &clock)
    })
    .unwrap();
    let result = anonymous
        .check(
            &reference(&registry, "app", "latest"),
            &repo_digests(&registry, "app", &digest),
        )
        .await;
    assert_eq!(
        result.freshness,
        Freshness::Unknown {
            reason: format!(
                "registry {} requires Basic authentication but no credentials are configured for it",
                registry.host()
            )
        }
    );
}

#[tokio::test]
async fn wrong_password_is_reported_without_the_password() {
    for mode in [RegistryMode::Basic, RegistryMode::Token] {
        let registry = TestRegistry::start(mode).await.unwrap();
        registry
            .push_synthetic_image("app", "latest", "w")
            .await
            .unwrap();
        let clock = fake_now();
        let bad = Registry::new(RegistryOptions {
            credentials: watchtower_registry_auth::CredentialStore::new(
                watchtower_registry_auth::CredentialOptions {
                    repo_user_pass: Some((
                        watchtower_testkit::REGISTRY_USER.to_owned(),
                        watchtower_registry_auth::Secret::new("not-the-password-42"),
                    )),
                    ..Default::default()
                },
            ),
            ..options_for(&registry, &clock)
        })
        .unwrap();
        let result = bad.check(&reference(&registry, "app", "latest"), &[]).await;
        let Freshness::Unknown { reason } = &result.freshness else {
            panic!("{mode:?}: {result:?}");
        };
        assert!(
            reason.contains(&registry.host()) && reason.contains("401"),
            "{mode:?}: {reason}"
        );
        assert!(!reason.contains("not-the-password-42"), "{reason}");
        assert!(!format!("{result:?}").contains("not-the-password-42"));
    }
}

#[tokio::test]
async fn missing_tag_is_unknown_naming_the_request() {
    let registry = TestRegistry::start(RegistryMode::Plain).await.unwrap();
    registry
        .push_synthetic_image("app", "latest", "m")
        .await
        .unwrap();
    let client = client_for(&registry, &fake_now());
    let result = client
        .check(&reference(&registry, "app", "nope"), &[])
        .await;
    assert_eq!(
        result.freshness,
        Freshness::Unknown {
            reason: format!(
                "registry {}: HEAD /v2/app/manifests/nope answered 404 Not Found: manifest or repository unknown",
                registry.host()
            )
        }
    );
}

#[tokio::test]
async fn digest_pinned_references_are_fresh_without_a_request() {
    let registry = TestRegistry::start(RegistryMode::Plain).await.unwrap();
    let digest = registry
        .push_synthetic_image("app", "latest", "d")
        .await
        .unwrap();
    let client = client_for(&registry, &fake_now());
    let pinned = watchtower_registry_auth::ImageReference::parse(&format!(
        "{}/app@{digest}",
        registry.host()
    ))
    .unwrap();
    let result = client.check(&pinned, &[]).await;
    assert_eq!(result.freshness, Freshness::Fresh);
    assert_eq!(result.remote_digest.as_deref(), Some(digest.as_str()));
    assert_eq!(client.metrics().http.requests.len(), 0);
}

// ---- Token counts -------------------------------------------------------------------------

#[tokio::test]
async fn n_images_in_one_repo_need_one_token_and_one_challenge() {
    let registry = TestRegistry::start(RegistryMode::Token).await.unwrap();
    let mut requests = Vec::new();
    for tag in ["a", "b", "c", "d", "e"] {
        let digest = registry
            .push_synthetic_image("one/repo", tag, tag)
            .await
            .unwrap();
        requests.push(CheckRequest {
            reference: reference(&registry, "one/repo", tag),
            local_repo_digests: repo_digests(&registry, "one/repo", &digest),
        });
    }
    // The same image used by two containers is asked once.
    requests.push(requests[0].clone());
    registry.flush_access_log().await.unwrap();
    registry.clear_access_log();
    let tokens = registry.token_server().unwrap();
    tokens.reset_counts();

    let client = client_for(&registry, &fake_now());
    let results = client.check_many(&requests).await;
    assert_eq!(results.len(), 6);
    assert!(
        results.iter().all(|r| r.freshness == Freshness::Fresh),
        "{results:?}"
    );
    assert_eq!(tokens.requests(), 1);
    assert_eq!(tokens.requests_for("repository:one/repo:pull"), 1);
    registry.flush_access_log().await.unwrap();
    assert_eq!(registry.count_requests("HEAD", "/manifests/"), 5);
    assert_eq!(
        registry.count_requests("GET", "/v2/"),
        1,
        "one challenge: {:?}",
        registry.access_log()
    );
}

#[tokio::test]
async fn m_repos_need_m_tokens_and_a_second_session_reuses_them() {
    let registry = TestRegistry::start(RegistryMode::Token).await.unwrap();
    let repos = ["r/one", "r/two", "r/three", "r/four"];
    let mut requests = Vec::new();
    for repo in repos {
        let digest = registry
            .push_synthetic_image(repo, "latest", repo)
            .await
            .unwrap();
        requests.push(CheckRequest {
            reference: reference(&registry, repo, "latest"),
            local_repo_digests: repo_digests(&registry, repo, &digest),
        });
    }
    let tokens = registry.token_server().unwrap();
    tokens.reset_counts();
    let client = client_for(&registry, &fake_now());
    let results = client.check_many(&requests).await;
    assert!(
        results.iter().all(|r| r.freshness == Freshness::Fresh),
        "{results:?}"
    );
    assert_eq!(tokens.requests(), repos.len());
    for repo in repos {
        assert_eq!(tokens.requests_for(&format!("repository:{repo}:pull")), 1);
    }
    // Next session: one challenge again, no new token.
    let before = client.metrics().http;
    client.check_many(&requests).await;
    let delta = client.metrics().http.since(&before);
    assert_eq!(tokens.requests(), repos.len());
    assert_eq!(delta.requests_of(RequestKind::Challenge), 1);
    assert_eq!(delta.requests_of(RequestKind::Token), 0);
    assert_eq!(
        delta.requests_of(RequestKind::ManifestHead),
        repos.len() as u64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_askers_make_one_token_request() {
    let registry = TestRegistry::start(RegistryMode::Token).await.unwrap();
    let digest = registry
        .push_synthetic_image("busy/app", "latest", "c")
        .await
        .unwrap();
    let tokens = registry.token_server().unwrap();
    tokens.reset_counts();
    let client = client_for(&registry, &fake_now());
    let image = reference(&registry, "busy/app", "latest");
    let local = repo_digests(&registry, "busy/app", &digest);
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let client = client.clone();
        let image = image.clone();
        let local = local.clone();
        // Separate sessions, shared token cache: the worst case for the cache.
        tasks.push(tokio::spawn(
            async move { client.check(&image, &local).await },
        ));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().freshness, Freshness::Fresh);
    }
    assert_eq!(tokens.requests(), 1);
    assert_eq!(client.metrics().http.requests_of(RequestKind::Token), 1);
}

#[tokio::test]
async fn tokens_expire_on_the_fake_clock() {
    let registry = TestRegistry::start_with(TestOptions {
        auth: watchtower_testkit::Auth::Token,
        token_expires_in: Some(60),
        ..TestOptions::default()
    })
    .await
    .unwrap();
    let digest = registry
        .push_synthetic_image("exp/app", "latest", "e")
        .await
        .unwrap();
    let tokens = registry.token_server().unwrap();
    tokens.reset_counts();
    let clock = fake_now();
    let client = client_for(&registry, &clock);
    let image = reference(&registry, "exp/app", "latest");
    let local = repo_digests(&registry, "exp/app", &digest);

    assert_eq!(
        client.check(&image, &local).await.freshness,
        Freshness::Fresh
    );
    assert_eq!(tokens.requests(), 1);
    clock.advance(Duration::from_secs(45));
    assert_eq!(
        client.check(&image, &local).await.freshness,
        Freshness::Fresh
    );
    assert_eq!(
        tokens.requests(),
        1,
        "still inside expires_in minus the margin"
    );
    clock.advance(Duration::from_secs(6)); // 51 s: inside the last 10 s
    assert_eq!(
        client.check(&image, &local).await.freshness,
        Freshness::Fresh
    );
    assert_eq!(tokens.requests(), 2);
    clock.advance(Duration::from_secs(30));
    assert_eq!(
        client.check(&image, &local).await.freshness,
        Freshness::Fresh
    );
    assert_eq!(tokens.requests(), 2);
}

#[tokio::test]
async fn tokens_default_to_sixty_seconds_when_expires_in_is_absent() {
    let registry = TestRegistry::start_with(TestOptions {
        auth: watchtower_testkit::Auth::Token,
        token_expires_in: None,
        ..TestOptions::default()
    })
    .await
    .unwrap();
    let digest = registry
        .push_synthetic_image("noexp/app", "latest", "n")
        .await
        .unwrap();
    let tokens = registry.token_server().unwrap();
    tokens.reset_counts();
    let clock = fake_now();
    let client = client_for(&registry, &clock);
    let image = reference(&registry, "noexp/app", "latest");
    let local = repo_digests(&registry, "noexp/app", &digest);
    client.check(&image, &local).await;
    clock.advance(Duration::from_secs(49));
    client.check(&image, &local).await;
    assert_eq!(tokens.requests(), 1);
    clock.advance(Duration::from_secs(2));
    client.check(&image, &local).await;
    assert_eq!(tokens.requests(), 2);
}

#[tokio::test]
async fn multi_arch_indexes_and_docker_manifest_lists_have_their_own_digest() {
    let registry = TestRegistry::start(RegistryMode::Token).await.unwrap();
    let single = registry
        .push_synthetic_image("multi/app", "single", "s")
        .await
        .unwrap();
    let single_bytes = registry.manifest_bytes("multi/app", &single).await.unwrap();
    assert_eq!(common::sha256(&single_bytes), single);
    let client = client_for(&registry, &fake_now());
    for (tag, media_type, child_type) in [
        (
            "oci-index",
            "application/vnd.oci.image.index.v1+json",
            "application/vnd.oci.image.manifest.v1+json",
        ),
        (
            "docker-list",
            "application/vnd.docker.distribution.manifest.list.v2+json",
            "application/vnd.oci.image.manifest.v1+json",
        ),
    ] {
        let index = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": media_type,
            "manifests": [{
                "mediaType": child_type,
                "digest": single,
                "size": single_bytes.len(),
                "platform": { "architecture": "amd64", "os": "linux" }
            }]
        }))
        .unwrap();
        let digest = registry
            .push_manifest("multi/app", tag, media_type, &index)
            .await
            .unwrap();
        assert_ne!(digest, single);
        let image = reference(&registry, "multi/app", tag);
        // The local image of a multi-arch tag records the index digest in RepoDigests.
        let result = client
            .check(&image, &repo_digests(&registry, "multi/app", &digest))
            .await;
        assert_eq!(result.freshness, Freshness::Fresh, "{tag}: {result:?}");
        // The platform manifest's digest is not the tag's digest.
        let result = client
            .check(&image, &repo_digests(&registry, "multi/app", &single))
            .await;
        assert_eq!(
            result.freshness,
            Freshness::Stale { remote: digest },
            "{tag}"
        );
    }
}
