//! `cargo xtask bench memory [--release] [--containers N] [--images K] [--sessions S]`: the
//! memory of the real `watchtower` binary running as a daemon (`--interval 5`) over N fixture
//! containers (default 20, `network none`) on K images (default N/4) in a plain-HTTP testkit
//! registry on 127.0.0.1. It prints `VmRSS`, `RssAnon` and `VmHWM` from `/proc/<pid>/status` after
//! start-up (before the first session), after the first session, after 3 and after S sessions
//! (default 10), and the thread count. Figures only: nothing is asserted but that the sessions ran.
//!
//! The binary is `WATCHTOWER_BIN` when set; otherwise the release build when `--release` is given
//! or one exists (the static one `cargo xtask dist` makes, else `target/release`), else the debug
//! one; the report names it. `MALLOC_ARENA_MAX` and `GLIBC_TUNABLES` are passed through to the
//! daemon, so allocator settings can be compared without rebuilding. Every container and image the
//! bench made is removed at the end (the testkit's `Engine::cleanup`), also when a step fails.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, bail};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use watchtower_actions::label;
use watchtower_testkit::{
    ContainerSpec, Engine, FixtureImage, FixtureSpec, Registry as TestRegistry, RegistryMode,
};

/// What `--interval` the daemon runs with, in seconds.
const INTERVAL_SECS: u64 = 5;
/// How long after a "session done" line the figures are read (the session's buffers are dropped
/// by then; the next session is `INTERVAL_SECS` away).
const SETTLE: Duration = Duration::from_secs(1);

struct Options {
    release: bool,
    containers: usize,
    images: Option<usize>,
    sessions: usize,
}

fn parse(args: &[String]) -> anyhow::Result<Options> {
    let mut options = Options {
        release: false,
        containers: 20,
        images: None,
        sessions: 10,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut number = |flag: &str| -> anyhow::Result<usize> {
            args.next()
                .and_then(|v| v.parse().ok())
                .filter(|n| *n > 0)
                .with_context(|| format!("{flag} needs a positive number"))
        };
        match arg.as_str() {
            "--release" => options.release = true,
            "--containers" => options.containers = number("--containers")?,
            "--images" => options.images = Some(number("--images")?),
            "--sessions" => options.sessions = number("--sessions")?,
            other => bail!(
                "unknown argument `{other}`; usage: cargo xtask bench memory [--release] \
                 [--containers N] [--images K] [--sessions S]"
            ),
        }
    }
    Ok(options)
}

pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    let options = parse(args)?;
    let binary = binary(options.release)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(async {
        let engine = Engine::connect()
            .await
            .context("this bench needs a Docker Engine (DOCKER_HOST or /var/run/docker.sock)")?;
        let result = bench(&engine, &binary, &options).await;
        let cleaned = engine.cleanup().await;
        result.and(cleaned)
    })
}

/// `WATCHTOWER_BIN`, else the release binary when asked for or present, else the debug one.
fn binary(release: bool) -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("WATCHTOWER_BIN") {
        return Ok(PathBuf::from(path));
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("workspace root")?;
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let releases = [
        target.join("x86_64-unknown-linux-gnu/release/watchtower"),
        target.join("release/watchtower"),
    ];
    if let Some(found) = releases.iter().find(|p| p.exists()) {
        return Ok(found.clone());
    }
    if release {
        bail!(
            "--release: no release binary ({} or {}); build one with `cargo xtask dist \
             --binary-only` or `cargo build --release -p watchtower`",
            releases[0].display(),
            releases[1].display()
        );
    }
    let debug = target.join("debug/watchtower");
    if !debug.exists() {
        bail!(
            "{} does not exist: build it first (cargo build -p watchtower)",
            debug.display()
        );
    }
    Ok(debug)
}

/// One reading of `/proc/<pid>/status`.
struct Sample {
    label: String,
    rss_kib: u64,
    anon_kib: u64,
    hwm_kib: u64,
    threads: u64,
}

fn sample(pid: u32, label: String) -> anyhow::Result<Sample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let field = |key: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    Ok(Sample {
        label,
        rss_kib: field("VmRSS"),
        anon_kib: field("RssAnon"),
        hwm_kib: field("VmHWM"),
        threads: field("Threads"),
    })
}

