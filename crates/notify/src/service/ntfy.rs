//! ntfy (`ntfy://`): a plain-text body with the title, priority and tags as headers.

use std::fmt::Write as _;

use url::Url;

use super::{HttpRequest, Props, Success, basic_auth, percent_decode};

#[derive(Clone)]
pub(crate) struct Ntfy {
    pub(super) scheme: String,
    pub(super) host: String,
    pub(super) topic: String,
    pub(super) username: String,
    pub(super) password: String,
    pub(super) title: String,
    pub(super) priority: u8,
    pub(super) headers: Vec<(&'static str, String)>,
    pub(super) cache: bool,
    pub(super) firebase: bool,
}

pub(super) fn parse_ntfy(url: &Url) -> Result<Ntfy, String> {
    let props = Props::parse(
        url,
        &[
            &["title"],
            &["scheme"],
            &["tags"],
            &["priority"],
            &["actions"],
            &["click"],
            &["attach"],
            &["filename"],
            &["delay", "at", "in"],
            &["email"],
            &["icon"],
            &["cache"],
            &["firebase"],
        ],
    )?;
    let mut host = url.host_str().unwrap_or("").to_owned();
    if host.is_empty() {
        "ntfy.sh".clone_into(&mut host);
    }
    if let Some(port) = url.port() {
        let _ = write!(host, ":{port}");
    }
    let topic = url.path().trim_start_matches('/').to_owned();
    if topic.is_empty() {
        return Err("missing topic (ntfy://[user:password@]host/<topic>)".to_owned());
    }
    let scheme = props.string("scheme", "https").to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(format!("invalid scheme {scheme:?} (http or https)"));
    }
    let priority = match props
        .string("priority", "default")
        .to_ascii_lowercase()
        .as_str()
    {
        "1" | "min" => 1,
        "2" | "low" => 2,
        "3" | "default" | "" => 3,
        "4" | "high" => 4,
        "5" | "max" | "urgent" => 5,
        other => {
            return Err(format!(
                "invalid priority {other:?} (1-5, min, low, default, high, max)"
            ));
        }
    };
    let mut headers = Vec::new();
    let tags = props.list("tags", ',');
    if !tags.is_empty() {
        headers.push(("Tags", tags.join(",")));
    }
    for (key, header) in [
        ("delay", "Delay"),
        ("click", "Click"),
        ("attach", "Attach"),
        ("icon", "X-Icon"),
        ("filename", "Filename"),
        ("email", "Email"),
    ] {
        let v = props.string(key, "");
        if !v.is_empty() {
            headers.push((header, v));
        }
    }
    let actions = props.list("actions", ';');
    if !actions.is_empty() {
        headers.push(("Actions", actions.join(";")));
    }
    Ok(Ntfy {
        scheme,
        host,
        topic,
        username: percent_decode(url.username()),
        password: percent_decode(url.password().unwrap_or("")),
        title: props.string("title", ""),
        priority,
        headers,
        cache: props.bool("cache", true)?,
        firebase: props.bool("firebase", true)?,
    })
}

impl Ntfy {
    pub(super) fn request(&self, message: &str, title: &str) -> HttpRequest {
        let title = if title.is_empty() {
            self.title.as_str()
        } else {
            title
        };
        let mut headers = vec![(
            "Content-Type".to_owned(),
            "text/plain; charset=utf-8".to_owned(),
        )];
        if !title.is_empty() {
            headers.push(("Title".to_owned(), title.to_owned()));
        }
        if self.priority != 3 {
            headers.push(("Priority".to_owned(), self.priority.to_string()));
        }
        headers.extend(
            self.headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone())),
        );
        if !self.cache {
            headers.push(("Cache".to_owned(), "no".to_owned()));
        }
        if !self.firebase {
            headers.push(("Firebase".to_owned(), "no".to_owned()));
        }
        if !self.password.is_empty() {
            headers.push((
                "Authorization".to_owned(),
                basic_auth(&self.username, &self.password),
            ));
        }
        HttpRequest {
            method: http::Method::POST,
            url: format!("{}://{}/{}", self.scheme, self.host, self.topic),
            headers,
            body: message.as_bytes().to_vec(),
            success: Success::Status2xx,
        }
    }
}
