//! The effective configuration: command line, then environment, then defaults, with the
//! original's aliases, list splitting and secrets-from-files rules, checked before anything
//! touches a container.
//!
//! Resolution of one option: the flag when given; else its variable when set and not empty
//! (an empty variable counts as unset, as with viper); else the default from
//! [`crate::flags::FLAGS`]. Every mistake is one [`ConfigError`] naming the flag or the
//! variable it came from.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::cli::Cli;
use crate::duration::{format_go_duration, parse_go_duration};
use crate::flags::{FlagSpec, spec};
use crate::schedule::{Schedule, ScheduleError};
use crate::secret::{self, Secret};

/// Where configuration variables are read from (the process environment, or a map in tests).
pub trait Env {
    /// The variable's value, if set.
    fn var(&self, key: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, key: &str) -> Option<String> {
        std::env::var(key).ok()
    }
}

impl Env for BTreeMap<String, String> {
    fn var(&self, key: &str) -> Option<String> {
        self.get(key).cloned()
    }
}

impl<S: std::hash::BuildHasher> Env for std::collections::HashMap<String, String, S> {
    fn var(&self, key: &str) -> Option<String> {
        self.get(key).cloned()
    }
}

/// A configuration mistake. Each message is one line naming the flag or variable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A value that does not parse or is out of range.
    #[error("invalid value {value:?} for {origin}: {expected}")]
    InvalidValue {
        /// `--flag` or `VARIABLE (--flag)`.
        origin: String,
        /// The value as given (never a secret).
        value: String,
        /// What would be valid.
        expected: String,
    },
    /// A secret named a file that could not be read.
    #[error("cannot read {origin} from file {}: {source}", path.display())]
    SecretFile {
        /// `--flag` or `VARIABLE (--flag)`.
        origin: String,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `--interval` and `--schedule` together.
    #[error(
        "only --schedule or --interval can be defined, not both (--interval {interval}, --schedule {schedule:?})"
    )]
    IntervalWithSchedule {
        /// The interval given.
        interval: u64,
        /// The schedule given.
        schedule: String,
    },
    /// A schedule spec that does not parse or never fires.
    #[error("{origin}: {source}")]
    Schedule {
        /// `--schedule` or `WATCHTOWER_SCHEDULE (--schedule)`.
        origin: String,
        /// The parse error.
        #[source]
        source: ScheduleError,
    },
    /// `--rolling-restart` with the global `--monitor-only`.
    #[error("--rolling-restart cannot be combined with the global --monitor-only")]
    RollingRestartWithMonitorOnly,
    /// An API endpoint without a token.
    #[error(
        "{endpoint} is enabled but the API token is empty: set --http-api-token (WATCHTOWER_HTTP_API_TOKEN)"
    )]
    MissingApiToken {
        /// The flag that enabled an endpoint.
        endpoint: &'static str,
    },
    /// A legacy notification type that lacks a setting it needs.
    #[error("--notifications {kind} needs {needs}")]
    NotificationSetting {
        /// The legacy type.
        kind: &'static str,
        /// The missing or wrong setting.
        needs: String,
    },
}

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

/// A log level as the original named them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// `panic`: errors only here.
    Panic,
    /// `fatal`: errors only here.
    Fatal,
    /// `error`.
    Error,
    /// `warn` (or `warning`).
    Warn,
    /// `info`.
    Info,
    /// `debug`.
    Debug,
    /// `trace`.
    Trace,
}

impl LogLevel {
    fn parse(value: &str) -> Option<Self> {
        Some(match value.to_ascii_lowercase().as_str() {
            "panic" => Self::Panic,
            "fatal" => Self::Fatal,
            "error" => Self::Error,
            "warn" | "warning" => Self::Warn,
            "info" => Self::Info,
            "debug" => Self::Debug,
            "trace" => Self::Trace,
            _ => return None,
        })
    }

    /// The level's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Panic => "panic",
            Self::Fatal => "fatal",
            Self::Error => "error",
            Self::Warn => "warn",
            Self::Info => "info",
            Self::Debug => "debug",
            Self::Trace => "trace",
        }
    }

    /// The tracing level with the same cut-off (`panic` and `fatal` keep errors).
    pub fn tracing_level(self) -> tracing::Level {
        match self {
            Self::Panic | Self::Fatal | Self::Error => tracing::Level::ERROR,
            Self::Warn => tracing::Level::WARN,
            Self::Info => tracing::Level::INFO,
            Self::Debug => tracing::Level::DEBUG,
            Self::Trace => tracing::Level::TRACE,
        }
    }
}

