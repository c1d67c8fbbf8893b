//! The recreate rules on plain data.

use std::collections::{BTreeMap, HashMap};

use bollard::models::{
    HostConfig as EngineHostConfig, Mount, MountType, MountVolumeOptions,
    MountVolumeOptionsDriverConfig, PortBinding, RestartPolicy, RestartPolicyNameEnum,
};
use proptest::prelude::*;

use super::*;
use crate::model::{CARRIED_VOLUME_LABEL, Container, ContainerState, VolumeMount};

const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const SHORT: &str = "0123456789ab";

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

fn map(v: &[(&str, &str)]) -> BTreeMap<String, String> {
    v.iter()
        .map(|(k, val)| ((*k).to_owned(), (*val).to_owned()))
        .collect()
}

fn hc(test: &[&str], interval_s: i64) -> Healthcheck {
    Healthcheck {
        test: strings(test),
        interval: interval_s * 1_000_000_000,
        retries: 3,
        ..Healthcheck::default()
    }
}

/// Version 1 of an image: sets every default the rules reason about.
fn v1() -> ContainerConfig {
    ContainerConfig {
        user: Some("app".into()),
        env: strings(&["PATH=/bin", "VERSION=1", "APP_MODE=prod"]),
        cmd: Some(strings(&["serve"])),
        entrypoint: Some(strings(&["/entry"])),
        working_dir: Some("/app".into()),
        exposed_ports: strings(&["80/tcp"]),
        volumes: strings(&["/data"]),
        labels: map(&[("version", "1"), ("vendor", "acme"), ("only.v1", "x")]),
        healthcheck: Some(hc(&["CMD-SHELL", "check v1"], 30)),
        stop_signal: Some("SIGQUIT".into()),
        shell: Some(strings(&["/bin/sh", "-c"])),
        ..ContainerConfig::default()
    }
}

/// Version 2: every default changed, one env key and one label dropped, one of each added.
fn v2() -> ContainerConfig {
    ContainerConfig {
        user: Some("app2".into()),
        env: strings(&["PATH=/bin", "VERSION=2", "NEW_IN_V2=yes"]),
        cmd: Some(strings(&["serve", "--v2"])),
        entrypoint: Some(strings(&["/entry2"])),
        working_dir: Some("/app2".into()),
        exposed_ports: strings(&["8080/tcp"]),
        volumes: strings(&["/data2"]),
        labels: map(&[("version", "2"), ("vendor", "acme"), ("added", "v2")]),
        healthcheck: Some(hc(&["CMD-SHELL", "check v2"], 10)),
        stop_signal: Some("SIGINT".into()),
        shell: Some(strings(&["/bin/ash", "-c"])),
        ..ContainerConfig::default()
    }
}

fn image(id: &str, config: ContainerConfig) -> Image {
    Image {
        id: id.into(),
        config,
        ..Image::default()
    }
}

/// What the engine does at create (moby's `merge` of image defaults into the request), as the
/// ground truth the rules must agree with.
fn engine_create(user: &ContainerConfig, img: &ContainerConfig) -> ContainerConfig {
    let mut c = user.clone();
    if c.user.as_deref().unwrap_or("").is_empty() {
        c.user.clone_from(&img.user);
    }
    for e in &img.env {
        if !c.env.iter().any(|u| env_key(u) == env_key(e)) {
            c.env.push(e.clone());
        }
    }
    for (k, v) in &img.labels {
        c.labels.entry(k.clone()).or_insert_with(|| v.clone());
    }
    if c.entrypoint.as_ref().is_none_or(Vec::is_empty) {
        if c.cmd.as_ref().is_none_or(Vec::is_empty) {
            c.cmd.clone_from(&img.cmd);
        }
        if c.entrypoint.is_none() {
            c.entrypoint.clone_from(&img.entrypoint);
        }
    }
    if let Some(ih) = &img.healthcheck {
        match &mut c.healthcheck {
            None => c.healthcheck = Some(ih.clone()),
            Some(h) => {
                if h.test.is_empty() {
                    h.test.clone_from(&ih.test);
                }
                for (f, i) in [
                    (&mut h.interval, ih.interval),
                    (&mut h.timeout, ih.timeout),
                    (&mut h.start_period, ih.start_period),
                    (&mut h.start_interval, ih.start_interval),
                    (&mut h.retries, ih.retries),
                ] {
                    if *f == 0 {
                        *f = i;
                    }
                }
            }
        }
    }
    if c.working_dir.as_deref().unwrap_or("").is_empty() {
        c.working_dir.clone_from(&img.working_dir);
    }
    if c.stop_signal.as_deref().unwrap_or("").is_empty() {
        c.stop_signal.clone_from(&img.stop_signal);
    }
    let mut ports: BTreeSet<String> = c.exposed_ports.drain(..).collect();
    ports.extend(img.exposed_ports.iter().cloned());
    c.exposed_ports = ports.into_iter().collect();
    let mut vols: BTreeSet<String> = c.volumes.drain(..).collect();
    vols.extend(img.volumes.iter().cloned());
    c.volumes = vols.into_iter().collect();
    c
}

