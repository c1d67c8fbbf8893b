//! Fixture images: `FROM scratch` around the host's static busybox, built, tagged and pushed to a
//! testkit [`Registry`](crate::Registry).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::OnceLock;

use anyhow::{Context as _, bail};
use bollard::Docker;
use bollard::auth::DockerCredentials;
use bollard::query_parameters::{
    BuildImageOptionsBuilder, PushImageOptionsBuilder, RemoveImageOptionsBuilder,
    TagImageOptionsBuilder,
};
use futures_util::StreamExt as _;

use crate::Engine;
use crate::registry::{Registry, RegistryApi};

/// Label carrying a fixture image's version number.
pub const VERSION_LABEL: &str = "watchtower.testkit.version";
/// Where busybox is unless `WATCHTOWER_TESTKIT_BUSYBOX` says otherwise.
const DEFAULT_BUSYBOX: &str = "/bin/busybox";
/// Environment variable naming another static busybox.
const BUSYBOX_ENV: &str = "WATCHTOWER_TESTKIT_BUSYBOX";
/// The busybox applets linked into `/bin`.
const APPLETS: &[&str] = &[
    "sh",
    "ash",
    "sleep",
    "cat",
    "echo",
    "env",
    "true",
    "false",
    "ls",
    "test",
    "[",
    "kill",
    "printf",
    "grep",
    "ps",
    "id",
    "hostname",
    "date",
    "mkdir",
    "rm",
    "rmdir",
    "touch",
    "head",
    "tail",
    "wc",
    "sed",
    "cp",
    "mv",
    "ln",
    "chmod",
    "pwd",
    "uname",
    "whoami",
    "sync",
    "timeout",
    "pidof",
    "pkill",
    "killall",
    "tr",
    "cut",
    "sort",
    "uniq",
    "expr",
    "seq",
    "tee",
    "stat",
    "find",
    "xargs",
    "basename",
    "dirname",
    "readlink",
    "mktemp",
    "sha256sum",
    "nproc",
    "which",
];
/// The default command: keeps running, and exits at once on SIGTERM or SIGINT (PID 1 has no
/// default signal handlers, so the shell traps them; `wait` returns when a trap fires).
pub const DEFAULT_CMD: &str =
    r#"CMD ["/bin/sh", "-c", "trap 'exit 0' TERM INT; sleep 2147483647 & wait"]"#;

/// What to put into a fixture image besides busybox and the version.
///
/// ```
/// use watchtower_testkit::FixtureSpec;
/// let spec = FixtureSpec::default()
///     .tag("stable")
///     .line("HEALTHCHECK --interval=1s CMD true")
///     .line("ENV MODE=fixture")
///     .file("/hooks/pre-update.sh", "#!/bin/sh\necho pre\n", 0o755);
/// assert_eq!(spec.tag.as_deref(), Some("stable"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct FixtureSpec {
    /// The tag to push (default `latest`). Later versions keep the first version's tag.
    pub tag: Option<String>,
    /// Dockerfile lines added after the defaults (`HEALTHCHECK`, `CMD`, `ENTRYPOINT`, `ENV`,
    /// `EXPOSE`, `VOLUME`, `LABEL`, `WORKDIR`, `USER`, `STOPSIGNAL`, ...). A `CMD` here
    /// replaces the default one.
    pub extra_lines: Vec<String>,
    /// Extra files: absolute path in the image, contents, mode.
    pub files: Vec<(String, Vec<u8>, u32)>,
}

impl FixtureSpec {
    /// Sets the tag.
    #[must_use]
    pub fn tag(mut self, tag: &str) -> Self {
        self.tag = Some(tag.to_owned());
        self
    }

    /// Adds a Dockerfile line.
    #[must_use]
    pub fn line(mut self, line: &str) -> Self {
        self.extra_lines.push(line.to_owned());
        self
    }

    /// Adds a file at the absolute `path` in the image.
    #[must_use]
    pub fn file(mut self, path: &str, contents: impl Into<Vec<u8>>, mode: u32) -> Self {
        self.files.push((path.to_owned(), contents.into(), mode));
        self
    }
}

/// One pushed version of a fixture.
#[derive(Debug, Clone)]
struct Version {
    number: u32,
    digest: String,
    image_id: String,
}

/// A fixture image pushed to a testkit registry.
///
/// Version 1 is built and pushed by [`FixtureImage::publish`]; the engine then has it locally,
/// tagged as [`FixtureImage::reference`]. [`FixtureImage::publish_next_version`] pushes version
/// N+1 under the same tag and puts the local tag back on version N, so the engine must pull to
/// see N+1 — the state in which watchtower finds a stale container. Every version carries the
/// engine's run labels, so dropping the [`Engine`] removes them.
pub struct FixtureImage {
    docker: Docker,
    labels: HashMap<String, String>,
    registry: RegistryApi,
    repo: String,
    tag: String,
    versions: Vec<Version>,
}

