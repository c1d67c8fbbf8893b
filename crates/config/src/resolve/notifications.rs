//! The notification flags into the notify crate's own [`NotifierConfig`] and
//! [`LegacyOptions`], the legacy types checked for the settings they need, and the
//! `--porcelain v1` bundle on top.

use std::time::Duration;

use watchtower_notify::{LegacyOptions, NotifierConfig};

use super::log::flag_name;
use super::{Resolver, SECONDS_EXPECTED};
use crate::config::Source;
use crate::error::Error;
use crate::flags::Flags;
use crate::secret;

/// The legacy `--notifications` types.
const LEGACY_TYPES: [&str; 5] = ["email", "slack", "msteams", "gotify", "shoutrrr"];

impl Resolver<'_> {
    pub(crate) fn notifications(&mut self, f: &Flags) -> Result<NotifierConfig, Error> {
        let legacy = self.legacy(f)?;
        let urls = self.urls(f)?;
        let level = self.level("notifications-level", f.notifications_level.as_ref())?;
        self.record("notifications-level", flag_name(level));
        let config = NotifierConfig {
            urls,
            level,
            delay: Duration::from_secs(self.unsigned(
                "notifications-delay",
                f.notifications_delay.as_ref(),
                SECONDS_EXPECTED,
            )?),
            hostname: self.string("notifications-hostname", f.notifications_hostname.as_ref()),
            template: self.string("notification-template", f.notification_template.as_ref()),
            report: self.boolean("notification-report", f.notification_report.as_ref())?,
            title_tag: self.string("notification-title-tag", f.notification_title_tag.as_ref()),
            email_subject_tag: self.string(
                "notification-email-subjecttag",
                f.notification_email_subjecttag.as_ref(),
            ),
            skip_title: self.boolean(
                "notification-skip-title",
                f.notification_skip_title.as_ref(),
            )?,
            log_stdout: self.boolean(
                "notification-log-stdout",
                f.notification_log_stdout.as_ref(),
            )?,
            legacy,
            ..NotifierConfig::default()
        };
        check_legacy(&config.legacy)?;
        Ok(config)
    }

    /// `--notifications` (known types, each once) and the legacy services' flags.
    fn legacy(&mut self, f: &Flags) -> Result<LegacyOptions, Error> {
        let (names, source) = self.list(
            "notifications",
            &f.notifications,
            split_whitespace_and_commas,
        );
        let mut types: Vec<String> = Vec::new();
        for name in names {
            if !LEGACY_TYPES.contains(&name.as_str()) {
                let origin = match source {
                    Source::Env => "WATCHTOWER_NOTIFICATIONS (--notifications)",
                    _ => "--notifications",
                };
                return Err(Error::InvalidValue {
                    origin: origin.to_owned(),
                    value: name,
                    expected: "expected email, slack, msteams, gotify or shoutrrr".to_owned(),
                });
            }
            if !types.contains(&name) {
                types.push(name);
            }
        }
        Ok(LegacyOptions {
            types,
            email_from: self.string(
                "notification-email-from",
                f.notification_email_from.as_ref(),
            ),
            email_to: self.string("notification-email-to", f.notification_email_to.as_ref()),
            email_server: self.string(
                "notification-email-server",
                f.notification_email_server.as_ref(),
            ),
            email_server_port: self.port(
                "notification-email-server-port",
                f.notification_email_server_port.as_ref(),
            )?,
            email_server_tls_skip_verify: self.boolean(
                "notification-email-server-tls-skip-verify",
                f.notification_email_server_tls_skip_verify.as_ref(),
            )?,
            email_server_user: self.string(
                "notification-email-server-user",
                f.notification_email_server_user.as_ref(),
            ),
            email_server_password: self.secret_text(
                "notification-email-server-password",
                f.notification_email_server_password.as_ref(),
            )?,
            email_delay: self.unsigned(
                "notification-email-delay",
                f.notification_email_delay.as_ref(),
                SECONDS_EXPECTED,
            )?,
            slack_hook_url: self.secret_text(
                "notification-slack-hook-url",
                f.notification_slack_hook_url.as_ref(),
            )?,
            slack_identifier: self.string(
                "notification-slack-identifier",
                f.notification_slack_identifier.as_ref(),
            ),
            slack_channel: self.string(
                "notification-slack-channel",
                f.notification_slack_channel.as_ref(),
            ),
            slack_icon_emoji: self.string(
                "notification-slack-icon-emoji",
                f.notification_slack_icon_emoji.as_ref(),
            ),
            slack_icon_url: self.string(
                "notification-slack-icon-url",
                f.notification_slack_icon_url.as_ref(),
            ),
            msteams_hook: self.secret_text(
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
            gotify_token: self.secret_text(
                "notification-gotify-token",
                f.notification_gotify_token.as_ref(),
            )?,
            gotify_tls_skip_verify: self.boolean(
                "notification-gotify-tls-skip-verify",
                f.notification_gotify_tls_skip_verify.as_ref(),
            )?,
        })
    }

    /// `--notification-url`: repeatable, the variable split on whitespace, a value naming a
    /// file replaced by the file's lines.
    fn urls(&mut self, f: &Flags) -> Result<Vec<String>, Error> {
        let (raw_urls, source) =
            self.list("notification-url", &f.notification_url, split_whitespace);
        let origin = match source {
            Source::Env => "WATCHTOWER_NOTIFICATION_URL (--notification-url)",
            _ => "--notification-url",
        };
        let mut urls = Vec::new();
        for value in raw_urls {
            if secret::names_a_file(&value) {
                let lines = secret::read_lines(value.as_ref()).map_err(|e| Error::SecretFile {
                    origin: origin.to_owned(),
                    path: e.path,
                    source: e.source,
                })?;
                urls.extend(lines);
            } else {
                urls.push(value);
            }
        }
        self.record("notification-url", urls.join(","));
        Ok(urls)
    }

    /// `--porcelain v1`: adds `logger://` and, where the user set nothing, turns on
    /// `--notification-log-stdout` and `--notification-report` with the porcelain template.
    pub(crate) fn porcelain(
        &mut self,
        f: &Flags,
        notifications: &mut NotifierConfig,
    ) -> Result<bool, Error> {
        let raw = self.string_with_source("porcelain", f.porcelain.as_ref());
        match raw.value.as_str() {
            "" => return Ok(false),
            "v1" => {}
            _ => return Err(raw.invalid("the only supported version is v1")),
        }
        notifications.urls.push("logger://".to_owned());
        self.record("notification-url", notifications.urls.join(","));
        let unset =
            |r: &Self, long, cli: Option<&String>| r.raw(long, cli).source == Source::Default;
        if unset(
            self,
            "notification-log-stdout",
            f.notification_log_stdout.as_ref(),
        ) {
            notifications.log_stdout = true;
            self.record("notification-log-stdout", "true");
        }
        if unset(self, "notification-report", f.notification_report.as_ref()) {
            notifications.report = true;
            self.record("notification-report", "true");
        }
        if unset(
            self,
            "notification-template",
            f.notification_template.as_ref(),
        ) {
            "porcelain.v1.summary-no-log".clone_into(&mut notifications.template);
            self.record("notification-template", "porcelain.v1.summary-no-log");
        }
        Ok(true)
    }
}

