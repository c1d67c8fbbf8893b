//! Translation between the engine's documents (bollard models) and this crate's model.
//!
//! Pure functions, unit-tested on hand-made engine documents.

use std::collections::{BTreeMap, HashMap};

use bollard::models::{
    ContainerConfig as EngineConfig, ContainerCreateBody, ContainerInspectResponse,
    ContainerStateStatusEnum, EndpointIpamConfig, EndpointSettings, HealthConfig, HealthStatusEnum,
    ImageConfig, ImageInspect, MountPoint, NetworkingConfig,
};

use crate::api_version::ApiVersion;
use crate::model::{
    Container, ContainerConfig, ContainerState, HealthStatus, Healthcheck, HostConfig, Image,
    NetworkAttachment, NetworkMode, VolumeMount, short,
};
use crate::recreate::RecreateSpec;

/// The engine's timestamp as text. `to_string` rather than a move: bollard's date type is a
/// `String` unless a feature of another crate switches it to chrono or time.
#[allow(clippy::implicit_clone, clippy::needless_pass_by_value)]
fn date(d: bollard::models::BollardDate) -> String {
    d.to_string()
}

fn nonempty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

fn sorted_map(m: Option<HashMap<String, String>>) -> BTreeMap<String, String> {
    m.unwrap_or_default().into_iter().collect()
}

fn healthcheck(h: Option<HealthConfig>) -> Option<Healthcheck> {
    h.map(|h| Healthcheck {
        test: h.test.unwrap_or_default(),
        interval: h.interval.unwrap_or(0),
        timeout: h.timeout.unwrap_or(0),
        start_period: h.start_period.unwrap_or(0),
        start_interval: h.start_interval.unwrap_or(0),
        retries: h.retries.unwrap_or(0),
    })
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

/// A container's `Config` in the model (its MAC address is filled in by the caller).
fn container_config(c: EngineConfig) -> ContainerConfig {
    ContainerConfig {
        hostname: nonempty(c.hostname),
        domainname: nonempty(c.domainname),
        user: nonempty(c.user),
        env: c.env.unwrap_or_default(),
        cmd: c.cmd,
        entrypoint: c.entrypoint,
        working_dir: nonempty(c.working_dir),
        exposed_ports: sorted(c.exposed_ports.unwrap_or_default()),
        volumes: sorted(c.volumes.unwrap_or_default()),
        labels: sorted_map(c.labels),
        healthcheck: healthcheck(c.healthcheck),
        stop_signal: nonempty(c.stop_signal),
        stop_timeout: c.stop_timeout,
        tty: c.tty.unwrap_or(false),
        open_stdin: c.open_stdin.unwrap_or(false),
        stdin_once: c.stdin_once.unwrap_or(false),
        attach: [
            c.attach_stdin.unwrap_or(false),
            c.attach_stdout.unwrap_or(false),
            c.attach_stderr.unwrap_or(false),
        ],
        shell: c.shell,
        on_build: c.on_build,
        mac_address: None,
    }
}

/// An image's defaults in the model.
fn image_config(c: ImageConfig) -> ContainerConfig {
    ContainerConfig {
        user: nonempty(c.user),
        env: c.env.unwrap_or_default(),
        cmd: c.cmd,
        entrypoint: c.entrypoint,
        working_dir: nonempty(c.working_dir),
        exposed_ports: sorted(c.exposed_ports.unwrap_or_default()),
        volumes: sorted(c.volumes.unwrap_or_default()),
        labels: sorted_map(c.labels),
        healthcheck: healthcheck(c.healthcheck),
        stop_signal: nonempty(c.stop_signal),
        shell: c.shell,
        on_build: c.on_build,
        ..ContainerConfig::default()
    }
}

/// `02:42:` followed by the endpoint's IPv4 address: the MAC the bridge driver generates up to
/// Docker 27 (seen on Docker 20.10 and 26.1 by `tests/engine_versions.rs`). Such a MAC is not
/// the user's and must not be carried over (it would clash once the IP is reassigned). From
/// Docker 28 the driver's MACs are random: inspect cannot tell them from a user's, so they are
/// carried over, and the container keeps its MAC (a random one does not clash).
pub(crate) fn is_engine_generated_mac(mac: &str, ipv4: &str) -> bool {
    let Ok(ip) = ipv4.parse::<std::net::Ipv4Addr>() else {
        return false;
    };
    let [a, b, c, d] = ip.octets();
    mac.eq_ignore_ascii_case(&format!("02:42:{a:02x}:{b:02x}:{c:02x}:{d:02x}"))
}

/// An endpoint without what the engine added on its own: the short-ID alias and the hostname
/// alias (moby adds both on user networks before API 1.45; it adds them again on create, and
/// the hostname is kept whenever endpoints are).
fn attachment(
    network: String,
    e: EndpointSettings,
    short_id: &str,
    hostname: Option<&str>,
) -> NetworkAttachment {
    let ipam = e.ipam_config.unwrap_or_default();
    let ip = e.ip_address.unwrap_or_default();
    let mac = nonempty(e.mac_address).filter(|m| !is_engine_generated_mac(m, &ip));
    let mut aliases = e.aliases.unwrap_or_default();
    aliases.retain(|a| !a.is_empty() && a != short_id && Some(a.as_str()) != hostname);
    let mut seen = std::collections::BTreeSet::new();
    aliases.retain(|a| seen.insert(a.clone()));
    NetworkAttachment {
        network,
        aliases,
        ipv4_address: nonempty(ipam.ipv4_address),
        ipv6_address: nonempty(ipam.ipv6_address),
        links: e.links.unwrap_or_default(),
        mac_address: mac,
        driver_opts: sorted_map(e.driver_opts),
    }
}

/// `/db:/web/db` -> `db`.
fn link_target(link: &str) -> Option<String> {
    let name = link.split(':').next()?.trim_start_matches('/');
    (!name.is_empty()).then(|| name.to_owned())
}

/// The `Mounts` entries of type `volume`, sorted by destination.
fn volume_mounts(mounts: Option<Vec<MountPoint>>) -> Vec<VolumeMount> {
    let mut out: Vec<VolumeMount> = mounts
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m.typ.as_deref() == Some("volume"))
        .filter_map(|m| {
            Some(VolumeMount {
                name: nonempty(m.name)?,
                destination: nonempty(m.destination)?,
                driver: nonempty(m.driver),
                read_write: m.rw.unwrap_or(true),
            })
        })
        .collect();
    out.sort_by(|a, b| a.destination.cmp(&b.destination));
    out
}

