//! The effective configuration: command line, then environment, then defaults, with the
//! original's aliases, list splitting and secrets-from-files rules, checked before anything
//! touches a container.
//!
//! Resolution of one option: the flag when given; else its variable when set and not empty
//! (an empty variable counts as unset, as with viper); else the default from
//! [`crate::flags::FLAGS`]. Every mistake is one [`Error`] naming the flag or the variable
//! it came from. The sections live in `resolve/`, one per library option type.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use watchtower_actions::{Filter, Params};
use watchtower_container_client::DockerOptions;
use watchtower_notify::{Level, NotifierConfig};
use watchtower_registry_auth::CredentialOptions;

use crate::cli::Cli;
use crate::env::Env;
use crate::error::Error;
use crate::schedule::Schedule;
use crate::secret::Secret;

/// Where a value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The command line.
    Cli,
    /// The environment.
    Env,
    /// The built-in default.
    Default,
}

/// Log output format (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// `pretty` on a terminal, `logfmt` otherwise.
    Auto,
    /// `time="…" level=info msg="…" key=value`.
    Logfmt,
    /// Human-friendly, coloured unless `--no-color`.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// The log on stderr (the binary installs the subscriber; no library has options for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogSettings {
    /// `--log-format`.
    pub format: LogFormat,
    /// `--log-level` after `--debug`/`--trace`: the same type as `--notifications-level`.
    pub level: Level,
    /// `--no-color` / `NO_COLOR`.
    pub no_color: bool,
}

/// The HTTP API's flags (`watchtower-http-api` takes a token and handlers, not options).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpApiSettings {
    /// `--http-api-update`.
    pub update: bool,
    /// `--http-api-metrics`.
    pub metrics: bool,
    /// `--http-api-token`.
    pub token: Option<Secret>,
    /// `--http-api-periodic-polls`.
    pub periodic_polls: bool,
    /// `--http-api-host` as given (empty: every interface).
    pub host: String,
    /// `--http-api-port`.
    pub port: u16,
}

impl HttpApiSettings {
    /// Whether any endpoint is on.
    pub fn enabled(&self) -> bool {
        self.update || self.metrics
    }

    /// The address to bind: the host, or every interface (IPv6 and IPv4) when empty.
    pub fn listen_addr(&self) -> SocketAddr {
        let ip = if self.host.is_empty() {
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        } else if self.host == "localhost" {
            IpAddr::from([127, 0, 0, 1])
        } else {
            self.host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse()
                .expect("validated when the configuration was read")
        };
        SocketAddr::new(ip, self.port)
    }

    /// The address as the startup message shows it (`:8080` for every interface).
    pub fn display_addr(&self) -> String {
        if self.host.is_empty() {
            format!(":{}", self.port)
        } else if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Registry access: the arguments of `watchtower_tls_config::TlsSettings::from_flags`
/// (loaded at start-up, after logging is up, so that a bad bundle is logged and notified)
/// and the credential store's own options.
#[derive(Debug, Clone)]
pub struct RegistrySettings {
    /// `--registry-ca`.
    pub ca: Option<PathBuf>,
    /// `--registry-ca-validate`.
    pub ca_validate: bool,
    /// `--insecure-registry`.
    pub insecure: bool,
    /// `REPO_USER`/`REPO_PASS` (both, or neither) and the Docker config file.
    pub credentials: CredentialOptions,
}

/// The effective configuration, in the libraries' own option types.
#[derive(Debug, Clone)]
pub struct Config {
    /// Docker connection (`--host`, `--tlsverify`, `--api-version`, `DOCKER_CERT_PATH`).
    pub docker: DockerOptions,
    /// Container selection (names, `--disable-containers`, `--label-enable`, `--scope`).
    pub filter: Filter,
    /// Session behaviour (`--cleanup`, `--stop-timeout`, ...).
    pub params: Params,
    /// When sessions run (from `--schedule` or `--interval`).
    pub schedule: Schedule,
    /// `--run-once`.
    pub run_once: bool,
    /// `--no-startup-message`.
    pub no_startup_message: bool,
    /// `--health-check`.
    pub health_check: bool,
    /// `--porcelain v1` was given.
    pub porcelain: bool,
    /// Logging.
    pub log: LogSettings,
    /// HTTP API.
    pub http_api: HttpApiSettings,
    /// Notifications (`--porcelain v1` already applied).
    pub notifications: NotifierConfig,
    /// Registries.
    pub registry: RegistrySettings,
    /// Things worth a warning once logging is up (never fatal).
    pub warnings: Vec<String>,
    pub(crate) values: Values,
}

/// Every option's rendered value; `Debug` redacts the secret ones.
#[derive(Clone, Default)]
pub(crate) struct Values(pub(crate) BTreeMap<&'static str, (String, bool)>);

impl Values {
    fn redacted(&self) -> Vec<(&'static str, String)> {
        self.0
            .iter()
            .map(|(k, (v, secret))| {
                let shown = if *secret && !v.is_empty() {
                    "<redacted>".to_owned()
                } else {
                    v.clone()
                };
                (*k, shown)
            })
            .collect()
    }
}

impl std::fmt::Debug for Values {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.redacted()).finish()
    }
}

impl Config {
    /// Resolves the configuration from a parsed command line and an environment.
    pub fn resolve(cli: &Cli, env: &dyn Env) -> Result<Self, Error> {
        crate::resolve::resolve(cli, env)
    }

    /// The effective value of an option by its long name, rendered as text (lists joined
    /// with commas, secrets in clear). For tests and diagnostics; never log it: use
    /// [`Config::describe`].
    pub fn value(&self, long: &str) -> Option<&str> {
        self.values.0.get(long).map(|(v, _)| v.as_str())
    }

    /// Every option and its effective value, secrets shown as `<redacted>` when set.
    pub fn describe(&self) -> Vec<(&'static str, String)> {
        self.values.redacted()
    }
}
