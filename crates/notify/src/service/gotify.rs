//! Gotify (`gotify://`): a message posted with an application token.

use std::fmt::Write as _;

use serde_json::json;
use url::Url;

use super::{HttpRequest, Props, Success, percent_decode};

#[derive(Clone)]
pub(crate) struct Gotify {
    pub(super) host: String,
    pub(super) path: String,
    pub(super) token: String,
    pub(super) priority: i64,
    pub(super) title: String,
    pub(super) disable_tls: bool,
}

pub(super) fn is_gotify_token(t: &str) -> bool {
    t.len() == 15
        && t.starts_with('A')
        && t.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_'))
}

pub(super) fn parse_gotify(url: &Url) -> Result<Gotify, String> {
    let props = Props::parse(url, &[&["priority"], &["title"], &["disabletls"]])?;
    let path = url.path().trim_end_matches('/');
    let cut = path.rfind('/').map_or(0, |i| i + 1);
    let token = percent_decode(&path[cut..]);
    let mut sub = path[..cut].to_owned();
    if sub == "/" {
        sub.clear();
    }
    let mut host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or("missing host")?
        .to_owned();
    if let Some(port) = url.port() {
        let _ = write!(host, ":{port}");
    }
    if !is_gotify_token(&token) {
        return Err("invalid gotify token (expected 15 characters starting with A)".to_owned());
    }
    Ok(Gotify {
        host,
        path: sub.trim_end_matches('/').to_owned(),
        token,
        priority: props.int("priority", 0)?,
        title: props.string("title", "Shoutrrr notification"),
        disable_tls: props.bool("disabletls", false)?,
    })
}

impl Gotify {
    pub(super) fn request(&self, message: &str, title: &str) -> HttpRequest {
        let scheme = if self.disable_tls { "http" } else { "https" };
        let title = if title.is_empty() {
            self.title.as_str()
        } else {
            title
        };
        HttpRequest {
            method: http::Method::POST,
            url: format!(
                "{scheme}://{}{}/message?token={}",
                self.host, self.path, self.token
            ),
            headers: vec![("Content-Type".to_owned(), "application/json".to_owned())],
            body: json!({"message": message, "title": title, "priority": self.priority})
                .to_string()
                .into_bytes(),
            success: Success::Status2xx,
        }
    }
}
