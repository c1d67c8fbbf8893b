//! The HTTP API's read side end to end: the real binary against the real Docker Engine and
//! the testkit registry (HTTPS with a CA made at test time), listening on 127.0.0.1 only;
//! test containers run with `network_mode: none`. `/v1/check`, `/v1/containers` and
//! `/v1/history` before and after an update session, the token rules, `/readyz` when the
//! engine goes away, and schemathesis against the served `OpenAPI` document. Skips loudly
//! without an engine (or schemathesis); fails under `WATCHTOWER_E2E=required`.

use std::path::PathBuf;
use std::time::Duration;

use http::Method;
use serde_json::Value;
use watchtower_e2e::engine_proxy::EngineProxy;
use watchtower_e2e::{Response, Watchtower, request};
use watchtower_testkit::{
    ContainerSpec, Engine, FixtureImage, FixtureSpec, Registry, RegistryMode,
};

const SCOPE_LABEL: &str = "com.centurylinklabs.watchtower.scope";
const TOKEN: &str = "e2e-read-api-token";

/// The API flags: update endpoint on, 127.0.0.1, any free port.
fn api_args<'a>(scope: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "--http-api-update",
        "--http-api-token",
        TOKEN,
        "--http-api-host",
        "127.0.0.1",
        "--http-api-port",
        "0",
        "--scope",
        scope,
    ];
    args.extend_from_slice(extra);
    args
}

fn json(response: &Response) -> Value {
    assert_eq!(
        response.content_type.as_deref(),
        Some("application/json"),
        "{response:?}"
    );
    serde_json::from_str(&response.body).unwrap_or_else(|e| panic!("{e}: {response:?}"))
}

/// An RFC 3339 time in UTC as the API writes it: `2026-12-03T14:30:00.123Z`.
fn assert_rfc3339(value: &Value) {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value}"));
    let bytes = text.as_bytes();
    assert!(
        text.len() == 24
            && bytes[4] == b'-'
            && bytes[7] == b'-'
            && bytes[10] == b'T'
            && bytes[13] == b':'
            && bytes[19] == b'.'
            && text.ends_with('Z')
            && text.starts_with("20"),
        "{text}"
    );
}

