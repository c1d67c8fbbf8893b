//! `DockerClient` against the real Docker Engine and testkit registries.
//!
//! Every test skips loudly without an engine (and fails under `WATCHTOWER_E2E=required`).
//! Containers run with `network_mode: none` or on internal networks and send no traffic; every
//! object carries the testkit run label and is removed when the test's `Engine` is dropped.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context as _;
use bollard::models::{
    ContainerCreateBody, EndpointIpamConfig, EndpointSettings, HealthConfig, HostConfig,
    NetworkConnectRequest, NetworkingConfig, PortBinding, RestartPolicy, RestartPolicyNameEnum,
};
use watchtower_container_client::{
    ApiVersion, CARRIED_VOLUME_LABEL, Container, ContainerClient, ContainerConfig, ContainerState,
    DockerClient, DockerOptions, EXEC_OUTPUT_LIMIT, Error, HealthStatus, Image, ListOptions,
    NetworkAttachment, NetworkMode, PullAuth, RecreateSpec, StopOptions,
};
use watchtower_testkit::{
    AnonymousVolumes, ContainerSpec, DEFAULT_CMD, Engine, FixtureImage, FixtureSpec, Registry,
    RegistryMode, VERSION_LABEL,
};

async fn setup() -> Option<(Engine, DockerClient)> {
    let engine = Engine::require().await?;
    let client = DockerClient::connect(DockerOptions::from_env().expect("docker environment"))
        .await
        .expect("DockerClient connects to the engine the testkit found");
    Some((engine, client))
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

fn stop(seconds: u64) -> StopOptions {
    StopOptions {
        signal: "SIGTERM".into(),
        timeout: Duration::from_secs(seconds),
    }
}

/// The default command's shell line with `extra` run first.
fn cmd_with(extra: &str) -> Vec<String> {
    strings(&[
        "/bin/sh",
        "-c",
        &format!("{extra}; trap 'exit 0' TERM INT; sleep 2147483647 & wait"),
    ])
}

/// What the update engine does for one container, through the trait only: stop, rename
/// aside, create from the spec, connect, start, remove the old one (with its anonymous
/// volumes, as under `--remove-volumes`: the ones the new container carries over stay).
async fn recreate(
    client: &DockerClient,
    old: &Container,
    new_image: &Image,
) -> anyhow::Result<(RecreateSpec, Container)> {
    let old_image = client.inspect_image(&old.image_id).await?;
    let spec = RecreateSpec::build(old, &old_image, new_image, &old.image_reference);
    let was_running = old.state == ContainerState::Running;
    client.stop_container(&old.id, stop(10)).await?;
    client
        .rename_container(&old.id, &format!("{}-wt-old-{}", old.name, old.short_id()))
        .await?;
    let id = client.create_container(&spec).await?;
    client.connect_networks(&id, &spec).await?;
    if was_running {
        client.start_container(&id).await?;
    }
    client.remove_container(&old.id, true).await?;
    let new = client.inspect_container(&id).await?;
    Ok((spec, new))
}

/// The name of the volume mounted at `destination` in container `id`, as the engine reports.
async fn volume_at(engine: &Engine, id: &str, destination: &str) -> anyhow::Result<Option<String>> {
    Ok(engine
        .inspect_container(id)
        .await?
        .mounts
        .unwrap_or_default()
        .into_iter()
        .find(|m| {
            m.typ.as_deref() == Some("volume") && m.destination.as_deref() == Some(destination)
        })
        .and_then(|m| m.name))
}

/// `(name, destination)` of the volumes a spec carries over.
fn carried(spec: &RecreateSpec) -> Vec<(String, String)> {
    spec.carried_volumes
        .iter()
        .map(|v| (v.name.clone(), v.destination.clone()))
        .collect()
}

/// `HostConfig.Mounts` of container `id`, as the engine reports it.
async fn host_mounts(engine: &Engine, id: &str) -> anyhow::Result<Vec<bollard::models::Mount>> {
    Ok(engine
        .inspect_container(id)
        .await?
        .host_config
        .and_then(|h| h.mounts)
        .unwrap_or_default())
}

async fn volume_exists(engine: &Engine, name: &str) -> anyhow::Result<bool> {
    match engine.docker().inspect_volume(name).await {
        Ok(_) => Ok(true),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The output of `command` run in container `id`, which must succeed.
async fn sh(client: &DockerClient, id: &str, command: &str) -> anyhow::Result<String> {
    let out = client
        .exec(id, command, Some(Duration::from_secs(10)))
        .await?;
    anyhow::ensure!(
        out.exit_code == Some(0),
        "`{command}` in {id}: exit {:?}: {}",
        out.exit_code,
        out.output
    );
    Ok(out.output.trim().to_owned())
}

/// A /24 for the static-IP network, unlikely to collide with parallel test runs.
fn subnet() -> (String, String) {
    let n = 16 + std::process::id() % 200;
    (format!("10.231.{n}.0/24"), format!("10.231.{n}.10"))
}

#[tokio::test]
async fn negotiates_the_api_version_with_this_engine() -> anyhow::Result<()> {
    let Some((engine, client)) = setup().await else {
        return Ok(());
    };
    let info = client.engine_info().await?;
    let server: ApiVersion = client
        .engine_info()
        .await?
        .api_version
        .parse()
        .context("api version")?;
    assert_eq!(server, client.api_version());
    assert!(
        client.api_version() >= ApiVersion::V1_41,
        "{}",
        client.api_version()
    );
    assert!(!info.server_version.is_empty());
    assert!(
        info.insecure_registry_cidrs
            .iter()
            .any(|c| c == "127.0.0.0/8"),
        "the engine reports loopback as insecure: {:?}",
        info.insecure_registry_cidrs
    );

    // A version the engine supports is used as asked, and works: 1.40, or the engine's
    // minimum where that is higher (1.44 from Docker 29, or with DOCKER_MIN_API_VERSION).
    let min: ApiVersion = engine
        .docker()
        .version()
        .await?
        .min_api_version
        .context("the engine's minimum API version")?
        .parse()
        .context("minimum api version")?;
    let asked = min.max(ApiVersion::new(1, 40));
    assert!(
        asked < server,
        "{asked} is older than the engine's {server}"
    );
    let older = DockerClient::connect(DockerOptions {
        api_version: Some(asked),
        ..DockerOptions::from_env()?
    })
    .await?;
    assert_eq!(older.api_version(), asked);
    older.list_containers(ListOptions::default()).await?;

    // One it does not support falls back to negotiation instead of failing.
    let too_new = DockerClient::connect(DockerOptions {
        api_version: Some(ApiVersion::new(1, 99)),
        ..DockerOptions::from_env()?
    })
    .await?;
    assert_eq!(too_new.api_version(), client.api_version());
    let too_old = DockerClient::connect(DockerOptions {
        api_version: Some(ApiVersion::new(1, 5)),
        ..DockerOptions::from_env()?
    })
    .await?;
    assert_eq!(too_old.api_version(), client.api_version());
    Ok(())
}

#[tokio::test]
async fn an_engine_that_is_not_there_is_named() {
    let Some((_engine, _client)) = setup().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("nothing.sock");
    let host = format!("unix://{}", sock.display());
    let err = DockerClient::connect(DockerOptions {
        host: Some(host.clone()),
        ..DockerOptions::default()
    })
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Engine { .. }), "{err:?}");
    assert!(err.to_string().contains(&host), "{err}");

    // Nothing listens on port 9 of loopback.
    let err = DockerClient::connect(DockerOptions {
        host: Some("tcp://127.0.0.1:9".into()),
        ..DockerOptions::default()
    })
    .await
    .unwrap_err();
    assert!(err.to_string().contains("tcp://127.0.0.1:9"), "{err}");
}

/// Version 1 and 2 of the image differ in every default the rules look at.
fn v1_lines() -> FixtureSpec {
    FixtureSpec::default()
        .line("ENV APP_MODE=prod OVERRIDDEN=image")
        .line("LABEL image.label=one vendor=acme")
        .line("HEALTHCHECK --interval=1s --timeout=2s --retries=3 CMD true")
        .line("EXPOSE 80")
        .line("VOLUME /data")
        .line("WORKDIR /srv")
}

fn v2_lines() -> FixtureSpec {
    FixtureSpec::default()
        .line("ENV APP_MODE=prod OVERRIDDEN=image NEW_IN_V2=yes")
        .line("LABEL image.label=two vendor=acme")
        .line("HEALTHCHECK --interval=2s --timeout=3s --retries=2 CMD test -d /")
        .line("EXPOSE 8080")
        .line("VOLUME /data2")
        .line("WORKDIR /srv2")
}

/// Everything a user sets on a container, on two internal networks (one with a static IP).
struct Setup {
    image: String,
    net_a: String,
    net_b: String,
    static_ip: String,
    volume: String,
    host_dir: String,
    cmd: Vec<String>,
}

/// Creates the container (not started) and returns its name and ID.
async fn create_configured(engine: &Engine, s: &Setup) -> anyhow::Result<(String, String)> {
    let (net_a, static_ip, host_dir, volume) = (&s.net_a, &s.static_ip, &s.host_dir, &s.volume);
    let name = engine.unique_name("cc-app");
    let body = ContainerSpec::new(s.image.clone())
        .cmd(s.cmd.clone())
        .env("USER_VAR", "keep")
        .env("OVERRIDDEN", "by-user")
        .label("user.label", "mine")
        .label("vendor", "me")
        .with_body(|b| {
            b.hostname = Some("app-host".into());
            b.domainname = Some("example.test".into());
            b.host_config = Some(HostConfig {
                network_mode: Some(net_a.clone()),
                binds: Some(vec![
                    format!("{host_dir}:/host:ro"),
                    format!("{volume}:/named"),
                ]),
                tmpfs: Some(HashMap::from([("/scratch".into(), "size=1m".into())])),
                port_bindings: Some(HashMap::from([(
                    "9000/tcp".into(),
                    Some(vec![PortBinding {
                        host_ip: Some("127.0.0.1".into()),
                        host_port: Some(String::new()),
                    }]),
                )])),
                restart_policy: Some(RestartPolicy {
                    name: Some(RestartPolicyNameEnum::UNLESS_STOPPED),
                    maximum_retry_count: Some(0),
                }),
                memory: Some(64 * 1024 * 1024),
                cap_add: Some(strings(&["NET_ADMIN"])),
                init: Some(true),
                ..HostConfig::default()
            });
            b.networking_config = Some(NetworkingConfig {
                endpoints_config: Some(HashMap::from([(
                    net_a.clone(),
                    EndpointSettings {
                        aliases: Some(strings(&["app-a", "app-front"])),
                        ipam_config: Some(EndpointIpamConfig {
                            ipv4_address: Some(static_ip.clone()),
                            ..EndpointIpamConfig::default()
                        }),
                        ..EndpointSettings::default()
                    },
                )])),
            });
        });
    let id = engine.create_container(&name, body).await?;
    engine
        .docker()
        .connect_network(
            &s.net_b,
            NetworkConnectRequest {
                container: id.clone(),
                endpoint_config: Some(EndpointSettings {
                    aliases: Some(strings(&["app-b"])),
                    ..EndpointSettings::default()
                }),
            },
        )
        .await?;
    Ok((name, id))
}

/// The user's settings of [`create_configured`] kept, image defaults following version 2.
fn assert_config_follows_v2(c: &ContainerConfig, user_cmd: &[String]) -> anyhow::Result<()> {
    for kept in ["USER_VAR=keep", "OVERRIDDEN=by-user"] {
        assert!(c.env.contains(&kept.to_owned()), "{kept} in {:?}", c.env);
    }
    for follows in ["NEW_IN_V2=yes", "FIXTURE_VERSION=2", "APP_MODE=prod"] {
        assert!(
            c.env.contains(&follows.to_owned()),
            "{follows} in {:?}",
            c.env
        );
    }
    assert!(!c.env.contains(&"FIXTURE_VERSION=1".to_owned()));
    assert_eq!(c.labels["user.label"], "mine");
    assert_eq!(c.labels["vendor"], "me");
    assert_eq!(c.labels["image.label"], "two");
    assert_eq!(c.labels[VERSION_LABEL], "2");
    assert_eq!(
        c.cmd.as_ref(),
        Some(&user_cmd.to_vec()),
        "the CMD override is kept"
    );
    let hc = c.healthcheck.as_ref().context("v2 healthcheck")?;
    assert_eq!(hc.test, strings(&["CMD-SHELL", "test -d /"]));
    assert_eq!(hc.interval, 2_000_000_000);
    assert_eq!(hc.retries, 2);
    assert_eq!(c.working_dir.as_deref(), Some("/srv2"));
    assert_eq!(c.exposed_ports, strings(&["8080/tcp", "9000/tcp"]));
    assert_eq!(c.volumes, strings(&["/data2"]));
    assert_eq!(c.hostname.as_deref(), Some("app-host"));
    assert_eq!(c.domainname.as_deref(), Some("example.test"));
    Ok(())
}

/// Networks, a volume and the user's settings for [`create_configured`].
async fn prepare(
    engine: &Engine,
    image: String,
    host_dir: &tempfile::TempDir,
) -> anyhow::Result<Setup> {
    let (cidr, static_ip) = subnet();
    let net_a = engine.unique_name("cc-front");
    let net_b = engine.unique_name("cc-back");
    engine.create_network_with_subnet(&net_a, &cidr).await?;
    engine.create_network(&net_b).await?;
    let volume = engine.create_volume(&engine.unique_name("cc-vol")).await?;
    Ok(Setup {
        image,
        net_a,
        net_b,
        static_ip,
        volume,
        host_dir: host_dir.path().display().to_string(),
        cmd: cmd_with("echo override > /tmp/o"),
    })
}

/// The MAC of endpoint `net` that a recreation keeps: none when the engine derived it from the
/// address (`02:42:` + IPv4, up to Docker 27), the MAC itself when it is random (Docker 28+),
/// which inspect cannot tell from a user's.
fn kept_engine_mac(
    endpoints: &HashMap<String, bollard::models::EndpointSettings>,
    net: &str,
) -> Option<String> {
    let endpoint = &endpoints[net];
    let mac = endpoint.mac_address.clone().filter(|m| !m.is_empty())?;
    let ip: std::net::Ipv4Addr = endpoint.ip_address.as_deref()?.parse().ok()?;
    let [o1, o2, o3, o4] = ip.octets();
    let derived = format!("02:42:{o1:02x}:{o2:02x}:{o3:02x}:{o4:02x}");
    (derived != mac).then_some(mac)
}

#[tokio::test]
#[allow(clippy::too_many_lines)] // one scenario, checked field by field against the engine
async fn recreation_keeps_every_user_setting_and_follows_the_new_image() -> anyhow::Result<()> {
    let Some((engine, client)) = setup().await else {
        return Ok(());
    };
    let registry = Registry::start(RegistryMode::Plain).await?;
    let mut image = FixtureImage::publish(&engine, &registry, "cc/recreate", v1_lines()).await?;

    let host_dir = tempfile::tempdir()?;
    let setup_ = prepare(&engine, image.reference(), &host_dir).await?;
    let (net_a, net_b, static_ip) = (&setup_.net_a, &setup_.net_b, &setup_.static_ip);
    let user_cmd = setup_.cmd.clone();
    let (name, id) = create_configured(&engine, &setup_).await?;
    client.start_container(&id).await?;
    client
        .wait_until_ready(&id, Duration::from_secs(20))
        .await?;

    let before = client.inspect_container(&name).await?;
    let raw_before = engine.inspect_container(&id).await?;
    assert_eq!(before.network_mode, NetworkMode::Named(net_a.clone()));
    assert_eq!(
        before
            .networks
            .iter()
            .map(|n| n.network.as_str())
            .collect::<Vec<_>>(),
        {
            let mut v = vec![net_a.as_str(), net_b.as_str()];
            v.sort_unstable();
            v
        }
    );

    image.publish_next_with(v2_lines()).await?;
    let new_image = client.pull_image(&image.reference(), None).await?;
    assert_eq!(new_image.id, image.image_id());

    let (spec, after) = recreate(&client, &before, &new_image).await?;
    assert_ne!(after.id, before.id);
    assert_eq!(after.name, name);
    assert_eq!(after.image_id, new_image.id);
    client
        .wait_until_ready(&after.id, Duration::from_secs(30))
        .await?;
    assert!(
        !engine.container_exists(&before.id).await?,
        "the old container is removed"
    );

    // The engine agrees with the spec: the new container's config is exactly the spec's.
    assert_eq!(after.config, spec.config);

    assert_config_follows_v2(&after.config, &user_cmd)?;
    assert_eq!(
        client.inspect_container(&after.id).await?.health,
        Some(HealthStatus::Healthy),
        "the v2 healthcheck runs and passes"
    );

    // The host configuration is identical, field for field.
    let raw_after = engine.inspect_container(&after.id).await?;
    assert_eq!(raw_after.host_config, raw_before.host_config);

    // Networks: the same endpoints, aliases (the old short-ID alias gone), the static IP.
    // The MAC the engine gave: up to Docker 27 it is `02:42:` + the IPv4 address, which is
    // never carried over; from Docker 28 it is random, which inspect cannot tell from a
    // user's, so it is kept (the container keeps its MAC across the update).
    let raw_endpoints_before = raw_before
        .network_settings
        .clone()
        .and_then(|n| n.networks)
        .context("networks before")?;
    let kept_mac = |net: &str| kept_engine_mac(&raw_endpoints_before, net);
    assert_eq!(after.networks, spec.networks);
    let mut expected = vec![
        NetworkAttachment {
            network: net_a.clone(),
            aliases: strings(&["app-a", "app-front"]),
            ipv4_address: Some(static_ip.clone()),
            mac_address: kept_mac(net_a),
            ..NetworkAttachment::default()
        },
        NetworkAttachment {
            network: net_b.clone(),
            aliases: strings(&["app-b"]),
            mac_address: kept_mac(net_b),
            ..NetworkAttachment::default()
        },
    ];
    expected.sort_by(|a, b| a.network.cmp(&b.network));
    assert_eq!(after.networks, expected);
    let endpoints = raw_after
        .network_settings
        .and_then(|n| n.networks)
        .context("networks")?;
    assert_eq!(
        endpoints[net_a].ip_address.as_deref(),
        Some(static_ip.as_str())
    );
    for net in [&net_a, &net_b] {
        if let Some(mac) = kept_mac(net) {
            assert_eq!(
                endpoints[net.as_str()].mac_address.as_deref(),
                Some(mac.as_str()),
                "the random MAC on {net} is kept"
            );
        }
    }
    for ep in endpoints.values() {
        let aliases = ep.aliases.clone().unwrap_or_default();
        assert!(
            !aliases.contains(&before.short_id().to_owned()),
            "old short-ID alias carried over: {aliases:?}"
        );
    }

    // The data is still where the binds say.
    let out = client
        .exec(
            &after.id,
            "cat /tmp/o && test -d /host && test -d /named && test -d /scratch",
            Some(Duration::from_secs(10)),
        )
        .await?;
    assert_eq!(out.exit_code, Some(0), "{}", out.output);
    assert_eq!(out.output.trim(), "override");

    assert_a_second_update_changes_nothing(&engine, &client, &after, &new_image, &spec).await
}

/// A second update from the same image changes nothing (no drift), but for v2's anonymous
/// `/data2`, which the third container mounts again.
async fn assert_a_second_update_changes_nothing(
    engine: &Engine,
    client: &DockerClient,
    after: &Container,
    new_image: &Image,
    spec: &RecreateSpec,
) -> anyhow::Result<()> {
    let volumes = AnonymousVolumes::default();
    let data2 = volume_at(engine, &after.id, "/data2")
        .await?
        .context("/data2")?;
    volumes.track(&data2);
    let (spec2, again) = recreate(client, after, new_image).await?;
    assert_eq!(carried(&spec2), [(data2, "/data2".to_owned())]);
    assert_eq!(spec2.config, spec.config);
    assert_eq!(again.config, after.config);
    assert_eq!(again.networks, after.networks);
    Ok(())
}

#[tokio::test]
async fn an_untouched_container_follows_the_new_image_and_gets_a_new_hostname() -> anyhow::Result<()>
{
    let Some((engine, client)) = setup().await else {
        return Ok(());
    };
    let registry = Registry::start(RegistryMode::Plain).await?;
    let mut image = FixtureImage::publish(&engine, &registry, "cc/plain", v1_lines()).await?;
    let name = engine.unique_name("cc-plain");
    engine
        .run_container(&name, ContainerSpec::new(image.reference()))
        .await?;
    let before = client.inspect_container(&name).await?;
    assert_eq!(before.config.hostname.as_deref(), Some(before.short_id()));
    image.publish_next_with(v2_lines()).await?;
    let new_image = client.pull_image(&image.reference(), None).await?;
    let (spec, after) = recreate(&client, &before, &new_image).await?;
    assert_eq!(spec.config.hostname, None);
    assert_eq!(
        after.config.hostname.as_deref(),
        Some(after.short_id()),
        "the hostname is the new container's, not the old one's"
    );
    assert_eq!(after.network_mode, NetworkMode::None);
    let mut expected = spec.config.clone();
    expected.hostname = Some(after.short_id().to_owned());
    assert_eq!(after.config, expected);
    assert_eq!(
        after.config.cmd,
        Some(strings(&[
            "/bin/sh",
            "-c",
            "trap 'exit 0' TERM INT; sleep 2147483647 & wait"
        ]))
    );
    assert!(DEFAULT_CMD.contains("sleep 2147483647"));
    assert_eq!(after.config.working_dir.as_deref(), Some("/srv2"));
    assert_eq!(after.config.exposed_ports, strings(&["8080/tcp"]));
    Ok(())
}

#[tokio::test]
async fn a_user_healthcheck_and_stop_signal_survive_an_update() -> anyhow::Result<()> {
    let Some((engine, client)) = setup().await else {
        return Ok(());
    };
    let registry = Registry::start(RegistryMode::Plain).await?;
    let mut image = FixtureImage::publish(&engine, &registry, "cc/health", v1_lines()).await?;
    let name = engine.unique_name("cc-health");
    let body = ContainerSpec::new(image.reference())
        .stop_signal("SIGINT")
        .with_body(|b| {
            b.healthcheck = Some(HealthConfig {
                test: Some(strings(&["CMD", "true"])),
                interval: Some(1_500_000_000),
                ..HealthConfig::default()
            });
        });
    engine.run_container(&name, body).await?;
    let before = client.inspect_container(&name).await?;
    image.publish_next_with(v2_lines()).await?;
    let new_image = client.pull_image(&image.reference(), None).await?;
    let (_, after) = recreate(&client, &before, &new_image).await?;
    let hc = after.config.healthcheck.context("healthcheck")?;
    assert_eq!(
        hc.test,
        strings(&["CMD", "true"]),
        "the user's test is kept"
    );
    assert_eq!(hc.interval, 1_500_000_000, "the user's interval is kept");
    assert_eq!(hc.retries, 2, "retries were the image's: v2's now");
    assert_eq!(after.config.stop_signal.as_deref(), Some("SIGINT"));
    Ok(())
}

#[tokio::test]
async fn a_user_mac_address_survives_an_update() -> anyhow::Result<()> {
    let Some((engine, client)) = setup().await else {
        return Ok(());
    };
    let registry = Registry::start(RegistryMode::Plain).await?;
    let mut image =
        FixtureImage::publish(&engine, &registry, "cc/mac", FixtureSpec::default()).await?;
    let net = engine.unique_name("cc-mac");
    engine.create_network(&net).await?;
    let mac = "02:aa:bb:cc:dd:01";
    // Created through the client itself, which knows how to ask for a MAC on any API version.
    let base = client.inspect_image(&image.reference()).await?;
    let spec = RecreateSpec {
        name: engine.unique_name("cc-mac"),
        image: image.reference(),
        config: ContainerConfig {
            mac_address: Some(mac.into()),
            labels: engine.labels().into_iter().collect(),
            ..base.config.clone()
        },
        host_config: watchtower_container_client::HostConfig::default(),
        network_mode: NetworkMode::Named(net.clone()),
        networks: vec![NetworkAttachment {
            network: net.clone(),
            aliases: strings(&["macbox"]),
            mac_address: Some(mac.into()),
            ..NetworkAttachment::default()
        }],
        carried_volumes: Vec::new(),
    };
    let id = client.create_container(&spec).await?;
    client.connect_networks(&id, &spec).await?;
    client.start_container(&id).await?;
    let before = client.inspect_container(&id).await?;
    assert_eq!(before.networks[0].mac_address.as_deref(), Some(mac));
    assert_eq!(before.config.mac_address.as_deref(), Some(mac));

    image.publish_next_version().await?;
    let new_image = client.pull_image(&image.reference(), None).await?;
    let (_, after) = recreate(&client, &before, &new_image).await?;
    assert_eq!(after.networks[0].mac_address.as_deref(), Some(mac));
    assert_eq!(after.networks[0].aliases, strings(&["macbox"]));
    Ok(())
}

#[tokio::test]
async fn a_dependent_in_container_network_mode_follows_its_recreated_parent() -> anyhow::Result<()>
{
    let Some((engine, client)) = setup().await else {
        return Ok(());
    };
    let registry = Registry::start(RegistryMode::Plain).await?;
    let mut image =
        FixtureImage::publish(&engine, &registry, "cc/parent", FixtureSpec::default()).await?;
    let parent_name = engine.unique_name("cc-vpn");
    let parent_id = engine
        .run_container(&parent_name, ContainerSpec::new(image.reference()))
        .await?;
    let child_name = engine.unique_name("cc-sidecar");
    engine
        .run_container(
            &child_name,
            ContainerSpec::new(image.reference()).network_mode(&format!("container:{parent_id}")),
        )
        .await?;
    let child = client.inspect_container(&child_name).await?;
    assert_eq!(
        child.network_mode,
        NetworkMode::Container(parent_name.clone()),
        "the parent's ID is read as its name"
    );
    assert!(child.networks.is_empty());

    image.publish_next_version().await?;
    let new_image = client.pull_image(&image.reference(), None).await?;
    // As in an update session: everything is inspected first, then the dependent is stopped
    // (it cannot outlive its namespace), the parent recreated, then the dependent.
    let parent = client.inspect_container(&parent_name).await?;
    client.stop_container(&child.id, stop(10)).await?;
    let (_, new_parent) = recreate(&client, &parent, &new_image).await?;
    let (spec, new_child) = recreate(&client, &child, &new_image).await?;
    client
        .wait_until_ready(&new_child.id, Duration::from_secs(20))
        .await?;
    let new_child = client.inspect_container(&new_child.id).await?;
    assert_eq!(
        spec.network_mode,
        NetworkMode::Container(parent_name.clone())
    );
    assert_eq!(
        spec.config.hostname, None,
        "no hostname in container network mode"
    );
    let raw = engine.inspect_container(&new_child.id).await?;
    assert_eq!(
        raw.host_config.and_then(|h| h.network_mode),
        Some(format!("container:{}", new_parent.id)),
        "the dependent points at the new parent, not the dead one"
    );
    assert_eq!(new_child.network_mode, NetworkMode::Container(parent_name));
    assert_eq!(new_child.state, ContainerState::Running);
    Ok(())
}

#[tokio::test]
async fn a_missing_network_parent_is_a_clear_create_error() -> anyhow::Result<()> {
    let Some((engine, client)) = setup().await else {
        return Ok(());
    };
    let spec = RecreateSpec {
        name: engine.unique_name("cc-orphan"),
        image: "unused:latest".into(),
        config: ContainerConfig::default(),
        host_config: watchtower_container_client::HostConfig::default(),
        network_mode: NetworkMode::Container("no-such-parent-cc".into()),
        networks: Vec::new(),
        carried_volumes: Vec::new(),
    };
    let err = client.create_container(&spec).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("no-such-parent-cc") && text.contains(&spec.name),
        "{text}"
    );
    Ok(())
}

