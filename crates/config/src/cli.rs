//! The command line, declared with clap. Values stay raw strings here; [`crate::Config`]
//! merges them with the environment and the defaults and checks them, so that a value has
//! the same meaning and the same error whether it came from a flag or a variable.
//!
//! Boolean flags take an optional `=true`/`=false` like the original's (`--cleanup=false`).

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand};

use crate::flags::FLAGS;

/// Automatically updates running Docker containers whenever a new image is released.
#[derive(Debug, Parser)]
#[command(
    name = "watchtower",
    version,
    about = "Automatically updates running Docker containers whenever a new image is released",
    long_about = "Automatically updates running Docker containers whenever a new image is \
                  released.\n\nA drop-in replacement for containrrr/watchtower: the same flags, \
                  environment variables, labels, HTTP API and metrics. Name containers as \
                  arguments to watch only those; without names every container is watched.",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// Extra commands.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Watch only these containers (exact names or patterns); all when none are given.
    #[arg(value_name = "CONTAINER")]
    pub names: Vec<String>,

    /// All options.
    #[command(flatten)]
    pub flags: Flags,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a shell completion script to standard output.
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Print the legacy notification settings as notification URLs, ready for an env file.
    #[command(
        long_about = "Print the legacy notification settings (--notifications email, slack, \
                      msteams or gotify and their flags or WATCHTOWER_* variables) as one \
                      WATCHTOWER_NOTIFICATION_URL=<url> <url>... line, together with the \
                      URLs of --notification-url, in Docker env-file syntax. The output holds \
                      the secrets (passwords, tokens, webhook URLs) of those settings: keep it \
                      private. With --output it goes to a new file (mode 0600) instead of \
                      standard output. Replace the legacy settings with its lines; keeping \
                      both sends every notification twice."
    )]
    NotifyUpgrade(Box<NotifyUpgradeArgs>),
}

/// `watchtower notify-upgrade`: the same options as the main command (only the notification
/// ones matter) and where to write the result.
#[derive(Debug, Args)]
pub struct NotifyUpgradeArgs {
    /// Write to this new file (created with mode 0600, never overwritten) instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Accepted and ignored, so that a container's usual command line can be reused.
    #[arg(value_name = "CONTAINER", hide = true)]
    pub names: Vec<String>,

    /// Every option of the main command.
    #[command(flatten)]
    pub flags: Flags,
}

impl NotifyUpgradeArgs {
    /// The main command's view of these options, for [`crate::Config::resolve`].
    pub fn into_cli(self: Box<Self>) -> (Option<PathBuf>, Cli) {
        let cli = Cli {
            command: None,
            names: self.names,
            flags: self.flags,
        };
        (self.output, cli)
    }
}

/// Every option, as given on the command line (`None` when absent).
#[derive(Debug, Args, Default)]
#[allow(clippy::struct_field_names)] // the field names are the flag names
pub struct Flags {
    // ---- Docker connection
    /// Docker daemon to connect to (unix://, tcp://, http:// or https://).
    #[arg(long, short = 'H', value_name = "URL", help_heading = "Docker")]
    pub host: Option<String>,
    /// Use TLS and verify the daemon's certificate (certificates from `DOCKER_CERT_PATH`).
    #[arg(long, short = 'v', value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", help_heading = "Docker")]
    pub tlsverify: Option<String>,
    /// Docker API version to use; by default the highest one both sides speak is negotiated.
    #[arg(long, short = 'a', value_name = "VERSION", help_heading = "Docker")]
    pub api_version: Option<String>,

