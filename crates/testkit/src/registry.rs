//! The real CNCF distribution registry (`docker-registry serve`) on `127.0.0.1:<free port>`.

use std::collections::VecDeque;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use anyhow::{Context as _, bail};
use base64::Engine as _;
use http::{Method, StatusCode};
use regex::Regex;
use tempfile::TempDir;

use crate::client::{HttpClient, TESTKIT_USER_AGENT};

use crate::tls::TestCa;
use crate::token::{TokenIssuer, TokenServer, TokenServerConfig};

/// Where the registry binary is unless `WATCHTOWER_TESTKIT_REGISTRY_BIN` says otherwise.
const DEFAULT_REGISTRY_BIN: &str = "/usr/bin/docker-registry";
/// Environment variable naming another registry binary.
const REGISTRY_BIN_ENV: &str = "WATCHTOWER_TESTKIT_REGISTRY_BIN";
/// How long the registry may take to answer `GET /v2/` after it was started.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How often a port race is retried.
const START_ATTEMPTS: usize = 5;
/// How many raw log lines are kept for error messages.
const LOG_TAIL: usize = 200;
/// Prefix of each registry's temporary folder; followed by the test process id.
const DIR_PREFIX: &str = "watchtower-testkit-registry-";
/// The query parameter of the bench's own access-log flush requests.
const FLUSH_MARK: &str = "testkit-flush=";

/// The user name of the Basic and Token modes.
pub const REGISTRY_USER: &str = "testkit-user";

/// The four ways the bench runs the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistryMode {
    /// Plain HTTP, no authentication.
    Plain,
    /// HTTPS with a certificate from a CA made at test time ([`Registry::ca_pem_path`]).
    Tls,
    /// Plain HTTP with htpasswd (bcrypt) basic authentication ([`Registry::credentials`]).
    Basic,
    /// Plain HTTP with bearer tokens from the in-process [`TokenServer`].
    Token,
}

/// How clients authenticate with the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Auth {
    /// Anyone may pull and push.
    #[default]
    None,
    /// htpasswd basic authentication.
    Basic,
    /// Bearer tokens from the testkit's [`TokenServer`]; anonymous token requests are refused.
    Token,
}

/// Every knob of [`Registry::start_with`]; [`RegistryMode`] covers the common combinations.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Serve HTTPS with a certificate signed by a CA made at test time.
    pub tls: bool,
    /// How clients authenticate.
    pub auth: Auth,
    /// The `expires_in` (seconds) the token server reports; `None` omits the field. The JWTs
    /// themselves stay valid for at least an hour of real time whatever this says, so client
    /// tests can fake their clock without the registry rejecting tokens.
    pub token_expires_in: Option<u64>,
}

impl From<RegistryMode> for RegistryOptions {
    fn from(mode: RegistryMode) -> Self {
        match mode {
            RegistryMode::Plain => RegistryOptions::default(),
            RegistryMode::Tls => RegistryOptions {
                tls: true,
                ..RegistryOptions::default()
            },
            RegistryMode::Basic => RegistryOptions {
                auth: Auth::Basic,
                ..RegistryOptions::default()
            },
            RegistryMode::Token => RegistryOptions {
                auth: Auth::Token,
                ..RegistryOptions::default()
            },
        }
    }
}

/// One line of the registry's access log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessLogEntry {
    /// The HTTP method, e.g. `HEAD`.
    pub method: String,
    /// The request target: path and query, e.g. `/v2/bench/app/manifests/latest`.
    pub path: String,
    /// The response status.
    pub status: u16,
    /// The log line's user field, when not `-` (distribution 2.8 leaves it `-` even for
    /// htpasswd-authenticated requests).
    pub user: Option<String>,
    /// The client's `User-Agent`.
    pub user_agent: String,
}

impl AccessLogEntry {
    /// Parses one line in the registry's Apache "combined" format; `None` for other lines.
    pub fn parse(line: &str) -> Option<AccessLogEntry> {
        static LINE: LazyLock<Regex> = LazyLock::new(|| {
            Regex::new(
                r#"^\S+ \S+ (\S+) \[[^\]]*\] "(\S+) (\S+) [^"]*" (\d{3}) \S+ "[^"]*" "([^"]*)""#,
            )
            .expect("a valid access-log regex")
        });
        let caps = LINE.captures(line)?;
        Some(AccessLogEntry {
            method: caps[2].to_owned(),
            path: caps[3].to_owned(),
            status: caps[4].parse().ok()?,
            user: Some(caps[1].to_owned()).filter(|u| u != "-"),
            user_agent: caps[5].to_owned(),
        })
    }

