//! `cargo xtask engine-26` and `cargo xtask engine-28`: a second Docker Engine beside the
//! machine's own, so that the code paths of API 1.42, 1.44 and later run against real engines
//! in CI (see `crates/container-client/src/api_version.rs`).
//!
//! The machine's engine is Debian bookworm's `docker.io` 20.10 (API 1.41). Two flavours:
//!
//! - [`ENGINE_26`]: Debian trixie's `docker.io` 26.1 (API 1.45), as packaged.
//! - [`ENGINE_28`]: Debian unstable's `docker.io` (28.5, API 1.51, when this was written; any
//!   28 or later is taken) set up as Docker 29 ships: `DOCKER_MIN_API_VERSION=1.44`, so that a
//!   client pinned below 1.44 is refused exactly as Docker 29 refuses the original watchtower,
//!   and the containerd image store.
//!
//! Both run on bookworm's libc, `containerd` and `runc`, so only their `dockerd` and
//! `docker-proxy` are needed. Four stages (paths shown for `engine-26`):
//!
//! 1. **Download** with apt itself, so that the package is checked against trixie's signed
//!    release file: a private sources file for trixie `main`, private package lists and cache
//!    under `target/engine-26/apt-<pid>/` (the system's sources and lists are not touched),
//!    `apt-get download docker.io/trixie`, and `dpkg-deb` to take the two binaries out into
//!    `target/engine-26/bin/`. A stamp there records the package version; while it names a
//!    package of the flavour and `dockerd --version` agrees, nothing is downloaded again.
//! 2. **Start** `dockerd` with everything of its own: socket, `--exec-root` and `--pidfile` under
//!    `/run/wt-engine-26-<pid>/`, `--data-root` under `target/engine-26/state-<pid>/`, a config
//!    file instead of `/etc/docker/daemon.json`, the containerd it starts itself (the machine's
//!    binary with its own socket and state, in namespaces of its own), no iptables, no TCP
//!    listener, published ports on 127.0.0.1 only, networks from a 10.64-127.0.0/16 pool of its
//!    own so that they never overlap the first engine's. Its default bridge is a Linux bridge
//!    `wt26-<pid>` made for the run and deleted afterwards: `--bridge=none` is no option, since
//!    dockerd then deletes the host's `docker0`, the machine's engine's bridge. Ready when
//!    `/_ping` answers.
//! 3. **Run** the engine test targets with `DOCKER_HOST` pointing at it (or the given command).
//! 4. **Check and stop**: nothing labelled with the test session may be left on the engine; then
//!    SIGTERM and wait, make sure no process of it (containerd, shims) remains, and remove its
//!    state folders and its bridge. What runs whose xtask process died left (folders, bridges,
//!    processes) is swept at the next start.

use std::fs;
use std::io::{Read as _, Write as _};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};

use crate::deps;
use crate::engine::{self, SESSION_ENV};

/// The Debian package the engines come from.
const PACKAGE: &str = "docker.io";
const MIRROR: &str = "http://deb.debian.org/debian";
/// Bookworm's `debian-archive-keyring` carries trixie's signing keys.
const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";
/// The stamp file beside the binaries, holding the Debian version they came from.
const STAMP: &str = "VERSION";
/// The machine's engine's bridge, which must survive the second engine.
const HOST_BRIDGE: &str = "docker0";
/// Environment variable that turns a skipped Docker-backed test into a failure.
const E2E_VAR: &str = "WATCHTOWER_E2E";
/// The test targets (file names under `tests/`) run against the second engine:
/// `watchtower-container-client`'s engine tests, `watchtower-actions`' sessions and self-update,
/// and the binary's end-to-end suite (`tests/`: updates, notifications, secrets, signals, a
/// process killed during a stop, the health gate and start-first).
const TEST_TARGETS: &[&str] = &[
    "docker_engine",
    "engine_versions",
    "e2e",
    "self_update",
    "head_failure_logging",
    "update",
    "notifications",
    "secrets",
    "signals",
    "killed",
    "gate",
];
/// Polling interval while waiting for the daemon.
const POLL: Duration = Duration::from_millis(200);
/// How long the daemon may take to answer `/_ping` after it was started.
const READY_LIMIT: Duration = Duration::from_secs(60);
/// How long it may take to shut down after SIGTERM (its own shutdown timeout is 15 s).
const STOP_LIMIT: Duration = Duration::from_secs(45);