async fn pull_with_auth(mode: RegistryMode) -> anyhow::Result<()> {
    let Some((engine, client)) = setup().await else {
        return Ok(());
    };
    let registry = Registry::start(mode).await?;
    let mut image =
        FixtureImage::publish(&engine, &registry, "cc/private", FixtureSpec::default()).await?;
    image.publish_next_version().await?;
    let (user, password) = registry.credentials().context("credentials")?;

    let err = client
        .pull_image(&image.reference(), None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains(&image.reference()), "{err}");

    let wrong = PullAuth {
        username: Some(user.to_owned()),
        password: Some("not-the-password-xyz".into()),
        identity_token: None,
        server_address: registry.host(),
    };
    let err = client
        .pull_image(&image.reference(), Some(wrong))
        .await
        .unwrap_err();
    assert!(
        !err.to_string().contains("not-the-password-xyz"),
        "the password leaked: {err}"
    );

    let auth = PullAuth {
        username: Some(user.to_owned()),
        password: Some(password.to_owned()),
        identity_token: None,
        server_address: registry.host(),
    };
    assert!(!format!("{auth:?}").contains(password));
    let pulled = client.pull_image(&image.reference(), Some(auth)).await?;
    assert_eq!(pulled.id, image.image_id());
    assert_eq!(
        pulled.config.labels.get(VERSION_LABEL).map(String::as_str),
        Some("2")
    );
    assert!(
        pulled
            .repo_digests
            .iter()
            .any(|d| d.ends_with(image.digest())),
        "{:?} has {}",
        pulled.repo_digests,
        image.digest()
    );
    Ok(())
}