impl std::fmt::Debug for FixtureImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FixtureImage")
            .field("reference", &self.reference())
            .field("versions", &self.versions)
            .finish_non_exhaustive()
    }
}

impl FixtureImage {
    /// Builds version 1 of `repo` (e.g. `bench/app`) as described by `spec` and pushes it to
    /// `registry` with the registry's credentials.
    pub async fn publish(
        engine: &Engine,
        registry: &Registry,
        repo: &str,
        spec: FixtureSpec,
    ) -> anyhow::Result<FixtureImage> {
        if repo.is_empty()
            || repo.starts_with('/')
            || repo.contains([':', '@'])
            || repo != repo.to_lowercase()
        {
            bail!("fixture repository {repo:?} is not a valid lowercase repository path");
        }
        let mut image = FixtureImage {
            docker: engine.docker().clone(),
            labels: engine.labels(),
            registry: registry.api(),
            repo: repo.to_owned(),
            tag: spec.tag.clone().unwrap_or_else(|| "latest".to_owned()),
            versions: Vec::new(),
        };
        let version = image.build_and_push(1, &spec).await?;
        image.versions.push(version);
        Ok(image)
    }

    /// Pushes version N+1 with the same spec as version 1 had; see [`FixtureImage::publish_next_with`].
    pub async fn publish_next_version(&mut self) -> anyhow::Result<()> {
        self.publish_next_with(FixtureSpec::default()).await
    }

    /// Pushes version N+1 built from `spec` (its `tag` is ignored: the tag stays) to the
    /// registry, then points the local tag back at version N and removes N+1 from the engine.
    ///
    /// Afterwards the registry serves N+1 ([`FixtureImage::digest`]) while the engine has only
    /// N, as if the user pulled N earlier. After a pull, the engine's image for
    /// [`FixtureImage::reference`] has the id [`FixtureImage::image_id`].
    pub async fn publish_next_with(&mut self, spec: FixtureSpec) -> anyhow::Result<()> {
        let previous = self.versions.last().expect("version 1 exists").clone();
        let next = self.build_and_push(previous.number + 1, &spec).await?;
        let (repository, tag) = (self.repository(), self.tag.clone());
        self.docker
            .tag_image(
                &previous.image_id,
                Some(
                    TagImageOptionsBuilder::default()
                        .repo(&repository)
                        .tag(&tag)
                        .build(),
                ),
            )
            .await
            .with_context(|| {
                format!(
                    "tagging version {} back as {}",
                    previous.number,
                    self.reference()
                )
            })?;
        let options = RemoveImageOptionsBuilder::default().force(true).build();
        self.docker
            .remove_image(&next.image_id, Some(options), None)
            .await
            .with_context(|| format!("removing version {} from the engine", next.number))?;
        self.versions.push(next);
        Ok(())
    }

    /// `127.0.0.1:PORT/<repo>:<tag>`.
    pub fn reference(&self) -> String {
        format!("{}:{}", self.repository(), self.tag)
    }