    // ---- Scheduling and behaviour
    /// Seconds between update sessions. Cannot be combined with --schedule.
    #[arg(long, short = 'i', value_name = "SECONDS", allow_hyphen_values = true)]
    pub interval: Option<String>,
    /// Cron spec (6 fields, seconds first) saying when sessions run.
    #[arg(long, short = 's', value_name = "SPEC")]
    pub schedule: Option<String>,
    /// Run one session now, then exit.
    #[arg(long, short = 'R', value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub run_once: Option<String>,
    /// How long a container gets to stop before it is killed (e.g. 10s, 1m; a bare number is seconds).
    #[arg(long, short = 't', value_name = "DURATION", allow_hyphen_values = true)]
    pub stop_timeout: Option<String>,
    /// Never pull images; only compare with images already on the host.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub no_pull: Option<String>,
    /// Remove stale containers without starting replacements (for an outside supervisor).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub no_restart: Option<String>,
    /// Log the startup message but do not send it as a notification.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub no_startup_message: Option<String>,
    /// Remove the old image after a container was updated.
    #[arg(long, short = 'c', value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub cleanup: Option<String>,
    /// Also remove the old container's anonymous volumes.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub remove_volumes: Option<String>,
    /// Watch only containers labelled com.centurylinklabs.watchtower.enable=true.
    #[arg(long, short = 'e', value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub label_enable: Option<String>,
    /// Container names never to watch (comma-separated, repeatable).
    #[arg(long, short = 'x', value_name = "NAMES", value_delimiter = ',', action = clap::ArgAction::Append)]
    pub disable_containers: Vec<String>,
    /// Check and report stale containers but never touch them.
    #[arg(long, short = 'm', value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub monitor_only: Option<String>,
    /// Also watch containers that are restarting.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub include_restarting: Option<String>,
    /// Also watch created and exited containers.
    #[arg(long, short = 'S', value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub include_stopped: Option<String>,
    /// Start updated containers even when the old one was not running.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub revive_stopped: Option<String>,
    /// Run the lifecycle hook commands given in container labels.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub enable_lifecycle_hooks: Option<String>,
    /// Update one container at a time instead of stopping all stale ones first.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub rolling_restart: Option<String>,
    /// Let the monitor-only and no-pull labels override the global flags both ways.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub label_take_precedence: Option<String>,
    /// Watch only containers in this scope (`none`: only containers without a scope).
    #[arg(long, value_name = "SCOPE")]
    pub scope: Option<String>,
    /// Exit 0 at once (for the image's HEALTHCHECK); refuses to run as PID 1.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub health_check: Option<String>,
    /// When a failed registry check is logged as a warning: always, auto or never.
    #[arg(long, value_name = "WHEN")]
    pub warn_on_head_failure: Option<String>,
    /// Print each session's result to stdout in a stable format; only `v1` exists.
    #[arg(long, short = 'P', value_name = "VERSION")]
    pub porcelain: Option<String>,

    // ---- Logging
    /// Log format: auto, logfmt, pretty or json.
    #[arg(long, short = 'l', value_name = "FORMAT", help_heading = "Logging")]
    pub log_format: Option<String>,
    /// Most verbose level logged: panic, fatal, error, warn, info, debug or trace.
    #[arg(long, value_name = "LEVEL", help_heading = "Logging")]
    pub log_level: Option<String>,
    /// Same as --log-level debug.
    #[arg(long, short = 'd', value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", help_heading = "Logging")]
    pub debug: Option<String>,
    /// Same as --log-level trace (credentials are never logged, at any level).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", help_heading = "Logging")]
    pub trace: Option<String>,
    /// No ANSI colours in the log (also when `NO_COLOR` is set to anything).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", help_heading = "Logging")]
    pub no_color: Option<String>,

    // ---- HTTP API
    /// Enable POST /v1/update; scheduled sessions stop unless --http-api-periodic-polls.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", help_heading = "HTTP API")]
    pub http_api_update: Option<String>,
    /// Enable GET /v1/metrics (Prometheus).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", help_heading = "HTTP API")]
    pub http_api_metrics: Option<String>,
    /// Bearer token the API requires (or a file holding it).
    #[arg(long, value_name = "TOKEN", help_heading = "HTTP API")]
    pub http_api_token: Option<String>,
    /// Keep scheduled sessions when the update API is on.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", help_heading = "HTTP API")]
    pub http_api_periodic_polls: Option<String>,
    /// Address the API listens on (empty: every interface).
    #[arg(long, value_name = "ADDRESS", help_heading = "HTTP API")]
    pub http_api_host: Option<String>,
    /// Port the API listens on.
    #[arg(long, value_name = "PORT", help_heading = "HTTP API")]
    pub http_api_port: Option<String>,