#[tokio::test]
async fn pulls_with_basic_auth() -> anyhow::Result<()> {
    pull_with_auth(RegistryMode::Basic).await
}

#[tokio::test]
async fn pulls_with_token_auth() -> anyhow::Result<()> {
    pull_with_auth(RegistryMode::Token).await
}

#[tokio::test]
async fn pull_errors_name_the_image() -> anyhow::Result<()> {
    let Some((engine, client)) = setup().await else {
        return Ok(());
    };
    let registry = Registry::start(RegistryMode::Plain).await?;
    let _image =
        FixtureImage::publish(&engine, &registry, "cc/exists", FixtureSpec::default()).await?;
    let missing = format!("{}/cc/missing:1", registry.host());
    let err = client.pull_image(&missing, None).await.unwrap_err();
    assert!(err.to_string().contains(&missing), "{err}");
    let err = client.pull_image("bad ref", None).await.unwrap_err();
    assert!(matches!(err, Error::InvalidReference { .. }), "{err:?}");
    let err = client
        .inspect_image("sha256:0000000000000000000000000000000000000000000000000000000000000000")
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::NotFound { kind: "image", .. }),
        "{err:?}"
    );
    Ok(())
}

#[tokio::test]
async fn exec_reports_exit_codes_output_and_timeouts() -> anyhow::Result<()> {
    let Some((engine, client)) = setup().await else {
        return Ok(());
    };
    let registry = Registry::start(RegistryMode::Plain).await?;
    let image =
        FixtureImage::publish(&engine, &registry, "cc/exec", FixtureSpec::default()).await?;
    let name = engine.unique_name("cc-exec");
    let id = engine
        .run_container(&name, ContainerSpec::new(image.reference()))
        .await?;

    let out = client
        .exec(&id, "echo hello; echo oops >&2; exit 3", None)
        .await?;
    assert_eq!(out.exit_code, Some(3));
    assert!(
        out.output.contains("hello") && out.output.contains("oops"),
        "{:?}",
        out.output
    );

    let out = client
        .exec(&name, "true", Some(Duration::from_secs(10)))
        .await?;
    assert_eq!(out.exit_code, Some(0));
    assert_eq!(out.output, "");

    let started = tokio::time::Instant::now();
    let out = client
        .exec(
            &id,
            "echo before; sleep 30",
            Some(Duration::from_millis(700)),
        )
        .await?;
    assert_eq!(out.exit_code, None, "timed out");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(out.output.contains("before"), "{:?}", out.output);

    let out = client
        .exec(&id, "seq 1 100000", Some(Duration::from_secs(20)))
        .await?;
    assert_eq!(out.exit_code, Some(0));
    assert!(
        out.output.ends_with("[output truncated]"),
        "{}",
        &out.output[out.output.len() - 40..]
    );
    assert!(out.output.len() <= EXEC_OUTPUT_LIMIT + 20);
    assert!(out.output.starts_with("1\n2\n3\n"));

    let err = client
        .exec("cc-no-such-container", "true", None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::NotFound {
                kind: "container",
                ..
            }
        ),
        "{err:?}"
    );

    client.stop_container(&id, stop(5)).await?;
    let err = client.exec(&id, "true", None).await.unwrap_err();
    assert!(
        matches!(&err, Error::Container { container, .. } if *container == id),
        "{err:?}"
    );
    Ok(())
}