    /// `127.0.0.1:PORT/<repo>`, the reference without the tag.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.registry.host(), self.repo)
    }

    /// The repository path inside the registry, e.g. `bench/app`.
    pub fn repo(&self) -> &str {
        &self.repo
    }

    /// The tag.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// The latest version pushed (1 after [`FixtureImage::publish`]).
    pub fn version(&self) -> u32 {
        self.latest().number
    }

    /// The registry's manifest digest of the latest version (`sha256:...`).
    pub fn digest(&self) -> &str {
        &self.latest().digest
    }

    /// The image id of the latest version (what the engine has after pulling it).
    pub fn image_id(&self) -> &str {
        &self.latest().image_id
    }

    /// The manifest digest of `version`, if it was pushed.
    pub fn digest_of(&self, version: u32) -> Option<&str> {
        self.versions
            .iter()
            .find(|v| v.number == version)
            .map(|v| v.digest.as_str())
    }

    /// The image id of `version`, if it was pushed.
    pub fn image_id_of(&self, version: u32) -> Option<&str> {
        self.versions
            .iter()
            .find(|v| v.number == version)
            .map(|v| v.image_id.as_str())
    }

    fn latest(&self) -> &Version {
        self.versions.last().expect("version 1 exists")
    }

    async fn build_and_push(&self, number: u32, spec: &FixtureSpec) -> anyhow::Result<Version> {
        let reference = self.reference();
        let context = build_context(&self.dockerfile(number, spec), &spec.files)?;
        let options = BuildImageOptionsBuilder::default()
            .dockerfile("Dockerfile")
            .t(&reference)
            .networkmode("none")
            .rm(true)
            .forcerm(true)
            .nocache(true)
            .build();
        let mut output = String::new();
        let mut stream =
            self.docker
                .build_image(options, None, Some(bollard::body_full(context.into())));
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => output.push_str(info.stream.as_deref().unwrap_or_default()),
                Err(err) => bail!(
                    "building version {number} of {reference} failed: {err}\nbuild output:\n{output}"
                ),
            }
        }
        let image_id = self
            .docker
            .inspect_image(&reference)
            .await
            .with_context(|| format!("inspecting {reference} after building version {number}"))?
            .id
            .with_context(|| format!("the engine reported no id for {reference}"))?;

        let credentials = self
            .registry
            .credentials()
            .map(|(user, password)| DockerCredentials {
                username: Some(user.to_owned()),
                password: Some(password.to_owned()),
                serveraddress: Some(self.registry.host()),
                ..DockerCredentials::default()
            });
        let options = PushImageOptionsBuilder::default().tag(&self.tag).build();
        let mut stream = self
            .docker
            .push_image(&self.repository(), Some(options), credentials);
        while let Some(item) = stream.next().await {
            item.with_context(|| format!("pushing version {number} of {reference}"))?;
        }
        let digest = self
            .registry
            .manifest_digest(&self.repo, &self.tag)
            .await
            .with_context(|| format!("reading the digest of version {number} of {reference}"))?;
        Ok(Version {
            number,
            digest,
            image_id,
        })
    }

    fn dockerfile(&self, number: u32, spec: &FixtureSpec) -> String {
        let mut labels: Vec<_> = self.labels.iter().collect();
        labels.sort();
        let mut dockerfile = String::from("FROM scratch\nLABEL");
        for (key, value) in labels {
            let _ = write!(dockerfile, " {}={}", quote(key), quote(value));
        }
        let _ = write!(
            dockerfile,
            " {VERSION_LABEL}=\"{number}\"\nCOPY rootfs/ /\nENV FIXTURE_VERSION={number}\n{DEFAULT_CMD}\n"
        );
        for line in &spec.extra_lines {
            dockerfile.push_str(line);
            dockerfile.push('\n');
        }
        dockerfile
    }
}

/// A Dockerfile double-quoted word.
fn quote(value: &str) -> String {
    serde_json::Value::String(value.to_owned()).to_string()
}

/// The build context: the Dockerfile and `rootfs/` with busybox, its applet links, `/tmp`,
/// `/etc/passwd` (root and nobody) and the spec's files. Times are fixed so that every
/// version's busybox layer is the same blob.
fn build_context(dockerfile: &str, files: &[(String, Vec<u8>, u32)]) -> anyhow::Result<Vec<u8>> {
    let busybox = busybox()?;
    let mut tar = tar::Builder::new(Vec::new());
    let add_file = |tar: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8], mode: u32| {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(mode);
        header.set_mtime(0);
        header.set_cksum();
        tar.append_data(&mut header, path, data)
            .with_context(|| format!("adding {path} to the build context"))
    };
    let add_dir = |tar: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32| {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Directory);
        header.set_size(0);
        header.set_mode(mode);
        header.set_mtime(0);
        header.set_cksum();
        tar.append_data(&mut header, path, std::io::empty())
            .with_context(|| format!("adding {path} to the build context"))
    };
    add_file(&mut tar, "Dockerfile", dockerfile.as_bytes(), 0o644)?;
    for (dir, mode) in [
        ("rootfs", 0o755),
        ("rootfs/bin", 0o755),
        ("rootfs/etc", 0o755),
        ("rootfs/tmp", 0o1777),
    ] {
        add_dir(&mut tar, dir, mode)?;
    }
    add_file(&mut tar, "rootfs/bin/busybox", busybox, 0o755)?;
    for applet in APPLETS {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Symlink);
        header.set_size(0);
        header.set_mode(0o777);
        header.set_mtime(0);
        tar.append_link(&mut header, format!("rootfs/bin/{applet}"), "busybox")
            .with_context(|| format!("linking /bin/{applet} in the build context"))?;
    }
    add_file(
        &mut tar,
        "rootfs/etc/passwd",
        b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
        0o644,
    )?;
    add_file(
        &mut tar,
        "rootfs/etc/group",
        b"root:x:0:\nnogroup:x:65534:\n",
        0o644,
    )?;
    let mut dirs_added = std::collections::BTreeSet::new();
    for (path, contents, mode) in files {
        let Some(relative) = path
            .strip_prefix('/')
            .filter(|p| !p.is_empty() && !p.split('/').any(|c| c == ".."))
        else {
            bail!("fixture file path {path:?} must be absolute and must not contain `..`");
        };
        // Parent folders first, so that the layer does not depend on the build's clock.
        let mut parent = String::from("rootfs");
        let components: Vec<&str> = relative.split('/').collect();
        for component in &components[..components.len() - 1] {
            parent = format!("{parent}/{component}");
            if !["rootfs/bin", "rootfs/etc", "rootfs/tmp"].contains(&parent.as_str())
                && dirs_added.insert(parent.clone())
            {
                add_dir(&mut tar, &parent, 0o755)?;
            }
        }
        add_file(&mut tar, &format!("rootfs/{relative}"), contents, *mode)?;
    }
    tar.into_inner().context("finishing the build context")
}

