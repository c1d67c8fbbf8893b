//! The domain model: what the update engine knows about containers and images.
//!
//! Plain data, no engine types: the engine's unit tests build these by hand.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::Duration;

use bollard::models::{Mount, MountType, MountVolumeOptions, MountVolumeOptionsDriverConfig};

/// Lifecycle state of a container as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ContainerState {
    /// Created and never started.
    Created,
    /// Running (also when paused is false and health is anything).
    #[default]
    Running,
    /// Paused.
    Paused,
    /// Being restarted by its restart policy.
    Restarting,
    /// Being removed.
    Removing,
    /// Stopped.
    Exited,
    /// Dead (removal failed half-way).
    Dead,
    /// A state this crate does not know.
    Other(String),
}

impl ContainerState {
    /// True for `Running` (the states in which a lifecycle hook can be executed).
    pub fn is_running(&self) -> bool {
        matches!(self, Self::Running)
    }
}

/// Health as reported by a container's healthcheck.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HealthStatus {
    /// No healthcheck configured.
    None,
    /// Within the start period.
    Starting,
    /// Last checks passed.
    Healthy,
    /// Too many checks failed.
    Unhealthy,
}

/// How a container is attached to networks (`HostConfig.NetworkMode`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum NetworkMode {
    /// `default` or empty: the engine's default bridge.
    #[default]
    Default,
    /// `bridge`.
    Bridge,
    /// `host`.
    Host,
    /// `none`.
    None,
    /// `container:<name>`: shares another container's network stack. The name is resolved
    /// from the ID the engine reports, so it survives that container being recreated. Inspect
    /// dependents *before* recreating their parent: once the parent's old container is gone,
    /// its ID cannot be turned into a name any more (the ID is then kept as it is).
    Container(String),
    /// A user-defined network by name.
    Named(String),
}

impl NetworkMode {
    /// Parses `HostConfig.NetworkMode` as the engine reports it. `container:<id>` keeps the ID;
    /// the Docker implementation resolves it to the container's name.
    pub fn parse(mode: &str) -> Self {
        match mode {
            "" | "default" => Self::Default,
            "bridge" => Self::Bridge,
            "host" => Self::Host,
            "none" => Self::None,
            m => match m.strip_prefix("container:") {
                Some(c) => Self::Container(c.trim_start_matches('/').to_owned()),
                None => Self::Named(m.to_owned()),
            },
        }
    }

    /// The value of `HostConfig.NetworkMode` for this mode.
    pub fn to_engine_string(&self) -> String {
        match self {
            Self::Default => "default".to_owned(),
            Self::Bridge => "bridge".to_owned(),
            Self::Host => "host".to_owned(),
            Self::None => "none".to_owned(),
            Self::Container(c) => format!("container:{c}"),
            Self::Named(n) => n.clone(),
        }
    }
}

/// One network endpoint of a container, with everything needed to attach it again.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetworkAttachment {
    /// Network name.
    pub network: String,
    /// Aliases the user gave (the aliases the engine adds by itself, the short ID and the
    /// hostname, are already removed).
    pub aliases: Vec<String>,
    /// Static IPv4 address from the IPAM config, when the user set one.
    pub ipv4_address: Option<String>,
    /// Static IPv6 address from the IPAM config, when the user set one.
    pub ipv6_address: Option<String>,
    /// Legacy links on this network (`name:alias`).
    pub links: Vec<String>,
    /// MAC address the user set for this endpoint (engine-generated ones are dropped).
    pub mac_address: Option<String>,
    /// Driver options.
    pub driver_opts: BTreeMap<String, String>,
}