    // ---- Registries
    /// PEM bundle of extra CA certificates trusted for registry TLS.
    #[arg(long, value_name = "FILE", help_heading = "Registries")]
    pub registry_ca: Option<String>,
    /// Check the --registry-ca bundle at startup and refuse to start when it is unusable.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", help_heading = "Registries")]
    pub registry_ca_validate: Option<String>,
    /// Do not verify registry TLS certificates and allow plain HTTP (testing only).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", help_heading = "Registries")]
    pub insecure_registry: Option<String>,

    // ---- Notifications
    /// Legacy notification types: email, slack, msteams, gotify, shoutrrr (comma-separated).
    #[arg(long, short = 'n', value_name = "TYPES", value_delimiter = ',', action = clap::ArgAction::Append, help_heading = "Notifications")]
    pub notifications: Vec<String>,
    /// Notification service URL (shoutrrr syntax); repeat for several, or name a file of URLs.
    #[arg(long, value_name = "URL", action = clap::ArgAction::Append, help_heading = "Notifications")]
    pub notification_url: Vec<String>,
    /// Most verbose log level that is sent: panic, fatal, error, warn, info, debug or trace.
    #[arg(long, value_name = "LEVEL", help_heading = "Notifications")]
    pub notifications_level: Option<String>,
    /// Seconds to wait before sending each notification.
    #[arg(
        long,
        value_name = "SECONDS",
        help_heading = "Notifications",
        allow_hyphen_values = true
    )]
    pub notifications_delay: Option<String>,
    /// Host name shown in notification titles (default: this machine's).
    #[arg(long, value_name = "NAME", help_heading = "Notifications")]
    pub notifications_hostname: Option<String>,
    /// Notification template (Go text/template syntax) or the name of a built-in one.
    #[arg(long, value_name = "TEMPLATE", help_heading = "Notifications")]
    pub notification_template: Option<String>,
    /// Give the template the session report instead of the log lines.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", help_heading = "Notifications")]
    pub notification_report: Option<String>,
    /// Prefix for notification titles, shown as `[tag] `.
    #[arg(long, value_name = "TAG", help_heading = "Notifications")]
    pub notification_title_tag: Option<String>,
    /// Send notifications without a title.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", help_heading = "Notifications")]
    pub notification_skip_title: Option<String>,
    /// The logger:// service writes to stdout instead of the log.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", help_heading = "Notifications")]
    pub notification_log_stdout: Option<String>,
    /// Legacy email: sender address.
    #[arg(long, value_name = "ADDRESS", help_heading = "Notifications")]
    pub notification_email_from: Option<String>,
    /// Legacy email: recipient address.
    #[arg(long, value_name = "ADDRESS", help_heading = "Notifications")]
    pub notification_email_to: Option<String>,
    /// Legacy email: seconds to wait before sending (overrides --notifications-delay).
    #[arg(
        long,
        value_name = "SECONDS",
        help_heading = "Notifications",
        allow_hyphen_values = true
    )]
    pub notification_email_delay: Option<String>,
    /// Legacy email: SMTP server.
    #[arg(long, value_name = "HOST", help_heading = "Notifications")]
    pub notification_email_server: Option<String>,
    /// Legacy email: SMTP port.
    #[arg(long, value_name = "PORT", help_heading = "Notifications")]
    pub notification_email_server_port: Option<String>,
    /// Legacy email: send without TLS (the original's meaning of this flag).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", help_heading = "Notifications")]
    pub notification_email_server_tls_skip_verify: Option<String>,
    /// Legacy email: SMTP user.
    #[arg(long, value_name = "USER", help_heading = "Notifications")]
    pub notification_email_server_user: Option<String>,
    /// Legacy email: SMTP password (or a file holding it).
    #[arg(long, value_name = "PASSWORD", help_heading = "Notifications")]
    pub notification_email_server_password: Option<String>,
    /// Legacy email: subject prefix (the title tag of every service when none is set).
    #[arg(long, value_name = "TAG", help_heading = "Notifications")]
    pub notification_email_subjecttag: Option<String>,
    /// Legacy Slack/Discord: webhook URL (or a file holding it).
    #[arg(long, value_name = "URL", help_heading = "Notifications")]
    pub notification_slack_hook_url: Option<String>,
    /// Legacy Slack: bot name.
    #[arg(long, value_name = "NAME", help_heading = "Notifications")]
    pub notification_slack_identifier: Option<String>,
    /// Legacy Slack: channel (accepted; the webhook's own channel is used, as in the original).
    #[arg(long, value_name = "CHANNEL", help_heading = "Notifications")]
    pub notification_slack_channel: Option<String>,
    /// Legacy Slack: icon emoji.
    #[arg(long, value_name = "EMOJI", help_heading = "Notifications")]
    pub notification_slack_icon_emoji: Option<String>,
    /// Legacy Slack/Discord: icon URL.
    #[arg(long, value_name = "URL", help_heading = "Notifications")]
    pub notification_slack_icon_url: Option<String>,
    /// Legacy Microsoft Teams: webhook URL (or a file holding it).
    #[arg(long, value_name = "URL", help_heading = "Notifications")]
    pub notification_msteams_hook: Option<String>,
    /// Legacy Microsoft Teams: accepted for compatibility, without effect (as in the original).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", help_heading = "Notifications")]
    pub notification_msteams_data: Option<String>,
    /// Legacy Gotify: server URL (http:// or https://).
    #[arg(long, value_name = "URL", help_heading = "Notifications")]
    pub notification_gotify_url: Option<String>,
    /// Legacy Gotify: application token (or a file holding it).
    #[arg(long, value_name = "TOKEN", help_heading = "Notifications")]
    pub notification_gotify_token: Option<String>,
    /// Legacy Gotify: accepted for compatibility, without effect (as in the original).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", help_heading = "Notifications")]
    pub notification_gotify_tls_skip_verify: Option<String>,
}