/// A container as `docker run` makes it from `img` with the user's settings `user`.
fn run(user: &ContainerConfig, img: &ContainerConfig) -> Container {
    let mut config = engine_create(user, img);
    if config.hostname.is_none() {
        config.hostname = Some(SHORT.into());
    }
    Container {
        id: ID.into(),
        name: "/web".into(),
        image_reference: "registry.example/web:latest".into(),
        image_id: "sha256:1111".into(),
        state: ContainerState::Running,
        labels: config.labels.clone(),
        network_mode: NetworkMode::Named("appnet".into()),
        networks: vec![NetworkAttachment {
            network: "appnet".into(),
            aliases: strings(&["web", SHORT]),
            ..NetworkAttachment::default()
        }],
        config,
        ..Container::default()
    }
}

fn build(container: &Container) -> RecreateSpec {
    RecreateSpec::build(
        container,
        &image("sha256:1111", v1()),
        &image("sha256:2222", v2()),
        &container.image_reference,
    )
}

#[test]
fn an_untouched_container_follows_the_new_image_completely() {
    let c = run(&ContainerConfig::default(), &v1());
    let spec = build(&c);
    let mut expected = engine_create(&ContainerConfig::default(), &v2());
    // Build-time only: never copied into a container.
    expected.shell = None;
    assert_eq!(spec.config, expected);
    assert_eq!(spec.name, "web");
    assert_eq!(spec.image, "registry.example/web:latest");
}

#[test]
fn the_spec_is_complete_so_the_engine_merge_changes_nothing() {
    let user = ContainerConfig {
        env: strings(&["TOKEN=abc", "VERSION=pinned"]),
        cmd: Some(strings(&["serve", "--debug"])),
        ..ContainerConfig::default()
    };
    let spec = build(&run(&user, &v1()));
    assert_eq!(engine_create(&spec.config, &v2()), spec.config);
}

#[test]
fn env_is_merged_key_by_key() {
    let user = ContainerConfig {
        env: strings(&["TOKEN=abc", "VERSION=pinned", "EMPTY="]),
        ..ContainerConfig::default()
    };
    let spec = build(&run(&user, &v1()));
    assert_eq!(
        spec.config.env,
        strings(&[
            "TOKEN=abc",
            "VERSION=pinned",
            "EMPTY=",
            "PATH=/bin",
            "NEW_IN_V2=yes"
        ]),
        "user entries first and kept (also an override of an image key); image defaults from \
         v2; APP_MODE (only in v1, never touched) gone"
    );
}

#[test]
fn a_user_value_of_a_key_the_new_image_dropped_is_kept() {
    let user = ContainerConfig {
        env: strings(&["APP_MODE=dev"]),
        ..ContainerConfig::default()
    };
    let spec = build(&run(&user, &v1()));
    assert!(spec.config.env.contains(&"APP_MODE=dev".to_owned()));
    assert!(spec.config.env.contains(&"VERSION=2".to_owned()));
}

#[test]
fn labels_are_merged_key_by_key() {
    let user = ContainerConfig {
        labels: map(&[
            ("com.docker.compose.service", "web"),
            ("vendor", "me"),
            ("com.centurylinklabs.watchtower.enable", "true"),
        ]),
        ..ContainerConfig::default()
    };
    let spec = build(&run(&user, &v1()));
    assert_eq!(
        spec.config.labels,
        map(&[
            ("added", "v2"),
            ("com.centurylinklabs.watchtower.enable", "true"),
            ("com.docker.compose.service", "web"),
            ("vendor", "me"),
            ("version", "2"),
        ])
    );
}

#[test]
fn a_command_override_is_kept_with_the_new_entrypoint() {
    let user = ContainerConfig {
        cmd: Some(strings(&["serve", "--port", "9000"])),
        ..ContainerConfig::default()
    };
    let spec = build(&run(&user, &v1()));
    assert_eq!(spec.config.entrypoint, Some(strings(&["/entry2"])));
    assert_eq!(spec.config.cmd, Some(strings(&["serve", "--port", "9000"])));
}

#[test]
fn an_entrypoint_override_keeps_entrypoint_and_command() {
    let user = ContainerConfig {
        entrypoint: Some(strings(&["/bin/sh", "-c"])),
        cmd: Some(strings(&["sleep 1000"])),
        ..ContainerConfig::default()
    };
    let spec = build(&run(&user, &v1()));
    assert_eq!(spec.config.entrypoint, Some(strings(&["/bin/sh", "-c"])));
    assert_eq!(spec.config.cmd, Some(strings(&["sleep 1000"])));
}

#[test]
fn an_entrypoint_override_without_command_gets_no_image_command() {
    // The engine drops the image's command when the entrypoint is set.
    let user = ContainerConfig {
        entrypoint: Some(strings(&["/custom"])),
        ..ContainerConfig::default()
    };
    let c = run(&user, &v1());
    assert_eq!(c.config.cmd, None);
    let spec = build(&c);
    assert_eq!(spec.config.entrypoint, Some(strings(&["/custom"])));
    assert_eq!(spec.config.cmd, None);
}

