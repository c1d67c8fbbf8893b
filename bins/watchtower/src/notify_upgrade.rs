//! `watchtower notify-upgrade`: the legacy notification settings (`--notifications email`,
//! `slack`, `msteams`, `gotify` and their flags or `WATCHTOWER_*` variables) printed as
//! notification URLs, so that a configuration can move to `WATCHTOWER_NOTIFICATION_URL`.
//!
//! The options are resolved exactly as the main command resolves them ([`Config::resolve`]:
//! flag, then variable, then default; secrets read from files), and the URLs come from the
//! same conversion the notifier uses (`LegacyOptions::to_urls` on the resolved
//! `NotifierConfig`), so the printed URLs are the services the main command would
//! have used. Each URL is then parsed by the notify crate, so nothing is printed that the
//! main command would refuse.
//!
//! The output is a Docker env file:
//!
//! ```text
//! WATCHTOWER_NOTIFICATION_URL=<url> <url>...
//! WATCHTOWER_NOTIFICATIONS_DELAY=<seconds>        (only with --notification-email-delay)
//! WATCHTOWER_NOTIFICATION_TITLE_TAG=<tag>         (only with --notification-email-subjecttag)
//! ```
//!
//! The URLs of `--notification-url` come first, then one per legacy type, in the order the
//! main command uses them. The two optional lines carry the legacy email settings that are
//! not part of a URL, so dropping the legacy variables changes nothing. The `logger://` that
//! `--porcelain v1` adds is left out: `--porcelain` keeps adding it.
//!
//! The output holds secrets (that is its purpose); nothing else does: the lines on standard
//! error name services by their scheme only, and errors name the flag, never its value.

use std::fmt::{self, Write as _};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use watchtower_config::cli::NotifyUpgradeArgs;
use watchtower_config::secret::Secret;
use watchtower_config::{Config, Env};
use watchtower_notify::{Notifier, NotifierConfig};

/// Why `notify-upgrade` printed nothing. One line each, naming the flag or file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NotifyUpgradeError {
    /// An option does not parse, or a legacy type lacks a setting it needs.
    #[error(transparent)]
    Config(#[from] watchtower_config::Error),
    /// A legacy setting cannot be converted, or a URL is invalid (the message is redacted by
    /// the notify crate).
    #[error("{0}")]
    Notify(#[source] watchtower_notify::Error),
    /// Neither a legacy type nor a URL is set.
    #[error(
        "nothing to upgrade: no legacy notification is configured (set --notifications or \
         WATCHTOWER_NOTIFICATIONS to email, slack, msteams or gotify, with their settings)"
    )]
    Nothing,
    /// The `--output` file could not be created or written.
    #[error("cannot write --output {}: {source}", path.display())]
    Output {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Standard output could not be written.
    #[error("cannot write to standard output: {0}")]
    Stdout(#[source] io::Error),
    /// The runtime the URL check needs could not be built.
    #[error("cannot check the notification URLs: {0}")]
    Runtime(#[source] io::Error),
}

/// The converted settings.
pub struct Upgrade {
    urls: Vec<Secret>,
    services: Vec<String>,
    delay_seconds: Option<u64>,
    title_tag: Option<String>,
}

impl fmt::Debug for Upgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upgrade")
            .field("urls", &format_args!("<{} redacted>", self.urls.len()))
            .field("services", &self.services)
            .field("delay_seconds", &self.delay_seconds)
            .field("title_tag", &self.title_tag)
            .finish()
    }
}

impl Upgrade {
    /// Converts the notification settings of `config`: `--notification-url` first (without
    /// the `logger://` of `--porcelain`), then one URL per legacy type; every URL is checked
    /// by the notify crate's parser.
    pub fn convert(config: &Config) -> Result<Self, NotifyUpgradeError> {
        let n = &config.notifications;
        let mut urls: Vec<Secret> = n.urls.iter().map(Secret::new).collect();
        if config.porcelain {
            // Added last by `--porcelain v1` (see `Config::resolve`), which keeps adding it.
            urls.pop();
        }
        let (legacy, delay) = n.legacy.to_urls().map_err(NotifyUpgradeError::Notify)?;
        urls.extend(legacy.into_iter().map(Secret::new));
        if urls.is_empty() {
            return Err(NotifyUpgradeError::Nothing);
        }
        let services = check(&urls)?;
        let title_tag = (n.title_tag.is_empty() && !n.email_subject_tag.is_empty())
            .then(|| n.email_subject_tag.clone());
        Ok(Self {
            urls,
            services,
            delay_seconds: delay.map(|d| d.as_secs()),
            title_tag,
        })
    }

