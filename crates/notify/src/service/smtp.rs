//! Mail (`smtp://`): the settings an SMTP URL gives (the mail itself goes out through lettre).

use lettre::Message;
use lettre::message::header::{ContentTransferEncoding, ContentType, MIME_VERSION_1_0};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use url::Url;

use super::{Mail, Props, percent_decode};

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

/// The mail as shoutrrr 0.8 sends it: `MIME-Version: 1.0` (RFC 2045) and the text as UTF-8 in
/// 8-bit (`Content-Transfer-Encoding: 8bit`), not base64 or quoted-printable; with `usehtml`
/// a `multipart/alternative` of the same text as plain text and HTML, both 8-bit. (A line
/// longer than SMTP's 998 octets cannot go 8-bit; lettre then picks a 7-bit encoding.)
pub(crate) fn build_mail(config: &SmtpConfig, mail: Mail) -> Result<Message, String> {
    let from_address = config
        .from_address
        .parse()
        .map_err(|e| format!("invalid from address {:?}: {e}", config.from_address))?;
    let from = Mailbox::new(
        (!config.from_name.is_empty()).then(|| config.from_name.clone()),
        from_address,
    );
    let to: Mailbox = mail
        .to
        .parse()
        .map_err(|e| format!("invalid to address {:?}: {e}", mail.to))?;
    let builder = Message::builder()
        .from(from)
        .to(to)
        .subject(mail.subject)
        .date_now()
        .header(MIME_VERSION_1_0);
    let part = |content_type: ContentType, text: String| {
        SinglePart::builder()
            .header(content_type)
            .header(ContentTransferEncoding::EightBit)
            .body(text)
    };
    let built = if config.html {
        builder.multipart(
            MultiPart::alternative()
                .singlepart(part(ContentType::TEXT_PLAIN, mail.body.clone()))
                .singlepart(part(ContentType::TEXT_HTML, mail.body)),
        )
    } else {
        builder
            .header(ContentType::TEXT_PLAIN)
            .header(ContentTransferEncoding::EightBit)
            .body(mail.body)
    };
    built.map_err(|e| format!("could not build the mail: {e}"))
}
