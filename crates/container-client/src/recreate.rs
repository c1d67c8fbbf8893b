//! The recreate rules: how a container is re-made from a new image with the same
//! configuration.
//!
//! The rules are a three-way merge between the old container, the image it was created from
//! (the *old* image) and the image it is recreated from (the *new* image). The table is in
//! the crate documentation; [`RecreateSpec::build`] is the only place that implements it.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{
    Container, ContainerConfig, Healthcheck, HostConfig, Image, MountClaim, NetworkAttachment,
    NetworkMode, VolumeMount, clean_path,
};

/// Everything needed to create the replacement of a container.
///
/// `config` is the complete configuration of the new container: image defaults are already
/// merged in (so the engine's own merge of image defaults at create time changes nothing), and
/// the new container's `inspect` shows exactly these values, except `hostname` when it is
/// `None` (the engine then picks the new short ID).
#[derive(Debug, Clone, PartialEq)]
pub struct RecreateSpec {
    /// Name for the new container (the old one's name).
    pub name: String,
    /// Image reference to create from.
    pub image: String,
    /// The merged configuration.
    pub config: ContainerConfig,
    /// The old container's host configuration, whole.
    pub host_config: HostConfig,
    /// Network mode, with `container:<x>` pointing at the current container named `x`.
    pub network_mode: NetworkMode,
    /// Network endpoints to attach.
    pub networks: Vec<NetworkAttachment>,
    /// The old container's anonymous volumes that the new one mounts again, at the same
    /// destinations (already written into `host_config`), sorted by destination. While the
    /// old container exists it keeps them in use; once the new one is created, so does it.
    pub carried_volumes: Vec<VolumeMount>,
}

impl RecreateSpec {
    /// Applies the recreate rules (see the table in the crate docs).
    ///
    /// - `container`: the container as inspected before it was stopped;
    /// - `old_image`: the image it runs (`container.image_id`), whose defaults tell which
    ///   values the user set;
    /// - `new_image`: the image to recreate from, whose defaults replace the old image's;
    /// - `image_reference`: what to write into `Config.Image`, normally
    ///   `container.image_reference` (the reference as the user wrote it).
    pub fn build(
        container: &Container,
        old_image: &Image,
        new_image: &Image,
        image_reference: &str,
    ) -> RecreateSpec {
        let c = &container.config;
        let old = &old_image.config;
        let new = &new_image.config;
        let short_id = container.short_id();
        let mode = container.network_mode.clone();
        let own_uts = !container.host_config.uts_mode_is_host()
            && !matches!(mode, NetworkMode::Host | NetworkMode::Container(_));
        let endpoints = matches!(
            mode,
            NetworkMode::Default | NetworkMode::Bridge | NetworkMode::Named(_)
        );

        let (entrypoint, cmd) = merge_entrypoint_cmd(c, old, new);
        let config = ContainerConfig {
            hostname: c
                .hostname
                .clone()
                .filter(|h| own_uts && !h.is_empty() && h != short_id),
            domainname: c.domainname.clone().filter(|d| own_uts && !d.is_empty()),
            user: pick(c.user.as_ref(), old.user.as_ref(), new.user.as_ref()),
            env: merge_env(&c.env, &old.env, &new.env),
            cmd,
            entrypoint,
            working_dir: pick(
                c.working_dir.as_ref(),
                old.working_dir.as_ref(),
                new.working_dir.as_ref(),
            ),
            exposed_ports: merge_set(
                &c.exposed_ports,
                &old.exposed_ports,
                &new.exposed_ports,
                container.host_config.port_binding_keys(),
            ),
            volumes: merge_set(&c.volumes, &old.volumes, &new.volumes, Vec::new()),
            labels: merge_labels(&c.labels, &old.labels, &new.labels),
            healthcheck: merge_healthcheck(
                c.healthcheck.as_ref(),
                old.healthcheck.as_ref(),
                new.healthcheck.as_ref(),
            ),
            stop_signal: pick(
                c.stop_signal.as_ref(),
                old.stop_signal.as_ref(),
                new.stop_signal.as_ref(),
            ),
            stop_timeout: c.stop_timeout,
            tty: c.tty,
            open_stdin: c.open_stdin,
            stdin_once: c.stdin_once,
            attach: c.attach,
            // Build-time settings: the engine never copies them from the image into a container,
            // so a value equal to the old image's is dropped rather than frozen in.
            shell: keep_if_user_set(c.shell.as_ref(), old.shell.as_ref()),
            on_build: keep_if_user_set(c.on_build.as_ref(), old.on_build.as_ref()),
            mac_address: c.mac_address.clone().filter(|m| endpoints && !m.is_empty()),
        };

        let networks = if endpoints {
            container
                .networks
                .iter()
                .map(|n| clean_attachment(n, short_id))
                .collect()
        } else {
            Vec::new()
        };

        let carried_volumes = carried_volumes(container, &config.volumes);
        let mut host_config = container.host_config.clone();
        host_config.prepare_for_recreate(&mode);
        host_config.set_carried_volumes(&carried_volumes);

        RecreateSpec {
            name: container.name.trim_start_matches('/').to_owned(),
            image: image_reference.to_owned(),
            config,
            host_config,
            network_mode: mode,
            networks,
            carried_volumes,
        }
    }

