//! Helpers for the end-to-end tests of the `watchtower` binary: finding (and, under
//! nextest, building) the binary, running it as a child process, reading its log, and a
//! small HTTP client for its API on 127.0.0.1.

pub mod safety_doc;

pub mod engine_proxy;

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The `watchtower` binary of this workspace.
///
/// `WATCHTOWER_BIN` names one explicitly. Otherwise it is `target/<profile>/watchtower` next
/// to this test executable; under nextest (which holds no cargo lock while tests run) it is
/// built first, so it is never stale. `cargo test --workspace` builds it before the tests.
pub fn binary() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("WATCHTOWER_BIN") {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe().context("locating the test executable")?;
    // target/<profile>/deps/<test> -> target/<profile>/watchtower
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .context("the test executable is not in target/<profile>/deps")?;
    let binary = profile_dir.join("watchtower");
    if std::env::var_os("NEXTEST").is_some() || std::env::var_os("NEXTEST_RUN_ID").is_some() {
        static BUILT: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
        BUILT
            .get_or_init(|| build(profile_dir).map_err(|e| format!("{e:#}")))
            .clone()
            .map_err(anyhow::Error::msg)?;
    }
    if !binary.exists() {
        bail!(
            "{} does not exist: build it first (cargo build -p watchtower)",
            binary.display()
        );
    }
    Ok(binary)
}

fn build(profile_dir: &std::path::Path) -> anyhow::Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("workspace root")?
        .to_owned();
    let mut command = std::process::Command::new(cargo);
    command.current_dir(&workspace).args([
        "build",
        "--quiet",
        "-p",
        "watchtower",
        "--bin",
        "watchtower",
    ]);
    if profile_dir.file_name().is_some_and(|p| p == "release") {
        command.arg("--release");
    }
    let status = command.status().context("running cargo build")?;
    if !status.success() {
        bail!("cargo build -p watchtower failed");
    }
    Ok(())
}

/// A running `watchtower` process whose stderr (the log) is collected.
pub struct Watchtower {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    reader: tokio::task::JoinHandle<()>,
}

/// The binary with `args`, a clean environment plus `env`, logging logfmt, no standard input,
/// killed when dropped; `DOCKER_HOST` is passed through when set.
pub fn command(args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<Command> {
    let mut command = Command::new(binary()?);
    command
        .args(args)
        .env_clear()
        .env("WATCHTOWER_LOG_FORMAT", "logfmt")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    if let Some(host) = std::env::var_os("DOCKER_HOST") {
        command.env("DOCKER_HOST", host);
    }
    for (key, value) in env {
        command.env(key, value);
    }
    Ok(command)
}

impl Watchtower {
    /// Starts the binary with `args`, a clean environment plus `env`, logging logfmt.
    /// `DOCKER_HOST` is passed through when set.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<Self> {
        let mut command = command(args, env)?;
        command.stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = command.spawn().context("starting watchtower")?;
        let stderr = child.stderr.take().context("piped stderr")?;
        let log = Arc::new(Mutex::new(Vec::new()));
        let reader = tokio::spawn({
            let log = log.clone();
            async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    eprintln!("watchtower> {line}");
                    log.lock().expect("log lock").push(line);
                }
            }
        });
        Ok(Self { child, log, reader })
    }

    /// The log lines so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().expect("log lock").clone()
    }

    /// Waits (up to `limit`) for a log line containing `needle` and returns it.
    pub async fn wait_for_log(&self, needle: &str, limit: Duration) -> anyhow::Result<String> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(line) = self.log().into_iter().find(|l| l.contains(needle)) {
                return Ok(line);
            }
            if tokio::time::Instant::now() > deadline {
                bail!(
                    "no log line with {needle:?} within {limit:?}; log:\n{}",
                    self.log().join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The address of the HTTP API, read from its "HTTP API listening" log line.
    pub async fn api_addr(&self) -> anyhow::Result<std::net::SocketAddr> {
        let line = self
            .wait_for_log("HTTP API listening", Duration::from_secs(60))
            .await?;
        let addr = line
            .split_whitespace()
            .find_map(|field| field.strip_prefix("addr="))
            .context("no addr= in the listening line")?;
        addr.parse().context("parsing the API address")
    }

    /// Sends SIGTERM (through `kill`, to avoid unsafe code).
    pub fn terminate(&self) -> anyhow::Result<()> {
        self.signal("TERM")
    }

    /// Sends the signal `name` (`TERM`, `INT`, ...) through `kill -<name>`.
    pub fn signal(&self, name: &str) -> anyhow::Result<()> {
        let pid = self.child.id().context("the process already ended")?;
        let status = std::process::Command::new("kill")
            .args([format!("-{name}"), pid.to_string()])
            .status()
            .context("running kill")?;
        if !status.success() {
            bail!("kill -{name} {pid} failed");
        }
        Ok(())
    }

    /// Waits (up to `limit`) for the process to end and returns its exit code.
    pub async fn wait(self, limit: Duration) -> anyhow::Result<Option<i32>> {
        Ok(self.wait_with_log(limit).await?.0)
    }

    /// Waits (up to `limit`) for the process to end; returns its exit code and whole log.
    pub async fn wait_with_log(
        mut self,
        limit: Duration,
    ) -> anyhow::Result<(Option<i32>, Vec<String>)> {
        let status = tokio::time::timeout(limit, self.child.wait())
            .await
            .context("watchtower did not exit in time")??;
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.reader).await;
        Ok((status.code(), self.log()))
    }
}

/// A response from the API: status and body.
#[derive(Debug)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// `Content-Type`, if any.
    pub content_type: Option<String>,
    /// The body as text.
    pub body: String,
}

/// Sends `method path` to the API at `addr`, with `Authorization: Bearer <token>` when given.
pub async fn request(
    addr: std::net::SocketAddr,
    method: http::Method,
    path: &str,
    token: Option<&str>,
) -> anyhow::Result<Response> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut builder = http::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    let response = tokio::time::timeout(
        Duration::from_secs(300),
        client.request(builder.body(Full::new(Bytes::new()))?),
    )
    .await
    .context("the API did not answer within 300 s")??;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response.into_body().collect().await?.to_bytes();
    Ok(Response {
        status,
        content_type,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}