/// A container, inspected: identity, state, and its full configuration.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Container {
    /// Full container ID.
    pub id: String,
    /// Name without the leading `/`.
    pub name: String,
    /// The image reference the container was created from (`Config.Image`), as written.
    pub image_reference: String,
    /// The ID of the image the container runs (`sha256:...`).
    pub image_id: String,
    /// Lifecycle state.
    pub state: ContainerState,
    /// Health, when a healthcheck is configured.
    pub health: Option<HealthStatus>,
    /// The exit code of the last run (`State.ExitCode`; 0 while it never exited).
    pub exit_code: i64,
    /// How often the engine restarted it under its restart policy (`RestartCount`).
    pub restart_count: i64,
    /// Creation time, RFC 3339 as the engine reports it.
    pub created: String,
    /// Labels (`Config.Labels`).
    pub labels: BTreeMap<String, String>,
    /// Names of containers this one links to (`HostConfig.Links`, the part before `:`,
    /// without `/`).
    pub links: Vec<String>,
    /// Network mode.
    pub network_mode: NetworkMode,
    /// Network endpoints (empty for `host`, `none` and `container:` modes).
    pub networks: Vec<NetworkAttachment>,
    /// The volumes mounted in the container (`Mounts` entries of type `volume`, named and
    /// anonymous), without those it got through `VolumesFrom` (they come again from there).
    pub volume_mounts: Vec<VolumeMount>,
    /// The container's configuration, as the recreate rules need it.
    pub config: ContainerConfig,
    /// Host configuration, kept whole on recreation.
    pub host_config: HostConfig,
}

impl Container {
    /// The first 12 hex digits of the ID.
    pub fn short_id(&self) -> &str {
        short(&self.id)
    }
}

/// A volume mounted in a container (a `Mounts` entry of type `volume`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VolumeMount {
    /// The volume's name: the user's for a named volume, 64 hex digits the engine generated
    /// for an anonymous one.
    pub name: String,
    /// Where it is mounted in the container.
    pub destination: String,
    /// The volume driver (`local`), when the engine reports one.
    pub driver: Option<String>,
    /// Mounted read-write.
    pub read_write: bool,
}

impl VolumeMount {
    /// Whether the engine generated the name (64 lowercase hex digits), as it does for the
    /// anonymous volumes of an image's `VOLUME` or of `-v /path`.
    pub fn has_generated_name(&self) -> bool {
        self.name.len() == 64
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    }
}

/// The parts of a container's or image's `Config` that recreation reasons about.
///
/// On a container these are the effective values; on an image, the image's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContainerConfig {
    /// `Hostname`.
    pub hostname: Option<String>,
    /// `Domainname`.
    pub domainname: Option<String>,
    /// `User`.
    pub user: Option<String>,
    /// `Env`, in order, as `KEY=value`.
    pub env: Vec<String>,
    /// `Cmd`.
    pub cmd: Option<Vec<String>>,
    /// `Entrypoint`.
    pub entrypoint: Option<Vec<String>>,
    /// `WorkingDir`.
    pub working_dir: Option<String>,
    /// `ExposedPorts` keys such as `80/tcp`.
    pub exposed_ports: Vec<String>,
    /// `Volumes` keys (anonymous volume mount points).
    pub volumes: Vec<String>,
    /// `Labels`.
    pub labels: BTreeMap<String, String>,
    /// `Healthcheck`.
    pub healthcheck: Option<Healthcheck>,
    /// `StopSignal`.
    pub stop_signal: Option<String>,
    /// `StopTimeout` in seconds.
    pub stop_timeout: Option<i64>,
    /// `Tty`.
    pub tty: bool,
    /// `OpenStdin`.
    pub open_stdin: bool,
    /// `StdinOnce`.
    pub stdin_once: bool,
    /// `AttachStdin`, `AttachStdout`, `AttachStderr`.
    pub attach: [bool; 3],
    /// `Shell`.
    pub shell: Option<Vec<String>>,
    /// `OnBuild`.
    pub on_build: Option<Vec<String>>,
    /// `MacAddress` (container-level, deprecated by the engine in favour of per-endpoint).
    pub mac_address: Option<String>,
}

/// A healthcheck definition (`Config.Healthcheck`). Durations in nanoseconds as the engine
/// stores them; zero means "inherit".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Healthcheck {
    /// `Test`, e.g. `["CMD-SHELL", "true"]` or `["NONE"]`.
    pub test: Vec<String>,
    /// `Interval` (ns).
    pub interval: i64,
    /// `Timeout` (ns).
    pub timeout: i64,
    /// `StartPeriod` (ns).
    pub start_period: i64,
    /// `StartInterval` (ns).
    pub start_interval: i64,
    /// `Retries`.
    pub retries: i64,
}

