//! `cargo xtask bench cycle`: what one watchtower session costs with 100 containers over 25
//! images on a local registry: first with nothing new (wall time, registry requests by kind,
//! engine calls, pulls, peak memory), then with 5 images changed (containers updated, wall
//! time). Real parts only: the Docker Engine, `DockerClient`, `RegistryChecker`, the CNCF
//! registry on 127.0.0.1. It prints figures and fails only when a session goes wrong (a pull
//! when nothing changed, a container not updated that should have been).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use async_trait::async_trait;
use watchtower_actions::{Filter, Params, RegistryChecker, Updater, label};
use watchtower_container_client::{
    Container, ContainerClient, DockerClient, EngineInfo, ExecOutcome, Image, ListOptions,
    PullAuth, RecreateSpec, Result as ClientResult, StopOptions,
};
use watchtower_registry_digest::{HttpStats, RegistryOptions, RequestKind};
use watchtower_testkit::{
    ContainerSpec, Engine, FixtureImage, FixtureSpec, Registry as TestRegistry, RegistryMode,
};

/// Distinct images.
const IMAGES: usize = 25;
/// Containers per image.
const PER_IMAGE: usize = 4;
/// Images that get a new version for the second session.
const CHANGED: usize = 5;

pub(crate) fn run() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(bench())
}

/// A `ContainerClient` that counts the calls it passes on, by method.
struct Counting<C> {
    inner: C,
    calls: Mutex<BTreeMap<&'static str, usize>>,
}

impl<C> Counting<C> {
    fn count(&self, method: &'static str) {
        *self
            .calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(method)
            .or_default() += 1;
    }