    /// The URLs, in clear: they are the output.
    pub fn urls(&self) -> impl Iterator<Item = &str> {
        self.urls.iter().map(Secret::expose)
    }

    /// The service of each URL (its scheme), in the same order; never secret.
    pub fn services(&self) -> &[String] {
        &self.services
    }

    /// `--notification-email-delay`, which replaces `--notifications-delay` while `email` is
    /// among the legacy types.
    pub fn delay_seconds(&self) -> Option<u64> {
        self.delay_seconds
    }

    /// `--notification-email-subjecttag`, which is the title tag when no
    /// `--notification-title-tag` is set.
    pub fn title_tag(&self) -> Option<&str> {
        self.title_tag.as_deref()
    }

    /// The env file: `WATCHTOWER_NOTIFICATION_URL=<url> <url>...`, then the optional delay
    /// and title tag lines. Holds the secrets.
    pub fn env_file(&self) -> String {
        let urls: Vec<&str> = self.urls().collect();
        let mut out = format!("WATCHTOWER_NOTIFICATION_URL={}\n", urls.join(" "));
        if let Some(seconds) = self.delay_seconds {
            let _ = writeln!(out, "WATCHTOWER_NOTIFICATIONS_DELAY={seconds}");
        }
        if let Some(tag) = &self.title_tag {
            let _ = writeln!(out, "WATCHTOWER_NOTIFICATION_TITLE_TAG={tag}");
        }
        out
    }
}

/// Parses every URL as the main command would at start-up; returns their service names.
fn check(urls: &[Secret]) -> Result<Vec<String>, NotifyUpgradeError> {
    // The notifier starts a sending task, so it needs a runtime; nothing is ever sent.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(NotifyUpgradeError::Runtime)?;
    let _entered = runtime.enter();
    let config = NotifierConfig {
        urls: urls.iter().map(|u| u.expose().to_owned()).collect(),
        ..NotifierConfig::default()
    };
    let (notifier, _layer) = Notifier::new(config).map_err(NotifyUpgradeError::Notify)?;
    Ok(notifier.names())
}