async fn exit_code(engine: &Engine, id: &str) -> anyhow::Result<Option<i64>> {
    Ok(engine
        .inspect_container(id)
        .await?
        .state
        .and_then(|s| s.exit_code))
}

#[tokio::test]
async fn stop_sends_the_signal_and_kills_after_the_timeout() -> anyhow::Result<()> {
    let Some((engine, client)) = setup().await else {
        return Ok(());
    };
    let registry = Registry::start(RegistryMode::Plain).await?;
    let image =
        FixtureImage::publish(&engine, &registry, "cc/stop", FixtureSpec::default()).await?;

    // A custom signal reaches the process: it exits 42 only from its USR1 trap.
    let usr1 = engine
        .run_container(
            &engine.unique_name("cc-usr1"),
            ContainerSpec::new(image.reference()).cmd(strings(&[
                "/bin/sh",
                "-c",
                "trap 'exit 42' USR1; trap 'exit 1' TERM; echo trapped; sleep 2147483647 & wait",
            ])),
        )
        .await?;
    engine
        .wait_for_output(&usr1, "trapped", Duration::from_secs(30))
        .await?;
    client
        .stop_container(
            &usr1,
            StopOptions {
                signal: "SIGUSR1".into(),
                timeout: Duration::from_secs(10),
            },
        )
        .await?;
    assert_eq!(exit_code(&engine, &usr1).await?, Some(42));

    // A process that ignores the signal is killed once the timeout runs out.
    let stubborn = engine
        .run_container(
            &engine.unique_name("cc-stubborn"),
            ContainerSpec::new(image.reference()).cmd(strings(&[
                "/bin/sh",
                "-c",
                "trap '' TERM; while true; do sleep 1; done",
            ])),
        )
        .await?;
    let started = tokio::time::Instant::now();
    client.stop_container(&stubborn, stop(1)).await?;
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(15),
        "{took:?}"
    );
    assert_eq!(exit_code(&engine, &stubborn).await?, Some(137));

    // A restart policy does not bring back a container stopped with another signal.
    let always = engine
        .run_container(
            &engine.unique_name("cc-always"),
            ContainerSpec::new(image.reference())
                .cmd(strings(&[
                    "/bin/sh",
                    "-c",
                    "trap 'exit 0' USR1; echo trapped; sleep 2147483647 & wait",
                ]))
                .host_config(HostConfig {
                    network_mode: Some("none".into()),
                    restart_policy: Some(RestartPolicy {
                        name: Some(RestartPolicyNameEnum::ALWAYS),
                        maximum_retry_count: None,
                    }),
                    ..HostConfig::default()
                }),
        )
        .await?;
    engine
        .wait_for_output(&always, "trapped", Duration::from_secs(30))
        .await?;
    client
        .stop_container(
            &always,
            StopOptions {
                signal: "SIGUSR1".into(),
                timeout: Duration::from_secs(3),
            },
        )
        .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let state = client.inspect_container(&always).await?.state;
    assert_eq!(state, ContainerState::Exited);

    // Stopping a stopped container is fine; a missing one is named.
    client.stop_container(&usr1, stop(1)).await?;
    let err = client
        .stop_container("cc-no-such-container", stop(1))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "container cc-no-such-container not found");
    Ok(())
}

