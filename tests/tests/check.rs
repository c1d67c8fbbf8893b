//! `watchtower check` end to end: the real binary against the real Docker Engine and the
//! testkit registry (HTTPS with a CA made at test time), on 127.0.0.1 only. One fresh and
//! one stale fixture container (the fresh one depends on the stale one); the table, the JSON
//! and the exit codes; the registry sees manifest `HEAD`s only, and no container is touched.
//! Skips loudly without an engine; fails under `WATCHTOWER_E2E=required`.

use std::process::Output;

use watchtower_e2e::command;
use watchtower_testkit::{
    ContainerSpec, Engine, FixtureImage, FixtureSpec, Registry, RegistryMode,
};

const SCOPE_LABEL: &str = "com.centurylinklabs.watchtower.scope";
const DEPENDS_ON_LABEL: &str = "com.centurylinklabs.watchtower.depends-on";
/// The `User-Agent` prefix of watchtower's registry requests.
const WATCHTOWER_AGENT: &str = "watchtower/";

/// The exit status `check` documents for "something is stale".
const EXIT_STALE: i32 = 3;

async fn run_check(args: &[&str]) -> anyhow::Result<(Option<i32>, String, String)> {
    let Output {
        status,
        stdout,
        stderr,
    } = command(args, &[])?.output().await?;
    Ok((
        status.code(),
        String::from_utf8(stdout)?,
        String::from_utf8_lossy(&stderr).into_owned(),
    ))
}

/// (ID, `StartedAt`, image ID) of container `name`.
async fn identity(engine: &Engine, name: &str) -> anyhow::Result<(String, String, String)> {
    let inspect = engine.inspect_container(name).await?;
    let started = inspect.state.and_then(|s| s.started_at).unwrap_or_default();
    Ok((
        inspect.id.unwrap_or_default(),
        started,
        inspect.image.unwrap_or_default(),
    ))
}

struct Names<'a> {
    scope: &'a str,
    ca: &'a str,
    stale: &'a str,
    fresh: &'a str,
}

struct Digests<'a> {
    old_stale: &'a str,
    new_stale: &'a str,
    fresh: &'a str,
}

/// The table: both containers, with their states; the selection flags after `check`.
async fn assert_table(n: &Names<'_>, d: &Digests<'_>) -> anyhow::Result<()> {
    let (code, table, stderr) = run_check(&[
        "check",
        "--scope",
        n.scope,
        "--registry-ca",
        n.ca,
        n.stale,
        n.fresh,
    ])
    .await?;
    assert_eq!(
        code,
        Some(EXIT_STALE),
        "stdout:\n{table}\nstderr:\n{stderr}"
    );
    let row = |name: &str| {
        table
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no row for {name}:\n{table}"))
            .to_owned()
    };
    assert!(table.starts_with("CONTAINER "), "{table}");
    let stale_row = row(n.stale);
    let fresh_row = row(n.fresh);
    assert!(stale_row.contains(" stale "), "{table}");
    assert!(stale_row.contains("1. update"), "{table}");
    assert!(
        stale_row.contains(&format!("restarts {}", n.fresh)),
        "{table}"
    );
    assert!(
        stale_row.contains(&d.new_stale[..19]),
        "the remote digest, shortened: {table}"
    );
    assert!(
        stale_row.contains(&d.old_stale[..19]),
        "the local digest, shortened: {table}"
    );
    assert!(fresh_row.contains(" fresh "), "{table}");
    assert!(fresh_row.contains("2. restart"), "{table}");
    assert!(
        table.contains("2 checked: 1 fresh, 1 stale, 0 skipped, 0 failed"),
        "{table}"
    );
    Ok(())
}