/// Host configuration of a container, kept whole when it is recreated.
///
/// Opaque on purpose: the rules never change it, so the update engine never needs to look
/// inside. The Docker implementation keeps the engine's document here; `Default` is an empty
/// host configuration (what the engine's unit tests use).
#[derive(Clone, PartialEq, Default)]
pub struct HostConfig {
    pub(crate) inner: Box<bollard::models::HostConfig>,
}

impl HostConfig {
    /// A host configuration with only `AutoRemove` (`--rm`) set: for other crates' unit tests
    /// (feature `mock`), which cannot look inside.
    #[cfg(any(test, feature = "mock"))]
    pub fn auto_removing() -> Self {
        let mut h = Self::default();
        h.inner.auto_remove = Some(true);
        h
    }

    /// `AutoRemove`: the engine removes the container when it stops (`--rm`).
    pub fn auto_remove(&self) -> bool {
        self.inner.auto_remove.unwrap_or(false)
    }

    /// The container ports that have host port bindings (`80/tcp`), sorted.
    pub fn port_binding_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .inner
            .port_bindings
            .as_ref()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        keys.sort();
        keys
    }

    /// Whether any port is published on the host (self-update cannot overlap two such
    /// containers).
    pub fn publishes_host_ports(&self) -> bool {
        self.inner.port_bindings.as_ref().is_some_and(|m| {
            m.values()
                .flatten()
                .flatten()
                .any(|b| b.host_port.as_deref().is_some_and(|p| !p.is_empty()))
        }) || self.inner.publish_all_ports.unwrap_or(false)
    }

    /// Where the container has host directories or files mounted read-write: `Binds`
    /// without `ro` and `Mounts` of type `bind` without `ReadOnly` (destinations, sorted).
    pub fn writable_binds(&self) -> Vec<String> {
        let binds = self.inner.binds.iter().flatten().filter_map(|b| {
            let mut parts = b.split(':');
            let _source = parts.next()?;
            let destination = parts.next()?;
            let read_only = parts
                .next()
                .is_some_and(|opts| opts.split(',').any(|o| o == "ro"));
            (!read_only).then(|| destination.to_owned())
        });
        let mounts = self.inner.mounts.iter().flatten().filter_map(|m| {
            let bind = matches!(m.typ, Some(MountType::BIND));
            (bind && !m.read_only.unwrap_or(false)).then(|| m.target.clone().unwrap_or_default())
        });
        let mut all: Vec<String> = binds.chain(mounts).collect();
        all.sort();
        all.dedup();
        all
    }

    /// `UTSMode` is `host`: the container uses the host's hostname.
    pub(crate) fn uts_mode_is_host(&self) -> bool {
        self.inner.uts_mode.as_deref() == Some("host")
    }

    /// The host configuration as the new container gets it: links in the create form and
    /// the network mode written from `mode` (so `container:<x>` names the container, not the
    /// old ID). Everything else is kept as it is.
    pub(crate) fn prepare_for_recreate(&mut self, mode: &NetworkMode) {
        if let Some(links) = self.inner.links.take() {
            let links: Vec<String> = links
                .iter()
                .filter_map(|l| {
                    let rewritten = rewrite_link(l);
                    if rewritten.is_none() {
                        tracing::warn!(link = %l, "dropping a link that cannot be parsed");
                    }
                    rewritten
                })
                .collect();
            self.inner.links = (!links.is_empty()).then_some(links);
        }
        self.inner.network_mode = Some(mode.to_engine_string());
    }

    /// The mount destinations `Binds`, `Mounts` and `Tmpfs` name, by [`clean_path`], with how
    /// they claim them.
    pub(crate) fn mount_claims(&self) -> BTreeMap<String, MountClaim> {
        let mut claims = BTreeMap::new();
        for bind in self.inner.binds.iter().flatten() {
            let (destination, claim) = match parse_bind(bind) {
                Bind::Sourced { destination } => (destination, MountClaim::Source),
                Bind::Sourceless { destination, .. } => (destination, MountClaim::Anonymous),
            };
            claims.insert(clean_path(destination), claim);
        }
        for m in self.inner.mounts.iter().flatten() {
            let claim = if is_carried_entry(m) {
                MountClaim::Carried
            } else if m.typ == Some(MountType::VOLUME)
                && m.source.as_deref().is_none_or(str::is_empty)
            {
                MountClaim::Anonymous
            } else {
                MountClaim::Source
            };
            claims.insert(clean_path(m.target.as_deref().unwrap_or_default()), claim);
        }
        for destination in self.inner.tmpfs.iter().flat_map(|t| t.keys()) {
            claims.insert(clean_path(destination), MountClaim::Source);
        }
        claims
    }

    /// Mounts `carried` by name at their destinations: an entry of the user's without a
    /// source gets the name filled in; any other volume gets a `Mounts` entry marked with
    /// [`CARRIED_VOLUME_LABEL`]. Marked entries of an earlier recreation that `carried` does
    /// not list are dropped. Nothing else changes.
    pub(crate) fn set_carried_volumes(&mut self, carried: &[VolumeMount]) {
        let had_mounts = self.inner.mounts.is_some();
        let mut mounts = self.inner.mounts.take().unwrap_or_default();
        mounts.retain(|m| !is_carried_entry(m));
        for volume in carried {
            let destination = clean_path(&volume.destination);
            let at = |target: &str| clean_path(target) == destination;
            if let Some(m) = mounts.iter_mut().find(|m| {
                m.typ == Some(MountType::VOLUME)
                    && m.source.as_deref().is_none_or(str::is_empty)
                    && at(m.target.as_deref().unwrap_or_default())
            }) {
                m.source = Some(volume.name.clone());
                continue;
            }
            if let Some(bind) = self.inner.binds.iter_mut().flatten().find(|b| {
                matches!(parse_bind(b), Bind::Sourceless { destination, .. } if at(destination))
            }) {
                *bind = format!("{}:{bind}", volume.name);
                continue;
            }
            let driver = volume
                .driver
                .clone()
                .filter(|d| !d.is_empty() && d != "local");
            mounts.push(Mount {
                target: Some(volume.destination.clone()),
                source: Some(volume.name.clone()),
                typ: Some(MountType::VOLUME),
                read_only: (!volume.read_write).then_some(true),
                volume_options: Some(MountVolumeOptions {
                    labels: Some(HashMap::from([(
                        CARRIED_VOLUME_LABEL.to_owned(),
                        "true".to_owned(),
                    )])),
                    driver_config: driver.map(|name| MountVolumeOptionsDriverConfig {
                        name: Some(name),
                        options: None,
                    }),
                    ..MountVolumeOptions::default()
                }),
                ..Mount::default()
            });
        }
        self.inner.mounts = (had_mounts || !mounts.is_empty()).then_some(mounts);
    }
}

