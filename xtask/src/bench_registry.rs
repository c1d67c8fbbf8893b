//! `cargo xtask bench registry`: how many requests, connections and how much time a freshness
//! check of 50 distinct repositories costs on a local token-auth registry, cold and warm, next
//! to a naive loop that asks for a challenge, a token and a HEAD per image on fresh
//! connections (what the original did). It prints figures; it asserts nothing.

use std::time::Duration;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use http::{Request, StatusCode};
use watchtower_registry_auth::http::{HttpClient, HttpOptions, HttpStats, RequestKind};
use watchtower_registry_auth::{
    BearerChallenge, Credential, CredentialOptions, CredentialStore, ImageReference, Secret,
    fetch_token, parse_www_authenticate,
};
use watchtower_registry_digest::{
    CheckRequest, Freshness, InsecureRegistries, MANIFEST_ACCEPT, Registry, RegistryOptions,
};
use watchtower_testkit::{Registry as TestRegistry, RegistryOptions as TestOptions};

/// Distinct repositories checked.
const REPOS: usize = 50;
/// The per-host concurrency of the client under test.
const PER_HOST: usize = 4;

pub(crate) fn run() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(bench())
}

struct Phase {
    name: &'static str,
    stats: HttpStats,
    wall: Duration,
    tokens: usize,
    heads_logged: usize,
    challenges_logged: usize,
}

async fn bench() -> anyhow::Result<()> {
    eprintln!("starting a token-auth registry on 127.0.0.1 and pushing {REPOS} tiny images ...");
    let registry = TestRegistry::start_with(TestOptions {
        auth: watchtower_testkit::Auth::Token,
        token_expires_in: Some(300),
        ..TestOptions::default()
    })
    .await?;
    let mut requests = Vec::new();
    for i in 0..REPOS {
        let repo = format!("bench/app-{i:02}");
        let digest = registry
            .push_synthetic_image(&repo, "latest", &repo)
            .await?;
        requests.push(CheckRequest {
            reference: ImageReference::parse(&format!("{}/{repo}:latest", registry.host()))?,
            local_repo_digests: vec![format!("{}/{repo}@{digest}", registry.host())],
        });
    }
    let server = registry.token_server().context("token server")?;
    let (user, password) = registry.credentials().context("registry credentials")?;

    let client = Registry::new(RegistryOptions {
        credentials: CredentialStore::new(CredentialOptions {
            repo_user_pass: Some((user.to_owned(), Secret::new(password))),
            ..CredentialOptions::default()
        }),
        insecure_registries: InsecureRegistries::engine_default(),
        per_host_concurrency: PER_HOST,
        ..RegistryOptions::default()
    })?;

    let mut phases = Vec::new();
    for name in ["check_many, cold cache", "check_many, warm cache"] {
        registry.flush_access_log().await?;
        registry.clear_access_log();
        server.reset_counts();
        let before = client.metrics().http;
        let started = tokio::time::Instant::now();
        let results = client.check_many(&requests).await;
        let wall = started.elapsed();
        let fresh = results
            .iter()
            .filter(|r| r.freshness == Freshness::Fresh)
            .count();
        if fresh != REPOS {
            let odd: Vec<_> = results
                .iter()
                .filter(|r| r.freshness != Freshness::Fresh)
                .take(3)
                .collect();
            bail!("{name}: {fresh} of {REPOS} images fresh; for example {odd:?}");
        }
        registry.flush_access_log().await?;
        phases.push(Phase {
            name,
            stats: client.metrics().http.since(&before),
            wall,
            tokens: server.requests(),
            heads_logged: registry.count_requests("HEAD", "/manifests/"),
            challenges_logged: count_challenges(&registry),
        });
    }

    // The naive loop: per image a challenge, a token and a HEAD, each on a new client (no
    // connection reuse, no token cache), one image after the other.
    registry.flush_access_log().await?;
    registry.clear_access_log();
    server.reset_counts();
    let credential = Credential::Basic {
        username: user.to_owned(),
        password: Secret::new(password),
    };
    let mut naive_stats = HttpStats::default();
    let started = tokio::time::Instant::now();
    for r in &requests {
        let stats = naive_check(&registry, r, &credential).await?;
        naive_stats = add(&naive_stats, &stats);
    }
    let wall = started.elapsed();
    registry.flush_access_log().await?;
    phases.push(Phase {
        name: "naive sequential loop",
        stats: naive_stats,
        wall,
        tokens: server.requests(),
        heads_logged: registry.count_requests("HEAD", "/manifests/"),
        challenges_logged: count_challenges(&registry),
    });

    print_report(&registry, &phases);
    Ok(())
}