/// `watchtower notify-upgrade [--output FILE] [OPTIONS]`: resolves the options from `args`
/// and `env`, writes the env file to `stdout` or the `--output` file, and tells `stderr`
/// which services were found.
pub fn run(
    args: Box<NotifyUpgradeArgs>,
    env: &dyn Env,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> Result<(), NotifyUpgradeError> {
    let (output, cli) = args.into_cli();
    let config = Config::resolve(&cli, env)?;
    let upgrade = Upgrade::convert(&config)?;
    let text = upgrade.env_file();
    match &output {
        Some(path) => {
            write_new_file(path, text.as_bytes()).map_err(|source| NotifyUpgradeError::Output {
                path: path.clone(),
                source,
            })?;
            let _ = writeln!(
                stderr,
                "Wrote the notification settings to {} (it holds secrets)",
                path.display()
            );
        }
        None => {
            stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
                .map_err(NotifyUpgradeError::Stdout)?;
        }
    }
    // Best effort: the output is written, a closed stderr is no failure.
    let _ = writeln!(
        stderr,
        "Found notification configurations for: {}",
        upgrade.services().join(", ")
    );
    let _ = writeln!(
        stderr,
        "Use these lines instead of WATCHTOWER_NOTIFICATIONS, WATCHTOWER_NOTIFICATION_URL and \
         the legacy notification settings; keeping both sends every notification twice."
    );
    Ok(())
}

/// Creates `path` (never overwriting: it may be someone's file) readable by its owner only,
/// and writes `bytes`; a partly written file is removed.
fn write_new_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    if let Err(err) = written {
        drop(file);
        let _ = std::fs::remove_file(path);
        return Err(err);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use watchtower_config::cli::{self, Command};

    use super::*;

    fn upgrade(args: &[&str], env: &[(&str, &str)]) -> Result<Upgrade, NotifyUpgradeError> {
        let cli = cli::parse(
            ["watchtower", "notify-upgrade"]
                .iter()
                .chain(args)
                .copied()
                .collect::<Vec<_>>(),
        )
        .expect("parses");
        let Some(Command::NotifyUpgrade(args)) = cli.command else {
            panic!("not notify-upgrade: {cli:?}");
        };
        let env: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let (_, cli) = args.into_cli();
        Upgrade::convert(&Config::resolve(&cli, &env)?)
    }

    #[test]
    fn porcelain_logger_is_left_out_and_existing_urls_come_first() {
        let up = upgrade(
            &[
                "--porcelain",
                "v1",
                "--notification-url",
                "generic+https://example.test/hook",
                "--notifications",
                "gotify",
                "--notification-gotify-url",
                "https://gotify.example.test",
                "--notification-gotify-token",
                "AbCdEfGhIjKlMnO",
            ],
            &[],
        )
        .unwrap();
        assert_eq!(
            up.urls().collect::<Vec<_>>(),
            [
                "generic+https://example.test/hook",
                "gotify://gotify.example.test/AbCdEfGhIjKlMnO"
            ]
        );
        assert_eq!(up.services(), ["generic+https", "gotify"]);
        assert_eq!(
            up.env_file(),
            "WATCHTOWER_NOTIFICATION_URL=generic+https://example.test/hook gotify://gotify.example.test/AbCdEfGhIjKlMnO\n"
        );
    }

    #[test]
    fn email_delay_and_subject_tag_get_their_own_lines() {
        let env = [
            ("WATCHTOWER_NOTIFICATIONS", "email"),
            ("WATCHTOWER_NOTIFICATION_EMAIL_SERVER", "smtp.example.test"),
            ("WATCHTOWER_NOTIFICATION_EMAIL_FROM", "wt@example.test"),
            ("WATCHTOWER_NOTIFICATION_EMAIL_TO", "ops@example.test"),
            ("WATCHTOWER_NOTIFICATION_EMAIL_DELAY", "30"),
            ("WATCHTOWER_NOTIFICATION_EMAIL_SUBJECTTAG", "prod"),
        ];
        let up = upgrade(&[], &env).unwrap();
        assert_eq!(up.delay_seconds(), Some(30));
        assert_eq!(up.title_tag(), Some("prod"));
        let text = up.env_file();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(lines[0].starts_with("WATCHTOWER_NOTIFICATION_URL=smtp://"));
        assert_eq!(lines[1], "WATCHTOWER_NOTIFICATIONS_DELAY=30");
        assert_eq!(lines[2], "WATCHTOWER_NOTIFICATION_TITLE_TAG=prod");

        // A title tag of its own wins over the subject tag: nothing to carry over.
        let mut with_tag = env.to_vec();
        with_tag.push(("WATCHTOWER_NOTIFICATION_TITLE_TAG", "mine"));
        assert_eq!(upgrade(&[], &with_tag).unwrap().title_tag(), None);
    }

    #[test]
    fn nothing_configured_is_an_error() {
        let err = upgrade(&[], &[]).unwrap_err();
        assert!(matches!(err, NotifyUpgradeError::Nothing), "{err}");
        let err = upgrade(&["--notifications", "shoutrrr"], &[]).unwrap_err();
        assert!(matches!(err, NotifyUpgradeError::Nothing), "{err}");
    }

    #[test]
    fn debug_shows_no_url() {
        let up = upgrade(
            &[
                "--notifications",
                "slack",
                "--notification-slack-hook-url",
                "https://hooks.slack.com/services/T0ABCDEFGH/B0IJKLMNOP/sekritsekritsekritsekrit",
            ],
            &[],
        )
        .unwrap();
        let debug = format!("{up:?}");
        assert!(!debug.contains("sekrit"), "{debug}");
        assert!(debug.contains("slack"), "{debug}");
    }

    #[test]
    fn output_file_is_new_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notifications.env");
        write_new_file(&path, b"A=1\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "A=1\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let err = write_new_file(&path, b"B=2\n").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "A=1\n");
    }
}
