//! The engine helpers against the real Docker Engine: labels, defaults and cleanup.
//!
//! These need a Docker Engine; without one they skip loudly (and fail under
//! `WATCHTOWER_E2E=required`).

use std::collections::HashMap;

use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{BuildImageOptionsBuilder, ListContainersOptionsBuilder};
use futures_util::StreamExt as _;
use watchtower_testkit::{ContainerSpec, Engine, PID_LABEL, PID_NAMESPACE_LABEL, RUN_LABEL};

/// Builds a tiny image FROM scratch (busybox only) with the given labels; returns its id.
async fn tiny_image(
    engine: &Engine,
    tag: &str,
    labels: &HashMap<String, String>,
) -> anyhow::Result<String> {
    let busybox = std::fs::read("/bin/busybox")?;
    let label_line = labels
        .iter()
        .map(|(k, v)| format!("\"{k}\"=\"{v}\""))
        .collect::<Vec<_>>()
        .join(" ");
    let dockerfile = format!("FROM scratch\nLABEL {label_line}\nCOPY busybox /bin/busybox\n");
    let mut tar = tar::Builder::new(Vec::new());
    for (name, data, mode) in [
        ("Dockerfile", dockerfile.as_bytes(), 0o644),
        ("busybox", &busybox[..], 0o755),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(mode);
        header.set_cksum();
        tar.append_data(&mut header, name, data)?;
    }
    let context = tar.into_inner()?;
    let options = BuildImageOptionsBuilder::default()
        .t(tag)
        .networkmode("none")
        .rm(true)
        .forcerm(true)
        .nocache(true)
        .build();
    let mut stream =
        engine
            .docker()
            .build_image(options, None, Some(bollard::body_full(context.into())));
    while let Some(item) = stream.next().await {
        item?;
    }
    Ok(engine.image_id(tag).await?.expect("the image just built"))
}

#[tokio::test]
async fn dropping_the_engine_removes_its_objects() -> anyhow::Result<()> {
    let Some(engine) = Engine::require().await else {
        return Ok(());
    };
    let run_id = engine.run_id().to_owned();
    let tag = format!("testkit-engine-drop:{run_id}");
    tiny_image(&engine, &tag, &engine.labels()).await?;
    let container = engine.unique_name("drop");
    let id = engine
        .run_container(
            &container,
            ContainerSpec::new(&tag).cmd(["/bin/busybox", "sleep", "600"]),
        )
        .await?;
    let inspected = engine.inspect_container(&id).await?;
    let labels = inspected.config.and_then(|c| c.labels).unwrap_or_default();
    assert_eq!(labels.get(RUN_LABEL), Some(&run_id));
    assert_eq!(labels.get(PID_LABEL), Some(&std::process::id().to_string()));
    assert_eq!(
        inspected
            .host_config
            .and_then(|h| h.network_mode)
            .as_deref(),
        Some("none"),
        "containers default to network_mode none"
    );
    assert!(inspected.state.and_then(|s| s.running).unwrap_or(false));
    let network = engine.create_network(&engine.unique_name("net")).await?;
    let volume = engine.create_volume(&engine.unique_name("vol")).await?;
    let net = engine.docker().inspect_network(&network, None).await?;
    assert_eq!(net.internal, Some(true), "networks are always internal");

    drop(engine);

    let observer = Engine::require()
        .await
        .expect("the engine answered a moment ago");
    assert!(
        !observer.container_exists(&container).await?,
        "container survived the drop"
    );
    assert!(
        observer
            .docker()
            .inspect_network(&network, None)
            .await
            .is_err(),
        "network survived"
    );
    assert!(
        observer.docker().inspect_volume(&volume).await.is_err(),
        "volume survived"
    );
    assert_eq!(
        observer.image_id(&tag).await?,
        None,
        "image survived the drop"
    );
    Ok(())
}

#[tokio::test]
async fn the_caller_network_mode_is_kept() -> anyhow::Result<()> {
    let Some(engine) = Engine::require().await else {
        return Ok(());
    };
    let tag = format!("testkit-engine-netmode:{}", engine.run_id());
    tiny_image(&engine, &tag, &engine.labels()).await?;
    let network = engine.unique_name("net");
    engine
        .create_network_with_subnet(&network, "172.31.251.0/24")
        .await?;
    let name = engine.unique_name("static");
    let body = ContainerCreateBody {
        image: Some(tag.clone()),
        cmd: Some(vec!["/bin/busybox".into(), "true".into()]),
        host_config: Some(HostConfig {
            network_mode: Some(network.clone()),
            ..HostConfig::default()
        }),
        ..ContainerCreateBody::default()
    };
    engine.create_container(&name, body).await?;
    let inspected = engine.inspect_container(&name).await?;
    assert_eq!(
        inspected.host_config.and_then(|h| h.network_mode),
        Some(network)
    );
    Ok(())
}