    fn take(&self) -> BTreeMap<&'static str, usize> {
        std::mem::take(
            &mut *self
                .calls
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

#[async_trait]
impl<C: ContainerClient> ContainerClient for Counting<C> {
    async fn list_containers(&self, options: ListOptions) -> ClientResult<Vec<Container>> {
        self.count("list_containers");
        self.inner.list_containers(options).await
    }
    async fn inspect_container(&self, id_or_name: &str) -> ClientResult<Container> {
        self.count("inspect_container");
        self.inner.inspect_container(id_or_name).await
    }
    async fn inspect_image(&self, id_or_reference: &str) -> ClientResult<Image> {
        self.count("inspect_image");
        self.inner.inspect_image(id_or_reference).await
    }
    async fn pull_image(&self, reference: &str, auth: Option<PullAuth>) -> ClientResult<Image> {
        self.count("pull_image");
        self.inner.pull_image(reference, auth).await
    }
    async fn stop_container(&self, id: &str, options: StopOptions) -> ClientResult<()> {
        self.count("stop_container");
        self.inner.stop_container(id, options).await
    }
    async fn rename_container(&self, id: &str, new_name: &str) -> ClientResult<()> {
        self.count("rename_container");
        self.inner.rename_container(id, new_name).await
    }
    async fn remove_container(&self, id: &str, remove_volumes: bool) -> ClientResult<()> {
        self.count("remove_container");
        self.inner.remove_container(id, remove_volumes).await
    }
    async fn create_container(&self, spec: &RecreateSpec) -> ClientResult<String> {
        self.count("create_container");
        self.inner.create_container(spec).await
    }
    async fn connect_networks(&self, id: &str, spec: &RecreateSpec) -> ClientResult<()> {
        self.count("connect_networks");
        self.inner.connect_networks(id, spec).await
    }
    async fn start_container(&self, id: &str) -> ClientResult<()> {
        self.count("start_container");
        self.inner.start_container(id).await
    }
    async fn exec(
        &self,
        id: &str,
        command: &str,
        timeout: Option<Duration>,
    ) -> ClientResult<ExecOutcome> {
        self.count("exec");
        self.inner.exec(id, command, timeout).await
    }
    async fn remove_image(&self, image_id: &str) -> ClientResult<()> {
        self.count("remove_image");
        self.inner.remove_image(image_id).await
    }
    async fn tag_image(&self, image_id: &str, repository: &str, tag: &str) -> ClientResult<()> {
        self.count("tag_image");
        self.inner.tag_image(image_id, repository, tag).await
    }
    async fn engine_info(&self) -> ClientResult<EngineInfo> {
        self.count("engine_info");
        self.inner.engine_info().await
    }
    async fn wait_until_ready(&self, id: &str, timeout: Duration) -> ClientResult<()> {
        self.count("wait_until_ready");
        self.inner.wait_until_ready(id, timeout).await
    }
}

/// What one session cost.
struct Figures {
    name: String,
    wall: Duration,
    scanned: usize,
    updated: usize,
    failed: usize,
    http: HttpStats,
    /// Registry access log: (method, kind of path) -> count.
    logged: BTreeMap<(String, &'static str), usize>,
    engine: BTreeMap<&'static str, usize>,
    rss_before_kib: Option<u64>,
    peak_kib: Option<u64>,
    peak_reset: bool,
}

async fn bench() -> anyhow::Result<()> {
    let engine = Engine::connect()
        .await
        .context("this bench needs a Docker Engine (DOCKER_HOST or /var/run/docker.sock)")?;
    let registry = TestRegistry::start(RegistryMode::Plain).await?;
    eprintln!(
        "building and pushing {IMAGES} fixture images to {} ...",
        registry.host()
    );
    let mut images = Vec::with_capacity(IMAGES);
    for i in 0..IMAGES {
        let repo = format!("bench-cycle/app-{i:02}-{}", engine.run_id());
        images
            .push(FixtureImage::publish(&engine, &registry, &repo, FixtureSpec::default()).await?);
    }
    let scope = engine.run_id().to_owned();
    eprintln!(
        "starting {} containers (network none, scope {scope}) ...",
        IMAGES * PER_IMAGE
    );
    for (i, image) in images.iter().enumerate() {
        for j in 0..PER_IMAGE {
            let name = engine.unique_name(&format!("cycle-{i:02}-{j}"));
            engine
                .run_container(
                    &name,
                    ContainerSpec::new(image.reference()).label(label::SCOPE, &scope),
                )
                .await?;
        }
    }

    let docker = DockerClient::connect_from_env().await?;
    let checker = RegistryChecker::from_options(RegistryOptions::default())?;
    let updater = Updater::new(
        Counting {
            inner: docker,
            calls: Mutex::default(),
        },
        checker,
        Params::default(),
    );
    let filter = Filter::all().scope(&scope);

    let mut figures = Vec::new();
    let check = session(&updater, &registry, &filter, "check(), nothing new", true).await?;
    figures.push(check);
    let fresh = session(&updater, &registry, &filter, "update(), nothing new", false).await?;
    ensure!(
        fresh.engine.get("pull_image").copied().unwrap_or(0) == 0,
        "a session with nothing new pulled: {:?}",
        fresh.engine
    );
    ensure!(
        fresh.updated == 0 && fresh.scanned == IMAGES * PER_IMAGE,
        "nothing new, yet {} updated and {} scanned",
        fresh.updated,
        fresh.scanned
    );
    figures.push(fresh);

    eprintln!("publishing a new version of {CHANGED} images ...");
    for image in images.iter_mut().take(CHANGED) {
        image.publish_next_version().await?;
    }
    let changed = session(
        &updater,
        &registry,
        &filter,
        &format!("update(), {CHANGED} images new"),
        false,
    )
    .await?;
    if changed.updated != CHANGED * PER_IMAGE || changed.failed != 0 {
        bail!(
            "expected {} containers updated and none failed, got {} updated, {} failed",
            CHANGED * PER_IMAGE,
            changed.updated,
            changed.failed
        );
    }
    figures.push(changed);

    print_report(&registry, &figures);
    Ok(())
}

async fn session(
    updater: &Updater<Counting<DockerClient>, RegistryChecker>,
    registry: &TestRegistry,
    filter: &Filter,
    name: &str,
    check_only: bool,
) -> anyhow::Result<Figures> {
    registry.flush_access_log().await?;
    registry.clear_access_log();
    updater.client().take();
    let http_before = updater.registry().registry().metrics().http;
    let rss_before_kib = proc_status_kib("VmRSS");
    let peak_reset = reset_peak_rss();

    let started = tokio::time::Instant::now();
    let report = if check_only {
        updater.check(filter).await?
    } else {
        updater.update(filter).await?
    };
    let wall = started.elapsed();

    let peak_kib = proc_status_kib("VmHWM");
    registry.flush_access_log().await?;
    let mut logged = BTreeMap::new();
    for entry in registry.access_log() {
        let kind = if entry.path == "/v2/" {
            "/v2/"
        } else if entry.path.contains("/manifests/") {
            "manifests"
        } else if entry.path.contains("/blobs/") {
            "blobs"
        } else {
            "other"
        };
        *logged.entry((entry.method.clone(), kind)).or_default() += 1;
    }
    let counts = report.counts();
    Ok(Figures {
        name: name.to_owned(),
        wall,
        scanned: counts.scanned,
        updated: counts.updated,
        failed: counts.failed,
        http: updater
            .registry()
            .registry()
            .metrics()
            .http
            .since(&http_before),
        logged,
        engine: updater.client().take(),
        rss_before_kib,
        peak_kib,
        peak_reset,
    })
}

/// A `Vm*` line of `/proc/self/status`, in KiB.
fn proc_status_kib(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Resets the peak resident set size (`VmHWM`) to the current one (Linux `clear_refs` 5).
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// KiB as `12.3 MiB`.
fn mib(kib: u64) -> String {
    format!("{}.{} MiB", kib / 1024, kib % 1024 * 10 / 1024)
}

fn print_report(registry: &TestRegistry, figures: &[Figures]) {
    println!(
        "session benchmark: {} containers over {IMAGES} images, plain-HTTP registry at {}, dev profile",
        IMAGES * PER_IMAGE,
        registry.host()
    );
    println!();
    println!(
        "{:<26} {:>9} {:>8} {:>8} {:>7} {:>10} {:>6} {:>6} {:>13}",
        "session", "wall", "scanned", "updated", "pulls", "challenge", "HEAD", "GET", "peak RSS"
    );
    for f in figures {
        let peak = match (f.peak_kib, f.peak_reset) {
            (Some(kib), true) => mib(kib),
            (Some(kib), false) => format!("{}*", mib(kib)),
            (None, _) => "n/a".to_owned(),
        };
        println!(
            "{:<26} {:>6} ms {:>8} {:>8} {:>7} {:>10} {:>6} {:>6} {:>13}",
            f.name,
            f.wall.as_millis(),
            f.scanned,
            f.updated,
            f.engine.get("pull_image").copied().unwrap_or(0),
            f.http.requests_of(RequestKind::Challenge),
            f.http.requests_of(RequestKind::ManifestHead),
            f.http.requests_of(RequestKind::ManifestGet),
            peak,
        );
    }
    println!();
    println!(
        "registry access log (what reached the registry, from watchtower and the engine's pulls):"
    );
    for f in figures {
        let detail: Vec<String> = f
            .logged
            .iter()
            .map(|((method, kind), n)| format!("{method} {kind}={n}"))
            .collect();
        println!("  {:<26} {}", f.name, detail.join("  "));
    }
    println!();
    println!("engine calls by kind:");
    for f in figures {
        let detail: Vec<String> = f.engine.iter().map(|(k, n)| format!("{k}={n}")).collect();
        println!("  {:<26} {}", f.name, detail.join(" "));
    }
    println!();
    println!("memory (VmRSS before the session -> VmHWM during it):");
    for f in figures {
        println!(
            "  {:<26} {} -> {}",
            f.name,
            f.rss_before_kib.map_or("n/a".to_owned(), mib),
            f.peak_kib.map_or("n/a".to_owned(), mib),
        );
    }
    if figures.iter().any(|f| !f.peak_reset) {
        println!(
            "  * the peak could not be reset (/proc/self/clear_refs): it covers the whole process"
        );
    }
    println!();
    println!(
        "targets: nothing new = 1 HEAD per distinct image ({IMAGES}), 0 pulls, 0 GETs of manifests \
         or blobs; {CHANGED} images new = {CHANGED} pulls and {} containers updated",
        CHANGED * PER_IMAGE
    );
}