async fn bench(engine: &Engine, binary: &Path, options: &Options) -> anyhow::Result<()> {
    let containers = options.containers;
    let images = options
        .images
        .unwrap_or(containers.div_ceil(4))
        .min(containers);
    let registry = TestRegistry::start(RegistryMode::Plain).await?;
    eprintln!(
        "building and pushing {images} fixture images to {} ...",
        registry.host()
    );
    let mut fixtures = Vec::with_capacity(images);
    for i in 0..images {
        let repo = format!("bench-memory/app-{i:02}-{}", engine.run_id());
        fixtures
            .push(FixtureImage::publish(engine, &registry, &repo, FixtureSpec::default()).await?);
    }
    let scope = engine.run_id().to_owned();
    eprintln!("starting {containers} containers (network none, scope {scope}) ...");
    for i in 0..containers {
        let name = engine.unique_name(&format!("memory-{i:03}"));
        let image = &fixtures[i % images];
        engine
            .run_container(
                &name,
                ContainerSpec::new(image.reference()).label(label::SCOPE, &scope),
            )
            .await?;
    }
    let samples = watch(binary, &scope, containers, options.sessions).await?;
    print_report(binary, &registry, containers, images, &samples);
    Ok(())
}

/// Runs the daemon until it has done `sessions` sessions; the figures at the marks.
async fn watch(
    binary: &Path,
    scope: &str,
    containers: usize,
    sessions_wanted: usize,
) -> anyhow::Result<Vec<Sample>> {
    let mut command = tokio::process::Command::new(binary);
    command
        .args(["--interval", &INTERVAL_SECS.to_string(), "--scope", scope])
        .env_clear()
        .env("WATCHTOWER_LOG_FORMAT", "logfmt")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for key in [
        "DOCKER_HOST",
        "MALLOC_ARENA_MAX",
        "GLIBC_TUNABLES",
        "TOKIO_WORKER_THREADS",
        "TZ",
    ] {
        if let Some(value) = std::env::var_os(key) {
            command.env(key, value);
        }
    }
    eprintln!(
        "running {} --interval {INTERVAL_SECS} --scope {scope} for {} sessions ...",
        binary.display(),
        sessions_wanted
    );
    let mut child = command.spawn().context("starting watchtower")?;
    let pid = child.id().context("watchtower exited at once")?;
    let mut lines = BufReader::new(child.stderr.take().context("piped stderr")?).lines();

    let marks = [1, 3, sessions_wanted];
    let mut samples = Vec::new();
    let mut sessions = 0;
    let limit = Duration::from_secs(INTERVAL_SECS * (sessions_wanted as u64 + 2) + 60);
    let outcome = tokio::time::timeout(limit, async {
        while let Some(line) = lines.next_line().await? {
            if line.contains("Scheduling first run") {
                tokio::time::sleep(SETTLE).await;
                samples.push(sample(pid, "after start-up".to_owned())?);
            } else if line.contains("session done") {
                sessions += 1;
                if !line.contains(&format!("scanned={containers}")) {
                    bail!("session {sessions} did not scan {containers} containers: {line}");
                }
                if marks.contains(&sessions) {
                    tokio::time::sleep(SETTLE).await;
                    let label = match sessions {
                        1 => "after 1 session".to_owned(),
                        n => format!("after {n} sessions"),
                    };
                    samples.push(sample(pid, label)?);
                }
                if sessions >= sessions_wanted {
                    return Ok(());
                }
            } else if line.contains("level=error") {
                eprintln!("watchtower> {line}");
            }
        }
        bail!("watchtower exited after {sessions} sessions")
    })
    .await;
    let _ = child.kill().await;
    match outcome {
        Ok(result) => result?,
        Err(_) => bail!("only {sessions} sessions within {limit:?}"),
    }
    Ok(samples)
}

fn print_report(
    binary: &Path,
    registry: &TestRegistry,
    containers: usize,
    images: usize,
    samples: &[Sample],
) {
    let kind = if binary.components().any(|c| c.as_os_str() == "release") {
        "release"
    } else {
        "debug"
    };
    println!(
        "memory benchmark: watchtower --interval {INTERVAL_SECS}, {containers} containers over \
         {images} images, plain-HTTP registry at {}",
        registry.host()
    );
    println!("binary: {} ({kind} build)", binary.display());
    for key in ["MALLOC_ARENA_MAX", "GLIBC_TUNABLES"] {
        if let Ok(value) = std::env::var(key) {
            println!("environment: {key}={value}");
        }
    }
    println!();
    println!(
        "{:<22} {:>10} {:>10} {:>10} {:>8}",
        "when", "VmRSS", "RssAnon", "VmHWM", "threads"
    );
    for s in samples {
        println!(
            "{:<22} {:>10} {:>10} {:>10} {:>8}",
            s.label,
            mib(s.rss_kib),
            mib(s.anon_kib),
            mib(s.hwm_kib),
            s.threads
        );
    }
    println!();
    println!("goals: idle VmRSS <= 10 MB (issue 11), <= 8 MB (issue 15), after sessions ran");
}

/// KiB as `12.3 MiB`.
fn mib(kib: u64) -> String {
    format!("{}.{} MiB", kib / 1024, kib % 1024 * 10 / 1024)
}
