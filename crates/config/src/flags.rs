//! The flag table: every option once, with its command-line declaration (long and short
//! names, help, value syntax, for clap) and where else its value may come from (its
//! environment variable, its default, whether a value naming a file is read from it).
//!
//! [`crate::Config::resolve`] takes each option as: the flag if given, else the variable if
//! set and non-empty, else the default; the section of `resolve/` for the library the option
//! configures sets that library's field from it. `--help`, completions, the man page and
//! `docs/flags.md` (checked by a test) are written from this table.

/// One option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlagSpec {
    /// Long flag name without the dashes.
    pub long: &'static str,
    /// Environment variable, if the option has one.
    pub env: Option<&'static str>,
    /// Default, as shown in `--help` and as [`crate::Config::value`] renders it.
    pub default: &'static str,
    /// Whether a value naming an existing file is replaced by the file's contents.
    pub secret_file: bool,
    /// A boolean: `--flag`, `--flag=true` or `--flag=false` (never `--flag false`), read like
    /// Go's `strconv.ParseBool`, default `false`.
    pub boolean: bool,
}

impl FlagSpec {
    /// clap's id for the flag (the [`Flags`] field name).
    pub fn id(&self) -> String {
        self.long.replace('-', "_")
    }
}

/// An option with a variable and a default.
const fn flag(long: &'static str, env: &'static str, default: &'static str) -> FlagSpec {
    FlagSpec {
        long,
        env: Some(env),
        default,
        secret_file: false,
        boolean: false,
    }
}

/// A boolean option with a variable, `false` unless given.
const fn boolean(long: &'static str, env: &'static str) -> FlagSpec {
    FlagSpec {
        boolean: true,
        ..flag(long, env, "false")
    }
}

/// A secret option: no default, and a value naming a file is read from the file.
const fn secret(long: &'static str, env: &'static str) -> FlagSpec {
    FlagSpec {
        long,
        env: Some(env),
        default: "",
        secret_file: true,
        boolean: false,
    }
}

/// An option of the command line only.
const fn no_env(long: &'static str, default: &'static str) -> FlagSpec {
    FlagSpec {
        long,
        env: None,
        default,
        secret_file: false,
        boolean: false,
    }
}

