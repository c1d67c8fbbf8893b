//! The health gate and start-first updates end to end: the real binary, the real Docker
//! Engine and the testkit registry (HTTPS with a CA made at test time), on 127.0.0.1 only.
//! Test containers run with `network_mode: none` (one on an `--internal` network). Each
//! session is asked for through `POST /v1/update`, whose answer is the session's report.
//! Skips loudly without an engine; fails under `WATCHTOWER_E2E=required`.

use std::time::Duration;

use bollard::query_parameters::EventsOptionsBuilder;
use futures_util::StreamExt as _;
use http::Method;
use serde_json::Value;
use watchtower_e2e::{Watchtower, request};
use watchtower_testkit::{
    ContainerSpec, Engine, FixtureImage, FixtureSpec, Registry, RegistryMode,
};

const TOKEN: &str = "gate-test-token";
const REPLACES_LABEL: &str = "com.centurylinklabs.watchtower.replaces";

/// A TLS registry and the path of its CA.
async fn registry() -> anyhow::Result<(Registry, String)> {
    let registry = Registry::start(RegistryMode::Tls).await?;
    let ca = registry
        .ca_pem_path()
        .expect("a TLS registry has a CA")
        .to_str()
        .expect("utf-8 path")
        .to_owned();
    Ok((registry, ca))
}

/// One update session for the container `name` with `args`; returns its report and the log.
async fn session(ca: &str, args: &[&str], name: &str) -> anyhow::Result<(Value, Vec<String>)> {
    let mut all = vec![
        "--http-api-update",
        "--http-api-token",
        TOKEN,
        "--http-api-host",
        "127.0.0.1",
        "--http-api-port",
        "0",
        "--registry-ca",
        ca,
    ];
    all.extend_from_slice(args);
    all.push(name);
    let watchtower = Watchtower::start(&all, &[])?;
    let addr = watchtower.api_addr().await?;
    let response = request(addr, Method::POST, "/v1/update", Some(TOKEN)).await?;
    assert_eq!(response.status, 200, "{}", response.body);
    let report: Value = serde_json::from_str(&response.body)?;
    watchtower.terminate()?;
    let (code, log) = watchtower.wait_with_log(Duration::from_secs(60)).await?;
    assert_eq!(code, Some(0), "watchtower's exit code");
    Ok((report, log))
}

/// The report's only entry for `name` in the list `state` (`failed`, `updated`, ...).
fn entry<'a>(report: &'a Value, state: &str, name: &str) -> &'a Value {
    let slashed = format!("/{name}");
    report[state]
        .as_array()
        .and_then(|list| list.iter().find(|e| e["name"] == slashed.as_str()))
        .unwrap_or_else(|| panic!("{name} is not {state} in {report:#}"))
}

/// (ID, running, image ID, labels) of the container `name`.
async fn now(
    engine: &Engine,
    name: &str,
) -> anyhow::Result<(
    String,
    bool,
    String,
    std::collections::HashMap<String, String>,
)> {
    let c = engine.inspect_container(name).await?;
    Ok((
        c.id.unwrap_or_default(),
        c.state.and_then(|s| s.running).unwrap_or(false),
        c.image.unwrap_or_default(),
        c.config.and_then(|c| c.labels).unwrap_or_default(),
    ))
}

/// Every container whose name contains `name` but is not `name`: a renamed-aside old
/// container or a volume holder left behind.
async fn leftovers(engine: &Engine, name: &str) -> anyhow::Result<Vec<String>> {
    Ok(engine
        .docker()
        .list_containers(Some(
            bollard::query_parameters::ListContainersOptionsBuilder::default()
                .all(true)
                .build(),
        ))
        .await?
        .into_iter()
        .flat_map(|c| c.names.unwrap_or_default())
        .filter(|n| n.contains(name) && n.trim_start_matches('/') != name)
        .collect())
}