/// An engine this program starts beside the machine's.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Flavour {
    /// The subcommand, the folder under `target/` and the containerd namespace: `engine-26`.
    pub(crate) name: &'static str,
    /// What the messages call it: `Docker Engine 26.1`.
    pub(crate) title: &'static str,
    /// The Debian suite `docker.io` comes from.
    suite: &'static str,
    /// Whether an upstream version (`26.1.5+dfsg1`) is one this flavour stands for; a package
    /// of another version is refused, so the README's list of tested engines stays true.
    accepts: fn(&str) -> bool,
    /// The versions [`accepts`](Self::accepts) takes, for messages.
    expected: &'static str,
    /// Prefix of the per-run folder under `/run` (short: containerd's socket paths live there).
    run_prefix: &'static str,
    /// Prefix of the run's bridge (`wt26-<pid>`, within the 15 characters of an interface name).
    bridge_prefix: &'static str,
    /// The oldest API version the daemon serves (`DOCKER_MIN_API_VERSION`): Docker 29 refuses
    /// every client below 1.44, which is what broke the original watchtower.
    min_api: Option<&'static str>,
    /// The containerd image store (`features.containerd-snapshotter`), the default of fresh
    /// Docker 29 installations: image IDs are manifest digests there.
    containerd_snapshotter: bool,
}

/// Debian trixie's Docker Engine 26.1 (API 1.45), as packaged.
pub(crate) const ENGINE_26: Flavour = Flavour {
    name: "engine-26",
    title: "Docker Engine 26.1",
    suite: "trixie",
    accepts: |v| v.starts_with("26.1."),
    expected: "26.1.x",
    run_prefix: "wt-engine-26-",
    bridge_prefix: "wt26-",
    min_api: None,
    containerd_snapshotter: false,
};

/// Debian unstable's Docker Engine (28.5 when this was written, API 1.51) set up as Docker 29
/// ships: API 1.44 at the oldest and the containerd image store.
pub(crate) const ENGINE_28: Flavour = Flavour {
    name: "engine-28",
    title: "Docker Engine 28+ (Docker 29 settings)",
    suite: "sid",
    accepts: |v| {
        v.split('.')
            .next()
            .and_then(|major| major.parse::<u32>().ok())
            .is_some_and(|major| major >= 28)
    },
    expected: "28.0 or later",
    run_prefix: "wt-engine-28-",
    bridge_prefix: "wt28-",
    min_api: Some("1.44"),
    containerd_snapshotter: true,
};

/// The CI step: this program again as `engine-26`, with the test environment of the main tests
/// (the session variable makes the leftover check afterwards see its processes too).
pub(crate) fn ci_step(flavour: Flavour, e2e: &str, session: &str) -> Command {
    let mut cmd = if let Ok(exe) = std::env::current_exe() {
        Command::new(exe)
    } else {
        let mut c = Command::new(cargo());
        c.args(["run", "--quiet", "--package", "xtask", "--"]);
        c
    };
    // Same environment as the main test step (see `ci::cargo`), so nothing is rebuilt.
    cmd.arg(flavour.name)
        .env(E2E_VAR, e2e)
        .env(SESSION_ENV, session)
        .env_remove("CARGO_MANIFEST_DIR");
    cmd
}

/// `cargo xtask engine-26|engine-28 [-- COMMAND [ARG...]]`: the engine test targets (or
/// `COMMAND`) against that engine, started for the purpose and stopped afterwards.
pub(crate) fn run(flavour: Flavour, args: &[String]) -> Result<()> {
    let command = match args {
        [] => None,
        [dashes, rest @ ..] if dashes == "--" && !rest.is_empty() => Some(rest),
        _ => bail!("usage: cargo xtask {} [-- COMMAND [ARG...]]", flavour.name),
    };
    let started = now();
    let binaries = ensure_binaries(flavour, &engine_dir(flavour))?;
    let mut engine = SecondEngine::start(flavour, &binaries)?;
    let ready = now();
    eprintln!(
        "xtask: Docker Engine {} (API {}) answers at {} after {:.1} s",
        engine.version,
        engine.api_version,
        engine.docker_host(),
        (ready - started).as_secs_f64()
    );
    let session = std::env::var(SESSION_ENV)
        .unwrap_or_else(|_| format!("xtask-{}-{}", flavour.name, std::process::id()));
    let outcome = match command {
        None => run_tests(&engine, &session),
        Some(command) => {
            let mut cmd = Command::new(&command[0]);
            cmd.args(&command[1..]);
            run_against(&engine, &session, cmd)
        }
    }
    .and_then(|()| engine.check_leftovers(&session));
    let tested = now();
    let stopped = engine.stop();
    eprintln!(
        "xtask: second engine: {:.1} s to be ready, {:.1} s of tests, {:.1} s to stop",
        (ready - started).as_secs_f64(),
        (tested - ready).as_secs_f64(),
        (now() - tested).as_secs_f64()
    );
    outcome?;
    stopped
}