fn line_of<'a>(document: &'a Value, list: &str, name: &str) -> &'a Value {
    document[list]
        .as_array()
        .unwrap_or_else(|| panic!("no {list} in {document:#}"))
        .iter()
        .find(|c| c["name"].as_str().map(|n| n.trim_start_matches('/')) == Some(name))
        .unwrap_or_else(|| panic!("{name} is not in {list}: {document:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one story: tokens, before, check, update, after
async fn check_containers_and_history_before_and_after_an_update() -> anyhow::Result<()> {
    let Some(engine) = Engine::require().await else {
        return Ok(());
    };
    let registry = Registry::start(RegistryMode::Tls).await?;
    let ca = registry
        .ca_pem_path()
        .expect("a TLS registry has a CA")
        .to_str()
        .expect("utf-8 path")
        .to_owned();
    let scope = engine.unique_name("api-scope");
    let mut image =
        FixtureImage::publish(&engine, &registry, "e2e/api-app", FixtureSpec::default()).await?;
    let name = engine.unique_name("api-app");
    engine
        .run_container(
            &name,
            ContainerSpec::new(image.reference())
                .network_mode("none")
                .label(SCOPE_LABEL, &scope),
        )
        .await?;
    let old_image = image.image_id().to_owned();
    let old_id = engine
        .inspect_container(&name)
        .await?
        .id
        .unwrap_or_default();
    image.publish_next_version().await?;
    let new_image = image.image_id().to_owned();
    assert_ne!(old_image, new_image);

    let watchtower = Watchtower::start(&api_args(&scope, &["--registry-ca", &ca]), &[])?;
    let addr = watchtower.api_addr().await?;

    // The token: required on every /v1 path, not on the probes.
    for (method, path) in [
        (Method::POST, "/v1/check"),
        (Method::GET, "/v1/containers"),
        (Method::GET, "/v1/history"),
        (Method::GET, "/v1/openapi.json"),
        (Method::POST, "/v1/update"),
    ] {
        for token in [None, Some("wrong")] {
            let response = request(addr, method.clone(), path, token).await?;
            assert_eq!(
                response.status, 401,
                "{method} {path} {token:?}: {response:?}"
            );
            assert!(response.body.is_empty(), "{response:?}");
        }
    }
    let liveness = request(addr, Method::GET, "/livez", None).await?;
    assert_eq!(
        (liveness.status, json(&liveness)["live"].clone()),
        (200, Value::Bool(true))
    );
    let ready = request(addr, Method::GET, "/readyz", None).await?;
    assert_eq!(ready.status, 200, "{ready:?}");
    assert_eq!(json(&ready)["ready"], true);

    // Before anything ran: the container as the engine lists it, never checked.
    let containers = json(&request(addr, Method::GET, "/v1/containers", Some(TOKEN)).await?);
    assert_eq!(
        containers["containers"].as_array().map(Vec::len),
        Some(1),
        "{containers:#}"
    );
    let line = line_of(&containers, "containers", &name);
    assert_eq!(line["id"], old_id.as_str());
    assert_eq!(line["state"], "running");
    assert_eq!(line["image"], image.reference().as_str());
    assert_eq!(line["image_id"], old_image.as_str());
    assert_eq!(line["last_check"], Value::Null, "{containers:#}");
    let history = json(&request(addr, Method::GET, "/v1/history", Some(TOKEN)).await?);
    assert_eq!(history["limit"], 20);
    assert_eq!(history["sessions"], Value::Array(Vec::new()));

    // A check: stale, an update would update it; the same document as `check --output json`.
    let check = request(addr, Method::POST, "/v1/check", Some(TOKEN)).await?;
    assert_eq!(check.status, 200, "{check:?}");
    let check = json(&check);
    assert_eq!(check["version"], 1);
    assert_eq!(check["summary"]["checked"], 1, "{check:#}");
    assert_eq!(check["summary"]["stale"], 1, "{check:#}");
    let line = line_of(&check, "containers", &name);
    assert_eq!(line["state"], "stale", "{check:#}");
    assert_eq!(line["action"], "update", "{check:#}");
    assert_eq!(line["image_id"], old_image.as_str());
    assert_eq!(line["remote_digest"], image.digest(), "{check:#}");
    // Restricted to a name that is not watched: no line.
    let other = json(
        &request(
            addr,
            Method::POST,
            "/v1/check?name=not-watched-here",
            Some(TOKEN),
        )
        .await?,
    );
    assert_eq!(other["summary"]["checked"], 0, "{other:#}");
    let only = json(
        &request(
            addr,
            Method::POST,
            &format!("/v1/check?name={name}"),
            Some(TOKEN),
        )
        .await?,
    );
    assert_eq!(only["summary"]["stale"], 1, "{only:#}");

    // The check is now the container's last result; still the old container.
    let containers = json(&request(addr, Method::GET, "/v1/containers", Some(TOKEN)).await?);
    let line = line_of(&containers, "containers", &name);
    assert_eq!(line["id"], old_id.as_str());
    assert_eq!(line["last_check"]["result"], "stale", "{containers:#}");
    assert_eq!(line["last_check"]["source"], "check", "{containers:#}");
    assert_eq!(line["last_check"]["reason"], Value::Null, "{containers:#}");
    assert_rfc3339(&line["last_check"]["time"]);
    assert_eq!(
        engine
            .inspect_container(&name)
            .await?
            .image
            .unwrap_or_default(),
        old_image,
        "a check touches nothing"
    );

    // An update session, then its report heads the history.
    let update = request(addr, Method::POST, "/v1/update", Some(TOKEN)).await?;
    assert_eq!(update.status, 200, "{update:?}");
    assert_eq!(json(&update)["counts"]["updated"], 1, "{update:?}");
    let history = json(&request(addr, Method::GET, "/v1/history", Some(TOKEN)).await?);
    let sessions = history["sessions"].as_array().expect("sessions");
    assert_eq!(sessions.len(), 1, "{history:#}");
    assert_eq!(sessions[0]["error"], Value::Null);
    assert_rfc3339(&sessions[0]["started"]);
    assert_rfc3339(&sessions[0]["finished"]);
    let report = &sessions[0]["report"];
    assert_eq!(report["counts"]["updated"], 1, "{history:#}");
    let updated = line_of(report, "updated", &name);
    assert_eq!(updated["state"], "Updated");
    assert_eq!(updated["currentImageId"], old_image.as_str());
    assert_eq!(updated["latestImageId"], new_image.as_str());

    // The recreated container: new ID and image, last result `updated` from the session.
    let containers = json(&request(addr, Method::GET, "/v1/containers", Some(TOKEN)).await?);
    let line = line_of(&containers, "containers", &name);
    let new_id = engine
        .inspect_container(&name)
        .await?
        .id
        .unwrap_or_default();
    assert_ne!(new_id, old_id);
    assert_eq!(line["id"], new_id.as_str(), "{containers:#}");
    assert_eq!(line["image_id"], new_image.as_str(), "{containers:#}");
    assert_eq!(line["state"], "running");
    assert_eq!(line["last_check"]["result"], "updated", "{containers:#}");
    assert_eq!(line["last_check"]["source"], "update", "{containers:#}");

    // A second update finds it fresh: two sessions, newest first.
    let update = request(addr, Method::POST, "/v1/update", Some(TOKEN)).await?;
    assert_eq!(json(&update)["counts"]["fresh"], 1, "{update:?}");
    let history = json(&request(addr, Method::GET, "/v1/history", Some(TOKEN)).await?);
    let sessions = history["sessions"].as_array().expect("sessions");
    assert_eq!(sessions.len(), 2, "{history:#}");
    assert_eq!(sessions[0]["report"]["counts"]["fresh"], 1, "{history:#}");
    assert_eq!(sessions[1]["report"]["counts"]["updated"], 1, "{history:#}");

    let document = request(addr, Method::GET, "/v1/openapi.json", Some(TOKEN)).await?;
    assert_eq!(document.status, 200);
    let document = json(&document);
    assert!(
        document["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3."))
    );
    assert!(document["paths"]["/v1/containers"]["get"].is_object());

    watchtower.terminate()?;
    assert_eq!(watchtower.wait(Duration::from_secs(60)).await?, Some(0));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_answers_503_when_the_engine_cannot_be_reached() -> anyhow::Result<()> {
    let Some(engine) = Engine::require().await else {
        return Ok(());
    };
    let scope = engine.unique_name("api-ready");
    let proxy = EngineProxy::start()?;
    let host = proxy.docker_host();
    let watchtower = Watchtower::start(&api_args(&scope, &[]), &[("DOCKER_HOST", &host)])?;
    let addr = watchtower.api_addr().await?;

    let ready = request(addr, Method::GET, "/readyz", None).await?;
    assert_eq!(ready.status, 200, "{ready:?}");

    proxy.stop();
    let ready = request(addr, Method::GET, "/readyz", None).await?;
    assert_eq!(ready.status, 503, "{ready:?}");
    let body = json(&ready);
    assert_eq!(body["ready"], false);
    assert!(
        body["reason"]
            .as_str()
            .is_some_and(|r| r.contains("Docker engine")),
        "{body:#}"
    );
    // Still alive, and the engine's absence is an error with a reason, not a hang.
    assert_eq!(
        request(addr, Method::GET, "/livez", None).await?.status,
        200
    );
    let containers = request(addr, Method::GET, "/v1/containers", Some(TOKEN)).await?;
    assert_eq!(containers.status, 500, "{containers:?}");
    assert!(
        json(&containers)["error"]
            .as_str()
            .is_some_and(|e| !e.is_empty())
    );

    watchtower.terminate()?;
    assert_eq!(watchtower.wait(Duration::from_secs(60)).await?, Some(0));
    Ok(())
}

/// The schemathesis that `cargo xtask ci` installs (`xtask/src/deps.rs`), or
/// `WATCHTOWER_SCHEMATHESIS`.
fn schemathesis() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("WATCHTOWER_SCHEMATHESIS") {
        return Some(PathBuf::from(path));
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()?
        .join("target/schemathesis-venv/bin/schemathesis");
    path.is_file().then_some(path)
}

/// schemathesis generates requests from the served document (every operation, its
/// parameters and bodies, valid and invalid ones, without the token too) and checks each
/// answer against it: status codes, content types, headers, response schemas, 401 without
/// the token, 405 with `Allow` for other methods. It also POSTs `/v1/update`: the instance
/// runs with a scope no container has, so no session can touch a container on the engine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_failure_against_the_served_document() -> anyhow::Result<()> {
    let Some(engine) = Engine::require().await else {
        return Ok(());
    };
    let Some(schemathesis) = schemathesis() else {
        watchtower_testkit::skip(
            "schemathesis",
            "target/schemathesis-venv/bin/schemathesis is missing: run `cargo xtask ci` \
             (xtask/src/deps.rs installs it) or set WATCHTOWER_SCHEMATHESIS",
        );
        return Ok(());
    };
    let scope = engine.unique_name("api-schemathesis-nothing-here");
    let watchtower = Watchtower::start(&api_args(&scope, &["--http-api-metrics"]), &[])?;
    let addr = watchtower.api_addr().await?;
    let workdir =
        std::env::temp_dir().join(format!("watchtower-schemathesis-{}", std::process::id()));
    std::fs::create_dir_all(&workdir)?;

    let run = tokio::process::Command::new(&schemathesis)
        .current_dir(&workdir)
        .args([
            "run",
            &format!("http://{addr}/v1/openapi.json"),
            "--header",
            &format!("Authorization: Bearer {TOKEN}"),
            "--checks",
            "all",
            "--max-examples",
            "25",
            "--max-time",
            "90",
            "--request-timeout",
            "60",
            "--seed",
            "20261203",
            "--no-color",
        ])
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(300), run).await??;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let _ = std::fs::remove_dir_all(&workdir);
    assert!(
        output.status.success(),
        "schemathesis failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(stdout.contains("No issues found"), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("Selected: 9/9"),
        "every operation tested:\n{stdout}"
    );

    // The sessions it started saw no container.
    let history = json(&request(addr, Method::GET, "/v1/history", Some(TOKEN)).await?);
    let sessions = history["sessions"].as_array().expect("sessions");
    assert!(
        !sessions.is_empty(),
        "schemathesis ran update sessions: {history:#}"
    );
    for session in sessions {
        assert_eq!(session["report"]["counts"]["scanned"], 0, "{session:#}");
    }
    watchtower.terminate()?;
    assert_eq!(watchtower.wait(Duration::from_secs(120)).await?, Some(0));
    Ok(())
}