#[test]
fn an_entrypoint_set_to_the_images_own_stays_without_command() {
    // `--entrypoint /entry` (same as the image's): the engine dropped the image's command.
    let user = ContainerConfig {
        entrypoint: Some(strings(&["/entry"])),
        ..ContainerConfig::default()
    };
    let c = run(&user, &v1());
    assert_eq!(c.config.cmd, None);
    let spec = build(&c);
    assert_eq!(spec.config.entrypoint, Some(strings(&["/entry"])));
    assert_eq!(spec.config.cmd, None);
}

#[test]
fn a_cleared_entrypoint_stays_explicitly_empty() {
    let mut c = run(&ContainerConfig::default(), &v1());
    c.config.entrypoint = None; // `--entrypoint ""`
    let spec = build(&c);
    assert_eq!(spec.config.entrypoint, Some(Vec::new()));
    assert_eq!(spec.config.cmd, Some(strings(&["serve"])));
}

#[test]
fn working_dir_user_and_stop_signal_follow_unless_set() {
    let spec = build(&run(&ContainerConfig::default(), &v1()));
    assert_eq!(spec.config.working_dir.as_deref(), Some("/app2"));
    assert_eq!(spec.config.user.as_deref(), Some("app2"));
    assert_eq!(spec.config.stop_signal.as_deref(), Some("SIGINT"));

    let user = ContainerConfig {
        working_dir: Some("/srv".into()),
        user: Some("1000:1000".into()),
        stop_signal: Some("SIGUSR1".into()),
        ..ContainerConfig::default()
    };
    let spec = build(&run(&user, &v1()));
    assert_eq!(spec.config.working_dir.as_deref(), Some("/srv"));
    assert_eq!(spec.config.user.as_deref(), Some("1000:1000"));
    assert_eq!(spec.config.stop_signal.as_deref(), Some("SIGUSR1"));
}

#[test]
fn a_default_the_new_image_drops_is_gone() {
    let mut new = v2();
    new.working_dir = None;
    new.user = Some(String::new());
    new.stop_signal = None;
    let c = run(&ContainerConfig::default(), &v1());
    let spec = RecreateSpec::build(&c, &image("a", v1()), &image("b", new), "x");
    assert_eq!(spec.config.working_dir, None);
    assert_eq!(spec.config.user, None);
    assert_eq!(spec.config.stop_signal, None);
}

#[test]
fn exposed_ports_keep_the_users_and_the_bound_ones() {
    let user = ContainerConfig {
        exposed_ports: strings(&["9000/tcp"]),
        ..ContainerConfig::default()
    };
    let mut c = run(&user, &v1());
    c.host_config.inner.port_bindings = Some(HashMap::from([(
        "53/udp".to_owned(),
        Some(vec![PortBinding {
            host_ip: Some("127.0.0.1".into()),
            host_port: Some("5353".into()),
        }]),
    )]));
    let spec = build(&c);
    assert_eq!(
        spec.config.exposed_ports,
        strings(&["53/udp", "8080/tcp", "9000/tcp"])
    );
}

#[test]
fn anonymous_volumes_keep_the_users() {
    let user = ContainerConfig {
        volumes: strings(&["/cache"]),
        ..ContainerConfig::default()
    };
    let spec = build(&run(&user, &v1()));
    assert_eq!(spec.config.volumes, strings(&["/cache", "/data2"]));
}

/// A volume name as the engine generates them for anonymous volumes (64 hex digits).
fn generated(n: u8) -> String {
    format!("{n:02x}").repeat(32)
}

fn mounted(name: &str, destination: &str) -> VolumeMount {
    VolumeMount {
        name: name.into(),
        destination: destination.into(),
        driver: Some("local".into()),
        read_write: true,
    }
}

/// The `Mounts` entry that carries `name` to `destination`.
fn carried_entry(name: &str, destination: &str) -> Mount {
    Mount {
        target: Some(destination.into()),
        source: Some(name.into()),
        typ: Some(MountType::VOLUME),
        volume_options: Some(MountVolumeOptions {
            labels: Some(HashMap::from([(
                CARRIED_VOLUME_LABEL.to_owned(),
                "true".to_owned(),
            )])),
            ..MountVolumeOptions::default()
        }),
        ..Mount::default()
    }
}

fn with_volumes(mut config: ContainerConfig, volumes: &[&str]) -> ContainerConfig {
    config.volumes = strings(volumes);
    config
}

/// A container of v1 (`VOLUME /data`) on `appnet` with `mounts`, recreated from v2 with
/// `new_volumes`.
fn recreate_with_volumes(
    mounts: Vec<VolumeMount>,
    mut host_config: EngineHostConfig,
    user_volumes: &[&str],
    new_volumes: &[&str],
) -> (Container, RecreateSpec) {
    let user = ContainerConfig {
        volumes: strings(user_volumes),
        ..ContainerConfig::default()
    };
    let mut c = run(&user, &v1());
    c.volume_mounts = mounts;
    host_config.network_mode = Some("appnet".into());
    *c.host_config.inner = host_config;
    let spec = RecreateSpec::build(
        &c,
        &image("sha256:1111", v1()),
        &image("sha256:2222", with_volumes(v2(), new_volumes)),
        "x",
    );
    (c, spec)
}

