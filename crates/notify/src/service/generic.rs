//! The generic webhook (`generic://`, `generic+https://`): a POST (or any method) of the
//! message as text or JSON, with custom headers and extra JSON fields.

use std::collections::BTreeMap;

use serde_json::{Map, Value as J};
use url::Url;

use super::{HttpRequest, Success, basic_auth, parse_bool, percent_decode};

#[derive(Clone)]
pub(crate) struct Generic {
    pub(super) target: Url,
    pub(super) method: http::Method,
    pub(super) content_type: String,
    pub(super) json_template: bool,
    pub(super) title: String,
    pub(super) title_key: String,
    pub(super) message_key: String,
    pub(super) headers: BTreeMap<String, String>,
    pub(super) extra: BTreeMap<String, String>,
}

pub(super) const GENERIC_PROPS: &[&[&str]] = &[
    &["contenttype"],
    &["disabletls"],
    &["template"],
    &["title"],
    &["titlekey"],
    &["messagekey"],
    &["method"],
];

pub(super) fn parse_generic(url: &Url) -> Result<Generic, String> {
    let custom = url.scheme() != "generic";
    let mut props = BTreeMap::new();
    let mut headers = BTreeMap::new();
    let mut extra = BTreeMap::new();
    let mut forwarded: Vec<(String, String)> = Vec::new();
    for (key, value) in url.query_pairs() {
        let (key, value) = (key.into_owned(), value.into_owned());
        if let Some(h) = key.strip_prefix('@') {
            headers.insert(header_name(h), value);
        } else if let Some(e) = key.strip_prefix('$') {
            extra.insert(e.to_owned(), value);
        } else if let Some(escaped) = key.strip_prefix("__") {
            forwarded.push((escaped.to_owned(), value));
        } else if !custom
            && GENERIC_PROPS
                .iter()
                .any(|p| p[0] == key.to_ascii_lowercase())
        {
            props.insert(key.to_ascii_lowercase(), value);
        } else {
            forwarded.push((key, value));
        }
    }
    let get = |k: &str, d: &str| props.get(k).cloned().unwrap_or_else(|| d.to_owned());
    let disable_tls = match url.scheme() {
        "generic+http" => true,
        "generic+https" => false,
        _ => {
            let v = get("disabletls", "no");
            parse_bool(&v).ok_or_else(|| format!("invalid boolean {v:?} for disabletls"))?
        }
    };
    let template = get("template", "");
    let json_template = match template.as_str() {
        "" => false,
        "json" | "JSON" => true,
        other => {
            return Err(format!(
                "template {other:?} is not available (only json is)"
            ));
        }
    };
    let method = get("method", "POST");
    let method = http::Method::from_bytes(method.to_ascii_uppercase().as_bytes())
        .map_err(|_| format!("invalid method {method:?}"))?;
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or("missing host")?;
    let mut target = Url::parse(&format!(
        "{}://{host}",
        if disable_tls { "http" } else { "https" }
    ))
    .map_err(|e| e.to_string())?;
    target
        .set_port(url.port())
        .map_err(|()| "invalid port".to_owned())?;
    target.set_path(url.path());
    if !url.username().is_empty() {
        let _ = target.set_username(url.username());
        let _ = target.set_password(url.password());
    }
    if !forwarded.is_empty() {
        target.query_pairs_mut().extend_pairs(forwarded);
    }
    Ok(Generic {
        target,
        method,
        content_type: get("contenttype", "application/json"),
        json_template,
        title: get("title", ""),
        title_key: get("titlekey", "title"),
        message_key: get("messagekey", "message"),
        headers,
        extra,
    })
}

/// `acceptLanguage` -> `Accept-Language`, as shoutrrr normalises `@` header keys.
pub(super) fn header_name(key: &str) -> String {
    let mut out = String::new();
    let mut prev: Option<char> = None;
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            if prev.is_some_and(|p| p != '-') {
                out.push('-');
            }
            out.push(c);
        } else if prev.is_none() || prev == Some('-') {
            out.push(c.to_ascii_uppercase());
        } else {
            out.push(c);
        }
        prev = Some(c);
    }
    out
}

impl Generic {
    pub(super) fn request(&self, message: &str, title: &str) -> HttpRequest {
        let title = if title.is_empty() {
            self.title.as_str()
        } else {
            title
        };
        let body = if self.json_template {
            let mut map = Map::new();
            for (k, v) in &self.extra {
                map.insert(k.clone(), J::from(v.as_str()));
            }
            if !title.is_empty() {
                map.insert(self.title_key.clone(), J::from(title));
            }
            map.insert(self.message_key.clone(), J::from(message));
            J::Object(map).to_string().into_bytes()
        } else {
            message.as_bytes().to_vec()
        };
        let mut url = self.target.clone();
        let mut headers = vec![
            ("Content-Type".to_owned(), self.content_type.clone()),
            ("Accept".to_owned(), self.content_type.clone()),
        ];
        if !url.username().is_empty() {
            headers.push((
                "Authorization".to_owned(),
                basic_auth(
                    &percent_decode(url.username()),
                    &percent_decode(url.password().unwrap_or("")),
                ),
            ));
            let _ = url.set_username("");
            let _ = url.set_password(None);
        }
        for (k, v) in &self.headers {
            headers.retain(|(h, _)| !h.eq_ignore_ascii_case(k));
            headers.push((k.clone(), v.clone()));
        }
        HttpRequest {
            method: self.method.clone(),
            url: url.to_string(),
            headers,
            body,
            success: Success::Status2xx,
        }
    }
}