/// `--warn-on-head-failure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarnOnHeadFailure {
    /// Always warn.
    Always,
    /// Warn for registries with pull rate limits (Docker Hub, GHCR).
    Auto,
    /// Never warn (debug only).
    Never,
}

/// A legacy `--notifications` type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegacyNotifier {
    /// SMTP.
    Email,
    /// Slack (or Discord) webhook.
    Slack,
    /// Microsoft Teams webhook.
    MsTeams,
    /// Gotify.
    Gotify,
    /// No-op: URLs come from `--notification-url`.
    Shoutrrr,
}

impl LegacyNotifier {
    /// The type's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Slack => "slack",
            Self::MsTeams => "msteams",
            Self::Gotify => "gotify",
            Self::Shoutrrr => "shoutrrr",
        }
    }
}

/// Docker connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerSettings {
    /// `--host`.
    pub host: String,
    /// `--tlsverify`.
    pub tls_verify: bool,
    /// `--api-version`: `None` negotiates.
    pub api_version: Option<String>,
    /// `DOCKER_CERT_PATH`.
    pub cert_path: Option<PathBuf>,
}

/// Which containers are watched.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FilterSettings {
    /// Positional names.
    pub names: Vec<String>,
    /// `--disable-containers`.
    pub disable_containers: Vec<String>,
    /// `--label-enable`.
    pub label_enable: bool,
    /// `--scope` (`None` when empty).
    pub scope: Option<String>,
}

/// How sessions treat containers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateSettings {
    /// `--stop-timeout`.
    pub stop_timeout: Duration,
    /// `--no-pull`.
    pub no_pull: bool,
    /// `--no-restart`.
    pub no_restart: bool,
    /// `--cleanup`.
    pub cleanup: bool,
    /// `--remove-volumes`.
    pub remove_volumes: bool,
    /// `--monitor-only`.
    pub monitor_only: bool,
    /// `--include-restarting`.
    pub include_restarting: bool,
    /// `--include-stopped`.
    pub include_stopped: bool,
    /// `--revive-stopped`.
    pub revive_stopped: bool,
    /// `--enable-lifecycle-hooks`.
    pub lifecycle_hooks: bool,
    /// `--rolling-restart`.
    pub rolling_restart: bool,
    /// `--label-take-precedence`.
    pub label_take_precedence: bool,
    /// `--warn-on-head-failure`.
    pub warn_on_head_failure: WarnOnHeadFailure,
}

/// Logging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogSettings {
    /// `--log-format`.
    pub format: LogFormat,
    /// `--log-level` after `--debug`/`--trace`.
    pub level: LogLevel,
    /// `--no-color` / `NO_COLOR`.
    pub no_color: bool,
}

/// The HTTP API.
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

/// Email settings of the legacy notifier.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EmailSettings {
    /// `--notification-email-from`.
    pub from: String,
    /// `--notification-email-to`.
    pub to: String,
    /// `--notification-email-server`.
    pub server: String,
    /// `--notification-email-server-port`.
    pub port: u16,
    /// `--notification-email-server-tls-skip-verify`.
    pub tls_skip_verify: bool,
    /// `--notification-email-server-user`.
    pub user: String,
    /// `--notification-email-server-password`.
    pub password: Option<Secret>,
    /// `--notification-email-subjecttag`.
    pub subject_tag: String,
    /// `--notification-email-delay` in seconds.
    pub delay_seconds: u64,
}

/// Slack settings of the legacy notifier.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SlackSettings {
    /// `--notification-slack-hook-url`.
    pub hook_url: Option<Secret>,
    /// `--notification-slack-identifier`.
    pub identifier: String,
    /// `--notification-slack-channel` (ignored, as in the original).
    pub channel: String,
    /// `--notification-slack-icon-emoji`.
    pub icon_emoji: String,
    /// `--notification-slack-icon-url`.
    pub icon_url: String,
}