/// Declares [`Flags`] (for clap) and [`FLAGS`] (variables and defaults) from one list, so an
/// option is written once: `doc; #[arg(..)] field: type = spec;`.
macro_rules! flag_table {
    ($($(#[$attr:meta])* $field:ident: $ty:ty = $spec:expr;)*) => {
        /// Every option, as given on the command line (`None` when absent).
        #[derive(Debug, clap::Args, Default)]
        #[allow(clippy::struct_field_names)] // the field names are the flag names
        pub struct Flags {
            $($(#[$attr])* pub $field: $ty,)*
        }

        /// Every option of the binary, in the order of [`Flags`] (and of `--help`).
        pub const FLAGS: &[FlagSpec] = &[$($spec),*];
    };
}

// Boolean flags (`boolean(..)`) take an optional `=true`/`=false` like the original's
// (`--cleanup=false`); `crate::cli::command` gives them that syntax.
flag_table! {
    // ---- Docker connection
    /// Docker daemon to connect to (unix://, tcp://, http:// or https://).
    #[arg(long, short = 'H', value_name = "URL", help_heading = "Docker")]
    host: Option<String> = flag("host", "DOCKER_HOST", "unix:///var/run/docker.sock");
    /// Use TLS and verify the daemon's certificate (certificates from `DOCKER_CERT_PATH`).
    #[arg(long, short = 'v', help_heading = "Docker")]
    tlsverify: Option<String> = boolean("tlsverify", "DOCKER_TLS_VERIFY");
    /// Docker API version to use; by default the highest one both sides speak is negotiated.
    #[arg(long, short = 'a', value_name = "VERSION", help_heading = "Docker")]
    api_version: Option<String> = flag("api-version", "DOCKER_API_VERSION", "negotiate");

    // ---- Scheduling and behaviour
    /// Seconds between update sessions. Cannot be combined with --schedule.
    #[arg(long, short = 'i', value_name = "SECONDS", allow_hyphen_values = true)]
    interval: Option<String> = flag("interval", "WATCHTOWER_POLL_INTERVAL", "86400");
    /// Cron spec (6 fields, seconds first) saying when sessions run.
    #[arg(long, short = 's', value_name = "SPEC")]
    schedule: Option<String> = flag("schedule", "WATCHTOWER_SCHEDULE", "");
    /// Run one session now, then exit.
    #[arg(long, short = 'R')]
    run_once: Option<String> = boolean("run-once", "WATCHTOWER_RUN_ONCE");
    /// How long a container gets to stop before it is killed (e.g. 10s, 1m; a bare number is seconds).
    #[arg(long, short = 't', value_name = "DURATION", allow_hyphen_values = true)]
    stop_timeout: Option<String> = flag("stop-timeout", "WATCHTOWER_TIMEOUT", "10s");
    /// Never pull images; only compare with images already on the host.
    #[arg(long)]
    no_pull: Option<String> = boolean("no-pull", "WATCHTOWER_NO_PULL");
    /// Remove stale containers without starting replacements (for an outside supervisor).
    #[arg(long)]
    no_restart: Option<String> = boolean("no-restart", "WATCHTOWER_NO_RESTART");
    /// Log the startup message but do not send it as a notification.
    #[arg(long)]
    no_startup_message: Option<String> = boolean("no-startup-message", "WATCHTOWER_NO_STARTUP_MESSAGE");
    /// Remove the old image after a container was updated.
    #[arg(long, short = 'c')]
    cleanup: Option<String> = boolean("cleanup", "WATCHTOWER_CLEANUP");
    /// Also remove the old container's anonymous volumes.
    #[arg(long)]
    remove_volumes: Option<String> = boolean("remove-volumes", "WATCHTOWER_REMOVE_VOLUMES");
    /// Watch only containers labelled com.centurylinklabs.watchtower.enable=true.
    #[arg(long, short = 'e')]
    label_enable: Option<String> = boolean("label-enable", "WATCHTOWER_LABEL_ENABLE");
    /// Container names never to watch (comma-separated, repeatable).
    #[arg(long, short = 'x', value_name = "NAMES", value_delimiter = ',', action = clap::ArgAction::Append)]
    disable_containers: Vec<String> = flag("disable-containers", "WATCHTOWER_DISABLE_CONTAINERS", "");
    /// Check and report stale containers but never touch them.
    #[arg(long, short = 'm')]
    monitor_only: Option<String> = boolean("monitor-only", "WATCHTOWER_MONITOR_ONLY");
    /// Also watch containers that are restarting.
    #[arg(long)]
    include_restarting: Option<String> = boolean("include-restarting", "WATCHTOWER_INCLUDE_RESTARTING");
    /// Also watch created and exited containers.
    #[arg(long, short = 'S')]
    include_stopped: Option<String> = boolean("include-stopped", "WATCHTOWER_INCLUDE_STOPPED");
    /// Start updated containers even when the old one was not running.
    #[arg(long)]
    revive_stopped: Option<String> = boolean("revive-stopped", "WATCHTOWER_REVIVE_STOPPED");
    /// Run the lifecycle hook commands given in container labels.
    #[arg(long)]
    enable_lifecycle_hooks: Option<String> = boolean("enable-lifecycle-hooks", "WATCHTOWER_LIFECYCLE_HOOKS");
    /// Update one container at a time instead of stopping all stale ones first.
    #[arg(long)]
    rolling_restart: Option<String> = boolean("rolling-restart", "WATCHTOWER_ROLLING_RESTART");
    /// Roll back a new container that does not become healthy (or, without a healthcheck, keep running) after it starts.
    #[arg(long)]
    health_gate: Option<String> = boolean("health-gate", "WATCHTOWER_HEALTH_GATE");
    /// With --health-gate: how long a new container with a healthcheck may take to become healthy.
    #[arg(long, value_name = "DURATION")]
    health_gate_timeout: Option<String> = flag("health-gate-timeout", "WATCHTOWER_HEALTH_GATE_TIMEOUT", "2m");
    /// With --health-gate: how long a new container without a healthcheck must keep running, with no restart.
    #[arg(long, value_name = "DURATION")]
    health_gate_settle: Option<String> = flag("health-gate-settle", "WATCHTOWER_HEALTH_GATE_SETTLE", "10s");
    /// stop-first (the old container stops before the new one starts) or start-first (zero downtime where two can run at once).
    #[arg(long, value_name = "ORDER")]
    update_order: Option<String> = flag("update-order", "WATCHTOWER_UPDATE_ORDER", "stop-first");
    /// Let the monitor-only and no-pull labels override the global flags both ways.
    #[arg(long)]
    label_take_precedence: Option<String> = boolean("label-take-precedence", "WATCHTOWER_LABEL_TAKE_PRECEDENCE");
    /// Watch only containers in this scope (`none`: only containers without a scope).
    #[arg(long, value_name = "SCOPE")]
    scope: Option<String> = flag("scope", "WATCHTOWER_SCOPE", "");
    /// Exit 0 at once (for the image's HEALTHCHECK); refuses to run as PID 1.
    #[arg(long)]
    health_check: Option<String> = FlagSpec { boolean: true, ..no_env("health-check", "false") };
    /// When a failed registry check is logged as a warning: always, auto or never.
    #[arg(long, value_name = "WHEN")]
    warn_on_head_failure: Option<String> = flag("warn-on-head-failure", "WATCHTOWER_WARN_ON_HEAD_FAILURE", "auto");
    /// Print each session's result to stdout in a stable format; only `v1` exists.
    #[arg(long, short = 'P', value_name = "VERSION")]
    porcelain: Option<String> = flag("porcelain", "WATCHTOWER_PORCELAIN", "");

    // ---- Logging
    /// Log format: auto, logfmt, pretty or json.
    #[arg(long, short = 'l', value_name = "FORMAT", help_heading = "Logging")]
    log_format: Option<String> = flag("log-format", "WATCHTOWER_LOG_FORMAT", "auto");
    /// Most verbose level logged: panic, fatal, error, warn, info, debug or trace.
    #[arg(long, value_name = "LEVEL", help_heading = "Logging")]
    log_level: Option<String> = flag("log-level", "WATCHTOWER_LOG_LEVEL", "info");
    /// Same as --log-level debug.
    #[arg(long, short = 'd', help_heading = "Logging")]
    debug: Option<String> = boolean("debug", "WATCHTOWER_DEBUG");
    /// Same as --log-level trace (credentials are never logged, at any level).
    #[arg(long, help_heading = "Logging")]
    trace: Option<String> = boolean("trace", "WATCHTOWER_TRACE");
    /// No ANSI colours in the log (also when `NO_COLOR` is set to anything).
    #[arg(long, help_heading = "Logging")]
    no_color: Option<String> = boolean("no-color", "NO_COLOR");

    // ---- HTTP API
    /// Enable POST /v1/update; scheduled sessions stop unless --http-api-periodic-polls.
    #[arg(long, help_heading = "HTTP API")]
    http_api_update: Option<String> = boolean("http-api-update", "WATCHTOWER_HTTP_API_UPDATE");
    /// Enable GET /v1/metrics (Prometheus).
    #[arg(long, help_heading = "HTTP API")]
    http_api_metrics: Option<String> = boolean("http-api-metrics", "WATCHTOWER_HTTP_API_METRICS");
    /// Bearer token the API requires (or a file holding it).
    #[arg(long, value_name = "TOKEN", help_heading = "HTTP API")]
    http_api_token: Option<String> = secret("http-api-token", "WATCHTOWER_HTTP_API_TOKEN");
    /// Keep scheduled sessions when the update API is on.
    #[arg(long, help_heading = "HTTP API")]
    http_api_periodic_polls: Option<String> = boolean("http-api-periodic-polls", "WATCHTOWER_HTTP_API_PERIODIC_POLLS");
    /// Address the API listens on (empty: every interface).
    #[arg(long, value_name = "ADDRESS", help_heading = "HTTP API")]
    http_api_host: Option<String> = flag("http-api-host", "WATCHTOWER_HTTP_API_HOST", "");
    /// Port the API listens on.
    #[arg(long, value_name = "PORT", help_heading = "HTTP API")]
    http_api_port: Option<String> = flag("http-api-port", "WATCHTOWER_HTTP_API_PORT", "8080");

    // ---- Registries
    /// PEM bundle of extra CA certificates trusted for registry TLS.
    #[arg(long, value_name = "FILE", help_heading = "Registries")]
    registry_ca: Option<String> = flag("registry-ca", "WATCHTOWER_REGISTRY_CA", "");
    /// Check the --registry-ca bundle at startup and refuse to start when it is unusable.
    #[arg(long, help_heading = "Registries")]
    registry_ca_validate: Option<String> = boolean("registry-ca-validate", "WATCHTOWER_REGISTRY_CA_VALIDATE");
    /// Do not verify registry TLS certificates and allow plain HTTP (testing only).
    #[arg(long, help_heading = "Registries")]
    insecure_registry: Option<String> = boolean("insecure-registry", "WATCHTOWER_INSECURE_REGISTRY");

    // ---- Notifications
    /// Legacy notification types: email, slack, msteams, gotify, shoutrrr (comma-separated).
    #[arg(long, short = 'n', value_name = "TYPES", value_delimiter = ',', action = clap::ArgAction::Append, help_heading = "Notifications")]
    notifications: Vec<String> = flag("notifications", "WATCHTOWER_NOTIFICATIONS", "");
    /// Notification service URL (shoutrrr syntax); repeat for several, or name a file of URLs.
    #[arg(long, value_name = "URL", action = clap::ArgAction::Append, help_heading = "Notifications")]
    notification_url: Vec<String> = secret("notification-url", "WATCHTOWER_NOTIFICATION_URL");
    /// Most verbose log level that is sent: panic, fatal, error, warn, info, debug or trace.
    #[arg(long, value_name = "LEVEL", help_heading = "Notifications")]
    notifications_level: Option<String> = flag("notifications-level", "WATCHTOWER_NOTIFICATIONS_LEVEL", "info");
    /// Seconds to wait before sending each notification.
    #[arg(
        long,
        value_name = "SECONDS",
        help_heading = "Notifications",
        allow_hyphen_values = true
    )]
    notifications_delay: Option<String> = flag("notifications-delay", "WATCHTOWER_NOTIFICATIONS_DELAY", "0");
    /// Host name shown in notification titles (default: this machine's).
    #[arg(long, value_name = "NAME", help_heading = "Notifications")]
    notifications_hostname: Option<String> = flag("notifications-hostname", "WATCHTOWER_NOTIFICATIONS_HOSTNAME", "");
    /// Notification template (Go text/template syntax) or the name of a built-in one.
    #[arg(long, value_name = "TEMPLATE", help_heading = "Notifications")]
    notification_template: Option<String> = flag("notification-template", "WATCHTOWER_NOTIFICATION_TEMPLATE", "");
    /// Give the template the session report instead of the log lines.
    #[arg(long, help_heading = "Notifications")]
    notification_report: Option<String> = boolean("notification-report", "WATCHTOWER_NOTIFICATION_REPORT");
    /// Prefix for notification titles, shown as `[tag] `.
    #[arg(long, value_name = "TAG", help_heading = "Notifications")]
    notification_title_tag: Option<String> = flag("notification-title-tag", "WATCHTOWER_NOTIFICATION_TITLE_TAG", "");
    /// Send notifications without a title.
    #[arg(long, help_heading = "Notifications")]
    notification_skip_title: Option<String> = boolean("notification-skip-title", "WATCHTOWER_NOTIFICATION_SKIP_TITLE");
    /// The logger:// service writes to stdout instead of the log.
    #[arg(long, help_heading = "Notifications")]
    notification_log_stdout: Option<String> = boolean("notification-log-stdout", "WATCHTOWER_NOTIFICATION_LOG_STDOUT");
    /// Legacy email: sender address.
    #[arg(long, value_name = "ADDRESS", help_heading = "Notifications")]
    notification_email_from: Option<String> = flag("notification-email-from", "WATCHTOWER_NOTIFICATION_EMAIL_FROM", "");
    /// Legacy email: recipient address.
    #[arg(long, value_name = "ADDRESS", help_heading = "Notifications")]
    notification_email_to: Option<String> = flag("notification-email-to", "WATCHTOWER_NOTIFICATION_EMAIL_TO", "");
    /// Legacy email: seconds to wait before sending (overrides --notifications-delay).
    #[arg(
        long,
        value_name = "SECONDS",
        help_heading = "Notifications",
        allow_hyphen_values = true
    )]
    notification_email_delay: Option<String> = flag("notification-email-delay", "WATCHTOWER_NOTIFICATION_EMAIL_DELAY", "0");
    /// Legacy email: SMTP server.
    #[arg(long, value_name = "HOST", help_heading = "Notifications")]
    notification_email_server: Option<String> = flag("notification-email-server", "WATCHTOWER_NOTIFICATION_EMAIL_SERVER", "");
    /// Legacy email: SMTP port.
    #[arg(long, value_name = "PORT", help_heading = "Notifications")]
    notification_email_server_port: Option<String> = flag("notification-email-server-port", "WATCHTOWER_NOTIFICATION_EMAIL_SERVER_PORT", "25");
    /// Legacy email: send without TLS (the original's meaning of this flag).
    #[arg(long, help_heading = "Notifications")]
    notification_email_server_tls_skip_verify: Option<String> = boolean("notification-email-server-tls-skip-verify", "WATCHTOWER_NOTIFICATION_EMAIL_SERVER_TLS_SKIP_VERIFY");
    /// Legacy email: SMTP user.
    #[arg(long, value_name = "USER", help_heading = "Notifications")]
    notification_email_server_user: Option<String> = flag("notification-email-server-user", "WATCHTOWER_NOTIFICATION_EMAIL_SERVER_USER", "");
    /// Legacy email: SMTP password (or a file holding it).
    #[arg(long, value_name = "PASSWORD", help_heading = "Notifications")]
    notification_email_server_password: Option<String> = secret("notification-email-server-password", "WATCHTOWER_NOTIFICATION_EMAIL_SERVER_PASSWORD");
    /// Legacy email: subject prefix (the title tag of every service when none is set).
    #[arg(long, value_name = "TAG", help_heading = "Notifications")]
    notification_email_subjecttag: Option<String> = flag("notification-email-subjecttag", "WATCHTOWER_NOTIFICATION_EMAIL_SUBJECTTAG", "");
    /// Legacy Slack/Discord: webhook URL (or a file holding it).
    #[arg(long, value_name = "URL", help_heading = "Notifications")]
    notification_slack_hook_url: Option<String> = secret("notification-slack-hook-url", "WATCHTOWER_NOTIFICATION_SLACK_HOOK_URL");
    /// Legacy Slack: bot name.
    #[arg(long, value_name = "NAME", help_heading = "Notifications")]
    notification_slack_identifier: Option<String> = flag("notification-slack-identifier", "WATCHTOWER_NOTIFICATION_SLACK_IDENTIFIER", "watchtower");
    /// Legacy Slack: channel (accepted; the webhook's own channel is used, as in the original).
    #[arg(long, value_name = "CHANNEL", help_heading = "Notifications")]
    notification_slack_channel: Option<String> = flag("notification-slack-channel", "WATCHTOWER_NOTIFICATION_SLACK_CHANNEL", "");
    /// Legacy Slack: icon emoji.
    #[arg(long, value_name = "EMOJI", help_heading = "Notifications")]
    notification_slack_icon_emoji: Option<String> = flag("notification-slack-icon-emoji", "WATCHTOWER_NOTIFICATION_SLACK_ICON_EMOJI", "");
    /// Legacy Slack/Discord: icon URL.
    #[arg(long, value_name = "URL", help_heading = "Notifications")]
    notification_slack_icon_url: Option<String> = flag("notification-slack-icon-url", "WATCHTOWER_NOTIFICATION_SLACK_ICON_URL", "");
    /// Legacy Microsoft Teams: webhook URL (or a file holding it).
    #[arg(long, value_name = "URL", help_heading = "Notifications")]
    notification_msteams_hook: Option<String> = secret("notification-msteams-hook", "WATCHTOWER_NOTIFICATION_MSTEAMS_HOOK_URL");
    /// Legacy Microsoft Teams: accepted for compatibility, without effect (as in the original).
    #[arg(long, help_heading = "Notifications")]
    notification_msteams_data: Option<String> = boolean("notification-msteams-data", "WATCHTOWER_NOTIFICATION_MSTEAMS_USE_LOG_DATA");
    /// Legacy Gotify: server URL (http:// or https://).
    #[arg(long, value_name = "URL", help_heading = "Notifications")]
    notification_gotify_url: Option<String> = flag("notification-gotify-url", "WATCHTOWER_NOTIFICATION_GOTIFY_URL", "");
    /// Legacy Gotify: application token (or a file holding it).
    #[arg(long, value_name = "TOKEN", help_heading = "Notifications")]
    notification_gotify_token: Option<String> = secret("notification-gotify-token", "WATCHTOWER_NOTIFICATION_GOTIFY_TOKEN");
    /// Legacy Gotify: accepted for compatibility, without effect (as in the original).
    #[arg(long, help_heading = "Notifications")]
    notification_gotify_tls_skip_verify: Option<String> = boolean("notification-gotify-tls-skip-verify", "WATCHTOWER_NOTIFICATION_GOTIFY_TLS_SKIP_VERIFY");
}