/// What each legacy notifier needs to be usable, checked at startup.
fn check_legacy(legacy: &LegacyOptions) -> Result<(), Error> {
    let needs = |kind, needs: &str| Error::NotificationSetting {
        kind,
        needs: needs.to_owned(),
    };
    for kind in &legacy.types {
        match kind.as_str() {
            "email" => {
                for (value, flag) in [
                    (&legacy.email_server, "--notification-email-server"),
                    (&legacy.email_from, "--notification-email-from"),
                    (&legacy.email_to, "--notification-email-to"),
                ] {
                    if value.is_empty() {
                        return Err(needs("email", flag));
                    }
                }
            }
            "slack" if legacy.slack_hook_url.is_empty() => {
                return Err(needs("slack", "--notification-slack-hook-url"));
            }
            "msteams" if legacy.msteams_hook.is_empty() => {
                return Err(needs("msteams", "--notification-msteams-hook"));
            }
            "gotify" => {
                let url = &legacy.gotify_url;
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(needs(
                        "gotify",
                        "--notification-gotify-url starting with http:// or https://",
                    ));
                }
                if legacy.gotify_token.is_empty() {
                    return Err(needs("gotify", "--notification-gotify-token"));
                }
            }
            _ => {}
        }
    }
    Ok(())
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