/// The engine test targets of the workspace, on the second engine. `--workspace` keeps the
/// feature set of the main test step, so nothing is compiled again.
fn run_tests(engine: &SecondEngine, session: &str) -> Result<()> {
    let mut cmd = Command::new(cargo());
    if deps::has_nextest() {
        cmd.args([
            "nextest",
            "run",
            "--workspace",
            "--locked",
            "--no-fail-fast",
        ]);
    } else {
        cmd.args(["test", "--workspace", "--locked", "--no-fail-fast"]);
    }
    for target in TEST_TARGETS {
        cmd.args(["--test", target]);
    }
    run_against(engine, session, cmd)
}

fn run_against(engine: &SecondEngine, session: &str, mut cmd: Command) -> Result<()> {
    let e2e = std::env::var(E2E_VAR).unwrap_or_else(|_| "required".to_owned());
    cmd.env("DOCKER_HOST", engine.docker_host())
        .env_remove("DOCKER_TLS_VERIFY")
        .env_remove("DOCKER_CERT_PATH")
        .env_remove("DOCKER_API_VERSION")
        .env(E2E_VAR, e2e)
        .env(SESSION_ENV, session);
    let status = cmd
        .status()
        .with_context(|| format!("could not start {cmd:?}"))?;
    if !status.success() {
        bail!(
            "{cmd:?} against Docker Engine {} failed with {status}",
            engine.version
        );
    }
    Ok(())
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace root")
        .to_path_buf()
}

fn engine_dir(flavour: Flavour) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace_root().join("target"), PathBuf::from);
    let target = if target.is_absolute() {
        target
    } else {
        workspace_root().join(target)
    };
    target.join(flavour.name)
}

/// Monotonic time for the timings this program prints.
#[allow(clippy::disallowed_methods)] // xtask is synchronous: no tokio clock to read
fn now() -> std::time::Instant {
    std::time::Instant::now()
}

#[allow(clippy::disallowed_methods)] // xtask is synchronous: no runtime to sleep on
fn pause(d: Duration) {
    std::thread::sleep(d);
}

/// The daemon's config file in `state_dir`: an address pool of its own, published ports on
/// 127.0.0.1 only, the flavour's image store.
fn write_config(flavour: Flavour, state_dir: &Path, pid: u32) -> Result<PathBuf> {
    let config = state_dir.join("daemon.json");
    // A /16 of 10.64.0.0/10 by pid, so that two runs at once do not overlap either.
    let pool = format!("10.{}.0.0/16", 64 + pid % 64);
    fs::write(
        &config,
        serde_json::to_vec_pretty(&serde_json::json!({
            "default-address-pools": [{ "base": pool, "size": 24 }],
            "ip": "127.0.0.1",
            "features": { "containerd-snapshotter": flavour.containerd_snapshotter },
        }))?,
    )
    .with_context(|| format!("write {}", config.display()))?;
    Ok(config)
}

/// Waits until `done` is true, polling every [`POLL`] for at most `limit`.
fn poll_until(limit: Duration, mut done: impl FnMut() -> Result<bool>) -> Result<bool> {
    let deadline = now() + limit;
    loop {
        if done()? {
            return Ok(true);
        }
        if now() >= deadline {
            return Ok(false);
        }
        pause(POLL);
    }
}

// ---------------------------------------------------------------------------------------------
// Download

/// Where the engine's programs are.
struct Binaries {
    dockerd: PathBuf,
    proxy: PathBuf,
    /// The Debian version of the package, e.g. `26.1.5+dfsg1-9+deb13u1+b1`.
    version: String,
}

/// The binaries of the flavour's `docker.io` in `dir/bin`, downloaded unless they are there.
fn ensure_binaries(flavour: Flavour, dir: &Path) -> Result<Binaries> {
    let bin = dir.join("bin");
    if let Some(binaries) = cached(flavour, &bin) {
        eprintln!(
            "xtask: reusing Docker Engine {} from {}",
            binaries.version,
            bin.display()
        );
        return Ok(binaries);
    }
    let started = now();
    download(flavour, dir, &bin)?;
    let binaries = cached(flavour, &bin).with_context(|| {
        format!(
            "the engine unpacked into {} does not report version {}",
            bin.display(),
            flavour.expected
        )
    })?;
    eprintln!(
        "xtask: downloaded Docker Engine {} into {} in {:.1} s",
        binaries.version,
        bin.display(),
        (now() - started).as_secs_f64()
    );
    Ok(binaries)
}