/// A container from its inspect document. `network_mode: container:<id>` keeps the ID; the
/// caller resolves it to the name.
pub(crate) fn container(r: ContainerInspectResponse) -> Container {
    let id = r.id.unwrap_or_default();
    let short_id = short(&id).to_owned();
    let engine_config = r.config.unwrap_or_default();
    let image_reference = engine_config.image.clone().unwrap_or_default();
    let mut config = container_config(engine_config);
    let host_config = r.host_config.unwrap_or_default();
    let network_mode = NetworkMode::parse(host_config.network_mode.as_deref().unwrap_or(""));
    let links = host_config
        .links
        .iter()
        .flatten()
        .filter_map(|l| link_target(l))
        .collect();

    let endpoints = matches!(
        network_mode,
        NetworkMode::Default | NetworkMode::Bridge | NetworkMode::Named(_)
    );
    let mut networks: Vec<NetworkAttachment> = if endpoints {
        r.network_settings
            .and_then(|n| n.networks)
            .unwrap_or_default()
            .into_iter()
            .map(|(name, e)| attachment(name, e, &short_id, config.hostname.as_deref()))
            .collect()
    } else {
        Vec::new()
    };
    networks.sort_by(|a, b| a.network.cmp(&b.network));
    let primary = match &network_mode {
        NetworkMode::Named(n) => Some(n.as_str()),
        NetworkMode::Default | NetworkMode::Bridge => Some("bridge"),
        _ => None,
    };
    config.mac_address = primary
        .and_then(|p| networks.iter().find(|n| n.network == p))
        .and_then(|n| n.mac_address.clone());

    let volume_mounts = volume_mounts(r.mounts);
    let state = r.state.unwrap_or_default();
    let exit_code = state.exit_code.unwrap_or_default();
    let health = state.health.map(|h| match h.status {
        Some(HealthStatusEnum::STARTING) => HealthStatus::Starting,
        Some(HealthStatusEnum::HEALTHY) => HealthStatus::Healthy,
        Some(HealthStatusEnum::UNHEALTHY) => HealthStatus::Unhealthy,
        _ => HealthStatus::None,
    });
    let state = match state.status {
        Some(ContainerStateStatusEnum::CREATED) => ContainerState::Created,
        Some(ContainerStateStatusEnum::RUNNING) => ContainerState::Running,
        Some(ContainerStateStatusEnum::PAUSED) => ContainerState::Paused,
        Some(ContainerStateStatusEnum::RESTARTING) => ContainerState::Restarting,
        Some(ContainerStateStatusEnum::REMOVING) => ContainerState::Removing,
        Some(ContainerStateStatusEnum::EXITED) => ContainerState::Exited,
        Some(ContainerStateStatusEnum::DEAD) => ContainerState::Dead,
        Some(other) => ContainerState::Other(other.to_string()),
        None => ContainerState::Other(String::new()),
    };

    Container {
        name: r
            .name
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_owned(),
        image_reference,
        image_id: r.image.unwrap_or_default(),
        state,
        health,
        exit_code,
        restart_count: r.restart_count.unwrap_or_default(),
        created: r.created.map(date).unwrap_or_default(),
        labels: config.labels.clone(),
        links,
        network_mode,
        networks,
        volume_mounts,
        config,
        host_config: HostConfig {
            inner: Box::new(host_config),
        },
        id,
    }
}