/// Notifications.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NotificationSettings {
    /// `--notifications`.
    pub types: Vec<LegacyNotifier>,
    /// `--notification-url` (after files were read and `--porcelain` appended `logger://`).
    pub urls: Vec<Secret>,
    /// `--notifications-level`.
    pub level: Option<LogLevel>,
    /// `--notifications-delay` in seconds.
    pub delay_seconds: u64,
    /// `--notifications-hostname`.
    pub hostname: String,
    /// `--notification-template`.
    pub template: String,
    /// `--notification-report`.
    pub report: bool,
    /// `--notification-title-tag`.
    pub title_tag: String,
    /// `--notification-skip-title`.
    pub skip_title: bool,
    /// `--notification-log-stdout`.
    pub log_stdout: bool,
    /// Legacy email.
    pub email: EmailSettings,
    /// Legacy Slack.
    pub slack: SlackSettings,
    /// `--notification-msteams-hook`.
    pub msteams_hook: Option<Secret>,
    /// `--notification-msteams-data` (no effect, as in the original).
    pub msteams_data: bool,
    /// `--notification-gotify-url`.
    pub gotify_url: String,
    /// `--notification-gotify-token`.
    pub gotify_token: Option<Secret>,
    /// `--notification-gotify-tls-skip-verify` (no effect, as in the original).
    pub gotify_tls_skip_verify: bool,
}

/// Registry access.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RegistrySettings {
    /// `--registry-ca`.
    pub ca: Option<PathBuf>,
    /// `--registry-ca-validate`.
    pub ca_validate: bool,
    /// `--insecure-registry`.
    pub insecure: bool,
    /// `REPO_USER` (only when `REPO_PASS` is set too).
    pub repo_user: Option<String>,
    /// `REPO_PASS` (only when `REPO_USER` is set too).
    pub repo_pass: Option<Secret>,
    /// `DOCKER_CONFIG`.
    pub docker_config: Option<PathBuf>,
}

/// The effective configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Docker connection.
    pub docker: DockerSettings,
    /// Container selection.
    pub filter: FilterSettings,
    /// Session behaviour.
    pub update: UpdateSettings,
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
    /// Notifications.
    pub notifications: NotificationSettings,
    /// Registries.
    pub registry: RegistrySettings,
    /// Things worth a warning once logging is up (never fatal).
    pub warnings: Vec<String>,
    values: Values,
}