fn mounts_of(spec: &RecreateSpec) -> Vec<Mount> {
    spec.host_config.inner.mounts.clone().unwrap_or_default()
}

#[test]
fn generated_volume_names_are_told_from_user_names() {
    assert!(mounted(&generated(0xab), "/d").has_generated_name());
    assert!(!mounted("pgdata", "/d").has_generated_name());
    assert!(!mounted(&generated(0xab).to_uppercase(), "/d").has_generated_name());
    assert!(!mounted(&generated(0xab)[..63], "/d").has_generated_name());
    assert!(!mounted(&format!("{}g", &generated(0xab)[..63]), "/d").has_generated_name());
}

#[test]
fn an_anonymous_volume_the_new_image_still_declares_is_mounted_again() {
    let data = generated(1);
    let (_, spec) = recreate_with_volumes(
        vec![mounted(&data, "/data")],
        EngineHostConfig::default(),
        &[],
        &["/data"],
    );
    assert_eq!(spec.carried_volumes, [mounted(&data, "/data")]);
    assert_eq!(mounts_of(&spec), [carried_entry(&data, "/data")]);
    assert_eq!(spec.config.volumes, strings(&["/data"]), "still a volume");
}

#[test]
fn an_anonymous_volume_the_new_image_dropped_is_not_carried() {
    let (_, spec) = recreate_with_volumes(
        vec![mounted(&generated(1), "/data")],
        EngineHostConfig::default(),
        &[],
        &["/data2"],
    );
    assert!(spec.carried_volumes.is_empty());
    assert_eq!(spec.host_config.inner.mounts, None, "host config untouched");
    assert_eq!(spec.config.volumes, strings(&["/data2"]));
}

#[test]
fn a_volume_the_new_image_adds_is_left_to_the_engine() {
    let data = generated(1);
    let (_, spec) = recreate_with_volumes(
        vec![mounted(&data, "/data")],
        EngineHostConfig::default(),
        &[],
        &["/data", "/cache"],
    );
    assert_eq!(spec.carried_volumes, [mounted(&data, "/data")]);
    assert_eq!(mounts_of(&spec), [carried_entry(&data, "/data")]);
    assert_eq!(spec.config.volumes, strings(&["/cache", "/data"]));
}

#[test]
fn a_users_anonymous_volume_is_carried_whatever_the_image_says() {
    // `docker run -v /cache`: in Config.Volumes, not the old image's.
    let cache = generated(2);
    let (_, spec) = recreate_with_volumes(
        vec![mounted(&generated(1), "/data"), mounted(&cache, "/cache")],
        EngineHostConfig::default(),
        &["/cache"],
        &[],
    );
    assert_eq!(spec.carried_volumes, [mounted(&cache, "/cache")]);
    assert_eq!(mounts_of(&spec), [carried_entry(&cache, "/cache")]);
}

#[test]
fn named_volumes_binds_and_tmpfs_stay_as_the_host_config_says() {
    let host_config = EngineHostConfig {
        network_mode: Some("appnet".into()),
        binds: Some(strings(&["pgdata:/data", "/srv/conf:/conf:ro"])),
        mounts: Some(vec![Mount {
            target: Some("/named".into()),
            source: Some(generated(9)),
            typ: Some(MountType::VOLUME),
            ..Mount::default()
        }]),
        tmpfs: Some(HashMap::from([("/run".to_owned(), String::new())])),
        ..EngineHostConfig::default()
    };
    let (_, spec) = recreate_with_volumes(
        vec![
            mounted("pgdata", "/data"),
            // A user's volume whose name merely looks generated: named by the user.
            mounted(&generated(9), "/named"),
        ],
        host_config.clone(),
        &["/named"],
        &["/data", "/conf", "/run", "/named"],
    );
    assert!(
        spec.carried_volumes.is_empty(),
        "{:?}",
        spec.carried_volumes
    );
    assert_eq!(*spec.host_config.inner, host_config);
}

#[test]
fn a_volume_without_a_generated_name_is_never_carried() {
    let (_, spec) = recreate_with_volumes(
        vec![mounted("not-generated", "/data")],
        EngineHostConfig::default(),
        &[],
        &["/data"],
    );
    assert!(spec.carried_volumes.is_empty());
}

#[test]
fn a_sourceless_entry_of_the_users_gets_the_volume_filled_in() {
    let (a, b, c) = (generated(1), generated(2), generated(3));
    let sourceless = Mount {
        target: Some("/a".into()),
        typ: Some(MountType::VOLUME),
        read_only: Some(true),
        volume_options: Some(MountVolumeOptions {
            no_copy: Some(true),
            ..MountVolumeOptions::default()
        }),
        ..Mount::default()
    };
    let host_config = EngineHostConfig {
        binds: Some(strings(&["/b", "/c:ro", "/srv:/srv"])),
        mounts: Some(vec![sourceless.clone()]),
        ..EngineHostConfig::default()
    };
    // The new image declares none of them: the user's entries ask for volumes there.
    let (_, spec) = recreate_with_volumes(
        vec![
            mounted(&a, "/a"),
            mounted(&b, "/b"),
            mounted(&c, "/c"),
            mounted(&generated(4), "/data"),
        ],
        host_config,
        &[],
        &[],
    );
    assert_eq!(
        spec.carried_volumes,
        [mounted(&a, "/a"), mounted(&b, "/b"), mounted(&c, "/c")]
    );
    let mut filled = sourceless;
    filled.source = Some(a.clone());
    assert_eq!(
        spec.host_config.inner.mounts,
        Some(vec![filled]),
        "options kept, no marker"
    );
    assert_eq!(
        spec.host_config.inner.binds,
        Some(vec![
            format!("{b}:/b"),
            format!("{c}:/c:ro"),
            "/srv:/srv".to_owned()
        ])
    );
}

