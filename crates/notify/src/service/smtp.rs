//! Mail (`smtp://`): the settings an SMTP URL gives (the mail itself goes out through lettre).

use url::Url;

use super::{Props, percent_decode};

/// SMTP settings from an `smtp://` URL.
#[derive(Clone)]
pub(crate) struct SmtpConfig {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) username: String,
    pub(crate) password: String,
    pub(crate) from_address: String,
    pub(crate) from_name: String,
    pub(crate) to: Vec<String>,
    pub(crate) subject: String,
    pub(crate) auth: SmtpAuth,
    pub(crate) encryption: SmtpEncryption,
    pub(crate) starttls: bool,
    pub(crate) html: bool,
    pub(crate) client_host: String,
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &"REDACTED")
            .field("from_address", &self.from_address)
            .field("to", &self.to)
            .field("auth", &self.auth)
            .field("encryption", &self.encryption)
            .field("starttls", &self.starttls)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SmtpAuth {
    None,
    Plain,
    Login,
    OAuth2,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SmtpEncryption {
    None,
    /// STARTTLS required.
    Explicit,
    /// TLS from the first byte.
    Implicit,
    /// Implicit TLS on port 465, else STARTTLS when offered (or as `starttls` says).
    Auto,
}

impl SmtpConfig {
    pub(crate) fn implicit_tls(&self) -> bool {
        match self.encryption {
            SmtpEncryption::Implicit => true,
            SmtpEncryption::Auto => self.port == 465,
            SmtpEncryption::None | SmtpEncryption::Explicit => false,
        }
    }
}

pub(super) fn parse_smtp(url: &Url) -> Result<SmtpConfig, String> {
    let props = Props::parse(
        url,
        &[
            &["fromaddress", "from"],
            &["fromname"],
            &["toaddresses", "to"],
            &["subject", "title"],
            &["auth"],
            &["encryption"],
            &["usestarttls", "starttls"],
            &["usehtml"],
            &["clienthost"],
        ],
    )?;
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or("missing host")?
        .to_owned();
    let username = percent_decode(url.username());
    let from_address = props.string("fromaddress", "").replace(' ', "+");
    if from_address.is_empty() {
        return Err("fromAddress missing from config URL (add ?from=<address>)".to_owned());
    }
    let to: Vec<String> = props
        .list("toaddresses", ',')
        .into_iter()
        .map(|a| a.replace(' ', "+"))
        .collect();
    if to.is_empty() {
        return Err(
            "toAddress missing from config URL (add ?to=<address>[,<address>...])".to_owned(),
        );
    }
    let auth = match props
        .string("auth", "Unknown")
        .to_ascii_lowercase()
        .as_str()
    {
        "unknown" | "" => {
            if username.is_empty() {
                SmtpAuth::None
            } else {
                SmtpAuth::Plain
            }
        }
        "none" => SmtpAuth::None,
        "plain" => SmtpAuth::Plain,
        "login" => SmtpAuth::Login,
        "oauth2" => SmtpAuth::OAuth2,
        "crammd5" => {
            return Err("auth CRAMMD5 is not supported (use Plain, Login or OAuth2)".to_owned());
        }
        other => {
            return Err(format!(
                "invalid auth {other:?} (None, Plain, Login or OAuth2)"
            ));
        }
    };
    let encryption = match props
        .string("encryption", "Auto")
        .to_ascii_lowercase()
        .as_str()
    {
        "auto" => SmtpEncryption::Auto,
        "none" => SmtpEncryption::None,
        "explicittls" => SmtpEncryption::Explicit,
        "implicittls" => SmtpEncryption::Implicit,
        other => {
            return Err(format!(
                "invalid encryption {other:?} (Auto, None, ExplicitTLS or ImplicitTLS)"
            ));
        }
    };
    Ok(SmtpConfig {
        host,
        port: url.port().unwrap_or(25),
        username,
        password: percent_decode(url.password().unwrap_or("")),
        from_address,
        from_name: props.string("fromname", ""),
        to,
        subject: props.string("subject", ""),
        auth,
        encryption,
        starttls: props.bool("usestarttls", true)?,
        html: props.bool("usehtml", false)?,
        client_host: props.string("clienthost", "localhost"),
    })
}