#[tokio::test]
async fn wait_until_ready_follows_the_healthcheck() -> anyhow::Result<()> {
    let Some((engine, client)) = setup().await else {
        return Ok(());
    };
    let registry = Registry::start(RegistryMode::Plain).await?;
    let image = FixtureImage::publish(
        &engine,
        &registry,
        "cc/ready",
        FixtureSpec::default().line("HEALTHCHECK --interval=1s --timeout=2s CMD true"),
    )
    .await?;
    let with_health = |test: &[&str], start_period_s: i64| {
        let test = strings(test);
        ContainerSpec::new(image.reference()).with_body(move |b: &mut ContainerCreateBody| {
            b.healthcheck = Some(HealthConfig {
                test: Some(test),
                interval: Some(500_000_000),
                retries: Some(1),
                start_period: Some(start_period_s * 1_000_000_000),
                ..HealthConfig::default()
            });
        })
    };

    let healthy = engine
        .run_container(
            &engine.unique_name("cc-healthy"),
            ContainerSpec::new(image.reference()),
        )
        .await?;
    client
        .wait_until_ready(&healthy, Duration::from_secs(20))
        .await?;
    assert_eq!(
        client.inspect_container(&healthy).await?.health,
        Some(HealthStatus::Healthy)
    );

    let sick = engine
        .run_container(
            &engine.unique_name("cc-sick"),
            with_health(&["CMD", "false"], 0),
        )
        .await?;
    let err = client
        .wait_until_ready(&sick, Duration::from_secs(20))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("unhealthy"), "{err}");

    let slow = engine
        .run_container(
            &engine.unique_name("cc-slow"),
            with_health(&["CMD-SHELL", "sleep 30"], 60),
        )
        .await?;
    let err = client
        .wait_until_ready(&slow, Duration::from_secs(2))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");

    let exits = engine
        .run_container(
            &engine.unique_name("cc-exits"),
            ContainerSpec::new(image.reference()).cmd(strings(&["/bin/sh", "-c", "exit 3"])),
        )
        .await?;
    let err = client
        .wait_until_ready(&exits, Duration::from_secs(20))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("exited"), "{err}");

    // No healthcheck at all: running is ready.
    let plain = engine
        .run_container(
            &engine.unique_name("cc-nohealth"),
            with_health(&["NONE"], 0),
        )
        .await?;
    client
        .wait_until_ready(&plain, Duration::from_secs(20))
        .await?;
    Ok(())
}