#[test]
fn a_carried_volume_is_decided_again_at_the_next_recreation() {
    let data = generated(1);
    let host_config = EngineHostConfig {
        network_mode: Some("appnet".into()),
        mounts: Some(vec![carried_entry(&data, "/data")]),
        ..EngineHostConfig::default()
    };
    // Still declared: the same entry again (no drift, no duplicate).
    let (_, kept) = recreate_with_volumes(
        vec![mounted(&data, "/data")],
        host_config.clone(),
        &[],
        &["/data"],
    );
    assert_eq!(kept.carried_volumes, [mounted(&data, "/data")]);
    assert_eq!(*kept.host_config.inner, host_config);
    // No longer declared: the entry goes (an empty list stays a list, as the engine gave it).
    let (_, dropped) =
        recreate_with_volumes(vec![mounted(&data, "/data")], host_config, &[], &["/data2"]);
    assert!(dropped.carried_volumes.is_empty());
    assert_eq!(dropped.host_config.inner.mounts, Some(Vec::new()));
}

#[test]
fn destinations_compare_as_clean_paths() {
    let data = generated(1);
    let (_, spec) = recreate_with_volumes(
        vec![mounted(&data, "/var/lib/data")],
        EngineHostConfig::default(),
        &[],
        &["/var/lib/./data/"],
    );
    assert_eq!(spec.carried_volumes, [mounted(&data, "/var/lib/data")]);
    assert_eq!(crate::model::clean_path("/a//b/../c/"), "/a/c");
    assert_eq!(crate::model::clean_path("/"), "/");
}

#[test]
fn a_read_only_or_plugin_volume_keeps_its_mode_and_driver() {
    let data = generated(1);
    let mut mount = mounted(&data, "/data");
    mount.read_write = false;
    mount.driver = Some("nfs-plugin:latest".into());
    let (_, spec) = recreate_with_volumes(
        vec![mount.clone()],
        EngineHostConfig::default(),
        &[],
        &["/data"],
    );
    let mut expected = carried_entry(&data, "/data");
    expected.read_only = Some(true);
    expected.volume_options.as_mut().unwrap().driver_config =
        Some(MountVolumeOptionsDriverConfig {
            name: Some("nfs-plugin:latest".into()),
            options: None,
        });
    assert_eq!(mounts_of(&spec), [expected]);
}

#[test]
fn the_rollback_spec_from_the_old_image_carries_the_volumes_too() {
    let data = generated(1);
    let mut c = run(&ContainerConfig::default(), &v1());
    c.volume_mounts = vec![mounted(&data, "/data")];
    let old = image("sha256:1111", v1());
    let spec = RecreateSpec::build(&c, &old, &old, &old.id);
    assert_eq!(spec.carried_volumes, [mounted(&data, "/data")]);
    assert_eq!(mounts_of(&spec), [carried_entry(&data, "/data")]);
}

#[test]
fn a_volume_holder_mounts_the_volumes_and_nothing_else() {
    let data = generated(1);
    let user = ContainerConfig {
        env: strings(&["TOKEN=abc"]),
        cmd: Some(strings(&["serve", "--x"])),
        ..ContainerConfig::default()
    };
    let mut c = run(&user, &v1());
    *c.host_config.inner = EngineHostConfig {
        auto_remove: Some(true),
        binds: Some(strings(&["/srv:/srv"])),
        network_mode: Some("appnet".into()),
        ..EngineHostConfig::default()
    };
    let volumes = [mounted(&data, "/data")];
    let holder = RecreateSpec::volume_holder(&c, &volumes, "web-hold", map(&[("k", "v")]));
    assert_eq!(holder.name, "web-hold");
    assert_eq!(holder.image, c.image_id, "the image the old container runs");
    assert_eq!(
        holder.config,
        ContainerConfig {
            entrypoint: Some(strings(&["/entry"])),
            cmd: Some(strings(&["serve", "--x"])),
            labels: map(&[("k", "v")]),
            ..ContainerConfig::default()
        }
    );
    assert_eq!(holder.network_mode, NetworkMode::None);
    assert!(holder.networks.is_empty());
    assert_eq!(
        *holder.host_config.inner,
        EngineHostConfig {
            network_mode: Some("none".into()),
            mounts: Some(vec![carried_entry(&data, "/data")]),
            ..EngineHostConfig::default()
        },
        "no --rm, no binds, no ports: only the volumes"
    );
    assert!(!holder.host_config.auto_remove());
}

