//! The one table of every option: its long name, its environment variable and its default.
//!
//! The command line ([`crate::cli`]) declares the flags; this table says where else a value
//! may come from. [`crate::Config`] resolves each option as: the flag if given, else the
//! variable if set and non-empty, else the default. `docs/flags.md` is written from it.

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
}

impl FlagSpec {
    /// clap's id for the flag (the derive field name).
    pub fn id(&self) -> String {
        self.long.replace('-', "_")
    }
}

const fn flag(long: &'static str, env: &'static str, default: &'static str) -> FlagSpec {
    FlagSpec {
        long,
        env: Some(env),
        default,
        secret_file: false,
    }
}

const fn secret(long: &'static str, env: &'static str) -> FlagSpec {
    FlagSpec {
        long,
        env: Some(env),
        default: "",
        secret_file: true,
    }
}

/// Every option of the binary.
pub const FLAGS: &[FlagSpec] = &[
    // Docker connection.
    flag("host", "DOCKER_HOST", "unix:///var/run/docker.sock"),
    flag("tlsverify", "DOCKER_TLS_VERIFY", "false"),
    flag("api-version", "DOCKER_API_VERSION", "negotiate"),
    // Behaviour.
    flag("interval", "WATCHTOWER_POLL_INTERVAL", "86400"),
    flag("schedule", "WATCHTOWER_SCHEDULE", ""),
    flag("stop-timeout", "WATCHTOWER_TIMEOUT", "10s"),
    flag("no-pull", "WATCHTOWER_NO_PULL", "false"),
    flag("no-restart", "WATCHTOWER_NO_RESTART", "false"),
    flag(
        "no-startup-message",
        "WATCHTOWER_NO_STARTUP_MESSAGE",
        "false",
    ),
    flag("cleanup", "WATCHTOWER_CLEANUP", "false"),
    flag("remove-volumes", "WATCHTOWER_REMOVE_VOLUMES", "false"),
    flag("label-enable", "WATCHTOWER_LABEL_ENABLE", "false"),
    flag("disable-containers", "WATCHTOWER_DISABLE_CONTAINERS", ""),
    flag("log-format", "WATCHTOWER_LOG_FORMAT", "auto"),
    flag("debug", "WATCHTOWER_DEBUG", "false"),
    flag("trace", "WATCHTOWER_TRACE", "false"),
    flag("monitor-only", "WATCHTOWER_MONITOR_ONLY", "false"),
    flag("run-once", "WATCHTOWER_RUN_ONCE", "false"),
    flag(
        "include-restarting",
        "WATCHTOWER_INCLUDE_RESTARTING",
        "false",
    ),
    flag("include-stopped", "WATCHTOWER_INCLUDE_STOPPED", "false"),
    flag("revive-stopped", "WATCHTOWER_REVIVE_STOPPED", "false"),
    flag(
        "enable-lifecycle-hooks",
        "WATCHTOWER_LIFECYCLE_HOOKS",
        "false",
    ),
    flag("rolling-restart", "WATCHTOWER_ROLLING_RESTART", "false"),
    flag("http-api-update", "WATCHTOWER_HTTP_API_UPDATE", "false"),
    flag("http-api-metrics", "WATCHTOWER_HTTP_API_METRICS", "false"),
    secret("http-api-token", "WATCHTOWER_HTTP_API_TOKEN"),
    flag(
        "http-api-periodic-polls",
        "WATCHTOWER_HTTP_API_PERIODIC_POLLS",
        "false",
    ),
    flag("http-api-host", "WATCHTOWER_HTTP_API_HOST", ""),
    flag("http-api-port", "WATCHTOWER_HTTP_API_PORT", "8080"),
    flag("no-color", "NO_COLOR", "false"),
    flag("scope", "WATCHTOWER_SCOPE", ""),
    flag("porcelain", "WATCHTOWER_PORCELAIN", ""),
    flag("log-level", "WATCHTOWER_LOG_LEVEL", "info"),
    FlagSpec {
        long: "health-check",
        env: None,
        default: "false",
        secret_file: false,
    },
    flag(
        "label-take-precedence",
        "WATCHTOWER_LABEL_TAKE_PRECEDENCE",
        "false",
    ),
    flag(
        "warn-on-head-failure",
        "WATCHTOWER_WARN_ON_HEAD_FAILURE",
        "auto",
    ),
    // Registries (the seed's additions).
    flag("registry-ca", "WATCHTOWER_REGISTRY_CA", ""),
    flag(
        "registry-ca-validate",
        "WATCHTOWER_REGISTRY_CA_VALIDATE",
        "false",
    ),
    flag("insecure-registry", "WATCHTOWER_INSECURE_REGISTRY", "false"),
    // Notifications.
    flag("notifications", "WATCHTOWER_NOTIFICATIONS", ""),
    secret("notification-url", "WATCHTOWER_NOTIFICATION_URL"),
    flag(
        "notifications-level",
        "WATCHTOWER_NOTIFICATIONS_LEVEL",
        "info",
    ),
    flag("notifications-delay", "WATCHTOWER_NOTIFICATIONS_DELAY", "0"),
    flag(
        "notifications-hostname",
        "WATCHTOWER_NOTIFICATIONS_HOSTNAME",
        "",
    ),
    flag(
        "notification-template",
        "WATCHTOWER_NOTIFICATION_TEMPLATE",
        "",
    ),
    flag(
        "notification-report",
        "WATCHTOWER_NOTIFICATION_REPORT",
        "false",
    ),
    flag(
        "notification-title-tag",
        "WATCHTOWER_NOTIFICATION_TITLE_TAG",
        "",
    ),
    flag(
        "notification-skip-title",
        "WATCHTOWER_NOTIFICATION_SKIP_TITLE",
        "false",
    ),
    flag(
        "notification-log-stdout",
        "WATCHTOWER_NOTIFICATION_LOG_STDOUT",
        "false",
    ),
    flag(
        "notification-email-from",
        "WATCHTOWER_NOTIFICATION_EMAIL_FROM",
        "",
    ),
    flag(
        "notification-email-to",
        "WATCHTOWER_NOTIFICATION_EMAIL_TO",
        "",
    ),
    flag(
        "notification-email-delay",
        "WATCHTOWER_NOTIFICATION_EMAIL_DELAY",
        "0",
    ),
    flag(
        "notification-email-server",
        "WATCHTOWER_NOTIFICATION_EMAIL_SERVER",
        "",
    ),
    flag(
        "notification-email-server-port",
        "WATCHTOWER_NOTIFICATION_EMAIL_SERVER_PORT",
        "25",
    ),
    flag(
        "notification-email-server-tls-skip-verify",
        "WATCHTOWER_NOTIFICATION_EMAIL_SERVER_TLS_SKIP_VERIFY",
        "false",
    ),
    flag(
        "notification-email-server-user",
        "WATCHTOWER_NOTIFICATION_EMAIL_SERVER_USER",
        "",
    ),
    secret(
        "notification-email-server-password",
        "WATCHTOWER_NOTIFICATION_EMAIL_SERVER_PASSWORD",
    ),
    flag(
        "notification-email-subjecttag",
        "WATCHTOWER_NOTIFICATION_EMAIL_SUBJECTTAG",
        "",
    ),
    secret(
        "notification-slack-hook-url",
        "WATCHTOWER_NOTIFICATION_SLACK_HOOK_URL",
    ),
    flag(
        "notification-slack-identifier",
        "WATCHTOWER_NOTIFICATION_SLACK_IDENTIFIER",
        "watchtower",
    ),
    flag(
        "notification-slack-channel",
        "WATCHTOWER_NOTIFICATION_SLACK_CHANNEL",
        "",
    ),
    flag(
        "notification-slack-icon-emoji",
        "WATCHTOWER_NOTIFICATION_SLACK_ICON_EMOJI",
        "",
    ),
    flag(
        "notification-slack-icon-url",
        "WATCHTOWER_NOTIFICATION_SLACK_ICON_URL",
        "",
    ),
    secret(
        "notification-msteams-hook",
        "WATCHTOWER_NOTIFICATION_MSTEAMS_HOOK_URL",
    ),
    flag(
        "notification-msteams-data",
        "WATCHTOWER_NOTIFICATION_MSTEAMS_USE_LOG_DATA",
        "false",
    ),
    flag(
        "notification-gotify-url",
        "WATCHTOWER_NOTIFICATION_GOTIFY_URL",
        "",
    ),
    secret(
        "notification-gotify-token",
        "WATCHTOWER_NOTIFICATION_GOTIFY_TOKEN",
    ),
    flag(
        "notification-gotify-tls-skip-verify",
        "WATCHTOWER_NOTIFICATION_GOTIFY_TLS_SKIP_VERIFY",
        "false",
    ),
];

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