#[tokio::test]
async fn list_filters_by_state_and_removal_is_idempotent() -> anyhow::Result<()> {
    let Some((engine, client)) = setup().await else {
        return Ok(());
    };
    let registry = Registry::start(RegistryMode::Plain).await?;
    let mut image =
        FixtureImage::publish(&engine, &registry, "cc/list", FixtureSpec::default()).await?;
    let running = engine
        .run_container(
            &engine.unique_name("cc-running"),
            ContainerSpec::new(image.reference()),
        )
        .await?;
    let created = engine
        .create_container(
            &engine.unique_name("cc-created"),
            ContainerSpec::new(image.reference()),
        )
        .await?;
    let exited = engine
        .run_container(
            &engine.unique_name("cc-exited"),
            ContainerSpec::new(image.reference()).cmd(strings(&["true"])),
        )
        .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let ours = |list: Vec<Container>| {
        let mut ids: Vec<String> = list
            .into_iter()
            .filter(|c| {
                c.labels
                    .get(watchtower_testkit::RUN_LABEL)
                    .map(String::as_str)
                    == Some(engine.run_id())
            })
            .map(|c| c.id)
            .collect();
        ids.sort();
        ids
    };
    let listed = ours(client.list_containers(ListOptions::default()).await?);
    assert_eq!(listed, vec![running.clone()]);
    let mut all = vec![running.clone(), created.clone(), exited.clone()];
    all.sort();
    let listed = ours(
        client
            .list_containers(ListOptions {
                include_stopped: true,
                include_restarting: true,
            })
            .await?,
    );
    assert_eq!(listed, all);

    // Remove: twice is fine.
    client.remove_container(&created, true).await?;
    client.remove_container(&created, true).await?;
    assert!(!engine.container_exists(&created).await?);
    // Removing a running container forces it.
    client.remove_container(&running, false).await?;
    assert!(!engine.container_exists(&running).await?);
    client.remove_container(&exited, false).await?;

    // The old image goes once nothing uses it.
    let v1 = image.image_id().to_owned();
    image.publish_next_version().await?;
    client.pull_image(&image.reference(), None).await?;
    client.remove_image(&v1).await?;
    let err = client.inspect_image(&v1).await.unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");

    let err = client
        .rename_container("cc-no-such-container", "x")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    Ok(())
}