#[test]
fn an_untouched_healthcheck_is_the_new_images() {
    let spec = build(&run(&ContainerConfig::default(), &v1()));
    assert_eq!(
        spec.config.healthcheck,
        Some(hc(&["CMD-SHELL", "check v2"], 10))
    );
}

#[test]
fn a_user_healthcheck_test_is_kept_and_untouched_fields_follow() {
    let user = ContainerConfig {
        healthcheck: Some(Healthcheck {
            test: strings(&["CMD", "/bin/true"]),
            ..Healthcheck::default()
        }),
        ..ContainerConfig::default()
    };
    let spec = build(&run(&user, &v1()));
    let h = spec.config.healthcheck.unwrap();
    assert_eq!(h.test, strings(&["CMD", "/bin/true"]));
    assert_eq!(
        h.interval, 10_000_000_000,
        "interval was the image's: follows v2"
    );
}

#[test]
fn a_user_health_interval_alone_keeps_the_new_test() {
    let user = ContainerConfig {
        healthcheck: Some(Healthcheck {
            interval: 5_000_000_000,
            ..Healthcheck::default()
        }),
        ..ContainerConfig::default()
    };
    let spec = build(&run(&user, &v1()));
    let h = spec.config.healthcheck.unwrap();
    assert_eq!(h.test, strings(&["CMD-SHELL", "check v2"]));
    assert_eq!(h.interval, 5_000_000_000);
}

#[test]
fn a_disabled_healthcheck_stays_disabled() {
    let user = ContainerConfig {
        healthcheck: Some(Healthcheck {
            test: strings(&["NONE"]),
            ..Healthcheck::default()
        }),
        ..ContainerConfig::default()
    };
    let spec = build(&run(&user, &v1()));
    assert_eq!(spec.config.healthcheck.unwrap().test, strings(&["NONE"]));
}

#[test]
fn a_healthcheck_on_an_image_without_one_is_the_users() {
    let mut old = v1();
    old.healthcheck = None;
    let user = ContainerConfig {
        healthcheck: Some(hc(&["CMD", "ping"], 7)),
        ..ContainerConfig::default()
    };
    let c = run(&user, &old);
    let spec = RecreateSpec::build(&c, &image("a", old), &image("b", v2()), "x");
    assert_eq!(spec.config.healthcheck, Some(hc(&["CMD", "ping"], 7)));
}

#[test]
fn a_healthcheck_the_new_image_drops_is_gone() {
    let mut new = v2();
    new.healthcheck = None;
    let c = run(&ContainerConfig::default(), &v1());
    let spec = RecreateSpec::build(&c, &image("a", v1()), &image("b", new), "x");
    assert_eq!(spec.config.healthcheck, None);
}

#[test]
fn the_default_hostname_is_dropped_and_a_user_hostname_kept() {
    let spec = build(&run(&ContainerConfig::default(), &v1()));
    assert_eq!(
        spec.config.hostname, None,
        "the old short ID must not stick"
    );

    let user = ContainerConfig {
        hostname: Some("web-1".into()),
        domainname: Some("example.test".into()),
        ..ContainerConfig::default()
    };
    let spec = build(&run(&user, &v1()));
    assert_eq!(spec.config.hostname.as_deref(), Some("web-1"));
    assert_eq!(spec.config.domainname.as_deref(), Some("example.test"));
}

#[test]
fn hostname_is_dropped_where_the_engine_refuses_it() {
    let user = ContainerConfig {
        hostname: Some("web-1".into()),
        domainname: Some("example.test".into()),
        ..ContainerConfig::default()
    };
    for mode in [NetworkMode::Host, NetworkMode::Container("db".into())] {
        let mut c = run(&user, &v1());
        c.network_mode = mode.clone();
        let spec = build(&c);
        assert_eq!(spec.config.hostname, None, "{mode:?}");
        assert_eq!(spec.config.domainname, None, "{mode:?}");
    }
    let mut c = run(&user, &v1());
    c.host_config.inner.uts_mode = Some("host".into());
    assert_eq!(build(&c).config.hostname, None, "UTSMode=host");
}

#[test]
fn networks_keep_aliases_ips_links_and_mac_but_not_the_short_id() {
    let mut c = run(&ContainerConfig::default(), &v1());
    c.networks = vec![
        NetworkAttachment {
            network: "appnet".into(),
            aliases: strings(&["web", SHORT, "www", "web"]),
            ipv4_address: Some("10.89.0.10".into()),
            ipv6_address: Some(String::new()),
            links: strings(&["db:database"]),
            mac_address: Some("02:00:00:00:00:aa".into()),
            driver_opts: map(&[("opt", "1")]),
        },
        NetworkAttachment {
            network: "backend".into(),
            aliases: strings(&["api"]),
            ..NetworkAttachment::default()
        },
    ];
    c.config.mac_address = Some("02:00:00:00:00:aa".into());
    let spec = build(&c);
    assert_eq!(
        spec.networks,
        vec![
            NetworkAttachment {
                network: "appnet".into(),
                aliases: strings(&["web", "www"]),
                ipv4_address: Some("10.89.0.10".into()),
                ipv6_address: None,
                links: strings(&["db:database"]),
                mac_address: Some("02:00:00:00:00:aa".into()),
                driver_opts: map(&[("opt", "1")]),
            },
            NetworkAttachment {
                network: "backend".into(),
                aliases: strings(&["api"]),
                ..NetworkAttachment::default()
            },
        ]
    );
    assert_eq!(
        spec.config.mac_address.as_deref(),
        Some("02:00:00:00:00:aa")
    );
    assert_eq!(spec.primary_network().unwrap().network, "appnet");
}