#[tokio::test]
async fn a_new_engine_sweeps_objects_of_dead_processes() -> anyhow::Result<()> {
    let Some(engine) = Engine::require().await else {
        return Ok(());
    };
    // A container as a killed test run would leave it: labelled with a pid that cannot exist.
    let stale_run = format!("4294967295-{}", engine.run_id());
    let namespace = engine.labels()[PID_NAMESPACE_LABEL].clone();
    let stale_labels = HashMap::from([
        (RUN_LABEL.to_owned(), stale_run.clone()),
        (PID_LABEL.to_owned(), "4294967295".to_owned()),
        (PID_NAMESPACE_LABEL.to_owned(), namespace),
    ]);
    let tag = format!("testkit-engine-sweep:{}", engine.run_id());
    tiny_image(&engine, &tag, &stale_labels).await?;
    let name = engine.unique_name("stale");
    let body = ContainerCreateBody {
        image: Some(tag.clone()),
        cmd: Some(vec!["/bin/busybox".into(), "true".into()]),
        labels: Some(stale_labels),
        host_config: Some(HostConfig {
            network_mode: Some("none".into()),
            ..HostConfig::default()
        }),
        ..ContainerCreateBody::default()
    };
    // Created with the raw client so that it does not carry this run's labels.
    engine
        .docker()
        .create_container(
            Some(
                bollard::query_parameters::CreateContainerOptionsBuilder::default()
                    .name(&name)
                    .build(),
            ),
            body,
        )
        .await?;
    assert!(engine.container_exists(&name).await?);
    // A dead pid seen from another pid namespace is not ours to judge: it stays (this run's
    // label makes our own drop remove it).
    let foreign = engine.unique_name("foreign");
    let own_tag = format!("testkit-engine-foreign:{}", engine.run_id());
    tiny_image(&engine, &own_tag, &engine.labels()).await?;
    let foreign_spec = ContainerSpec::new(&own_tag)
        .cmd(["/bin/busybox", "true"])
        .label(PID_LABEL, "4294967295")
        .label(PID_NAMESPACE_LABEL, "pid:[1]");
    let mut body = foreign_spec.into_body();
    body.labels
        .get_or_insert_with(HashMap::new)
        .insert(RUN_LABEL.to_owned(), engine.run_id().to_owned());
    engine
        .docker()
        .create_container(
            Some(
                bollard::query_parameters::CreateContainerOptionsBuilder::default()
                    .name(&foreign)
                    .build(),
            ),
            body,
        )
        .await?;

    let _second = Engine::connect().await?;

    assert!(
        engine.container_exists(&foreign).await?,
        "a container of another pid namespace was swept"
    );

    assert!(
        !engine.container_exists(&name).await?,
        "the stale container was not swept"
    );
    assert_eq!(
        engine.image_id(&tag).await?,
        None,
        "the stale image was not swept"
    );
    let filters = HashMap::from([("label".to_owned(), vec![format!("{RUN_LABEL}={stale_run}")])]);
    let left = engine
        .docker()
        .list_containers(Some(
            ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await?;
    assert!(left.is_empty());
    Ok(())
}

#[tokio::test]
async fn drop_cleans_up_during_a_panic() -> anyhow::Result<()> {
    let Some(probe) = Engine::require().await else {
        return Ok(());
    };
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    // Panic inside a task that owns an Engine with a container; the unwind must clean up.
    let handle = tokio::spawn(async move {
        let engine = Engine::connect().await.expect("engine");
        let tag = format!("testkit-engine-panic:{}", engine.run_id());
        tiny_image(&engine, &tag, &engine.labels())
            .await
            .expect("image");
        let name = engine.unique_name("panic");
        engine
            .run_container(
                &name,
                ContainerSpec::new(&tag).cmd(["/bin/busybox", "sleep", "600"]),
            )
            .await
            .expect("container");
        tx.send(name).expect("send");
        panic!("deliberate panic with a live Engine");
    });
    assert!(handle.await.is_err_and(|e| e.is_panic()));
    let name = rx.recv()?;
    assert!(
        !probe.container_exists(&name).await?,
        "the container outlived the panic"
    );
    Ok(())
}