/// The JSON: the documented shape.
async fn assert_json(
    n: &Names<'_>,
    d: &Digests<'_>,
    stale_reference: &str,
    stale_identity: &(String, String, String),
) -> anyhow::Result<()> {
    let (code, json, stderr) = run_check(&[
        "check",
        "--output",
        "json",
        "--scope",
        n.scope,
        "--registry-ca",
        n.ca,
        n.stale,
        n.fresh,
    ])
    .await?;
    assert_eq!(code, Some(EXIT_STALE), "stdout:\n{json}\nstderr:\n{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&json)?;
    assert_eq!(doc["version"], 1, "{doc:#}");
    assert_eq!(doc["summary"]["checked"], 2, "{doc:#}");
    assert_eq!(doc["summary"]["stale"], 1, "{doc:#}");
    assert_eq!(doc["summary"]["fresh"], 1, "{doc:#}");
    let containers = doc["containers"].as_array().expect("containers");
    let find = |name: &str| {
        containers
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {doc:#}"))
    };
    let s = find(n.stale);
    assert_eq!(s["state"], "stale", "{doc:#}");
    assert_eq!(s["image"], stale_reference, "{doc:#}");
    assert_eq!(s["id"], stale_identity.0, "{doc:#}");
    assert_eq!(s["image_id"], stale_identity.2, "{doc:#}");
    assert_eq!(s["local_digest"], d.old_stale, "{doc:#}");
    assert_eq!(s["remote_digest"], d.new_stale, "{doc:#}");
    assert_eq!(s["action"], "update", "{doc:#}");
    assert_eq!(s["order"], 1, "{doc:#}");
    assert_eq!(s["dependents"], serde_json::json!([n.fresh]), "{doc:#}");
    assert_eq!(s["monitor_only"], false, "{doc:#}");
    assert_eq!(s["reason"], serde_json::Value::Null, "{doc:#}");
    let f = find(n.fresh);
    assert_eq!(f["state"], "fresh", "{doc:#}");
    assert_eq!(f["local_digest"], d.fresh, "{doc:#}");
    assert_eq!(f["remote_digest"], d.fresh, "{doc:#}");
    assert_eq!(f["action"], "restart", "{doc:#}");
    assert_eq!(f["order"], 2, "{doc:#}");
    Ok(())
}

/// What the registry saw from watchtower: manifest HEADs, never a manifest or blob GET.
async fn assert_only_manifest_heads(registry: &Registry) -> anyhow::Result<()> {
    registry.flush_access_log().await?;
    let from_watchtower: Vec<_> = registry
        .access_log()
        .into_iter()
        .filter(|e| e.user_agent.starts_with(WATCHTOWER_AGENT))
        .collect();
    assert!(
        from_watchtower
            .iter()
            .any(|e| e.method == "HEAD" && e.path.contains("/manifests/")),
        "{from_watchtower:#?}"
    );
    let downloads: Vec<_> = registry
        .access_log()
        .into_iter()
        .filter(|e| {
            e.method != "HEAD" && (e.path.contains("/manifests/") || e.path.contains("/blobs/"))
        })
        .collect();
    assert!(
        downloads.is_empty(),
        "manifest or blob GETs: {downloads:#?}"
    );

    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_fresh_and_stale_with_only_manifest_heads_and_touches_nothing()
-> anyhow::Result<()> {
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
    let scope = engine.unique_name("check-scope");

    let mut stale_image = FixtureImage::publish(
        &engine,
        &registry,
        "e2e/check-stale",
        FixtureSpec::default(),
    )
    .await?;
    let fresh_image = FixtureImage::publish(
        &engine,
        &registry,
        "e2e/check-fresh",
        FixtureSpec::default(),
    )
    .await?;
    let stale = engine.unique_name("check-db");
    let fresh = engine.unique_name("check-web");
    engine
        .run_container(
            &stale,
            ContainerSpec::new(stale_image.reference())
                .network_mode("none")
                .label(SCOPE_LABEL, &scope),
        )
        .await?;
    engine
        .run_container(
            &fresh,
            ContainerSpec::new(fresh_image.reference())
                .network_mode("none")
                .label(SCOPE_LABEL, &scope)
                .label(DEPENDS_ON_LABEL, &stale),
        )
        .await?;
    let old_stale_digest = stale_image.digest().to_owned();
    stale_image.publish_next_version().await?;
    let new_stale_digest = stale_image.digest().to_owned();
    assert_ne!(old_stale_digest, new_stale_digest);
    let before = (
        identity(&engine, &stale).await?,
        identity(&engine, &fresh).await?,
    );
    registry.flush_access_log().await?;
    registry.clear_access_log();

    let names = Names {
        scope: &scope,
        ca: &ca,
        stale: &stale,
        fresh: &fresh,
    };
    let digests = Digests {
        old_stale: &old_stale_digest,
        new_stale: &new_stale_digest,
        fresh: fresh_image.digest(),
    };
    assert_table(&names, &digests).await?;
    assert_json(&names, &digests, &stale_image.reference(), &before.0).await?;

    // Only the fresh one: exit 0, and with its dependency unselected, nothing to restart.
    let (code, only_fresh, stderr) =
        run_check(&["check", "--scope", &scope, "--registry-ca", &ca, &fresh]).await?;
    assert_eq!(code, Some(0), "stdout:\n{only_fresh}\nstderr:\n{stderr}");
    assert!(
        only_fresh.contains("1 checked: 1 fresh, 0 stale"),
        "{only_fresh}"
    );

    // Monitor-only: still stale (exit 3), but an update would not touch it.
    let (code, monitor, stderr) = run_check(&[
        "check",
        "--monitor-only",
        "--scope",
        &scope,
        "--registry-ca",
        &ca,
        &stale,
    ])
    .await?;
    assert_eq!(
        code,
        Some(EXIT_STALE),
        "stdout:\n{monitor}\nstderr:\n{stderr}"
    );
    assert!(monitor.contains("monitor-only: not updated"), "{monitor}");
    assert!(!monitor.contains("1. update"), "{monitor}");

    assert_only_manifest_heads(&registry).await?;

    // Nothing touched: same IDs, same StartedAt, same images.
    let after = (
        identity(&engine, &stale).await?,
        identity(&engine, &fresh).await?,
    );
    assert_eq!(before, after, "the containers were touched");
    Ok(())
}

/// An engine that does not answer: exit 1 with one line naming it, nothing on stdout. No
/// engine needed.
#[tokio::test]
async fn check_without_an_engine_fails_with_one_line() -> anyhow::Result<()> {
    let (code, stdout, stderr) = run_check(&["check", "--host", "tcp://127.0.0.1:1"]).await?;
    assert_eq!(code, Some(1), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("watchtower: "))
        .collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].contains("cannot reach the Docker engine"),
        "{stderr}"
    );
    Ok(())
}

/// A usage error is clap's exit 2.
#[tokio::test]
async fn check_usage_error_exits_2() -> anyhow::Result<()> {
    let (code, _, stderr) = run_check(&["check", "--output", "yaml"]).await?;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--output"), "{stderr}");
    Ok(())
}

/// A registry that is down: the container's line says `failed` with the reason, and the exit
/// status is 1 with one line naming the container on stderr.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_with_the_registry_down_fails_with_one_line() -> anyhow::Result<()> {
    let Some(engine) = Engine::require().await else {
        return Ok(());
    };
    let registry = Registry::start(RegistryMode::Plain).await?;
    let image =
        FixtureImage::publish(&engine, &registry, "e2e/check-down", FixtureSpec::default()).await?;
    let name = engine.unique_name("check-down");
    engine
        .run_container(
            &name,
            ContainerSpec::new(image.reference()).network_mode("none"),
        )
        .await?;
    let before = identity(&engine, &name).await?;
    // The registry process is killed; the image stays in the engine.
    drop(registry);

    let (code, json, stderr) = run_check(&["check", "--output", "json", &name]).await?;
    assert_eq!(code, Some(1), "stdout:\n{json}\nstderr:\n{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&json)?;
    assert_eq!(doc["summary"]["failed"], 1, "{doc:#}");
    let line = &doc["containers"][0];
    assert_eq!(line["name"], name.as_str(), "{doc:#}");
    assert_eq!(line["state"], "failed", "{doc:#}");
    assert!(
        line["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "{doc:#}"
    );
    assert_eq!(line["remote_digest"], serde_json::Value::Null, "{doc:#}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("watchtower: "))
        .collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].starts_with("watchtower: could not check 1 container(s): ")
            && errors[0].contains(&name),
        "{stderr}"
    );
    assert_eq!(
        identity(&engine, &name).await?,
        before,
        "the container was touched"
    );
    Ok(())
}

/// Pinned references and a dependency cycle: a container created from an image ID is skipped
/// as pinned, one pinned to a digest is fresh without a registry question, and two stale
/// containers that depend on each other are reported stale with the reason an update would
/// not touch them. Only manifest `HEAD`s reach the registry, and nothing is touched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_pinned_images_and_a_cycle() -> anyhow::Result<()> {
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
    let scope = engine.unique_name("check-pinned-scope");
    let mut image = FixtureImage::publish(
        &engine,
        &registry,
        "e2e/check-pinned",
        FixtureSpec::default(),
    )
    .await?;
    let by_id = engine.unique_name("check-by-id");
    let by_digest = engine.unique_name("check-by-digest");
    let cycle_a = engine.unique_name("check-cycle-a");
    let cycle_b = engine.unique_name("check-cycle-b");
    let run = |name: &str, reference: String, depends_on: Option<&str>| {
        let mut spec = ContainerSpec::new(reference)
            .network_mode("none")
            .label(SCOPE_LABEL, &scope);
        if let Some(other) = depends_on {
            spec = spec.label(DEPENDS_ON_LABEL, other);
        }
        (name.to_owned(), spec)
    };
    for (name, spec) in [
        run(&by_id, image.image_id().to_owned(), None),
        run(
            &by_digest,
            format!("{}@{}", image.repository(), image.digest()),
            None,
        ),
        run(&cycle_a, image.reference(), Some(&cycle_b)),
        run(&cycle_b, image.reference(), Some(&cycle_a)),
    ] {
        engine.run_container(&name, spec).await?;
    }
    image.publish_next_version().await?;
    let names = [&by_id, &by_digest, &cycle_a, &cycle_b];
    let mut before = Vec::new();
    for name in names {
        before.push(identity(&engine, name).await?);
    }
    registry.flush_access_log().await?;
    registry.clear_access_log();

    let (code, json, stderr) = run_check(&[
        "check",
        "--output",
        "json",
        "--scope",
        &scope,
        "--registry-ca",
        &ca,
    ])
    .await?;
    assert_eq!(code, Some(EXIT_STALE), "stdout:\n{json}\nstderr:\n{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&json)?;
    assert_pinned_and_cycle(&doc, &by_id, &by_digest, [&cycle_a, &cycle_b]);

    // One HEAD for the one tag that is checked; the pinned ones asked nothing.
    registry.flush_access_log().await?;
    let heads = registry
        .access_log()
        .into_iter()
        .filter(|e| e.user_agent.starts_with(WATCHTOWER_AGENT) && e.method == "HEAD")
        .count();
    assert_eq!(heads, 1, "{:#?}", registry.access_log());
    assert_only_manifest_heads(&registry).await?;
    let mut after = Vec::new();
    for name in names {
        after.push(identity(&engine, name).await?);
    }
    assert_eq!(before, after, "the containers were touched");
    Ok(())
}

/// The JSON lines of [`check_reports_pinned_images_and_a_cycle`].
fn assert_pinned_and_cycle(
    doc: &serde_json::Value,
    by_id: &str,
    by_digest: &str,
    cycle: [&str; 2],
) {
    let find = |name: &str| {
        doc["containers"]
            .as_array()
            .and_then(|all| all.iter().find(|c| c["name"] == name))
            .cloned()
            .unwrap_or_else(|| panic!("no {name} in {doc:#}"))
    };
    let id = find(by_id);
    assert_eq!(id["state"], "skipped", "{doc:#}");
    assert!(
        id["reason"].as_str().is_some_and(|r| r.contains("pinned")),
        "{doc:#}"
    );
    let digest = find(by_digest);
    assert_eq!(digest["state"], "fresh", "{doc:#}");
    assert_eq!(digest["reason"], "pinned to a digest", "{doc:#}");
    for member in cycle {
        let c = find(member);
        assert_eq!(c["state"], "stale", "{doc:#}");
        assert_eq!(c["action"], "none", "{doc:#}");
        assert!(
            c["reason"]
                .as_str()
                .is_some_and(|r| r.starts_with("not updated: ") && r.contains("cycle")),
            "{doc:#}"
        );
    }
    assert_eq!(doc["summary"]["checked"], 4, "{doc:#}");
}
