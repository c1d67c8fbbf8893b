//! What `DockerClient` does differently by API version, checked against the real engine.
//!
//! These tests run on the machine's engine (Docker 20.10, API 1.41) and, through
//! `cargo xtask ci` (`cargo xtask engine-26`), on Docker Engine 26.1 (API 1.45). Each one reads
//! the negotiated version and asserts what that version promises (see `ApiVersion`): both sides
//! of every switch are checked, none is skipped. Without an engine they skip loudly (and fail
//! under `WATCHTOWER_E2E=required`). Containers run on internal networks or with no network and
//! send no traffic; every object carries the testkit run label.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use bollard::models::{EndpointIpamConfig, EndpointSettings, NetworkingConfig};
use bollard::query_parameters::EventsOptionsBuilder;
use futures_util::StreamExt as _;
use watchtower_container_client::{
    Container, ContainerClient, ContainerConfig, ContainerState, DockerClient, DockerOptions,
    HostConfig, NetworkAttachment, NetworkMode, RecreateSpec, StopOptions,
};
use watchtower_testkit::{
    ContainerSpec, Engine, FixtureImage, FixtureSpec, Registry, RegistryMode,
};

async fn setup() -> Option<(Engine, DockerClient)> {
    let engine = Engine::require().await?;
    let client = DockerClient::connect(DockerOptions::from_env().expect("docker environment"))
        .await
        .expect("DockerClient connects to the engine the testkit found");
    let info = client.engine_info().await.expect("engine version");
    eprintln!(
        "engine {} at {}: speaking API {}",
        info.server_version,
        client.host(),
        client.api_version()
    );
    Some((engine, client))
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

/// The MAC the bridge driver derives from an endpoint's IPv4 address: `02:42:` and the four
/// octets (Docker 20.10 and 26.1 alike).
fn derived_mac(ipv4: &str) -> String {
    let ip: std::net::Ipv4Addr = ipv4.parse().expect("an IPv4 address");
    let [a, b, c, d] = ip.octets();
    format!("02:42:{a:02x}:{b:02x}:{c:02x}:{d:02x}")
}

/// The engine's own view of a container's endpoints, by network name.
async fn endpoints(engine: &Engine, id: &str) -> anyhow::Result<HashMap<String, EndpointSettings>> {
    Ok(engine
        .inspect_container(id)
        .await?
        .network_settings
        .and_then(|n| n.networks)
        .unwrap_or_default())
}

fn sorted_keys(m: &HashMap<String, EndpointSettings>) -> Vec<String> {
    let mut v: Vec<String> = m.keys().cloned().collect();
    v.sort();
    v
}

/// The MAC addresses of the container's interfaces as its kernel sees them (loopback aside).
async fn interface_macs(client: &DockerClient, id: &str) -> anyhow::Result<BTreeSet<String>> {
    let out = client
        .exec(
            id,
            "cat /sys/class/net/*/address",
            Some(Duration::from_secs(10)),
        )
        .await?;
    assert_eq!(out.exit_code, Some(0), "{}", out.output);
    Ok(out
        .output
        .lines()
        .map(str::trim)
        .filter(|m| !m.is_empty() && *m != "00:00:00:00:00:00")
        .map(str::to_owned)
        .collect())
}

/// What an update does through the trait: stop, rename aside, create, connect, start, remove.
async fn recreate(
    client: &DockerClient,
    old: &Container,
    spec: &RecreateSpec,
) -> anyhow::Result<Container> {
    client
        .stop_container(
            &old.id,
            StopOptions {
                signal: "SIGTERM".into(),
                timeout: Duration::from_secs(10),
            },
        )
        .await?;
    client
        .rename_container(&old.id, &format!("{}-wt-old-{}", old.name, old.short_id()))
        .await?;
    let id = client.create_container(spec).await?;
    client.connect_networks(&id, spec).await?;
    client.start_container(&id).await?;
    client.remove_container(&old.id, false).await?;
    Ok(client.inspect_container(&id).await?)
}

const MAC_FRONT: &str = "02:aa:bb:cc:44:01";
const MAC_BACK: &str = "02:aa:bb:cc:44:02";

/// Two internal networks and a spec for a container on both, with an alias and a user MAC on
/// each, `front` the primary one.
async fn two_network_spec(
    engine: &Engine,
    client: &DockerClient,
    image: &FixtureImage,
    prefix: &str,
) -> anyhow::Result<RecreateSpec> {
    let front = engine.unique_name(&format!("{prefix}-front"));
    let back = engine.unique_name(&format!("{prefix}-back"));
    engine.create_network(&front).await?;
    engine.create_network(&back).await?;
    let base = client.inspect_image(&image.reference()).await?;
    Ok(RecreateSpec {
        name: engine.unique_name(prefix),
        image: image.reference(),
        config: ContainerConfig {
            mac_address: Some(MAC_FRONT.into()),
            labels: engine.labels().into_iter().collect(),
            ..base.config.clone()
        },
        host_config: HostConfig::default(),
        network_mode: NetworkMode::Named(front.clone()),
        networks: vec![
            NetworkAttachment {
                network: back,
                aliases: strings(&["back-alias"]),
                mac_address: Some(MAC_BACK.into()),
                ..NetworkAttachment::default()
            },
            NetworkAttachment {
                network: front,
                aliases: strings(&["front-alias"]),
                mac_address: Some(MAC_FRONT.into()),
                ..NetworkAttachment::default()
            },
        ],
        carried_volumes: Vec::new(),
    })
}

#[tokio::test]
async fn from_api_1_44_one_create_attaches_every_network_with_its_mac() -> anyhow::Result<()> {
    let Some((engine, client)) = setup().await else {
        return Ok(());
    };
    let api = client.api_version();
    let registry = Registry::start(RegistryMode::Plain).await?;
    let image =
        FixtureImage::publish(&engine, &registry, "ev/multinet", FixtureSpec::default()).await?;
    let spec = two_network_spec(&engine, &client, &image, "ev-multi").await?;
    let (back, front) = (
        spec.networks[0].network.clone(),
        spec.networks[1].network.clone(),
    );
    let mut both = vec![front.clone(), back.clone()];
    both.sort();

    let id = client.create_container(&spec).await?;
    let created = endpoints(&engine, &id).await?;
    if api.creates_with_all_networks() {
        assert_eq!(
            sorted_keys(&created),
            both,
            "API {api}: the create call itself attaches every network"
        );
        assert_eq!(created[&back].mac_address.as_deref(), Some(MAC_BACK));
        assert_eq!(created[&front].mac_address.as_deref(), Some(MAC_FRONT));
    } else {
        assert_eq!(
            sorted_keys(&created),
            vec![front.clone()],
            "API {api}: create attaches the primary network only (the engine refuses more)"
        );
    }
    client.connect_networks(&id, &spec).await?;
    client.start_container(&id).await?;

    let started = endpoints(&engine, &id).await?;
    assert_eq!(sorted_keys(&started), both);
    let c = client.inspect_container(&id).await?;
    assert_eq!(c.state, ContainerState::Running);
    let aliases: Vec<(&str, &[String])> = c
        .networks
        .iter()
        .map(|n| (n.network.as_str(), n.aliases.as_slice()))
        .collect();
    assert!(
        aliases.contains(&(back.as_str(), &strings(&["back-alias"])[..])),
        "{aliases:?}"
    );
    assert!(
        aliases.contains(&(front.as_str(), &strings(&["front-alias"])[..])),
        "{aliases:?}"
    );

    let back_ip = started[&back].ip_address.clone().unwrap_or_default();
    assert_eq!(started[&front].mac_address.as_deref(), Some(MAC_FRONT));
    let expected_back = if api.has_endpoint_mac_address() {
        MAC_BACK.to_owned()
    } else {
        // Below 1.44 a MAC can only be asked for container-wide, for the first network.
        derived_mac(&back_ip)
    };
    assert_eq!(
        started[&back].mac_address.as_deref(),
        Some(expected_back.as_str()),
        "API {api}"
    );
    assert_eq!(
        interface_macs(&client, &id).await?,
        BTreeSet::from([MAC_FRONT.to_owned(), expected_back]),
        "API {api}: the interfaces inside the container"
    );
    Ok(())
}

#[tokio::test]
async fn user_macs_on_every_network_survive_an_update_from_api_1_44() -> anyhow::Result<()> {
    let Some((engine, client)) = setup().await else {
        return Ok(());
    };
    let api = client.api_version();
    let registry = Registry::start(RegistryMode::Plain).await?;
    let mut image =
        FixtureImage::publish(&engine, &registry, "ev/macs", FixtureSpec::default()).await?;
    let first = two_network_spec(&engine, &client, &image, "ev-macs").await?;
    let (back, front) = (
        first.networks[0].network.clone(),
        first.networks[1].network.clone(),
    );
    let id = client.create_container(&first).await?;
    client.connect_networks(&id, &first).await?;
    client.start_container(&id).await?;
    let before = client.inspect_container(&id).await?;

    image.publish_next_version().await?;
    let new_image = client.pull_image(&image.reference(), None).await?;
    let old_image = client.inspect_image(&before.image_id).await?;
    let spec = RecreateSpec::build(&before, &old_image, &new_image, &before.image_reference);
    let macs: Vec<(&str, Option<&str>)> = spec
        .networks
        .iter()
        .map(|n| (n.network.as_str(), n.mac_address.as_deref()))
        .collect();
    let back_mac = api.has_endpoint_mac_address().then_some(MAC_BACK);
    assert!(
        macs.contains(&(front.as_str(), Some(MAC_FRONT))),
        "{macs:?}"
    );
    assert!(
        macs.contains(&(back.as_str(), back_mac)),
        "API {api}: below 1.44 the second network's MAC was the engine's, so none is carried \
         over: {macs:?}"
    );

    let after = recreate(&client, &before, &spec).await?;
    assert_ne!(after.id, before.id);
    assert_eq!(after.config.mac_address.as_deref(), Some(MAC_FRONT));
    let raw = endpoints(&engine, &after.id).await?;
    assert_eq!(raw[&front].mac_address.as_deref(), Some(MAC_FRONT));
    let back_ip = raw[&back].ip_address.clone().unwrap_or_default();
    let expected_back = back_mac.map_or_else(|| derived_mac(&back_ip), str::to_owned);
    assert_eq!(
        raw[&back].mac_address.as_deref(),
        Some(expected_back.as_str()),
        "API {api}"
    );
    assert_eq!(
        interface_macs(&client, &after.id).await?,
        BTreeSet::from([MAC_FRONT.to_owned(), expected_back])
    );
    assert_eq!(
        after.networks, spec.networks,
        "the engine agrees with the spec"
    );
    Ok(())
}

#[tokio::test]
async fn an_engine_generated_mac_is_not_carried_over() -> anyhow::Result<()> {
    let Some((engine, client)) = setup().await else {
        return Ok(());
    };
    let registry = Registry::start(RegistryMode::Plain).await?;
    let mut image =
        FixtureImage::publish(&engine, &registry, "ev/genmac", FixtureSpec::default()).await?;
    let n = 16 + std::process::id() % 200;
    let (cidr, old_ip, new_ip) = (
        format!("10.232.{n}.0/24"),
        format!("10.232.{n}.20"),
        format!("10.232.{n}.21"),
    );
    let net = engine.unique_name("ev-genmac");
    engine.create_network_with_subnet(&net, &cidr).await?;
    let name = engine.unique_name("ev-genmac");
    let static_ip = |ip: &str| {
        let (net, ip) = (net.clone(), ip.to_owned());
        move |b: &mut bollard::models::ContainerCreateBody| {
            b.networking_config = Some(NetworkingConfig {
                endpoints_config: Some(HashMap::from([(
                    net,
                    EndpointSettings {
                        ipam_config: Some(EndpointIpamConfig {
                            ipv4_address: Some(ip),
                            ..EndpointIpamConfig::default()
                        }),
                        ..EndpointSettings::default()
                    },
                )])),
            });
        }
    };
    let id = engine
        .run_container(
            &name,
            ContainerSpec::new(image.reference())
                .network_mode(&net)
                .with_body(static_ip(&old_ip)),
        )
        .await?;
    let raw = endpoints(&engine, &id).await?;
    let engine_mac = raw[&net].mac_address.clone().unwrap_or_default();
    let before = client.inspect_container(&id).await?;
    if engine_mac != derived_mac(&old_ip) {
        // Docker 28 and later: a random MAC, which inspect cannot tell from a user's.
        return a_random_engine_mac_is_kept(&client, &before, &engine_mac, &net, &new_ip, image)
            .await;
    }
    assert_eq!(
        before.networks[0].mac_address, None,
        "read as the engine's, not the user's"
    );
    assert_eq!(before.config.mac_address, None);

    image.publish_next_version().await?;
    let new_image = client.pull_image(&image.reference(), None).await?;
    let old_image = client.inspect_image(&before.image_id).await?;
    let mut spec = RecreateSpec::build(&before, &old_image, &new_image, &before.image_reference);
    assert_eq!(spec.networks[0].mac_address, None);
    assert_eq!(spec.config.mac_address, None);
    // The address changes (as when it was reassigned meanwhile): a carried-over MAC would now
    // be another container's.
    spec.networks[0].ipv4_address = Some(new_ip.clone());

    client
        .stop_container(
            &before.id,
            StopOptions {
                signal: "SIGTERM".into(),
                timeout: Duration::from_secs(10),
            },
        )
        .await?;
    client
        .rename_container(&before.id, &format!("{name}-wt-old"))
        .await?;
    let recreated = client.create_container(&spec).await?;
    let created = endpoints(&engine, &recreated).await?;
    assert_eq!(
        created[&net].mac_address.as_deref().unwrap_or(""),
        "",
        "no MAC is asked for at create"
    );
    client.connect_networks(&recreated, &spec).await?;
    client.start_container(&recreated).await?;
    client.remove_container(&before.id, false).await?;

    let raw = endpoints(&engine, &recreated).await?;
    assert_eq!(raw[&net].ip_address.as_deref(), Some(new_ip.as_str()));
    let mac = raw[&net].mac_address.clone().unwrap_or_default();
    assert_eq!(
        mac,
        derived_mac(&new_ip),
        "the engine's MAC for the new address"
    );
    assert_ne!(mac, engine_mac);
    let after = client.inspect_container(&recreated).await?;
    assert_eq!(after.networks[0].mac_address, None);
    Ok(())
}

/// From Docker 28 the engine's MACs are random (not `02:42:` + the address): nothing in inspect
/// says whether the user set one, so it is carried over like a user's, and the container keeps
/// its MAC across the update, at a new address too (a random MAC does not clash when the
/// address is reassigned, unlike a derived one).
async fn a_random_engine_mac_is_kept(
    client: &DockerClient,
    before: &Container,
    engine_mac: &str,
    net: &str,
    new_ip: &str,
    mut image: FixtureImage,
) -> anyhow::Result<()> {
    assert!(
        !engine_mac.is_empty() && !engine_mac.starts_with("02:42:"),
        "an engine that does not derive MACs gives random ones: {engine_mac:?}"
    );
    assert_eq!(
        before.networks[0].mac_address.as_deref(),
        Some(engine_mac),
        "a MAC that is not derived from the address is read as the container's own"
    );
    image.publish_next_version().await?;
    let new_image = client.pull_image(&image.reference(), None).await?;
    let old_image = client.inspect_image(&before.image_id).await?;
    let mut spec = RecreateSpec::build(before, &old_image, &new_image, &before.image_reference);
    assert_eq!(spec.networks[0].mac_address.as_deref(), Some(engine_mac));
    spec.networks[0].ipv4_address = Some(new_ip.to_owned());
    client
        .stop_container(
            &before.id,
            StopOptions {
                signal: "SIGTERM".into(),
                timeout: Duration::from_secs(10),
            },
        )
        .await?;
    client
        .rename_container(&before.id, &format!("{}-wt-old", before.name))
        .await?;
    let recreated = client.create_container(&spec).await?;
    client.connect_networks(&recreated, &spec).await?;
    client.start_container(&recreated).await?;
    client.remove_container(&before.id, false).await?;
    let after = client.inspect_container(&recreated).await?;
    assert_eq!(after.networks[0].network, net);
    assert_eq!(after.networks[0].ipv4_address.as_deref(), Some(new_ip));
    assert_eq!(
        after.networks[0].mac_address.as_deref(),
        Some(engine_mac),
        "the MAC is kept at the new address"
    );
    Ok(())
}

/// Container events of `id` from `since` (seconds since the epoch) until a second from now,
/// as (action, `signal` attribute).
async fn events(
    engine: &Engine,
    id: &str,
    since: u64,
) -> anyhow::Result<Vec<(String, Option<String>)>> {
    let until = (SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() + 1).to_string();
    let since = since.to_string();
    let filters = HashMap::from([("type", vec!["container"]), ("container", vec![id])]);
    let options = EventsOptionsBuilder::default()
        .since(&since)
        .until(&until)
        .filters(&filters)
        .build();
    let mut stream = engine.docker().events(Some(options));
    let mut out = Vec::new();
    while let Some(event) = stream.next().await {
        let event = event.context("reading engine events")?;
        let signal = event
            .actor
            .and_then(|a| a.attributes)
            .and_then(|a| a.get("signal").cloned());
        out.push((event.action.unwrap_or_default(), signal));
    }
    Ok(out)
}

#[tokio::test]
async fn from_api_1_42_another_signal_is_sent_by_the_stop_call() -> anyhow::Result<()> {
    let Some((engine, client)) = setup().await else {
        return Ok(());
    };
    let api = client.api_version();
    let registry = Registry::start(RegistryMode::Plain).await?;
    let image =
        FixtureImage::publish(&engine, &registry, "ev/stop", FixtureSpec::default()).await?;
    let id = engine
        .run_container(
            &engine.unique_name("ev-usr1"),
            ContainerSpec::new(image.reference())
                .stop_signal("SIGINT")
                .cmd(strings(&[
                    "/bin/sh",
                    "-c",
                    "trap 'exit 42' USR1; trap 'exit 1' TERM INT; echo trapped; sleep 2147483647 & wait",
                ])),
        )
        .await?;
    engine
        .wait_for_output(&id, "trapped", Duration::from_secs(30))
        .await?;
    let since = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() - 1;
    client
        .stop_container(
            &id,
            StopOptions {
                signal: "SIGUSR1".into(),
                timeout: Duration::from_secs(10),
            },
        )
        .await?;
    let state = engine
        .inspect_container(&id)
        .await?
        .state
        .context("state")?;
    assert_eq!(state.exit_code, Some(42), "SIGUSR1 reached the process");

    let seen = events(&engine, &id, since).await?;
    let actions: Vec<&str> = seen.iter().map(|(a, _)| a.as_str()).collect();
    let kills: Vec<Option<&str>> = seen
        .iter()
        .filter(|(a, _)| a == "kill")
        .map(|(_, s)| s.as_deref())
        .collect();
    // SIGUSR1 is signal 10 on Linux; SIGINT (2) and SIGTERM (15) must not have been sent.
    assert_eq!(kills, vec![Some("10")], "API {api}: {seen:?}");
    assert!(actions.contains(&"die"), "{seen:?}");
    if api.has_stop_signal_parameter() {
        assert!(
            actions.contains(&"stop"),
            "API {api}: POST /containers/{{id}}/stop?signal=SIGUSR1: {seen:?}"
        );
    } else {
        assert!(
            !actions.contains(&"stop"),
            "API {api}: the engine has no signal parameter, so the client kills: {seen:?}"
        );
    }
    Ok(())
}