/// A new version that fails the gate is rolled back: the old container, same ID, runs
/// under its name, and the report says why.
async fn rejected_version(next: FixtureSpec, prefix: &str, reason: &str) -> anyhow::Result<()> {
    let Some(engine) = Engine::require().await else {
        return Ok(());
    };
    let (registry, ca) = registry().await?;
    let mut image =
        FixtureImage::publish(&engine, &registry, "gate/app", FixtureSpec::default()).await?;
    let name = engine.unique_name(prefix);
    engine
        .run_container(
            &name,
            ContainerSpec::new(image.reference()).network_mode("none"),
        )
        .await?;
    let (old_id, _, old_image, _) = now(&engine, &name).await?;
    image.publish_next_with(next).await?;

    let (report, log) = session(
        &ca,
        &[
            "--health-gate",
            "--health-gate-timeout",
            "20s",
            "--health-gate-settle",
            "3s",
        ],
        &name,
    )
    .await?;
    let failed = entry(&report, "failed", &name);
    assert_eq!(failed["failedStep"], "health-gate", "{failed:#}");
    assert_eq!(failed["restored"], true, "{failed:#}");
    let error = failed["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("rolled back: ") && error.contains(reason),
        "{error}"
    );
    assert_eq!(report["counts"]["restored"], 1, "{report:#}");
    assert!(
        log.iter()
            .any(|l| l.contains("did not pass the health gate")),
        "{log:#?}"
    );

    let (id, running, image_id, _) = now(&engine, &name).await?;
    assert_eq!(id, old_id, "the old container is back under its name");
    assert!(running, "and runs");
    assert_eq!(image_id, old_image);
    assert_eq!(leftovers(&engine, &name).await?, Vec::<String>::new());

    // The engine remembers the rolled-back digest: a new watchtower process skips it, says
    // why, and neither pulls nor touches the container.
    let marker = format!(
        "{}:wt-rejected-{}",
        image.repository(),
        image.digest().trim_start_matches("sha256:")
    );
    assert_eq!(
        engine.image_id(&marker).await?.as_deref(),
        Some(image.image_id()),
        "the rolled-back image is tagged {marker}"
    );
    registry.clear_access_log();
    let (report, _) = session(&ca, &["--health-gate"], &name).await?;
    let skipped = entry(&report, "skipped", &name);
    let error = skipped["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("rolled back by the health gate before") && error.contains(&marker),
        "{error}"
    );
    registry.flush_access_log().await?;
    let gets: Vec<_> = registry
        .access_log()
        .into_iter()
        .filter(|e| e.method == "GET" && e.path.contains("/manifests/"))
        .collect();
    assert!(gets.is_empty(), "nothing pulled: {gets:#?}");
    let (id, running, _, _) = now(&engine, &name).await?;
    assert!(id == old_id && running, "the old container is untouched");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_version_that_exits_at_once_is_rolled_back() -> anyhow::Result<()> {
    rejected_version(
        FixtureSpec::default().line(r#"CMD ["/bin/sh", "-c", "exit 3"]"#),
        "gate-exits",
        "the new container exited with code 3",
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_version_that_turns_unhealthy_is_rolled_back() -> anyhow::Result<()> {
    rejected_version(
        FixtureSpec::default()
            .line(r#"HEALTHCHECK --interval=1s --timeout=1s --retries=1 CMD ["/bin/false"]"#),
        "gate-unhealthy",
        "the new container became unhealthy",
    )
    .await
}

/// A healthy new version passes; with start-first, the engine's own events show the new
/// container started before the old one was stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_first_with_the_gate_starts_the_new_container_before_the_old_one_stops()
-> anyhow::Result<()> {
    let Some(engine) = Engine::require().await else {
        return Ok(());
    };
    let (registry, ca) = registry().await?;
    let mut image =
        FixtureImage::publish(&engine, &registry, "gate/app", FixtureSpec::default()).await?;
    let name = engine.unique_name("gate-start-first");
    engine
        .run_container(
            &name,
            ContainerSpec::new(image.reference()).network_mode("none"),
        )
        .await?;
    let (old_id, _, _, _) = now(&engine, &name).await?;
    image
        .publish_next_with(
            FixtureSpec::default()
                .line(r#"HEALTHCHECK --interval=1s --timeout=1s --retries=3 CMD ["/bin/true"]"#),
        )
        .await?;
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs()
        .saturating_sub(1);

    let (report, log) = session(
        &ca,
        &[
            "--health-gate",
            "--health-gate-timeout",
            "30s",
            "--update-order",
            "start-first",
        ],
        &name,
    )
    .await?;
    let updated = entry(&report, "updated", &name);
    assert!(updated.get("note").is_none(), "{updated:#}");
    assert!(
        log.iter().any(|l| l.contains("passed the health gate")),
        "{log:#?}"
    );
    let (new_id, running, image_id, labels) = now(&engine, &name).await?;
    assert_ne!(new_id, old_id);
    assert!(running);
    assert_eq!(image_id, image.image_id());
    assert_eq!(labels.get(REPLACES_LABEL), Some(&old_id));
    assert_eq!(leftovers(&engine, &name).await?, Vec::<String>::new());

    // The engine's record: start of the new container, then the old one's stop.
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs()
        + 1;
    let mut events = engine.docker().events(Some(
        EventsOptionsBuilder::default()
            .since(&since.to_string())
            .until(&until.to_string())
            .build(),
    ));
    let mut order = Vec::new();
    while let Some(event) = events.next().await {
        let event = event?;
        let id = event.actor.and_then(|a| a.id).unwrap_or_default();
        let action = event.action.unwrap_or_default();
        if (id == new_id && action == "start") || (id == old_id && action == "kill") {
            order.push(if id == new_id {
                "new start"
            } else {
                "old kill"
            });
        }
        if (id == old_id) && action == "die" {
            order.push("old die");
        }
    }
    let start = order.iter().position(|e| *e == "new start");
    let die = order.iter().position(|e| *e == "old die");
    assert!(
        start.is_some() && die.is_some() && start < die,
        "the new container must start before the old one stops: {order:?}"
    );
    Ok(())
}

/// A container with a static IP address cannot run twice: start-first falls back to
/// stop-first and the report's note says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_first_falls_back_to_stop_first_for_a_static_ip_and_says_why() -> anyhow::Result<()> {
    let Some(engine) = Engine::require().await else {
        return Ok(());
    };
    let (registry, ca) = registry().await?;
    let mut image =
        FixtureImage::publish(&engine, &registry, "gate/app", FixtureSpec::default()).await?;
    let network = engine.unique_name("gate-net");
    // A /24 unlikely to collide with other tests' networks on this engine.
    let n = 16 + std::process::id() % 200;
    let address = format!("10.233.{n}.42");
    engine
        .create_network_with_subnet(&network, &format!("10.233.{n}.0/24"))
        .await?;
    let name = engine.unique_name("gate-static-ip");
    let spec = ContainerSpec::new(image.reference())
        .network_mode(&network)
        .with_body(|body| {
            body.networking_config = Some(bollard::models::NetworkingConfig {
                endpoints_config: Some(
                    [(
                        network.clone(),
                        bollard::models::EndpointSettings {
                            ipam_config: Some(bollard::models::EndpointIpamConfig {
                                ipv4_address: Some(address.clone()),
                                ..Default::default()
                            }),
                            ..Default::default()
                        },
                    )]
                    .into(),
                ),
            });
        });
    engine.run_container(&name, spec).await?;
    image.publish_next_version().await?;

    let (report, _log) = session(&ca, &["--update-order", "start-first"], &name).await?;
    let updated = entry(&report, "updated", &name);
    assert_eq!(
        updated["note"],
        format!("updated stop-first: it has a static IP address on network {network}").as_str(),
        "{updated:#}"
    );
    let c = engine.inspect_container(&name).await?;
    let ip = c
        .network_settings
        .and_then(|n| n.networks)
        .and_then(|n| n.get(&network).cloned())
        .and_then(|e| e.ip_address)
        .unwrap_or_default();
    assert_eq!(ip, address, "the new container has the static address");
    assert_eq!(leftovers(&engine, &name).await?, Vec::<String>::new());
    Ok(())
}