/// The binaries in `bin` when the stamp names a package of the flavour and `dockerd` says so too.
fn cached(flavour: Flavour, bin: &Path) -> Option<Binaries> {
    let version = fs::read_to_string(bin.join(STAMP)).ok()?.trim().to_owned();
    let binaries = Binaries {
        dockerd: bin.join("dockerd"),
        proxy: bin.join("docker-proxy"),
        version,
    };
    if !(flavour.accepts)(&binaries.version) || !binaries.proxy.is_file() {
        return None;
    }
    let out = Command::new(&binaries.dockerd)
        .arg("--version")
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .strip_prefix("Docker version ")
        .is_some_and(flavour.accepts)
        .then_some(binaries)
}

/// Downloads the flavour's `docker.io` with apt (private sources, lists and cache) and puts
/// `dockerd` and `docker-proxy` into `bin`, the stamp last.
fn download(flavour: Flavour, dir: &Path, bin: &Path) -> Result<()> {
    let suite = flavour.suite;
    if !Path::new(KEYRING).is_file() {
        bail!(
            "{KEYRING} is missing: Debian's package `debian-archive-keyring` holds the keys \
             that sign {suite}"
        );
    }
    let work = dir.join(format!("apt-{}", std::process::id()));
    let _ = fs::remove_dir_all(&work);
    for sub in ["lists/partial", "cache/archives/partial", "parts", "root"] {
        fs::create_dir_all(work.join(sub))
            .with_context(|| format!("create {}", work.join(sub).display()))?;
    }
    let sources = work.join(format!("{suite}.sources"));
    fs::write(
        &sources,
        format!(
            "Types: deb\nURIs: {MIRROR}\nSuites: {suite}\nComponents: main\n\
             Targets: Packages\nSigned-By: {KEYRING}\n"
        ),
    )
    .with_context(|| format!("write {}", sources.display()))?;
    let path = |p: &Path| p.display().to_string();
    let options = [
        format!("Dir::Etc::SourceList={}", path(&sources)),
        format!("Dir::Etc::SourceParts={}", path(&work.join("parts"))),
        format!("Dir::Etc::Preferences={}", path(&work.join("preferences"))),
        format!("Dir::Etc::PreferencesParts={}", path(&work.join("parts"))),
        format!("Dir::State::Lists={}", path(&work.join("lists"))),
        format!("Dir::Cache={}", path(&work.join("cache"))),
        "Acquire::Languages=none".to_owned(),
        // The download lands in a folder of root's; apt's `_apt` user could not write there.
        "APT::Sandbox::User=root".to_owned(),
    ];
    let apt = |args: &[&str]| {
        let mut cmd = Command::new("apt-get");
        for option in &options {
            cmd.arg("-o").arg(option);
        }
        cmd.arg("-q").args(args).current_dir(&work);
        cmd
    };
    eprintln!("xtask: fetching {PACKAGE} from Debian {suite} (apt, signature-checked)");
    // `--error-on=any`: a list that could not be fetched or verified is an error, not a warning.
    run_quiet(
        apt(&["update", "--error-on=any"]),
        "apt-get update for trixie",
    )?;
    run_quiet(
        apt(&["download", &format!("{PACKAGE}/{suite}")]),
        "apt-get download",
    )?;
    let deb = fs::read_dir(&work)?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name().is_some_and(|n| {
                let n = n.to_string_lossy();
                n.starts_with(&format!("{PACKAGE}_")) && n.ends_with(".deb")
            })
        })
        .with_context(|| {
            format!(
                "apt-get download left no {PACKAGE} package in {}",
                work.display()
            )
        })?;
    let version = output(
        Command::new("dpkg-deb")
            .arg("--field")
            .arg(&deb)
            .arg("Version"),
        "dpkg-deb --field",
    )?;
    let version = version.trim().to_owned();
    check_package_version(flavour, &version)?;
    let root = work.join("root");
    run_quiet(
        {
            let mut cmd = Command::new("dpkg-deb");
            cmd.arg("--extract").arg(&deb).arg(&root);
            cmd
        },
        "dpkg-deb --extract",
    )?;
    fs::create_dir_all(bin).with_context(|| format!("create {}", bin.display()))?;
    // Renames within one file system: a run still using older binaries keeps its copy.
    for name in ["dockerd", "docker-proxy"] {
        let from = root.join("usr/sbin").join(name);
        fs::rename(&from, bin.join(name))
            .with_context(|| format!("move {} into {}", from.display(), bin.display()))?;
    }
    let stamp_tmp = bin.join(format!("{STAMP}.{}", std::process::id()));
    fs::write(&stamp_tmp, format!("{version}\n"))?;
    fs::rename(&stamp_tmp, bin.join(STAMP))?;
    fs::remove_dir_all(&work).with_context(|| format!("remove {}", work.display()))?;
    Ok(())
}