/// An image from its inspect document.
pub(crate) fn image(r: ImageInspect) -> Image {
    Image {
        id: r.id.unwrap_or_default(),
        repo_tags: r.repo_tags.unwrap_or_default(),
        repo_digests: r.repo_digests.unwrap_or_default(),
        created: r.created.map(date).unwrap_or_default(),
        config: r.config.map(image_config).unwrap_or_default(),
    }
}

/// How one create call looks for a spec at a given API version.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CreatePlan {
    pub(crate) body: ContainerCreateBody,
    /// `Config.MacAddress`, for engines below 1.44 (the models of newer APIs lack the field,
    /// so it is added to the request body by hand).
    pub(crate) legacy_mac_address: Option<String>,
    /// Networks attached after create, before start (`connect_networks`).
    pub(crate) deferred_networks: Vec<String>,
}

/// The endpoint settings to send for an attachment.
pub(crate) fn endpoint(a: &NetworkAttachment, api: ApiVersion) -> EndpointSettings {
    let ipam = (a.ipv4_address.is_some() || a.ipv6_address.is_some()).then(|| EndpointIpamConfig {
        ipv4_address: a.ipv4_address.clone(),
        ipv6_address: a.ipv6_address.clone(),
        ..EndpointIpamConfig::default()
    });
    EndpointSettings {
        ipam_config: ipam,
        links: (!a.links.is_empty()).then(|| a.links.clone()),
        aliases: (!a.aliases.is_empty()).then(|| a.aliases.clone()),
        mac_address: a
            .mac_address
            .clone()
            .filter(|_| api.has_endpoint_mac_address()),
        driver_opts: (!a.driver_opts.is_empty()).then(|| {
            a.driver_opts
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        }),
        ..EndpointSettings::default()
    }
}