    /// A container that only keeps `volumes` in use: created (never started) from the image
    /// `container` runs, with its entrypoint and command (so the engine accepts it), no network,
    /// `volumes` mounted by name as [`RecreateSpec::build`] mounts carried volumes, and only
    /// `labels`.
    ///
    /// The engine deletes the anonymous volumes of a container that removes itself when it
    /// stops (`--rm`) unless another container uses them: a holder made before the stop keeps
    /// them. Remove it with its volumes once the old container is gone: volumes mounted by
    /// name are not the holder's to delete, so only the anonymous volumes the engine gave the
    /// holder itself (other `VOLUME`s of the image) go with it.
    pub fn volume_holder(
        container: &Container,
        volumes: &[VolumeMount],
        name: &str,
        labels: BTreeMap<String, String>,
    ) -> RecreateSpec {
        let mut host_config = HostConfig::default();
        host_config.prepare_for_recreate(&NetworkMode::None);
        host_config.set_carried_volumes(volumes);
        RecreateSpec {
            name: name.to_owned(),
            image: container.image_id.clone(),
            config: ContainerConfig {
                entrypoint: container.config.entrypoint.clone(),
                cmd: container.config.cmd.clone(),
                labels,
                ..ContainerConfig::default()
            },
            host_config,
            network_mode: NetworkMode::None,
            networks: Vec::new(),
            carried_volumes: volumes.to_vec(),
        }
    }

    /// The endpoint the container is created on when the engine takes only one endpoint at
    /// create time (API < 1.44): the network its `network_mode` names, else the first.
    pub fn primary_network(&self) -> Option<&NetworkAttachment> {
        let wanted = match &self.network_mode {
            NetworkMode::Named(n) => n.as_str(),
            NetworkMode::Default | NetworkMode::Bridge => "bridge",
            _ => return None,
        };
        self.networks
            .iter()
            .find(|n| n.network == wanted)
            .or_else(|| self.networks.first())
    }
}

/// True when two optional lists mean the same (`None` and empty are both "not set").
fn same_list(a: Option<&Vec<String>>, b: Option<&Vec<String>>) -> bool {
    a.map_or(&[][..], Vec::as_slice) == b.map_or(&[][..], Vec::as_slice)
}

/// True when two optional strings mean the same (`None` and empty are both "not set").
fn same_str(a: Option<&String>, b: Option<&String>) -> bool {
    a.map_or("", String::as_str) == b.map_or("", String::as_str)
}

/// The container's value when the user set it (it differs from the old image's), else the
/// new image's.
fn pick(container: Option<&String>, old: Option<&String>, new: Option<&String>) -> Option<String> {
    if same_str(container, old) {
        new.filter(|s| !s.is_empty()).cloned()
    } else {
        container.cloned()
    }
}

fn keep_if_user_set(
    container: Option<&Vec<String>>,
    old: Option<&Vec<String>>,
) -> Option<Vec<String>> {
    if same_list(container, old) {
        None
    } else {
        container.cloned()
    }
}

/// Entrypoint and command. The entrypoint follows the new image when it equals the old
/// image's. The command follows the new image only when the entrypoint does too and it equals
/// the old image's command: a command written for a user's entrypoint stays with it, and the
/// engine itself drops an image's command as soon as a container sets its own entrypoint.
fn merge_entrypoint_cmd(
    c: &ContainerConfig,
    old: &ContainerConfig,
    new: &ContainerConfig,
) -> (Option<Vec<String>>, Option<Vec<String>>) {
    let nonempty = |v: &Option<Vec<String>>| v.clone().filter(|v| !v.is_empty());
    let is_empty = |v: &Option<Vec<String>>| v.as_ref().is_none_or(Vec::is_empty);
    // An entrypoint equal to the image's but without the image's command was given
    // explicitly (`--entrypoint` drops the image's command): it stays the user's.
    let explicit_same_entrypoint =
        !is_empty(&c.entrypoint) && is_empty(&c.cmd) && !is_empty(&old.cmd);
    if same_list(c.entrypoint.as_ref(), old.entrypoint.as_ref()) && !explicit_same_entrypoint {
        let cmd = if same_list(c.cmd.as_ref(), old.cmd.as_ref()) {
            nonempty(&new.cmd)
        } else {
            c.cmd.clone()
        };
        (nonempty(&new.entrypoint), cmd)
    } else {
        // An entrypoint the user cleared (`--entrypoint ""`) must stay explicitly empty, or
        // the engine would fill in the new image's. With an empty entrypoint and no command
        // the engine takes the image's command, and so does the spec.
        let entrypoint = c.entrypoint.clone().unwrap_or_default();
        let cmd = match nonempty(&c.cmd) {
            None if entrypoint.is_empty() => nonempty(&new.cmd),
            cmd => cmd,
        };
        (Some(entrypoint), cmd)
    }
}

fn env_key(entry: &str) -> &str {
    entry.split_once('=').map_or(entry, |(k, _)| k)
}