    /// Whether the bench itself sent this request (readiness checks, digests, flushes).
    pub fn is_testkit(&self) -> bool {
        self.user_agent == TESTKIT_USER_AGENT
    }
}

/// What the reader threads collect from the registry's output.
#[derive(Default)]
struct LogState {
    entries: Mutex<Vec<AccessLogEntry>>,
    tail: Mutex<VecDeque<String>>,
}

impl LogState {
    fn push_line(&self, line: String) {
        if let Some(entry) = AccessLogEntry::parse(&line) {
            self.entries.lock().expect("log lock").push(entry);
        }
        let mut tail = self.tail.lock().expect("log lock");
        if tail.len() == LOG_TAIL {
            tail.pop_front();
        }
        tail.push_back(line);
    }

    fn tail(&self) -> String {
        let tail = self.tail.lock().expect("log lock");
        if tail.is_empty() {
            return "(the registry printed nothing)".to_owned();
        }
        tail.iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// The registry process and the threads reading its output. Dropping it kills the process
/// and waits for it.
struct Process {
    child: Child,
    log: Arc<LogState>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
    }
}

/// A running registry. Dropping it kills the process, waits for it, stops the token server and
/// removes its temporary folder (storage, configuration, certificates).
pub struct Registry {
    // Field order is drop order: the process goes before the folder it uses.
    process: Process,
    token_server: Option<TokenServer>,
    dir: TempDir,
    port: u16,
    tls: bool,
    ca: Option<TestCa>,
    ca_pem_path: Option<PathBuf>,
    api: RegistryApi,
    flushes: AtomicU64,
}

/// What the bench needs to talk to a registry's API; cloned into each [`FixtureImage`].
///
/// [`FixtureImage`]: crate::FixtureImage
#[derive(Clone)]
pub(crate) struct RegistryApi {
    base_url: String,
    host: String,
    client: HttpClient,
    credentials: Option<(String, String)>,
    tokens: Option<TokenIssuer>,
}

impl RegistryApi {
    pub(crate) fn host(&self) -> String {
        self.host.clone()
    }

    pub(crate) fn credentials(&self) -> Option<(&str, &str)> {
        self.credentials
            .as_ref()
            .map(|(u, p)| (u.as_str(), p.as_str()))
    }

    pub(crate) fn base_url(&self) -> &str {
        &self.base_url
    }

    pub(crate) fn client(&self) -> &HttpClient {
        &self.client
    }

