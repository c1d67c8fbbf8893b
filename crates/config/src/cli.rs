//! The command line, declared with clap. Values stay raw strings here; [`crate::Config`]
//! merges them with the environment and the defaults and checks them, so that a value has
//! the same meaning and the same error whether it came from a flag or a variable.
//!
//! The options themselves are declared once, in the flag table ([`crate::flags`]).

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

use crate::flags::FLAGS;
pub use crate::flags::Flags;

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
    /// Show which containers are stale and what an update would do, changing nothing.
    #[command(
        long_about = "Check the selected containers against their registries and show, for \
                      each, whether its image is fresh, stale, skipped or could not be checked \
                      (with the reason), the local and remote digests, and what an update \
                      would do: which containers it would update or recreate, in which order, \
                      and the dependents each update would restart. Containers are selected as \
                      for an update: by name, --label-enable, --scope, --include-stopped, \
                      --include-restarting, --disable-containers and the labels. Only manifest \
                      HEAD requests are sent: nothing is pulled, no container is touched.",
        after_help = "Exit status:\n  0  every selected container was checked, none is stale\n  \
                      3  at least one container is stale (and every check succeeded)\n  \
                      1  something could not be checked (the engine is unreachable, or the \
                      registry check failed for some container); one line on stderr says what\n  \
                      2  usage error"
    )]
    Check(Box<CheckArgs>),
}

/// `watchtower check`: the same options and container names as the main command, and the
/// output format.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The output format: an aligned table, or JSON (documented in docs/check.md).
    #[arg(long, value_enum, value_name = "FORMAT", default_value = "table")]
    pub output: CheckOutput,

    /// Check only these containers (exact names or patterns); all when none are given.
    #[arg(value_name = "CONTAINER")]
    pub names: Vec<String>,

    /// Every option of the main command (the selection ones matter).
    #[command(flatten)]
    pub flags: Flags,
}

/// `watchtower check --output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckOutput {
    /// Aligned columns for people.
    Table,
    /// One JSON document (`"version": 1`) for scripts.
    Json,
}

impl CheckArgs {
    /// The main command's view of these options, for [`crate::Config::resolve`].
    pub fn into_cli(self: Box<Self>) -> (CheckOutput, Cli) {
        let cli = Cli {
            command: None,
            names: self.names,
            flags: self.flags,
        };
        (self.output, cli)
    }
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

/// The clap command from the one table in [`crate::flags`]: each flag's environment variable
/// and default added to its help, booleans given their optional-value syntax
/// (`--flag[=BOOL]`). Used for parsing, `--help`, completions and the man page.
/// `notify-upgrade` accepts every option too, but its help shows only the notification ones.
pub fn command() -> clap::Command {
    with_env_and_defaults(Cli::command())
        .mut_subcommand("notify-upgrade", |sub| {
            let mut sub = with_env_and_defaults(sub);
            for spec in FLAGS {
                if !spec.long.starts_with("notification") {
                    sub = sub.mut_arg(spec.id(), |arg| arg.hide(true));
                }
            }
            sub
        })
        // `check` sends no notification: its help leaves those options out.
        .mut_subcommand("check", |sub| {
            let mut sub = with_env_and_defaults(sub);
            for spec in FLAGS {
                if spec.long.starts_with("notification") {
                    sub = sub.mut_arg(spec.id(), |arg| arg.hide(true));
                }
            }
            sub
        })
}

fn with_env_and_defaults(mut cmd: clap::Command) -> clap::Command {
    for spec in FLAGS {
        cmd = cmd.mut_arg(spec.id(), |arg| {
            let arg = if spec.boolean {
                arg.value_name("BOOL")
                    .num_args(0..=1)
                    .require_equals(true)
                    .default_missing_value("true")
            } else {
                arg
            };
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