/// Env key by key: an entry equal to the old image's entry for that key follows the new image
/// (changed value, or gone when the new image dropped the key); any other entry is the user's
/// and is kept. The new image's other entries are appended, as the engine does.
fn merge_env(container: &[String], old: &[String], new: &[String]) -> Vec<String> {
    let old: BTreeSet<&str> = old.iter().map(String::as_str).collect();
    let mut out: Vec<String> = Vec::new();
    let mut keys: BTreeSet<String> = BTreeSet::new();
    for entry in container {
        if !old.contains(entry.as_str()) && keys.insert(env_key(entry).to_owned()) {
            out.push(entry.clone());
        }
    }
    for entry in new {
        if keys.insert(env_key(entry).to_owned()) {
            out.push(entry.clone());
        }
    }
    out
}

/// Labels key by key, like env.
fn merge_labels(
    container: &BTreeMap<String, String>,
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut out = new.clone();
    for (k, v) in container {
        if old.get(k) != Some(v) {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

/// Exposed ports and volumes: the container's entries that the old image did not declare are
/// the user's; the new image's entries and `extra` (port-binding keys) are added. Sorted.
fn merge_set(
    container: &[String],
    old: &[String],
    new: &[String],
    extra: Vec<String>,
) -> Vec<String> {
    let old: BTreeSet<&String> = old.iter().collect();
    let mut out: BTreeSet<String> = new.iter().cloned().collect();
    out.extend(container.iter().filter(|e| !old.contains(e)).cloned());
    out.extend(extra);
    out.into_iter().collect()
}

/// The anonymous volumes the new container mounts again: each volume mounted in the old
/// container under a name the engine generated, at a destination that
///
/// - the host configuration does not give a source of its own (a bind, a volume by name or a
///   tmpfs there is the user's and stays as it is), and
/// - either the user's host configuration asks for an anonymous volume (a `Mounts` entry or
///   bind without a source: the new container gets one there whatever the image says), or is
///   still a volume of the new container (`volumes`: the new image's `VOLUME`s and the user's
///   `-v /path`).
///
/// A destination the new image no longer declares is not carried: the volume stays with the
/// old container (and goes with it under `--remove-volumes`). Volumes of `VolumesFrom` are not
/// in `volume_mounts`: they come again through `VolumesFrom`.
fn carried_volumes(container: &Container, volumes: &[String]) -> Vec<VolumeMount> {
    let claims = container.host_config.mount_claims();
    let declared: BTreeSet<String> = volumes.iter().map(|v| clean_path(v)).collect();
    let mut carried: BTreeMap<String, VolumeMount> = BTreeMap::new();
    for mount in &container.volume_mounts {
        let destination = clean_path(&mount.destination);
        let carry = mount.has_generated_name()
            && match claims.get(&destination) {
                Some(MountClaim::Source) => false,
                Some(MountClaim::Anonymous) => true,
                Some(MountClaim::Carried) | None => declared.contains(&destination),
            };
        if carry {
            carried.entry(destination).or_insert_with(|| mount.clone());
        }
    }
    carried.into_values().collect()
}

/// Healthcheck field by field: a field equal to the old image's follows the new image, any
/// other is the user's (`--health-interval` alone keeps the new image's test). A check the old
/// image did not have is the user's, whole. When nothing is left, there is none.
fn merge_healthcheck(
    c: Option<&Healthcheck>,
    old: Option<&Healthcheck>,
    new: Option<&Healthcheck>,
) -> Option<Healthcheck> {
    match (c, old) {
        (None, _) => new.cloned(),
        (Some(c), None) => Some(c.clone()),
        (Some(c), Some(o)) => {
            let none = Healthcheck::default();
            let n = new.unwrap_or(&none);
            let pick = |cv: i64, ov: i64, nv: i64| if cv == ov { nv } else { cv };
            let h = Healthcheck {
                test: if c.test == o.test {
                    n.test.clone()
                } else {
                    c.test.clone()
                },
                interval: pick(c.interval, o.interval, n.interval),
                timeout: pick(c.timeout, o.timeout, n.timeout),
                start_period: pick(c.start_period, o.start_period, n.start_period),
                start_interval: pick(c.start_interval, o.start_interval, n.start_interval),
                retries: pick(c.retries, o.retries, n.retries),
            };
            (h != none).then_some(h)
        }
    }
}

/// An endpoint as it is attached again: without the old short-ID alias (the engine adds the
/// new one), without duplicates, and without aliases on the default bridge (which rejects
/// them).
fn clean_attachment(n: &NetworkAttachment, short_id: &str) -> NetworkAttachment {
    let mut n = n.clone();
    let mut seen = BTreeSet::new();
    n.aliases
        .retain(|a| !a.is_empty() && a != short_id && seen.insert(a.clone()));
    if n.network == "bridge" {
        n.aliases.clear();
    }
    n.ipv4_address = n.ipv4_address.filter(|s| !s.is_empty());
    n.ipv6_address = n.ipv6_address.filter(|s| !s.is_empty());
    n.mac_address = n.mac_address.filter(|s| !s.is_empty());
    n
}

#[cfg(test)]
mod tests;