/// Refuses a package of a version the flavour does not stand for.
fn check_package_version(flavour: Flavour, version: &str) -> Result<()> {
    if !(flavour.accepts)(version) {
        bail!(
            "Debian {} now has {PACKAGE} {version}, not {}: update {} in \
             xtask/src/second_engine.rs and the README's sentence on tested engines",
            flavour.suite,
            flavour.expected,
            flavour.name
        );
    }
    Ok(())
}

/// Runs `cmd` with its output captured; on failure the error carries that output.
fn run_quiet(mut cmd: Command, what: &str) -> Result<()> {
    let out = cmd
        .output()
        .with_context(|| format!("could not run {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed with {}:\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

fn output(cmd: &mut Command, what: &str) -> Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("could not run {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

// ---------------------------------------------------------------------------------------------
// The daemon

/// A running second `dockerd`; stopped by [`SecondEngine::stop`] or on drop.
struct SecondEngine {
    flavour: Flavour,
    child: Option<Child>,
    /// The Linux bridge of the engine's default network, made for the run.
    bridge: String,
    /// Whether the machine's `docker0` existed when the run began.
    host_bridge_before: bool,
    /// `/run/wt-engine-26-<pid>` (by flavour): socket, pidfile, exec root.
    run_dir: PathBuf,
    /// `target/engine-26/state-<pid>`: data root, config file, log.
    state_dir: PathBuf,
    /// Where the log of the last run is kept: `target/engine-26/dockerd.log`.
    kept_log: PathBuf,
    version: String,
    api_version: String,
}

impl SecondEngine {
    fn start(flavour: Flavour, binaries: &Binaries) -> Result<Self> {
        if !is_root() {
            bail!(
                "the second engine runs dockerd, which needs root: run `cargo xtask {}` \
                 (or `cargo xtask ci`) as root",
                flavour.name
            );
        }
        let path = search_path();
        for (program, package) in [("containerd", "containerd"), ("runc", "runc")] {
            if find_program(&path, program).is_none() {
                bail!(
                    "`{program}` is not on PATH: the second dockerd runs the machine's {program} \
                     (Debian package `{package}`)"
                );
            }
        }
        let dir = binaries
            .dockerd
            .parent()
            .and_then(Path::parent)
            .context("engine folder")?
            .to_path_buf();
        sweep_stale_runs(flavour, &dir);

        let pid = std::process::id();
        let bridge = format!("{}{pid}", flavour.bridge_prefix);
        let run_dir = PathBuf::from("/run").join(format!("{}{pid}", flavour.run_prefix));
        let state_dir = dir.join(format!("state-{pid}"));
        for d in [&run_dir, &state_dir] {
            let _ = fs::remove_dir_all(d);
            fs::create_dir_all(d).with_context(|| format!("create {}", d.display()))?;
        }
        let config = write_config(flavour, &state_dir, pid)?;
        // dockerd gives the bridge an address from the pool.
        let _ = delete_link(&bridge);
        run_quiet(
            {
                let mut cmd = Command::new("ip");
                cmd.args(["link", "add", "name", &bridge, "type", "bridge"]);
                cmd
            },
            "ip link add (the second engine's bridge)",
        )?;
        let log_path = state_dir.join("dockerd.log");
        let log = fs::File::create(&log_path)
            .with_context(|| format!("create {}", log_path.display()))?;

        let mut cmd = Command::new(&binaries.dockerd);
        cmd.arg("--config-file")
            .arg(&config)
            .arg("--host")
            .arg(format!("unix://{}", run_dir.join("docker.sock").display()))
            .arg("--data-root")
            .arg(state_dir.join("data"))
            .arg("--exec-root")
            .arg(run_dir.join("exec"))
            .arg("--pidfile")
            .arg(run_dir.join("docker.pid"))
            .arg(format!("--bridge={bridge}"))
            .args(["--iptables=false", "--ip6tables=false"])
            // Namespaces of its own, should it ever share a containerd with another engine.
            .arg("--containerd-namespace")
            .arg(format!("wt-{}", flavour.name))
            .arg("--containerd-plugins-namespace")
            .arg(format!("wt-{}-plugins", flavour.name))
            .arg("--userland-proxy-path")
            .arg(&binaries.proxy);
        if let Some(init) = docker_init(&path) {
            cmd.arg("--init-path").arg(init);
        }
        if let Some(min_api) = flavour.min_api {
            cmd.env("DOCKER_MIN_API_VERSION", min_api);
        }
        cmd.env("PATH", std::env::join_paths(&path)?)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let child = match cmd.spawn() {
            Ok(child) => child,
            Err(err) => {
                let _ = delete_link(&bridge);
                return Err(err)
                    .with_context(|| format!("could not start {}", binaries.dockerd.display()));
            }
        };
        let mut engine = SecondEngine {
            flavour,
            child: Some(child),
            bridge,
            host_bridge_before: link_exists(HOST_BRIDGE),
            run_dir,
            state_dir,
            kept_log: dir.join("dockerd.log"),
            version: String::new(),
            api_version: String::new(),
        };
        engine.wait_ready()?;
        Ok(engine)
    }

    fn socket(&self) -> PathBuf {
        self.run_dir.join("docker.sock")
    }

    fn exec_root(&self) -> PathBuf {
        self.run_dir.join("exec")
    }

    fn docker_host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// Waits for `/_ping`, then reads and checks the version.
    fn wait_ready(&mut self) -> Result<()> {
        let socket = self.socket();
        let mut exited = None;
        let child = self.child.as_mut().context("dockerd is not running")?;
        let answered = poll_until(READY_LIMIT, || {
            if let Some(status) = child.try_wait()? {
                exited = Some(status);
                return Ok(true);
            }
            Ok(matches!(request(&socket, "GET", "/_ping"), Ok((200, _))))
        })?;
        if let Some(status) = exited {
            self.child = None;
            bail!(
                "dockerd ({}) exited with {status} before it answered; its log ends with:\n{}",
                self.flavour.title,
                self.log_tail()
            );
        }
        if !answered {
            bail!(
                "dockerd ({}) did not answer /_ping on {} within {READY_LIMIT:?}; its log ends \
                 with:\n{}",
                self.flavour.title,
                socket.display(),
                self.log_tail()
            );
        }
        let (status, body) = request(&socket, "GET", "/version")?;
        let v: serde_json::Value = serde_json::from_str(&body)
            .with_context(|| format!("GET /version answered {status}: {body}"))?;
        v["Version"]
            .as_str()
            .unwrap_or_default()
            .clone_into(&mut self.version);
        v["ApiVersion"]
            .as_str()
            .unwrap_or_default()
            .clone_into(&mut self.api_version);
        let minor = self
            .api_version
            .strip_prefix("1.")
            .and_then(|m| m.parse::<u32>().ok());
        if !(self.flavour.accepts)(&self.version) || minor.is_none_or(|m| m < 44) {
            bail!(
                "the second engine reports version {:?}, API {:?}; expected {} with API 1.44 or \
                 later",
                self.version,
                self.api_version,
                self.flavour.expected
            );
        }
        let min_api = v["MinAPIVersion"].as_str().unwrap_or_default();
        if let Some(wanted) = self.flavour.min_api
            && min_api != wanted
        {
            bail!("the second engine serves API {min_api} and later, not {wanted} and later");
        }
        Ok(())
    }

    fn log_tail(&self) -> String {
        let log = fs::read_to_string(self.state_dir.join("dockerd.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Containers, networks, volumes and images of the test session still on this engine.
    fn check_leftovers(&self, session: &str) -> Result<()> {
        let socket = self.socket();
        let found = engine::session_objects(|path| request(&socket, "GET", path), session)?;
        if !found.is_empty() {
            bail!(
                "the tests left things behind on Docker Engine {}:\n  {}",
                self.version,
                found.join("\n  ")
            );
        }
        Ok(())
    }

    /// Removes every container (all are the tests'), then stops the daemon and its containerd.
    fn stop(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        if let Err(err) = self.remove_all_containers() {
            eprintln!("xtask: removing the second engine's containers: {err:#}");
        }
        signal(child.id(), "TERM")?;
        let exited = poll_until(STOP_LIMIT, || Ok(child.try_wait()?.is_some()))?;
        let mut problems = Vec::new();
        if !exited {
            problems.push(format!(
                "dockerd (pid {}) did not stop within {STOP_LIMIT:?} of SIGTERM; killed",
                child.id()
            ));
            let _ = child.kill();
        }
        let _ = child.wait();
        // dockerd stops the containerd it started; shims end with their containers.
        let exec_root = self.exec_root();
        let gone = poll_until(Duration::from_secs(15), || {
            Ok(processes_mentioning(&exec_root).is_empty())
        })?;
        if !gone {
            for (pid, cmdline) in processes_mentioning(&exec_root) {
                problems.push(format!(
                    "process {pid} outlived the engine; killed: {cmdline}"
                ));
                let _ = signal(pid, "KILL");
            }
        }
        if let Err(err) = delete_link(&self.bridge) {
            problems.push(format!("{err:#}"));
        }
        if self.host_bridge_before && !link_exists(HOST_BRIDGE) {
            problems.push(format!(
                "the machine's {HOST_BRIDGE} is gone: the second engine must never touch it"
            ));
        }
        if let Err(err) = fs::copy(self.state_dir.join("dockerd.log"), &self.kept_log) {
            eprintln!("xtask: keeping the second engine's log: {err}");
        }
        for dir in [&self.run_dir, &self.state_dir] {
            if let Err(err) = remove_tree(dir) {
                problems.push(format!("{err:#}"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            bail!(
                "stopping the second engine: {} (its log: {})",
                problems.join("; "),
                self.kept_log.display()
            )
        }
    }

    fn remove_all_containers(&self) -> Result<()> {
        let socket = self.socket();
        let (status, body) = request(&socket, "GET", "/containers/json?all=1")?;
        if status != 200 {
            bail!("GET /containers/json answered {status}: {body}");
        }
        let list: serde_json::Value = serde_json::from_str(&body)?;
        for c in list.as_array().into_iter().flatten() {
            if let Some(id) = c["Id"].as_str() {
                request(&socket, "DELETE", &format!("/containers/{id}?force=1&v=1"))?;
            }
        }
        Ok(())
    }
}

impl Drop for SecondEngine {
    fn drop(&mut self) {
        if let Err(err) = self.stop() {
            eprintln!("xtask: {err:#}");
        }
    }
}

/// Removes the folders of runs whose xtask process is gone, stopping what of them still runs.
fn sweep_stale_runs(flavour: Flavour, engine_dir: &Path) {
    let owner_alive = |pid: &str| {
        fs::read(Path::new("/proc").join(pid).join("cmdline"))
            .is_ok_and(|c| String::from_utf8_lossy(&c).contains("xtask"))
    };
    let mut stale = Vec::new();
    if let Ok(entries) = fs::read_dir("/run") {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name
                .strip_prefix(flavour.run_prefix)
                .is_some_and(|pid| !owner_alive(pid))
            {
                stale.push(e.path());
            }
        }
    }
    if let Ok(entries) = fs::read_dir(engine_dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let pid = name
                .strip_prefix("state-")
                .or_else(|| name.strip_prefix("apt-"));
            if pid.is_some_and(|pid| !owner_alive(pid)) {
                stale.push(e.path());
            }
        }
    }
    for link in links_with_prefix(flavour.bridge_prefix) {
        if link
            .strip_prefix(flavour.bridge_prefix)
            .is_some_and(|pid| !owner_alive(pid))
        {
            eprintln!("xtask: deleting bridge {link} of an earlier run");
            if let Err(err) = delete_link(&link) {
                eprintln!("xtask: {err:#}");
            }
        }
    }
    for dir in stale {
        eprintln!("xtask: sweeping {} of an earlier run", dir.display());
        let exec_root = dir.join("exec");
        let running = processes_mentioning(&exec_root);
        for (pid, _) in &running {
            let _ = signal(*pid, "TERM");
        }
        let quiet = poll_until(Duration::from_secs(30), || {
            Ok(processes_mentioning(&exec_root).is_empty())
        })
        .unwrap_or(false);
        if !quiet {
            for (pid, _) in processes_mentioning(&exec_root) {
                let _ = signal(pid, "KILL");
            }
        }
        if let Err(err) = remove_tree(&dir) {
            eprintln!("xtask: {err:#}");
        }
    }
}

fn link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

/// Network interfaces whose name starts with `prefix`.
fn links_with_prefix(prefix: &str) -> Vec<String> {
    fs::read_dir("/sys/class/net")
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(prefix))
                .collect()
        })
        .unwrap_or_default()
}

/// Deletes the interface `name` when it exists.
fn delete_link(name: &str) -> Result<()> {
    if !link_exists(name) {
        return Ok(());
    }
    run_quiet(
        {
            let mut cmd = Command::new("ip");
            cmd.args(["link", "delete", name]);
            cmd
        },
        &format!("ip link delete {name}"),
    )
}

/// Unmounts whatever is mounted below `dir` (deepest first), then removes it.
fn remove_tree(dir: &Path) -> Result<()> {
    let mut mounts = mounts_below(dir);
    mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
    for m in &mounts {
        let unmounted = Command::new("umount")
            .arg(m)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
            || Command::new("umount")
                .args(["--lazy", m.as_str()])
                .status()
                .is_ok_and(|s| s.success());
        if !unmounted {
            bail!("{m} is still mounted; {} was kept", dir.display());
        }
    }
    match fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("remove {}", dir.display())),
    }
}

/// Mount points at or below `dir`, from `/proc/self/mountinfo`.
fn mounts_below(dir: &Path) -> Vec<String> {
    let prefix = dir.display().to_string();
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|m| m.replace("\\040", " "))
        .filter(|m| m == &prefix || m.starts_with(&format!("{prefix}/")))
        .collect()
}

/// Live processes whose command line names `path` (dockerd, its containerd, the shims).
fn processes_mentioning(path: &Path) -> Vec<(u32, String)> {
    let needle = path.display().to_string();
    let own = std::process::id();
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_string_lossy().parse().ok()?;
            let cmdline = fs::read(e.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            (pid != own && cmdline.contains(&needle)).then(|| (pid, cmdline.trim().to_owned()))
        })
        .collect()
}

fn signal(pid: u32, name: &str) -> Result<()> {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .stderr(Stdio::null())
        .status()
        .context("could not run kill")?;
    if !status.success() && Path::new("/proc").join(pid.to_string()).exists() {
        bail!("kill -{name} {pid} failed with {status}");
    }
    Ok(())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// PATH with the system folders added, where Debian puts `runc` and `containerd`.
fn search_path() -> Vec<PathBuf> {
    let mut path: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    for dir in [
        "/usr/local/sbin",
        "/usr/local/bin",
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
    ] {
        if !path.iter().any(|p| p == Path::new(dir)) {
            path.push(PathBuf::from(dir));
        }
    }
    path
}

fn find_program(path: &[PathBuf], program: &str) -> Option<PathBuf> {
    path.iter().map(|d| d.join(program)).find(|p| p.is_file())
}

/// The machine's `docker-init` (tini), for containers created with `init: true`.
fn docker_init(path: &[PathBuf]) -> Option<PathBuf> {
    ["docker-init", "tini-static", "tini"]
        .iter()
        .find_map(|p| find_program(path, p))
}

/// One HTTP/1.0 request to the engine's unix socket; returns (status, body).
fn request(socket: &Path, method: &str, path: &str) -> Result<(u16, String)> {
    let mut stream =
        UnixStream::connect(socket).with_context(|| format!("connect to {}", socket.display()))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    write!(stream, "{method} {path} HTTP/1.0\r\nHost: docker\r\n\r\n")?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .with_context(|| format!("{method} {path}: malformed HTTP answer"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("{method} {path}: no HTTP status"))?;
    Ok((status, body.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_of_another_version_is_not_reused() {
        let dir = std::env::temp_dir().join(format!("xtask-engine-stamp-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        assert!(cached(ENGINE_26, &dir).is_none(), "no stamp");
        fs::write(dir.join(STAMP), "20.10.24+dfsg1-1\n").unwrap();
        fs::write(dir.join("docker-proxy"), "").unwrap();
        assert!(
            cached(ENGINE_26, &dir).is_none(),
            "stamp of another version"
        );
        fs::write(dir.join(STAMP), "26.1.5+dfsg1-9\n").unwrap();
        assert!(
            cached(ENGINE_26, &dir).is_none(),
            "no dockerd that says 26.1"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn each_flavour_takes_only_its_versions() {
        assert!((ENGINE_26.accepts)("26.1.5+dfsg1"));
        assert!(!(ENGINE_26.accepts)("26.0.1"));
        assert!(!(ENGINE_26.accepts)("28.5.2+dfsg4"));
        assert!((ENGINE_28.accepts)("28.5.2+dfsg4"));
        assert!((ENGINE_28.accepts)("29.0.0"));
        assert!(!(ENGINE_28.accepts)("27.5.1"));
        assert!(!(ENGINE_28.accepts)("20.10.24+dfsg1"));
        assert!(!(ENGINE_28.accepts)("garbage"));
        assert!(check_package_version(ENGINE_28, "26.1.5+dfsg1-9").is_err());
    }
}
