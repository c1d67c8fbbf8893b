//! Credentials never reach the output of the real binary, not even at `--trace`: a
//! `--run-once` update of a container whose environment holds a secret, against a registry
//! that wants a password (Basic) or a bearer token (Token), with notifications at trace
//! level to a webhook whose URL holds credentials. Neither standard output, standard error
//! nor the notifications may show the environment secret, the registry password, the webhook
//! credentials or any bearer token, verbatim or base64-encoded. Start-up errors about
//! notification URLs show them redacted.
//!
//! The original warned at `--trace` that credentials may be exposed; this one guarantees
//! they are not. Skips loudly without an engine; fails under `WATCHTOWER_E2E=required`.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Uri};
use watchtower_testkit::{
    ContainerSpec, Engine, FixtureImage, FixtureSpec, Registry, RegistryMode,
};

/// What a finished run printed.
struct Output {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs the binary with `args` and a clean environment plus `env` (and `DOCKER_HOST` when
/// set), collecting standard output and standard error.
async fn run(args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<Output> {
    let mut command = watchtower_e2e::command(args, env)?;
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = command.spawn().context("starting watchtower")?;
    let output = tokio::time::timeout(Duration::from_secs(300), child.wait_with_output())
        .await
        .context("watchtower did not exit within 300 s")??;
    let out = Output {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    for line in out.stderr.lines() {
        eprintln!("watchtower> {line}");
    }
    for line in out.stdout.lines() {
        eprintln!("watchtower stdout> {line}");
    }
    Ok(out)
}

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn base64(bytes: &[u8], alphabet: &[u8; 64]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(alphabet[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// The forms `secret` takes inside base64 text at any alignment (a Basic `Authorization`
/// header, Docker's `X-Registry-Auth`): for each of the three offsets, the characters that
/// depend on the secret's bytes alone.
fn base64_forms(secret: &str) -> Vec<String> {
    let mut forms = Vec::new();
    for alphabet in [STANDARD, URL_SAFE] {
        for offset in 0..3 {
            let mut bytes = vec![0u8; offset];
            bytes.extend_from_slice(secret.as_bytes());
            let encoded = base64(&bytes, alphabet);
            let start = (8 * offset).div_ceil(6);
            let end = (8 * (offset + secret.len())) / 6;
            forms.push(encoded[start..end.min(encoded.len())].to_owned());
        }
    }
    forms
}

/// The first place `secret` shows in `text`, verbatim or base64-encoded.
fn find_leak(text: &str, secret: &str) -> Option<String> {
    let forms = std::iter::once(secret.to_owned()).chain(base64_forms(secret));
    for form in forms {
        if let Some(at) = text.find(&form) {
            let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
            let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
            return Some(format!("{form:?} in: {}", &text[line_start..line_end]));
        }
    }
    None
}

/// A JSON Web Token (what the token server issues): `eyJ…` header, `.`, `eyJ…` claims.
fn find_jwt(text: &str) -> Option<String> {
    let is_b64url = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let mut rest = text;
    while let Some(at) = rest.find("eyJ") {
        let tail = &rest[at..];
        let header_len = tail.find(|c: char| !is_b64url(c)).unwrap_or(tail.len());
        if header_len >= 10 && tail[header_len..].starts_with(".eyJ") {
            return Some(tail.chars().take(60).collect());
        }
        rest = &rest[at + 3..];
    }
    None
}

#[test]
fn the_leak_detectors_find_what_they_look_for() {
    let secret = "pa55-w0rd-f00";
    for prefix in ["", "u", "us", "user:"] {
        let basic = base64(format!("{prefix}{secret}").as_bytes(), STANDARD);
        assert!(
            find_leak(&format!("Authorization: Basic {basic}"), secret).is_some(),
            "{prefix}"
        );
    }
    let registry_auth = base64(
        format!(r#"{{"username":"u","password":"{secret}"}}"#).as_bytes(),
        URL_SAFE,
    );
    assert!(find_leak(&registry_auth, secret).is_some());
    assert!(find_leak("nothing to see", secret).is_none());
    assert_eq!(
        base64(b"any carnal pleas", STANDARD),
        "YW55IGNhcm5hbCBwbGVhcw"
    );
    assert!(find_jwt("token=eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln").is_some());
    assert!(find_jwt("eyJ alone, and eyJabc.def").is_none());
}

/// Fails naming the place when any of `secrets` (or, with `jwt`, a bearer token) shows in
/// `text`.
fn assert_no_leak(stream: &str, text: &str, secrets: &[&str], jwt: bool) {
    for secret in secrets {
        if let Some(leak) = find_leak(text, secret) {
            panic!("a credential reached {stream}: {leak}");
        }
    }
    if jwt && let Some(token) = find_jwt(text) {
        panic!("a bearer token reached {stream}: {token}");
    }
}

/// A webhook on 127.0.0.1 recording every request (path, query, headers, body) as text.
async fn webhook() -> anyhow::Result<(std::net::SocketAddr, Arc<Mutex<Vec<String>>>)> {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let store = Arc::clone(&seen);
    let app = Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
        let store = Arc::clone(&store);
        async move {
            store.lock().unwrap().push(format!(
                "{uri} {headers:?} {}",
                String::from_utf8_lossy(&body)
            ));
            ""
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((addr, seen))
}

/// The image id the container `name` runs.
async fn running_image(engine: &Engine, name: &str) -> anyhow::Result<String> {
    let inspect = engine.inspect_container(name).await?;
    let running = inspect.state.and_then(|s| s.running).unwrap_or(false);
    anyhow::ensure!(running, "container {name} is not running");
    Ok(inspect.image.unwrap_or_default())
}

/// The container `name` runs `image` and has `env` in its environment.
async fn assert_recreated_with(
    engine: &Engine,
    name: &str,
    image: &str,
    env: &str,
) -> anyhow::Result<()> {
    assert_eq!(
        running_image(engine, name).await?,
        image,
        "the container runs version 2"
    );
    let envs = engine
        .inspect_container(name)
        .await?
        .config
        .and_then(|c| c.env)
        .unwrap_or_default();
    assert!(
        envs.iter().any(|e| e == env),
        "the new container keeps its environment: {envs:?}"
    );
    Ok(())
}

/// `--trace --run-once` updates a container with a secret in its environment from a registry
/// in `mode`, and nothing it prints or sends shows a credential.
async fn trace_update_leaks_nothing(mode: RegistryMode) -> anyhow::Result<()> {
    let Some(engine) = Engine::require().await else {
        return Ok(());
    };
    let registry = Registry::start(mode).await?;
    let (user, password) = registry
        .credentials()
        .context("the registry has credentials in this mode")?;
    let (user, password) = (user.to_owned(), password.to_owned());
    let mut image =
        FixtureImage::publish(&engine, &registry, "e2e/secrets", FixtureSpec::default()).await?;
    let name = engine.unique_name("e2e-secrets");
    let env_secret = format!("EnvS3cret{}", engine.run_id().replace('-', ""));
    engine
        .run_container(
            &name,
            ContainerSpec::new(image.reference())
                .env("DB_PASSWORD", &env_secret)
                .network_mode("none"),
        )
        .await?;
    let old_image = running_image(&engine, &name).await?;
    image.publish_next_version().await?;
    let new_image = image.image_id().to_owned();
    assert_ne!(old_image, new_image);
    if let Some(tokens) = registry.token_server() {
        tokens.reset_counts();
    }

    let (hook, sent) = webhook().await?;
    let (hook_user, hook_pass, hook_path, hook_query) = (
        "hookuser",
        "HookPassW0rd77",
        "HookPathT0ken88",
        "HookQueryT0ken99",
    );
    let hook_url = format!(
        "generic+http://{hook_user}:{hook_pass}@{hook}/hook/{hook_path}?token={hook_query}"
    );
    let output = run(
        &[
            "--trace",
            "--run-once",
            "--notifications-level",
            "trace",
            "--notification-url",
            &hook_url,
            "--notification-url",
            "logger://",
            "--notification-log-stdout",
            &name,
        ],
        &[("REPO_USER", &user), ("REPO_PASS", &password)],
    )
    .await?;
    assert_eq!(output.code, Some(0), "exit code");

    // The run did what carries the secrets: authenticated, recreated the container with its
    // environment, notified.
    assert_recreated_with(
        &engine,
        &name,
        &new_image,
        &format!("DB_PASSWORD={env_secret}"),
    )
    .await?;
    if let Some(tokens) = registry.token_server() {
        assert!(
            tokens.issued() > 0,
            "watchtower never fetched a bearer token"
        );
    }
    assert!(
        output.stderr.contains("level=trace"),
        "no trace lines on stderr:\n{}",
        output.stderr
    );
    assert!(
        output.stdout.contains(&name),
        "the logger notification on stdout names the container:\n{}",
        output.stdout
    );
    let notifications = sent.lock().unwrap().join("\n");
    assert!(
        notifications.contains(&format!("/hook/{hook_path}")),
        "the webhook got nothing: {notifications}"
    );

    let secrets = [env_secret.as_str(), password.as_str()];
    assert_no_leak("stderr", &output.stderr, &secrets, true);
    assert_no_leak("stdout", &output.stdout, &secrets, true);
    assert_no_leak("a notification", &notifications, &secrets, true);
    // The webhook's own credentials go to the webhook, and nowhere else.
    assert!(
        find_leak(&notifications, hook_pass).is_some(),
        "the webhook did not get its basic credentials: {notifications}"
    );
    let hook_secrets = [hook_pass, hook_path, hook_query];
    assert_no_leak("stderr", &output.stderr, &hook_secrets, false);
    assert_no_leak("stdout", &output.stdout, &hook_secrets, false);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_run_once_with_a_token_registry_shows_no_credential() -> anyhow::Result<()> {
    trace_update_leaks_nothing(RegistryMode::Token).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_run_once_with_a_basic_auth_registry_shows_no_credential() -> anyhow::Result<()> {
    trace_update_leaks_nothing(RegistryMode::Basic).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_notification_urls_stop_the_start_with_the_url_redacted() -> anyhow::Result<()> {
    // The notifier is built before anything talks to the engine: no engine needed.
    let cases = [
        (
            "slack://hook:T0000-SlackS3cret11@webhook",
            "slack",
            "SlackS3cret11",
        ),
        (
            "telegram://123456:TgS3cret22@telegram",
            "telegram",
            "TgS3cret22",
        ),
        (
            "discord://DiscordS3cret33@424242?bogus=1",
            "discord",
            "DiscordS3cret33",
        ),
        (
            "smtp://mailuser:SmtpS3cret44@mail.example:587/?fromaddress=a@example.com&toaddresses=b@example.com&auth=bogus",
            "smtp",
            "SmtpS3cret44",
        ),
        (
            "matrix://matrixuser:MatrixS3cret55@matrix.example/room",
            "matrix",
            "MatrixS3cret55",
        ),
        (
            "gotify://gotify.example/GotifyS3cret66",
            "gotify",
            "GotifyS3cret66",
        ),
    ];
    for (url, scheme, secret) in cases {
        for via_env in [false, true] {
            let output = if via_env {
                run(
                    &["--run-once", "e2e-no-such-container-5e1f"],
                    &[("WATCHTOWER_NOTIFICATION_URL", url)],
                )
                .await?
            } else {
                run(
                    &[
                        "--run-once",
                        "--notification-url",
                        url,
                        "e2e-no-such-container-5e1f",
                    ],
                    &[],
                )
                .await?
            };
            assert_eq!(output.code, Some(1), "{url}: {}", output.stderr);
            let all = format!("{}\n{}", output.stdout, output.stderr);
            assert!(
                all.contains(scheme) && all.contains("REDACTED"),
                "{url}: the error names the service and shows the URL redacted:\n{all}"
            );
            if let Some(leak) = find_leak(&all, secret) {
                panic!("{url}: {leak}");
            }
        }
    }
    Ok(())
}