/// The clap command with each flag's environment variable and default added to its help,
/// from the one table in [`crate::flags`]. Used for `--help`, completions and the man page.
/// `notify-upgrade` accepts every option too, but its help shows only the notification ones.
pub fn command() -> clap::Command {
    with_env_and_defaults(Cli::command()).mut_subcommand("notify-upgrade", |sub| {
        let mut sub = with_env_and_defaults(sub);
        for spec in FLAGS {
            if !spec.long.starts_with("notification") {
                sub = sub.mut_arg(spec.id(), |arg| arg.hide(true));
            }
        }
        sub
    })
}

fn with_env_and_defaults(mut cmd: clap::Command) -> clap::Command {
    for spec in FLAGS {
        cmd = cmd.mut_arg(spec.id(), |arg| {
            let mut extra = Vec::new();
            if let Some(env) = spec.env {
                extra.push(format!("env: {env}"));
            }
            if !spec.default.is_empty() {
                extra.push(format!("default: {}", spec.default));
            }
            if extra.is_empty() {
                return arg;
            }
            let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
            arg.help(format!("{help} [{}]", extra.join("] [")))
        });
    }
    cmd
}

/// Parses the command line. `--help`, `--version` and usage errors come back as clap errors
/// (which print themselves and carry their exit code).
pub fn parse<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    use clap::FromArgMatches;
    let mut cmd = command();
    let matches = cmd.try_get_matches_from_mut(args)?;
    let cli = Cli::from_arg_matches(&matches)?;
    // A subcommand comes first (`watchtower notify-upgrade --cleanup`); after an option its
    // name would be taken as a container to watch, and the subcommand silently not run.
    if cli.command.is_none()
        && let Some(name) = cli
            .names
            .iter()
            .find(|n| cmd.get_subcommands().any(|s| s.get_name() == n.as_str()))
    {
        return Err(cmd.error(
            clap::error::ErrorKind::ArgumentConflict,
            format!(
                "the subcommand {name} must be the first argument: watchtower {name} ... \
                 (to watch a container of that name, write /{name})"
            ),
        ));
    }
    Ok(cli)
}