/// Links on a user network live in the endpoint (`HostConfig.Links` is for the default bridge
/// only, which these tests do not use; its rewrite is unit-tested).
#[tokio::test]
async fn links_survive_an_update() -> anyhow::Result<()> {
    let Some((engine, client)) = setup().await else {
        return Ok(());
    };
    let registry = Registry::start(RegistryMode::Plain).await?;
    let mut image =
        FixtureImage::publish(&engine, &registry, "cc/links", FixtureSpec::default()).await?;
    let net = engine.unique_name("cc-links");
    engine.create_network(&net).await?;
    let db = engine.unique_name("cc-db");
    engine
        .run_container(
            &db,
            ContainerSpec::new(image.reference()).network_mode(&net),
        )
        .await?;
    let web = engine.unique_name("cc-web");
    let body = ContainerSpec::new(image.reference())
        .network_mode(&net)
        .with_body(|b| {
            b.networking_config = Some(NetworkingConfig {
                endpoints_config: Some(HashMap::from([(
                    net.clone(),
                    EndpointSettings {
                        links: Some(vec![format!("{db}:db-alias")]),
                        ..EndpointSettings::default()
                    },
                )])),
            });
        });
    engine.run_container(&web, body).await?;
    let before = client.inspect_container(&web).await?;
    assert_eq!(before.networks[0].links, vec![format!("{db}:db-alias")]);
    image.publish_next_version().await?;
    let new_image = client.pull_image(&image.reference(), None).await?;
    let (_, after) = recreate(&client, &before, &new_image).await?;
    assert_eq!(after.networks, before.networks);
    Ok(())
}

/// Version 1 of the volume fixture: `VOLUME /data`.
fn with_volumes(volumes: &[&str]) -> FixtureSpec {
    volumes.iter().fold(FixtureSpec::default(), |spec, v| {
        spec.line(&format!("VOLUME {v}"))
    })
}

/// An image with `VOLUME /data`, a running container of it that wrote `/data/file`, and the
/// anonymous volume the engine gave it (tracked for removal).
async fn container_with_data(
    engine: &Engine,
    client: &DockerClient,
    registry: &Registry,
    volumes: &AnonymousVolumes,
    repo: &str,
) -> anyhow::Result<(FixtureImage, Container, String)> {
    let image = FixtureImage::publish(engine, registry, repo, with_volumes(&["/data"])).await?;
    let name = engine.unique_name(&repo.replace('/', "-"));
    let id = engine
        .run_container(&name, ContainerSpec::new(image.reference()))
        .await?;
    sh(client, &id, "echo precious > /data/file").await?;
    let data = volume_at(engine, &id, "/data")
        .await?
        .context("/data volume")?;
    volumes.track(&data);
    assert_eq!(data.len(), 64, "an anonymous volume: {data}");
    Ok((image, client.inspect_container(&id).await?, data))
}

