//! The legacy `--notifications email|slack|msteams|gotify` flags, turned into service URLs
//! the way the original converted them.

use std::fmt;
use std::fmt::Write as _;
use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use url::Url;
use url::form_urlencoded::byte_serialize;

use crate::Error;
use crate::service::redact_request_url;

/// The original's default notification colour (`#406170`).
pub const COLOR_HEX: &str = "#406170";

/// The values of the legacy notification flags, as the binary parsed them (secrets already
/// read from files where the flag names a file).
#[derive(Clone)]
pub struct LegacyOptions {
    /// `--notifications`: `email`, `slack`, `msteams`, `gotify`, or `shoutrrr` (ignored).
    pub types: Vec<String>,
    /// `--notification-email-from`.
    pub email_from: String,
    /// `--notification-email-to`.
    pub email_to: String,
    /// `--notification-email-server`.
    pub email_server: String,
    /// `--notification-email-server-port` (default 25).
    pub email_server_port: u16,
    /// `--notification-email-server-tls-skip-verify`: turns encryption and STARTTLS off, as
    /// the original did.
    pub email_server_tls_skip_verify: bool,
    /// `--notification-email-server-user`.
    pub email_server_user: String,
    /// `--notification-email-server-password`.
    pub email_server_password: String,
    /// `--notification-email-delay` in seconds; when > 0 it replaces `--notifications-delay`.
    pub email_delay: u64,
    /// `--notification-slack-hook-url` (a `discord.com` URL becomes a Discord service).
    pub slack_hook_url: String,
    /// `--notification-slack-identifier` (default `watchtower`).
    pub slack_identifier: String,
    /// `--notification-slack-channel`: accepted and ignored, as in the original.
    pub slack_channel: String,
    /// `--notification-slack-icon-emoji`.
    pub slack_icon_emoji: String,
    /// `--notification-slack-icon-url`.
    pub slack_icon_url: String,
    /// `--notification-msteams-hook`.
    pub msteams_hook: String,
    /// `--notification-msteams-data`: accepted and unused, as in the original.
    pub msteams_data: bool,
    /// `--notification-gotify-url` (must start with `http://` or `https://`).
    pub gotify_url: String,
    /// `--notification-gotify-token`.
    pub gotify_token: String,
    /// `--notification-gotify-tls-skip-verify`: accepted and unused, as in the original.
    pub gotify_tls_skip_verify: bool,
}

impl Default for LegacyOptions {
    fn default() -> Self {
        Self {
            types: Vec::new(),
            email_from: String::new(),
            email_to: String::new(),
            email_server: String::new(),
            email_server_port: 25,
            email_server_tls_skip_verify: false,
            email_server_user: String::new(),
            email_server_password: String::new(),
            email_delay: 0,
            slack_hook_url: String::new(),
            slack_identifier: "watchtower".to_owned(),
            slack_channel: String::new(),
            slack_icon_emoji: String::new(),
            slack_icon_url: String::new(),
            msteams_hook: String::new(),
            msteams_data: false,
            gotify_url: String::new(),
            gotify_token: String::new(),
            gotify_tls_skip_verify: false,
        }
    }
}

impl fmt::Debug for LegacyOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |s: &str| if s.is_empty() { "" } else { "REDACTED" };
        f.debug_struct("LegacyOptions")
            .field("types", &self.types)
            .field("email_from", &self.email_from)
            .field("email_to", &self.email_to)
            .field("email_server", &self.email_server)
            .field("email_server_port", &self.email_server_port)
            .field("email_server_user", &self.email_server_user)
            .field("email_server_password", &set(&self.email_server_password))
            .field("slack_hook_url", &set(&self.slack_hook_url))
            .field("msteams_hook", &set(&self.msteams_hook))
            .field(
                "gotify_url",
                &if self.gotify_url.is_empty() {
                    String::new()
                } else {
                    redact_request_url(&self.gotify_url)
                },
            )
            .field("gotify_token", &set(&self.gotify_token))
            .finish_non_exhaustive()
    }
}

/// Everything but RFC 3986's unreserved characters is escaped. Form encoding would write a
/// space as `+`, which the user-info part of a URL reads back as a literal `+`.
const ESCAPED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Encodes a user-info part (user name, password, token before `@`).
fn enc_userinfo(s: &str) -> String {
    utf8_percent_encode(s, ESCAPED).to_string()
}