#[test]
fn the_default_bridge_gets_no_aliases() {
    let mut c = run(&ContainerConfig::default(), &v1());
    c.network_mode = NetworkMode::Default;
    c.networks = vec![NetworkAttachment {
        network: "bridge".into(),
        aliases: strings(&["web"]),
        ..NetworkAttachment::default()
    }];
    let spec = build(&c);
    assert!(spec.networks[0].aliases.is_empty());
    assert_eq!(spec.primary_network().unwrap().network, "bridge");
}

#[test]
fn special_network_modes_have_no_endpoints() {
    for mode in [
        NetworkMode::Host,
        NetworkMode::None,
        NetworkMode::Container("db".into()),
    ] {
        let mut c = run(&ContainerConfig::default(), &v1());
        c.network_mode = mode.clone();
        c.config.mac_address = Some("02:00:00:00:00:aa".into());
        let spec = build(&c);
        assert!(spec.networks.is_empty(), "{mode:?}");
        assert_eq!(spec.config.mac_address, None, "{mode:?}");
        assert_eq!(spec.primary_network(), None);
        assert_eq!(spec.network_mode, mode);
        assert_eq!(
            spec.host_config.inner.network_mode.as_deref(),
            Some(mode.to_engine_string().as_str())
        );
    }
}

#[test]
fn container_network_mode_is_written_with_the_parents_name() {
    let mut c = run(&ContainerConfig::default(), &v1());
    c.host_config.inner.network_mode = Some(format!("container:{ID}"));
    c.network_mode = NetworkMode::Container("vpn".into());
    let spec = build(&c);
    assert_eq!(
        spec.host_config.inner.network_mode.as_deref(),
        Some("container:vpn")
    );
}

#[test]
fn host_config_is_kept_whole_except_links() {
    let mut c = run(&ContainerConfig::default(), &v1());
    let original = EngineHostConfig {
        binds: Some(strings(&["/srv/data:/data:ro", "named:/named"])),
        memory: Some(64 * 1024 * 1024),
        cap_add: Some(strings(&["NET_ADMIN"])),
        restart_policy: Some(RestartPolicy {
            name: Some(RestartPolicyNameEnum::UNLESS_STOPPED),
            maximum_retry_count: Some(0),
        }),
        tmpfs: Some(HashMap::from([("/run".to_owned(), "size=1m".to_owned())])),
        extra_hosts: Some(strings(&["db.local:127.0.0.1"])),
        init: Some(true),
        links: Some(strings(&["/db:/web/db", "/cache:/web/redis", "bad:"])),
        network_mode: Some("appnet".into()),
        ..EngineHostConfig::default()
    };
    *c.host_config.inner = original.clone();
    let spec = build(&c);
    let mut expected = original;
    expected.links = Some(strings(&["db:db", "cache:redis"]));
    assert_eq!(*spec.host_config.inner, expected);
}

#[test]
fn other_settings_are_copied() {
    let user = ContainerConfig {
        tty: true,
        open_stdin: true,
        stdin_once: true,
        attach: [true, true, false],
        stop_timeout: Some(42),
        ..ContainerConfig::default()
    };
    let spec = build(&run(&user, &v1()));
    assert!(spec.config.tty && spec.config.open_stdin && spec.config.stdin_once);
    assert_eq!(spec.config.attach, [true, true, false]);
    assert_eq!(spec.config.stop_timeout, Some(42));
    assert_eq!(spec.config.shell, None, "build-time SHELL is not frozen in");
}

#[test]
fn recreating_from_the_same_image_is_a_fixed_point() {
    let user = ContainerConfig {
        env: strings(&["TOKEN=abc", "VERSION=pinned"]),
        labels: map(&[("mine", "yes")]),
        cmd: Some(strings(&["serve", "--x"])),
        working_dir: Some("/srv".into()),
        healthcheck: Some(Healthcheck {
            interval: 5_000_000_000,
            ..Healthcheck::default()
        }),
        ..ContainerConfig::default()
    };
    let c = run(&user, &v1());
    let spec = RecreateSpec::build(&c, &image("a", v1()), &image("a", v1()), "x");
    let mut expected = c.config.clone();
    expected.hostname = None;
    expected.shell = None;
    assert_eq!(spec.config, expected);
}

#[test]
fn an_update_chain_keeps_the_user_settings() {
    // v1 -> v2 -> v1 again: the user's settings survive twice, the defaults follow twice.
    let user = ContainerConfig {
        env: strings(&["TOKEN=abc"]),
        labels: map(&[("mine", "yes")]),
        ..ContainerConfig::default()
    };
    let c1 = run(&user, &v1());
    let s1 = build(&c1);
    let mut c2 = c1.clone();
    c2.config = engine_create(&s1.config, &v2());
    c2.config.hostname = Some(SHORT.into());
    let s2 = RecreateSpec::build(&c2, &image("b", v2()), &image("a", v1()), "x");
    let mut expected = engine_create(&user, &v1());
    expected.shell = None;
    assert_eq!(s2.config, expected);
}

