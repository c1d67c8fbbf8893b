//! Token fetches and the token cache against the testkit's token server (the one the real
//! registry trusts in Token mode).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use watchtower_registry_auth::http::{HttpClient, HttpOptions, RequestKind};
use watchtower_registry_auth::{
    BearerChallenge, Credential, Error, FakeClock, Secret, TokenCache, TokenService, fetch_token,
};
use watchtower_testkit::{Registry, RegistryMode, RegistryOptions};

fn challenge_of(registry: &Registry) -> BearerChallenge {
    let server = registry.token_server().unwrap();
    BearerChallenge {
        realm: server.realm(),
        service: Some(server.service().to_owned()),
        scope: None,
    }
}

fn credential_of(registry: &Registry) -> Credential {
    let (u, p) = registry.credentials().unwrap();
    Credential::Basic {
        username: u.into(),
        password: Secret::new(p),
    }
}

#[tokio::test]
async fn fetches_a_token_with_basic_credentials() {
    let registry = Registry::start_with(RegistryOptions {
        auth: watchtower_testkit::Auth::Token,
        token_expires_in: Some(300),
        ..RegistryOptions::default()
    })
    .await
    .unwrap();
    let http = HttpClient::new(HttpOptions::default()).unwrap();
    let grant = fetch_token(
        &http,
        &registry.host(),
        &challenge_of(&registry),
        "repository:team/app:pull",
        Some(&credential_of(&registry)),
    )
    .await
    .unwrap();
    assert!(!grant.token.expose().is_empty());
    assert_eq!(grant.expires_in, Duration::from_secs(300));
    assert!(grant.issued_at.is_some());
    let log = registry.token_server().unwrap().request_log();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].scopes, ["repository:team/app:pull"]);
    assert_eq!(
        log[0].user.as_deref(),
        Some(watchtower_testkit::REGISTRY_USER)
    );
    assert_eq!(http.stats().requests_with(RequestKind::Token, Some(200)), 1);
    assert!(!format!("{grant:?}").contains(grant.token.expose()));
}

#[tokio::test]
async fn wrong_or_missing_credentials_name_registry_and_status_only() {
    let registry = Registry::start(RegistryMode::Token).await.unwrap();
    let http = HttpClient::new(HttpOptions::default()).unwrap();
    let wrong = Credential::Basic {
        username: watchtower_testkit::REGISTRY_USER.into(),
        password: Secret::new("wrong-password-77"),
    };
    for credential in [Some(&wrong), None] {
        let err = fetch_token(
            &http,
            &registry.host(),
            &challenge_of(&registry),
            "repository:a:pull",
            credential,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, Error::TokenStatus { status, .. } if status == 401),
            "{err}"
        );
        let text = err.to_string();
        assert_eq!(
            text,
            format!(
                "registry {}: token server {} answered 401 Unauthorized",
                registry.host(),
                registry.token_server().unwrap().realm()
            )
        );
        assert!(!format!("{err:?}").contains("wrong-password-77"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_askers_one_request_then_expiry() {
    let registry = Registry::start(RegistryMode::Token).await.unwrap();
    let server = registry.token_server().unwrap();
    let http = HttpClient::new(HttpOptions::default()).unwrap();
    let clock = FakeClock::new(SystemTime::now());
    let service = TokenService::new(http, Arc::new(TokenCache::new(Arc::new(clock.clone()))));
    let challenge = challenge_of(&registry);
    let credential = credential_of(&registry);
    let host = registry.host();

    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (service, challenge, credential, host) = (
            service.clone(),
            challenge.clone(),
            credential.clone(),
            host.clone(),
        );
        tasks.push(tokio::spawn(async move {
            service
                .token(&host, &challenge, "repository:busy:pull", Some(&credential))
                .await
                .unwrap()
                .secret()
                .expose()
                .to_owned()
        }));
    }
    let mut tokens = std::collections::HashSet::new();
    for t in tasks {
        tokens.insert(t.await.unwrap());
    }
    assert_eq!(tokens.len(), 1);
    assert_eq!(server.requests(), 1);

    // The server omits expires_in: 60 s by the specification, minus the 10 s margin.
    clock.advance(Duration::from_secs(49));
    service
        .token(&host, &challenge, "repository:busy:pull", Some(&credential))
        .await
        .unwrap();
    assert_eq!(server.requests(), 1);
    clock.advance(Duration::from_secs(2));
    service
        .token(&host, &challenge, "repository:busy:pull", Some(&credential))
        .await
        .unwrap();
    assert_eq!(server.requests(), 2);
    // Another scope is another token.
    service
        .token(
            &host,
            &challenge,
            "repository:other:pull",
            Some(&credential),
        )
        .await
        .unwrap();
    assert_eq!(server.requests(), 3);
    assert_eq!(server.requests_for("repository:other:pull"), 1);
}