/// Encodes a query value the way Go's `url.Values.Encode` does (a space becomes `+`), so the
/// URLs written here read the same as the ones the original printed.
fn enc(s: &str) -> String {
    byte_serialize(s.as_bytes()).collect()
}

impl LegacyOptions {
    /// The service URLs for the selected legacy types, and the delay the email flags ask for.
    pub fn to_urls(&self) -> Result<(Vec<String>, Option<Duration>), Error> {
        let mut urls = Vec::new();
        let mut delay = None;
        for kind in &self.types {
            match kind.trim() {
                "email" => {
                    urls.push(self.email_url());
                    if self.email_delay > 0 {
                        delay = Some(Duration::from_secs(self.email_delay));
                    }
                }
                "slack" => urls.push(self.slack_url()?),
                "msteams" => urls.push(self.msteams_url()?),
                "gotify" => urls.push(self.gotify_url()?),
                "shoutrrr" | "" => {}
                other => {
                    return Err(Error::UnknownLegacyType {
                        value: other.to_owned(),
                    });
                }
            }
        }
        Ok((urls, delay))
    }

    fn email_url(&self) -> String {
        let userinfo = if self.email_server_user.is_empty() {
            String::new()
        } else {
            format!(
                "{}:{}@",
                enc_userinfo(&self.email_server_user),
                enc_userinfo(&self.email_server_password)
            )
        };
        let (encryption, starttls) = if self.email_server_tls_skip_verify {
            ("None", "No")
        } else {
            ("Auto", "Yes")
        };
        let auth = if self.email_server_user.is_empty() {
            "None"
        } else {
            "Plain"
        };
        format!(
            "smtp://{userinfo}{}:{}/?auth={auth}&clienthost=localhost&encryption={encryption}&fromaddress={}&fromname=Watchtower&starttls={starttls}&toaddresses={}&usehtml=No",
            self.email_server,
            self.email_server_port,
            enc(&self.email_from),
            enc(&self.email_to),
        )
    }

    fn slack_url(&self) -> Result<String, Error> {
        let bad = |reason: String| Error::InvalidLegacyFlag {
            flag: "--notification-slack-hook-url",
            reason,
        };
        let trimmed = self.slack_hook_url.trim().trim_end_matches('/');
        let without_scheme = trimmed.strip_prefix("https://").unwrap_or(trimmed);
        let parts: Vec<&str> = without_scheme.split('/').collect();
        if matches!(parts[0], "discord.com" | "discordapp.com") {
            // Discord's Slack-compatible webhook: .../api/webhooks/<id>/<token>/slack
            let tail: Vec<&str> = if parts.last() == Some(&"slack") {
                parts[..parts.len() - 1].to_vec()
            } else {
                parts.clone()
            };
            let [.., id, token] = tail.as_slice() else {
                return Err(bad(
                    "a discord webhook URL needs /api/webhooks/<id>/<token>".to_owned(),
                ));
            };
            if tail.len() < 4 {
                return Err(bad(
                    "a discord webhook URL needs /api/webhooks/<id>/<token>".to_owned(),
                ));
            }
            let mut url = format!(
                "discord://{}@{}?color=0x406170&splitlines=Yes&username={}",
                enc_userinfo(token),
                id,
                enc(&self.slack_identifier)
            );
            if !self.slack_icon_url.is_empty() {
                let _ = write!(url, "&avatar={}", enc(&self.slack_icon_url));
            }
            return Ok(url);
        }
        let token = self
            .slack_hook_url
            .trim()
            .replacen("https://hooks.slack.com/services/", "", 1);
        let token = token.trim_end_matches('/');
        let parts: Vec<&str> = token.split('/').collect();
        if parts.len() != 3 || parts.iter().any(|p| p.is_empty()) {
            return Err(bad(
                "expected https://hooks.slack.com/services/<A>/<B>/<C>".to_owned()
            ));
        }
        let mut url = format!(
            "slack://hook:{}@webhook?botname={}&color={}",
            parts.join("-"),
            enc(&self.slack_identifier),
            enc(COLOR_HEX)
        );
        let icon = if self.slack_icon_url.is_empty() {
            &self.slack_icon_emoji
        } else {
            &self.slack_icon_url
        };
        if !icon.is_empty() {
            let _ = write!(url, "&icon={}", enc(icon));
        }
        Ok(url)
    }