/// The host's busybox, read once, checked to be statically linked.
fn busybox() -> anyhow::Result<&'static [u8]> {
    static BUSYBOX: OnceLock<Result<Vec<u8>, String>> = OnceLock::new();
    BUSYBOX
        .get_or_init(|| {
            let path = std::env::var_os(BUSYBOX_ENV).map_or_else(|| PathBuf::from(DEFAULT_BUSYBOX), PathBuf::from);
            let bytes = std::fs::read(&path).map_err(|err| {
                format!(
                    "reading busybox at {}: {err}: install it with `apt-get install busybox-static` \
                     or `cargo xtask deps` (or point {BUSYBOX_ENV} at a static busybox)",
                    path.display()
                )
            })?;
            match is_static_elf(&bytes) {
                Some(true) => Ok(bytes),
                Some(false) => Err(format!(
                    "{} is dynamically linked, but fixture images are FROM scratch and need a static \
                     busybox: install `busybox-static` (apt-get install busybox-static)",
                    path.display()
                )),
                None => Err(format!("{} is not a 64-bit little-endian ELF executable", path.display())),
            }
        })
        .as_deref()
        .map_err(|err| anyhow::anyhow!("{err}"))
}

/// Whether `elf` (a 64-bit little-endian ELF file) has no `PT_INTERP` program header, i.e. needs
/// no dynamic loader. `None` when it is not such a file.
fn is_static_elf(elf: &[u8]) -> Option<bool> {
    const PT_INTERP: u32 = 3;
    let u16_at = |at: usize| Some(u16::from_le_bytes(elf.get(at..at + 2)?.try_into().ok()?));
    let u32_at = |at: usize| Some(u32::from_le_bytes(elf.get(at..at + 4)?.try_into().ok()?));
    let u64_at = |at: usize| Some(u64::from_le_bytes(elf.get(at..at + 8)?.try_into().ok()?));
    // Magic, ELFCLASS64, ELFDATA2LSB.
    if elf.get(..6)? != b"\x7fELF\x02\x01" {
        return None;
    }
    let program_headers = usize::try_from(u64_at(0x20)?).ok()?;
    let entry_size = usize::from(u16_at(0x36)?);
    let count = usize::from(u16_at(0x38)?);
    for i in 0..count {
        if u32_at(program_headers + i * entry_size)? == PT_INTERP {
            return Some(false);
        }
    }
    Some(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_busybox_is_static_and_a_dynamic_binary_is_not() {
        let busybox = busybox().expect("busybox-static is installed");
        assert_eq!(is_static_elf(busybox), Some(true));
        let dynamic = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        assert_eq!(
            is_static_elf(&dynamic),
            Some(false),
            "test binaries are dynamically linked"
        );
        assert_eq!(is_static_elf(b"#!/bin/sh\n"), None);
    }

    #[test]
    fn the_build_context_has_the_dockerfile_busybox_and_links() {
        let context = build_context(
            "FROM scratch\n",
            &[("/app/run.sh".into(), b"echo\n".to_vec(), 0o755)],
        )
        .unwrap();
        let mut archive = tar::Archive::new(&context[..]);
        let mut names = Vec::new();
        for entry in archive.entries().unwrap() {
            let entry = entry.unwrap();
            names.push(entry.path().unwrap().to_string_lossy().into_owned());
        }
        for expected in [
            "Dockerfile",
            "rootfs/bin/busybox",
            "rootfs/bin/sh",
            "rootfs/bin/sleep",
            "rootfs/app",
            "rootfs/app/run.sh",
        ] {
            assert!(
                names.iter().any(|n| n.trim_end_matches('/') == expected),
                "{expected} missing in {names:?}"
            );
        }
        assert!(build_context("", &[("relative".into(), Vec::new(), 0o644)]).is_err());
        assert!(build_context("", &[("/a/../../etc".into(), Vec::new(), 0o644)]).is_err());
    }
}