/// The label on a `HostConfig.Mounts` entry that watchtower added to keep an anonymous
/// volume on recreation (`VolumeOptions.Labels`; the engine applies such labels only to a
/// volume it creates, so on the existing volume it is a marker and nothing else). It tells a
/// later recreation that the entry is not the user's: it is decided again, and dropped when
/// the image no longer declares the volume.
pub const CARRIED_VOLUME_LABEL: &str = "com.centurylinklabs.watchtower.anonymous-volume";

/// How the host configuration claims a mount destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MountClaim {
    /// A bind mount, a volume by name, a tmpfs: the user's, kept as it is.
    Source,
    /// A volume without a source (`--mount type=volume,dst=/x`, or a bind entry `/x`): the
    /// user asked for an anonymous volume there.
    Anonymous,
    /// A `Mounts` entry watchtower added to carry an anonymous volume over.
    Carried,
}

fn is_carried_entry(m: &Mount) -> bool {
    m.typ == Some(MountType::VOLUME)
        && m.volume_options
            .as_ref()
            .and_then(|o| o.labels.as_ref())
            .is_some_and(|l| l.contains_key(CARRIED_VOLUME_LABEL))
}

/// A `HostConfig.Binds` entry, as far as the recreate rules care.
enum Bind<'a> {
    /// `source:destination[:mode]`.
    Sourced { destination: &'a str },
    /// `destination` or `destination:mode`: an anonymous volume.
    Sourceless { destination: &'a str },
}

fn parse_bind(bind: &str) -> Bind<'_> {
    let mut parts = bind.splitn(3, ':');
    let first = parts.next().unwrap_or_default();
    match parts.next() {
        Some(second) if second.starts_with('/') => Bind::Sourced {
            destination: second,
        },
        _ => Bind::Sourceless { destination: first },
    }
}