    fn msteams_url(&self) -> Result<String, Error> {
        let bad = |reason: &str| Error::InvalidLegacyFlag {
            flag: "--notification-msteams-hook",
            reason: reason.to_owned(),
        };
        if self.msteams_hook.trim().is_empty() {
            return Err(bad("required when --notifications includes msteams"));
        }
        let url = Url::parse(self.msteams_hook.trim()).map_err(|_| bad("not a URL"))?;
        let host = url
            .host_str()
            .ok_or_else(|| bad("the webhook URL has no host"))?;
        // .../<group>@<tenant>/IncomingWebhook/<altId>/<groupOwner>
        let path = url.path().trim_matches('/');
        let segments: Vec<&str> = path.split('/').collect();
        let Some(i) = segments.iter().position(|s| s.contains('@')) else {
            return Err(bad(
                "expected .../<group>@<tenant>/IncomingWebhook/<altId>/<groupOwner>",
            ));
        };
        let (Some(group_tenant), Some(alt), Some(owner)) =
            (segments.get(i), segments.get(i + 2), segments.get(i + 3))
        else {
            return Err(bad(
                "expected .../<group>@<tenant>/IncomingWebhook/<altId>/<groupOwner>",
            ));
        };
        let (group, tenant) = group_tenant.split_once('@').unwrap_or((group_tenant, ""));
        Ok(format!(
            "teams://{group}@{tenant}/{alt}/{owner}?color={}&host={host}",
            enc(COLOR_HEX)
        ))
    }

    fn gotify_url(&self) -> Result<String, Error> {
        let raw = self.gotify_url.trim();
        if raw.is_empty() {
            return Err(Error::InvalidLegacyFlag {
                flag: "--notification-gotify-url",
                reason: "required when --notifications includes gotify".to_owned(),
            });
        }
        if !(raw.starts_with("http://") || raw.starts_with("https://")) {
            return Err(Error::InvalidLegacyFlag {
                flag: "--notification-gotify-url",
                reason: "must start with \"http://\" or \"https://\"".to_owned(),
            });
        }
        if self.gotify_token.trim().is_empty() {
            return Err(Error::InvalidLegacyFlag {
                flag: "--notification-gotify-token",
                reason: "required when --notifications includes gotify".to_owned(),
            });
        }
        let url = Url::parse(raw).map_err(|e| Error::InvalidLegacyFlag {
            flag: "--notification-gotify-url",
            reason: e.to_string(),
        })?;
        let plain = url.scheme() == "http";
        if plain {
            tracing::warn!("Using an HTTP url for Gotify is insecure");
        }
        let mut host = url.host_str().unwrap_or("").to_owned();
        if let Some(port) = url.port() {
            let _ = write!(host, ":{port}");
        }
        let path = url.path().trim_end_matches('/');
        let mut out = format!("gotify://{host}{path}/{}", self.gotify_token.trim());
        if plain {
            out.push_str("?disabletls=Yes");
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::Service;

    #[test]
    fn email_credentials_survive_the_url_with_spaces_and_symbols() {
        let options = LegacyOptions {
            types: vec!["email".to_owned()],
            email_from: "watchtower+ops@example.com".to_owned(),
            email_to: "ops+alerts@example.com".to_owned(),
            email_server: "mail.example.com".to_owned(),
            email_server_user: "user name@example.com".to_owned(),
            email_server_password: "p ss+w:rd/%&?#".to_owned(),
            ..LegacyOptions::default()
        };
        let (urls, _) = options.to_urls().unwrap();
        let service = Service::parse(&urls[0]).unwrap();
        let smtp = service.smtp().unwrap();
        assert_eq!(smtp.username, "user name@example.com");
        assert_eq!(smtp.password, "p ss+w:rd/%&?#");
        assert_eq!(smtp.from_address, "watchtower+ops@example.com");
        assert_eq!(smtp.to, ["ops+alerts@example.com"]);
    }
}