#[tokio::test]
async fn anonymous_volumes_are_carried_over_and_new_ones_are_fresh() -> anyhow::Result<()> {
    let Some((engine, client)) = setup().await else {
        return Ok(());
    };
    let volumes = AnonymousVolumes::default();
    let registry = Registry::start(RegistryMode::Plain).await?;
    let (mut image, before, data) =
        container_with_data(&engine, &client, &registry, &volumes, "cc/anon").await?;

    // v2 keeps /data and adds /cache.
    image
        .publish_next_with(with_volumes(&["/data", "/cache"]))
        .await?;
    let v2 = client.pull_image(&image.reference(), None).await?;
    let (spec, after) = recreate(&client, &before, &v2).await?;
    assert_eq!(carried(&spec), [(data.clone(), "/data".to_owned())]);
    assert_eq!(
        volume_at(&engine, &after.id, "/data").await?,
        Some(data.clone())
    );
    assert_eq!(sh(&client, &after.id, "cat /data/file").await?, "precious");
    let cache = volume_at(&engine, &after.id, "/cache")
        .await?
        .context("/cache")?;
    volumes.track(&cache);
    assert_ne!(cache, data, "a new VOLUME gets a volume of its own");
    assert_eq!(sh(&client, &after.id, "ls -A /cache | wc -l").await?, "0");
    assert!(
        volume_exists(&engine, &data).await?,
        "removing the old container with its volumes kept the one the new container uses"
    );
    // The host configuration says what was carried, and marks it as watchtower's.
    let mounts = host_mounts(&engine, &after.id).await?;
    assert_eq!(mounts.len(), 1, "{mounts:?}");
    assert_eq!(mounts[0].source.as_deref(), Some(data.as_str()));
    assert!(
        mounts[0]
            .volume_options
            .as_ref()
            .and_then(|o| o.labels.as_ref())
            .is_some_and(|l| l.contains_key(CARRIED_VOLUME_LABEL)),
        "{mounts:?}"
    );

    // The next update carries both, and the host configuration does not grow.
    sh(&client, &after.id, "echo cached > /cache/file").await?;
    image
        .publish_next_with(with_volumes(&["/data", "/cache"]))
        .await?;
    let v3 = client.pull_image(&image.reference(), None).await?;
    let (spec, third) = recreate(&client, &after, &v3).await?;
    assert_eq!(spec.carried_volumes.len(), 2, "{:?}", spec.carried_volumes);
    assert_eq!(
        sh(&client, &third.id, "cat /data/file /cache/file").await?,
        "precious\ncached"
    );
    assert_eq!(host_mounts(&engine, &third.id).await?.len(), 2);

    // v4 drops /cache: not carried, the new container has nothing there. The volume stays
    // (watchtower had mounted it by name, and the engine removes no such volume with a
    // container): a dangling volume, as `docker volume ls -f dangling=true` shows.
    image.publish_next_with(with_volumes(&["/data"])).await?;
    let v4 = client.pull_image(&image.reference(), None).await?;
    let (spec, fourth) = recreate(&client, &third, &v4).await?;
    assert_eq!(spec.carried_volumes.len(), 1);
    assert_eq!(volume_at(&engine, &fourth.id, "/cache").await?, None);
    assert_eq!(sh(&client, &fourth.id, "cat /data/file").await?, "precious");
    assert!(volume_exists(&engine, &cache).await?);
    Ok(())
}

#[tokio::test]
async fn a_volume_the_new_image_no_longer_declares_is_not_carried() -> anyhow::Result<()> {
    let Some((engine, client)) = setup().await else {
        return Ok(());
    };
    let volumes = AnonymousVolumes::default();
    let registry = Registry::start(RegistryMode::Plain).await?;
    let (mut image, before, data) =
        container_with_data(&engine, &client, &registry, &volumes, "cc/dropped").await?;
    image.publish_next_with(with_volumes(&["/other"])).await?;
    let v2 = client.pull_image(&image.reference(), None).await?;
    let (spec, after) = recreate(&client, &before, &v2).await?;
    assert!(spec.carried_volumes.is_empty());
    assert_eq!(volume_at(&engine, &after.id, "/data").await?, None);
    let other = volume_at(&engine, &after.id, "/other")
        .await?
        .context("/other")?;
    volumes.track(&other);
    assert_ne!(other, data);
    // Removed with the old container (with its volumes), as before: it was anonymous there.
    assert!(!volume_exists(&engine, &data).await?);
    Ok(())
}

#[tokio::test]
async fn removing_a_half_made_container_keeps_the_volumes_it_carried() -> anyhow::Result<()> {
    let Some((engine, client)) = setup().await else {
        return Ok(());
    };
    let volumes = AnonymousVolumes::default();
    let registry = Registry::start(RegistryMode::Plain).await?;
    let (mut image, before, data) =
        container_with_data(&engine, &client, &registry, &volumes, "cc/half").await?;
    image
        .publish_next_with(with_volumes(&["/data", "/cache"]))
        .await?;
    let v2 = client.pull_image(&image.reference(), None).await?;
    let old_image = client.inspect_image(&before.image_id).await?;
    let spec = RecreateSpec::build(&before, &old_image, &v2, &before.image_reference);

    // The update protocol's rollback: the new container is removed with its volumes.
    client.stop_container(&before.id, stop(10)).await?;
    let aside = format!("{}-wt-old-{}", before.name, before.short_id());
    client.rename_container(&before.id, &aside).await?;
    let new_id = client.create_container(&spec).await?;
    assert_eq!(
        volume_at(&engine, &new_id, "/data").await?,
        Some(data.clone())
    );
    let cache = volume_at(&engine, &new_id, "/cache")
        .await?
        .context("/cache")?;
    volumes.track(&cache);
    client.remove_container(&new_id, true).await?;
    assert!(
        !volume_exists(&engine, &cache).await?,
        "the volume the engine made for the new container went with it"
    );
    assert!(
        volume_exists(&engine, &data).await?,
        "the carried one stays"
    );
    client.rename_container(&before.id, &before.name).await?;
    client.start_container(&before.id).await?;
    assert_eq!(sh(&client, &before.id, "cat /data/file").await?, "precious");
    Ok(())
}

#[tokio::test]
async fn named_volumes_and_bind_mounts_stay_as_they_were() -> anyhow::Result<()> {
    let Some((engine, client)) = setup().await else {
        return Ok(());
    };
    let registry = Registry::start(RegistryMode::Plain).await?;
    let mut image = FixtureImage::publish(
        &engine,
        &registry,
        "cc/named",
        with_volumes(&["/data", "/bound"]),
    )
    .await?;
    let named = engine
        .create_volume(&engine.unique_name("cc-named"))
        .await?;
    let host_dir = tempfile::tempdir()?;
    let name = engine.unique_name("cc-named");
    let body = ContainerSpec::new(image.reference()).host_config(HostConfig {
        network_mode: Some("none".into()),
        binds: Some(vec![
            format!("{named}:/data"),
            format!("{}:/bound", host_dir.path().display()),
        ]),
        ..HostConfig::default()
    });
    let id = engine.run_container(&name, body).await?;
    sh(
        &client,
        &id,
        "echo named > /data/file && echo bound > /bound/file",
    )
    .await?;
    let raw_before = engine.inspect_container(&id).await?;
    let before = client.inspect_container(&id).await?;

    image
        .publish_next_with(with_volumes(&["/data", "/bound"]))
        .await?;
    let v2 = client.pull_image(&image.reference(), None).await?;
    let (spec, after) = recreate(&client, &before, &v2).await?;
    assert!(
        spec.carried_volumes.is_empty(),
        "{:?}",
        spec.carried_volumes
    );
    let raw_after = engine.inspect_container(&after.id).await?;
    assert_eq!(raw_after.host_config, raw_before.host_config);
    assert_eq!(volume_at(&engine, &after.id, "/data").await?, Some(named));
    assert_eq!(
        sh(&client, &after.id, "cat /data/file /bound/file").await?,
        "named\nbound"
    );
    Ok(())
}