/// A container path as the engine compares it: `.` and empty segments dropped, `..` applied,
/// no trailing `/` (`/data/` and `/data/./` are `/data`).
pub(crate) fn clean_path(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    format!("/{}", segments.join("/"))
}

impl fmt::Debug for HostConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostConfig").finish_non_exhaustive()
    }
}

/// An image, inspected.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Image {
    /// Image ID (`sha256:...`).
    pub id: String,
    /// `RepoTags`, e.g. `nginx:latest`.
    pub repo_tags: Vec<String>,
    /// `RepoDigests`, e.g. `nginx@sha256:...`.
    pub repo_digests: Vec<String>,
    /// Creation time, RFC 3339.
    pub created: String,
    /// The image's defaults.
    pub config: ContainerConfig,
}

/// Which containers `list_containers` returns besides running ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ListOptions {
    /// Also `created` and `exited` containers (`--include-stopped`).
    pub include_stopped: bool,
    /// Also `restarting` containers (`--include-restarting`).
    pub include_restarting: bool,
}

/// Credentials for a pull, as the engine's `X-Registry-Auth` wants them.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct PullAuth {
    /// User name.
    pub username: Option<String>,
    /// Password (secret).
    pub password: Option<String>,
    /// Identity token (secret).
    pub identity_token: Option<String>,
    /// Registry host these credentials are for.
    pub server_address: String,
}

impl fmt::Debug for PullAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PullAuth")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field(
                "identity_token",
                &self.identity_token.as_ref().map(|_| "<redacted>"),
            )
            .field("server_address", &self.server_address)
            .finish()
    }
}

/// What an exec returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutcome {
    /// Exit code; `None` when the command did not finish before the timeout.
    pub exit_code: Option<i64>,
    /// Combined output, possibly truncated.
    pub output: String,
}

/// What the engine says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EngineInfo {
    /// Engine version, e.g. `20.10.24`.
    pub server_version: String,
    /// API version in use after negotiation, e.g. `1.41`.
    pub api_version: String,
    /// Registries the engine reaches over plain HTTP or unverified TLS: CIDRs (`127.0.0.0/8`).
    pub insecure_registry_cidrs: Vec<String>,
    /// ... and host names (`myregistry:5000`).
    pub insecure_registry_names: Vec<String>,
}

/// How to stop a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopOptions {
    /// Signal name such as `SIGTERM`.
    pub signal: String,
    /// How long to wait after the signal before killing.
    pub timeout: Duration,
}

pub(crate) fn short(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    hex.get(..12).unwrap_or(hex)
}

/// Rewrites a link from the inspect form `/db:/web/db` to the create form `db:db`
/// (name : alias, the alias being the last path segment). `None` for an unusable entry.
fn rewrite_link(link: &str) -> Option<String> {
    let (name, alias) = match link.split_once(':') {
        Some((name, alias)) => (name, alias.rsplit('/').next().unwrap_or(alias)),
        None => (link, link.rsplit('/').next().unwrap_or(link)),
    };
    let name = name.trim_start_matches('/');
    if name.is_empty() || alias.is_empty() || name.contains('/') {
        return None;
    }
    Some(format!("{name}:{alias}"))
}

#[cfg(test)]
mod tests {
    use super::rewrite_link;

    #[test]
    fn links_are_rewritten_to_the_create_form() {
        assert_eq!(rewrite_link("/db:/web/db").as_deref(), Some("db:db"));
        assert_eq!(
            rewrite_link("/db:/web/database").as_deref(),
            Some("db:database")
        );
        assert_eq!(rewrite_link("db:alias").as_deref(), Some("db:alias"));
        assert_eq!(rewrite_link("db").as_deref(), Some("db:db"));
        assert_eq!(rewrite_link(""), None);
        assert_eq!(rewrite_link("db:"), None);
        assert_eq!(rewrite_link(":x"), None);
    }
}