/// Every option's rendered value; `Debug` redacts the secret ones.
#[derive(Clone, Default)]
struct Values(BTreeMap<&'static str, (String, bool)>);

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
    pub fn resolve(cli: &Cli, env: &dyn Env) -> Result<Self, ConfigError> {
        Resolver::new(env).resolve(cli)
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

struct Raw {
    value: String,
    source: Source,
    spec: &'static FlagSpec,
}

impl Raw {
    fn origin(&self) -> String {
        match (self.source, self.spec.env) {
            (Source::Env, Some(env)) => format!("{env} (--{})", self.spec.long),
            _ => format!("--{}", self.spec.long),
        }
    }

    fn invalid(&self, expected: impl Into<String>) -> ConfigError {
        ConfigError::InvalidValue {
            origin: self.origin(),
            value: if self.spec.secret_file {
                "<redacted>".to_owned()
            } else {
                self.value.clone()
            },
            expected: expected.into(),
        }
    }
}

struct Resolver<'a> {
    env: &'a dyn Env,
    values: BTreeMap<&'static str, (String, bool)>,
    warnings: Vec<String>,
}

const BOOL_EXPECTED: &str =
    "expected true or false (also 1, t, T, TRUE, True, 0, f, F, FALSE, False)";

impl<'a> Resolver<'a> {
    fn new(env: &'a dyn Env) -> Self {
        Self {
            env,
            values: BTreeMap::new(),
            warnings: Vec::new(),
        }
    }

    fn env_var(&self, name: &str) -> Option<String> {
        self.env.var(name).filter(|v| !v.is_empty())
    }

    fn raw(&self, long: &'static str, cli: Option<&String>) -> Raw {
        let spec = spec(long);
        if let Some(value) = cli {
            return Raw {
                value: value.clone(),
                source: Source::Cli,
                spec,
            };
        }
        if let Some(value) = spec.env.and_then(|e| self.env_var(e)) {
            return Raw {
                value,
                source: Source::Env,
                spec,
            };
        }
        Raw {
            value: spec.default.to_owned(),
            source: Source::Default,
            spec,
        }
    }

    fn record(&mut self, long: &'static str, value: impl Into<String>) {
        let secret = spec(long).secret_file;
        self.values.insert(long, (value.into(), secret));
    }

    fn string(&mut self, long: &'static str, cli: Option<&String>) -> String {
        let raw = self.raw(long, cli);
        self.record(long, raw.value.clone());
        raw.value
    }

    fn string_with_source(&mut self, long: &'static str, cli: Option<&String>) -> Raw {
        let raw = self.raw(long, cli);
        self.record(long, raw.value.clone());
        raw
    }

    fn boolean(&mut self, long: &'static str, cli: Option<&String>) -> Result<bool, ConfigError> {
        let raw = self.raw(long, cli);
        // Go's `strconv.ParseBool`, as the original read flags, variables and labels.
        let value = watchtower_actions::label::parse_bool(&raw.value)
            .ok_or_else(|| raw.invalid(BOOL_EXPECTED))?;
        self.record(long, value.to_string());
        Ok(value)
    }

    fn unsigned(
        &mut self,
        long: &'static str,
        cli: Option<&String>,
        expected: &str,
    ) -> Result<u64, ConfigError> {
        let raw = self.raw(long, cli);
        let value: u64 = raw
            .value
            .trim()
            .parse()
            .map_err(|_| raw.invalid(expected))?;
        self.record(long, value.to_string());
        Ok(value)
    }

    fn port(&mut self, long: &'static str, cli: Option<&String>) -> Result<u16, ConfigError> {
        let raw = self.raw(long, cli);
        let value: u16 = raw
            .value
            .trim()
            .parse()
            .map_err(|_| raw.invalid("expected a port number from 0 to 65535"))?;
        self.record(long, value.to_string());
        Ok(value)
    }

    /// A secret scalar: read from a file when the value names one.
    fn secret(
        &mut self,
        long: &'static str,
        cli: Option<&String>,
    ) -> Result<Option<Secret>, ConfigError> {
        let raw = self.raw(long, cli);
        let value = if secret::names_a_file(&raw.value) {
            secret::read_scalar(raw.value.as_ref()).map_err(|e| ConfigError::SecretFile {
                origin: raw.origin(),
                path: e.path,
                source: e.source,
            })?
        } else {
            raw.value.clone()
        };
        self.record(long, value.clone());
        Ok((!value.is_empty()).then(|| Secret::new(value)))
    }

    /// A list option. `cli` values were already split on commas by clap; the variable is
    /// split by `split_env`.
    fn list(
        &mut self,
        long: &'static str,
        cli: &[String],
        split_env: fn(&str) -> Vec<String>,
    ) -> (Vec<String>, Source) {
        let spec = spec(long);
        let (values, source) = if cli.is_empty() {
            match spec.env.and_then(|e| self.env_var(e)) {
                Some(value) => (split_env(&value), Source::Env),
                None => (Vec::new(), Source::Default),
            }
        } else {
            (cli.to_vec(), Source::Cli)
        };
        let values: Vec<String> = values
            .into_iter()
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect();
        self.record(long, values.join(","));
        (values, source)
    }

    #[allow(clippy::too_many_lines)] // one straight walk through the flag table
    fn resolve(mut self, cli: &Cli) -> Result<Config, ConfigError> {
        let f = &cli.flags;

        // Docker.
        let host = self.string_with_source("host", f.host.as_ref());
        if !host.value.contains("://") {
            return Err(host.invalid(
                "expected a URL such as unix:///var/run/docker.sock or tcp://127.0.0.1:2375",
            ));
        }
        let tls_verify = self.boolean("tlsverify", f.tlsverify.as_ref())?;
        let api_version = self.string_with_source("api-version", f.api_version.as_ref());
        let api_version_value = api_version.value.trim().trim_start_matches('v').to_owned();
        let api_version = if api_version_value.eq_ignore_ascii_case("negotiate") {
            None
        } else {
            let valid = api_version_value.split_once('.').is_some_and(|(a, b)| {
                !a.is_empty()
                    && !b.is_empty()
                    && a.bytes().all(|c| c.is_ascii_digit())
                    && b.bytes().all(|c| c.is_ascii_digit())
            });
            if !valid {
                return Err(api_version.invalid("expected negotiate or a version such as 1.44"));
            }
            Some(api_version_value)
        };
        let docker = DockerSettings {
            host: host.value,
            tls_verify,
            api_version,
            cert_path: self.env_var("DOCKER_CERT_PATH").map(PathBuf::from),
        };

        // Scheduling: --interval / --schedule.
        let interval_raw = self.raw("interval", f.interval.as_ref());
        let interval: u64 = match interval_raw.value.trim().parse::<i64>() {
            Ok(v) if v >= 1 => v.unsigned_abs(),
            _ => {
                return Err(interval_raw.invalid("expected a whole number of seconds, at least 1"));
            }
        };
        let schedule_raw = self.string_with_source("schedule", f.schedule.as_ref());
        let default_interval: u64 = spec("interval").default.parse().expect("numeric default");
        let schedule = if schedule_raw.value.is_empty() {
            Schedule::from_interval(interval)
        } else {
            if interval != default_interval {
                return Err(ConfigError::IntervalWithSchedule {
                    interval,
                    schedule: schedule_raw.value,
                });
            }
            let parsed =
                Schedule::parse(&schedule_raw.value).map_err(|source| ConfigError::Schedule {
                    origin: schedule_raw.origin(),
                    source,
                })?;
            if parsed.next_after(&chrono::Local::now()).is_none() {
                return Err(ConfigError::Schedule {
                    origin: schedule_raw.origin(),
                    source: ScheduleError {
                        spec: schedule_raw.value,
                        reason: "it never fires".to_owned(),
                    },
                });
            }
            parsed
        };
        self.record("interval", interval.to_string());
        self.record("schedule", schedule.spec());

        // Session behaviour.
        let stop_timeout_raw = self.raw("stop-timeout", f.stop_timeout.as_ref());
        let stop_timeout = parse_stop_timeout(&stop_timeout_raw)?;
        self.record("stop-timeout", format_go_duration(stop_timeout));
        let run_once = self.boolean("run-once", f.run_once.as_ref())?;
        let monitor_only = self.boolean("monitor-only", f.monitor_only.as_ref())?;
        let no_pull = self.boolean("no-pull", f.no_pull.as_ref())?;
        let rolling_restart = self.boolean("rolling-restart", f.rolling_restart.as_ref())?;
        if rolling_restart && monitor_only {
            return Err(ConfigError::RollingRestartWithMonitorOnly);
        }
        if monitor_only && no_pull {
            self.warnings.push(
                "Using `WATCHTOWER_NO_PULL` and `WATCHTOWER_MONITOR_ONLY` simultaneously might \
                 lead to no action being taken at all. If this is intentional, you may safely \
                 ignore this message."
                    .to_owned(),
            );
        }
        let warn_raw = self.raw("warn-on-head-failure", f.warn_on_head_failure.as_ref());
        let warn_on_head_failure = match warn_raw.value.to_ascii_lowercase().as_str() {
            "always" => WarnOnHeadFailure::Always,
            "auto" | "" => WarnOnHeadFailure::Auto,
            "never" => WarnOnHeadFailure::Never,
            _ => return Err(warn_raw.invalid("expected always, auto or never")),
        };
        self.record(
            "warn-on-head-failure",
            match warn_on_head_failure {
                WarnOnHeadFailure::Always => "always",
                WarnOnHeadFailure::Auto => "auto",
                WarnOnHeadFailure::Never => "never",
            },
        );
        let update = UpdateSettings {
            stop_timeout,
            no_pull,
            no_restart: self.boolean("no-restart", f.no_restart.as_ref())?,
            cleanup: self.boolean("cleanup", f.cleanup.as_ref())?,
            remove_volumes: self.boolean("remove-volumes", f.remove_volumes.as_ref())?,
            monitor_only,
            include_restarting: self
                .boolean("include-restarting", f.include_restarting.as_ref())?,
            include_stopped: self.boolean("include-stopped", f.include_stopped.as_ref())?,
            revive_stopped: self.boolean("revive-stopped", f.revive_stopped.as_ref())?,
            lifecycle_hooks: self
                .boolean("enable-lifecycle-hooks", f.enable_lifecycle_hooks.as_ref())?,
            rolling_restart,
            label_take_precedence: self
                .boolean("label-take-precedence", f.label_take_precedence.as_ref())?,
            warn_on_head_failure,
        };

        // Filter.
        let (disable_containers, _) = self.list(
            "disable-containers",
            &f.disable_containers,
            split_commas_and_spaces,
        );
        let scope = self.string("scope", f.scope.as_ref());
        let filter = FilterSettings {
            names: cli.names.clone(),
            disable_containers,
            label_enable: self.boolean("label-enable", f.label_enable.as_ref())?,
            scope: (!scope.is_empty()).then_some(scope),
        };

        // Logging.
        let format_raw = self.raw("log-format", f.log_format.as_ref());
        let format = match format_raw.value.to_ascii_lowercase().as_str() {
            "auto" => LogFormat::Auto,
            "logfmt" => LogFormat::Logfmt,
            "pretty" => LogFormat::Pretty,
            "json" => LogFormat::Json,
            _ => return Err(format_raw.invalid("expected auto, logfmt, pretty or json")),
        };
        self.record("log-format", format_raw.value.to_ascii_lowercase());
        let level_raw = self.raw("log-level", f.log_level.as_ref());
        let mut level = LogLevel::parse(&level_raw.value).ok_or_else(|| {
            level_raw.invalid("expected panic, fatal, error, warn, info, debug or trace")
        })?;
        if self.boolean("debug", f.debug.as_ref())? {
            level = LogLevel::Debug;
        }
        if self.boolean("trace", f.trace.as_ref())? {
            level = LogLevel::Trace;
        }
        self.record("log-level", level.as_str());
        let no_color = if f.no_color.is_some() {
            self.boolean("no-color", f.no_color.as_ref())?
        } else {
            // https://no-color.org: set to anything non-empty disables colour.
            let set = self.env_var("NO_COLOR").is_some();
            self.record("no-color", set.to_string());
            set
        };
        let log = LogSettings {
            format,
            level,
            no_color,
        };

        // HTTP API.
        let http_host = self.string_with_source("http-api-host", f.http_api_host.as_ref());
        let host_ok = http_host.value.is_empty()
            || http_host.value == "localhost"
            || http_host
                .value
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .is_ok();
        if !host_ok {
            return Err(http_host.invalid(
                "expected an IP address such as 127.0.0.1 or ::1, localhost, or empty for every interface",
            ));
        }
        let http_api = HttpApiSettings {
            update: self.boolean("http-api-update", f.http_api_update.as_ref())?,
            metrics: self.boolean("http-api-metrics", f.http_api_metrics.as_ref())?,
            token: self.secret("http-api-token", f.http_api_token.as_ref())?,
            periodic_polls: self.boolean(
                "http-api-periodic-polls",
                f.http_api_periodic_polls.as_ref(),
            )?,
            host: http_host.value,
            port: self.port("http-api-port", f.http_api_port.as_ref())?,
        };
        if http_api.token.is_none() {
            if http_api.update {
                return Err(ConfigError::MissingApiToken {
                    endpoint: "--http-api-update",
                });
            }
            if http_api.metrics {
                return Err(ConfigError::MissingApiToken {
                    endpoint: "--http-api-metrics",
                });
            }
        }

        // Registries.
        let ca = self.string("registry-ca", f.registry_ca.as_ref());
        let registry_ca_validate =
            self.boolean("registry-ca-validate", f.registry_ca_validate.as_ref())?;
        let insecure = self.boolean("insecure-registry", f.insecure_registry.as_ref())?;
        if registry_ca_validate && ca.is_empty() {
            self.warnings.push(
                "--registry-ca-validate has nothing to check: no --registry-ca bundle is set"
                    .to_owned(),
            );
        }
        let repo_user = self.env_var("REPO_USER");
        let repo_pass = self.env_var("REPO_PASS");
        if repo_user.is_some() != repo_pass.is_some() {
            self.warnings.push(
                "only one of REPO_USER and REPO_PASS is set; both are needed, so neither is used"
                    .to_owned(),
            );
        }
        let (repo_user, repo_pass) = match (repo_user, repo_pass) {
            (Some(user), Some(pass)) => (Some(user), Some(Secret::new(pass))),
            _ => (None, None),
        };
        let registry = RegistrySettings {
            ca: (!ca.is_empty()).then(|| PathBuf::from(ca)),
            ca_validate: registry_ca_validate,
            insecure,
            repo_user,
            repo_pass,
            docker_config: self.env_var("DOCKER_CONFIG").map(PathBuf::from),
        };

        // Notifications, then the --porcelain alias bundle on top of them.
        let mut notifications = self.notifications(cli)?;
        let porcelain_raw = self.string_with_source("porcelain", f.porcelain.as_ref());
        let porcelain = match porcelain_raw.value.as_str() {
            "" => false,
            "v1" => true,
            _ => return Err(porcelain_raw.invalid("the only supported version is v1")),
        };
        if porcelain {
            notifications.urls.push(Secret::new("logger://"));
            let urls: Vec<&str> = notifications.urls.iter().map(Secret::expose).collect();
            let urls = urls.join(",");
            self.record("notification-url", urls);
            if self
                .raw(
                    "notification-log-stdout",
                    f.notification_log_stdout.as_ref(),
                )
                .source
                == Source::Default
            {
                notifications.log_stdout = true;
                self.record("notification-log-stdout", "true");
            }
            if self
                .raw("notification-report", f.notification_report.as_ref())
                .source
                == Source::Default
            {
                notifications.report = true;
                self.record("notification-report", "true");
            }
            if self
                .raw("notification-template", f.notification_template.as_ref())
                .source
                == Source::Default
            {
                "porcelain.v1.summary-no-log".clone_into(&mut notifications.template);
                self.record("notification-template", "porcelain.v1.summary-no-log");
            }
        }

        let health_check = self.boolean("health-check", f.health_check.as_ref())?;
        let no_startup_message =
            self.boolean("no-startup-message", f.no_startup_message.as_ref())?;

        Ok(Config {
            docker,
            filter,
            update,
            schedule,
            run_once,
            no_startup_message,
            health_check,
            porcelain,
            log,
            http_api,
            notifications,
            registry,
            warnings: self.warnings,
            values: Values(self.values),
        })
    }

    #[allow(clippy::too_many_lines)] // one straight walk through the notification flags
    fn notifications(&mut self, cli: &Cli) -> Result<NotificationSettings, ConfigError> {
        let f = &cli.flags;
        let (type_names, type_source) = self.list(
            "notifications",
            &f.notifications,
            split_whitespace_and_commas,
        );
        let mut types = Vec::new();
        for name in &type_names {
            let kind = match name.as_str() {
                "email" => LegacyNotifier::Email,
                "slack" => LegacyNotifier::Slack,
                "msteams" => LegacyNotifier::MsTeams,
                "gotify" => LegacyNotifier::Gotify,
                "shoutrrr" => LegacyNotifier::Shoutrrr,
                other => {
                    let origin = match type_source {
                        Source::Env => "WATCHTOWER_NOTIFICATIONS (--notifications)",
                        _ => "--notifications",
                    };
                    return Err(ConfigError::InvalidValue {
                        origin: origin.to_owned(),
                        value: other.to_owned(),
                        expected: "expected email, slack, msteams, gotify or shoutrrr".to_owned(),
                    });
                }
            };
            if !types.contains(&kind) {
                types.push(kind);
            }
        }

        let (raw_urls, url_source) =
            self.list("notification-url", &f.notification_url, split_whitespace);
        let origin = match url_source {
            Source::Env => "WATCHTOWER_NOTIFICATION_URL (--notification-url)",
            _ => "--notification-url",
        };
        let mut urls = Vec::new();
        for value in raw_urls {
            if secret::names_a_file(&value) {
                let lines =
                    secret::read_lines(value.as_ref()).map_err(|e| ConfigError::SecretFile {
                        origin: origin.to_owned(),
                        path: e.path,
                        source: e.source,
                    })?;
                urls.extend(lines.into_iter().map(Secret::new));
            } else {
                urls.push(Secret::new(value));
            }
        }
        let joined: Vec<&str> = urls.iter().map(Secret::expose).collect();
        let joined = joined.join(",");
        self.record("notification-url", joined);

        let level_raw = self.raw("notifications-level", f.notifications_level.as_ref());
        let level = LogLevel::parse(&level_raw.value).ok_or_else(|| {
            level_raw.invalid("expected panic, fatal, error, warn, info, debug or trace")
        })?;
        self.record("notifications-level", level.as_str());

        let seconds = "expected a whole number of seconds, 0 or more";
        let email = EmailSettings {
            from: self.string(
                "notification-email-from",
                f.notification_email_from.as_ref(),
            ),
            to: self.string("notification-email-to", f.notification_email_to.as_ref()),
            server: self.string(
                "notification-email-server",
                f.notification_email_server.as_ref(),
            ),
            port: self.port(
                "notification-email-server-port",
                f.notification_email_server_port.as_ref(),
            )?,
            tls_skip_verify: self.boolean(
                "notification-email-server-tls-skip-verify",
                f.notification_email_server_tls_skip_verify.as_ref(),
            )?,
            user: self.string(
                "notification-email-server-user",
                f.notification_email_server_user.as_ref(),
            ),
            password: self.secret(
                "notification-email-server-password",
                f.notification_email_server_password.as_ref(),
            )?,
            subject_tag: self.string(
                "notification-email-subjecttag",
                f.notification_email_subjecttag.as_ref(),
            ),
            delay_seconds: self.unsigned(
                "notification-email-delay",
                f.notification_email_delay.as_ref(),
                seconds,
            )?,
        };
        let slack = SlackSettings {
            hook_url: self.secret(
                "notification-slack-hook-url",
                f.notification_slack_hook_url.as_ref(),
            )?,
            identifier: self.string(
                "notification-slack-identifier",
                f.notification_slack_identifier.as_ref(),
            ),
            channel: self.string(
                "notification-slack-channel",
                f.notification_slack_channel.as_ref(),
            ),
            icon_emoji: self.string(
                "notification-slack-icon-emoji",
                f.notification_slack_icon_emoji.as_ref(),
            ),
            icon_url: self.string(
                "notification-slack-icon-url",
                f.notification_slack_icon_url.as_ref(),
            ),
        };
        let settings = NotificationSettings {
            types,
            urls,
            level: Some(level),
            delay_seconds: self.unsigned(
                "notifications-delay",
                f.notifications_delay.as_ref(),
                seconds,
            )?,
            hostname: self.string("notifications-hostname", f.notifications_hostname.as_ref()),
            template: self.string("notification-template", f.notification_template.as_ref()),
            report: self.boolean("notification-report", f.notification_report.as_ref())?,
            title_tag: self.string("notification-title-tag", f.notification_title_tag.as_ref()),
            skip_title: self.boolean(
                "notification-skip-title",
                f.notification_skip_title.as_ref(),
            )?,
            log_stdout: self.boolean(
                "notification-log-stdout",
                f.notification_log_stdout.as_ref(),
            )?,
            email,
            slack,
            msteams_hook: self.secret(
                "notification-msteams-hook",
                f.notification_msteams_hook.as_ref(),
            )?,
            msteams_data: self.boolean(
                "notification-msteams-data",
                f.notification_msteams_data.as_ref(),
            )?,
            gotify_url: self.string(
                "notification-gotify-url",
                f.notification_gotify_url.as_ref(),
            ),
            gotify_token: self.secret(
                "notification-gotify-token",
                f.notification_gotify_token.as_ref(),
            )?,
            gotify_tls_skip_verify: self.boolean(
                "notification-gotify-tls-skip-verify",
                f.notification_gotify_tls_skip_verify.as_ref(),
            )?,
        };
        check_legacy_notifiers(&settings)?;
        Ok(settings)
    }
}

/// What each legacy notifier needs to be usable, checked at startup.
fn check_legacy_notifiers(settings: &NotificationSettings) -> Result<(), ConfigError> {
    for kind in &settings.types {
        match kind {
            LegacyNotifier::Email => {
                for (value, flag) in [
                    (&settings.email.server, "--notification-email-server"),
                    (&settings.email.from, "--notification-email-from"),
                    (&settings.email.to, "--notification-email-to"),
                ] {
                    if value.is_empty() {
                        return Err(ConfigError::NotificationSetting {
                            kind: "email",
                            needs: flag.to_owned(),
                        });
                    }
                }
            }
            LegacyNotifier::Slack => {
                if settings.slack.hook_url.is_none() {
                    return Err(ConfigError::NotificationSetting {
                        kind: "slack",
                        needs: "--notification-slack-hook-url".to_owned(),
                    });
                }
            }
            LegacyNotifier::MsTeams => {
                if settings.msteams_hook.is_none() {
                    return Err(ConfigError::NotificationSetting {
                        kind: "msteams",
                        needs: "--notification-msteams-hook".to_owned(),
                    });
                }
            }
            LegacyNotifier::Gotify => {
                let url = &settings.gotify_url;
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(ConfigError::NotificationSetting {
                        kind: "gotify",
                        needs: "--notification-gotify-url starting with http:// or https://"
                            .to_owned(),
                    });
                }
                if settings.gotify_token.is_none() {
                    return Err(ConfigError::NotificationSetting {
                        kind: "gotify",
                        needs: "--notification-gotify-token".to_owned(),
                    });
                }
            }
            LegacyNotifier::Shoutrrr => {}
        }
    }
    Ok(())
}