    /// The `Authorization` value of the bench's user for `actions` (`pull` or `pull,push`) on
    /// `repo`: a token minted in-process (not counted by the token server), Basic credentials,
    /// or `None` for an open registry.
    pub(crate) fn authorization(
        &self,
        repo: &str,
        actions: &str,
    ) -> anyhow::Result<Option<String>> {
        Ok(match (&self.tokens, &self.credentials) {
            (Some(tokens), Some((user, _))) => Some(format!(
                "Bearer {}",
                tokens.issue(user, &[format!("repository:{repo}:{actions}")])?
            )),
            (None, Some((user, password))) => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            )),
            _ => None,
        })
    }

    pub(crate) async fn manifest_digest(&self, repo: &str, tag: &str) -> anyhow::Result<String> {
        let url = format!("{}/v2/{repo}/manifests/{tag}", self.base_url);
        let authorization = self.authorization(repo, "pull")?;
        let mut headers = vec![("accept", MANIFEST_ACCEPT)];
        if let Some(authorization) = &authorization {
            headers.push(("authorization", authorization));
        }
        let response = self.client.request(Method::HEAD, &url, &headers).await?;
        if response.status != StatusCode::OK {
            bail!("HEAD {url} answered {} (expected 200)", response.status);
        }
        response
            .header("docker-content-digest")
            .map(str::to_owned)
            .with_context(|| format!("HEAD {url} answered without a Docker-Content-Digest header"))
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("base_url", &self.base_url())
            .field("pid", &self.process.child.id())
            .field("dir", &self.dir.path())
            .field("auth", &self.auth())
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// Starts a registry in `mode`. See [`Registry::start_with`].
    pub async fn start(mode: RegistryMode) -> anyhow::Result<Registry> {
        Registry::start_with(mode.into()).await
    }

    /// Starts `docker-registry serve` on `127.0.0.1:<free port>` with its own storage and waits
    /// until `GET /v2/` answers (200, or 401 with authentication).
    pub async fn start_with(options: RegistryOptions) -> anyhow::Result<Registry> {
        let binary = registry_binary()?;
        sweep_stale_registries();
        let dir = tempfile::Builder::new()
            .prefix(&format!("{DIR_PREFIX}{}-", std::process::id()))
            .tempdir()
            .context("creating the registry's temporary folder")?;
        let storage = dir.path().join("storage");
        std::fs::create_dir(&storage).context("creating the registry's storage folder")?;

        let AuthSetup {
            yaml: auth_yaml,
            credentials,
            token_server,
        } = setup_auth(dir.path(), &options).await?;
        let (ca, ca_pem_path, tls_yaml) = if options.tls {
            let (ca, ca_path, yaml) = setup_tls(dir.path())?;
            (Some(ca), Some(ca_path), yaml)
        } else {
            (None, None, String::new())
        };
        let client = HttpClient::new(ca.as_ref().map(TestCa::client_config));

        let mut last_error = None;
        for _ in 0..START_ATTEMPTS {
            let port = free_port()?;
            let config = format!(
                "version: 0.1\n\
                 log:\n  level: info\n  formatter: text\n  accesslog:\n    disabled: false\n\
                 storage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\n\
                 \x20 maintenance:\n    uploadpurging:\n      enabled: false\n\
                 http:\n  addr: 127.0.0.1:{port}\n  secret: {secret}\n{tls_yaml}\
                 {auth_yaml}",
                storage = yaml_path(&storage),
                secret = crate::random_hex(16),
            );
            let config_path = dir.path().join("config.yml");
            std::fs::write(&config_path, config).context("writing the registry configuration")?;
            let mut process = spawn(&binary, &config_path)?;
            std::fs::write(
                dir.path().join("registry.pid"),
                process.child.id().to_string(),
            )
            .context("writing the registry's pid file")?;
            let scheme = if options.tls { "https" } else { "http" };
            match wait_ready(
                &mut process,
                &client,
                &format!("{scheme}://127.0.0.1:{port}"),
            )
            .await
            {
                Ok(()) => {
                    let tokens = token_server.as_ref().map(TokenServer::token_issuer);
                    let registry = Registry {
                        process,
                        token_server,
                        dir,
                        port,
                        tls: options.tls,
                        ca,
                        ca_pem_path,
                        api: RegistryApi {
                            base_url: format!("{scheme}://127.0.0.1:{port}"),
                            host: format!("127.0.0.1:{port}"),
                            tokens,
                            client,
                            credentials,
                        },
                        flushes: AtomicU64::new(0),
                    };
                    registry.flush_access_log().await?;
                    registry.clear_access_log();
                    return Ok(registry);
                }
                Err(err) => {
                    let port_taken = process.log.tail().contains("address already in use");
                    drop(process);
                    if !port_taken {
                        return Err(err);
                    }
                    last_error = Some(err);
                }
            }
        }
        Err(last_error.expect("at least one attempt")).context(format!(
            "the registry found no free port in {START_ATTEMPTS} attempts"
        ))
    }

    /// `127.0.0.1:PORT`: the registry part of image references.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The port the registry listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.host())
    }

    /// Whether the registry serves HTTPS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// How clients authenticate.
    pub fn auth(&self) -> Auth {
        match (&self.token_server, &self.api.credentials) {
            (Some(_), _) => Auth::Token,
            (None, Some(_)) => Auth::Basic,
            (None, None) => Auth::None,
        }
    }

    /// The PEM file of the CA that signed the registry's certificate (TLS only).
    pub fn ca_pem_path(&self) -> Option<&Path> {
        self.ca_pem_path.as_deref()
    }

    /// The CA that signed the registry's certificate (TLS only).
    pub fn ca(&self) -> Option<&TestCa> {
        self.ca.as_ref()
    }

    /// `(user, password)` in the Basic and Token modes. The password is random per registry,
    /// so tests can search logs for it to prove it never leaks.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.api.credentials()
    }

    /// The token server (Token mode only).
    pub fn token_server(&self) -> Option<&TokenServer> {
        self.token_server.as_ref()
    }

    /// The registry's temporary folder (configuration, storage, certificates).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The registry process id.
    pub fn pid(&self) -> u32 {
        self.process.child.id()
    }

    /// The last lines the registry printed (access log and diagnostics).
    pub fn log_tail(&self) -> String {
        self.process.log.tail()
    }

    /// The access log so far, without the bench's own requests.
    ///
    /// Lines arrive shortly after each response; call [`Registry::flush_access_log`] first to be
    /// sure every finished request is in.
    pub fn access_log(&self) -> Vec<AccessLogEntry> {
        self.full_access_log()
            .into_iter()
            .filter(|e| !e.is_testkit())
            .collect()
    }

    /// The access log so far, including the bench's own requests (see
    /// [`AccessLogEntry::is_testkit`]).
    pub fn full_access_log(&self) -> Vec<AccessLogEntry> {
        self.process.log.entries.lock().expect("log lock").clone()
    }

    /// How many requests with `method` (case-insensitive) and a path containing `path_fragment`
    /// the registry logged, not counting the bench's own.
    pub fn count_requests(&self, method: &str, path_fragment: &str) -> usize {
        self.access_log()
            .iter()
            .filter(|e| e.method.eq_ignore_ascii_case(method) && e.path.contains(path_fragment))
            .count()
    }

    /// Forgets the access log so far.
    pub fn clear_access_log(&self) {
        self.process.log.entries.lock().expect("log lock").clear();
    }

    /// Waits until every request that finished before this call is in the access log.
    ///
    /// The registry writes a line after each response, so a client may see its answer before
    /// the line exists. This sends a marked `GET /v2/` and waits for its line.
    pub async fn flush_access_log(&self) -> anyhow::Result<()> {
        let n = self.flushes.fetch_add(1, Ordering::Relaxed);
        let mark = format!("{FLUSH_MARK}{n}");
        self.api
            .client
            .get(&format!("{}/v2/?{mark}", self.base_url()))
            .await?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if self
                .process
                .log
                .entries
                .lock()
                .expect("log lock")
                .iter()
                .any(|e| e.path.ends_with(&mark))
            {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                bail!(
                    "the registry's access log did not show the flush request; its log:\n{}",
                    self.process.log.tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The `Docker-Content-Digest` of `repo:tag` (a tag or a digest), read with
    /// `HEAD /v2/<repo>/manifests/<tag>` accepting Docker v2 and OCI manifests and indexes,
    /// authenticated as the bench's user. Not counted in [`Registry::count_requests`] nor in
    /// the token server's counts.
    pub async fn manifest_digest(&self, repo: &str, tag: &str) -> anyhow::Result<String> {
        self.api.manifest_digest(repo, tag).await
    }

    pub(crate) fn api(&self) -> RegistryApi {
        self.api.clone()
    }
}

/// The `Accept` header for manifests: Docker v2 manifest and list, OCI manifest and index.
pub(crate) const MANIFEST_ACCEPT: &str = "application/vnd.docker.distribution.manifest.v2+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.oci.image.index.v1+json";

/// The registry's `auth:` section and what clients need for it.
struct AuthSetup {
    yaml: String,
    credentials: Option<(String, String)>,
    token_server: Option<TokenServer>,
}

/// Writes the htpasswd file or starts the token server, as `options.auth` asks.
async fn setup_auth(dir: &Path, options: &RegistryOptions) -> anyhow::Result<AuthSetup> {
    match options.auth {
        Auth::None => Ok(AuthSetup {
            yaml: String::new(),
            credentials: None,
            token_server: None,
        }),
        Auth::Basic => {
            let password = crate::random_hex(12);
            let htpasswd = dir.join("htpasswd");
            // Cost 4 (the minimum) keeps the registry's per-request check fast.
            let hash = bcrypt::hash(&password, 4).context("hashing the registry password")?;
            std::fs::write(&htpasswd, format!("{REGISTRY_USER}:{hash}\n"))
                .context("writing the htpasswd file")?;
            let yaml = format!(
                "auth:\n  htpasswd:\n    realm: {}\n    path: {}\n",
                yaml("watchtower-testkit"),
                yaml_path(&htpasswd)
            );
            Ok(AuthSetup {
                yaml,
                credentials: Some((REGISTRY_USER.to_owned(), password)),
                token_server: None,
            })
        }
        Auth::Token => {
            let password = crate::random_hex(12);
            let server = TokenServer::start(TokenServerConfig {
                username: REGISTRY_USER.to_owned(),
                password: password.clone(),
                expires_in: options.token_expires_in,
            })
            .await?;
            let bundle = dir.join("token-root.pem");
            std::fs::write(&bundle, server.root_cert_pem())
                .context("writing the token root certificate bundle")?;
            let yaml = format!(
                "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
                yaml(&server.realm()),
                yaml(server.service()),
                yaml(server.issuer()),
                yaml_path(&bundle)
            );
            Ok(AuthSetup {
                yaml,
                credentials: Some((REGISTRY_USER.to_owned(), password)),
                token_server: Some(server),
            })
        }
    }
}

/// Makes a CA and a server certificate for 127.0.0.1 and localhost; returns the CA, the path
/// of its PEM file and the registry's `http.tls` section.
fn setup_tls(dir: &Path) -> anyhow::Result<(TestCa, PathBuf, String)> {
    let ca = TestCa::new("watchtower-testkit registry CA")?;
    let server = ca.issue_server_cert(&["127.0.0.1", "localhost"])?;
    let ca_path = dir.join("ca.pem");
    let cert_path = dir.join("server.pem");
    let key_path = dir.join("server-key.pem");
    ca.write_pem(&ca_path)?;
    server.write_pem(&cert_path, &key_path)?;
    let yaml = format!(
        "  tls:\n    certificate: {}\n    key: {}\n",
        yaml_path(&cert_path),
        yaml_path(&key_path)
    );
    Ok((ca, ca_path, yaml))
}

/// Waits until the registry at `base_url` answers `GET /v2/` with 200 or 401.
async fn wait_ready(
    process: &mut Process,
    client: &HttpClient,
    base_url: &str,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
    let url = format!("{base_url}/v2/");
    loop {
        if let Some(status) = process
            .child
            .try_wait()
            .context("checking the registry process")?
        {
            // Give the reader threads a moment to collect the last lines.
            tokio::time::sleep(Duration::from_millis(50)).await;
            bail!(
                "the registry exited during start-up ({status}); its log:\n{}",
                process.log.tail()
            );
        }
        let last = match client.get(&url).await {
            Ok(response)
                if matches!(response.status, StatusCode::OK | StatusCode::UNAUTHORIZED) =>
            {
                return Ok(());
            }
            Ok(response) => format!("GET {url} answered {}", response.status),
            Err(err) => format!("{err:#}"),
        };
        if tokio::time::Instant::now() >= deadline {
            bail!(
                "the registry did not answer GET {url} within {READY_TIMEOUT:?} (last: {last}); its log:\n{}",
                process.log.tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Starts `binary serve config` with its output read into a [`LogState`] by two threads.
fn spawn(binary: &Path, config: &Path) -> anyhow::Result<Process> {
    let mut child = Command::new(binary)
        .arg("serve")
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {} serve {}", binary.display(), config.display()))?;
    let log = Arc::new(LogState::default());
    let mut readers = Vec::new();
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");
    for (name, stream) in [
        (
            "registry-stdout",
            Box::new(stdout) as Box<dyn std::io::Read + Send>,
        ),
        ("registry-stderr", Box::new(stderr)),
    ] {
        let log = Arc::clone(&log);
        let reader = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                for line in BufReader::new(stream).lines() {
                    match line {
                        Ok(line) => log.push_line(line),
                        Err(_) => break,
                    }
                }
            })
            .context("spawning a registry log reader thread")?;
        readers.push(reader);
    }
    Ok(Process {
        child,
        log,
        readers,
    })
}

/// The registry binary: `$WATCHTOWER_TESTKIT_REGISTRY_BIN`, else `/usr/bin/docker-registry`.
fn registry_binary() -> anyhow::Result<PathBuf> {
    let (path, from_env) = match std::env::var_os(REGISTRY_BIN_ENV) {
        Some(path) => (PathBuf::from(path), true),
        None => (PathBuf::from(DEFAULT_REGISTRY_BIN), false),
    };
    if path.is_file() {
        return Ok(path);
    }
    if from_env {
        bail!(
            "the registry binary {} (from {REGISTRY_BIN_ENV}) does not exist",
            path.display()
        );
    }
    bail!(
        "the registry binary {} is missing: install it with `apt-get install docker-registry` \
         or `cargo xtask deps` (or point {REGISTRY_BIN_ENV} at a distribution registry binary)",
        path.display()
    )
}

/// A port that was free on 127.0.0.1 a moment ago (the registry may still lose a race for it;
/// the caller retries).
fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener
        .local_addr()
        .context("reading the free port")?
        .port())
}

/// A YAML double-quoted scalar (JSON strings are valid YAML).
fn yaml(value: &str) -> String {
    serde_json::Value::String(value.to_owned()).to_string()
}

fn yaml_path(path: &Path) -> String {
    yaml(&path.to_string_lossy())
}

/// Stops registries of test processes that no longer exist and removes their folders.
///
/// A killed test run cannot drop its [`Registry`]; its folder records the registry's pid.
fn sweep_stale_registries() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(DIR_PREFIX) else {
            continue;
        };
        let Some(owner) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if Path::new("/proc").join(owner.to_string()).exists() || !Path::new("/proc/self").exists()
        {
            continue;
        }
        let dir = entry.path();
        if let Ok(pid) = std::fs::read_to_string(dir.join("registry.pid")) {
            let pid = pid.trim();
            let cmdline =
                std::fs::read(Path::new("/proc").join(pid).join("cmdline")).unwrap_or_default();
            // Only a registry serving this very folder's configuration is ours to stop.
            if String::from_utf8_lossy(&cmdline).contains(&*dir.to_string_lossy()) {
                let _ = Command::new("kill").arg("-KILL").arg(pid).status();
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_log_lines_parse() {
        let line = r#"127.0.0.1 - - [27/Nov/2026:23:00:29 +0000] "HEAD /v2/foo/manifests/latest HTTP/1.1" 404 96 "" "curl/7.88.1""#;
        let entry = AccessLogEntry::parse(line).unwrap();
        assert_eq!(entry.method, "HEAD");
        assert_eq!(entry.path, "/v2/foo/manifests/latest");
        assert_eq!(entry.status, 404);
        assert_eq!(entry.user, None);
        assert_eq!(entry.user_agent, "curl/7.88.1");
        assert!(!entry.is_testkit());

        let line = r#"127.0.0.1 - testkit-user [27/Nov/2026:23:00:29 +0000] "GET /v2/?testkit-flush=3 HTTP/1.1" 200 2 "" "{TESTKIT_USER_AGENT}""#;
        let entry =
            AccessLogEntry::parse(&line.replace("{TESTKIT_USER_AGENT}", TESTKIT_USER_AGENT))
                .unwrap();
        assert_eq!(entry.user.as_deref(), Some("testkit-user"));
        assert!(entry.is_testkit());

        assert_eq!(
            AccessLogEntry::parse(r#"time="2026" level=info msg="listening""#),
            None
        );
    }

    #[test]
    fn yaml_scalars_are_quoted() {
        assert_eq!(yaml("a b"), r#""a b""#);
        assert_eq!(yaml(r#"q"\"#), r#""q\"\\""#);
    }

    #[test]
    fn the_log_tail_keeps_the_last_lines() {
        let log = LogState::default();
        for i in 0..(LOG_TAIL + 5) {
            log.push_line(format!("line {i}"));
        }
        let tail = log.tail();
        assert!(!tail.contains("line 4\n"));
        assert!(tail.ends_with(&format!("line {}", LOG_TAIL + 4)));
    }
}