fn count_challenges(registry: &TestRegistry) -> usize {
    registry
        .access_log()
        .iter()
        .filter(|e| e.method == "GET" && e.path == "/v2/")
        .count()
}

fn add(a: &HttpStats, b: &HttpStats) -> HttpStats {
    let mut requests = a.requests.clone();
    for c in &b.requests {
        if let Some(existing) = requests
            .iter_mut()
            .find(|x| x.kind == c.kind && x.status == c.status)
        {
            existing.count += c.count;
        } else {
            requests.push(*c);
        }
    }
    HttpStats {
        requests,
        connections_opened: a.connections_opened + b.connections_opened,
    }
}

async fn naive_check(
    registry: &TestRegistry,
    request: &CheckRequest,
    credential: &Credential,
) -> anyhow::Result<HttpStats> {
    let host = registry.host();
    let base = registry.base_url();
    let fresh_client = || HttpClient::new(HttpOptions::default());
    let ping = fresh_client()?;
    let response = ping
        .send(
            RequestKind::Challenge,
            &host,
            Request::get(format!("{base}/v2/")).body(Bytes::new())?,
        )
        .await?;
    let header = response
        .headers
        .get(http::header::WWW_AUTHENTICATE)
        .context("no challenge")?;
    let challenge = BearerChallenge::find(&parse_www_authenticate(&String::from_utf8_lossy(
        header.as_bytes(),
    )))
    .context("no Bearer challenge")?
    .map_err(|e| anyhow::anyhow!(e))?;
    let token_client = fresh_client()?;
    let grant = fetch_token(
        &token_client,
        &host,
        &challenge,
        &request.reference.pull_scope(),
        Some(credential),
    )
    .await?;
    let head_client = fresh_client()?;
    let url = format!(
        "{base}/v2/{}/manifests/{}",
        request.reference.repository(),
        request.reference.tag().unwrap_or("latest")
    );
    let head = head_client
        .send(
            RequestKind::ManifestHead,
            &host,
            Request::head(url)
                .header(http::header::ACCEPT, MANIFEST_ACCEPT)
                .header(
                    http::header::AUTHORIZATION,
                    format!("Bearer {}", grant.token.expose()),
                )
                .body(Bytes::new())?,
        )
        .await?;
    if head.status != StatusCode::OK {
        bail!("naive HEAD answered {}", head.status);
    }
    Ok(add(
        &add(&ping.stats(), &token_client.stats()),
        &head_client.stats(),
    ))
}

fn print_report(registry: &TestRegistry, phases: &[Phase]) {
    println!(
        "registry benchmark: {REPOS} distinct repositories on a token-auth registry at {} (plain HTTP on 127.0.0.1), per-host concurrency {PER_HOST}",
        registry.host()
    );
    println!();
    println!(
        "{:<24} {:>10} {:>7} {:>7} {:>6} {:>10} {:>10}",
        "", "challenge", "token", "HEAD", "GET", "tcp conns", "wall"
    );
    for p in phases {
        println!(
            "{:<24} {:>10} {:>7} {:>7} {:>6} {:>10} {:>8} ms",
            p.name,
            p.stats.requests_of(RequestKind::Challenge),
            p.stats.requests_of(RequestKind::Token),
            p.stats.requests_of(RequestKind::ManifestHead),
            p.stats.requests_of(RequestKind::ManifestGet),
            p.stats.connections_opened,
            p.wall.as_millis()
        );
    }
    println!();
    println!("as counted by the registry's access log and the token server:");
    for p in phases {
        println!(
            "  {:<24} GET /v2/: {:>3}   HEAD manifests: {:>3}   token requests: {:>3}",
            p.name, p.challenges_logged, p.heads_logged, p.tokens
        );
    }
    println!();
    println!(
        "requests by kind and status (none = no answer, e.g. the HTTPS probe of a plain-HTTP registry):"
    );
    for p in phases {
        let detail: Vec<String> = p
            .stats
            .requests
            .iter()
            .map(|c| {
                format!(
                    "{}/{}={}",
                    c.kind,
                    c.status.map_or("none".to_owned(), |s| s.to_string()),
                    c.count
                )
            })
            .collect();
        println!("  {:<24} {}", p.name, detail.join(" "));
    }
    println!();
    println!(
        "targets: 1 challenge per host per session (cold: 1 HTTPS probe + 1 plain-HTTP challenge, as the \
         registry is engine-insecure and speaks no TLS), 1 token per scope per TTL, exactly {REPOS} HEADs, \
         connections <= concurrency limit ({PER_HOST} to the registry) plus the token server's"
    );
}