fn arb_env() -> impl Strategy<Value = BTreeMap<String, String>> {
    prop::collection::btree_map("[A-E]", "[0-2]", 0..5)
}

fn env_vec(m: &BTreeMap<String, String>) -> Vec<String> {
    m.iter().map(|(k, v)| format!("{k}={v}")).collect()
}

fn env_map(v: &[String]) -> BTreeMap<String, String> {
    v.iter()
        .map(|e| {
            let (k, val) = e.split_once('=').unwrap();
            (k.to_owned(), val.to_owned())
        })
        .collect()
}

proptest! {
    /// For any user env and image envs: a user value that differs from the old image's default
    /// is kept; every other key has the new image's value; no other key appears.
    #[test]
    fn env_three_way_merge(user in arb_env(), old in arb_env(), new in arb_env()) {
        let u = ContainerConfig { env: env_vec(&user), ..ContainerConfig::default() };
        let o = ContainerConfig { env: env_vec(&old), ..ContainerConfig::default() };
        let n = ContainerConfig { env: env_vec(&new), ..ContainerConfig::default() };
        let c = run(&u, &o);
        let spec = RecreateSpec::build(&c, &image("a", o), &image("b", n.clone()), "x");
        let got = env_map(&spec.config.env);
        let mut expected = BTreeMap::new();
        for (k, v) in &new { expected.insert(k.clone(), v.clone()); }
        for (k, v) in &user {
            if old.get(k) != Some(v) { expected.insert(k.clone(), v.clone()); }
        }
        prop_assert_eq!(&got, &expected);
        prop_assert_eq!(got.len(), spec.config.env.len(), "no duplicate keys");
        prop_assert_eq!(engine_create(&spec.config, &n).env, spec.config.env.clone());
    }

    /// The same for labels.
    #[test]
    fn labels_three_way_merge(user in arb_env(), old in arb_env(), new in arb_env()) {
        let u = ContainerConfig { labels: user.clone(), ..ContainerConfig::default() };
        let o = ContainerConfig { labels: old.clone(), ..ContainerConfig::default() };
        let n = ContainerConfig { labels: new.clone(), ..ContainerConfig::default() };
        let spec = RecreateSpec::build(&run(&u, &o), &image("a", o), &image("b", n), "x");
        let mut expected = new.clone();
        for (k, v) in &user {
            if old.get(k) != Some(v) { expected.insert(k.clone(), v.clone()); }
        }
        prop_assert_eq!(spec.config.labels, expected);
    }

    /// Entrypoint and command: whatever the user set is kept, the rest is the new image's, and
    /// the engine's merge agrees with the spec.
    #[test]
    fn entrypoint_and_command(
        user_ep in prop::option::of(prop::collection::vec("[ab]", 0..2)),
        user_cmd in prop::option::of(prop::collection::vec("[xy]", 0..2)),
        old_ep in prop::option::of(prop::collection::vec("[ab]", 1..2)),
        old_cmd in prop::option::of(prop::collection::vec("[xy]", 1..2)),
        new_ep in prop::option::of(prop::collection::vec("[cd]", 1..2)),
        new_cmd in prop::option::of(prop::collection::vec("[zw]", 1..2)),
    ) {
        let u = ContainerConfig { entrypoint: user_ep.clone(), cmd: user_cmd.clone(), ..ContainerConfig::default() };
        let o = ContainerConfig { entrypoint: old_ep.clone(), cmd: old_cmd.clone(), ..ContainerConfig::default() };
        let n = ContainerConfig { entrypoint: new_ep.clone(), cmd: new_cmd.clone(), ..ContainerConfig::default() };
        let c = run(&u, &o);
        let spec = RecreateSpec::build(&c, &image("a", o), &image("b", n.clone()), "x");
        let created = engine_create(&spec.config, &n);
        prop_assert_eq!(&created.entrypoint.clone().filter(|v| !v.is_empty()),
                        &spec.config.entrypoint.clone().filter(|v| !v.is_empty()));
        prop_assert_eq!(&created.cmd, &spec.config.cmd);
        let empty = |v: &Option<Vec<String>>| v.as_ref().is_none_or(Vec::is_empty);
        let ep_user_set = !same_list(c.config.entrypoint.as_ref(), old_ep.as_ref())
            || (!empty(&c.config.entrypoint) && empty(&c.config.cmd) && !empty(&old_cmd));
        if ep_user_set {
            prop_assert_eq!(spec.config.entrypoint.clone().unwrap_or_default(),
                            c.config.entrypoint.clone().unwrap_or_default());
        } else {
            prop_assert_eq!(&spec.config.entrypoint, &new_ep);
            if same_list(c.config.cmd.as_ref(), old_cmd.as_ref()) {
                prop_assert_eq!(&spec.config.cmd, &new_cmd);
            } else {
                prop_assert_eq!(&spec.config.cmd, &c.config.cmd);
            }
        }
    }
}