/// `--stop-timeout`: a Go duration; a bare number is taken as seconds (the original read a
/// bare number in the variable as nanoseconds, and refused it on the command line).
fn parse_stop_timeout(raw: &Raw) -> Result<Duration, ConfigError> {
    let text = raw.value.trim();
    if let Ok(seconds) = text.parse::<i64>() {
        if seconds < 0 {
            return Err(raw.invalid("must not be negative"));
        }
        return Ok(Duration::from_secs(seconds.unsigned_abs()));
    }
    let parsed = parse_go_duration(text)
        .map_err(|_| raw.invalid("expected a duration such as 10s, 1m30s or 500ms"))?;
    if parsed.negative {
        return Err(raw.invalid("must not be negative"));
    }
    Ok(parsed.magnitude)
}

/// `WATCHTOWER_DISABLE_CONTAINERS` is split on `[, ]+`.
fn split_commas_and_spaces(value: &str) -> Vec<String> {
    value
        .split([',', ' '])
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `WATCHTOWER_NOTIFICATION_URL` is split on whitespace only (URLs may hold commas).
fn split_whitespace(value: &str) -> Vec<String> {
    value.split_whitespace().map(str::to_owned).collect()
}

/// `WATCHTOWER_NOTIFICATIONS` is split on whitespace like the original; commas are accepted
/// too (the original refused `email,slack` there as one unknown type).
fn split_whitespace_and_commas(value: &str) -> Vec<String> {
    value
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}