/// The create request for `spec`. `network_parent` is the ID (or name) that
/// `network_mode: container:<name>` resolved to at create time.
pub(crate) fn plan_create(
    spec: &RecreateSpec,
    api: ApiVersion,
    network_parent: Option<&str>,
) -> CreatePlan {
    let c = &spec.config;
    let mut host_config = (*spec.host_config.inner).clone();
    host_config.network_mode = Some(match (&spec.network_mode, network_parent) {
        (NetworkMode::Container(_), Some(parent)) => format!("container:{parent}"),
        (mode, _) => mode.to_engine_string(),
    });

    let (created_on, deferred): (Vec<&NetworkAttachment>, Vec<&NetworkAttachment>) =
        if api.creates_with_all_networks() {
            (spec.networks.iter().collect(), Vec::new())
        } else {
            let primary = spec.primary_network().map(|p| p.network.as_str());
            spec.networks
                .iter()
                .partition(|n| Some(n.network.as_str()) == primary)
        };
    let networking_config = (!created_on.is_empty()).then(|| NetworkingConfig {
        endpoints_config: Some(
            created_on
                .iter()
                .map(|a| (a.network.clone(), endpoint(a, api)))
                .collect(),
        ),
    });
    let legacy_mac_address = if api.has_endpoint_mac_address() {
        None
    } else {
        c.mac_address
            .clone()
            .or_else(|| spec.primary_network().and_then(|p| p.mac_address.clone()))
    };

    let list = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    let body = ContainerCreateBody {
        hostname: c.hostname.clone(),
        domainname: c.domainname.clone(),
        user: c.user.clone(),
        attach_stdin: Some(c.attach[0]),
        attach_stdout: Some(c.attach[1]),
        attach_stderr: Some(c.attach[2]),
        exposed_ports: list(&c.exposed_ports),
        tty: Some(c.tty),
        open_stdin: Some(c.open_stdin),
        stdin_once: Some(c.stdin_once),
        env: list(&c.env),
        cmd: c.cmd.clone(),
        healthcheck: c.healthcheck.as_ref().map(|h| HealthConfig {
            test: Some(h.test.clone()),
            interval: Some(h.interval),
            timeout: Some(h.timeout),
            retries: Some(h.retries),
            start_period: Some(h.start_period),
            start_interval: Some(h.start_interval).filter(|_| api >= ApiVersion::V1_44),
        }),
        image: Some(spec.image.clone()),
        volumes: list(&c.volumes),
        working_dir: c.working_dir.clone(),
        entrypoint: c.entrypoint.clone(),
        on_build: c.on_build.clone(),
        labels: Some(
            c.labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        stop_signal: c.stop_signal.clone(),
        stop_timeout: c.stop_timeout,
        shell: c.shell.clone(),
        host_config: Some(host_config),
        networking_config,
        ..ContainerCreateBody::default()
    };
    CreatePlan {
        body,
        legacy_mac_address,
        deferred_networks: deferred.iter().map(|n| n.network.clone()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use bollard::models::{ContainerState as EngineState, Health, NetworkSettings};

    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    fn inspect(mode: &str, networks: Vec<(&str, EndpointSettings)>) -> ContainerInspectResponse {
        inspect_with_hostname(mode, networks, "0123456789ab")
    }

    fn inspect_with_hostname(
        mode: &str,
        networks: Vec<(&str, EndpointSettings)>,
        hostname: &str,
    ) -> ContainerInspectResponse {
        ContainerInspectResponse {
            id: Some(ID.into()),
            name: Some("/web".into()),
            image: Some("sha256:aaaa".into()),
            created: Some("2025-01-01T00:00:00Z".parse().unwrap()),
            state: Some(EngineState {
                status: Some(ContainerStateStatusEnum::RUNNING),
                health: Some(Health {
                    status: Some(HealthStatusEnum::HEALTHY),
                    ..Health::default()
                }),
                ..EngineState::default()
            }),
            config: Some(EngineConfig {
                hostname: Some(hostname.into()),
                image: Some("registry.example/web".into()),
                env: Some(strings(&["A=1"])),
                working_dir: Some(String::new()),
                exposed_ports: Some(strings(&["80/tcp", "443/tcp"])),
                labels: Some(HashMap::from([("l".to_owned(), "v".to_owned())])),
                ..EngineConfig::default()
            }),
            host_config: Some(bollard::models::HostConfig {
                network_mode: Some(mode.into()),
                links: Some(strings(&["/db:/web/db"])),
                ..bollard::models::HostConfig::default()
            }),
            network_settings: Some(NetworkSettings {
                networks: Some(
                    networks
                        .into_iter()
                        .map(|(n, e)| (n.to_owned(), e))
                        .collect(),
                ),
                ..NetworkSettings::default()
            }),
            ..ContainerInspectResponse::default()
        }
    }

    #[test]
    fn volume_mounts_are_the_volume_entries_of_mounts() {
        let generated = "b".repeat(64);
        let mut r = inspect("none", Vec::new());
        r.mounts = Some(vec![
            MountPoint {
                typ: Some("volume".into()),
                name: Some(generated.clone()),
                source: Some(format!("/var/lib/docker/volumes/{generated}/_data")),
                destination: Some("/z".into()),
                driver: Some("local".into()),
                rw: Some(true),
                ..MountPoint::default()
            },
            MountPoint {
                typ: Some("bind".into()),
                source: Some("/srv".into()),
                destination: Some("/srv".into()),
                rw: Some(true),
                ..MountPoint::default()
            },
            MountPoint {
                typ: Some("volume".into()),
                name: Some("pgdata".into()),
                destination: Some("/a".into()),
                rw: Some(false),
                ..MountPoint::default()
            },
            MountPoint {
                typ: Some("tmpfs".into()),
                destination: Some("/run".into()),
                ..MountPoint::default()
            },
        ]);
        let c = container(r);
        assert_eq!(
            c.volume_mounts,
            [
                VolumeMount {
                    name: "pgdata".into(),
                    destination: "/a".into(),
                    driver: None,
                    read_write: false,
                },
                VolumeMount {
                    name: generated,
                    destination: "/z".into(),
                    driver: Some("local".into()),
                    read_write: true,
                },
            ]
        );
    }

    #[test]
    fn reads_identity_state_and_config() {
        let c = container(inspect("appnet", vec![]));
        assert_eq!(c.id, ID);
        assert_eq!(c.short_id(), "0123456789ab");
        assert_eq!(c.name, "web");
        assert_eq!(c.image_reference, "registry.example/web");
        assert_eq!(c.image_id, "sha256:aaaa");
        assert_eq!(c.state, ContainerState::Running);
        assert_eq!(c.health, Some(HealthStatus::Healthy));
        assert_eq!(c.labels, c.config.labels);
        assert_eq!(c.links, strings(&["db"]));
        assert_eq!(c.config.working_dir, None, "empty strings read as unset");
        assert_eq!(c.config.exposed_ports, strings(&["443/tcp", "80/tcp"]));
        assert_eq!(c.network_mode, NetworkMode::Named("appnet".into()));
        assert!(c.created.starts_with("2025-01-01"));
    }

    #[test]
    fn endpoints_lose_the_engine_aliases_and_engine_macs() {
        let c = container(inspect_with_hostname(
            "appnet",
            vec![
                (
                    "appnet",
                    EndpointSettings {
                        aliases: Some(strings(&["web", "0123456789ab", "web-host", "web"])),
                        ip_address: Some("172.18.0.5".into()),
                        mac_address: Some("02:42:ac:12:00:05".into()),
                        ipam_config: Some(EndpointIpamConfig {
                            ipv4_address: Some("172.18.0.5".into()),
                            ipv6_address: Some(String::new()),
                            ..EndpointIpamConfig::default()
                        }),
                        links: Some(strings(&["db:database"])),
                        ..EndpointSettings::default()
                    },
                ),
                (
                    "backend",
                    EndpointSettings {
                        aliases: Some(strings(&["api"])),
                        ip_address: Some("10.0.0.7".into()),
                        mac_address: Some("02:00:00:00:be:ef".into()),
                        ..EndpointSettings::default()
                    },
                ),
            ],
            "web-host",
        ));
        assert_eq!(
            c.networks,
            vec![
                NetworkAttachment {
                    network: "appnet".into(),
                    aliases: strings(&["web"]),
                    ipv4_address: Some("172.18.0.5".into()),
                    links: strings(&["db:database"]),
                    ..NetworkAttachment::default()
                },
                NetworkAttachment {
                    network: "backend".into(),
                    aliases: strings(&["api"]),
                    mac_address: Some("02:00:00:00:be:ef".into()),
                    ..NetworkAttachment::default()
                },
            ]
        );
        assert_eq!(
            c.config.mac_address, None,
            "the primary network's MAC was generated"
        );
    }

    #[test]
    fn the_primary_networks_user_mac_is_the_container_mac() {
        let c = container(inspect(
            "default",
            vec![(
                "bridge",
                EndpointSettings {
                    ip_address: Some("172.17.0.3".into()),
                    mac_address: Some("02:42:ac:11:00:99".into()),
                    ..EndpointSettings::default()
                },
            )],
        ));
        assert_eq!(c.network_mode, NetworkMode::Default);
        assert_eq!(c.config.mac_address.as_deref(), Some("02:42:ac:11:00:99"));
    }

    #[test]
    fn special_modes_have_no_endpoints() {
        for (mode, expected) in [
            ("host", NetworkMode::Host),
            ("none", NetworkMode::None),
            ("container:abcdef", NetworkMode::Container("abcdef".into())),
        ] {
            let c = container(inspect(mode, vec![("host", EndpointSettings::default())]));
            assert_eq!(c.network_mode, expected);
            assert!(c.networks.is_empty(), "{mode}");
        }
    }

    #[test]
    fn engine_generated_macs_are_recognised() {
        assert!(is_engine_generated_mac("02:42:ac:11:00:02", "172.17.0.2"));
        assert!(is_engine_generated_mac("02:42:AC:11:00:02", "172.17.0.2"));
        assert!(!is_engine_generated_mac("02:42:ac:11:00:03", "172.17.0.2"));
        assert!(!is_engine_generated_mac("8a:1f:00:11:22:33", "172.17.0.2"));
        assert!(!is_engine_generated_mac("02:42:ac:11:00:02", ""));
        assert!(!is_engine_generated_mac("02:42:ac:11:00:02", "fe80::1"));
    }

    #[test]
    fn reads_image_defaults() {
        let i = image(ImageInspect {
            id: Some("sha256:bbbb".into()),
            repo_digests: Some(strings(&["r/web@sha256:cccc"])),
            config: Some(ImageConfig {
                env: Some(strings(&["V=2"])),
                stop_signal: Some("SIGQUIT".into()),
                healthcheck: Some(HealthConfig {
                    test: Some(strings(&["CMD", "true"])),
                    interval: Some(5),
                    ..HealthConfig::default()
                }),
                ..ImageConfig::default()
            }),
            ..ImageInspect::default()
        });
        assert_eq!(i.id, "sha256:bbbb");
        assert_eq!(i.repo_digests, strings(&["r/web@sha256:cccc"]));
        assert_eq!(i.config.env, strings(&["V=2"]));
        assert_eq!(i.config.stop_signal.as_deref(), Some("SIGQUIT"));
        assert_eq!(i.config.healthcheck.unwrap().interval, 5);
    }

    fn spec(mode: NetworkMode, networks: &[(&str, Option<&str>)]) -> RecreateSpec {
        RecreateSpec {
            name: "web".into(),
            image: "r/web:latest".into(),
            config: ContainerConfig {
                env: strings(&["A=1"]),
                mac_address: networks.first().and_then(|n| n.1).map(str::to_owned),
                ..ContainerConfig::default()
            },
            host_config: HostConfig::default(),
            network_mode: mode,
            networks: networks
                .iter()
                .map(|(n, mac)| NetworkAttachment {
                    network: (*n).into(),
                    aliases: strings(&["web"]),
                    ipv4_address: Some("10.1.0.9".into()),
                    mac_address: mac.map(str::to_owned),
                    ..NetworkAttachment::default()
                })
                .collect(),
            carried_volumes: Vec::new(),
        }
    }

    fn endpoint_names(p: &CreatePlan) -> Vec<String> {
        let mut v: Vec<String> = p
            .body
            .networking_config
            .as_ref()
            .and_then(|n| n.endpoints_config.as_ref())
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    #[test]
    fn below_1_44_creates_on_the_primary_network_and_defers_the_rest() {
        let s = spec(
            NetworkMode::Named("front".into()),
            &[("back", None), ("front", Some("02:00:00:00:00:01"))],
        );
        let p = plan_create(&s, ApiVersion::V1_41, None);
        assert_eq!(endpoint_names(&p), strings(&["front"]));
        assert_eq!(p.deferred_networks, strings(&["back"]));
        let ep = &p
            .body
            .networking_config
            .as_ref()
            .unwrap()
            .endpoints_config
            .as_ref()
            .unwrap()["front"];
        assert_eq!(
            ep.mac_address, None,
            "the engine ignores endpoint MACs below 1.44"
        );
        assert_eq!(ep.aliases, Some(strings(&["web"])));
        assert_eq!(
            ep.ipam_config.as_ref().unwrap().ipv4_address.as_deref(),
            Some("10.1.0.9")
        );
        assert_eq!(
            p.legacy_mac_address.as_deref(),
            Some("02:00:00:00:00:01"),
            "the primary network's user MAC becomes Config.MacAddress"
        );
        assert_eq!(
            p.body.host_config.as_ref().unwrap().network_mode.as_deref(),
            Some("front")
        );
    }

    #[test]
    fn below_1_44_the_user_mac_goes_into_the_container_config() {
        let s = spec(
            NetworkMode::Named("front".into()),
            &[("front", Some("02:00:00:00:00:01"))],
        );
        let p = plan_create(&s, ApiVersion::new(1, 43), None);
        assert_eq!(p.legacy_mac_address.as_deref(), Some("02:00:00:00:00:01"));
    }

    #[test]
    fn from_1_44_creates_with_every_network_and_endpoint_macs() {
        let s = spec(
            NetworkMode::Named("front".into()),
            &[
                ("front", Some("02:00:00:00:00:01")),
                ("back", Some("02:00:00:00:00:02")),
            ],
        );
        let p = plan_create(&s, ApiVersion::V1_44, None);
        assert_eq!(endpoint_names(&p), strings(&["back", "front"]));
        assert!(p.deferred_networks.is_empty());
        assert_eq!(p.legacy_mac_address, None);
        let eps = p
            .body
            .networking_config
            .as_ref()
            .unwrap()
            .endpoints_config
            .as_ref()
            .unwrap();
        assert_eq!(
            eps["back"].mac_address.as_deref(),
            Some("02:00:00:00:00:02")
        );
    }

    #[test]
    fn container_mode_points_at_the_resolved_parent() {
        let s = spec(NetworkMode::Container("vpn".into()), &[]);
        let p = plan_create(&s, ApiVersion::V1_41, Some("feedbeef"));
        assert_eq!(
            p.body.host_config.as_ref().unwrap().network_mode.as_deref(),
            Some("container:feedbeef")
        );
        assert!(p.body.networking_config.is_none());
        assert!(p.deferred_networks.is_empty());
    }

    #[test]
    fn the_body_carries_the_merged_config() {
        let mut s = spec(NetworkMode::None, &[]);
        s.config.entrypoint = Some(Vec::new());
        s.config.healthcheck = Some(Healthcheck {
            test: strings(&["CMD", "true"]),
            start_interval: 7,
            ..Healthcheck::default()
        });
        let p = plan_create(&s, ApiVersion::V1_41, None);
        assert_eq!(p.body.image.as_deref(), Some("r/web:latest"));
        assert_eq!(p.body.env, Some(strings(&["A=1"])));
        assert_eq!(
            p.body.entrypoint,
            Some(Vec::new()),
            "a cleared entrypoint is sent as []"
        );
        assert_eq!(p.body.exposed_ports, None);
        let h = p.body.healthcheck.clone().unwrap();
        assert_eq!(h.start_interval, None, "StartInterval needs API 1.44");
        let p = plan_create(&s, ApiVersion::V1_44, None);
        assert_eq!(p.body.healthcheck.unwrap().start_interval, Some(7));
        let json = serde_json::to_value(&plan_create(&s, ApiVersion::V1_41, None).body).unwrap();
        assert_eq!(json["Entrypoint"], serde_json::json!([]));
        assert_eq!(json["HostConfig"]["NetworkMode"], "none");
    }
}