/// Settings read only from the environment.
pub const ENV_ONLY: &[(&str, &str)] = &[
    (
        "REPO_USER",
        "registry user for every registry (with REPO_PASS; both must be set)",
    ),
    ("REPO_PASS", "registry password for every registry"),
    (
        "DOCKER_CONFIG",
        "directory holding config.json with registry credentials (default /)",
    ),
    (
        "DOCKER_CERT_PATH",
        "directory with ca.pem, cert.pem and key.pem for --tlsverify",
    ),
    ("TZ", "time zone of --schedule and of log timestamps"),
];

/// Looks an option up by its long name.
pub fn spec(long: &str) -> &'static FlagSpec {
    FLAGS
        .iter()
        .find(|f| f.long == long)
        .unwrap_or_else(|| panic!("--{long} is not in the flag table"))
}

#[cfg(test)]
mod tests {
    use clap::Args as _;

    use super::*;

    #[test]
    fn every_row_names_its_own_field() {
        let cmd = Flags::augment_args(clap::Command::new("t"));
        for spec in FLAGS {
            let arg = cmd
                .get_arguments()
                .find(|a| a.get_id() == spec.id().as_str())
                .unwrap_or_else(|| panic!("--{} has no field", spec.long));
            assert_eq!(arg.get_long(), Some(spec.long));
        }
        assert_eq!(cmd.get_arguments().count(), FLAGS.len());
    }
}
